// The `?horizon=` query parameter of the routes that read one model line (signals, models): bars
// ahead, 1..48 (the platform's training bound), default models::kDefaultHorizon. Errors name it.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "http/http.h"
#include "http/query.h"
#include "models/config.h"
#include "models/registry.h"

namespace sinyal::http {

inline Result<int> HorizonQueryParam(const Context& ctx) {
  SINYAL_ASSIGN_OR_RETURN(int64_t h, IntQueryParam(ctx, "horizon", models::kDefaultHorizon, 1,
                                                   models::PlanBounds{}.max_horizon));
  return static_cast<int>(h);
}

}  // namespace sinyal::http
