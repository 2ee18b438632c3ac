#include "http/handlers/predict_request.h"

#include <set>
#include <string_view>

#include "billing/features.h"
#include "market/instrument.h"
#include "models/config.h"

namespace sinyal::http {
namespace {

// The one prediction type the models make.
constexpr std::string_view kPriceDirection = "price_direction";

// Features a caller may insist on through "include".
const std::set<std::string, std::less<>>& IncludableFeatures() {
  static const std::set<std::string, std::less<>> kSet = {std::string(billing::kFeatConfidence),
                                                          std::string(billing::kFeatIntervals),
                                                          std::string(billing::kFeatRegime)};
  return kSet;
}

}  // namespace

Result<PredictItem> ParsePredictItem(JsonBody& body, const std::string& prefix) {
  auto named = [&prefix](const Status& s) { return s.WithField(prefix + s.field()); };
  PredictItem item;
  auto symbol = body.String("symbol", {.min_len = 1, .max_len = 32});
  if (!symbol.ok()) return named(symbol.error());
  auto norm = market::NormalizeSymbol(*symbol);
  if (!norm.ok()) return named(norm.error().WithField("symbol"));
  item.symbol = *norm;

  auto tf_text = body.String("timeframe", {.min_len = 1, .max_len = 32});
  if (!tf_text.ok()) return named(tf_text.error());
  auto tf = market::ParseTimeframe(*tf_text);
  if (!tf.ok()) return named(tf.error().WithField("timeframe"));
  item.tf = *tf;
  item.timeframe = std::string(market::TimeframeName(*tf));

  auto type = body.OptionalString("prediction_type", {.min_len = 1, .max_len = 64});
  if (!type.ok()) return named(type.error());
  if (*type && **type != kPriceDirection) {
    return Status::InvalidArgument("only \"price_direction\" is supported",
                                   prefix + "prediction_type");
  }

  auto threshold = body.OptionalNumber("confidence_threshold", 0.0, 1.0);
  if (!threshold.ok()) return named(threshold.error());
  if (*threshold) item.confidence_threshold = **threshold;

  // Any integer is read first so that 0 and negatives get a clear message, not a range error.
  auto horizon = body.OptionalInt("prediction_horizon", INT64_MIN, INT64_MAX);
  if (!horizon.ok()) return named(horizon.error());
  if (*horizon && **horizon <= 0) {
    return Status::InvalidArgument("must be a positive number of bars",
                                   prefix + "prediction_horizon");
  }
  if (*horizon && **horizon > models::PlanBounds{}.max_horizon) {
    return Status::InvalidArgument("no model predicts more than " +
                                       std::to_string(models::PlanBounds{}.max_horizon) +
                                       " bars ahead",
                                   prefix + "prediction_horizon");
  }
  item.horizon = *horizon;

  auto include = body.OptionalStringList("include", 8, {.min_len = 1, .max_len = 32});
  if (!include.ok()) return named(include.error());
  if (*include) {
    for (size_t i = 0; i < (*include)->size(); ++i) {
      const std::string& f = (**include)[i];
      if (!IncludableFeatures().count(f)) {
        return Status::InvalidArgument(
            "unknown feature '" + f + "' (known: confidence, intervals, regime)",
            prefix + "include[" + std::to_string(i) + "]");
      }
      item.include.push_back(f);
    }
  }
  Status finished = body.Finish();
  if (!finished.ok()) return named(finished);
  return item;
}

}  // namespace sinyal::http
