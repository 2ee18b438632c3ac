// Training bounds per subscription plan: the ONE place that maps a plan name to PlanBounds.
//
// Billing (plans, subscriptions) does not exist yet. Until it does, every tenant is on
// kDefaultPlan ("free") unless app/ is told otherwise (config models.default_plan); the billing
// issue replaces the plan lookup (ModelServiceOptions::plan_of) and may move this table into
// the database, keeping PlanBoundsFor's contract.
//
//   plan        symbols  timeframes          horizon  members  trees  depth  leaves  eta           sampling  dead band
//   free        3        H1, H4, D1          <= 24    4        <= 200 <= 6   <= 31   0.01 .. 0.3   >= 0.3    <= 0.5%
//   pro         20       M5 .. D1            <= 48    4 .. 6   <= 500 <= 8   <= 63   0.005 .. 0.5  >= 0.2    <= 1%
//   enterprise  50       M1 .. D1            <= 48    4 .. 8   <= 1000 <= 10 <= 256  0.001 .. 1    >= 0.1    <= 1%
//   (platform default models, trained by operators, use the enterprise bounds)
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "models/config.h"

namespace sinyal::models {

inline constexpr const char* kDefaultPlan = "free";
inline constexpr const char* kPlatformPlan = "enterprise";

// The bounds of `plan`. InvalidArgument("plan") for an unknown name.
[[nodiscard]] Result<PlanBounds> PlanBoundsFor(std::string_view plan);
// "free", "pro", "enterprise".
std::vector<std::string> PlanNames();

}  // namespace sinyal::models
