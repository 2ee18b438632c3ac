// A small built-in feature set ("basic", version 1) computed from bars only, used by models/
// tests and by the evaluation tool. It is deliberately simple (lagged log returns, realised
// volatility, RSI, ATR, range position, tick-volume ratio, hour/day of week) and is NOT the
// TA-Lib-exact set of features/; production feature sets come from features/ through the
// FeatureFrame adapter. Every value of row t uses bars 0..t only (CheckNoLookahead proves it).
//
// Thread safety: pure function.
#pragma once

#include "core/status.h"
#include "models/dataset.h"

namespace sinyal::models {

inline constexpr const char* kBasicFeatureSetName = "basic";
inline constexpr int kBasicFeatureSetVersion = 1;

// Computes the "basic" feature frame over all bars. Warm-up rows (first 24 bars) are NaN.
[[nodiscard]] Result<FeatureFrame> ComputeBasicFeatures(const BarColumns& bars);

}  // namespace sinyal::models
