// Drift detection: feature drift (population stability index per feature against the training
// distribution) and live-performance drift (rolling Brier score and hit rate of resolved
// signals against the model's validation figures).
//
// PSI: the reference's bin edges are the deciles of each feature over the training rows (ties
// collapse bins; at least 2 bins are kept); PSI = sum_b (a_b - e_b) ln(a_b / e_b) with e/a the
// training/live shares per bin, each floored at 1e-4 so empty bins stay finite. The usual reading:
// < 0.1 stable, 0.1-0.25 moderate shift, >= 0.25 significant shift.
//
// Thread safety: values and pure functions.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "signals/signal_log.h"

namespace sinyal::signals {

inline constexpr double kPsiModerate = 0.1;
inline constexpr double kPsiSignificant = 0.25;

enum class DriftLevel { kNone, kModerate, kSignificant };
std::string_view DriftLevelName(DriftLevel l);  // "none", "moderate", "significant"

struct PsiReference {
  std::vector<std::string> names;
  std::vector<std::vector<double>> edges;     // per feature: interior cut points, ascending
  std::vector<std::vector<double>> expected;  // per feature: training share per bin
  size_t rows = 0;
  nlohmann::json ToJson() const;
};

// Fits the reference on rows x names.size() row-major floats (the training features).
// Errors: InvalidArgument "x" (size mismatch), "features.<name>" (NaN/inf at a row),
// FailedPrecondition "x" with fewer than 100 rows.
[[nodiscard]] Result<PsiReference> FitPsiReference(std::span<const float> x,
                                                   const std::vector<std::string>& names,
                                                   int bins = 10);

struct FeaturePsi {
  std::string feature;
  double psi = 0;
  DriftLevel level = DriftLevel::kNone;
};
// PSI of each feature of `x` (rows x names, same order as the reference). Errors as Fit; fewer
// than 50 rows is FailedPrecondition.
[[nodiscard]] Result<std::vector<FeaturePsi>> ComputePsi(const PsiReference& reference,
                                                         std::span<const float> x);

// Calibrated feature-drift rule (the one the retrain_check job uses; docs/signals.md section 4,
// "Drift thresholds from data"). The fixed 0.1/0.25 levels assume iid rows; features that persist
// from bar to bar (RSI, 24-bar return, range position, SMA z-score) move together over hundreds
// of bars, so a window of them has a much wider PSI spread than iid theory says and the fixed
// levels raise false alarms in a stable market. Instead each feature gets its own threshold from
// the reference's own null distribution: the PSI against the reference of windows of the same
// length taken from the training rows themselves (rolling, every `stride` rows), at `quantile`,
// times `margin`, and never below `floor`. Drift = at least `min_features` features above their
// thresholds, or any one feature above `extreme`. The defaults are the choice of
// sinyal_drift_calibration on EURUSD/GBPUSD/USDJPY/XAUUSD H1 and 40 synthetic streams: windows
// of 1,000 rows, 1.5 x the null's 99th percentile, k = 3.
struct PsiNull {
  size_t window = 0;              // live window length the thresholds were fitted for
  size_t samples = 0;             // null windows used
  std::vector<double> threshold;  // per feature, reference order
  nlohmann::json ToJson() const;
};

struct DriftRule {
  size_t window = 1000;         // live rows compared with the reference. Default 1,000.
  double quantile = 0.99;       // of the per-feature null PSI. Default 0.99.
  double margin = 1.5;          // threshold = margin x null quantile. Default 1.5.
  double floor = kPsiModerate;  // no threshold below this. Default 0.1.
  int min_features = 3;  // drift when >= this many features exceed their thresholds. Default 3.
  double extreme = 0;    // ... or any one feature has PSI >= this; 0 = off. Default off
                         // (real volatility features pass 1.0 in about a third of ordinary checks).
};

// Null thresholds from `train` (rows x reference.names.size(), time order; the rows the reference
// was fitted on). Windows of rule.window rows start every `stride` rows (0 = window / 4); each is
// compared with a reference fitted on the other training rows (leave-window-out, so the null is
// out of sample like the live window), with the reference's bin count.
// Errors: as ComputePsi; FailedPrecondition "window" when train has fewer than 2 windows of rows.
[[nodiscard]] Result<PsiNull> FitPsiNull(const PsiReference& reference,
                                         std::span<const float> train, const DriftRule& rule,
                                         size_t stride = 0);

struct FeatureDriftVerdict {
  bool drift = false;
  int above = 0;                     // features above their thresholds
  std::vector<std::string> reasons;  // with the figures, empty when no drift
};
// REQUIRES: psi in the reference's order, same length as null.threshold.
FeatureDriftVerdict JudgeFeatureDrift(std::span<const FeaturePsi> psi, const PsiNull& null,
                                      const DriftRule& rule);

// Figures measured on validation data when the model was trained (stored with the model).
struct ValidationFigures {
  double brier = 0.25;
  double log_loss = 0.693;
  double hit_rate = 0.5;  // accuracy of directional (non-abstained) calls
};

struct PerformanceTolerance {
  double brier = 0.01;       // live Brier may exceed validation by this much. Default 0.01.
  double hit_rate = 0.03;    // live hit rate may fall below validation by this much. Default 3 pp.
  size_t min_signals = 200;  // fewer resolved signals: no verdict. Default 200.
  size_t min_directional = 100;  // fewer directional ones: no hit-rate verdict. Default 100.
};

struct PerformanceCheck {
  bool enough_data = false;
  bool degraded = false;
  std::vector<std::string> reasons;  // human-readable, with the figures
  LivePerformance live;
};
PerformanceCheck CheckPerformance(const LivePerformance& live, const ValidationFigures& validation,
                                  const PerformanceTolerance& tolerance = {});

}  // namespace sinyal::signals
