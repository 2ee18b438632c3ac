// Skill: is a probability worth more than the base rate? Measured on out-of-sample rows, with an
// interval that stays honest when labels overlap (horizon > 1).
//
// Per row i (in time order) the loss difference d_i = loss(base rate) - loss(model) is computed
// for log loss and for the Brier score; skill is the mean of d (> 0: the model is better). Rows
// whose label windows overlap (every neighbour at horizon h shares h - 1 bars of its forward
// return) make d autocorrelated, so the standard error is the Newey-West (Bartlett kernel)
// long-run variance with lag L = max(2h, floor(4 (n/100)^(2/9))), not the iid one; the same
// variance gives the effective number of independent rows, n_eff = n * var_iid / var_longrun.
// This is the Diebold-Mariano comparison of two forecasts.
//
// "Shown" means the 95% interval of the log-loss gain lies above zero. Where it does not, the
// product abstains (signals/signal.h): it serves the base rate, never a confidence.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"

namespace sinyal::models {

// Mean of a series with its HAC standard error and 95% interval.
struct MeanInterval {
  size_t n = 0;
  int lag = 0;  // Bartlett lag used
  double mean = 0;
  double se = 0;           // HAC standard error of the mean
  double lo = 0, hi = 0;   // mean -+ 1.96 se
  double n_effective = 0;  // n * var_iid / var_longrun, in [1, n] (0 when n == 0)
};

// The Bartlett lag for n rows at a horizon: max(2 * horizon, floor(4 * (n / 100)^(2/9))).
int HacLag(size_t n, int horizon);

// REQUIRES: values in time order. lag < 0 picks HacLag(n, 1).
MeanInterval HacMean(std::span<const double> values, int lag);

// The smallest mean log-loss gain over the base rate that counts as skill (nats per row). Below it
// a gain is numerical noise (e.g. a calibrator that maps every row to a base rate computed on a
// slightly different set of rows than the benchmark's), not something worth selling.
inline constexpr double kMinSkillGain = 1e-4;

struct SkillEstimate {
  size_t n = 0;
  int horizon = 1;
  double model_log_loss = 0, base_log_loss = 0;
  double model_brier = 0, base_brier = 0;
  MeanInterval log_loss_gain;  // base - model, nats per row; > 0 = skill
  MeanInterval brier_gain;     // base - model; > 0 = skill
  bool shown = false;          // log_loss_gain.lo > 0 and log_loss_gain.mean >= kMinSkillGain
  // One line for a signal's abstain reason or a report, e.g.
  // "log-loss gain -0.0004 [-0.0012, +0.0004] nats over the base rate (n 13715, n_eff 13102)".
  std::string Describe() const;
  nlohmann::json ToJson() const;
  [[nodiscard]] static Result<SkillEstimate> FromJson(const nlohmann::json& j);
};

// Shrinkage by evidence: 0 when |t| < 1.96 (not shown at 95%), else 1 - 1/t^2.
double EvidenceShrink(double t);

// The base-rate forecast of a training window: class frequencies of `labels` (k classes); for
// k = 2 the rate of "up" is shrunk toward 1/2 by its evidence, 1/2 + (r - 1/2) * EvidenceShrink(t)
// with t = (r - 1/2) / HAC se (lag HacLag(n, horizon)): a drift not shown at 95% is not used.
// Returns k probabilities.
std::vector<float> BaseRateForecast(std::span<const int8_t> labels, int num_classes, int horizon);

// model and base are n x k probability rows (k = 2: [P(down), P(up)]); labels in [0, k).
// REQUIRES: equal row counts, rows in time order.
SkillEstimate EstimateSkill(std::span<const float> model, std::span<const float> base,
                            std::span<const int8_t> labels, int num_classes, int horizon);

}  // namespace sinyal::models
