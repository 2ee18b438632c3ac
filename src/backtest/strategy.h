// Strategy: what a backtest or a paper account trades, parsed once from JSON (the CLI's file, the
// API's body) into typed, validated structs; and the rule that turns a signal at a bar's close into
// orders (SignalStrategy), the same for backtests, paper accounts and the baselines.
//
// JSON (every field optional except "symbols"; unknown fields are errors naming them):
// {
//   "name": "eurusd h1 0.55",
//   "symbols": ["EURUSD", "XAUUSD"],          1..10 symbols
//   "timeframe": "H1",                         default H1
//   "period": {"from": "2021-01-01", "to": "2023-10-01"},   ISO-8601; default: all data
//   "initial_balance": 10000, "currency": "USD",
//   "signal": {"threshold": 0.55,              calibrated confidence needed, [0.5, 1]
//              "allow_short": true, "close_on_neutral": false,
//              "hold_bars": 0},                close after N bars (0 = until the opposite signal)
//   "entry": {"type": "market", "offset_points": 0, "time_in_force": "gtc", "expire_bars": 0},
//   "sizing": {"mode": "fixed", "lots": 0.1, "risk_fraction": 0.01, "kelly_fraction": 0.25,
//              "max_risk_fraction": 0.02},
//   "stops": {"mode": "atr", "stop_loss": 1.5, "take_profit": 3, "trailing": 0, "atr_period": 14},
//   "costs": {"spread_points": 10, "use_bar_spread": true, "slippage_points": 0,
//             "commission_per_lot": 0, "commission_rate": 0, "swap_long_points": 0,
//             "swap_short_points": 0, "prices": "bid"},
//   "costs_by_symbol": {"XAUUSD": {...same keys...}},   overrides per symbol
//   "risk": {"max_position_units": 0, "max_notional": 0, "max_open_positions": 0,
//            "max_daily_loss": 0, "max_drawdown": 0, "flatten_on_breach": true},
//   "fills": {"m1_replay": false},
//   "model": {"horizon": 1, "retrain_every_bars": 720, "train_window_bars": 0,
//             "min_train_bars": 3000, "config": {...models' configuration JSON...}},
//   "baselines": {"random_seeds": 100}
// }
// Errors are InvalidArgument with the field's path ("signal.threshold", "symbols[1]",
// "costs_by_symbol.XAUUSD.spread_points") and the reason; a document over kMaxStrategyBytes is
// PayloadTooLarge (field "strategy").
//
// Thread safety: values; SignalStrategy is not synchronized (one per account).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backtest/broker.h"
#include "backtest/order.h"
#include "backtest/risk.h"
#include "backtest/sizing.h"
#include "core/clock.h"
#include "core/status.h"
#include "features/indicators.h"
#include "market/timeframe.h"

namespace sinyal::backtest {

inline constexpr size_t kMaxStrategyBytes = 64 * 1024;

struct SignalRules {
  double threshold = 0.55;        // Default 0.55. [0.5, 1]
  bool allow_short = true;        // Default true. false: a bearish signal only closes a long
  bool close_on_neutral = false;  // Default false: a neutral signal keeps the position
  int hold_bars = 0;              // Default 0 (off). [0, 10000]
};

struct EntryRules {
  OrderType type = OrderType::kMarket;  // limit: close -/+ offset (buy below); stop: +/- above
  double offset_points = 0;             // >= 0; > 0 for limit and stop entries
  TimeInForce tif = TimeInForce::kGtc;
  int expire_bars = 0;  // gtd: the order lives this many bars. [1, 10000]
};

struct CostConfig {
  double spread_points = 0;
  bool use_bar_spread = true;
  double slippage_points = 0;
  double commission_per_lot = 0;
  double commission_rate = 0;
  double swap_long_points = 0, swap_short_points = 0;
  bool bars_are_mid = false;  // "prices": "bid" (default, MT5) or "mid"
};

struct ModelRules {
  int horizon = 1;               // bars. [1, 48]
  int retrain_every_bars = 720;  // walk-forward: retrain after this many bars. [24, 100000]
  int train_window_bars = 0;     // newest bars trained on; 0 = all earlier bars. [0, 1000000]
  int min_train_bars = 3000;     // no signal before this many bars are available. [500, 1000000]
  nlohmann::json config = nlohmann::json::object();  // models' configuration JSON (validated there)
};

struct StrategyConfig {
  std::string name;
  std::vector<std::string> symbols;
  market::Timeframe timeframe = market::Timeframe::kH1;
  UnixNanos from = 0, to = 0;  // 0 = unbounded
  double initial_balance = 10000;
  std::string currency = "USD";
  SignalRules signal;
  EntryRules entry;
  SizingConfig sizing;
  StopsConfig stops;
  CostConfig costs;
  std::map<std::string, CostConfig> costs_by_symbol;
  RiskLimits risk;
  bool m1_replay = false;
  ModelRules model;
  int random_seeds = 100;  // random-entry baseline runs. [0, 2000]

  const CostConfig& CostsFor(const std::string& symbol) const;
  nlohmann::json ToJson() const;
};

// Parses and validates. `text` over kMaxStrategyBytes: PayloadTooLarge; malformed JSON:
// InvalidArgument (field "strategy", with the byte offset).
[[nodiscard]] Result<StrategyConfig> ParseStrategy(std::string_view text);
[[nodiscard]] Result<StrategyConfig> StrategyFromJson(const nlohmann::json& j);

// The instrument terms of `symbol` under the strategy's costs (SpecFor + CostConfig).
[[nodiscard]] Result<InstrumentSpec> StrategySpec(const StrategyConfig& config,
                                                  const std::string& symbol, int digits);

// A signal at a bar's close, as the strategy sees it.
struct BarSignal {
  int direction = 0;        // +1 bullish, -1 bearish, 0 neutral
  double confidence = 0.5;  // calibrated probability of `direction` (max(p_up, 1 - p_up))
  double p_up = 0.5;
  std::string id;  // the signal's id (kept as the orders' tag)
  std::string model_version;
};

// What the strategy did at one bar (reports and the look-ahead tests read these).
struct Decision {
  UnixNanos time = 0;  // the bar's close
  int symbol = 0;
  std::optional<BarSignal> signal;
  int desired = 0;     // -1, 0, +1; 0 also when no signal
  std::string action;  // "enter long", "exit", "hold", "skip: ..."
  std::vector<OrderId> orders;
};

// Turns signals into orders on a broker. One per account; keeps the per-symbol ATR.
class SignalStrategy {
 public:
  // REQUIRES: the broker has the config's symbols, in the config's order.
  SignalStrategy(const StrategyConfig& config, SimulatedBroker& broker);

  // Called after the broker processed `bar` of `symbol` (closed at `now`). Submits the orders
  // the signal asks for and returns what it did.
  Decision OnBar(int symbol, const market::Bar& bar, UnixNanos now,
                 const std::optional<BarSignal>& signal);

  // Mean confidence of the signals that led to entries (baselines size with it); 0 if none.
  double mean_entry_confidence() const {
    return entries_ ? confidence_sum_ / static_cast<double>(entries_) : 0;
  }
  int64_t entries() const { return entries_; }

  // The strategy's running state (per-symbol ATR streams, entry counters), for paper accounts
  // that continue between bars: Restore(Snapshot()) continues bit-identically.
  nlohmann::json Snapshot() const;
  [[nodiscard]] Status Restore(const nlohmann::json& snapshot);

 private:
  const StrategyConfig& config_;
  SimulatedBroker& broker_;
  std::vector<features::Atr> atr_;
  double confidence_sum_ = 0;
  int64_t entries_ = 0;
};

}  // namespace sinyal::backtest
