// Interval calibration of a model version: the split-conformal intervals of the forward log
// return (conformal.h) and the move_ratio of the point forecast. This is NOT confidence
// calibration: P(up) is calibrated inside the ensemble (models/calibration.h).
//
// The conformal-row rule (ConformalRowAt) is written once, here, and used by production (the
// interval calibration store of SignalService, fitted when a version is trained or activated)
// and by the report tool behind docs/signals.md. The rule:
//   a bar t is a row when bar t + h exists (h = the model's horizon), the regime at t is ready
//   with a finite rv_t > 0, and every value of the model's input row at t is finite (a signal
//   can be made at t). Every such bar counts, whatever the size of its move: the interval is a
//   forecast of the forward log return of every signal, including moves inside the label dead
//   band (the training set excludes those rows; the intervals must not, or they would be too
//   wide for the small moves that are in fact common).
//     scale  = rv_t * sqrt(h)
//     actual = ln(close[t + h] / close[t])   (double precision, from the bars)
//     group  = the vol state at t (Mondrian groups)
//     point  = (2 P(up) - 1) * move_ratio * scale   (ConformalPoint; 0 while fitting move_ratio)
//
// Thread safety: values and pure functions.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "market/bar.h"
#include "models/dataset.h"
#include "models/ensemble.h"
#include "signals/conformal.h"
#include "signals/regime.h"

namespace sinyal::signals {

// The interval calibration stored with a model version (table signal_calibrations).
struct IntervalCalibration {
  ConformalIntervals conformal;
  double move_ratio = 0;
  size_t rows = 0;                     // held-out rows the quantiles were fitted on
  UnixNanos from = 0, to = 0;          // their bar times
  std::vector<CoverageLine> coverage;  // in-sample check of the fitted quantiles (held-out rows)
  nlohmann::json ToJson() const;
  // DataLoss when the JSON is not a stored calibration.
  [[nodiscard]] static Result<IntervalCalibration> FromJson(const nlohmann::json& j);
};

// The conformal row of bar `t` of `bars` with point 0 (see the rule above); nullopt when bar t
// is not a row. `inputs` is the model's input row at t (empty: not checked).
std::optional<ConformalRow> ConformalRowAt(std::span<const market::Bar> bars, size_t t, int horizon,
                                           const RegimeState& state,
                                           std::span<const float> inputs = {});

// (2 p_up - 1) * move_ratio * scale: the point forecast of a row or a signal.
double ConformalPoint(double p_up, double move_ratio, double scale);

// Which of a model's bars hold its interval calibration.
struct CalibrationWindow {
  UnixNanos data_from = 0, data_to = 0;  // the model's training range (ModelRecord)
  int horizon = 1;
  double held_out_fraction = 0.2;  // the newest share (the trees never saw it)
};

// Fits the calibration of `ensemble` from its held-out rows: among the bars in [data_from,
// data_to] that are conformal rows, the newest held_out_fraction (of the range's bars with a bar
// h later) hold the conformal scores, after a purge of h bars; move_ratio is fitted on the older
// rows, purged of h bars before the split. `bars`, `inputs` (the model's rows, inputs.h) and
// `states` (ClassifyRegimes) index the same bars. Errors: FailedPrecondition ("model") when no
// bar of the range is stored; those of FitMoveRatio and ConformalIntervals::Fit.
[[nodiscard]] Result<IntervalCalibration> FitIntervalCalibration(
    const models::Ensemble& ensemble, const CalibrationWindow& window,
    std::span<const market::Bar> bars, const models::FeatureFrame& inputs,
    std::span<const RegimeState> states, const ConformalConfig& config = {});

// The served interval rule at every horizon (issue 13; docs/models.md "Intervals at every
// horizon"): at a signal's bar t, the split-conformal quantiles (pooled, no Mondrian groups) of
// the conformal rows (ConformalRowAt, point 0) among the newest kRecentIntervalBars bars up to t
// whose forward window has ended by t (row j with j + h <= t): about 1,000 rows at h = 24. They
// follow volatility regimes that a version's fixed held-out quantiles miss (those drifted 4-12 pp
// from nominal per walk-forward fold at 4 and 24 bars on the shared data; this rule stayed within
// 2.6 pp at 80% and 1.5 pp at 95%: sinyal_conformal_study, "rolling1000"). Nothing after t is read.
inline constexpr size_t kRecentIntervalBars = 1024;
// `bars` and `states` (ClassifyRegimes) index the same bars and end at the signal's bar (only the
// newest kRecentIntervalBars are read). FailedPrecondition ("rows") with fewer than
// RecentConformalConfig::min_rows rows (the caller then serves the version's calibration).
[[nodiscard]] Result<ConformalIntervals> RecentIntervals(
    std::span<const market::Bar> bars, std::span<const RegimeState> states, int horizon,
    const std::vector<double>& coverages = {0.8, 0.95});

}  // namespace sinyal::signals
