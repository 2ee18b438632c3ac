// Per-account risk: pre-trade limits and the breach latches (nautilus_trader's TradingState).
//
// Limits (0 = off):
//   max_position_units   |position| per symbol after a fill, units
//   max_notional         notional of one order, and of one symbol's position after a fill
//                        (|quantity| x price, account currency)
//   max_open_positions   symbols with a non-zero position; an order that would open another one
//                        is rejected
//   max_daily_loss       fraction of the equity marked at the start of the UTC day; equity below
//                        (1 - max_daily_loss) x that -> REDUCING until the next UTC day
//   max_drawdown         fraction below the peak marked equity -> REDUCING, and HALTED once flat
// States:
//   ACTIVE     every order allowed (within the limits)
//   REDUCING   only orders that shrink a position (reduce_only, or opposite to the position and
//              not larger); with flatten_on_breach the broker also cancels working entries and
//              closes every position at the next open
//   HALTED     no order at all, until the account is reset
// A breach, and every state change, is recorded as a RiskEvent (time, state, reason, equity),
// which reports and the paper-account API show.
//
// Thread safety: value types and pure functions.
#pragma once

#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/status.h"

namespace sinyal::backtest {

struct RiskLimits {
  double max_position_units = 0;  // Default 0 (off). >= 0.
  double max_notional = 0;        // Default 0 (off). >= 0, account currency.
  int max_open_positions = 0;     // Default 0 (off). >= 0.
  double max_daily_loss = 0;      // Default 0 (off). [0, 1).
  double max_drawdown = 0;        // Default 0 (off). [0, 1).
  bool flatten_on_breach = true;  // Default true: close everything when REDUCING starts.
};

// InvalidArgument naming the field ("risk.max_daily_loss", ...) for values out of range.
[[nodiscard]] Status ValidateRiskLimits(const RiskLimits& limits,
                                        std::string_view prefix = "risk.");

enum class TradingState : uint8_t { kActive, kReducing, kHalted };
std::string_view TradingStateName(TradingState s);  // "active", "reducing", "halted"
[[nodiscard]] Result<TradingState> ParseTradingState(std::string_view text);

struct RiskEvent {
  UnixNanos time = 0;
  TradingState from = TradingState::kActive, to = TradingState::kActive;
  std::string reason;  // "max_daily_loss 2.0% reached: equity 9790.00 vs day start 10000.00"
  double equity = 0;
  friend bool operator==(const RiskEvent&, const RiskEvent&) = default;
};

}  // namespace sinyal::backtest
