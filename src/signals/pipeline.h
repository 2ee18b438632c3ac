// Glue for the report tool and the benchmark: regime columns as model features and column-wise
// frame concatenation. (The conformal-row rule is interval_calibration.h's ConformalRowAt.)
//
// Thread safety: pure functions.
#pragma once

#include <span>
#include <vector>

#include "core/status.h"
#include "models/dataset.h"
#include "signals/regime.h"

namespace sinyal::signals {

// One row per state with RegimeFeatureNames() columns (set "regime", version 1).
models::FeatureFrame RegimeFrame(std::span<const RegimeState> states);

// Columns of `a` then `b`, same rows; the set name is "a+b" and the version the sum.
// InvalidArgument ("features") when row counts differ or a name repeats.
[[nodiscard]] Result<models::FeatureFrame> CombineFrames(const models::FeatureFrame& a,
                                                         const models::FeatureFrame& b);

}  // namespace sinyal::signals
