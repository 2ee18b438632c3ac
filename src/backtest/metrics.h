// Performance metrics of a run, with their definitions stated (research-tranche2.md A.1), and
// the text of those definitions for reports.
//
//   total_return        final equity / initial - 1
//   annual_return       CAGR: (1 + total_return)^(365.25 days / elapsed) - 1, elapsed = first to
//                       last equity point
//   sharpe              daily returns r_d of the marked equity resampled to UTC days (the last
//                       point of each day with data; days without bars are skipped, not filled):
//                       mean(r_d) / std(r_d, ddof = 1) x sqrt(N), risk-free rate 0, arithmetic
//                       mean, N = periods_per_year (default 260: FX trades about 5 days a week;
//                       stated in every report)
//   sortino             mean(r_d) / sqrt(mean(min(r_d, 0)^2)) x sqrt(N) (downside over ALL days,
//                       as empyrical)
//   psr                 probabilistic Sharpe ratio (Bailey and Lopez de Prado, as LEAN):
//                       Phi((SR - SR*) sqrt(n - 1) / sqrt(1 - g3 SR + (g4 - 1) / 4 SR^2)) with SR
//                       the daily (not annualised) Sharpe, g3 skewness, g4 kurtosis of r_d,
//                       n days; against SR* = 0 (psr) and SR* = 1 annualised (psr_vs_1)
//   max_drawdown        max over bars of 1 - equity / running peak, on the bar-by-bar MARKED
//                       equity (open positions included), as a fraction; with its money amount,
//                       the peak and trough times, and its duration: from that peak until the
//                       equity regained it (or the end, flagged unrecovered); longest_drawdown
//                       is the longest such peak-to-recovery span of any drawdown
//   calmar              annual_return / max_drawdown (0 when there was no drawdown)
//   trades              closed trades (a partial close is a trade); win_rate = net_pnl > 0 share
//   profit_factor       sum of winning net P&L / |sum of losing net P&L| (inf when no loss)
//   expectancy          mean net P&L per trade (account money), and in R when stops were set
//   sqn                 sqrt(n) x mean(net P&L) / std(net P&L, ddof = 1), with n; Tharp reads it
//                       only for n >= 30, so `sqn_reliable` says whether n >= 30
//   exposure            share of equity points (bar closes) with a position open
//
// Thread safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "backtest/engine.h"
#include "backtest/order.h"
#include "core/clock.h"

namespace sinyal::backtest {

struct MetricsOptions {
  double periods_per_year = 260;  // N for Sharpe/Sortino. Default 260 (FX days). (0, 400]
};

struct DrawdownPoint {
  UnixNanos time = 0;
  double drawdown = 0;  // 1 - equity / peak, >= 0
};

struct Metrics {
  double initial_equity = 0, final_equity = 0;
  double total_return = 0, annual_return = 0;
  double years = 0;
  int64_t days = 0;  // daily returns used
  double periods_per_year = 260;
  double daily_mean = 0, daily_std = 0, skewness = 0, kurtosis = 0;
  double sharpe = 0, sortino = 0, psr = 0, psr_vs_1 = 0;
  double max_drawdown = 0, max_drawdown_money = 0;
  UnixNanos max_drawdown_peak = 0, max_drawdown_trough = 0, max_drawdown_end = 0;
  bool max_drawdown_recovered = true;
  double max_drawdown_days = 0;  // peak to recovery (or to the end), calendar days
  double longest_drawdown_days = 0;
  double calmar = 0;
  int64_t trades = 0, wins = 0, losses = 0;
  double win_rate = 0, profit_factor = 0, expectancy = 0, expectancy_r = 0;
  double avg_win = 0, avg_loss = 0, largest_win = 0, largest_loss = 0;
  double sqn = 0;
  bool sqn_reliable = false;
  double avg_bars_held = 0;
  double exposure = 0;
  double commission = 0, spread_cost = 0, slippage_cost = 0, swap = 0;
};

// REQUIRES: curve non-empty, ascending times.
Metrics ComputeMetrics(std::span<const EquityPoint> curve, std::span<const Trade> trades,
                       double initial_equity, const MetricsOptions& options = {});

// 1 - equity / running peak at every point.
std::vector<DrawdownPoint> DrawdownCurve(std::span<const EquityPoint> curve);

// Daily resampling: the last equity of each UTC day that has points, as (day start, equity).
std::vector<std::pair<UnixNanos, double>> DailyEquity(std::span<const EquityPoint> curve,
                                                      double initial_equity);

nlohmann::json ToJson(const Metrics& m);
// The definitions above, as a JSON object of metric -> sentence (reports and the API print it).
nlohmann::json MetricDefinitions(const MetricsOptions& options);

// Standard normal CDF.
double NormalCdf(double x);

}  // namespace sinyal::backtest
