#include "signals/regime.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>

#include "core/testing/test_util.h"

namespace sinyal::signals {
namespace {

// Hourly bars with log-drift `mu` and volatility `vol` per bar in phases.
struct Phase {
  int bars;
  double mu, vol;
};
std::vector<market::Bar> Path(const std::vector<Phase>& phases, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> n01(0, 1);
  std::vector<market::Bar> out;
  double p = 1.1;
  UnixNanos t = 1'600'000'000LL * kNanosPerSecond;
  for (const auto& ph : phases) {
    for (int i = 0; i < ph.bars; ++i) {
      const double c = p * std::exp(ph.mu + ph.vol * n01(rng));
      const double w = ph.vol * std::fabs(n01(rng)) * 0.5;
      out.push_back(
          market::Bar::Create(t, p, std::max(p, c) * (1 + w), std::min(p, c) * (1 - w), c, 100)
              .value());
      p = c;
      t += kNanosPerHour;
    }
  }
  return out;
}

TEST(RegimeTest, TwelveDistinctNamesAndCodes) {
  std::set<std::string> names;
  for (int c = 0; c < kNumRegimes; ++c) names.insert(RegimeName(c));
  EXPECT_EQ(names.size(), 12u);
  EXPECT_EQ(RegimeName(0), "range/low_vol");
  EXPECT_EQ(RegimeName(11), "transition/high_vol");
  EXPECT_EQ(RegimeName(-1), "not_ready");
}

TEST(RegimeTest, StreamingEqualsBatchAndUsesOnlyThePast) {
  auto bars =
      Path({{1500, 0, 0.001}, {600, 0.0008, 0.001}, {600, -0.0008, 0.003}, {800, 0, 0.0005}}, 3);
  auto batch = ClassifyRegimes(bars);
  ASSERT_OK(batch);
  auto rc = RegimeClassifier::Create();
  ASSERT_OK(rc);
  for (size_t i = 0; i < bars.size(); ++i) {
    ASSERT_OK(rc->Update(bars[i]));
    ASSERT_EQ(rc->Current(), (*batch)[i]) << "bar " << i;  // bit-identical
  }
  // No look-ahead: the states on a prefix equal the full run's states.
  auto prefix = ClassifyRegimes(std::span<const market::Bar>(bars.data(), 2000));
  ASSERT_OK(prefix);
  for (size_t i = 0; i < 2000; ++i) ASSERT_EQ((*prefix)[i], (*batch)[i]);
  // Reset gives the same sequence again.
  rc->Reset();
  for (size_t i = 0; i < 100; ++i) {
    ASSERT_OK(rc->Update(bars[i]));
    ASSERT_EQ(rc->Current(), (*batch)[i]);
  }
}

TEST(RegimeTest, PhasesAreRecognised) {
  // Calm random walk (warm-up), then a strong up-trend, a strong down-trend with high
  // volatility, then a very calm flat phase.
  auto bars =
      Path({{1500, 0, 0.001}, {400, 0.0006, 0.001}, {400, -0.0015, 0.003}, {600, 0, 0.0003}}, 5);
  auto st = ClassifyRegimes(bars).value();
  EXPECT_FALSE(st[100].ready);
  EXPECT_TRUE(st[1400].ready);
  auto share = [&](size_t from, size_t to, auto pred) {
    int k = 0;
    for (size_t i = from; i < to; ++i) k += pred(st[i]);
    return static_cast<double>(k) / static_cast<double>(to - from);
  };
  EXPECT_GT(share(1600, 1900, [](const RegimeState& s) { return s.trend == TrendState::kUp; }),
            0.6);
  EXPECT_GT(share(2000, 2300, [](const RegimeState& s) { return s.trend == TrendState::kDown; }),
            0.6);
  EXPECT_GT(share(2000, 2300, [](const RegimeState& s) { return s.vol == VolState::kHigh; }), 0.9);
  EXPECT_GT(share(2450, 2900, [](const RegimeState& s) { return s.vol == VolState::kLow; }), 0.9);
  // A driftless random walk still trends by chance, but far less often than a real trend.
  const double up_in_flat =
      share(2450, 2900, [](const RegimeState& s) { return s.trend == TrendState::kUp; });
  EXPECT_LT(up_in_flat, 0.3);
  EXPECT_GT(share(2450, 2900,
                  [](const RegimeState& s) {
                    return s.trend == TrendState::kRange || s.trend == TrendState::kTransition;
                  }),
            0.5);
  // Features encode the same state.
  std::vector<float> f(RegimeFeatureNames().size());
  RegimeFeatures(st[2100], f.data());
  EXPECT_EQ(static_cast<int>(f[0]), st[2100].Code());
  RegimeFeatures(st[10], f.data());
  EXPECT_TRUE(std::isnan(f[0]));
}

TEST(RegimeTest, RunStatsCountRunsAndTransitions) {
  std::vector<RegimeState> s(7);
  const int codes[] = {-1, 3, 3, 5, 5, 5, 3};
  for (int i = 0; i < 7; ++i) {
    s[i].ready = codes[i] >= 0;
    if (s[i].ready) {
      s[i].trend = static_cast<TrendState>(codes[i] / 3);
      s[i].vol = static_cast<VolState>(codes[i] % 3);
    }
  }
  auto r = ComputeRunStats(s);
  EXPECT_EQ(r.ready_bars, 6);
  EXPECT_EQ(r.bars[3], 3);
  EXPECT_EQ(r.runs[3], 2);
  EXPECT_DOUBLE_EQ(r.mean_duration[3], 1.5);
  EXPECT_DOUBLE_EQ(r.mean_duration[5], 3.0);
  EXPECT_EQ(r.transitions[3][5], 1);
  EXPECT_EQ(r.transitions[5][5], 2);
  EXPECT_DOUBLE_EQ(r.TransitionProbability(5, 3), 1.0 / 3);
  EXPECT_TRUE(std::isnan(r.TransitionProbability(0, 0)));
}

TEST(RegimeTest, BadConfigAndOutOfOrderBars) {
  RegimeConfig c;
  c.adx_period = 1;
  EXPECT_EQ(RegimeClassifier::Create(c).status().field(), "regime.adx_period");
  c = {};
  c.vol_min_history = 10;
  EXPECT_EQ(RegimeClassifier::Create(c).status().field(), "regime.vol_min_history");
  c = {};
  c.low_percentile = 0.8;
  EXPECT_EQ(Validate(c).field(), "regime.low_percentile");
  auto bars = Path({{10, 0, 0.001}}, 1);
  auto rc = RegimeClassifier::Create().value();
  ASSERT_OK(rc.Update(bars[5]));
  Status s = rc.Update(bars[4]);
  EXPECT_EQ(s.field(), "time");
  EXPECT_EQ(rc.Current().time, bars[5].time());  // unchanged
  std::vector<market::Bar> swapped = {bars[1], bars[0]};
  EXPECT_EQ(ClassifyRegimes(swapped).status().field(), "bars[1].time");
}

}  // namespace
}  // namespace sinyal::signals
