#include "backtest/risk.h"

#include <cmath>
#include <string>

namespace sinyal::backtest {

Status ValidateRiskLimits(const RiskLimits& l, std::string_view prefix) {
  auto field = [&](const char* name) { return std::string(prefix) + name; };
  auto nonneg = [&](double v, const char* name) -> Status {
    if (!std::isfinite(v) || v < 0) {
      return Status::InvalidArgument(std::string(name) + " must be a number >= 0 (0 = off)",
                                     field(name));
    }
    return Status::Ok();
  };
  SINYAL_RETURN_IF_ERROR(nonneg(l.max_position_units, "max_position_units"));
  SINYAL_RETURN_IF_ERROR(nonneg(l.max_notional, "max_notional"));
  if (l.max_open_positions < 0) {
    return Status::InvalidArgument("max_open_positions must be >= 0 (0 = off)",
                                   field("max_open_positions"));
  }
  for (auto [v, name] :
       {std::pair{l.max_daily_loss, "max_daily_loss"}, std::pair{l.max_drawdown, "max_drawdown"}}) {
    if (!std::isfinite(v) || v < 0 || v >= 1) {
      return Status::InvalidArgument(std::string(name) +
                                         " is a fraction of equity in [0, 1) (0 = off), got " +
                                         std::to_string(v),
                                     field(name));
    }
  }
  return Status::Ok();
}

std::string_view TradingStateName(TradingState s) {
  switch (s) {
    case TradingState::kActive:
      return "active";
    case TradingState::kReducing:
      return "reducing";
    case TradingState::kHalted:
      return "halted";
  }
  return "active";
}

Result<TradingState> ParseTradingState(std::string_view text) {
  if (text == "active") return TradingState::kActive;
  if (text == "reducing") return TradingState::kReducing;
  if (text == "halted") return TradingState::kHalted;
  return Status::InvalidArgument("unknown trading state '" + std::string(text) + "'", "state");
}

}  // namespace sinyal::backtest
