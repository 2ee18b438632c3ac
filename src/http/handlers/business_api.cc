// The business prediction routes, sold by plan and metered exactly:
//   POST /api/v1/business/predict        (API keys with scope "predict"; a user's JWT also works)
//   POST /api/v1/user/predict            (signed-in users' access tokens only)
//   POST /api/v1/business/predict/batch  (entitlement "batch"; all-or-nothing)
//
// Order of work for every call: the metered-call flow (billing/metered_call.h, http/handlers/metered.h;
// each step can stop it; nothing is charged unless the last one runs):
//   auth -> the caller's plan, resolved once, and its rate limit (pipeline, Route::billable)
//   -> validate the body -> plan gating -> Meter::Reserve (quota, Idempotency-Key replay)
//   -> SignalService::Latest at the plan's data delay (features, model, signal; cached per closed
//   bar; the body serialised directly, PreparedPredictionBody) -> Meter::CommitAsync (ledger +
//   idempotency record, durable group commit; fills usage_cost / cost_credits / remaining_quota)
//   -> 2xx, sent from the completion once the commit is durable. The routes run on the I/O
//   threads: nothing here blocks (the commit's wait is a deferred response, Context::Defer).
// A reservation dropped without Commit (any error after Reserve) frees its units: failed calls
// are not charged.
//
// Plan gating (docs/api.md "Plans and gating"): fields the plan lacks are omitted from the answer
// and listed in "gated" with the cheapest plan that has them; a request that insists on a gated
// field ("include": ["intervals"]) or asks for a gated timeframe or endpoint gets 403 naming
// the field and "requires plan <name>". Plans without "realtime" see the signal of the latest
// bar that closed at least plan.data_delay_seconds ago.
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "billing/entitlements.h"
#include "billing/meter.h"
#include "core/time.h"
#include "http/api.h"
#include "http/handlers/metered.h"
#include "http/handlers/predict_request.h"
#include "http/handlers/prediction_json.h"
#include "http/json_body.h"
#include "market/instrument.h"
#include "market/timeframe.h"
#include "models/config.h"
#include "signals/service.h"

namespace sinyal::http {

using nlohmann::json;

namespace {

// Body limits: a prediction request is ~150 bytes, a batch item about the same.
constexpr size_t kMaxPredictBody = 16 << 10;  // 16 KiB
constexpr size_t kMaxBatchBody = 256 << 10;   // 256 KiB

class BusinessApi {
 public:
  explicit BusinessApi(BusinessDeps deps) : d_(deps) {}

  // 403 when the plan can't serve the item at all (timeframe) or the caller insists on a gated field.
  static Status Gate(billing::MeteredCall& call, const PredictItem& item,
                     const std::string& prefix) {
    SINYAL_RETURN_IF_ERROR(call.Gate(item.tf, prefix + "timeframe"));
    for (size_t i = 0; i < item.include.size(); ++i) {
      SINYAL_RETURN_IF_ERROR(
          call.Gate(item.include[i], prefix + "include[" + std::to_string(i) + "]"));
    }
    return Status::Ok();
  }

  // The signal for one item at the requested horizon (default 1 bar: the model that predicts it),
  // at the plan's data delay. A horizon no model serves is a 422 listing the served ones.
  Result<std::shared_ptr<const signals::Signal>> SignalFor(const Context& ctx,
                                                           const billing::MeteredCall& call,
                                                           const PredictItem& item,
                                                           const std::string& prefix) {
    const int horizon = item.horizon ? static_cast<int>(*item.horizon) : models::kDefaultHorizon;
    auto sig =
        d_.signals->Latest(ctx.principal->tenant, {item.symbol, item.tf}, horizon, call.NotAfter());
    if (!sig.ok()) {
      Status s = sig.error();
      if (s.field() == "horizon") return s.WithField(prefix + "prediction_horizon");
      return s.field().empty() ? s : s.WithField(prefix + s.field());
    }
    return sig;
  }

  // POST /api/v1/business/predict and /api/v1/user/predict.
  Result<Response> Predict(Context& ctx, std::string_view endpoint) {
    SINYAL_ASSIGN_OR_RETURN(JsonBody body, JsonBody::Parse(ctx.request));
    SINYAL_ASSIGN_OR_RETURN(PredictItem item, ParsePredictItem(body, ""));
    billing::MeteredCall& call = Metered(ctx);
    SINYAL_RETURN_IF_ERROR(Gate(call, item, ""));
    SINYAL_ASSIGN_OR_RETURN(Charge charge, Reserve(ctx, endpoint, 1));
    if (charge.replay) return std::move(*charge.replay);
    ScopedStage signal(ctx, "signal");
    SINYAL_ASSIGN_OR_RETURN(auto sig, SignalFor(ctx, call, item, ""));
    // Serialised here, without a json tree; the meter fills in the usage fields.
    billing::Meter::PreparedBody prepared = PreparedPredictionBody(
        call.entitlements(), call.plan(), *sig, item.confidence_threshold, call.DataDelaySeconds());
    signal.Stop();
    return CommitDeferred(ctx, std::move(charge.reservation), std::move(prepared));
  }

  // POST /api/v1/business/predict/batch: every item validated and gated, then all or nothing.
  Result<Response> Batch(Context& ctx) {
    SINYAL_ASSIGN_OR_RETURN(JsonBody body, JsonBody::Parse(ctx.request));
    const json* items = body.Raw("items");
    if (items == nullptr) return Status::InvalidArgument("is required", "items");
    if (!items->is_array())
      return Status::InvalidArgument("must be an array of prediction requests", "items");
    if (items->empty()) return Status::InvalidArgument("must hold at least one item", "items");
    if (items->size() > d_.max_batch_items) {
      return Status(StatusCode::kPayloadTooLarge,
                    "holds " + std::to_string(items->size()) + " items; the limit is " +
                        std::to_string(d_.max_batch_items) + " per call",
                    "items");
    }
    SINYAL_RETURN_IF_ERROR(body.Finish());
    billing::MeteredCall& call = Metered(ctx);
    SINYAL_RETURN_IF_ERROR(call.Gate(billing::kFeatBatch, "items", "batch predictions"));
    std::vector<PredictItem> parsed;
    parsed.reserve(items->size());
    for (size_t i = 0; i < items->size(); ++i) {
      const std::string prefix = "items[" + std::to_string(i) + "].";
      auto item_body = JsonBody::FromJson((*items)[i]);
      if (!item_body.ok()) {
        return Status::InvalidArgument("must be an object", "items[" + std::to_string(i) + "]");
      }
      SINYAL_ASSIGN_OR_RETURN(PredictItem item, ParsePredictItem(*item_body, prefix));
      SINYAL_RETURN_IF_ERROR(Gate(call, item, prefix));
      parsed.push_back(std::move(item));
    }
    const int64_t units = static_cast<int64_t>(parsed.size());
    SINYAL_ASSIGN_OR_RETURN(Charge charge, Reserve(ctx, billing::kEndpointBatch, units));
    if (charge.replay) return std::move(*charge.replay);
    ScopedStage signal(ctx, "signal");
    json results = json::array();
    for (size_t i = 0; i < parsed.size(); ++i) {
      SINYAL_ASSIGN_OR_RETURN(auto sig,
                              SignalFor(ctx, call, parsed[i], "items[" + std::to_string(i) + "]."));
      json j =
          PredictionJson(call.entitlements(), call.plan(), *sig, parsed[i].confidence_threshold);
      j["data_delay_seconds"] = call.DataDelaySeconds();
      results.push_back(std::move(j));
    }
    signal.Stop();
    json j = {{"items", std::move(results)}, {"count", units}};
    return CommitDeferred(ctx, std::move(charge.reservation), std::move(j));
  }

 private:
  BusinessDeps d_;
};

}  // namespace

void AddBusinessRoutes(RouteTable& routes, BusinessDeps deps) {
  auto api = std::make_shared<BusinessApi>(deps);
  routes.Add({.method = "POST",
              .pattern = "/api/v1/business/predict",
              .auth = AuthMode::kAny,
              // Not blocking: the group commit is awaited asynchronously (deferred response).
              .max_body_bytes = kMaxPredictBody,
              .required_scope = std::string(accounts::kScopePredict),
              .billable = true,
              .handler = [api](Context& ctx) {
                return api->Predict(ctx, billing::kEndpointBusinessPredict);
              }});
  routes.Add({.method = "POST",
              .pattern = "/api/v1/business/predict/batch",
              .auth = AuthMode::kAny,
              .max_body_bytes = kMaxBatchBody,
              .required_scope = std::string(accounts::kScopePredict),
              .billable = true,
              .handler = [api](Context& ctx) { return api->Batch(ctx); }});
  routes.Add({.method = "POST",
              .pattern = "/api/v1/user/predict",
              .auth = AuthMode::kUser,
              .max_body_bytes = kMaxPredictBody,
              .billable = true,
              .handler = [api](Context& ctx) {
                return api->Predict(ctx, billing::kEndpointUserPredict);
              }});
}

}  // namespace sinyal::http
