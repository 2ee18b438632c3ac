#include "billing/invoices.h"

#include <gtest/gtest.h>

#include "billing/analytics.h"
#include "billing/meter.h"
#include "billing/testing/billing_fixture.h"
#include "store/testing/test_db.h"

namespace sinyal::billing {
namespace {

using testing::T;

// Three tenants anchored on 2024-03-01 with a month of usage:
//   a  free, 10 calls on 2024-03-02
//   b  pro with the quota edited to 5 (overage 250), 8 calls: 3 overage = Rp 750
//   c  free -> pro on 03-10 -> free on 03-20, 2 calls
class InvoicesTest : public testing::BillingTest {
 protected:
  void SetUp() override {
    BillingTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    const UnixNanos anchor = T("2024-03-01T00:00:00Z");
    a_ = Subscribed("alpha", anchor);
    b_ = Subscribed("beta", anchor);
    c_ = Subscribed("gamma", anchor);
    ASSERT_OK(plans_->Update("pro", {{"monthly_quota", 5}, {"overage_price_idr", 250}}, "op"));
    ASSERT_OK(subs_->ChangePlan(b_, "pro", anchor, "op"));
    for (int i = 0; i < 10; ++i) Charge(a_, T("2024-03-02T10:00:00Z") + i);
    for (int i = 0; i < 8; ++i) Charge(b_, T("2024-03-03T10:00:00Z") + i);
    ASSERT_OK(subs_->ChangePlan(c_, "pro", T("2024-03-10T00:00:00Z"), "op"));
    Charge(c_, T("2024-03-12T00:00:00Z"));
    ASSERT_OK(subs_->ChangePlan(c_, "free", T("2024-03-20T00:00:00Z"), "op"));
    Charge(c_, T("2024-03-21T00:00:00Z"));
  }
  void Charge(TenantId t, UnixNanos at) {
    auto out = meter_->Reserve(PredictCall(t), at);
    ASSERT_OK(out);
    ASSERT_OK(meter_->Commit(std::move(out->reservation), {{"prediction", "bullish"}}));
  }

  TenantId a_, b_, c_;
};

TEST_P(InvoicesTest, ClosedPeriodsAreInvoicedOnceWithBasePlusOverage) {
  Invoices invoices(db(), *subs_);
  // Within the grace after the period's end: not closed yet.
  const UnixNanos early = T("2024-04-01T00:00:30Z");
  EXPECT_EQ(invoices.Generate(b_, 0, early).error().code(), StatusCode::kFailedPrecondition);
  auto none = invoices.GenerateClosed(early);
  ASSERT_OK(none);
  EXPECT_EQ(*none, 0);

  const UnixNanos later = T("2024-04-02T00:00:00Z");
  auto made = invoices.GenerateClosed(later);
  ASSERT_OK(made);
  EXPECT_EQ(*made, 3);
  auto again = invoices.GenerateClosed(later + kNanosPerHour);
  ASSERT_OK(again);
  EXPECT_EQ(*again, 0);

  auto b = invoices.List(b_);
  ASSERT_OK(b);
  ASSERT_EQ(b->size(), 1u);
  const Invoice& ib = (*b)[0];
  EXPECT_EQ(ib.plan, "pro");
  EXPECT_EQ(ib.base_idr, 299000);
  EXPECT_EQ(ib.units, 8);
  EXPECT_EQ(ib.overage_units, 3);
  EXPECT_EQ(ib.overage_idr, 750);
  EXPECT_EQ(ib.total_idr, 299750);
  EXPECT_EQ(ib.period_start, T("2024-03-01T00:00:00Z"));
  EXPECT_EQ(ib.period_end, T("2024-04-01T00:00:00Z"));
  EXPECT_EQ(ib.ToJson()["period"]["end"], "2024-04-01T00:00:00Z");

  auto a = invoices.List(a_);
  ASSERT_OK(a);
  ASSERT_EQ(a->size(), 1u);
  EXPECT_EQ((*a)[0].plan, "free");
  EXPECT_EQ((*a)[0].total_idr, 0);
  EXPECT_EQ((*a)[0].units, 10);

  // A downgrade before the end does not avoid the period's price.
  auto c = invoices.List(c_);
  ASSERT_OK(c);
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ((*c)[0].plan, "pro");
  EXPECT_EQ((*c)[0].base_idr, 299000);

  // Generating again returns the same invoice, unchanged, even after a price edit.
  ASSERT_OK(plans_->Update("pro", {{"price_idr", 399000}}, "op"));
  auto same = invoices.Generate(b_, 0, later);
  ASSERT_OK(same);
  EXPECT_EQ(same->id, ib.id);
  EXPECT_EQ(same->total_idr, 299750);
  EXPECT_EQ(invoices.Generate(b_, -1, later).error().field(), "period");
}

TEST_P(InvoicesTest, OperatorAnalytics) {
  Analytics analytics(db(), *subs_);
  const UnixNanos from = T("2024-03-01T00:00:00Z"), to = T("2024-04-01T00:00:00Z");

  auto by_day = analytics.UsageByPlanAndDay(from, to);
  ASSERT_OK(by_day);
  ASSERT_EQ(by_day->size(), 4u);
  EXPECT_EQ((*by_day)[0]["date"], "2024-03-02");
  EXPECT_EQ((*by_day)[0]["plan"], "free");
  EXPECT_EQ((*by_day)[0]["units"], 10);
  EXPECT_EQ((*by_day)[1]["date"], "2024-03-03");
  EXPECT_EQ((*by_day)[1]["plan"], "pro");
  EXPECT_EQ((*by_day)[1]["units"], 8);
  EXPECT_EQ((*by_day)[1]["overage_units"], 3);
  EXPECT_EQ((*by_day)[1]["cost_idr"], 750);
  EXPECT_EQ((*by_day)[2]["plan"], "pro");   // c on 03-12
  EXPECT_EQ((*by_day)[3]["plan"], "free");  // c on 03-21
  EXPECT_EQ(analytics.UsageByPlanAndDay(to, from).error().field(), "from");

  auto top = analytics.TopTenants(from, to, 2);
  ASSERT_OK(top);
  ASSERT_EQ(top->size(), 2u);
  EXPECT_EQ((*top)[0]["tenant"], "alpha");
  EXPECT_EQ((*top)[0]["units"], 10);
  EXPECT_EQ((*top)[1]["tenant"], "beta");
  EXPECT_EQ((*top)[1]["plan"], "pro");
  EXPECT_EQ((*top)[1]["cost_idr"], 750);
  EXPECT_EQ(analytics.TopTenants(from, to, 0).error().field(), "limit");

  // Burn-down on 2024-03-11 (10 days into a 31-day period).
  auto burn = analytics.QuotaBurnDown(T("2024-03-11T00:00:00Z"), 10);
  ASSERT_OK(burn);
  ASSERT_EQ(burn->size(), 3u);
  const auto& ja = (*burn)[0];
  EXPECT_EQ(ja["tenant"], "alpha");
  EXPECT_EQ(ja["used"], 10);
  EXPECT_EQ(ja["remaining"], 90);
  EXPECT_DOUBLE_EQ(ja["daily_rate"].get<double>(), 1.0);
  EXPECT_EQ(ja["forecast_month_end"], 31);  // 10 + 1/day x 21 days
  EXPECT_FALSE(ja["forecast_over_quota"].get<bool>());
  EXPECT_TRUE(ja["projected_exhaustion"].is_null());  // 90 more days needed
  ASSERT_EQ(ja["burn_down"].size(), 1u);
  EXPECT_EQ(ja["burn_down"][0]["date"], "2024-03-02");
  EXPECT_EQ(ja["burn_down"][0]["remaining"], 90);
  const auto& jb = (*burn)[1];
  EXPECT_EQ(jb["tenant"], "beta");
  EXPECT_EQ(jb["quota"], 5);
  EXPECT_EQ(jb["remaining"], 0);
  EXPECT_EQ(jb["projected_exhaustion"], "exhausted");
  EXPECT_TRUE(jb["forecast_over_quota"].get<bool>());
  auto one = analytics.QuotaBurnDown(T("2024-03-11T00:00:00Z"), 10, c_);
  ASSERT_OK(one);
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0]["tenant"], "gamma");

  // Revenue and MRR from invoices.
  Invoices invoices(db(), *subs_);
  ASSERT_OK(invoices.GenerateClosed(T("2024-04-02T00:00:00Z")));
  auto rev = analytics.Revenue(T("2024-01-01T00:00:00Z"), T("2024-12-01T00:00:00Z"));
  ASSERT_OK(rev);
  ASSERT_EQ((*rev)["months"].size(), 1u);
  const auto& m = (*rev)["months"][0];
  EXPECT_EQ(m["month"], "2024-03");
  EXPECT_EQ(m["invoices"], 3);
  EXPECT_EQ(m["revenue_idr"], 299750 + 299000);
  EXPECT_EQ(m["mrr_idr"], 2 * 299000);
  EXPECT_EQ(m["overage_idr"], 750);
  EXPECT_EQ((*rev)["total_revenue_idr"], 598750);
  EXPECT_EQ((*rev)["run_rate_mrr_idr"], 299000);  // b is on pro now; c went back to free
  EXPECT_EQ((*rev)["paying_subscriptions"], 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, InvoicesTest, SINYAL_DB_BACKENDS, store::testing::BackendName);

}  // namespace
}  // namespace sinyal::billing
