// Glue from bars to what the signal generator needs, shared by the report tool, the benchmark
// and (later) app/: regime columns as model features, column-wise frame concatenation, and the
// conformal rows of a dataset.
//
// Thread safety: pure functions.
#pragma once

#include <span>
#include <vector>

#include "core/status.h"
#include "models/dataset.h"
#include "models/ensemble.h"
#include "signals/conformal.h"
#include "signals/regime.h"

namespace sinyal::signals {

// One row per state with RegimeFeatureNames() columns (set "regime", version 1).
models::FeatureFrame RegimeFrame(std::span<const RegimeState> states);

// Columns of `a` then `b`, same rows; the set name is "a+b" and the version the sum.
// InvalidArgument ("features") when row counts differ or a name repeats.
[[nodiscard]] Result<models::FeatureFrame> CombineFrames(const models::FeatureFrame& a,
                                                         const models::FeatureFrame& b);

// Conformal rows of dataset rows `rows`: scale = rv at the row's bar * sqrt(horizon), point =
// (2 P(up) - 1) * move_ratio * scale from `ensemble` (move_ratio 0 gives point 0, as
// FitMoveRatio wants), actual = ln(1 + forward_return), group = vol state. Rows whose regime is
// not ready are skipped. `states` is indexed by bar (ClassifyRegimes over the same bars).
// InvalidArgument ("states") when a row's bar is outside `states`.
[[nodiscard]] Result<std::vector<ConformalRow>> MakeConformalRows(
    const models::Ensemble* ensemble, const models::Dataset& ds, std::span<const size_t> rows,
    std::span<const RegimeState> states, double move_ratio);

}  // namespace sinyal::signals
