#include "features/feature_engine.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <thread>

#include "core/testing/test_util.h"

namespace sinyal::features {
namespace {

using market::Bar;
using market::SeriesKey;
using market::Timeframe;

std::vector<Bar> Walk(int n, uint64_t seed, double start = 1.1) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> step(0, 0.001);
  std::vector<Bar> bars;
  double c = start;
  for (int i = 0; i < n; ++i) {
    double o = c;
    c = std::max(0.01, c + step(rng));
    bars.push_back(*Bar::Create(i * kNanosPerHour, o, std::max(o, c) + 0.0004,
                                std::min(o, c) - 0.0003, c, 50 + (i * 37) % 200));
  }
  return bars;
}

bool SameVector(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) != std::isnan(b[i])) return false;
    if (!std::isnan(a[i]) && a[i] != b[i]) return false;
  }
  return true;
}

TEST(FeatureEngineTest, TenantsWithTheSameConfigShareOneComputation) {
  FeatureEngine engine;
  SeriesKey eu{"EURUSD", Timeframe::kH1};
  FeatureSetConfig a{"tenant-a-set", 1, {{"rsi", {}, "value"}, {"atr", {}, "normalized"}}};
  FeatureSetConfig b{"other-name", 3, {{"rsi", {{"period", 14}}, ""}, {"atr", {{"period", 14}}, ""}}};
  auto ha = engine.Register(eu, a);
  auto hb = engine.Register(eu, b);
  ASSERT_OK(ha);
  ASSERT_OK(hb);
  EXPECT_EQ(*ha, *hb);
  EXPECT_EQ(engine.EntryCount(), 1u);
  auto hc = engine.Register(eu, DefaultFeatureSet());
  ASSERT_OK(hc);
  EXPECT_EQ(engine.EntryCount(), 2u);
  EXPECT_FALSE(engine.Register(SeriesKey{"eu", Timeframe::kH1}, a).ok());
  for (const Bar& bar : Walk(100, 1)) ASSERT_OK(engine.OnBar(eu, bar));
  auto latest = engine.Latest(eu, *ha);
  ASSERT_OK(latest);
  EXPECT_EQ(latest->time, 99 * kNanosPerHour);
  EXPECT_TRUE(latest->complete);
  EXPECT_EQ((*engine.Names(*ha))[0], "rsi(period=14).value");
  auto range = engine.Range(eu, *ha, 10 * kNanosPerHour, 20 * kNanosPerHour);
  ASSERT_OK(range);
  ASSERT_EQ(range->size(), 10u);
  EXPECT_FALSE((*range)[0].complete) << "RSI(14) is still warming up at bar 10";
  EXPECT_TRUE((*range)[9].complete);
  EXPECT_EQ(engine.Range(eu, *ha, 0, INT64_MAX, 5)->size(), 5u);
  // Out-of-order bar is rejected and changes nothing.
  EXPECT_FALSE(engine.OnBar(eu, Walk(1, 2)[0]).ok());
  EXPECT_EQ(engine.Latest(eu, *ha)->time, 99 * kNanosPerHour);
  EXPECT_EQ(engine.Latest(eu, "0000000000000000").error().code(), StatusCode::kNotFound);
}

TEST(FeatureEngineTest, FeaturesAtBarTUseNoLaterData) {
  const auto bars = Walk(600, 11);
  auto compute = [](const std::vector<Bar>& in) {
    FeatureEngine engine(FeatureEngineOptions{10000});
    SeriesKey k{"EURUSD", Timeframe::kH1};
    std::string h = *engine.Register(k, DefaultFeatureSet());
    EXPECT_OK(engine.Warm(k, h, in));
    return *engine.Range(k, h, 0, INT64_MAX);
  };
  const auto base = compute(bars);
  ASSERT_EQ(base.size(), bars.size());
  for (size_t t : {150u, 300u, 450u}) {
    // Replace every bar after t by a different, wild path.
    std::vector<Bar> perturbed(bars.begin(), bars.begin() + t + 1);
    auto other = Walk(600, 999, 5.0);
    for (size_t i = t + 1; i < bars.size(); ++i) {
      const Bar& o = other[i];
      perturbed.push_back(*Bar::Create(bars[i].time(), o.open(), o.high() * 1.01, o.low() * 0.99,
                                       o.close(), o.volume() * 3));
    }
    const auto got = compute(perturbed);
    for (size_t i = 0; i <= t; ++i) {
      ASSERT_TRUE(SameVector(base[i].values, got[i].values)) << "bar " << i << " changed when bars > " << t << " changed";
    }
    // And the change is visible right after t (the test would be vacuous otherwise).
    EXPECT_FALSE(SameVector(base[t + 1].values, got[t + 1].values));
  }
  // Streaming through OnBar equals the warm-up path.
  FeatureEngine engine;
  SeriesKey k{"EURUSD", Timeframe::kH1};
  std::string h = *engine.Register(k, DefaultFeatureSet());
  for (const Bar& b : bars) ASSERT_OK(engine.OnBar(k, b));
  EXPECT_TRUE(SameVector(engine.Latest(k, h)->values, base.back().values));
}

TEST(FeatureEngineTest, ConcurrentSeriesAndReadersAreSafe) {
  FeatureEngine engine(FeatureEngineOptions{200});
  const std::vector<std::string> symbols = {"EURUSD", "GBPUSD", "USDJPY", "XAUUSD"};
  std::vector<std::string> hashes;
  for (const auto& s : symbols) hashes.push_back(*engine.Register({s, Timeframe::kH1}, DefaultFeatureSet()));
  const auto bars = Walk(2000, 5);
  std::atomic<bool> done{false};
  std::atomic<int64_t> reads{0};
  std::vector<std::thread> writers;
  for (const auto& s : symbols) {
    writers.emplace_back([&, s] {
      for (const Bar& b : bars) EXPECT_OK(engine.OnBar({s, Timeframe::kH1}, b));
    });
  }
  std::thread reader([&] {
    while (!done || reads.load() < 1000) {
      for (size_t i = 0; i < symbols.size(); ++i) {
        auto v = engine.Latest({symbols[i], Timeframe::kH1}, hashes[i]);
        if (v.ok()) ++reads;
      }
    }
  });
  for (auto& w : writers) w.join();
  done = true;
  reader.join();
  for (size_t i = 0; i < symbols.size(); ++i) {
    auto v = engine.Latest({symbols[i], Timeframe::kH1}, hashes[i]);
    ASSERT_OK(v);
    EXPECT_EQ(v->time, bars.back().time());
    EXPECT_EQ(engine.Range({symbols[i], Timeframe::kH1}, hashes[i], 0, INT64_MAX)->size(), 200u);
  }
  EXPECT_GT(reads.load(), 0);
}

}  // namespace
}  // namespace sinyal::features
