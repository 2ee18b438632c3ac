#include "billing/plans.h"

#include <gtest/gtest.h>

#include "billing/testing/billing_fixture.h"
#include "store/testing/test_db.h"

namespace sinyal::billing {
namespace {

using store::testing::Backend;
using testing::CreateTenant;
using testing::T;

TEST(PeriodTest, AddMonthsClampsToMonthEndFromTheAnchor) {
  const UnixNanos a = T("2024-01-31T10:00:00Z");
  EXPECT_EQ(AddMonths(a, 1), T("2024-02-29T10:00:00Z"));  // leap year
  EXPECT_EQ(AddMonths(a, 2), T("2024-03-31T10:00:00Z"));  // not chained from Feb 29
  EXPECT_EQ(AddMonths(a, 13), T("2025-02-28T10:00:00Z"));
  EXPECT_EQ(AddMonths(a, -1), T("2023-12-31T10:00:00Z"));
  EXPECT_EQ(AddMonths(a, -2), T("2023-11-30T10:00:00Z"));
  EXPECT_EQ(AddMonths(T("2024-12-15T00:00:00Z"), 1), T("2025-01-15T00:00:00Z"));
}

TEST(PeriodTest, PeriodAtFindsTheHalfOpenPeriod) {
  const UnixNanos a = T("2024-01-31T10:00:00Z");
  Period p = PeriodAt(a, a);
  EXPECT_EQ(p.index, 0);
  EXPECT_EQ(p.start, a);
  EXPECT_EQ(p.end, T("2024-02-29T10:00:00Z"));
  p = PeriodAt(a, T("2024-02-29T09:59:59Z"));
  EXPECT_EQ(p.index, 0);
  p = PeriodAt(a, T("2024-02-29T10:00:00Z"));  // end is exclusive
  EXPECT_EQ(p.index, 1);
  EXPECT_EQ(p.end, T("2024-03-31T10:00:00Z"));
  p = PeriodAt(a, T("2025-03-01T00:00:00Z"));
  EXPECT_EQ(p.index, 13);
  EXPECT_EQ(p.start, T("2025-02-28T10:00:00Z"));
  EXPECT_EQ(PeriodAt(a, a - 1).index, -1);
}

class PlansTest : public store::testing::DbTest {
 protected:
  ManualClock clock_{T("2024-01-31T10:00:00Z")};
};

TEST_P(PlansTest, SeededPlansFollowTheDesign) {
  PlanStore plans(db(), clock_);
  auto list = plans.List();
  ASSERT_OK(list);
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].name, "free");
  EXPECT_EQ((*list)[1].name, "pro");
  EXPECT_EQ((*list)[2].name, "enterprise");
  const Plan& free = (*list)[0];
  EXPECT_EQ(free.monthly_quota, 100);
  EXPECT_EQ(free.price_idr, 0);
  EXPECT_FALSE(free.overage_allowed);
  EXPECT_GT(free.data_delay_seconds, 0);
  EXPECT_FALSE(free.Has(kFeatConfidence));
  EXPECT_FALSE(free.Has(kFeatRealtime));
  const Plan& pro = (*list)[1];
  EXPECT_EQ(pro.monthly_quota, 2000);
  EXPECT_TRUE(pro.Has(kFeatConfidence));
  EXPECT_TRUE(pro.Has(kFeatIntervals));
  EXPECT_TRUE(pro.Has(kFeatAllTimeframes));
  EXPECT_TRUE(pro.Has(kFeatCorrelations));
  const Plan& ent = (*list)[2];
  EXPECT_TRUE(ent.unlimited());
  // Plans sell only listed features (billing/features.h): not custom models (not a feature).
  for (const Plan& p : *list) {
    for (const std::string& f : p.features) EXPECT_TRUE(IsFeature(f)) << p.name << ": " << f;
    for (const char* unbuilt : {"custom_models"}) EXPECT_FALSE(p.Has(unbuilt)) << p.name;
  }
  // Training bounds (migration 20; formerly models/plans.h): wider with each plan.
  EXPECT_EQ(free.training.max_symbols, 3);
  EXPECT_EQ(free.training.max_trees, 200);
  EXPECT_EQ(free.training.allowed_timeframes, (std::vector<std::string>{"H1", "H4", "D1"}));
  EXPECT_EQ(pro.training.max_symbols, 20);
  EXPECT_EQ(pro.training.max_trees, 500);
  EXPECT_EQ(ent.training.max_symbols, 50);
  EXPECT_EQ(ent.training.max_trees, 1000);
  EXPECT_EQ(free.ToJson()["training"]["max_trees"], 200);
  EXPECT_GT(ent.rate_per_second, pro.rate_per_second);
  EXPECT_GT(pro.rate_per_second, free.rate_per_second);
  for (const Plan& p : *list) EXPECT_TRUE(p.Validate().ok()) << p.name;
  EXPECT_TRUE(ent.ToJson()["monthly_quota"].is_null());
  EXPECT_EQ(free.ToJson()["monthly_quota"], 100);

  auto cheapest = plans.CheapestWith(kFeatConfidence);
  ASSERT_OK(cheapest);
  EXPECT_EQ(*cheapest, "pro");
  cheapest = plans.CheapestWith(kFeatStream);
  ASSERT_OK(cheapest);
  EXPECT_EQ(*cheapest, "pro");
  EXPECT_EQ(plans.CheapestWith("teleportation").error().code(), StatusCode::kNotFound);
  EXPECT_EQ(plans.Get("gold").error().code(), StatusCode::kNotFound);
  EXPECT_EQ(plans.Get("gold").error().field(), "plan");
}

TEST_P(PlansTest, OperatorEditsAreValidatedAuditedAndSeen) {
  PlanStore plans(db(), clock_);
  // Warm the cache, then edit: this process sees the edit at once.
  ASSERT_OK(plans.Get("pro"));
  auto updated = plans.Update(
      "pro", {{"price_idr", 349000}, {"monthly_quota", 2500}, {"overage_price_idr", 300}},
      "operator:1");
  ASSERT_OK(updated);
  EXPECT_EQ(updated->price_idr, 349000);
  auto pro = plans.Get("pro");
  ASSERT_OK(pro);
  EXPECT_EQ(pro->monthly_quota, 2500);
  EXPECT_EQ(pro->overage_price_idr, 300);

  // Another process's store sees it after its TTL; a store with a warm cache does not before.
  ManualClock other_clock(clock_.Now());
  PlanStore other(db(), other_clock, PlanStoreOptions{std::chrono::milliseconds(5000)});
  ASSERT_OK(other.Get("free"));
  ASSERT_OK(plans.Update("free", {{"monthly_quota", 150}}, "operator:1"));
  EXPECT_EQ(other.Get("free")->monthly_quota, 100);  // cached
  other_clock.Advance(6 * kNanosPerSecond);
  EXPECT_EQ(other.Get("free")->monthly_quota, 150);

  // Unlimited via null.
  ASSERT_OK(plans.Update("pro", {{"monthly_quota", nullptr}}, "operator:2"));
  EXPECT_TRUE(plans.Get("pro")->unlimited());

  // The audit holds every edit with before and after.
  long long n = 0;
  std::string before, after;
  ASSERT_OK(db().WithTx([&](soci::session& sql) -> Status {
    sql << "SELECT COUNT(*) FROM plan_audit", soci::into(n);
    sql << "SELECT before_json, after_json FROM plan_audit WHERE plan = 'pro' ORDER BY id LIMIT 1",
        soci::into(before), soci::into(after);
    return Status::Ok();
  }));
  EXPECT_EQ(n, 3);
  EXPECT_EQ(nlohmann::json::parse(before)["price_idr"], 299000);
  EXPECT_EQ(nlohmann::json::parse(after)["price_idr"], 349000);
}

TEST_P(PlansTest, BadEditsNameTheFieldAndChangeNothing) {
  PlanStore plans(db(), clock_);
  struct Case {
    nlohmann::json changes;
    std::string field;
  };
  const std::vector<Case> cases = {
      {{{"price_idr", -1}}, "price_idr"},
      {{{"price_idr", 1.5}}, "price_idr"},
      {{{"price_idr", "100"}}, "price_idr"},
      {{{"monthly_quota", -5}}, "monthly_quota"},
      {{{"overage_allowed", 1}}, "overage_allowed"},
      {{{"overage_price_idr", -3}}, "overage_price_idr"},
      {{{"rate_per_second", 0}}, "rate_per_second"},
      {{{"burst", 0}}, "burst"},
      {{{"data_delay_seconds", 10000000}}, "data_delay_seconds"},
      {{{"timeframes", {"H1", "H7"}}}, "timeframes"},
      {{{"timeframes", {"H1", "H1"}}}, "timeframes"},
      {{{"features", {"confidence", "mind_reading"}}}, "features"},
      {{{"features", {"custom_models"}}}, "features"},  // not built: no plan may sell it
      {{{"training", {{"max_trees", 5000}}}}, "training.max_trees"},
      {{{"training", {{"max_trees", "many"}}}}, "training.max_trees"},
      {{{"training", {{"min_eta", 0.5}, {"max_eta", 0.1}}}}, "training.max_eta"},
      {{{"training", {{"timeframes", {"H7"}}}}}, "training.timeframes"},
      {{{"training", {{"depth", 3}}}}, "training.depth"},
      {{{"training", 3}}, "training"},
      {{{"features", "confidence"}}, "features"},
      {{{"display_name", ""}}, "display_name"},
      {{{"colour", "blue"}}, "colour"},
      {{{"name", "gold"}}, "name"},
  };
  for (const auto& c : cases) {
    auto r = plans.Update("pro", c.changes, "operator:1");
    ASSERT_FALSE(r.ok()) << c.changes.dump();
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument) << c.changes.dump();
    EXPECT_EQ(r.error().field(), c.field) << c.changes.dump();
  }
  EXPECT_EQ(plans.Update("gold", {{"price_idr", 1}}, "op").error().code(), StatusCode::kNotFound);
  EXPECT_EQ(plans.Update("pro", nlohmann::json::object(), "op").error().code(),
            StatusCode::kInvalidArgument);
  auto pro = plans.Get("pro");
  ASSERT_OK(pro);
  EXPECT_EQ(pro->price_idr, 299000);
  EXPECT_EQ(pro->monthly_quota, 2000);
  long long n = -1;
  ASSERT_OK(db().WithTx([&](soci::session& sql) -> Status {
    sql << "SELECT COUNT(*) FROM plan_audit", soci::into(n);
    return Status::Ok();
  }));
  EXPECT_EQ(n, 0);
}

TEST_P(PlansTest, TrainingBoundsAreEditedLikeEveryField) {
  PlanStore plans(db(), clock_);
  auto updated =
      plans.Update("free", {{"training", {{"max_symbols", 5}, {"max_trees", 300}}}}, "operator:1");
  ASSERT_OK(updated);
  EXPECT_EQ(updated->training.max_symbols, 5);
  EXPECT_EQ(updated->training.max_trees, 300);
  EXPECT_EQ(updated->training.max_depth, 6) << "fields not given are kept";
  PlanStore fresh(db(), clock_);
  EXPECT_EQ(fresh.Get("free")->training.max_trees, 300) << "stored";
  // A new plan from an operator's fields: defaults for the rest, training at the platform limits.
  auto made = NewPlanFromJson("starter", {{"price_idr", 1000}, {"training", {{"max_symbols", 2}}}});
  ASSERT_OK(made);
  EXPECT_EQ(made->display_name, "starter");
  EXPECT_TRUE(made->unlimited());
  EXPECT_EQ(made->training.max_symbols, 2);
  EXPECT_EQ(made->training.max_trees, models::PlanBounds{}.max_trees);
  EXPECT_EQ(NewPlanFromJson("starter", {{"features", {"custom_models"}}}).error().field(),
            "features");
}

TEST_P(PlansTest, OperatorsCanAddAPlan) {
  PlanStore plans(db(), clock_);
  Plan p;
  p.name = "starter";
  p.display_name = "Starter";
  p.price_idr = 99000;
  p.monthly_quota = 500;
  p.rate_per_second = 5;
  p.burst = 10;
  p.timeframes = {"H1", "H4", "D1"};
  p.features = {"confidence"};
  ASSERT_OK(plans.Create(p, "operator:1"));
  EXPECT_EQ(plans.Create(p, "operator:1").error().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(*plans.CheapestWith(kFeatConfidence), "starter");
  p.name = "Bad Name";
  EXPECT_EQ(plans.Create(p, "operator:1").error().field(), "name");
}

TEST_P(PlansTest, SubscriptionStartsFreeAndKeepsItsAnchorAcrossPlanChanges) {
  PlanStore plans(db(), clock_);
  Subscriptions subs(db(), plans, clock_);
  const TenantId t = CreateTenant(db(), "acme");
  const UnixNanos start = clock_.Now();
  auto s = subs.Current(t, start);
  ASSERT_OK(s);
  EXPECT_EQ(s->plan, "free");
  EXPECT_EQ(s->status, "active");
  EXPECT_EQ(s->anchor, start);
  EXPECT_EQ(s->period_start, start);
  EXPECT_EQ(s->period_end, T("2024-02-29T10:00:00Z"));

  // A later call in the next period: same anchor, next period.
  s = subs.Current(t, T("2024-03-01T00:00:00Z"));
  ASSERT_OK(s);
  EXPECT_EQ(s->period_start, T("2024-02-29T10:00:00Z"));
  EXPECT_EQ(s->period_end, T("2024-03-31T10:00:00Z"));

  const UnixNanos change = T("2024-02-10T00:00:00Z");
  ASSERT_OK(subs.ChangePlan(t, "pro", change, "operator:1"));
  s = subs.Current(t, change);
  ASSERT_OK(s);
  EXPECT_EQ(s->plan, "pro");
  EXPECT_EQ(s->anchor, start);
  EXPECT_EQ(subs.ChangePlan(t, "gold", change, "op").code(), StatusCode::kNotFound);
  ASSERT_OK(subs.ChangePlan(t, "pro", change, "op"));  // no-op

  // A second process (fresh cache) reads the same subscription.
  Subscriptions other(db(), plans, clock_);
  auto o = other.Current(t, change);
  ASSERT_OK(o);
  EXPECT_EQ(o->plan, "pro");
  EXPECT_EQ(o->anchor, start);

  auto held = subs.PlansDuring(t, start, T("2024-02-29T10:00:00Z"));
  ASSERT_OK(held);
  EXPECT_EQ(*held, (std::vector<std::string>{"free", "pro"}));
  held = subs.PlansDuring(t, T("2024-02-29T10:00:00Z"), T("2024-03-31T10:00:00Z"));
  ASSERT_OK(held);
  EXPECT_EQ(*held, (std::vector<std::string>{"pro"}));

  EXPECT_EQ(subs.Current(TenantId(), start).error().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(subs.Current(TenantId(999999), start).ok());  // no such tenant
}

INSTANTIATE_TEST_SUITE_P(Backends, PlansTest, SINYAL_DB_BACKENDS, store::testing::BackendName);

}  // namespace
}  // namespace sinyal::billing
