// Dataset: feature rows + direction labels for one symbol x timeframe x horizon.
//
// A row is made "at the close of bar t" (the prediction bar). Its features may use bars 0..t
// only; its label is the sign of the forward return close[t+h]/close[t]-1 over the horizon h,
// with |return| <= dead_band counted as neutral (excluded, or kept as a third class).
// Each row keeps its timestamp, forward return and the bar-index range of its label window
// [t+1, t+h], which walk-forward purging uses.
//
// The look-ahead check (CheckNoLookahead) is reusable for any feature computer: it recomputes
// features on prefixes of the series and fails when a row changes once later bars are removed.
//
// Thread safety: plain values; functions are pure.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"

namespace sinyal::models {

// Class indices. Binary datasets use kDown/kUp; three-class datasets add kNeutral.
inline constexpr int kDown = 0;
inline constexpr int kUp = 1;
inline constexpr int kNeutral = 2;

// Columnar bars, oldest first: the minimal input of the models module (market/ adapters fill
// it). `spread` is the bar's spread as a price difference (not points); may be empty.
struct BarColumns {
  std::string symbol;
  std::string timeframe;      // e.g. "H1"
  std::vector<UnixNanos> ts;  // bar open time, UTC ns, strictly increasing
  std::vector<double> open, high, low, close, volume, spread;
  size_t size() const { return ts.size(); }
  // Checks equal column lengths (spread may be empty), increasing time, positive prices.
  [[nodiscard]] Status Validate() const;
  // The bars [0, n) as a new series. REQUIRES: n <= size().
  BarColumns Prefix(size_t n) const;
};

// Anchor meaning "from the first bar given" (see inputs.h).
inline constexpr UnixNanos kSeriesStart = std::numeric_limits<UnixNanos>::min();

// The one conversion of a computed feature value to the model's float input: finite values are
// cast, anything else is NaN ("not defined").
inline float InputValueToFloat(double v) {
  return std::isfinite(v) ? static_cast<float>(v) : std::numeric_limits<float>::quiet_NaN();
}

// Features per bar: row i holds what is known at the close of bar i. NaN = not yet available
// (warm-up); such rows are dropped by BuildDataset.
struct FeatureFrame {
  std::string set_name;                  // e.g. "basic"
  int set_version = 0;                   // bumped whenever any feature's definition changes
  UnixNanos inputs_from = kSeriesStart;  // the anchor: time of the first bar streamed (inputs.h)
  std::vector<std::string> names;
  size_t rows = 0;
  std::vector<float> values;  // rows x names.size(), row-major
  size_t cols() const { return names.size(); }
  const float* Row(size_t i) const { return values.data() + i * names.size(); }
};

// What happens to rows whose forward return lies inside the dead band.
enum class NeutralMode {
  kExclude,     // drop them: binary up/down dataset (default)
  kThirdClass,  // keep them as class kNeutral: three-class dataset
};

struct LabelConfig {
  // Bars ahead the forward return is measured over. Default: 1. Bounds: [1, 500].
  int horizon = 1;
  // |forward return| <= dead_band is neutral. A fraction of price (1e-4 = 1 basis point);
  // should be at least the typical spread relative to price. Default: 1e-4. Bounds: [0, 0.1].
  double dead_band = 1e-4;
  NeutralMode neutral = NeutralMode::kExclude;
};

struct DatasetRow {
  UnixNanos ts = 0;           // open time of the prediction bar t
  uint32_t bar = 0;           // t
  uint32_t label_first = 0;   // t + 1: first bar whose move the label depends on
  uint32_t label_last = 0;    // t + h: last bar of the label window (inclusive)
  float forward_return = 0;   // close[t+h] / close[t] - 1
  int8_t label = 0;           // kDown, kUp or kNeutral
  int8_t last_direction = 0;  // sign of close[t]/close[t-h]-1 beyond the dead band: -1, 0, +1
};

struct Dataset {
  std::string symbol, timeframe;
  std::string feature_set;
  int feature_set_version = 0;
  UnixNanos inputs_from = kSeriesStart;  // the frame's anchor (ModelSchema::inputs_from)
  std::vector<std::string> feature_names;
  int num_classes = 2;
  int horizon = 1;
  double dead_band = 0;
  std::vector<float> x;  // size() x num_features(), row-major
  std::vector<DatasetRow> rows;
  size_t neutral_dropped = 0;  // rows dropped by NeutralMode::kExclude
  size_t warmup_dropped = 0;   // rows dropped because a feature was NaN

  size_t size() const { return rows.size(); }
  size_t num_features() const { return feature_names.size(); }
  const float* Row(size_t i) const { return x.data() + i * feature_names.size(); }
  // Feature rows and labels (as float, for XGBoost) of the given row indices, in order.
  void Gather(std::span<const size_t> idx, std::vector<float>* x_out,
              std::vector<float>* y_out) const;
};

// Builds the dataset from bars and their features.
// Errors: InvalidArgument naming the field when the frame and bars disagree in length, the
// horizon is out of bounds, or no row remains; FailedPrecondition "too little data" when fewer
// than `min_rows` labelled rows remain.
[[nodiscard]] Result<Dataset> BuildDataset(const BarColumns& bars, const FeatureFrame& features,
                                           const LabelConfig& config, size_t min_rows = 1);

// Computes a feature frame from the first `num_bars` bars of a fixed series.
using FeatureComputer = std::function<Result<FeatureFrame>(size_t num_bars)>;

struct LookaheadCheckOptions {
  // Number of prefix lengths probed, spread evenly over the series (plus the few last bars).
  int probes = 24;
  // Largest allowed |full - prefix| difference; 0 = bit-identical (streaming computations are).
  double tolerance = 0;
};

// The leakage detector: for each probed prefix length n, recomputes features on bars [0, n)
// and compares every row < n with the full-series computation. Any difference means a feature
// of some row used a bar after that row. Returns FailedPrecondition naming the feature and bar
// ("feature 'x' at bar 123 changes when later bars are removed: it uses future data").
[[nodiscard]] Status CheckNoLookahead(const FeatureComputer& compute, size_t total_bars,
                                      const LookaheadCheckOptions& options = {});

}  // namespace sinyal::models
