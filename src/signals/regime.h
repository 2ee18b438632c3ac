// Market regimes: 12 = 4 trend states x 3 volatility states, from closed bars only.
//
// Exact rules (docs/signals.md repeats them with the figures). At the close of bar t:
//   ADX_t      = TA-Lib ADX(adx_period) of bars <= t (features::Adx, bit-identical to TA-Lib)
//   ATR_t      = TA-Lib ATR(atr_period)
//   EMA_t      = TA-Lib EMA(ema_period) of closes
//   slope_t    = (EMA_t - EMA_{t-L}) / (L * ATR_t), L = slope_lookback: the EMA's drift per bar
//                in ATR units (scale-free: comparable across EURUSD and XAUUSD)
//   trend      = up          if ADX_t >= adx_trend and slope_t >= +slope_threshold
//                down        if ADX_t >= adx_trend and slope_t <= -slope_threshold
//                range       if ADX_t <  adx_trend and |slope_t| < slope_threshold
//                transition  otherwise (directional strength without net drift, e.g. a
//                            reversal; or drift without directional strength, e.g. an early trend)
//   rv_t       = sqrt(mean of the last rv_window squared log returns ln(c_i / c_{i-1}))
//   pct_t      = mid-rank of rv_t among the previous vol_history values rv_{t-1} .. rv_{t-W}
//                (only the past: (#less + #equal / 2) / W'; W' = values held, at most W)
//   vol        = low if pct_t < low_percentile, high if pct_t > high_percentile, else normal
//   regime     = trend * 3 + vol   (0 = range/low ... 11 = transition/high)
// The state is "ready" once ADX, ATR, the slope and rv are defined and at least
// vol_min_history past rv values are held; before that Code() is -1.
//
// Streaming (RegimeClassifier::Update on each closed bar) and batch (ClassifyRegimes) run the
// same code and give identical results (tested).
//
// Thread safety: RegimeClassifier is not synchronized (one per series); functions are pure.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "market/bar.h"

namespace sinyal::signals {

enum class TrendState : uint8_t { kRange = 0, kUp = 1, kDown = 2, kTransition = 3 };
enum class VolState : uint8_t { kLow = 0, kNormal = 1, kHigh = 2 };

inline constexpr int kNumTrendStates = 4;
inline constexpr int kNumVolStates = 3;
inline constexpr int kNumRegimes = kNumTrendStates * kNumVolStates;  // 12

std::string_view TrendStateName(TrendState t);  // "range", "up", "down", "transition"
std::string_view VolStateName(VolState v);      // "low_vol", "normal_vol", "high_vol"
// "up/high_vol" for codes 0..11; "not_ready" otherwise.
std::string RegimeName(int code);

struct RegimeConfig {
  int adx_period = 14;            // Default 14 (Wilder). Bounds [2, 500].
  double adx_trend = 20;          // ADX at or above = directional. Default 20. Bounds (0, 100).
  int atr_period = 14;            // Default 14. Bounds [1, 500].
  int ema_period = 50;            // Default 50. Bounds [2, 1000].
  int slope_lookback = 10;        // L. Default 10. Bounds [1, 500].
  double slope_threshold = 0.05;  // |EMA drift| per bar in ATRs. Default 0.05. Bounds (0, 10].
  int rv_window = 24;  // returns in rv (24 H1 bars = one day). Default 24. Bounds [2, 1000].
  int vol_history =
      2880;  // past rv values ranked (~6 months of H1). Default 2880. Bounds [50, 100000].
  int vol_min_history = 500;        // ready after this many. Default 500. Bounds [20, vol_history].
  double low_percentile = 1.0 / 3;  // Default 1/3.
  double high_percentile = 2.0 / 3;  // Default 2/3. 0 < low < high < 1.
};

// InvalidArgument naming the field ("regime.adx_period", ...).
[[nodiscard]] Status Validate(const RegimeConfig& config);

struct RegimeState {
  UnixNanos time = 0;  // open time of the bar the state was computed at (UTC)
  bool ready = false;
  TrendState trend = TrendState::kRange;
  VolState vol = VolState::kNormal;
  double adx = 0, slope = 0;  // NaN while warming up
  double rv = 0;             // per-bar realised volatility (log-return units); NaN while warming up
  double rv_percentile = 0;  // 0..1; NaN before vol_min_history
  int Code() const {
    return ready ? static_cast<int>(trend) * kNumVolStates + static_cast<int>(vol) : -1;
  }
  // Field-wise equality where NaN equals NaN (states are compared bit for bit in tests).
  friend bool operator==(const RegimeState& a, const RegimeState& b);
};

class RegimeClassifier {
 public:
  [[nodiscard]] static Result<RegimeClassifier> Create(const RegimeConfig& config = {});
  RegimeClassifier(RegimeClassifier&&) noexcept;
  RegimeClassifier& operator=(RegimeClassifier&&) noexcept;
  ~RegimeClassifier();

  // Feeds the next closed bar. InvalidArgument (field "time") when its time is not after the
  // previous bar's; the state is then unchanged.
  [[nodiscard]] Status Update(const market::Bar& bar);
  // The state after the last Update (time 0, not ready before any bar).
  const RegimeState& Current() const;
  void Reset();
  const RegimeConfig& config() const;

 private:
  struct Impl;
  explicit RegimeClassifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One state per bar (ascending times). Errors: config (see Validate) or out-of-order bars.
[[nodiscard]] Result<std::vector<RegimeState>> ClassifyRegimes(std::span<const market::Bar> bars,
                                                               const RegimeConfig& config = {});

// ---- The regime as model features ----
// Names of the columns RegimeFeatures writes: the code 0..11 (a categorical; trees split on it
// fine), trend 0..3, vol 0..2, adx, slope, rv percentile. NaN when not ready.
const std::vector<std::string>& RegimeFeatureNames();
void RegimeFeatures(const RegimeState& state, float* out);  // writes RegimeFeatureNames().size()

// ---- Segmentation statistics ----
struct RegimeRunStats {
  std::array<int64_t, kNumRegimes> bars{};          // ready bars per regime
  std::array<int64_t, kNumRegimes> runs{};          // maximal runs of consecutive bars per regime
  std::array<double, kNumRegimes> mean_duration{};  // bars / runs (NaN when no run)
  // transitions[i][j]: count of consecutive ready pairs (t-1 in i, t in j).
  std::array<std::array<int64_t, kNumRegimes>, kNumRegimes> transitions{};
  int64_t ready_bars = 0;
  // Row-normalised transition probability P(j | i); NaN for an empty row.
  double TransitionProbability(int i, int j) const;
};
// A run ends at a regime change or at a not-ready bar.
RegimeRunStats ComputeRunStats(std::span<const RegimeState> states);

}  // namespace sinyal::signals
