#include "billing/entitlements.h"

#include <algorithm>

namespace sinyal::billing {

Result<CallerPlan> Entitlements::Resolve(TenantId tenant, UnixNanos now) {
  CallerPlan out;
  SINYAL_ASSIGN_OR_RETURN(out.subscription, subscriptions_.Current(tenant, now));
  SINYAL_ASSIGN_OR_RETURN(out.plan, plans_.GetShared(out.subscription.plan));
  return out;
}

std::string Entitlements::PlanNeeded(std::string_view feature) {
  auto p = plans_.CheapestWith(feature);
  return p.ok() ? "requires plan " + *p : "not available on any plan";
}

Status Entitlements::Refusal(const Plan& plan, std::string_view feature, std::string_view what,
                             std::string_view field) {
  return Status::PermissionDenied(
      std::string(what) + " is not in plan " + plan.name + "; " + PlanNeeded(feature),
      std::string(field));
}

Status Entitlements::Gate(const Plan& plan, std::string_view feature, std::string_view field,
                          std::string_view what) {
  if (plan.Has(feature)) return Status::Ok();
  const std::string quoted = "'" + std::string(feature) + "'";
  return Refusal(plan, feature, what.empty() ? std::string_view(quoted) : what,
                 field.empty() ? feature : field);
}

Status Entitlements::Gate(const Plan& plan, market::Timeframe tf, std::string_view field) {
  if (plan.Has(kFeatAllTimeframes)) return Status::Ok();
  const std::string_view name = market::TimeframeName(tf);
  if (std::find(plan.timeframes.begin(), plan.timeframes.end(), name) != plan.timeframes.end()) {
    return Status::Ok();
  }
  return Refusal(plan, kFeatAllTimeframes, "timeframe " + std::string(name), field);
}

int64_t Entitlements::DataDelaySeconds(const Plan& plan) {
  return plan.Has(kFeatRealtime) ? 0 : std::max<int64_t>(plan.data_delay_seconds, 0);
}

UnixNanos Entitlements::NotAfter(const Plan& plan, UnixNanos now) {
  return now - DataDelaySeconds(plan) * kNanosPerSecond;
}

}  // namespace sinyal::billing
