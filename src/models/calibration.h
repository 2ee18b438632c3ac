// Probability calibration, fitted on held-back data only. Two methods:
//
// 1. Shrunk logistic (the default, `CalibrationMethod::kShrunkLogistic`): logit(p) = a + b *
//    (logit(score) - c), fitted by maximum likelihood, then shrunk toward the base rate by the
//    evidence. The slope's standard error is the Newey-West sandwich (Bartlett lag as in skill.h:
//    at least 2 x the horizon), so overlapping labels at long horizons count for what they are
//    worth (about n / h independent rows), not n. The slope is kept only when it is at least
//    `min_slope_t` standard errors above 0 (a one-parameter test of "the score carries
//    information on these rows"), and then multiplied by (1 - 1/t^2); otherwise it is 0 and the
//    map is the constant base rate: the model has no skill to sell (`informative()` false). A
//    negative slope (a score that is anti-informative on held-back rows) is never flipped: it is
//    no skill too. The base rate is the prior `prior_up` (the caller passes BaseRateForecast of
//    all the training rows, skill.h: shrunk toward 1/2 unless the drift is shown) or 1/2; with a
//    slope, the intercept is refitted on the held-back rows and shrunk toward the prior by their
//    evidence (factor EvidenceShrink(t)), so a drift of a few months is not sold as an edge.
//
// 2. Isotonic regression (pool-adjacent-violators) with a minimum block size:
//
// Why isotonic and not Platt: Platt assumes the calibrated log-odds are linear in the raw
// score. Averaged, subsampled boosters squeeze probabilities towards 0.5 by different amounts
// in different score ranges, so a fixed sigmoid shape can be wrong in the tails. Isotonic makes
// no shape assumption, only monotonicity. Its known weakness, overfitting a step function on few
// points, is handled by the safeguard: after PAV, any block with fewer than `min_block` samples
// is merged with its nearer neighbour (merging adjacent blocks of a monotone sequence keeps it
// monotone), and the map is piecewise linear between block centres, flat outside them, and
// clipped to [0.001, 0.999] so log loss stays finite.
//
// Thread safety: immutable after Fit; Apply is const and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <span>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace sinyal::models {

enum class CalibrationMethod {
  kShrunkLogistic,  // default
  kIsotonic,
};
const char* CalibrationMethodName(CalibrationMethod m);  // "shrunk_logistic", "isotonic"
[[nodiscard]] Result<CalibrationMethod> ParseCalibrationMethod(std::string_view name);

struct CalibrationOptions {
  CalibrationMethod method = CalibrationMethod::kShrunkLogistic;
  size_t min_block = 100;     // isotonic: minimum block (rows)
  int horizon = 1;            // label horizon in bars: the HAC lag of the evidence
  double min_slope_t = 1.96;  // shrunk logistic: slope t statistic needed to keep any slope
  // Shrunk logistic: the base-rate forecast of all the training rows (BaseRateForecast); NaN
  // = 1/2. The map is this constant when it keeps no slope.
  double prior_up = std::numeric_limits<double>::quiet_NaN();
};

// The shrunk logistic map of one binary outcome (see the header comment).
class LogisticShrinkMap {
 public:
  LogisticShrinkMap() = default;  // constant 1/2
  // Errors: InvalidArgument ("calibration") when sizes differ or fewer than 50 rows are given.
  [[nodiscard]] static Result<LogisticShrinkMap> Fit(
      std::span<const float> score, std::span<const uint8_t> outcome, int horizon,
      double min_slope_t, double prior_up = std::numeric_limits<double>::quiet_NaN());
  double Apply(double score) const;
  bool informative() const { return slope_ > 0; }
  double base_rate()
      const;  // the map's value at the centre score (the constant when not informative)
  double slope() const { return slope_; }
  // Diagnostics of the fit (also in ToJson).
  double slope_mle() const { return slope_mle_; }
  double slope_t() const { return slope_t_; }
  double n_effective() const { return n_effective_; }
  nlohmann::json ToJson() const;
  [[nodiscard]] static Result<LogisticShrinkMap> FromJson(const nlohmann::json& j);

 private:
  double center_ = 0, slope_ = 0, intercept_ = 0;
  double slope_mle_ = 0, slope_se_ = 0, slope_t_ = 0;
  double observed_rate_ = 0.5, prior_rate_ = 0.5, rate_shrink_ = 0, n_effective_ = 0;
  size_t n_ = 0;
};

class IsotonicMap {
 public:
  IsotonicMap() = default;  // identity-free empty map: Apply returns its input
  // Fits outcome (0/1) on score. Errors: InvalidArgument when sizes differ or fewer than
  // 2 * min_block samples are given (field "calibration").
  [[nodiscard]] static Result<IsotonicMap> Fit(std::span<const float> score,
                                               std::span<const uint8_t> outcome, size_t min_block);
  double Apply(double score) const;
  bool empty() const { return x_.empty(); }
  size_t knots() const { return x_.size(); }
  const std::vector<double>& levels() const { return y_; }  // outcome rates of the blocks
  nlohmann::json ToJson() const;
  [[nodiscard]] static Result<IsotonicMap> FromJson(const nlohmann::json& j);

 private:
  std::vector<double> x_, y_;  // block centres (increasing) and their outcome rates
};

// Calibrates K-class probability rows: K = 2 maps P(up) (P(down) = 1 - P(up)); K = 3 maps each
// class one-vs-rest and renormalises the row to sum to 1 (isotonic only: a 3-class model asked
// for the shrunk logistic map gets isotonic maps, and the JSON says so).
class Calibrator {
 public:
  Calibrator() = default;
  // REQUIRES: probs.size() == labels.size() * num_classes.
  [[nodiscard]] static Result<Calibrator> Fit(std::span<const float> probs,
                                              std::span<const int8_t> labels, int num_classes,
                                              const CalibrationOptions& options);
  // Isotonic with `min_block` (the method of models stored before the shrunk logistic map).
  [[nodiscard]] static Result<Calibrator> Fit(std::span<const float> probs,
                                              std::span<const int8_t> labels, int num_classes,
                                              size_t min_block);
  // In place on one row of num_classes probabilities.
  void Apply(float* row) const;
  int num_classes() const { return num_classes_; }
  CalibrationMethod method() const { return method_; }
  // False when the calibrated output is a constant (the shrunk logistic map found no evidence
  // of skill on the held-back rows): the model predicts the base rate and must not be sold as a
  // directional call. Isotonic maps are informative when they have more than one level.
  bool informative() const;
  // P(up) of the constant a non-informative binary map returns (else the map's centre value).
  double base_rate() const;
  const std::vector<IsotonicMap>& maps() const { return maps_; }
  const LogisticShrinkMap& logistic() const { return logistic_; }
  nlohmann::json ToJson() const;
  [[nodiscard]] static Result<Calibrator> FromJson(const nlohmann::json& j);

 private:
  int num_classes_ = 2;
  CalibrationMethod method_ = CalibrationMethod::kIsotonic;
  std::vector<IsotonicMap> maps_;  // isotonic: 1 map for K = 2, K maps otherwise
  LogisticShrinkMap logistic_;     // shrunk logistic (K = 2)
};

}  // namespace sinyal::models
