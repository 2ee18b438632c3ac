// Metrics on a hand-made equity curve and trade list; every expected value is worked out from
// the definitions in metrics.h.
#include "backtest/metrics.h"

#include <gtest/gtest.h>

#include <cmath>

namespace sinyal::backtest {
namespace {

constexpr UnixNanos kDay1 = 19000LL * kNanosPerDay;  // a UTC midnight

EquityPoint P(double days, double equity, bool exposed = false) {
  return {kDay1 + static_cast<UnixNanos>(days * kNanosPerDay), equity, equity, exposed};
}

Trade T(double net) {
  Trade t;
  t.net_pnl = net;
  t.bars_held = 2;
  return t;
}

TEST(MetricsTest, HandComputedCurveAndTrades) {
  // Day 1: 101 at 10:00, 102 at 20:00; day 2: 99; day 3: 103; a point exactly at midnight
  // closing day 3: 104. Daily equity: 102, 99, 104 (the midnight close belongs to day 3).
  const std::vector<EquityPoint> curve = {P(10.0 / 24, 101), P(20.0 / 24, 102, true),
                                          P(1 + 10.0 / 24, 99, true), P(2 + 10.0 / 24, 103),
                                          P(3, 104)};
  const std::vector<Trade> trades = {T(10), T(-5), T(20), T(-5)};
  const Metrics m = ComputeMetrics(curve, trades, 100);

  const std::vector<double> r = {102.0 / 100 - 1, 99.0 / 102 - 1, 104.0 / 99 - 1};
  const double mean = (r[0] + r[1] + r[2]) / 3;
  double ss = 0, down = 0;
  for (double x : r) {
    ss += (x - mean) * (x - mean);
    down += std::min(x, 0.0) * std::min(x, 0.0);
  }
  const double sd = std::sqrt(ss / 2);
  EXPECT_EQ(m.days, 3);
  EXPECT_NEAR(m.total_return, 0.04, 1e-12);
  EXPECT_NEAR(m.sharpe, mean / sd * std::sqrt(260.0), 1e-9);
  EXPECT_NEAR(m.sortino, mean / std::sqrt(down / 3) * std::sqrt(260.0), 1e-9);
  const double years = (3 - 10.0 / 24) / 365.25;
  EXPECT_NEAR(m.annual_return, std::pow(1.04, 1 / years) - 1, 1e-6);
  // Drawdown: peak 102 (day 1, 20:00) -> 99, recovered at day 3 10:00 (103).
  EXPECT_NEAR(m.max_drawdown, 1 - 99.0 / 102, 1e-12);
  EXPECT_NEAR(m.max_drawdown_money, 3, 1e-12);
  EXPECT_TRUE(m.max_drawdown_recovered);
  EXPECT_NEAR(m.max_drawdown_days, 2 + 10.0 / 24 - 20.0 / 24, 1e-9);
  EXPECT_NEAR(m.calmar, m.annual_return / m.max_drawdown, 1e-9);
  // Trades: wins 30, losses -10.
  EXPECT_EQ(m.trades, 4);
  EXPECT_DOUBLE_EQ(m.win_rate, 0.5);
  EXPECT_DOUBLE_EQ(m.profit_factor, 3);
  EXPECT_DOUBLE_EQ(m.expectancy, 5);
  // SQN: sqrt(4) x 5 / std([10, -5, 20, -5], ddof 1) = 10 / sqrt(150).
  EXPECT_NEAR(m.sqn, 10 / std::sqrt(150.0), 1e-12);
  EXPECT_FALSE(m.sqn_reliable);
  EXPECT_DOUBLE_EQ(m.exposure, 0.4);
  EXPECT_DOUBLE_EQ(m.avg_bars_held, 2);
  // PSR: the daily Sharpe's probability of being above 0, from n, skewness and kurtosis.
  EXPECT_GT(m.psr, 0.5);
  EXPECT_LT(m.psr, 1.0);
  EXPECT_LT(m.psr_vs_1, m.psr);
}

TEST(MetricsTest, UnrecoveredDrawdownRunsToTheEndAndCountsOpenLosses) {
  // The marked equity dips while a position is open and never gets back.
  const std::vector<EquityPoint> curve = {P(0.5, 100, true), P(1.5, 90, true), P(2.5, 95, true)};
  const Metrics m = ComputeMetrics(curve, {}, 100);
  EXPECT_NEAR(m.max_drawdown, 0.10, 1e-12);
  EXPECT_FALSE(m.max_drawdown_recovered);
  EXPECT_NEAR(m.max_drawdown_days, 2.0, 1e-9);  // from the peak at day 0.5 to the end
  EXPECT_NEAR(m.longest_drawdown_days, 2.0, 1e-9);
  EXPECT_EQ(m.trades, 0);
  EXPECT_DOUBLE_EQ(m.exposure, 1.0);
}

TEST(MetricsTest, PsrMatchesTheFormula) {
  // Normal-ish returns: skew 0, kurtosis 3 -> PSR = Phi(SR sqrt(n-1) / sqrt(1 + SR^2 / 2)).
  std::vector<EquityPoint> curve;
  double eq = 100;
  for (int d = 0; d < 200; ++d) {
    eq *= 1 + (d % 2 ? 0.011 : -0.009);
    curve.push_back(P(d + 0.5, eq));
  }
  const Metrics m = ComputeMetrics(curve, {}, 100);
  const double sr = m.daily_mean / m.daily_std;
  const double denom = 1 - m.skewness * sr + (m.kurtosis - 1) / 4 * sr * sr;
  EXPECT_NEAR(m.psr, NormalCdf(sr * std::sqrt(199.0) / std::sqrt(denom)), 1e-12);
  EXPECT_NEAR(NormalCdf(0), 0.5, 1e-15);
  EXPECT_NEAR(NormalCdf(1.959963984540054), 0.975, 1e-12);
}

}  // namespace
}  // namespace sinyal::backtest
