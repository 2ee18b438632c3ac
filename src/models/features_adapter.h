// Adapter from features/ (TA-Lib-exact streaming indicators, named versioned feature sets) to
// the models module's FeatureFrame.
//
// Thread safety: pure function (a fresh FeatureComputer per call).
#pragma once

#include <span>

#include "core/status.h"
#include "features/feature_set.h"
#include "market/bar.h"
#include "models/dataset.h"

namespace sinyal::models {

// Streams `bars` (ascending) through features::FeatureComputer and returns one row per bar
// (float32; NaN while warming up). Set name/version come from `config`; the set's ConfigHash is
// appended to the name's version label only in ModelSchema via the caller if wanted.
[[nodiscard]] Result<FeatureFrame> ComputeFeatureFrame(const features::FeatureSetConfig& config,
                                                       std::span<const market::Bar> bars);

}  // namespace sinyal::models
