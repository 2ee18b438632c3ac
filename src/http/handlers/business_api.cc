// The business prediction routes, sold by plan and metered exactly:
//   POST /api/v1/business/predict        (API keys with scope "predict"; a user's JWT also works)
//   POST /api/v1/user/predict            (signed-in users' access tokens only)
//   POST /api/v1/business/predict/batch  (entitlement "batch"; all-or-nothing)
//
// Order of work for every call (each step can stop it; nothing is charged unless the last one runs):
//   auth -> rate limit (pipeline, Route::rate_limited) -> validate the body -> plan gating
//   -> Meter::Reserve (quota, Idempotency-Key replay) -> SignalService::Latest (features, model,
//   signal; cached per closed bar; the body serialised directly, PreparedPredictionBody)
//   -> Meter::CommitAsync (ledger + idempotency record, durable group
//   commit; fills usage_cost / cost_credits / remaining_quota) -> 2xx, sent from the completion
//   once the commit is durable. The routes run on the I/O threads: nothing here blocks (the
//   commit's wait is a deferred response, Context::Defer).
// A reservation dropped without Commit (any error after Reserve) frees its units: failed calls
// are not charged.
//
// Plan gating (docs/api.md "Plans and gating"): fields the plan lacks are omitted from the answer
// and listed in "gated" with the cheapest plan that has them; a request that insists on a gated
// field ("include": ["intervals"]) or asks for a gated timeframe or endpoint gets 403 naming
// the field and "requires plan <name>". Plans without "realtime" see the signal of the latest
// bar that closed at least plan.data_delay_seconds ago.
#include <sodium.h>

#include <cmath>
#include <future>
#include <set>

#include <nlohmann/json.hpp>

#include "billing/meter.h"
#include "billing/plans.h"
#include "core/time.h"
#include "http/api.h"
#include "http/handlers/prediction_json.h"
#include "http/json_body.h"
#include "market/instrument.h"
#include "market/timeframe.h"
#include "signals/service.h"

namespace sinyal::http {

using nlohmann::json;

namespace {

// Body limits: a prediction request is ~150 bytes, a batch item about the same.
constexpr size_t kMaxPredictBody = 16 << 10;   // 16 KiB
constexpr size_t kMaxBatchBody = 256 << 10;    // 256 KiB

// The one prediction type the models make.
constexpr std::string_view kPriceDirection = "price_direction";

// Features a caller may insist on through "include".
const std::set<std::string, std::less<>>& IncludableFeatures() {
  static const std::set<std::string, std::less<>> kSet = {
      std::string(billing::kFeatConfidence), std::string(billing::kFeatIntervals),
      std::string(billing::kFeatRegime)};
  return kSet;
}

struct PredictItem {
  std::string symbol;     // normalised, e.g. "EURUSD"
  std::string timeframe;  // canonical, e.g. "H1"
  market::Timeframe tf = market::Timeframe::kH1;
  double confidence_threshold = 0.5;
  std::optional<int64_t> horizon;
  std::vector<std::string> include;
};

// Parses one prediction request object. Field names in errors are prefixed with `prefix`
// ("items[3]." in a batch).
Result<PredictItem> ParseItem(JsonBody& body, const std::string& prefix) {
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
    return Status::InvalidArgument("only \"price_direction\" is supported", prefix + "prediction_type");
  }

  auto threshold = body.OptionalNumber("confidence_threshold", 0.0, 1.0);
  if (!threshold.ok()) return named(threshold.error());
  if (*threshold) item.confidence_threshold = **threshold;

  // Any integer is read first so that 0 and negatives get a clear message, not a range error.
  auto horizon = body.OptionalInt("prediction_horizon", INT64_MIN, INT64_MAX);
  if (!horizon.ok()) return named(horizon.error());
  if (*horizon && **horizon <= 0) {
    return Status::InvalidArgument("must be a positive number of bars", prefix + "prediction_horizon");
  }
  item.horizon = *horizon;

  auto include = body.OptionalStringList("include", 8, {.min_len = 1, .max_len = 32});
  if (!include.ok()) return named(include.error());
  if (*include) {
    for (size_t i = 0; i < (*include)->size(); ++i) {
      const std::string& f = (**include)[i];
      if (!IncludableFeatures().count(f)) {
        return Status::InvalidArgument("unknown feature '" + f + "' (known: confidence, intervals, regime)",
                                       prefix + "include[" + std::to_string(i) + "]");
      }
      item.include.push_back(f);
    }
  }
  Status finished = body.Finish();
  if (!finished.ok()) return named(finished);
  return item;
}

std::string RequestHash(const Request& req) {
  unsigned char out[32];
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, sizeof out);
  auto feed = [&st](std::string_view s) {
    crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(s.data()), s.size());
    const unsigned char sep = 0;
    crypto_generichash_update(&st, &sep, 1);
  };
  feed(req.method);
  feed(req.path);
  feed(req.body);
  crypto_generichash_final(&st, out, sizeof out);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(64, '0');
  for (int i = 0; i < 32; ++i) {
    hex[2 * i] = kHex[out[i] >> 4];
    hex[2 * i + 1] = kHex[out[i] & 0xF];
  }
  return hex;
}

class BusinessApi {
 public:
  explicit BusinessApi(BusinessDeps deps) : d_(deps) {}

  // The plan of the caller's tenant (cached by billing: no database read in steady state).
  Result<std::shared_ptr<const billing::Plan>> PlanOf(const Context& ctx) {
    SINYAL_ASSIGN_OR_RETURN(billing::Subscription sub, d_.subscriptions->Current(ctx.principal->tenant, ctx.now));
    return d_.plans->GetShared(sub.plan);
  }

  // 403 when the plan can't serve the item at all (timeframe) or the caller insists on a gated field.
  Status Gate(const billing::Plan& plan, const PredictItem& item, const std::string& prefix) {
    if (!plan.Has(billing::kFeatAllTimeframes)) {
      bool allowed = false;
      for (const auto& t : plan.timeframes) allowed = allowed || t == item.timeframe;
      if (!allowed) {
        return Status::PermissionDenied("timeframe " + item.timeframe + " is not in plan " + plan.name + "; " +
                                            PlanNeeded(*d_.plans, billing::kFeatAllTimeframes),
                                        prefix + "timeframe");
      }
    }
    for (size_t i = 0; i < item.include.size(); ++i) {
      if (!plan.Has(item.include[i])) {
        return Status::PermissionDenied("'" + item.include[i] + "' is not in plan " + plan.name + "; " +
                                            PlanNeeded(*d_.plans, item.include[i]),
                                        prefix + "include[" + std::to_string(i) + "]");
      }
    }
    return Status::Ok();
  }

  // The signal for one item, at the plan's data delay, checked against the requested horizon.
  Result<std::shared_ptr<const signals::Signal>> SignalFor(const Context& ctx, const billing::Plan& plan,
                                                           const PredictItem& item, const std::string& prefix) {
    const UnixNanos not_after =
        plan.Has(billing::kFeatRealtime) ? ctx.now : ctx.now - plan.data_delay_seconds * kNanosPerSecond;
    auto sig = d_.signals->Latest(ctx.principal->tenant, {item.symbol, item.tf}, not_after);
    if (!sig.ok()) {
      Status s = sig.error();
      return s.field().empty() ? s : s.WithField(prefix + s.field());
    }
    if (item.horizon && *item.horizon != (*sig)->horizon()) {
      return Status::InvalidArgument("the model for " + item.symbol + " " + item.timeframe + " predicts " +
                                         std::to_string((*sig)->horizon()) + " bars ahead; send " +
                                         std::to_string((*sig)->horizon()) + " or omit prediction_horizon",
                                     prefix + "prediction_horizon");
    }
    return sig;
  }

  // The seeds' response fields (usage fields are added by Meter::Commit) plus what the plan allows.
  json ItemJson(const billing::Plan& plan, const PredictItem& item, const signals::Signal& stored) {
    json j = PredictionJson(*d_.plans, plan, stored, item.confidence_threshold);
    j["data_delay_seconds"] = plan.Has(billing::kFeatRealtime) ? 0 : plan.data_delay_seconds;
    return j;
  }

  billing::MeterCall CallFor(const Context& ctx, std::string endpoint, int64_t units) {
    billing::MeterCall call;
    call.tenant = ctx.principal->tenant;
    call.user = ctx.principal->user;
    call.api_key = ctx.principal->api_key;
    call.endpoint = std::move(endpoint);
    call.units = units;
    call.idempotency_key = std::string(ctx.request.Header("idempotency-key"));
    if (!call.idempotency_key.empty()) call.request_hash = RequestHash(ctx.request);
    return call;
  }

  // Commits through the meter's group commit without blocking this (I/O) thread: the response
  // is deferred and sent once the commit is durable (2xx means durable), timed as "metering".
  // The meter's callback runs on its writer thread and only builds the Response; the pipeline
  // finishes it on an I/O thread.
  void CommitAsync(std::unique_ptr<billing::Reservation> r, json body, std::function<void(Result<std::string>)> cb) {
    d_.meter->CommitAsync(std::move(r), std::move(body), std::move(cb));
  }
  void CommitAsync(std::unique_ptr<billing::Reservation> r, billing::Meter::PreparedBody body,
                   std::function<void(Result<std::string>)> cb) {
    d_.meter->CommitPreparedAsync(std::move(r), std::move(body), std::move(cb));
  }

  // `Body` is json or billing::Meter::PreparedBody.
  template <typename Body>
  Result<Response> CommitDeferred(Context& ctx, std::unique_ptr<billing::Reservation> reservation, Body body) {
    std::shared_ptr<Completion> done = ctx.Defer("metering");
    if (done == nullptr) {  // outside a pipeline that can defer: commit and wait
      ScopedStage metering(ctx, "metering");
      std::promise<Result<std::string>> promise;
      std::future<Result<std::string>> future = promise.get_future();
      CommitAsync(std::move(reservation), std::move(body),
                  [&promise](Result<std::string> r) { promise.set_value(std::move(r)); });
      SINYAL_ASSIGN_OR_RETURN(std::string final_body, future.get());
      return Response::Text(200, std::move(final_body), "application/json");
    }
    CommitAsync(std::move(reservation), std::move(body), [done](Result<std::string> final_body) {
      if (!final_body.ok()) {
        done->Complete(final_body.error());
      } else {
        done->Complete(Response::Text(200, std::move(final_body).value(), "application/json"));
      }
    });
    return Response::Deferred();
  }

  static Response Replay(const billing::ReserveOutcome& out) {
    Response r = Response::Text(out.replay_status, *out.replay, "application/json");
    r.headers.emplace_back("Idempotent-Replayed", "true");
    return r;
  }

  Result<Response> Predict(Context& ctx, const std::string& endpoint) {
    SINYAL_ASSIGN_OR_RETURN(JsonBody body, JsonBody::Parse(ctx.request));
    SINYAL_ASSIGN_OR_RETURN(PredictItem item, ParseItem(body, ""));
    SINYAL_ASSIGN_OR_RETURN(std::shared_ptr<const billing::Plan> plan_ptr, PlanOf(ctx));
    const billing::Plan& plan = *plan_ptr;
    SINYAL_RETURN_IF_ERROR(Gate(plan, item, ""));
    ScopedStage quota(ctx, "quota");
    SINYAL_ASSIGN_OR_RETURN(billing::ReserveOutcome reserved, d_.meter->Reserve(CallFor(ctx, endpoint, 1), ctx.now));
    quota.Stop();
    if (reserved.replay) return Replay(reserved);
    ScopedStage signal(ctx, "signal");
    SINYAL_ASSIGN_OR_RETURN(auto sig, SignalFor(ctx, plan, item, ""));
    // Serialised here, without a json tree; the meter fills in the usage fields.
    billing::Meter::PreparedBody prepared = PreparedPredictionBody(
        *d_.plans, plan, *sig, item.confidence_threshold,
        plan.Has(billing::kFeatRealtime) ? 0 : plan.data_delay_seconds);
    signal.Stop();
    return CommitDeferred(ctx, std::move(reserved.reservation), std::move(prepared));
  }

  Result<Response> Batch(Context& ctx) {
    SINYAL_ASSIGN_OR_RETURN(JsonBody body, JsonBody::Parse(ctx.request));
    const json* items = body.Raw("items");
    if (items == nullptr) return Status::InvalidArgument("is required", "items");
    if (!items->is_array()) return Status::InvalidArgument("must be an array of prediction requests", "items");
    if (items->empty()) return Status::InvalidArgument("must hold at least one item", "items");
    if (items->size() > d_.max_batch_items) {
      return Status(StatusCode::kPayloadTooLarge,
                    "holds " + std::to_string(items->size()) + " items; the limit is " +
                        std::to_string(d_.max_batch_items) + " per call",
                    "items");
    }
    SINYAL_RETURN_IF_ERROR(body.Finish());
    SINYAL_ASSIGN_OR_RETURN(std::shared_ptr<const billing::Plan> plan_ptr, PlanOf(ctx));
    const billing::Plan& plan = *plan_ptr;
    if (!plan.Has(billing::kFeatBatch)) {
      return Status::PermissionDenied("batch predictions are not in plan " + plan.name + "; " +
                                          PlanNeeded(*d_.plans, billing::kFeatBatch),
                                      "items");
    }
    std::vector<PredictItem> parsed;
    parsed.reserve(items->size());
    for (size_t i = 0; i < items->size(); ++i) {
      const std::string prefix = "items[" + std::to_string(i) + "].";
      auto item_body = JsonBody::FromJson((*items)[i]);
      if (!item_body.ok()) {
        return Status::InvalidArgument("must be an object", "items[" + std::to_string(i) + "]");
      }
      SINYAL_ASSIGN_OR_RETURN(PredictItem item, ParseItem(*item_body, prefix));
      SINYAL_RETURN_IF_ERROR(Gate(plan, item, prefix));
      parsed.push_back(std::move(item));
    }
    const int64_t units = static_cast<int64_t>(parsed.size());
    ScopedStage quota(ctx, "quota");
    SINYAL_ASSIGN_OR_RETURN(billing::ReserveOutcome reserved,
                            d_.meter->Reserve(CallFor(ctx, std::string(billing::kEndpointBatch), units), ctx.now));
    quota.Stop();
    if (reserved.replay) return Replay(reserved);
    ScopedStage signal(ctx, "signal");
    json results = json::array();
    for (size_t i = 0; i < parsed.size(); ++i) {
      SINYAL_ASSIGN_OR_RETURN(auto sig, SignalFor(ctx, plan, parsed[i], "items[" + std::to_string(i) + "]."));
      results.push_back(ItemJson(plan, parsed[i], *sig));
    }
    signal.Stop();
    json j = {{"items", std::move(results)}, {"count", units}};
    return CommitDeferred(ctx, std::move(reserved.reservation), std::move(j));
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
              .rate_limited = true,
              .handler = [api](Context& ctx) { return api->Predict(ctx, std::string(billing::kEndpointBusinessPredict)); }});
  routes.Add({.method = "POST",
              .pattern = "/api/v1/business/predict/batch",
              .auth = AuthMode::kAny,
              .max_body_bytes = kMaxBatchBody,
              .required_scope = std::string(accounts::kScopePredict),
              .rate_limited = true,
              .handler = [api](Context& ctx) { return api->Batch(ctx); }});
  routes.Add({.method = "POST",
              .pattern = "/api/v1/user/predict",
              .auth = AuthMode::kUser,
              .max_body_bytes = kMaxPredictBody,
              .rate_limited = true,
              .handler = [api](Context& ctx) { return api->Predict(ctx, std::string(billing::kEndpointUserPredict)); }});
}

}  // namespace sinyal::http
