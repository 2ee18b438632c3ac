#include "billing/metered_call.h"

namespace sinyal::billing {

std::string Caller::RateKey() const {
  return api_key ? "key:" + std::to_string(api_key->value())
                 : "user:" + std::to_string(user.value());
}

Status MeteredCall::Gate(std::string_view feature, std::string_view field, std::string_view what) {
  return flow_->entitlements().Gate(plan(), feature, field, what);
}

Status MeteredCall::Gate(market::Timeframe tf, std::string_view field) {
  return flow_->entitlements().Gate(plan(), tf, field);
}

std::string MeteredCall::PlanNeeded(std::string_view feature) {
  return flow_->entitlements().PlanNeeded(feature);
}

Result<std::optional<RateDecision>> MeteredCall::CheckRate() {
  RateLimiter* limiter = flow_->limiter();
  if (limiter == nullptr) return std::optional<RateDecision>();
  SINYAL_ASSIGN_OR_RETURN(
      RateDecision d, limiter->Check(caller_.RateKey(), Entitlements::RateLimitOf(plan()), now_));
  return std::optional<RateDecision>(d);
}

Result<ReserveOutcome> MeteredCall::Reserve(std::string endpoint, int64_t units,
                                            std::string idempotency_key, std::string request_hash) {
  MeterCall call;
  call.tenant = caller_.tenant;
  call.user = caller_.user;
  call.api_key = caller_.api_key;
  call.endpoint = std::move(endpoint);
  call.units = units;
  call.idempotency_key = std::move(idempotency_key);
  call.request_hash = std::move(request_hash);
  return flow_->meter().Reserve(call, now_);
}

Result<std::string> MeteredCall::Commit(std::unique_ptr<Reservation> reservation,
                                        nlohmann::json body) {
  return flow_->meter().Commit(std::move(reservation), std::move(body));
}

Meter& MeteredCall::meter() { return flow_->meter(); }
Entitlements& MeteredCall::entitlements() { return flow_->entitlements(); }

Result<MeteredCall> MeteredCalls::Begin(const Caller& caller, UnixNanos now) {
  SINYAL_ASSIGN_OR_RETURN(CallerPlan resolved, entitlements_.Resolve(caller.tenant, now));
  return MeteredCall(*this, caller, std::move(resolved), now);
}

Result<std::string> MeteredCalls::Run(
    const Caller& caller, UnixNanos now, const Spec& spec,
    const std::function<Result<nlohmann::json>(MeteredCall&)>& work) {
  SINYAL_ASSIGN_OR_RETURN(MeteredCall call, Begin(caller, now));
  for (std::string_view f : spec.features) SINYAL_RETURN_IF_ERROR(call.Gate(f));
  if (spec.timeframe) SINYAL_RETURN_IF_ERROR(call.Gate(*spec.timeframe));
  if (spec.rate_limited) {
    SINYAL_ASSIGN_OR_RETURN(std::optional<RateDecision> rate, call.CheckRate());
    if (rate && !rate->allowed) {
      return Status(StatusCode::kRateLimited, "rate limit of plan " + call.plan().name +
                                                  " exceeded; retry in " +
                                                  std::to_string(rate->retry_after_seconds) + " s");
    }
  }
  SINYAL_ASSIGN_OR_RETURN(
      ReserveOutcome reserved,
      call.Reserve(spec.endpoint, spec.units, spec.idempotency_key, spec.request_hash));
  if (reserved.replay) return std::move(*reserved.replay);
  SINYAL_ASSIGN_OR_RETURN(nlohmann::json body, work(call));  // an error drops the reservation
  return call.Commit(std::move(reserved.reservation), std::move(body));
}

}  // namespace sinyal::billing
