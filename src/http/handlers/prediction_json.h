// The plan-gated prediction fields shared by POST /api/v1/business/predict (business_api.cc) and
// the WebSocket signal stream (stream_api.cc): one function, so both show the same names and
// gate the same fields. Internal to http/ (handlers only).
//
// Thread safety: pure functions apart from Entitlements::PlanNeeded (thread-safe).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "billing/entitlements.h"
#include "billing/meter.h"
#include "billing/plans.h"
#include "signals/service.h"

namespace sinyal::http {

// The fields of `stored` re-thresholded at `threshold` (SignalService::WithThreshold) that `plan`
// allows: prediction, timestamp (close time of the signal's bar), symbol, timeframe,
// prediction_type, prediction_horizon, confidence_threshold, signal_id, plus confidence/p_up/
// abstain_reason (feature "confidence"), interval/expected_move ("intervals") and regime/drivers/
// model_version ("regime"). Fields the plan lacks are omitted and listed in "gated" with
// Entitlements::PlanNeeded's text; "gated" is absent when nothing is gated. Callers add their own fields
// (data_delay_seconds, "type", usage).
nlohmann::json PredictionJson(billing::Entitlements& entitlements, const billing::Plan& plan,
                              const signals::Signal& stored, double threshold);

// POST /api/v1/business/predict's body, serialised directly (no nlohmann::json tree: the route's
// per-request cost): PredictionJson's fields plus "data_delay_seconds", with the meter's usage
// fields ("cost_credits", "remaining_quota", "usage_cost") as Meter::PreparedBody slots. Once
// the meter fills the slots, the text is byte for byte what json::dump gives for PredictionJson
// plus those fields (sorted keys, nlohmann's number format; http_test checks it).
billing::Meter::PreparedBody PreparedPredictionBody(billing::Entitlements& entitlements,
                                                    const billing::Plan& plan,
                                                    const signals::Signal& stored, double threshold,
                                                    int64_t data_delay_seconds);

}  // namespace sinyal::http
