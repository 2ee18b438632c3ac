// Tenant isolation at the domain level, on SQLite and PostgreSQL.
//
// Two tenants, A and B, each with an owner, a member and an API key. Every operation that takes
// an object id is called by A's principals (owner JWT, admin-scoped API key) with B's ids and
// must answer NotFound (not PermissionDenied: ids of other tenants can't be probed), and B's
// objects must be unchanged afterwards. Listing operations must not show B's objects.
//
// ADDING A MODULE: write a function like CheckAccounts below for your module's objects (create
// them for both tenants in Seed, then try every id-taking operation across tenants) and call it
// from the TEST_P at the bottom. PostgreSQL row-level security itself is tested in
// src/store/database_test.cc (unfiltered queries see only their tenant).
#include <chrono>
#include <thread>

#include "accounts/accounts.h"
#include "billing/plans.h"
#include "billing/subscription_service.h"
#include "core/testing/test_util.h"
#include "payments/payment_service.h"
#include "payments/sandbox.h"
#include "store/database.h"
#include "store/soci.h"
#include "store/testing/test_db.h"

namespace sinyal {
namespace {

using accounts::AccountService;
using accounts::Principal;
using accounts::Role;

constexpr UnixNanos kStart = 1'700'000'000LL * kNanosPerSecond;

struct TenantFixture {
  accounts::UserInfo owner, member;
  Principal owner_jwt;  // the owner, authenticated by access token
  Principal admin_key;  // an admin-scoped API key of the owner
  accounts::CreatedApiKey key;
  std::string member_password = "member password 1";
};

class TenantIsolationTest : public store::testing::DbTest {
 protected:
  void SetUp() override {
    DbTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    accounts::AuthConfig config;
    config.jwt_secret = "isolation-test-secret-0123456789abcdef";
    accounts_ = std::make_unique<AccountService>(db(), clock_, config);
    Seed("Tenant A", "a", &a_);
    Seed("Tenant B", "b", &b_);
  }
  void TearDown() override {
    accounts_.reset();
    DbTest::TearDown();
  }

  void Seed(const std::string& name, const std::string& tag, TenantFixture* t) {
    auto reg = accounts_->Register(
        {name, "owner-" + tag + "@example.com", "owner password 1", "Owner " + tag});
    ASSERT_OK(reg);
    t->owner = reg->first;
    auto p = accounts_->AuthenticateAccessToken(reg->second.access_token);
    ASSERT_OK(p);
    t->owner_jwt = *p;
    auto member = accounts_->AddMember(t->owner_jwt, "member-" + tag + "@example.com",
                                       t->member_password, "Member " + tag, Role::kMember);
    ASSERT_OK(member);
    t->member = *member;
    auto key = accounts_->CreateApiKey(t->owner_jwt, "key " + tag, {"admin", "predict", "read"},
                                       std::nullopt);
    ASSERT_OK(key);
    t->key = *key;
    auto kp = accounts_->AuthenticateApiKey(key->secret);
    ASSERT_OK(kp);
    t->admin_key = *kp;
  }

  void ExpectNotFound(const Status& s, const std::string& what) {
    EXPECT_EQ(s.code(), StatusCode::kNotFound) << what << ": " << s.ToString();
  }

  // Accounts objects: API keys and members.
  void CheckAccounts(const Principal& attacker, const std::string& who) {
    const TenantFixture& victim = b_;
    ExpectNotFound(accounts_->GetApiKey(attacker, victim.key.info.id).status(), who + " GetApiKey");
    ExpectNotFound(accounts_->RevokeApiKey(attacker, victim.key.info.id), who + " RevokeApiKey");
    ExpectNotFound(accounts_->UpdateMemberRole(attacker, victim.member.id, Role::kAdmin).status(),
                   who + " UpdateMemberRole(member)");
    ExpectNotFound(accounts_->UpdateMemberRole(attacker, victim.owner.id, Role::kMember).status(),
                   who + " UpdateMemberRole(owner)");
    ExpectNotFound(accounts_->RemoveMember(attacker, victim.member.id), who + " RemoveMember");
    ExpectNotFound(accounts_->RemoveMember(attacker, victim.owner.id),
                   who + " RemoveMember(owner)");

    auto keys = accounts_->ListApiKeys(attacker);
    ASSERT_OK(keys);
    for (const auto& k : *keys) EXPECT_NE(k.id, victim.key.info.id) << who;
    auto members = accounts_->ListMembers(attacker);
    ASSERT_OK(members);
    ASSERT_EQ(members->size(), 2u) << who;
    for (const auto& m : *members) EXPECT_EQ(m.tenant, attacker.tenant) << who;

    // B is untouched: its key works, its member signs in with the same role, owner still owner.
    accounts_->ClearApiKeyCache();
    auto still = accounts_->AuthenticateApiKey(victim.key.secret);
    ASSERT_OK(still);
    EXPECT_EQ(still->tenant, victim.owner.tenant);
    auto login = accounts_->Login(victim.member.email, victim.member_password);
    ASSERT_OK(login);
    auto bp = accounts_->AuthenticateAccessToken(login->access_token);
    ASSERT_OK(bp);
    EXPECT_EQ(bp->role, Role::kMember);
    auto b_members = accounts_->ListMembers(b_.owner_jwt);
    ASSERT_OK(b_members);
    ASSERT_EQ(b_members->size(), 2u);
    EXPECT_EQ((*b_members)[0].role, Role::kOwner);
    auto b_key = accounts_->GetApiKey(b_.owner_jwt, victim.key.info.id);
    ASSERT_OK(b_key);
    EXPECT_FALSE(b_key->revoked_at.has_value());
  }

  ManualClock clock_{kStart};
  std::unique_ptr<AccountService> accounts_;
  TenantFixture a_, b_;
};

TEST_P(TenantIsolationTest, OwnerOfAGetsNotFoundForEveryObjectOfB) {
  CheckAccounts(a_.owner_jwt, "A owner (JWT)");
}

TEST_P(TenantIsolationTest, AdminApiKeyOfAGetsNotFoundForEveryObjectOfB) {
  CheckAccounts(a_.admin_key, "A admin key");
}

TEST_P(TenantIsolationTest, CredentialsResolveToTheirOwnTenantOnly) {
  EXPECT_EQ(a_.admin_key.tenant, a_.owner.tenant);
  EXPECT_EQ(b_.admin_key.tenant, b_.owner.tenant);
  EXPECT_NE(a_.owner.tenant, b_.owner.tenant);
  auto me = accounts_->Me(a_.admin_key);
  ASSERT_OK(me);
  EXPECT_EQ(me->tenant_name, "Tenant A");
}

// Payments (issue 11): B's subscription, invoices, orders, payments and events are invisible
// to A, and A's operations on B's ids find nothing and change nothing.
TEST_P(TenantIsolationTest, PaymentsOfBAreNotFoundForA) {
  billing::PlanStore plans(db(), clock_);
  billing::Subscriptions subs(db(), plans, clock_);
  billing::SubscriptionService billing_accounts(db(), subs);
  std::unique_ptr<payments::PaymentService> pay;
  payments::MidtransSandbox sandbox(
      {"SB-Mid-server-ISOLATION", "http://127.0.0.1:1/sandbox/midtrans",
       "http://sinyal.test/notification", 0.0},
      clock_, [&pay, this](const std::string&, const std::string& body) {
        return pay->HandleNotification("application/json", body, clock_.Now()).http_status;
      });
  auto gateway = payments::MakeInProcessSandboxClient(sandbox);
  pay = std::make_unique<payments::PaymentService>(db(), billing_accounts, *gateway, clock_);
  const TenantId a = a_.owner.tenant, b = b_.owner.tenant;
  auto bought = pay->Checkout(b, {"B", "owner-b@example.com"}, "pro", billing::Term::kMonth,
                              clock_.Now(), "user:b");
  ASSERT_OK(bought);
  ASSERT_TRUE(bought->order.has_value());
  const payments::Order b_order = *bought->order;
  ASSERT_OK(sandbox.Act(b_order.snap_token, "pay"));
  for (int i = 0; i < 500 && sandbox.PendingDeliveries() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(subs.Current(b, clock_.Now())->plan, "pro");

  ExpectNotFound(pay->GetOrder(a, b_order.order_id).status(), "GetOrder");
  ExpectNotFound(billing_accounts.Invoice(a, b_order.invoice).status(), "Invoice");
  ExpectNotFound(
      pay->PayInvoice(a, b_order.invoice, {"A", "owner-a@example.com"}, clock_.Now()).status(),
      "PayInvoice");
  auto orders = pay->Orders(a, 100);
  ASSERT_OK(orders);
  EXPECT_TRUE(orders->empty());
  auto events = billing_accounts.Events(a, 100);
  ASSERT_OK(events);
  for (const auto& e : *events) EXPECT_EQ(e.tenant, a);
  auto cash = billing_accounts.Payments(a, 100);
  ASSERT_OK(cash);
  EXPECT_TRUE(cash->empty());
  auto view = billing_accounts.View(a, clock_.Now());
  ASSERT_OK(view);
  EXPECT_EQ(view->state.plan, "free");
  EXPECT_TRUE(view->invoices.empty());
  EXPECT_EQ(billing_accounts.Cancel(a, clock_.Now(), "user:a").status().code(),
            StatusCode::kFailedPrecondition);
  // B is untouched.
  EXPECT_EQ(subs.Current(b, clock_.Now())->plan, "pro");
  EXPECT_EQ(pay->GetOrder(b, b_order.order_id)->status, "paid");
  auto b_cash = billing_accounts.Payments(b, 100);
  ASSERT_OK(b_cash);
  EXPECT_EQ(b_cash->size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, TenantIsolationTest, SINYAL_DB_BACKENDS,
                         store::testing::BackendName);

}  // namespace
}  // namespace sinyal
