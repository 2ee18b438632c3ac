// Entitlements (the one gate) and the metered-call flow (MeteredCalls::Run), on SQLite and
// PostgreSQL with the seeded plans: gates name the field and the cheapest plan, following
// operators' edits; the data delay; each step of the flow stops the call and charges nothing
// (403 gate, 429 rate, 402 quota, failed work); a replay is the first body, charged once.
#include "billing/entitlements.h"

#include <gtest/gtest.h>

#include "billing/metered_call.h"
#include "billing/testing/billing_fixture.h"
#include "store/testing/test_db.h"

namespace sinyal::billing {
namespace {

using nlohmann::json;
using testing::CreateTenant;
using testing::T;

class EntitlementsTest : public store::testing::DbTest {
 protected:
  void SetUp() override {
    DbTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    plans_ =
        std::make_unique<PlanStore>(db(), clock_, PlanStoreOptions{std::chrono::milliseconds(0)});
    subs_ = std::make_unique<Subscriptions>(db(), *plans_, clock_);
    entitlements_ = std::make_unique<Entitlements>(*plans_, *subs_);
    meter_ = std::make_unique<Meter>(db(), *subs_);
    limiter_ = MakeLocalRateLimiter();
    flow_ = std::make_unique<MeteredCalls>(*entitlements_, *meter_, limiter_.get());
    tenant_ = CreateTenant(db(), "acme");
  }
  void TearDown() override {
    flow_.reset();
    meter_.reset();
    DbTest::TearDown();
  }

  Caller Who() const { return Caller{tenant_, UserId(7), ApiKeyId(3)}; }
  int64_t LedgerRows() { return testing::CountRows(db(), "usage_ledger", tenant_); }

  ManualClock clock_{T("2024-03-15T10:00:00Z")};
  std::unique_ptr<PlanStore> plans_;
  std::unique_ptr<Subscriptions> subs_;
  std::unique_ptr<Entitlements> entitlements_;
  std::unique_ptr<Meter> meter_;
  std::unique_ptr<RateLimiter> limiter_;
  std::unique_ptr<MeteredCalls> flow_;
  TenantId tenant_;
};

TEST_P(EntitlementsTest, GatesNameTheFieldAndTheCheapestPlan) {
  auto free = plans_->Get("free");
  auto pro = plans_->Get("pro");
  ASSERT_OK(free);
  ASSERT_OK(pro);
  EXPECT_OK(entitlements_->Gate(*pro, kFeatIntervals));
  Status s = entitlements_->Gate(*free, kFeatIntervals, "include[0]");
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(s.field(), "include[0]");
  EXPECT_EQ(s.message(), "'intervals' is not in plan free; requires plan pro");
  s = entitlements_->Gate(*free, kFeatBatch, "items", "batch predictions");
  EXPECT_EQ(s.message(), "batch predictions is not in plan free; requires plan pro");
  EXPECT_EQ(entitlements_->Gate(*free, kFeatStream).field(), "stream")
      << "field defaults to the feature";

  // Timeframes: the plan's list, or every timeframe with all_timeframes.
  EXPECT_OK(entitlements_->Gate(*free, market::Timeframe::kH1));
  s = entitlements_->Gate(*free, market::Timeframe::kM5, "items[2].timeframe");
  EXPECT_EQ(s.field(), "items[2].timeframe");
  EXPECT_EQ(s.message(), "timeframe M5 is not in plan free; requires plan pro");
  EXPECT_OK(entitlements_->Gate(*pro, market::Timeframe::kM5));
  EXPECT_EQ(entitlements_->Gate(*pro, market::Timeframe::kM1).code(), StatusCode::kOk)
      << "all_timeframes: even those not listed";

  // The plan named follows operators' edits: a cheaper plan with the feature is named instead.
  Plan lite = *pro;
  lite.name = "lite";
  lite.display_name = "Lite";
  lite.price_idr = 49000;
  lite.features = {std::string(kFeatIntervals)};
  ASSERT_OK(plans_->Create(lite, "operator:1"));
  EXPECT_EQ(entitlements_->PlanNeeded(kFeatIntervals), "requires plan lite");
  EXPECT_EQ(entitlements_->PlanNeeded(kFeatStream), "requires plan pro");
  ASSERT_OK(plans_->Update("pro", {{"features", json::array({"confidence"})}}, "operator:1"));
  ASSERT_OK(
      plans_->Update("enterprise", {{"features", json::array({"confidence"})}}, "operator:1"));
  EXPECT_EQ(entitlements_->PlanNeeded(kFeatStream), "not available on any plan");
}

TEST_P(EntitlementsTest, DataDelayUnlessRealtime) {
  auto free = plans_->Get("free");
  auto pro = plans_->Get("pro");
  ASSERT_OK(free);
  ASSERT_OK(pro);
  const UnixNanos now = clock_.Now();
  EXPECT_EQ(Entitlements::DataDelaySeconds(*free), 3600);
  EXPECT_EQ(Entitlements::NotAfter(*free, now), now - 3600 * kNanosPerSecond);
  EXPECT_EQ(Entitlements::DataDelaySeconds(*pro), 0);
  EXPECT_EQ(Entitlements::NotAfter(*pro, now), now);
  // A plan with "realtime" ignores a data delay set by mistake.
  Plan odd = *pro;
  odd.data_delay_seconds = 600;
  EXPECT_EQ(Entitlements::NotAfter(odd, now), now);
  EXPECT_EQ(Entitlements::RateLimitOf(*free).burst, free->burst);
}

TEST_P(EntitlementsTest, ResolveGivesTheSubscriptionsPlan) {
  auto r = entitlements_->Resolve(tenant_, clock_.Now());
  ASSERT_OK(r);
  EXPECT_EQ(r->plan->name, "free");
  EXPECT_EQ(r->subscription.plan, "free");
  ASSERT_OK(subs_->ChangePlan(tenant_, "pro", clock_.Now(), "operator:1"));
  r = entitlements_->Resolve(tenant_, clock_.Now());
  ASSERT_OK(r);
  EXPECT_EQ(r->plan->name, "pro");
  EXPECT_EQ(entitlements_->Resolve(TenantId(), clock_.Now()).error().code(),
            StatusCode::kInvalidArgument);
}

TEST_P(EntitlementsTest, RunGatesThenRateLimitsThenChargesOnlyWork) {
  int work_runs = 0;
  auto work = [&](MeteredCall& call) -> Result<json> {
    ++work_runs;
    return json{{"plan", call.plan().name}, {"not_after", call.NotAfter()}};
  };
  MeteredCalls::Spec spec{.endpoint = "test.call"};

  // A gate refuses before anything else: no work, nothing charged, no rate token used.
  MeteredCalls::Spec gated = spec;
  gated.features = {kFeatConfidence};
  auto refused = flow_->Run(Who(), clock_.Now(), gated, work);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), StatusCode::kPermissionDenied);
  MeteredCalls::Spec tf = spec;
  tf.timeframe = market::Timeframe::kM15;
  EXPECT_EQ(flow_->Run(Who(), clock_.Now(), tf, work).error().field(), "timeframe");
  EXPECT_EQ(work_runs, 0);

  // Free: a burst of 5, then 429 until a token comes back (1 per second).
  for (int i = 0; i < 5; ++i) {
    auto ok = flow_->Run(Who(), clock_.Now(), spec, work);
    ASSERT_OK(ok);
    json body = json::parse(*ok);
    EXPECT_EQ(body["plan"], "free");
    EXPECT_EQ(body["not_after"], clock_.Now() - 3600 * kNanosPerSecond) << "the plan's data delay";
    EXPECT_EQ(body["cost_credits"], 1);
    EXPECT_EQ(body["remaining_quota"], 100 - (i + 1));
  }
  auto limited = flow_->Run(Who(), clock_.Now(), spec, work);
  ASSERT_FALSE(limited.ok());
  EXPECT_EQ(limited.error().code(), StatusCode::kRateLimited);
  EXPECT_EQ(work_runs, 5);
  EXPECT_EQ(LedgerRows(), 5);

  // Failed work drops the reservation: not charged.
  clock_.Advance(10 * kNanosPerSecond);
  auto failed = flow_->Run(Who(), clock_.Now(), spec, [](MeteredCall&) -> Result<json> {
    return Status::NotFound("no bar yet", "symbol");
  });
  EXPECT_EQ(failed.error().code(), StatusCode::kNotFound);
  EXPECT_EQ(LedgerRows(), 5);

  // Idempotency: the same key and request replays the first body, charged once.
  MeteredCalls::Spec keyed = spec;
  keyed.idempotency_key = "order-1";
  keyed.request_hash = "h1";
  auto first = flow_->Run(Who(), clock_.Now(), keyed, work);
  ASSERT_OK(first);
  clock_.Advance(2 * kNanosPerSecond);
  auto again = flow_->Run(Who(), clock_.Now(), keyed, work);
  ASSERT_OK(again);
  EXPECT_EQ(*again, *first);
  EXPECT_EQ(LedgerRows(), 6);

  // Quota: a plan without overage stops at its quota with 402, before the work.
  ASSERT_OK(plans_->Update("free", {{"monthly_quota", 6}}, "op"));
  clock_.Advance(10 * kNanosPerSecond);  // a rate token back
  const int runs_before = work_runs;
  auto over = flow_->Run(Who(), clock_.Now(), spec, work);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code(), StatusCode::kQuotaExceeded);
  EXPECT_EQ(work_runs, runs_before);
  EXPECT_EQ(LedgerRows(), 6);
}

TEST_P(EntitlementsTest, WithoutALimiterNothingIsRateLimited) {
  MeteredCalls unlimited(*entitlements_, *meter_, nullptr);
  auto call = unlimited.Begin(Who(), clock_.Now());
  ASSERT_OK(call);
  auto rate = call->CheckRate();
  ASSERT_OK(rate);
  EXPECT_FALSE(rate->has_value());
  EXPECT_EQ(Who().RateKey(), "key:3");
  EXPECT_EQ((Caller{tenant_, UserId(7), std::nullopt}.RateKey()), "user:7");
}

TEST(EntitlementsRulesTest, ActiveBacktestsFollowTheQuota) {
  Plan pro;
  pro.monthly_quota = 2000;
  Plan enterprise;
  enterprise.monthly_quota = -1;  // unlimited
  EXPECT_EQ(Entitlements::ActiveBacktests(pro), 2);
  EXPECT_EQ(Entitlements::ActiveBacktests(enterprise), 8);
}

TEST(FeaturesTest, TheListIsTheOneSource) {
  ASSERT_FALSE(AllFeatures().empty());
  std::set<std::string_view> names;
  for (const FeatureInfo& f : AllFeatures()) {
    EXPECT_TRUE(names.insert(f.name).second) << "listed twice: " << f.name;
    EXPECT_FALSE(f.what.empty()) << f.name;
    EXPECT_TRUE(IsFeature(f.name));
  }
  EXPECT_TRUE(IsFeature(kFeatStream));
  EXPECT_TRUE(IsFeature(kFeatTelegram));
  EXPECT_FALSE(IsFeature("custom_models"));  // not built: no plan may sell it
  EXPECT_FALSE(IsFeature(""));
}

INSTANTIATE_TEST_SUITE_P(Backends, EntitlementsTest, SINYAL_DB_BACKENDS,
                         store::testing::BackendName);

}  // namespace
}  // namespace sinyal::billing
