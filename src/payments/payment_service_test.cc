// The payments flow against the SIMULATED sandbox in process (no HTTP), on SQLite and
// PostgreSQL: notifications verified, confirmed with the status API and applied exactly once.
#include "payments/payment_service.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "billing/testing/billing_fixture.h"
#include "payments/sandbox.h"
#include "store/testing/test_db.h"

namespace sinyal::payments {
namespace {

using billing::testing::CountRows;
using billing::testing::CreateTenant;
using billing::testing::T;

constexpr const char* kKey = "SB-Mid-server-TEST-only";

class PaymentServiceTest : public store::testing::DbTest {
 protected:
  void SetUp() override {
    DbTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    plans_ = std::make_unique<billing::PlanStore>(db(), clock_);
    subs_ = std::make_unique<billing::Subscriptions>(db(), *plans_, clock_);
    billing_ = std::make_unique<billing::SubscriptionService>(db(), *subs_);
    sandbox_ = std::make_unique<MidtransSandbox>(
        SandboxOptions{kKey, "http://127.0.0.1:1/sandbox/midtrans",
                       "http://sinyal.test/notification", 0.0},
        clock_, [this](const std::string&, const std::string& body) {
          NotificationAnswer a =
              payments_->HandleNotification("application/json", body, clock_.Now());
          std::lock_guard<std::mutex> lock(mu_);
          answers_.push_back(a);
          return a.http_status;
        });
    client_ = MakeInProcessSandboxClient(*sandbox_);
    payments_ = std::make_unique<PaymentService>(db(), *billing_, *client_, clock_);
    tenant_ = CreateTenant(db(), "acme");
  }
  void TearDown() override {
    sandbox_.reset();  // its delivery thread calls into payments_
    payments_.reset();
    client_.reset();
    billing_.reset();
    subs_.reset();
    plans_.reset();
    DbTest::TearDown();
  }
  void WaitForDeliveries() {
    for (int i = 0; i < 500 && sandbox_->PendingDeliveries() > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_EQ(sandbox_->PendingDeliveries(), 0u);
  }
  std::string Plan() { return subs_->Current(tenant_, clock_.Now())->plan; }
  Order CheckoutPro() {
    auto out = payments_->Checkout(tenant_, {"Ayu", "ayu@example.com"}, "pro",
                                   billing::Term::kMonth, clock_.Now(), "user:1");
    EXPECT_TRUE(out.ok()) << (out.ok() ? "" : out.error().ToString());
    EXPECT_TRUE(out->order.has_value());
    return *out->order;
  }
  // Pro paid in the sandbox (term to 1 May), then the round of 25 April: `*renewal` is the renewal
  // order it opened.
  void RenewalDue(Order* renewal) {
    Order order = CheckoutPro();
    ASSERT_OK(sandbox_->Act(order.snap_token, "pay"));
    WaitForDeliveries();
    clock_.Set(T("2024-04-25T00:00:00Z"));
    ASSERT_OK(payments_->Reconcile(clock_.Now()));
    auto orders = payments_->Orders(tenant_, 10);
    ASSERT_OK(orders);
    ASSERT_EQ(orders->size(), 2u);
    *renewal = (*orders)[0];
  }
  std::vector<std::string> Outcomes() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> o;
    for (const auto& a : answers_) o.push_back(a.outcome);
    return o;
  }
  int64_t CashSum() {
    long long v = 0;
    EXPECT_OK(db().WithTx([&](soci::session& sql) -> Status {
      long long t = tenant_.value();
      sql << "SELECT CAST(COALESCE(SUM(amount_idr), 0) AS BIGINT) FROM payments WHERE tenant_id = "
             ":t",
          soci::use(t, "t"), soci::into(v);
      return Status::Ok();
    }));
    return v;
  }
  // A notification body for `order_id` signed with `key`.
  static std::string Signed(const std::string& order_id, const std::string& status,
                            const std::string& code, const std::string& gross,
                            const std::string& key) {
    return nlohmann::json({{"order_id", order_id},
                           {"transaction_status", status},
                           {"status_code", code},
                           {"gross_amount", gross},
                           {"signature_key", SignatureKey(order_id, code, gross, key)}})
        .dump();
  }

  ManualClock clock_{T("2024-04-01T00:00:00Z")};
  std::unique_ptr<billing::PlanStore> plans_;
  std::unique_ptr<billing::Subscriptions> subs_;
  std::unique_ptr<billing::SubscriptionService> billing_;
  std::unique_ptr<MidtransClient> client_;
  std::unique_ptr<PaymentService> payments_;
  std::unique_ptr<MidtransSandbox> sandbox_;
  TenantId tenant_;
  std::mutex mu_;
  std::vector<NotificationAnswer> answers_;
};

TEST_P(PaymentServiceTest, PayInTheSandboxGrantsThePlanOnce) {
  Order order = CheckoutPro();
  EXPECT_EQ(order.status, "pending_payment");
  EXPECT_EQ(order.gross_amount, 299'000);
  EXPECT_TRUE(order.simulated);
  EXPECT_FALSE(order.snap_token.empty());
  EXPECT_EQ(Plan(), "free");
  // Bank transfer: pending then settlement, each delivered three times, settlement first.
  ASSERT_OK(sandbox_->Act(order.snap_token, "pay", {.duplicates = 2, .reorder = true}));
  WaitForDeliveries();
  EXPECT_EQ(Plan(), "pro");
  auto o = payments_->GetOrder(tenant_, order.order_id);
  ASSERT_OK(o);
  EXPECT_EQ(o->status, "paid");
  EXPECT_EQ(o->payment_type, "bank_transfer");
  // Six deliveries, one grant: the first applied (the status API said settlement), the rest
  // were duplicates; one cash row.
  auto outcomes = Outcomes();
  EXPECT_EQ(outcomes.size(), 6u);
  EXPECT_EQ(std::count(outcomes.begin(), outcomes.end(), "applied"), 1);
  EXPECT_EQ(CashSum(), 299'000);
  EXPECT_EQ(CountRows(db(), "payments", tenant_), 1);
  EXPECT_EQ(CountRows(db(), "payment_notifications", tenant_), 6);
}

TEST_P(PaymentServiceTest, ForgedNotificationsChangeNothing) {
  Order order = CheckoutPro();
  const std::string gross = "299000.00";
  auto handle = [&](std::string_view ct, const std::string& body) {
    return payments_->HandleNotification(ct, body, clock_.Now());
  };
  // Bad signature.
  auto a =
      handle("application/json", Signed(order.order_id, "settlement", "200", gross, "not-the-key"));
  EXPECT_EQ(a.http_status, 401);
  EXPECT_EQ(a.field, "signature_key");
  // Tampered amount: a genuine signature for another amount.
  auto body = nlohmann::json::parse(Signed(order.order_id, "settlement", "200", gross, kKey));
  body["gross_amount"] = "1000.00";
  EXPECT_EQ(handle("application/json", body.dump()).http_status, 401);
  // Unknown order, correctly signed.
  EXPECT_EQ(handle("application/json", Signed("sny-999-1-ffff", "settlement", "200", gross, kKey))
                .http_status,
            404);
  // Wrong content type, malformed JSON, a missing field.
  EXPECT_EQ(
      handle("text/plain", Signed(order.order_id, "settlement", "200", gross, kKey)).http_status,
      415);
  EXPECT_EQ(handle("application/json", "{not json").http_status, 400);
  auto missing = nlohmann::json::parse(Signed(order.order_id, "settlement", "200", gross, kKey));
  missing.erase("status_code");
  auto m = handle("application/json", missing.dump());
  EXPECT_EQ(m.http_status, 400);
  EXPECT_EQ(m.field, "status_code");
  // A correctly signed "settlement" that the gateway does not confirm (nothing was paid: the
  // status API answers 404): nothing is granted; 503 so that Midtrans retries later.
  EXPECT_EQ(handle("application/json", Signed(order.order_id, "settlement", "200", gross, kKey))
                .http_status,
            503);
  EXPECT_EQ(Plan(), "free");
  EXPECT_EQ(CashSum(), 0);
  EXPECT_EQ(payments_->GetOrder(tenant_, order.order_id)->status, "pending_payment");
}

TEST_P(PaymentServiceTest, AReplayedOldStatusChangesNothing) {
  Order order = CheckoutPro();
  ASSERT_OK(sandbox_->Act(order.snap_token, "pending"));
  WaitForDeliveries();
  EXPECT_EQ(payments_->GetOrder(tenant_, order.order_id)->status, "pending");
  ASSERT_OK(sandbox_->Act(order.snap_token, "pay"));
  WaitForDeliveries();
  EXPECT_EQ(Plan(), "pro");
  // An attacker (or a slow gateway) replays the genuine "pending" notification.
  const std::string pending = Signed(order.order_id, "pending", "201", "299000.00", kKey);
  auto a = payments_->HandleNotification("application/json", pending, clock_.Now());
  EXPECT_EQ(a.http_status, 200);
  EXPECT_EQ(a.outcome, "duplicate");  // the status API says settlement, already applied
  EXPECT_EQ(payments_->GetOrder(tenant_, order.order_id)->status, "paid");
  EXPECT_EQ(Plan(), "pro");
  EXPECT_EQ(CashSum(), 299'000);
}

TEST_P(PaymentServiceTest, ASettlementReversedAfterTheGrantRevokesIt) {
  Order order = CheckoutPro();
  ASSERT_OK(sandbox_->Act(order.snap_token, "pay", {.payment_type = "echannel"}));
  WaitForDeliveries();
  EXPECT_EQ(Plan(), "pro");
  ASSERT_OK(sandbox_->Act(order.snap_token, "reverse"));
  WaitForDeliveries();
  EXPECT_EQ(Plan(), "free");
  EXPECT_EQ(payments_->GetOrder(tenant_, order.order_id)->status, "reversed");
  EXPECT_EQ(CashSum(), 0);
  auto view = billing_->View(tenant_, clock_.Now());
  ASSERT_OK(view);
  EXPECT_TRUE(view->reconciliation.ok());
}

TEST_P(PaymentServiceTest, ChallengeHoldsUntilAccepted) {
  Order order = CheckoutPro();
  ASSERT_OK(sandbox_->Act(order.snap_token, "challenge"));
  WaitForDeliveries();
  EXPECT_EQ(payments_->GetOrder(tenant_, order.order_id)->status, "challenge");
  EXPECT_EQ(Plan(), "free");
  ASSERT_OK(sandbox_->Act(order.snap_token, "accept"));
  WaitForDeliveries();
  EXPECT_EQ(Plan(), "pro");
}

TEST_P(PaymentServiceTest, DeniedThenExpiredVoidsTheInvoice) {
  Order order = CheckoutPro();
  ASSERT_OK(sandbox_->Act(order.snap_token, "deny"));
  WaitForDeliveries();
  EXPECT_EQ(payments_->GetOrder(tenant_, order.order_id)->status, "denied");
  ASSERT_OK(sandbox_->Act(order.snap_token, "expire"));
  WaitForDeliveries();
  EXPECT_EQ(payments_->GetOrder(tenant_, order.order_id)->status, "failed");
  EXPECT_EQ(billing_->Invoice(tenant_, order.invoice)->status, billing::InvoiceStatus::kVoid);
  EXPECT_EQ(Plan(), "free");
}

TEST_P(PaymentServiceTest, RefundsThroughTheGatewayPartialThenFull) {
  Order order = CheckoutPro();
  ASSERT_OK(sandbox_->Act(order.snap_token, "pay_card"));
  WaitForDeliveries();
  EXPECT_EQ(Plan(), "pro");
  EXPECT_EQ(payments_->Refund(order.order_id, 400'000, "too much", "operator:1", clock_.Now())
                .error()
                .field(),
            "amount_idr");
  auto partial = payments_->Refund(order.order_id, 99'000, "goodwill", "operator:1", clock_.Now());
  ASSERT_OK(partial);
  EXPECT_EQ(partial->status, "partially_refunded");
  WaitForDeliveries();  // the gateway's partial_refund notification: already recorded
  EXPECT_EQ(Plan(), "pro");
  auto full =
      payments_->Refund(order.order_id, 200'000, "cancelled deal", "operator:1", clock_.Now());
  ASSERT_OK(full);
  EXPECT_EQ(full->status, "refunded");
  WaitForDeliveries();
  EXPECT_EQ(Plan(), "free");
  EXPECT_EQ(CashSum(), 0);
  EXPECT_EQ(CountRows(db(), "payments", tenant_), 3);  // settlement, two refunds: not four
}

TEST_P(PaymentServiceTest, ARetriedRefundWithTheSameIdempotencyKeyRefundsOnce) {
  Order order = CheckoutPro();
  ASSERT_OK(sandbox_->Act(order.snap_token, "pay"));
  WaitForDeliveries();
  for (int i = 0; i < 3; ++i) {
    auto r = payments_->Refund(order.order_id, 100'000, "goodwill", "operator:1", clock_.Now(),
                               "ticket-42");
    ASSERT_OK(r);
    EXPECT_EQ(r->status, "partially_refunded");
  }
  WaitForDeliveries();
  EXPECT_EQ(CashSum(), 199'000);
  EXPECT_EQ(CountRows(db(), "payments", tenant_), 2);
  // Another key is another refund.
  ASSERT_OK(
      payments_->Refund(order.order_id, 100'000, "more", "operator:1", clock_.Now(), "ticket-43"));
  EXPECT_EQ(CashSum(), 99'000);
}

TEST_P(PaymentServiceTest, ThePollAppliesWhatNotificationsDidNotDeliver) {
  sandbox_->SetNotificationUrl("");  // the notifications are lost
  Order order = CheckoutPro();
  ASSERT_OK(sandbox_->Act(order.snap_token, "pay"));
  auto none = payments_->Reconcile(clock_.Now() + 5 * kNanosPerMinute);
  ASSERT_OK(none);
  EXPECT_EQ(*none, 0);  // too young to poll
  clock_.Advance(11 * kNanosPerMinute);
  auto polled = payments_->Reconcile(clock_.Now());
  ASSERT_OK(polled);
  EXPECT_EQ(*polled, 1);
  EXPECT_EQ(Plan(), "pro");
  // An order nobody paid and that expired: the poll closes it.
  auto up = payments_->Checkout(tenant_, {"Ayu", "ayu@example.com"}, "enterprise",
                                billing::Term::kMonth, clock_.Now(), "user:1");
  ASSERT_OK(up);
  clock_.Advance(25 * kNanosPerHour);
  ASSERT_OK(payments_->Reconcile(clock_.Now()));
  EXPECT_EQ(payments_->GetOrder(tenant_, up->order->order_id)->status, "failed");
  EXPECT_EQ(Plan(), "pro");
}

TEST_P(PaymentServiceTest, RenewalsGetAPaymentLinkAndExtendTheTerm) {
  Order renewal;
  ASSERT_NO_FATAL_FAILURE(RenewalDue(&renewal));
  EXPECT_EQ(renewal.status, "pending_payment");
  EXPECT_GT(renewal.expires_at, T("2024-05-03T00:00:00Z"));  // payable through the grace period
  ASSERT_OK(sandbox_->Act(renewal.snap_token, "pay"));
  WaitForDeliveries();
  clock_.Set(T("2024-05-02T00:00:00Z"));
  auto view = billing_->View(tenant_, clock_.Now());
  ASSERT_OK(view);
  EXPECT_EQ(view->state.plan, "pro");
  EXPECT_EQ(view->ToJson()["term"]["end"], "2024-06-01T00:00:00Z");
}

// An unpaid renewal lapses (noticed by a View, not by the round): the next round cancels its
// still-payable order at the gateway, once; the cancel notification closes it.
TEST_P(PaymentServiceTest, ALapsedRenewalsOrderIsCancelledByTheRound) {
  Order due;
  ASSERT_NO_FATAL_FAILURE(RenewalDue(&due));
  const std::string renewal = due.order_id;
  EXPECT_EQ(due.status, "pending_payment");
  clock_.Set(T("2024-05-05T00:00:00Z"));  // term end 1 May + 3 days of grace: lapsed
  auto view = billing_->View(tenant_, clock_.Now());
  ASSERT_OK(view);
  EXPECT_EQ(view->state.plan, "free");
  ASSERT_OK(payments_->Reconcile(clock_.Now()));
  WaitForDeliveries();
  auto after = payments_->Orders(tenant_, 10);
  ASSERT_OK(after);
  EXPECT_EQ((*after)[0].order_id, renewal);
  EXPECT_EQ((*after)[0].status, "failed");
  EXPECT_EQ((*after)[0].gateway_status, "cancel");
  EXPECT_EQ(CashSum(), 299'000);
  // Closed: a later round does not cancel it again.
  const size_t answers = Outcomes().size();
  clock_.Set(T("2024-05-06T00:00:00Z"));
  ASSERT_OK(payments_->Reconcile(clock_.Now()));
  WaitForDeliveries();
  EXPECT_EQ(Outcomes().size(), answers);
  EXPECT_EQ(Plan(), "free");
}

TEST_P(PaymentServiceTest, ANewCheckoutCancelsTheSupersededOrder) {
  Order first = CheckoutPro();
  ASSERT_OK(sandbox_->Act(first.snap_token, "pending"));
  WaitForDeliveries();
  auto second = payments_->Checkout(tenant_, {"Ayu", "ayu@example.com"}, "enterprise",
                                    billing::Term::kMonth, clock_.Now(), "user:1");
  ASSERT_OK(second);
  WaitForDeliveries();  // the sandbox's cancel notification
  EXPECT_EQ(payments_->GetOrder(tenant_, first.order_id)->status, "failed");
  EXPECT_EQ(billing_->Invoice(tenant_, first.invoice)->status, billing::InvoiceStatus::kVoid);
}

INSTANTIATE_TEST_SUITE_P(Backends, PaymentServiceTest, SINYAL_DB_BACKENDS,
                         store::testing::BackendName);

}  // namespace
}  // namespace sinyal::payments
