#include "backtest/sizing.h"

#include <algorithm>
#include <cmath>

namespace sinyal::backtest {

std::string_view SizingModeName(SizingMode m) {
  switch (m) {
    case SizingMode::kFixed:
      return "fixed";
    case SizingMode::kRisk:
      return "risk";
    case SizingMode::kKelly:
      return "kelly";
  }
  return "fixed";
}

std::string_view StopModeName(StopMode m) {
  switch (m) {
    case StopMode::kNone:
      return "none";
    case StopMode::kPoints:
      return "points";
    case StopMode::kAtr:
      return "atr";
  }
  return "none";
}

Status ValidateSizing(const SizingConfig& z, const StopsConfig& st) {
  auto in = [](double v, double lo, double hi, const char* field, const char* what) -> Status {
    if (!std::isfinite(v) || v <= lo || v > hi) {
      return Status::InvalidArgument(std::string(what) + ", got " + std::to_string(v), field);
    }
    return Status::Ok();
  };
  SINYAL_RETURN_IF_ERROR(in(z.lots, 0, 1000, "sizing.lots", "lots must be in (0, 1000]"));
  SINYAL_RETURN_IF_ERROR(
      in(z.risk_fraction, 0, 0.2, "sizing.risk_fraction", "risk_fraction must be in (0, 0.2]"));
  SINYAL_RETURN_IF_ERROR(
      in(z.kelly_fraction, 0, 1, "sizing.kelly_fraction", "kelly_fraction must be in (0, 1]"));
  SINYAL_RETURN_IF_ERROR(in(z.max_risk_fraction, 0, 0.2, "sizing.max_risk_fraction",
                            "max_risk_fraction must be in (0, 0.2]"));
  for (auto [v, field] :
       {std::pair{st.stop_loss, "stops.stop_loss"}, std::pair{st.take_profit, "stops.take_profit"},
        std::pair{st.trailing, "stops.trailing"}}) {
    if (!std::isfinite(v) || v < 0) {
      return Status::InvalidArgument("stop distances must be >= 0 (0 = none)", field);
    }
  }
  if (st.atr_period < 2 || st.atr_period > 500) {
    return Status::InvalidArgument("atr_period must be in [2, 500]", "stops.atr_period");
  }
  if (st.mode == StopMode::kNone && (st.stop_loss > 0 || st.take_profit > 0 || st.trailing > 0)) {
    return Status::InvalidArgument(
        "stop distances given with mode \"none\": use \"points\" or \"atr\"", "stops.mode");
  }
  if (st.trailing > 0 && st.stop_loss <= 0) {
    return Status::InvalidArgument("a trailing stop needs a stop_loss", "stops.trailing");
  }
  if (z.mode != SizingMode::kFixed && (st.mode == StopMode::kNone || st.stop_loss <= 0)) {
    return Status::InvalidArgument(std::string(SizingModeName(z.mode)) +
                                       " sizing risks a fraction of equity at the stop-loss: "
                                       "set stops.stop_loss",
                                   "sizing.mode");
  }
  return Status::Ok();
}

Result<StopDistances> StopDistancesFor(const StopsConfig& st, const InstrumentSpec& spec,
                                       double atr) {
  StopDistances d;
  double unit = 0;
  switch (st.mode) {
    case StopMode::kNone:
      return d;
    case StopMode::kPoints:
      unit = spec.point();
      break;
    case StopMode::kAtr:
      if (!std::isfinite(atr) || atr <= 0) {
        return Status::FailedPrecondition("ATR not ready yet", "atr");
      }
      unit = atr;
      break;
  }
  d.stop_loss = st.stop_loss * unit;
  d.take_profit = st.take_profit * unit;
  d.trailing = st.trailing * unit;
  return d;
}

SizeDecision SizeEntry(const SizingConfig& z, const StopDistances& stops,
                       const InstrumentSpec& spec, double equity, double confidence, double price) {
  SizeDecision out;
  const double step = spec.lot_step * spec.contract_size;
  double units = 0;
  if (z.mode == SizingMode::kFixed) {
    units = z.lots * spec.contract_size;
  } else {
    double fraction = z.risk_fraction;
    if (z.mode == SizingMode::kKelly) {
      const double b =
          stops.take_profit > 0 && stops.stop_loss > 0 ? stops.take_profit / stops.stop_loss : 1.0;
      const double p = std::clamp(confidence, 0.0, 1.0);
      const double kelly = p - (1 - p) / b;
      if (!(kelly > 0)) {
        out.skipped =
            "kelly fraction <= 0 (p " + std::to_string(p) + ", payoff " + std::to_string(b) + ")";
        return out;
      }
      fraction = std::min(z.kelly_fraction * kelly, z.max_risk_fraction);
    }
    // Loss per unit at the stop, in account money.
    const double loss_per_unit = spec.divide_by_price ? stops.stop_loss / price : stops.stop_loss;
    if (!(loss_per_unit > 0) || !(equity > 0)) {
      out.skipped = "no stop distance or no equity to size against";
      return out;
    }
    units = fraction * equity / loss_per_unit;
    out.risk_fraction = fraction;
  }
  units = std::floor(units / step + 1e-9) * step;
  if (units <= 0) {
    out.skipped = "size below one lot step";
    out.risk_fraction = 0;
    return out;
  }
  out.units = units;
  return out;
}

}  // namespace sinyal::backtest
