#include "http/handlers/prediction_json.h"

#include <cmath>
#include <utility>

#include "core/time.h"
#include "market/timeframe.h"

namespace sinyal::http {

using nlohmann::json;

std::string PlanNeeded(billing::PlanStore& plans, std::string_view feature) {
  auto p = plans.CheapestWith(feature);
  return p.ok() ? "requires plan " + *p : "not available on any plan";
}

json PredictionJson(billing::PlanStore& plans, const billing::Plan& plan, const signals::Signal& stored,
                    double threshold) {
  const signals::Signal s = signals::SignalService::WithThreshold(stored, threshold);
  const auto& f = s.fields();
  json j;
  j["prediction"] = std::string(signals::DirectionName(f.direction));
  json gated = json::object();
  if (plan.Has(billing::kFeatConfidence)) {
    j["confidence"] = f.confidence;
    j["p_up"] = f.p_up;
    if (f.abstained) j["abstain_reason"] = f.abstain_reason;
  } else {
    gated["confidence"] = PlanNeeded(plans, billing::kFeatConfidence);
  }
  // The close time of the bar the signal was made on: the signal's "as of" time.
  auto tf = market::ParseTimeframe(f.timeframe);
  j["timestamp"] = FormatIso8601(f.bar_time + (tf.ok() ? market::TimeframeNanos(*tf) : 0));
  j["symbol"] = f.symbol;
  j["timeframe"] = f.timeframe;
  j["prediction_type"] = "price_direction";
  j["prediction_horizon"] = f.horizon;
  j["confidence_threshold"] = f.confidence_threshold;
  j["signal_id"] = f.id;
  if (plan.Has(billing::kFeatIntervals)) {
    json iv = json::object();
    for (const auto& i : f.intervals) {
      iv[std::to_string(static_cast<int>(std::lround(i.coverage * 100)))] = {{"low", i.lo}, {"high", i.hi}};
    }
    j["interval"] = std::move(iv);
    j["expected_move"] = {{"return", f.expected_return}, {"typical_abs", f.expected_abs_move}};
  } else {
    gated["interval"] = gated["expected_move"] = PlanNeeded(plans, billing::kFeatIntervals);
  }
  if (plan.Has(billing::kFeatRegime)) {
    j["regime"] = {{"code", f.regime_code},
                   {"name", f.regime_name},
                   {"trend", std::string(signals::TrendStateName(f.regime.trend))},
                   {"volatility", std::string(signals::VolStateName(f.regime.vol))}};
    json drivers = json::array();
    for (const auto& d : f.drivers) {
      drivers.push_back({{"feature", d.feature}, {"value", d.value}, {"contribution", d.contribution}});
    }
    j["drivers"] = std::move(drivers);
    j["model_version"] = f.model_version;
  } else {
    gated["regime"] = gated["drivers"] = gated["model_version"] = PlanNeeded(plans, billing::kFeatRegime);
  }
  if (!gated.empty()) j["gated"] = std::move(gated);
  return j;
}

}  // namespace sinyal::http
