// RunBacktest: one backtest of a strategy over stored history, with its three baselines, as the
// CLI (`sinyal backtest`), the job worker (POST /api/v1/backtests) and the reports run it.
//
// The strategy's run feeds the engine (engine.h) with the bars of the period and the given
// signal source (the live signal path in production, walk-forward: each prediction by a model
// trained on earlier bars only). The baselines run through the same engine, broker, costs, stops,
// sizing and risk limits, with other signal sources:
//   buy_and_hold       the initial balance split equally over the symbols, bought at the first
//                      bar's open (ask, costs included) without leverage, held to the end
//   random_entry       `random_seeds` runs, each entering at as many randomly drawn bars as the
//                      strategy made entries, in a random direction (long only if shorts are not
//                      allowed), holding for the strategy's mean holding period; reported as a
//                      distribution, with the strategy's rank in it
//   reverse_last_move  at every bar close, the opposite of the last `horizon`-bar move (hourly
//                      FX mean-reverts a little): always in the market
// Baselines size with the strategy's sizing; their signals carry the strategy's mean entry
// confidence (so Kelly sizing risks about what the strategy risked).
//
// Thread safety: functions; the signal source is used by the calling thread only.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "backtest/engine.h"
#include "backtest/metrics.h"
#include "backtest/strategy.h"
#include "core/status.h"
#include "market/bar.h"
#include "market/instrument.h"

namespace sinyal::backtest {

// The bars of one symbol (ascending, the strategy's timeframe) and, for M1 replay, its minute
// bars (ascending; may be empty).
struct SeriesInput {
  std::string symbol;
  int digits = 5;
  std::vector<market::Bar> bars;
  std::vector<market::Bar> minutes;
};

// A finished run: what the broker did and the metrics of it.
struct RunResult {
  std::string name;  // "strategy", "buy_and_hold", "reverse_last_move", "random_entry/seed 3"
  Metrics metrics;
  std::vector<EquityPoint> equity;
  std::vector<Trade> trades;
  std::vector<Fill> fills;
  std::vector<Order> orders;
  std::vector<RiskEvent> risk_events;
  SimulatedBroker::Costs costs;
  int64_t entries = 0;
  double mean_entry_confidence = 0;
};

struct RandomBaseline {
  int seeds = 0;
  int64_t entries_per_run = 0;
  int hold_bars = 0;
  std::vector<double> total_returns;  // one per seed, ascending
  std::vector<double> sharpes;        // one per seed, ascending
  double mean_return = 0, median_return = 0, p05_return = 0, p95_return = 0;
  double median_sharpe = 0;
  double strategy_return_rank =
      0;  // share of random runs whose total return is below the strategy's
  std::optional<RunResult> median_run;  // the run at the median return (its curve for charts)
};

struct BacktestResult {
  StrategyConfig config;
  UnixNanos from = 0, to = 0;  // first bar open, last bar close actually run
  int64_t bars = 0;            // bar events processed by the strategy's run
  RunResult strategy;
  RunResult buy_and_hold;
  RunResult reverse_last_move;
  RandomBaseline random_entry;
  MetricsOptions metrics_options;
  double seconds = 0;  // wall time of the strategy's run (signals included)
  double baseline_seconds = 0;
  nlohmann::json signal_source;  // what produced the signals (model versions, retrains)
};

struct BacktestOptions {
  MetricsOptions metrics;
  bool baselines = true;
  bool keep_decisions = false;
  const Clock* wall_clock = nullptr;  // times the run when set
};

// Validates the inputs against the strategy (one series per symbol, in the strategy's order,
// non-empty in the period: InvalidArgument "symbols[i]" / "period" otherwise) and runs.
// Cancellation (control.cancelled) returns FailedPrecondition("cancelled").
[[nodiscard]] Result<BacktestResult> RunBacktest(const StrategyConfig& config,
                                                 const std::vector<SeriesInput>& series,
                                                 SignalSource& source,
                                                 const RunControl& control = {},
                                                 const BacktestOptions& options = {});

// The broker of an account trading `config`: the strategy's balance and currency, its risk limits
// (with_risk), and one instrument per symbol with the strategy's costs and `digits[i]` decimals.
// Errors name "symbols[i]" (no conversion to the account currency) or the cost field.
[[nodiscard]] Result<SimulatedBroker> BrokerFor(const StrategyConfig& config,
                                                std::span<const int> digits, bool with_risk,
                                                MinuteBarSource minutes = {},
                                                bool record_events = false);

// One run of the strategy's rules with `source` (no baselines): the building block of the above,
// of the baselines and of the paper-vs-backtest identity test.
[[nodiscard]] Result<RunResult> RunStrategy(const StrategyConfig& config,
                                            const std::vector<SeriesInput>& series,
                                            SignalSource& source, const RunControl& control,
                                            const MetricsOptions& metrics,
                                            std::vector<Decision>* decisions = nullptr);

// The JSON of a result for the API and reports: metrics with their definitions, the baselines,
// trades (at most `max_trades`, newest kept), equity and drawdown curves thinned to at most
// `max_points` points (each kept point is a real one; the lowest equity of each thinned stretch is
// kept so drawdowns stay visible).
nlohmann::json ToJson(const BacktestResult& r, size_t max_points = 2000, size_t max_trades = 5000);

// Thins a curve as ToJson does. REQUIRES max_points >= 2.
std::vector<EquityPoint> ThinCurve(std::span<const EquityPoint> curve, size_t max_points);

}  // namespace sinyal::backtest
