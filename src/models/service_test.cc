// ModelService on SQLite and PostgreSQL with seeded synthetic bars in a BarStore: configuration
// validated against plan bounds (errors name the field), training through the job queue and
// worker into the DB registry with its report, too little data / unknown symbol change nothing,
// prediction of the latest bar, platform defaults.
#include "models/service.h"

#include <nlohmann/json.hpp>

#include "market/bar.h"
#include "market/edge_parse.h"
#include "models/testing/synthetic.h"
#include "store/bar_store.h"
#include "store/soci.h"
#include "store/testing/test_db.h"

namespace sinyal::models {
namespace {

using nlohmann::json;

using ::sinyal::store::testing::CreateTenant;

std::vector<market::Bar> Bars(size_t n, uint64_t seed) {
  return testing::SyntheticMarketBars(n, seed);
}

// The bounds of billing's seeded "free" and "pro" plans (migration 20), as app/ passes them.
OwnerBounds FreeBounds() {
  PlanBounds b;
  b.max_symbols = 3;
  b.allowed_timeframes = {"H1", "H4", "D1"};
  b.max_horizon = 24;
  b.max_members = 4;
  b.max_trees = 200;
  b.max_depth = 6;
  b.max_leaves = 31;
  b.min_eta = 0.01;
  b.max_eta = 0.3;
  b.min_sample = 0.3;
  b.max_lambda = 100;
  b.max_dead_band = 0.005;
  return {"free", b};
}
OwnerBounds ProBounds() {
  PlanBounds b;
  b.max_symbols = 20;
  b.allowed_timeframes = {"M5", "M15", "M30", "H1", "H4", "D1"};
  b.max_members = 6;
  b.max_trees = 500;
  b.max_depth = 8;
  b.max_leaves = 63;
  b.min_eta = 0.005;
  b.max_eta = 0.5;
  b.min_sample = 0.2;
  return {"pro", b};
}

// Small, fast trees for tests.
const json kSmall = {{"trees", 15}, {"feature_set", "basic"}};

class ModelServiceTest : public store::testing::TwoTenantDbTest {
 protected:
  void SetUp() override {
    TwoTenantDbTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    bars_ = std::make_unique<store::BarStore>(db(), clock_);
    registry_ = std::make_unique<DbModelRegistry>(db(), clock_);
    jobs_ = std::make_unique<store::JobQueue>(db(), clock_);
    service_ = std::make_unique<ModelService>(
        db(), *bars_, nullptr, *registry_, jobs_.get(), clock_,
        ModelServiceOptions{
            .code_version = "test",
            .report_folds = 2,
            .nthread = 1,
            .bounds_of = [](TenantId) -> Result<OwnerBounds> { return FreeBounds(); }});
  }
  void Import(const store::SeriesOwner& owner, const std::string& symbol, size_t n) {
    auto bars = Bars(n, 42);
    ASSERT_OK(bars_->Import(owner, {symbol, market::Timeframe::kH1}, bars, {}));
  }
  ManualClock clock_{1'700'000'000LL * kNanosPerSecond};
  std::unique_ptr<store::BarStore> bars_;
  std::unique_ptr<DbModelRegistry> registry_;
  std::unique_ptr<store::JobQueue> jobs_;
  std::unique_ptr<ModelService> service_;
};

TEST_P(ModelServiceTest, ConfigDefaultsPutAndBoundsNameTheField) {
  auto def = service_->GetConfig(a_, market::ParseSeriesKey("eurusd", "1h").value());
  ASSERT_OK(def);
  EXPECT_FALSE(def->stored);
  EXPECT_EQ(def->series.symbol, "EURUSD");
  EXPECT_EQ(def->series.timeframe, market::Timeframe::kH1);
  EXPECT_EQ(def->ToJson()["timeframe"], "H1");
  EXPECT_EQ(def->plan, "free");
  EXPECT_EQ(def->ToJson()["config"]["dead_band"], "auto");
  EXPECT_EQ(def->ToJson()["config"]["feature_set"], "core-v1");

  auto put = service_->PutConfig(a_, {"EURUSD", market::Timeframe::kH1},
                                 {{"horizon", 4}, {"trees", 50}, {"dead_band", 0.0002}});
  ASSERT_OK(put);
  EXPECT_TRUE(put->stored);
  auto got = service_->GetConfig(a_, {"EURUSD", market::Timeframe::kH1});
  ASSERT_OK(got);
  EXPECT_EQ(got->config.horizon, 4);
  EXPECT_EQ(got->config.members[3].trees, 50);
  EXPECT_DOUBLE_EQ(got->config.dead_band, 0.0002);
  // Another tenant sees only the defaults.
  EXPECT_FALSE(service_->GetConfig(b_, {"EURUSD", market::Timeframe::kH1})->stored);

  auto field = [&](const json& j, market::Timeframe tf = market::Timeframe::kH1) {
    auto r = service_->PutConfig(a_, {"EURUSD", tf}, j);
    return r.ok() ? std::string("ok") : r.error().field();
  };
  EXPECT_EQ(field({{"trees", 5000}}), "trees");  // free plan: <= 200
  EXPECT_EQ(
      field({{"members",
              json::array({{{"max_depth", 9}}, json::object(), json::object(), json::object()})}}),
      "members[0].max_depth");
  EXPECT_EQ(field({{"members", json::array({json::object()})}}), "members");  // free: 4 members
  EXPECT_EQ(field({{"horizon", 30}}), "horizon");
  EXPECT_EQ(field({{"horizon", "4"}}), "horizon");
  EXPECT_EQ(field({{"eta", 0.9}}), "eta");
  EXPECT_EQ(field({{"colour", "red"}}), "colour");
  EXPECT_EQ(field({{"members", json::array({{{"depth", 3}}})}}), "members[0].depth");
  EXPECT_EQ(field({{"neutral", "maybe"}}), "neutral");
  EXPECT_EQ(field(json::object(), market::Timeframe::kM5), "timeframe");  // free: H1, H4, D1
  // An unknown timeframe never reaches the service: the edge's parse names it.
  EXPECT_EQ(market::ParseSeriesKey("EURUSD", "H2").error().field(), "timeframe");
  // The stored configuration is unchanged by the rejected updates.
  EXPECT_EQ(service_->GetConfig(a_, {"EURUSD", market::Timeframe::kH1})->config.members[0].trees,
            50);
  // The free plan allows 3 configured symbols.
  ASSERT_OK(service_->PutConfig(a_, {"GBPUSD", market::Timeframe::kH1}, json::object()));
  ASSERT_OK(service_->PutConfig(a_, {"USDJPY", market::Timeframe::kH1}, json::object()));
  auto fourth = service_->PutConfig(a_, {"AUDUSD", market::Timeframe::kH1}, json::object());
  ASSERT_FALSE(fourth.ok());
  EXPECT_EQ(fourth.error().field(), "symbol");
  // A richer plan has wider bounds.
  ModelService pro(db(), *bars_, nullptr, *registry_, jobs_.get(), clock_,
                   {.bounds_of = [](TenantId) -> Result<OwnerBounds> { return ProBounds(); }});
  ASSERT_OK(pro.PutConfig(a_, {"EURUSD", market::Timeframe::kM5}, {{"trees", 400}}));
}

TEST_P(ModelServiceTest, TrainJobRegistersWithReportAndActivates) {
  Import(store::SeriesOwner::Platform(), "SYNUSD", 6000);
  TrainRequest req{.series = {"SYNUSD", market::Timeframe::kH1},
                   .overrides = kSmall,
                   .activate = true,
                   .actor = "user:1"};
  auto id = service_->EnqueueTraining(a_, req);
  ASSERT_OK(id);
  // The same training can't be queued twice.
  EXPECT_EQ(service_->EnqueueTraining(a_, req).error().code(), StatusCode::kConflict);
  store::JobWorker worker(*jobs_, {.worker_id = "t"});
  worker.Register(kTrainJobKind, [&](const store::Job& j, const store::JobWorker::ProgressFn& p) {
    return service_->RunTrainJob(j, p);
  });
  auto ran = worker.RunOnce();
  ASSERT_OK(ran);
  ASSERT_TRUE(*ran);
  auto job = jobs_->Get(a_, *id);
  ASSERT_OK(job);
  ASSERT_EQ(job->status, store::JobStatus::kSucceeded) << job->error;
  json result = json::parse(job->result);
  EXPECT_EQ(result["model"]["version"], 1);
  EXPECT_EQ(result["activated"], true);
  EXPECT_EQ(result["model"]["owner"], "tenant");
  EXPECT_EQ(*registry_->ActiveVersion(a_, {"SYNUSD", market::Timeframe::kH1}, 1), 1);
  auto rec = registry_->GetRecord(a_, {"SYNUSD", market::Timeframe::kH1}, 1);
  ASSERT_OK(rec);
  EXPECT_EQ(rec->schema.feature_set, "basic");
  EXPECT_EQ(rec->code_version, "test");
  EXPECT_EQ(rec->params["members"][0]["trees"], 15);
  const json& wf = rec->metrics["walk_forward"];
  EXPECT_EQ(wf["folds"], 2);
  EXPECT_GT(wf["n"].get<int>(), 1000);
  EXPECT_GT(wf["accuracy"].get<double>(), 0.5);  // the synthetic series mean-reverts (phi -0.3)
  // The version carries its walk-forward skill over the base rate (skill.h), shown here.
  const json& skill = rec->metrics["skill"];
  EXPECT_EQ(skill["horizon"], 1);
  EXPECT_TRUE(skill["shown"].get<bool>()) << skill.dump();
  EXPECT_GT(skill["log_loss"]["gain"]["ci95"][0].get<double>(), 0);
  EXPECT_LT(skill["log_loss"]["model"].get<double>(), skill["log_loss"]["base_rate"].get<double>());
  EXPECT_TRUE(wf.contains("served"));
  auto report = registry_->GetReport(a_, {"SYNUSD", market::Timeframe::kH1}, 1);
  ASSERT_OK(report);
  EXPECT_NE(report->reliability_svg.find("<svg"), std::string::npos);
  EXPECT_NE(report->markdown.find("report/reliability.svg"), std::string::npos);
  EXPECT_EQ(json::parse(report->json)["symbol"], "SYNUSD");
  auto audit = registry_->Audit(a_, {"SYNUSD", market::Timeframe::kH1});
  ASSERT_OK(audit);
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ((*audit)[0].actor, "user:1");

  // The latest bar through the active model.
  auto pred = service_->PredictLatest(a_, {"SYNUSD", market::Timeframe::kH1}, 3);
  ASSERT_OK(pred);
  EXPECT_FALSE(pred->from_platform);
  EXPECT_EQ(pred->record.version, 1);
  EXPECT_GE(pred->prediction.confidence, 0.5f);
  EXPECT_LE(pred->prediction.confidence, 1.0f);
  EXPECT_EQ(pred->top.size(), 3u);
  // Tenant B has no model (and no platform default exists).
  EXPECT_EQ(service_->PredictLatest(b_, {"SYNUSD", market::Timeframe::kH1}).error().code(),
            StatusCode::kNotFound);
}

TEST_P(ModelServiceTest, BadTrainingRequestsChangeNothing) {
  Import(store::SeriesOwner::Platform(), "SYNUSD", 6000);
  Import(store::SeriesOwner::Platform(), "TINYUSD", 600);
  // Unknown symbol: 404 naming the symbol.
  auto unknown = service_->EnqueueTraining(a_, {.series = {"NOPE", market::Timeframe::kH1}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code(), StatusCode::kNotFound);
  EXPECT_EQ(unknown.error().field(), "symbol");
  // Too little data, at enqueue time and in the training itself.
  auto tiny = service_->EnqueueTraining(
      a_, {.series = {"TINYUSD", market::Timeframe::kH1}, .overrides = kSmall});
  ASSERT_FALSE(tiny.ok());
  EXPECT_EQ(tiny.error().field(), "symbol");
  EXPECT_NE(tiny.error().message().find("too little data"), std::string::npos);
  auto direct = service_->Train(
      a_, {.series = {"TINYUSD", market::Timeframe::kH1}, .overrides = kSmall, .activate = true});
  ASSERT_FALSE(direct.ok());
  EXPECT_NE(direct.error().message().find("too little data"), std::string::npos);
  // Out-of-bounds hyperparameters, bad types, unknown fields.
  auto trees = service_->EnqueueTraining(
      a_, {.series = {"SYNUSD", market::Timeframe::kH1}, .overrides = {{"trees", 100000}}});
  EXPECT_EQ(trees.error().field(), "trees");
  auto depth = service_->EnqueueTraining(
      a_,
      {.series = {"SYNUSD", market::Timeframe::kH1},
       .overrides = {
           {"members",
            json::array({json::object(), {{"max_depth", 99}}, json::object(), json::object()})}}});
  EXPECT_EQ(depth.error().field(), "members[1].max_depth");
  auto bad_symbol = service_->EnqueueTraining(a_, {.series = {"EUR/USD", market::Timeframe::kH1}});
  EXPECT_EQ(bad_symbol.error().field(), "symbol");
  EXPECT_TRUE(registry_->List(a_, {"TINYUSD", market::Timeframe::kH1})->empty());
  EXPECT_TRUE(registry_->List(a_, {"SYNUSD", market::Timeframe::kH1})->empty());

  // A failed training leaves the active model alone.
  auto first = service_->Train(
      a_, {.series = {"SYNUSD", market::Timeframe::kH1}, .overrides = kSmall, .activate = true});
  ASSERT_OK(first);
  auto failed = service_->Train(a_, {.series = {"SYNUSD", market::Timeframe::kH1},
                                     .overrides = {{"feature_set", "nope"}},
                                     .activate = true});
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().field(), "feature_set");
  EXPECT_EQ(*registry_->ActiveVersion(a_, {"SYNUSD", market::Timeframe::kH1}, 1), 1);
  EXPECT_EQ(registry_->List(a_, {"SYNUSD", market::Timeframe::kH1})->size(), 1u);
}

TEST_P(ModelServiceTest, PlatformDefaultsServeTenantsWithoutTheirOwnModel) {
  Import(store::SeriesOwner::Platform(), "SYNUSD", 6000);
  Import(store::SeriesOwner::Platform(), "TINYUSD", 600);
  auto series = service_->PlatformSeries(3000);
  ASSERT_OK(series);
  ASSERT_EQ(series->size(), 1u);
  EXPECT_EQ((*series)[0], (market::SeriesKey{"SYNUSD", market::Timeframe::kH1}));
  auto s = service_->Train(kPlatformTenant, {.series = {"SYNUSD", market::Timeframe::kH1},
                                             .overrides = kSmall,
                                             .activate = true,
                                             .actor = "cli"});
  ASSERT_OK(s);
  EXPECT_EQ(s->record.tenant, kPlatformTenant);
  auto pred = service_->PredictLatest(b_, {"SYNUSD", market::Timeframe::kH1});
  ASSERT_OK(pred);
  EXPECT_TRUE(pred->from_platform);
  // Tenants never list or activate platform versions as their own.
  EXPECT_TRUE(registry_->List(b_, {"SYNUSD", market::Timeframe::kH1})->empty());
  EXPECT_EQ(registry_->Activate(b_, {"SYNUSD", market::Timeframe::kH1}, 1).code(),
            StatusCode::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Backends, ModelServiceTest, SINYAL_DB_BACKENDS,
                         store::testing::BackendName);

}  // namespace
}  // namespace sinyal::models
