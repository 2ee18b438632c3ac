// The body of one prediction request (POST /api/v1/business/predict, /api/v1/user/predict and
// each item of /api/v1/business/predict/batch), parsed strictly: every error names its field.
// Internal to http/ (handlers and fuzz/predict_request_fuzz.cc).
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "http/json_body.h"
#include "market/timeframe.h"

namespace sinyal::http {

struct PredictItem {
  std::string symbol;     // normalised, e.g. "EURUSD"
  std::string timeframe;  // canonical, e.g. "H1"
  market::Timeframe tf = market::Timeframe::kH1;
  double confidence_threshold = 0.5;
  std::optional<int64_t> horizon;
  std::vector<std::string> include;
};

// Parses one prediction request object (and calls body.Finish(): unknown fields are errors).
// Field names in errors are prefixed with `prefix` ("items[3]." in a batch).
Result<PredictItem> ParsePredictItem(JsonBody& body, const std::string& prefix);

}  // namespace sinyal::http
