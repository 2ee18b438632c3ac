#include "signals/signal.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/testing/test_util.h"
#include "models/testing/synthetic.h"
#include "signals/drift.h"
#include "signals/signal_log.h"

namespace sinyal::signals {
namespace {

// One small trained ensemble shared by the tests in this file (trains in well under a second).
struct Fixture {
  models::testing::SmallModel m = models::testing::TrainSmallModel(21, 3000);
  SignalModel model;
  Fixture() {
    std::vector<ConformalRow> cal;
    for (size_t i = 0; i < 300; ++i) {
      cal.push_back({0, 1e-3, 1e-3 * std::sin(static_cast<double>(i)), static_cast<int>(i % 3)});
    }
    model.ensemble = &m.ensemble.value();
    model.conformal = ConformalIntervals::Fit(cal).value();
    model.move_ratio = 0.8;
    model.model_version = "t1/SYN/H1/v1";
    model.symbol = "SYN";
    model.timeframe = "H1";
  }
};
Fixture& F() {
  static Fixture* f = new Fixture();
  return *f;
}

RegimeState ReadyRegime() {
  RegimeState r;
  r.time = 1;
  r.ready = true;
  r.trend = TrendState::kUp;
  r.vol = VolState::kHigh;
  r.adx = 30;
  r.slope = 0.1;
  r.rv = 1e-3;
  r.rv_percentile = 0.9;
  return r;
}

SignalInput Input(size_t row) {
  const auto& ds = F().m.ds;
  SignalInput in;
  in.bar_time = ds.rows[row].ts;
  in.reference_price = 1.1;
  in.features = std::span<const float>(ds.Row(row), ds.num_features());
  in.regime = ReadyRegime();
  in.cross_asset = {true, 0.0002, -0.001, -0.7, -3.5, false};
  return in;
}

TEST(SignalTest, AVersionWithoutShownSkillAbstainsAtTheBaseRate) {
  ASSERT_OK(F().m.ensemble);
  ManualClock clock(1'700'000'000LL * kNanosPerSecond);
  SignalGenerator gen(clock);
  SignalModel model = F().model;
  model.skill_shown = false;
  model.no_skill_reason =
      "walk-forward log-loss gain over the base rate -0.0001 [-0.0009, +0.0007] nats";
  SignalRequest req;
  req.top_drivers = 0;
  auto s = gen.Generate(model, req, Input(F().m.test[10]));
  ASSERT_OK(s);
  const auto& f = s->fields();
  EXPECT_EQ(f.direction, Direction::kNeutral);
  EXPECT_TRUE(f.abstained);
  EXPECT_FALSE(f.skill_shown);
  EXPECT_NEAR(f.p_up, F().m.ensemble->calibrator().base_rate(), 1e-6);
  EXPECT_EQ(f.abstain_reason.rfind("no skill: walk-forward", 0), 0u) << f.abstain_reason;
  // The same model with skill makes a call on the same row at threshold 0.5.
  auto with = gen.Generate(F().model, req, Input(F().m.test[10]));
  ASSERT_OK(with);
  EXPECT_NE(with->direction(), Direction::kNeutral);
  // The rule behind WithThreshold: no threshold turns a no-skill signal into a call.
  SignalFields g = f;
  DecideDirection(g, 0.5, 1.0);
  EXPECT_EQ(g.direction, Direction::kNeutral);
  EXPECT_EQ(g.abstain_reason, f.abstain_reason);
}

TEST(SignalTest, CombinesEveryPartDeterministically) {
  ASSERT_OK(F().m.ensemble);
  ManualClock clock(1'700'000'000LL * kNanosPerSecond);
  SignalGenerator gen(clock);
  SignalRequest req;
  req.top_drivers = 3;
  const size_t row = F().m.test[10];
  auto s = gen.Generate(F().model, req, Input(row));
  ASSERT_OK(s);
  const auto& f = s->fields();
  const auto pred = F().m.ensemble->Predict(F().m.ds.Row(row));
  EXPECT_FLOAT_EQ(f.p_up, pred.proba[models::kUp]);
  EXPECT_DOUBLE_EQ(f.confidence, std::max(f.p_up, 1 - f.p_up));
  EXPECT_FLOAT_EQ(f.uncertainty, pred.uncertainty);
  EXPECT_EQ(f.direction, f.p_up > 0.5 ? Direction::kBullish : Direction::kBearish);
  EXPECT_EQ(f.issued_at, clock.Now());
  EXPECT_EQ(f.regime_name, "up/high_vol");
  EXPECT_EQ(f.regime_code, 5);
  EXPECT_TRUE(f.cross_asset.correlation_break);  // |z| 3.5 > 3
  // Expected move and intervals: point = (2p-1) * 0.8 * rv, intervals nested around it.
  EXPECT_NEAR(f.expected_abs_move, 0.8e-3, 1e-12);
  EXPECT_NEAR(f.expected_return, (2 * f.p_up - 1) * 0.8e-3, 1e-12);
  auto i80 = s->Interval(0.8), i95 = s->Interval(0.95);
  ASSERT_TRUE(i80 && i95);
  EXPECT_LT(i95->lo, i80->lo);
  EXPECT_LT(i80->lo, f.expected_return);
  EXPECT_GT(i80->hi, f.expected_return);
  EXPECT_GT(i95->hi, i80->hi);
  // Drivers: top 3 by |contribution|, named from the schema.
  ASSERT_EQ(f.drivers.size(), 3u);
  EXPECT_GE(std::fabs(f.drivers[0].contribution), std::fabs(f.drivers[1].contribution));
  EXPECT_GE(std::fabs(f.drivers[1].contribution), std::fabs(f.drivers[2].contribution));
  const auto& names = F().m.ds.feature_names;
  EXPECT_NE(std::find(names.begin(), names.end(), f.drivers[0].feature), names.end());
  // Same inputs -> same signal (id and JSON), whoever runs it.
  auto again = gen.Generate(F().model, req, Input(row));
  EXPECT_EQ(again->ToJson(), s->ToJson());
  EXPECT_EQ(again->id().size(), 16u);
  auto j = s->ToJson();
  EXPECT_EQ(j["prediction"], DirectionName(f.direction));
  EXPECT_EQ(j["drivers"].size(), 3u);
  EXPECT_EQ(j["intervals"].size(), 2u);
}

TEST(SignalTest, AbstainsBelowThresholdOrAboveUncertainty) {
  ManualClock clock(1);
  SignalGenerator gen(clock);
  SignalRequest req;
  req.top_drivers = 0;
  req.confidence_threshold = 0.99;
  auto s = gen.Generate(F().model, req, Input(F().m.test[3]));
  ASSERT_OK(s);
  EXPECT_EQ(s->direction(), Direction::kNeutral);
  EXPECT_TRUE(s->fields().abstained);
  EXPECT_NE(s->fields().abstain_reason.find("< threshold 0.990"), std::string::npos);
  EXPECT_TRUE(s->fields().drivers.empty());
  req.confidence_threshold = 0.5;
  req.max_uncertainty = 1e-9;
  auto u = gen.Generate(F().model, req, Input(F().m.test[3]));
  EXPECT_EQ(u->direction(), Direction::kNeutral);
  EXPECT_NE(u->fields().abstain_reason.find("uncertainty"), std::string::npos);
}

TEST(SignalTest, BadInputNamesTheField) {
  ManualClock clock(1);
  SignalGenerator gen(clock);
  SignalRequest req;
  auto in = Input(F().m.test[0]);
  std::vector<float> x(in.features.begin(), in.features.end());
  x[2] = std::nanf("");
  in.features = x;
  auto nan = gen.Generate(F().model, req, in);
  ASSERT_FALSE(nan.ok());
  EXPECT_EQ(nan.error().field(), "features." + F().m.ds.feature_names[2]);
  in.features = std::span<const float>(x.data(), 3);
  EXPECT_EQ(gen.Generate(F().model, req, in).status().field(), "features");
  in = Input(F().m.test[0]);
  in.regime.ready = false;
  EXPECT_EQ(gen.Generate(F().model, req, in).status().field(), "regime");
  in = Input(F().m.test[0]);
  in.reference_price = std::nan("");
  EXPECT_EQ(gen.Generate(F().model, req, in).status().field(), "reference_price");
  req.confidence_threshold = 0.3;
  EXPECT_EQ(gen.Generate(F().model, req, Input(1)).status().field(), "confidence_threshold");
  SignalModel none;
  EXPECT_EQ(gen.Generate(none, SignalRequest{}, Input(1)).status().field(), "model.ensemble");
}

std::vector<market::Bar> Later(UnixNanos t0, const std::vector<double>& closes) {
  std::vector<market::Bar> v;
  for (size_t i = 0; i < closes.size(); ++i) {
    v.push_back(market::Bar::Create(t0 + static_cast<int64_t>(i + 1) * kNanosPerHour, closes[i],
                                    closes[i], closes[i], closes[i])
                    .value());
  }
  return v;
}

TEST(SignalTest, ResolutionAndLog) {
  ManualClock clock(5);
  SignalGenerator gen(clock);
  SignalRequest req;
  req.top_drivers = 0;
  InMemorySignalLog log;
  const TenantId t1{1}, t2{2};
  std::vector<Signal> issued;
  for (size_t k = 0; k < 4; ++k) {
    auto s = gen.Generate(F().model, req, Input(F().m.test[k]));
    ASSERT_OK(s);
    ASSERT_OK(log.Append(t1, *s));
    issued.push_back(*s);
  }
  EXPECT_EQ(log.Append(t1, issued[0]).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(log.Get(t2, issued[0].id()).status().code(),
            StatusCode::kNotFound);  // tenant isolation

  const auto& s0 = issued[0];
  const double up_close = 1.1 * std::exp(0.0005);
  auto r = ResolveSignal(s0, Later(s0.bar_time(), {1.0, up_close}));
  ASSERT_OK(r);
  EXPECT_NEAR(r->realized_return, std::log(1.0 / 1.1), 1e-12);  // horizon 1: the first bar
  EXPECT_FALSE(r->up);
  ASSERT_TRUE(r->hit.has_value());
  EXPECT_EQ(*r->hit, s0.direction() == Direction::kBearish);
  EXPECT_NEAR(r->brier, s0.p_up() * s0.p_up(), 1e-12);
  ASSERT_EQ(r->covered.size(), 2u);
  EXPECT_FALSE(r->covered[1].second);  // -9% is far outside a 95% interval of ~0.3%
  EXPECT_EQ(ResolveSignal(s0, {}).status().code(), StatusCode::kFailedPrecondition);
  auto bad = Later(s0.bar_time() - 5 * kNanosPerHour, {1.1});
  EXPECT_EQ(ResolveSignal(s0, bad).status().field(), "later");

  // Resolve whatever the bars allow; the rest stays pending.
  std::vector<market::Bar> bars;
  for (size_t k = 0; k < 3; ++k) {
    bars.push_back(market::Bar::Create(issued[k].bar_time() + kNanosPerHour, 1.1 * std::exp(0.0005),
                                       1.2, 1.0, 1.1 * std::exp(0.0005))
                       .value());
  }
  std::sort(bars.begin(), bars.end(), [](auto& a, auto& b) { return a.time() < b.time(); });
  bars.erase(
      std::unique(bars.begin(), bars.end(), [](auto& a, auto& b) { return a.time() == b.time(); }),
      bars.end());
  auto done = ResolvePending(log, t1, {"SYN", market::Timeframe::kH1}, bars);
  ASSERT_OK(done);
  EXPECT_GE(*done, 1u);
  ASSERT_TRUE(log.Get(t1, issued[0].id())->resolution.has_value());  // its next bar is in `bars`
  EXPECT_EQ(log.Resolve(t1, issued[0].id(), *r).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(log.Resolve(t2, issued[0].id(), *r).code(), StatusCode::kNotFound);
  auto recent = log.RecentResolved(t1, {"SYN", market::Timeframe::kH1}, "", 10).value();
  ASSERT_FALSE(recent.empty());
  for (size_t i = 1; i < recent.size(); ++i)
    EXPECT_GE(recent[i - 1].signal.bar_time(), recent[i].signal.bar_time());
  auto perf = ComputeLivePerformance(recent);
  EXPECT_EQ(perf.n, recent.size());
  EXPECT_GT(perf.brier, 0);
  EXPECT_EQ(perf.coverage.size(), 2u);
}

}  // namespace
}  // namespace sinyal::signals
