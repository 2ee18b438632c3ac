// Entitlements: what the caller's plan allows, decided in ONE place.
//
// Every route, job and command that serves something a plan sells asks here:
//   Resolve(tenant, now)        the caller's plan, once per call (cached by PlanStore and
//                               Subscriptions: no database read in steady state)
//   Gate(plan, feature, field)  OK, or 403 (PermissionDenied) naming the field and the cheapest
//                               plan with the feature: "<what> is not in plan free; requires plan
//                               pro". That text is written here only (Refusal).
//   Gate(plan, timeframe)       the plan's timeframes, or every timeframe with "all_timeframes"
//   NotAfter(plan, now)         the newest data the plan may see: now, or now minus the plan's
//                               data delay without "realtime"
//   RateLimitOf(plan)           the plan's rate limit
// The feature names are billing/features.h. The metered-call flow (billing/metered_call.h) is
// built on these.
//
// Thread safety: thread-safe (PlanStore and Subscriptions are).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "billing/features.h"
#include "billing/plans.h"
#include "billing/rate_limiter.h"
#include "core/status.h"
#include "market/timeframe.h"

namespace sinyal::billing {

// A caller's subscription and the plan it is on, resolved once per call.
struct CallerPlan {
  Subscription subscription;
  std::shared_ptr<const Plan> plan;  // never null in a CallerPlan returned OK
};

class Entitlements {
 public:
  // REQUIRES: plans and subscriptions outlive this.
  Entitlements(PlanStore& plans, Subscriptions& subscriptions)
      : plans_(plans), subscriptions_(subscriptions) {}

  // The tenant's subscription and plan at `now` (Subscriptions::Current, PlanStore::GetShared).
  [[nodiscard]] Result<CallerPlan> Resolve(TenantId tenant, UnixNanos now);

  // OK when `plan` has `feature`; else PermissionDenied naming `field` (default: the feature's
  // name): "<what> is not in plan <plan>; requires plan <cheapest>" where `what` defaults to
  // "'<feature>'". REQUIRES: IsFeature(feature).
  [[nodiscard]] Status Gate(const Plan& plan, std::string_view feature, std::string_view field = {},
                            std::string_view what = {});
  // OK when `plan` serves timeframe `tf` (its timeframes, or any with "all_timeframes"); else
  // PermissionDenied naming `field` and the cheapest plan with "all_timeframes".
  [[nodiscard]] Status Gate(const Plan& plan, market::Timeframe tf,
                            std::string_view field = "timeframe");

  // "requires plan <name>" (the cheapest plan with `feature`, following operators' edits), or
  // "not available on any plan". Used in 403 details and in the "gated" lists of answers.
  std::string PlanNeeded(std::string_view feature);
  // The 403 itself: "<what> is not in plan <plan>; <PlanNeeded(feature)>", naming `field`.
  Status Refusal(const Plan& plan, std::string_view feature, std::string_view what,
                 std::string_view field);

  // The plan's data delay in seconds: 0 with "realtime", else data_delay_seconds.
  static int64_t DataDelaySeconds(const Plan& plan);
  // The newest data time the plan may see at `now`: now - DataDelaySeconds(plan).
  static UnixNanos NotAfter(const Plan& plan, UnixNanos now);
  // The plan's rate limit per API key / per user.
  static RateLimit RateLimitOf(const Plan& plan) {
    return RateLimit{plan.rate_per_second, plan.burst};
  }
  // Backtests a tenant may have queued or running at once: 8 on a plan with an unlimited quota
  // (Enterprise), else 2. (Without the `backtests` feature none can be submitted at all.)
  static int ActiveBacktests(const Plan& plan) { return plan.unlimited() ? 8 : 2; }

  PlanStore& plans() { return plans_; }
  Subscriptions& subscriptions() { return subscriptions_; }

 private:
  PlanStore& plans_;
  Subscriptions& subscriptions_;
};

}  // namespace sinyal::billing
