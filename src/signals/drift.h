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
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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

// Figures measured on validation data when the model was trained (stored with the model).
struct ValidationFigures {
  double brier = 0.25;
  double log_loss = 0.693;
  double hit_rate = 0.5;  // accuracy of directional (non-abstained) calls
};

struct PerformanceTolerance {
  double brier = 0.01;      // live Brier may exceed validation by this much. Default 0.01.
  double hit_rate = 0.03;   // live hit rate may fall below validation by this much. Default 3 pp.
  size_t min_signals = 200; // fewer resolved signals: no verdict. Default 200.
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
