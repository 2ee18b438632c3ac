// Position sizing and stop distances: pure functions of the account, the signal and the
// instrument, called by the strategy at a bar's close.
//
// Sizing modes:
//   fixed   `lots` lots per entry.
//   risk    risk `risk_fraction` of equity per trade: units = fraction x equity / (loss per unit at
//           the stop-loss). Needs a stop-loss.
//   kelly   fractional Kelly on the calibrated confidence p of the signal's direction, with the
//           payoff ratio b = take-profit / stop-loss distance (b = 1 without a take-profit):
//           f* = p - (1 - p) / b; the risked fraction is min(kelly_fraction x f*,
//           max_risk_fraction), sized as in `risk`. f* <= 0 means no trade. Needs a stop-loss.
// Every size is rounded down to the instrument's lot step; a size below one step is no trade.
//
// Stop modes: none; points (distances in instrument points); atr (multiples of the ATR at the
// signal bar, TA-Lib's ATR over `atr_period` bars, features::Atr).
//
// Thread safety: pure functions.
#pragma once

#include <string>

#include "backtest/order.h"
#include "core/status.h"

namespace sinyal::backtest {

enum class SizingMode : uint8_t { kFixed, kRisk, kKelly };
struct SizingConfig {
  SizingMode mode = SizingMode::kFixed;
  double lots = 0.1;                // fixed. Default 0.1. (0, 1000]
  double risk_fraction = 0.01;      // risk. Default 1%. (0, 0.2]
  double kelly_fraction = 0.25;     // kelly. Default quarter Kelly. (0, 1]
  double max_risk_fraction = 0.02;  // kelly cap. Default 2%. (0, 0.2]
};

enum class StopMode : uint8_t { kNone, kPoints, kAtr };
struct StopsConfig {
  StopMode mode = StopMode::kNone;
  double stop_loss = 0;    // points or ATR multiples; 0 = none. >= 0
  double take_profit = 0;  // points or ATR multiples; 0 = none. >= 0
  double trailing = 0;     // trailing distance, points or ATR multiples; 0 = fixed stop. >= 0
  int atr_period = 14;     // atr mode. Default 14. [2, 500]
};

std::string_view SizingModeName(SizingMode m);  // "fixed", "risk", "kelly"
std::string_view StopModeName(StopMode m);      // "none", "points", "atr"

// InvalidArgument naming the field ("sizing.lots", "stops.stop_loss", ...), including
// "sizing.mode" when risk/kelly sizing has no stop-loss to size against.
[[nodiscard]] Status ValidateSizing(const SizingConfig& sizing, const StopsConfig& stops);

struct StopDistances {
  double stop_loss = 0, take_profit = 0, trailing = 0;  // price units; 0 = none
};
// Distances for one entry. `atr` is the ATR at the signal bar (NaN before it is ready: then
// ATR stops give FailedPrecondition("atr") and the strategy skips the bar).
[[nodiscard]] Result<StopDistances> StopDistancesFor(const StopsConfig& stops,
                                                     const InstrumentSpec& spec, double atr);

struct SizeDecision {
  double units = 0;          // 0 = no trade
  double risk_fraction = 0;  // of equity at the stop (risk/kelly), 0 for fixed
  std::string skipped;       // why no trade, when units == 0
};
// `confidence` = calibrated probability of the direction traded; `price` = the reference price
// (the signal bar's close) used to convert the stop distance into account money.
SizeDecision SizeEntry(const SizingConfig& sizing, const StopDistances& stops,
                       const InstrumentSpec& spec, double equity, double confidence, double price);

}  // namespace sinyal::backtest
