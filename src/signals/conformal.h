// Split-conformal prediction intervals for the forward log return, normalised by volatility and
// optionally Mondrian (per volatility state).
//
// Model: point_t = (P(up)_t - P(down)_t) * move_ratio * scale_t, where scale_t = rv_t * sqrt(h)
// (rv_t = the regime's per-bar realised volatility at t, known at t) and move_ratio = mean of
// |forward return| / scale over the model's training rows (FitMoveRatio). Conformity score on a
// held-out calibration window: s_i = |y_i - point_i| / scale_i. For coverage c the half-width
// is q_c * scale_t where q_c is the ceil((n + 1) c)-th smallest score (Vovk/Lei et al.: if the
// calibration and test rows are exchangeable, coverage >= c). With Mondrian grouping the scores
// and quantiles are kept per group (vol state), falling back to all scores for a group with
// fewer than min_group scores. Exchangeability does not hold exactly for markets; that is why
// the empirical coverage on a later test window is measured (EvaluateCoverage) and published.
//
// Thread safety: ConformalIntervals is immutable after Fit; all methods const.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <span>
#include <vector>

#include "core/status.h"
#include "models/metrics.h"

namespace sinyal::signals {

struct ConformalConfig {
  std::vector<double> coverages = {0.8, 0.95};  // Default 80% and 95%. Each in (0, 1).
  bool mondrian = true;                         // per-group quantiles. Default true.
  int groups = 3;                               // group labels 0..groups-1 (vol states). Default 3.
  size_t min_group = 200;  // fewer scores: use the pooled quantile. Default 200.
  size_t min_scores = 50;  // fewer calibration rows: error. Default 50.
};

struct ConformalRow {
  double point = 0;   // point forecast of the forward log return
  double scale = 0;   // > 0
  double actual = 0;  // realised forward log return
  int group = 0;      // 0..groups-1
};

struct ReturnInterval {
  double coverage = 0;
  double lo = 0, hi = 0;  // forward log return bounds
};

class ConformalIntervals {
 public:
  ConformalIntervals() = default;
  // Errors: InvalidArgument naming "coverages", "rows[i].scale" (<= 0 or NaN), "rows[i].actual"
  // / "rows[i].point" (NaN), "rows[i].group"; FailedPrecondition ("rows") below min_scores.
  [[nodiscard]] static Result<ConformalIntervals> Fit(std::span<const ConformalRow> calibration,
                                                      const ConformalConfig& config = {});

  // The interval for every configured coverage. `group` outside [0, groups) uses the pooled
  // quantiles. REQUIRES: scale > 0.
  std::vector<ReturnInterval> Predict(double point, double scale, int group) const;
  // The score quantile for coverage index `k` in `group` (pooled when group < 0).
  double Quantile(size_t k, int group) const;
  const ConformalConfig& config() const { return config_; }
  size_t calibration_size() const { return n_; }
  nlohmann::json ToJson() const;
  [[nodiscard]] static Result<ConformalIntervals> FromJson(const nlohmann::json& j);

 private:
  ConformalConfig config_;
  size_t n_ = 0;
  std::vector<double> pooled_;              // per coverage
  std::vector<std::vector<double>> group_;  // [group][coverage]; empty vector = use pooled
  std::vector<size_t> group_n_;
};

// mean(|actual| / scale) over rows (the typical move in scale units). Errors as Fit.
[[nodiscard]] Result<double> FitMoveRatio(std::span<const ConformalRow> rows);

// The served interval rule at every horizon (issue 13; chosen with sinyal_conformal_study on the
// shared data, docs/models.md "Intervals at every horizon"): quantiles of the newest `window`
// resolved rows' scores (rows whose forward window ended by the signal's bar), pooled over vol
// states, refitted at every bar. Fixed quantiles from a model's held-out rows drifted 4-12 pp
// from nominal per fold at 4 and 24 bars, Mondrian groups made it worse; the rolling window
// stayed within about 2.6 pp in every fold at every horizon.
struct RecentConformalConfig {
  size_t window = 2000;   // newest resolved rows used. Default 2000 (about 12 weeks of H1).
  size_t min_rows = 200;  // fewer: FailedPrecondition ("rows").
  std::vector<double> coverages = {0.8, 0.95};
};
// `resolved` oldest first; the newest `window` of them are used (pooled, no groups).
[[nodiscard]] Result<ConformalIntervals> FitRecentConformal(
    std::span<const ConformalRow> resolved, const RecentConformalConfig& config = {});

struct CoverageLine {
  double nominal = 0;
  int group = -1;  // -1 = all rows
  size_t n = 0, covered = 0;
  double empirical = 0;
  models::Interval ci;    // 95% Wilson interval of the empirical coverage
  double mean_width = 0;  // mean hi - lo (log-return units)
};
// Empirical coverage on test rows (which must not overlap the calibration window), overall and
// per group.
std::vector<CoverageLine> EvaluateCoverage(const ConformalIntervals& intervals,
                                           std::span<const ConformalRow> test);

}  // namespace sinyal::signals
