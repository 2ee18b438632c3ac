#include "models/plans.h"

namespace sinyal::models {

Result<PlanBounds> PlanBoundsFor(std::string_view plan) {
  PlanBounds b;  // the platform's hard limits (config.h) = enterprise
  if (plan == "enterprise") return b;
  if (plan == "pro") {
    b.max_symbols = 20;
    b.allowed_timeframes = {"M5", "M15", "M30", "H1", "H4", "D1"};
    b.max_horizon = 48;
    b.min_members = 4;
    b.max_members = 6;
    b.max_trees = 500;
    b.max_depth = 8;
    b.max_leaves = 63;
    b.min_eta = 0.005;
    b.max_eta = 0.5;
    b.min_sample = 0.2;
    b.max_dead_band = 0.01;
    return b;
  }
  if (plan == "free") {
    b.max_symbols = 3;
    b.allowed_timeframes = {"H1", "H4", "D1"};
    b.max_horizon = 24;
    b.min_members = 4;
    b.max_members = 4;
    b.max_trees = 200;
    b.max_depth = 6;
    b.max_leaves = 31;
    b.min_eta = 0.01;
    b.max_eta = 0.3;
    b.min_sample = 0.3;
    b.max_lambda = 100;
    b.max_dead_band = 0.005;
    return b;
  }
  return Status::InvalidArgument("unknown plan '" + std::string(plan.substr(0, 40)) +
                                     "' (free, pro or enterprise)",
                                 "plan");
}

std::vector<std::string> PlanNames() { return {"free", "pro", "enterprise"}; }

}  // namespace sinyal::models
