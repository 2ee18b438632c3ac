// RunBacktest with its baselines, and the report, on constructed data.
#include "backtest/backtest.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "backtest/report.h"
#include "core/testing/test_util.h"

namespace sinyal::backtest {
namespace {

constexpr UnixNanos kT0 = 1'600'000'000LL * kNanosPerSecond / kNanosPerHour * kNanosPerHour;

std::vector<market::Bar> Trend(int n, double from, double to) {
  std::vector<market::Bar> bars;
  for (int i = 0; i < n; ++i) {
    const double o = std::round((from + (to - from) * i / n) * 1e5) / 1e5;
    const double c = std::round((from + (to - from) * (i + 1) / n) * 1e5) / 1e5;
    bars.push_back(*market::Bar::Create(kT0 + i * kNanosPerHour, o, std::max(o, c) + 0.0001,
                                        std::min(o, c) - 0.0001, c));
  }
  return bars;
}

class EveryNthBar : public SignalSource {
 public:
  explicit EveryNthBar(int n) : n_(n) {}
  Result<std::optional<BarSignal>> OnBarClosed(int, const market::SeriesKey&,
                                               const market::Bar& bar, UnixNanos) override {
    if (++count_ % n_ != 0) return std::optional<BarSignal>();
    BarSignal s;
    s.direction = (count_ / n_) % 2 ? 1 : -1;
    s.confidence = 0.6;
    return std::optional<BarSignal>(s);
  }

 private:
  int n_;
  int count_ = 0;
};

// One EURUSD series of n bars trending from 1.1 to 1.2.
std::vector<SeriesInput> EurusdTrend(int n) {
  std::vector<SeriesInput> series(1);
  series[0].symbol = "EURUSD";
  series[0].bars = Trend(n, 1.1, 1.2);
  return series;
}

TEST(BacktestTest, BuyAndHoldIsHandChecked) {
  StrategyConfig c;
  c.symbols = {"EURUSD"};
  c.random_seeds = 20;
  std::vector<SeriesInput> series = EurusdTrend(500);
  EveryNthBar source(10);
  auto r = RunBacktest(c, series, source);
  ASSERT_OK(r);
  // 10,000 USD at the first open 1.1000 buys 9,090 EUR, rounded down to the 1,000-unit step:
  // 9,000 EUR; sold at the last close 1.2000; no costs configured: +900.
  EXPECT_NEAR(r->buy_and_hold.metrics.final_equity, 10900, 1e-6);
  EXPECT_EQ(r->buy_and_hold.trades.size(), 1u);
  EXPECT_EQ(r->buy_and_hold.trades[0].exit_role, OrderRole::kEndOfTest);
  // The random baseline: 20 runs, each with the strategy's number of entries.
  EXPECT_EQ(r->random_entry.total_returns.size(), 20u);
  EXPECT_EQ(r->random_entry.entries_per_run, r->strategy.entries);
  EXPECT_GT(r->strategy.entries, 10);
  ASSERT_TRUE(r->random_entry.median_run.has_value());
  EXPECT_GE(r->random_entry.strategy_return_rank, 0);
  EXPECT_LE(r->random_entry.strategy_return_rank, 1);
  // Reverse-last-move is always in the market on a steady trend: short every bar, losing.
  EXPECT_LT(r->reverse_last_move.metrics.total_return, 0);
  EXPECT_GT(r->reverse_last_move.metrics.exposure, 0.9);

  const BacktestReport rep = RenderBacktestReport(*r, "t", "sinyal backtest --strategy s.json");
  EXPECT_NE(rep.equity_svg.find("<svg"), std::string::npos);
  EXPECT_NE(rep.drawdown_svg.find("polygon"), std::string::npos);
  EXPECT_NE(rep.random_svg.find("strategy"), std::string::npos);
  EXPECT_NE(rep.markdown.find("| buy and hold |"), std::string::npos);
  EXPECT_NE(rep.markdown.find("sinyal backtest --strategy s.json"), std::string::npos);
  const auto j = nlohmann::json::parse(rep.json);
  EXPECT_EQ(j["baselines"]["random_entry"]["seeds"], 20);
  EXPECT_TRUE(j["definitions"].contains("sharpe"));
  EXPECT_EQ(j["trades_total"], r->strategy.trades.size());
}

TEST(BacktestTest, PeriodAndSymbolErrorsNameTheField) {
  StrategyConfig c;
  c.symbols = {"EURUSD"};
  std::vector<SeriesInput> series = EurusdTrend(100);
  EveryNthBar source(5);
  c.from = kT0 + 1000 * kNanosPerHour;  // after the data
  auto r = RunBacktest(c, series, source);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().field(), "period");
  c.from = 0;
  series[0].bars.clear();
  r = RunBacktest(c, series, source);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().field(), "symbols[0]");
  EXPECT_NE(r.error().message().find("no data"), std::string::npos);
}

TEST(BacktestTest, CancelStopsTheRun) {
  StrategyConfig c;
  c.symbols = {"EURUSD"};
  std::vector<SeriesInput> series = EurusdTrend(20000);
  EveryNthBar source(5);
  RunControl control;
  control.check_every = 1000;
  int checks = 0;
  control.cancelled = [&] { return ++checks >= 3; };
  auto r = RunBacktest(c, series, source, control);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "cancelled");
}

TEST(BacktestTest, ThinCurveKeepsTheLowPoints) {
  std::vector<EquityPoint> curve;
  for (int i = 0; i < 10000; ++i) curve.push_back({i + 1, 100.0 + (i == 5555 ? -50 : 0), 0, false});
  const auto thin = ThinCurve(curve, 200);
  EXPECT_LE(thin.size(), 201u);
  bool has_low = false;
  for (const auto& p : thin) has_low |= p.equity == 50;
  EXPECT_TRUE(has_low);
  EXPECT_EQ(thin.front().time, 1);
  EXPECT_EQ(thin.back().time, 10000);
}

}  // namespace
}  // namespace sinyal::backtest
