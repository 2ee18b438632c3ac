// Backtest signals from the live signal path, walk-forward: the training schedule, no signal
// before the first model, the look-ahead detector on the real model path (a decision made at bar
// t is the same when every later bar is removed), the same signal as the live path's SignalAt for
// the same model and bars, and field-named configuration errors.
#include "backtest/walk_forward_signals.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "backtest/backtest.h"
#include "core/time.h"
#include "models/db_registry.h"
#include "signals/series_window.h"
#include "store/bar_store.h"
#include "store/job_queue.h"
#include "store/testing/test_db.h"

namespace sinyal::backtest {
namespace {

using nlohmann::json;
using store::testing::DbTest;

constexpr UnixNanos kT0 = 1'600'000'000LL * kNanosPerSecond / kNanosPerHour * kNanosPerHour;

// A random walk with a little momentum (so a model has something to find) and a spread column.
std::vector<market::Bar> Walk(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> step(0, 0.0012);
  double p = 1.1, last = 0;
  std::vector<market::Bar> bars;
  for (int i = 0; i < n; ++i) {
    const double r = 0.15 * last + step(rng);
    last = r;
    const double o = std::round(p * 1e5) / 1e5, c = std::round(o * std::exp(r) * 1e5) / 1e5;
    const double hi = std::max(o, c) + 0.0002 + std::abs(step(rng)) * 0.3;
    const double lo = std::min(o, c) - 0.0002 - std::abs(step(rng)) * 0.3;
    bars.push_back(*market::Bar::Create(kT0 + i * kNanosPerHour, o, std::round(hi * 1e5) / 1e5,
                                        std::round(lo * 1e5) / 1e5, c, 100, 8));
    p = c;
  }
  return bars;
}

class WalkForwardSignalsTest : public DbTest {
 protected:
  void SetUp() override {
    DbTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    bars_ = std::make_unique<store::BarStore>(db(), clock_);
    registry_ = std::make_unique<models::DbModelRegistry>(db(), clock_);
    jobs_ = std::make_unique<store::JobQueue>(db(), clock_);
    models::ModelServiceOptions mo;
    mo.nthread = 1;
    models_ = std::make_unique<models::ModelService>(db(), *bars_, nullptr, *registry_, jobs_.get(),
                                                     clock_, mo);
    factory_ = std::make_unique<WalkForwardSignalFactory>(*models_, clock_);
    SeriesInput s;
    s.symbol = "EURUSD";
    s.digits = 5;
    s.bars = Walk(2600, 7);
    series_.push_back(std::move(s));
  }

  StrategyConfig Config(const std::string& model = "") {
    auto c = ParseStrategy(R"({"symbols": ["EURUSD"], "signal": {"threshold": 0.5},
        "sizing": {"mode": "fixed", "lots": 0.1}, "costs": {"spread_points": 10},
        "model": {"min_train_bars": 1500, "retrain_every_bars": 400,
                  "config": {"trees": 8}})" +
                           model + "}");
    EXPECT_OK(c);
    return *c;
  }

  // The strategy's decisions over the first `n` bars (a fresh source that has only those bars).
  Result<std::vector<Decision>> Decisions(const StrategyConfig& c, size_t n,
                                          json* describe = nullptr) {
    std::vector<SeriesInput> cut = series_;
    cut[0].bars.erase(cut[0].bars.begin() + static_cast<ptrdiff_t>(std::min(n, cut[0].bars.size())),
                      cut[0].bars.end());
    SINYAL_ASSIGN_OR_RETURN(auto source, factory_->Create(models::kPlatformTenant, c, cut, {}));
    std::vector<Decision> decisions;
    SINYAL_RETURN_IF_ERROR(RunStrategy(c, cut, *source, {}, {}, &decisions).status());
    if (describe) *describe = source->Describe();
    return decisions;
  }

  ManualClock clock_{kT0};
  std::unique_ptr<store::BarStore> bars_;
  std::unique_ptr<models::DbModelRegistry> registry_;
  std::unique_ptr<store::JobQueue> jobs_;
  std::unique_ptr<models::ModelService> models_;
  std::unique_ptr<WalkForwardSignalFactory> factory_;
  std::vector<SeriesInput> series_;
};

TEST_P(WalkForwardSignalsTest, TrainsOnScheduleAndSignalsOnlyAfterTheFirstModel) {
  const StrategyConfig c = Config();
  json describe;
  auto d = Decisions(c, series_[0].bars.size(), &describe);
  ASSERT_OK(d);
  ASSERT_EQ(d->size(), 2600u);
  // Trained when 1,500, 1,900 and 2,300 bars had been seen: three models.
  const json& sym = describe["symbols"]["EURUSD"];
  EXPECT_EQ(describe["kind"], "walk_forward");
  ASSERT_EQ(sym["trainings"], 3) << describe.dump();
  EXPECT_EQ(sym["retrains"][0]["bars"], 1500);
  EXPECT_EQ(sym["retrains"][2]["bars"], 2300);
  // The first model's newest labelled row is at most bar 1498 (its label is bar 1499's close, the
  // bar just closed; a row inside the dead band is dropped): its training range ends there.
  auto data_to = ParseIso8601(sym["retrains"][0]["data_to"].get<std::string>());
  ASSERT_OK(data_to);
  EXPECT_LE(*data_to, series_[0].bars[1498].time());
  EXPECT_GE(*data_to, series_[0].bars[1480].time());
  size_t with_signal = 0;
  for (size_t i = 0; i < d->size(); ++i) {
    if (i < 1499) {
      EXPECT_FALSE((*d)[i].signal.has_value()) << i;
    } else if ((*d)[i].signal) {
      ++with_signal;
      const BarSignal& s = *(*d)[i].signal;
      EXPECT_GE(s.confidence, 0.5);
      EXPECT_NEAR(s.confidence, std::max(s.p_up, 1 - s.p_up), 1e-9);
      EXPECT_EQ(s.model_version.rfind("backtest/EURUSD/H1/w", 0), 0u) << s.model_version;
    }
  }
  EXPECT_GT(with_signal, 1000u);
}

// The detector of engine.h on the real model path: decisions made at or before each cutoff are
// identical when every later bar is removed (training, calibration and features included).
TEST_P(WalkForwardSignalsTest, NoLookAheadThroughTrainingAndFeatures) {
  const StrategyConfig c = Config();
  const auto& bars = series_[0].bars;
  const UnixNanos h = kNanosPerHour;
  std::vector<UnixNanos> cutoffs = {bars[1700].time() + h, bars[2350].time() + h};
  Status s = CheckNoLookahead(
      [&](UnixNanos to) -> Result<std::vector<Decision>> {
        size_t n = bars.size();
        if (to != 0) {
          n = 0;
          while (n < bars.size() && bars[n].time() + h <= to) ++n;
        }
        return Decisions(c, n);
      },
      cutoffs);
  EXPECT_OK(s);
}

// Two runs over the same bars make the same signals (ids are deterministic, training is seeded):
// what a paper account replaying these bars with these models would see.
TEST_P(WalkForwardSignalsTest, DeterministicAcrossRuns) {
  const StrategyConfig c = Config();
  auto a = Decisions(c, 1800);
  auto b = Decisions(c, 1800);
  ASSERT_OK(a);
  ASSERT_OK(b);
  ASSERT_EQ(a->size(), b->size());
  ASSERT_TRUE(a->back().signal.has_value());
  for (size_t i = 0; i < a->size(); ++i) {
    ASSERT_EQ((*a)[i].signal.has_value(), (*b)[i].signal.has_value()) << i;
    if (!(*a)[i].signal) continue;
    EXPECT_EQ((*a)[i].signal->id, (*b)[i].signal->id) << i;
    EXPECT_EQ((*a)[i].signal->p_up, (*b)[i].signal->p_up) << i;
    EXPECT_EQ((*a)[i].action, (*b)[i].action) << i;
  }
}

TEST_P(WalkForwardSignalsTest, ConfigurationErrorsNameTheField) {
  auto check = [&](const json& model, const std::string& field) {
    json j = Config().ToJson();
    j["model"] = model;
    auto c = StrategyFromJson(j);
    ASSERT_OK(c);
    Status s = factory_->Validate(models::kPlatformTenant, *c);
    EXPECT_FALSE(s.ok()) << model.dump();
    EXPECT_EQ(s.field(), field) << s.ToString();
  };
  check({{"config", {{"trees", 100000}}}}, "model.config.trees");
  check({{"config", {{"horizon", 4}}}}, "model.config.horizon");
  check({{"config", {{"neutral", "third_class"}}}}, "model.config.neutral");
  check({{"config", {{"feature_set", "no-such-set"}}}}, "model.config.feature_set");
  check({{"config", {{"colour", 1}}}}, "model.config.colour");
  EXPECT_OK(factory_->Validate(models::kPlatformTenant, Config()));
}

INSTANTIATE_TEST_SUITE_P(Backends, WalkForwardSignalsTest, SINYAL_DB_BACKENDS,
                         store::testing::BackendName);

}  // namespace
}  // namespace sinyal::backtest
