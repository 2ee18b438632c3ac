#include "signals/indicator_odds.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/testing/test_util.h"
#include "features/indicators.h"

namespace sinyal::signals {
namespace {

std::vector<market::Bar> Walk(size_t n, uint64_t seed, double phi = 0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd(0, 1e-3);
  std::vector<market::Bar> out;
  double price = 1.1, prev = 0;
  for (size_t i = 0; i < n; ++i) {
    const double r = phi * prev + nd(rng);
    const double o = price, c = price * std::exp(r);
    out.push_back(
        market::Bar::Create(static_cast<UnixNanos>(1'577'836'800LL + 3600LL * i) * kNanosPerSecond,
                            o, std::max(o, c) * 1.0002, std::min(o, c) * 0.9998, c, 100, 1)
            .value());
    price = c;
    prev = r;
  }
  return out;
}

TEST(IndicatorOddsTest, ParsesTheGrammarIntoCanonicalNames) {
  EXPECT_EQ(ParseIndicatorState("RSI < 30")->name, "rsi(14)<30");
  EXPECT_EQ(ParseIndicatorState("rsi(9)>72.5")->name, "rsi(9)>72.5");
  EXPECT_EQ(ParseIndicatorState("stoch<20")->name, "stoch(14,3,3)<20");
  EXPECT_EQ(ParseIndicatorState("macd_cross_up")->name, "macd(12,26,9)_cross_up");
  EXPECT_EQ(ParseIndicatorState("macd(5,35,5)_cross_down")->name, "macd(5,35,5)_cross_down");
  EXPECT_EQ(ParseIndicatorState("close>bb_upper")->name, "close>bb_upper(20,2)");
  EXPECT_EQ(ParseIndicatorState("close<bb_lower(50,2.5)")->name, "close<bb_lower(50,2.5)");
  EXPECT_EQ(ParseIndicatorState("close>sma(200)")->name, "close>sma(200)");
  for (const char* bad :
       {"", "rsi", "rsi<0", "rsi<100", "rsi(1)<30", "rsi(x)<30", "macd_cross", "close>bb_lower",
        "close>sma", "close>sma(1)", "volume>3", "rsi<30;drop"}) {
    auto r = ParseIndicatorState(bad, "states[2]");
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().field(), "states[2]") << bad;
    }
  }
}

TEST(IndicatorOddsTest, StatesFollowTheTaLibExactIndicators) {
  const auto bars = Walk(3000, 5);
  std::vector<double> close;
  for (const auto& b : bars) close.push_back(b.close());
  const auto rsi = features::RsiBatch(close, 14).value();
  const auto active = EvaluateIndicatorState(*ParseIndicatorState("rsi<30"), bars).value();
  size_t count = 0;
  for (size_t i = 0; i < bars.size(); ++i) {
    EXPECT_EQ(active[i], std::isfinite(rsi[i]) && rsi[i] < 30) << i;
    count += active[i];
  }
  EXPECT_GT(count, 20u);
  const auto macd = features::MacdBatch(close, 12, 26, 9).value();
  const auto cross = EvaluateIndicatorState(*ParseIndicatorState("macd_cross_up"), bars).value();
  for (size_t i = 1; i < bars.size(); ++i) {
    const bool want = std::isfinite(macd.hist[i - 1]) && macd.hist[i - 1] <= 0 && macd.hist[i] > 0;
    EXPECT_EQ(cross[i], want) << i;
  }
}

TEST(IndicatorOddsTest, OutOfSampleThinnedAndNoLookAhead) {
  const auto bars = Walk(4000, 9, -0.3);  // mean reversion: oversold tends to bounce
  const std::vector<IndicatorState> states = {*ParseIndicatorState("rsi<30"),
                                              *ParseIndicatorState("close>bb_upper")};
  const std::vector<int> horizons = {1, 4, 24};
  const size_t as_of = 3000;
  auto odds = ComputeIndicatorOdds(bars, states, horizons, as_of);
  ASSERT_OK(odds.status());
  ASSERT_EQ(odds->size(), 6u);
  // Bars after the as-of bar change nothing.
  auto cut = ComputeIndicatorOdds(std::span(bars).first(as_of + 1), states, horizons, as_of);
  ASSERT_OK(cut.status());
  for (size_t k = 0; k < odds->size(); ++k) EXPECT_EQ((*odds)[k].ToJson(), (*cut)[k].ToJson());
  for (const auto& o : *odds) {
    // Counted outcomes never overlap: at most one per h bars, fewer than the raw occurrences.
    EXPECT_LE(o.rate.n, o.occurrences);
    EXPECT_LE(o.rate.n, as_of / o.horizon + 1);
    EXPECT_EQ(o.before.n + o.after.n, o.rate.n);
    EXPECT_LE(o.rate.ci.lo, o.rate.p_up);
    EXPECT_GE(o.rate.ci.hi, o.rate.p_up);
    EXPECT_EQ(o.base.n, (as_of - o.horizon) / o.horizon + 1);
  }
  // Mean reversion at h1: after RSI < 30 price rose more often than the base rate.
  const IndicatorOdds& rsi1 = (*odds)[0];
  EXPECT_EQ(rsi1.horizon, 1);
  EXPECT_GT(rsi1.rate.p_up, rsi1.base.p_up);
  EXPECT_GT(rsi1.rate.n, 50u);
  // Errors name the field.
  const std::vector<int> bad_h = {0};
  EXPECT_EQ(ComputeIndicatorOdds(bars, states, bad_h, as_of).status().field(), "horizons");
  EXPECT_EQ(ComputeIndicatorOdds(bars, states, horizons, bars.size()).status().field(), "as_of");
}

}  // namespace
}  // namespace sinyal::signals
