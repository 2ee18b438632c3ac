// A small built-in feature set ("basic", version 1) computed from bars only, used by models/
// tests, by the evaluation tool and by models trained with feature_set "basic". It is
// deliberately simple (lagged log returns, realised volatility, RSI, ATR, range position,
// tick-volume ratio, hour/day of week) and is NOT the TA-Lib-exact set of features/.
// It is computed by streaming (BasicFeatureStream), like every feature set: row t uses bars
// 0..t only (CheckNoLookahead proves it). Models compute it through the seam (inputs.h).
//
// Thread safety: BasicFeatureStream is not synchronised; ComputeBasicFeatures is pure.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "models/dataset.h"

namespace sinyal::models {

inline constexpr const char* kBasicFeatureSetName = "basic";
inline constexpr int kBasicFeatureSetVersion = 1;
inline constexpr int kBasicWarmupBars = 24;  // rows 0..23 are NaN

// The set's feature names, in row order.
const std::vector<std::string>& BasicFeatureNames();

// Streaming "basic" features: feed bars in time order; Update writes the row of that bar
// (BasicFeatureNames().size() doubles, NaN during the first kBasicWarmupBars bars).
class BasicFeatureStream {
 public:
  void Update(UnixNanos time, double open, double high, double low, double close, double volume,
              double* out);

 private:
  static constexpr size_t kKeep = kBasicWarmupBars + 1;  // closes back to t - 24
  std::array<double, kKeep> close_{}, high_{}, low_{}, volume_{};
  size_t t_ = 0;  // bars seen
  double avg_gain_ = 0, avg_loss_ = 0, atr_ = 0, prev_close_ = 0;
};

// Computes the "basic" feature frame over all bars (BasicFeatureStream in a loop; each value
// cast to float as inputs.h does). Warm-up rows (first 24 bars) are NaN.
[[nodiscard]] Result<FeatureFrame> ComputeBasicFeatures(const BarColumns& bars);

}  // namespace sinyal::models
