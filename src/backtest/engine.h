// Engine: the event loop shared by backtests and paper accounts (nautilus_trader's design: one
// engine, a manual clock in backtests, live bars otherwise).
//
// One event = one closed bar of one symbol. For each, in this order:
//   1. the clock is set to the bar's close (open time + one period);
//   2. the broker matches the orders submitted before the bar opened against it, then marks the
//      account at its close and evaluates the risk latches (broker.h);
//   3. the signal source is asked for the signal made at that close: it has seen this bar and
//      earlier ones only;
//   4. the strategy turns the signal into orders, which can fill from the NEXT bar on.
// Run() merges several symbols' bars in time order of their close (then the symbols' order) and
// feeds them one by one; a live paper account calls OnBar() as bars close. Same calls, same
// results: a paper account fed the bars of a backtest makes the same orders and fills (tested).
//
// The equity curve has one point per distinct close time: the marked equity after every bar
// closing at that time was processed.
//
// Thread safety: not synchronized; one engine per account, driven by one thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <vector>

#include "backtest/broker.h"
#include "backtest/strategy.h"
#include "core/clock.h"
#include "core/status.h"
#include "market/bar.h"
#include "market/instrument.h"

namespace sinyal::backtest {

// Where signals come from: the model path (live seam), a baseline rule, or a test script.
class SignalSource {
 public:
  virtual ~SignalSource() = default;
  // The signal made at the close of `bar` of `key` (symbol index `symbol`), or nullopt when there
  // is none (warm-up, no model trained yet). Called once per closed bar, in time order; must use
  // only this bar and earlier ones. An error stops the run.
  [[nodiscard]] virtual Result<std::optional<BarSignal>> OnBarClosed(int symbol,
                                                                     const market::SeriesKey& key,
                                                                     const market::Bar& bar,
                                                                     UnixNanos now) = 0;
  // What produced the signals (model versions, retrains), for the result; null by default.
  virtual nlohmann::json Describe() const { return nullptr; }
};

struct EquityPoint {
  UnixNanos time = 0;  // close time
  double equity = 0;   // marked
  double balance = 0;
  bool exposed = false;  // any position open after this time's bars
};

struct RunControl {
  // Checked every `check_every` bars; true stops the run with Status kFailedPrecondition
  // ("cancelled").
  std::function<bool()> cancelled;
  // Fraction of bars processed, every `check_every` bars.
  std::function<void(double)> progress;
  size_t check_every = 4096;
};

class Engine {
 public:
  // REQUIRES: all references outlive the engine; the broker has `keys`' symbols in that order,
  // all of the strategy's timeframe.
  Engine(ManualClock& clock, SimulatedBroker& broker, SignalStrategy& strategy,
         SignalSource& source, std::vector<market::SeriesKey> keys);

  // One closed bar of symbol index `symbol`. InvalidArgument ("bar") when it is not after the
  // symbol's previous bar; the source's error otherwise.
  [[nodiscard]] Status OnBar(int symbol, const market::Bar& bar);

  // Feeds series[i] (bars of keys[i], ascending) merged in time order. Bars before `from` (open
  // time) or closing after `to` (0 = unbounded) are skipped. Stops at the first error.
  [[nodiscard]] Status Run(std::span<const std::span<const market::Bar>> series, UnixNanos from = 0,
                           UnixNanos to = 0, const RunControl& control = {});

  // Closes what is still open at the last bars' closes (role kEndOfTest) and marks the account.
  void Finish();

  const std::vector<EquityPoint>& equity_curve() const { return curve_; }
  // The strategy's decisions, when kept (keep_decisions).
  const std::vector<Decision>& decisions() const { return decisions_; }
  void set_keep_decisions(bool keep) { keep_decisions_ = keep; }
  int64_t bars_processed() const { return bars_; }
  const std::vector<market::SeriesKey>& keys() const { return keys_; }

 private:
  ManualClock& clock_;
  SimulatedBroker& broker_;
  SignalStrategy& strategy_;
  SignalSource& source_;
  std::vector<market::SeriesKey> keys_;
  std::vector<EquityPoint> curve_;
  std::vector<Decision> decisions_;
  bool keep_decisions_ = false;
  int64_t bars_ = 0;
};

// The look-ahead detector (freqtrade's lookahead-analysis, for any signal source): `run(to)` runs a
// backtest over the bars closing at or before `to` (0 = all) and returns its decisions. The full
// run's decisions made at or before each cutoff must equal the truncated run's: a decision that
// changes when later bars are removed used the future. FailedPrecondition names the first such
// decision (time, symbol, both versions).
using DecisionRun = std::function<Result<std::vector<Decision>>(UnixNanos to)>;
[[nodiscard]] Status CheckNoLookahead(const DecisionRun& run, std::span<const UnixNanos> cutoffs);

}  // namespace sinyal::backtest
