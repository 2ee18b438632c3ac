// Probability calibration: isotonic regression (pool-adjacent-violators) with a minimum block
// size, fitted on held-back data only.
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
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace sinyal::models {

class IsotonicMap {
 public:
  IsotonicMap() = default;  // identity-free empty map: Apply returns its input
  // Fits outcome (0/1) on score. Errors: InvalidArgument when sizes differ or fewer than
  // 2 * min_block samples are given (field "calibration").
  [[nodiscard]] static Result<IsotonicMap> Fit(std::span<const float> score,
                                               std::span<const uint8_t> outcome,
                                               size_t min_block);
  double Apply(double score) const;
  bool empty() const { return x_.empty(); }
  size_t knots() const { return x_.size(); }
  nlohmann::json ToJson() const;
  [[nodiscard]] static Result<IsotonicMap> FromJson(const nlohmann::json& j);

 private:
  std::vector<double> x_, y_;  // block centres (increasing) and their outcome rates
};

// Calibrates K-class probability rows: K = 2 maps P(up) (P(down) = 1 - P(up)); K = 3 maps each
// class one-vs-rest and renormalises the row to sum to 1.
class Calibrator {
 public:
  Calibrator() = default;
  // REQUIRES: probs.size() == labels.size() * num_classes.
  [[nodiscard]] static Result<Calibrator> Fit(std::span<const float> probs,
                                              std::span<const int8_t> labels, int num_classes,
                                              size_t min_block);
  // In place on one row of num_classes probabilities.
  void Apply(float* row) const;
  int num_classes() const { return num_classes_; }
  const std::vector<IsotonicMap>& maps() const { return maps_; }
  nlohmann::json ToJson() const;
  [[nodiscard]] static Result<Calibrator> FromJson(const nlohmann::json& j);

 private:
  int num_classes_ = 2;
  std::vector<IsotonicMap> maps_;  // 1 map for K = 2, K maps otherwise
};

}  // namespace sinyal::models
