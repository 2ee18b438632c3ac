// Self-service subscriptions through the database (billing/subscription_service.h), on SQLite
// and PostgreSQL: plan switches land in the subscription, every change is an append-only event,
// and the stored tables (payments, credit_ledger, term_invoices) reconcile to the rupiah.
#include "billing/subscription_service.h"

#include <gtest/gtest.h>

#include <random>

#include "billing/invoices.h"
#include "billing/meter.h"
#include "billing/revenue.h"
#include "billing/sql_util.h"
#include "billing/testing/billing_fixture.h"
#include "core/time.h"
#include "store/testing/test_db.h"

namespace sinyal::billing {
namespace {

using testing::CreateTenant;
using testing::T;

// Sums over the stored rows of one tenant (system scope).
struct Stored {
  int64_t cash = 0, credit = 0, earned = 0, held = 0, cash_col = 0, balance_col = 0,
          written_off_col = 0, line_errors = 0, events = 0;
};
Stored ReadStored(store::Database& db, TenantId tenant) {
  Stored s;
  Status st = db.WithTx([&](soci::session& sql) -> Status {
    long long t = tenant.value(), v = 0, w = 0, x = 0;
    // One number per query, scoped to the tenant (:t).
    auto number = [&](const std::string& query) {
      long long n = 0;
      sql << query, soci::use(t, "t"), soci::into(n);
      return static_cast<int64_t>(n);
    };
    s.cash = number(
        "SELECT CAST(COALESCE(SUM(amount_idr), 0) AS BIGINT) FROM payments WHERE "
        "tenant_id = :t");
    s.credit = number(
        "SELECT CAST(COALESCE(SUM(amount_idr), 0) AS BIGINT) FROM credit_ledger "
        "WHERE tenant_id = :t");
    s.earned = number(
        "SELECT CAST(COALESCE(SUM(subtotal_idr - refunded_idr - credited_idr), 0) AS BIGINT) FROM "
        "term_invoices WHERE tenant_id = :t AND status = 'paid'");
    s.held = number(
        "SELECT CAST(COALESCE(SUM(credit_applied_idr), 0) AS BIGINT) FROM term_invoices WHERE "
        "tenant_id = :t AND status = 'open'");
    s.line_errors = number(
        "SELECT COUNT(*) FROM term_invoices WHERE tenant_id = :t AND subtotal_idr <> "
        "proration_credit_idr + credit_applied_idr + total_idr");
    sql << "SELECT cash_idr, balance_idr, written_off_idr FROM billing_accounts WHERE tenant_id = "
           ":t",
        soci::use(t, "t"), soci::into(v), soci::into(w), soci::into(x);
    s.cash_col = v;
    s.balance_col = w;
    s.written_off_col = x;
    s.events = number("SELECT COUNT(*) FROM billing_events WHERE tenant_id = :t");
    return Status::Ok();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  return s;
}

void ExpectStoredReconciles(store::Database& db, TenantId tenant) {
  Stored s = ReadStored(db, tenant);
  EXPECT_EQ(s.line_errors, 0);
  EXPECT_EQ(s.cash, s.cash_col);
  EXPECT_EQ(s.credit, s.balance_col);
  EXPECT_GE(s.credit, 0);
  EXPECT_EQ(s.cash + s.written_off_col, s.earned + s.credit + s.held)
      << "cash " << s.cash << " written off " << s.written_off_col << " earned " << s.earned
      << " credit " << s.credit << " held " << s.held;
}

class SubscriptionServiceTest : public testing::BillingTest {
 protected:
  void SetUp() override {
    clock_.Set(T("2024-04-01T00:00:00Z"));
    BillingTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    service_ = std::make_unique<SubscriptionService>(db(), *subs_);
    tenant_ = CreateTenant(db(), "acme");
  }
  void TearDown() override {
    service_.reset();
    BillingTest::TearDown();
  }
  // Pays an invoice as the payments module does: inside Apply.
  void PayInvoice(int64_t seq, int64_t amount, UnixNanos at) {
    ASSERT_OK(
        service_->Apply(tenant_, at, "midtrans", [&](BillingAccount& a, soci::session&) -> Status {
          return a.Pay(seq, amount, at, "order-" + std::to_string(seq), service_->rules()).status();
        }));
  }
  std::string PlanNow(UnixNanos at) {
    auto s = subs_->Current(tenant_, at);
    EXPECT_TRUE(s.ok());
    return s.ok() ? s->plan : "";
  }

  std::unique_ptr<SubscriptionService> service_;
  TenantId tenant_;
};

TEST_P(SubscriptionServiceTest, PaymentSwitchesThePlanInTheSameCommit) {
  std::vector<StoredEvent> heard;
  service_->Subscribe([&](const StoredEvent& e) { heard.push_back(e); });
  const UnixNanos t0 = T("2024-04-01T00:00:00Z");
  EXPECT_EQ(PlanNow(t0), "free");
  auto out = service_->Checkout(tenant_, "pro", Term::kMonth, t0, "user:1");
  ASSERT_OK(out);
  ASSERT_TRUE(out->invoice.has_value());
  EXPECT_EQ(out->invoice->total_idr, 299'000);
  EXPECT_EQ(PlanNow(t0), "free");
  PayInvoice(out->invoice->seq, 299'000, t0 + kNanosPerMinute);
  EXPECT_EQ(PlanNow(t0 + kNanosPerMinute), "pro");  // the cache was dropped: at once
  auto view = service_->View(tenant_, t0 + 2 * kNanosPerMinute);
  ASSERT_OK(view);
  EXPECT_EQ(view->state.plan, "pro");
  nlohmann::json j = view->ToJson();
  EXPECT_EQ(j["status"], "active");
  EXPECT_EQ(j["term"]["end"], "2024-05-01T00:01:00Z");
  // The audit trail: checkout, invoice_paid, plan_granted; the subscription's own event row.
  auto events = service_->Events(tenant_, 100);
  ASSERT_OK(events);
  std::vector<std::string> kinds;
  for (auto it = events->rbegin(); it != events->rend(); ++it) kinds.push_back(it->kind);
  EXPECT_EQ(kinds, (std::vector<std::string>{"checkout", "invoice_paid", "plan_granted"}));
  EXPECT_EQ((*events)[0].actor, "midtrans");
  EXPECT_EQ(heard.size(), 3u);
  auto held = subs_->PlansDuring(tenant_, t0, t0 + kNanosPerDay);
  ASSERT_OK(held);
  EXPECT_EQ(held->back(), "pro");
  auto payments = service_->Payments(tenant_, 10);
  ASSERT_OK(payments);
  ASSERT_EQ(payments->size(), 1u);
  EXPECT_EQ((*payments)[0].amount_idr, 299'000);
  ExpectStoredReconciles(db(), tenant_);
  // The append-only tables refuse updates.
  Status upd = db().WithTx([&](soci::session& sql) -> Status {
    sql << "UPDATE billing_events SET kind = 'x'";
    return Status::Ok();
  });
  EXPECT_FALSE(upd.ok());
  upd = db().WithTx([&](soci::session& sql) -> Status {
    sql << "UPDATE payments SET amount_idr = 1";
    return Status::Ok();
  });
  EXPECT_FALSE(upd.ok());
}

TEST_P(SubscriptionServiceTest, TheSweepIssuesRenewalsAndLapsesUnpaidOnes) {
  const UnixNanos t0 = T("2024-04-01T00:00:00Z");
  auto out = service_->Checkout(tenant_, "pro", Term::kMonth, t0, "user:1");
  ASSERT_OK(out);
  PayInvoice(out->invoice->seq, 299'000, t0);
  auto n = service_->AdvanceDue(T("2024-04-20T00:00:00Z"));
  ASSERT_OK(n);
  EXPECT_EQ(*n, 0);
  n = service_->AdvanceDue(T("2024-04-24T00:00:00Z"));
  ASSERT_OK(n);
  EXPECT_EQ(*n, 1);
  auto view = service_->View(tenant_, T("2024-04-24T00:00:01Z"));
  ASSERT_OK(view);
  ASSERT_FALSE(view->ToJson()["open_invoice"].is_null());
  EXPECT_EQ(view->ToJson()["open_invoice"]["kind"], "renewal");
  ASSERT_OK(service_->AdvanceDue(T("2024-05-02T00:00:00Z")));
  EXPECT_EQ(service_->View(tenant_, T("2024-05-02T00:00:00Z"))->ToJson()["status"], "past_due");
  EXPECT_EQ(PlanNow(T("2024-05-02T00:00:00Z")), "pro");
  ASSERT_OK(service_->AdvanceDue(T("2024-05-04T00:00:00Z")));
  EXPECT_EQ(PlanNow(T("2024-05-04T00:00:00Z")), "free");
  auto again = service_->AdvanceDue(T("2024-06-04T00:00:00Z"));
  ASSERT_OK(again);
  EXPECT_EQ(*again, 0);  // free: nothing due
  ExpectStoredReconciles(db(), tenant_);
  auto since = service_->EventsSince(0, 1000);
  ASSERT_OK(since);
  bool lapsed = false;
  for (const auto& e : *since) lapsed = lapsed || (e.kind == "lapsed" && e.tenant == tenant_);
  EXPECT_TRUE(lapsed);
}

TEST_P(SubscriptionServiceTest, PrepaidPeriodsCarryNoBaseOnUsageInvoices) {
  // The usage period is anchored at the first use (2024-04-01); Pro is bought on 04-05.
  ASSERT_OK(subs_->Current(tenant_, T("2024-04-01T00:00:00Z")));
  auto out = service_->Checkout(tenant_, "pro", Term::kMonth, T("2024-04-05T00:00:00Z"), "user:1");
  ASSERT_OK(out);
  PayInvoice(out->invoice->seq, 299'000, T("2024-04-05T00:00:00Z"));
  Invoices invoices(db(), *subs_);
  auto inv = invoices.Generate(tenant_, 0, T("2024-05-02T00:00:00Z"));
  ASSERT_OK(inv);
  EXPECT_EQ(inv->plan, "pro");
  EXPECT_EQ(inv->base_idr, 0);  // paid by term invoice 1
  EXPECT_EQ(inv->total_idr, 0);
}

TEST_P(SubscriptionServiceTest, GraduatedOverageIsChargedPerBandByTheMeter) {
  // Pro with a small quota and bands: 2 units at 250, then 100.
  ASSERT_OK(plans_->Update(
      "pro",
      {{"monthly_quota", 1},
       {"overage_bands",
        nlohmann::json::parse(R"([{"up_to":2,"price_idr":250},{"up_to":null,"price_idr":100}])")}},
      "op"));
  auto out = service_->Checkout(tenant_, "pro", Term::kMonth, T("2024-04-01T00:00:00Z"), "user:1");
  ASSERT_OK(out);
  PayInvoice(out->invoice->seq, 299'000, T("2024-04-01T00:00:00Z"));
  Meter meter(db(), *subs_);
  std::vector<int64_t> costs;
  for (int64_t units : {1, 1, 3}) {  // 1 included; 1 at 250; 3 = 1 at 250 + 2 at 100
    MeterCall c;
    c.tenant = tenant_;
    c.user = UserId(1);
    c.endpoint = "business.predict.batch";
    c.units = units;
    auto r = meter.Reserve(c, T("2024-04-02T00:00:00Z"));
    ASSERT_OK(r);
    auto body = meter.Commit(std::move(r->reservation), {{"ok", true}});
    ASSERT_OK(body);
    costs.push_back(nlohmann::json::parse(*body)["usage_cost"].get<int64_t>());
  }
  EXPECT_EQ(costs, (std::vector<int64_t>{0, 250, 450}));
  Invoices invoices(db(), *subs_);
  auto inv = invoices.Generate(tenant_, 0, T("2024-05-02T00:00:00Z"));
  ASSERT_OK(inv);
  EXPECT_EQ(inv->overage_units, 4);
  EXPECT_EQ(inv->overage_idr, 700);
  EXPECT_EQ(inv->total_idr, 700);  // base prepaid
}

// MRR, ARPU and churn of three tenants over three months, to the rupiah.
//   A  Pro monthly from 04-01, renewed (paid 04-25), cancels in May: Free from 06-01
//   B  Enterprise yearly from 04-15 (Rp 49.900.000: Rp 4.158.333 a month)
//   C  Pro monthly from 04-10, renewal unpaid: past due 05-10, lapsed 05-13
TEST_P(SubscriptionServiceTest, RevenueFiguresPerMonth) {
  TenantId a = tenant_, b = CreateTenant(db(), "beta"), c = CreateTenant(db(), "gamma");
  auto buy = [&](TenantId t, const std::string& plan, Term term, UnixNanos at) {
    auto out = service_->Checkout(t, plan, term, at, "user:1");
    ASSERT_OK(out);
    const int64_t seq = out->invoice->seq, total = out->invoice->total_idr;
    ASSERT_OK(
        service_->Apply(t, at, "midtrans", [&](BillingAccount& acc, soci::session&) -> Status {
          return acc.Pay(seq, total, at, "o", service_->rules()).status();
        }));
  };
  buy(a, "pro", Term::kMonth, T("2024-04-01T00:00:00Z"));
  buy(c, "pro", Term::kMonth, T("2024-04-10T00:00:00Z"));
  buy(b, "enterprise", Term::kYear, T("2024-04-15T00:00:00Z"));
  ASSERT_OK(service_->AdvanceDue(T("2024-04-25T00:00:00Z")));
  auto view = service_->View(a, T("2024-04-25T00:00:00Z"));
  ASSERT_OK(view);
  const TermInvoice* renewal = nullptr;
  for (const auto& inv : view->invoices) {
    if (inv.status == InvoiceStatus::kOpen) renewal = &inv;
  }
  ASSERT_NE(renewal, nullptr);
  const int64_t rseq = renewal->seq;
  ASSERT_OK(service_->Apply(
      a, T("2024-04-25T00:00:00Z"), "midtrans", [&](BillingAccount& acc, soci::session&) -> Status {
        return acc.Pay(rseq, 299'000, T("2024-04-25T00:00:00Z"), "o", service_->rules()).status();
      }));
  ASSERT_OK(service_->Cancel(a, T("2024-05-20T00:00:00Z"), "user:1"));
  for (const char* at : {"2024-05-11T00:00:00Z", "2024-05-14T00:00:00Z", "2024-06-02T00:00:00Z"}) {
    ASSERT_OK(service_->AdvanceDue(T(at)));
  }
  auto r = SubscriptionRevenue(db(), T("2024-04-01T00:00:00Z"), T("2024-07-01T00:00:00Z"),
                               T("2024-07-01T00:00:00Z"));
  ASSERT_OK(r);
  const auto& m = (*r)["months"];
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0]["month"], "2024-04");
  EXPECT_EQ(m[0]["settled_idr"], 299'000 + 299'000 + 49'900'000 + 299'000);
  EXPECT_EQ(m[0]["mrr_idr"], 299'000 + 299'000 + 4'158'333);
  EXPECT_EQ(m[0]["paying_tenants"], 3);
  EXPECT_EQ(m[0]["arpu_idr"], (299'000 + 299'000 + 4'158'333) / 3);
  EXPECT_EQ(m[0]["new_paying"], 3);
  EXPECT_TRUE(m[0]["churn_rate"].is_null());
  EXPECT_EQ(m[1]["month"], "2024-05");
  EXPECT_EQ(m[1]["settled_idr"], 0);
  EXPECT_EQ(m[1]["mrr_idr"], 299'000 + 4'158'333);  // C lapsed; A runs to 06-01
  EXPECT_EQ(m[1]["lapses"], 1);
  EXPECT_EQ(m[1]["cancellations"], 0);
  EXPECT_DOUBLE_EQ(m[1]["churn_rate"].get<double>(), 1.0 / 3);
  EXPECT_EQ(m[2]["mrr_idr"], 4'158'333);
  EXPECT_EQ(m[2]["paying_tenants"], 1);
  EXPECT_EQ(m[2]["cancellations"], 1);
  EXPECT_DOUBLE_EQ(m[2]["churn_rate"].get<double>(), 1.0 / 2);
  EXPECT_EQ((*r)["totals"]["net_idr"], 50'797'000);
  EXPECT_EQ((*r)["reconciliation"]["ok"], true) << (*r)["reconciliation"].dump();
  EXPECT_EQ((*r)["reconciliation"]["payments_idr"], 50'797'000);
}

// Random sequences through the database: after every step the stored tables reconcile.
TEST_P(SubscriptionServiceTest, RandomSequencesReconcileInTheStoredTables) {
  const char* plans[] = {"pro", "enterprise"};
  for (uint32_t seed = 1; seed <= 3; ++seed) {
    std::mt19937 rng(seed);
    TenantId tenant = CreateTenant(db(), "rand" + std::to_string(seed));
    UnixNanos now = T("2024-01-01T00:00:00Z");
    for (int step = 0; step < 40; ++step) {
      const int op = static_cast<int>(rng() % 10);
      Status st =
          service_->Apply(tenant, now, "test", [&](BillingAccount& a, soci::session&) -> Status {
            const AccountRules& rules = service_->rules();
            if (op < 3) {
              (void)a.Checkout(plans[rng() % 2], rng() % 4 ? Term::kMonth : Term::kYear, now,
                               rules);
            } else if (op < 6) {
              for (const TermInvoice& inv : a.invoices()) {
                if (inv.status == InvoiceStatus::kOpen)
                  return a.Pay(inv.seq, inv.total_idr, now, "o", rules).status();
              }
            } else if (op < 7) {
              (void)a.Cancel(now, rules);
            } else if (op < 9 && !a.invoices().empty()) {
              const int64_t seq = a.invoices()[rng() % a.invoices().size()].seq;
              const int64_t max = a.RefundableIdr(seq);
              if (max > 0)
                return a.ReturnCash(seq, rng() % 2 ? max : 1 + static_cast<int64_t>(rng() % max),
                                    "refund", false, now, "r", rules);
            } else if (!a.invoices().empty()) {
              const TermInvoice& inv = a.invoices()[rng() % a.invoices().size()];
              if (inv.status == InvoiceStatus::kPaid && inv.total_idr > inv.refunded_idr) {
                return a.ReturnCash(inv.seq, inv.total_idr - inv.refunded_idr, "reversal", true,
                                    now, "c", rules);
              }
            }
            return Status::Ok();
          });
      ASSERT_OK(st);
      now += static_cast<int64_t>(rng() % (12 * 86400)) * kNanosPerSecond;
      ASSERT_OK(service_->AdvanceDue(now));
      ExpectStoredReconciles(db(), tenant);
      // The subscription holds the account's plan.
      auto view = service_->View(tenant, now);
      ASSERT_OK(view);
      auto sub = subs_->Current(tenant, now);
      ASSERT_OK(sub);
      EXPECT_EQ(sub->plan, view->state.plan) << "seed " << seed << " step " << step;
      ASSERT_FALSE(HasFailure()) << "seed " << seed << " step " << step;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, SubscriptionServiceTest, SINYAL_DB_BACKENDS,
                         store::testing::BackendName);

// Which billing events reach the tenant's owners (Telegram), with what, and once per event.
TEST(NoticeForEventTest, PaymentsAndRenewalsBecomeNoticesOthersDoNot) {
  StoredEvent paid{.tenant = TenantId(7),
                   .kind = "invoice_paid",
                   .invoice = 3,
                   .data = {{"plan", "pro"}, {"total_idr", 149000}, {"by_credit", false}}};
  auto n = NoticeForEvent(paid);
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->kind, NoticeKind::kPaymentSettled);
  EXPECT_EQ(n->tenant, TenantId(7));
  EXPECT_EQ(n->plan, "pro");
  EXPECT_EQ(n->amount_idr, 149000);
  EXPECT_EQ(n->event_id, "invoice:3");
  paid.data["total_idr"] = 0;  // paid by credit: nothing was charged
  EXPECT_FALSE(NoticeForEvent(paid).has_value());

  StoredEvent failed{
      .tenant = TenantId(7),
      .kind = "payment_failed",
      .invoice = 4,
      .data = {
          {"order_id", "SNY-7-4-a"}, {"transaction_status", "expire"}, {"gross_amount", 149000}}};
  n = NoticeForEvent(failed);
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->kind, NoticeKind::kPaymentFailed);
  EXPECT_EQ(n->detail, "expire");
  EXPECT_EQ(n->amount_idr, 149000);
  EXPECT_EQ(n->event_id, "payment_failed:SNY-7-4-a");
  failed.kind = "payment_denied";
  EXPECT_EQ(NoticeForEvent(failed)->event_id, "payment_denied:SNY-7-4-a");

  StoredEvent renewal{
      .tenant = TenantId(7),
      .kind = "renewal_invoiced",
      .invoice = 5,
      .data = {{"plan", "pro"}, {"total_idr", 149000}, {"due_at", "2027-01-01T00:00:00Z"}}};
  n = NoticeForEvent(renewal);
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->kind, NoticeKind::kRenewalDue);
  EXPECT_EQ(n->due_at, *ParseIso8601("2027-01-01T00:00:00Z"));
  EXPECT_EQ(n->event_id, "renewal:5");

  StoredEvent past_due{.tenant = TenantId(7),
                       .kind = "past_due",
                       .invoice = 5,
                       .data = {{"plan", "pro"}, {"grace_until", "2027-01-04T00:00:00Z"}},
                       .at = 1};
  n = NoticeForEvent(past_due);
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->kind, NoticeKind::kRenewalDue);
  EXPECT_EQ(n->due_at, *ParseIso8601("2027-01-04T00:00:00Z"));
  EXPECT_NE(n->event_id, "renewal:5");  // a second notice: the grace period began

  for (const char* kind :
       {"checkout", "cancel_scheduled", "downgrade_scheduled", "plan_granted", "invoice_void"}) {
    EXPECT_FALSE(NoticeForEvent({.tenant = TenantId(7), .kind = kind, .invoice = 1}).has_value())
        << kind;
  }
}

}  // namespace
}  // namespace sinyal::billing
