// A Gaussian hidden Markov model with diagonal covariances, fitted by Baum-Welch and decoded by
// Viterbi, both in log space (log-sum-exp), so long hourly series do not underflow.
//
// Used as an independent, statistical check of the rule-based volatility states (regime.h):
// fitted offline on a whole series (it sees the future, unlike the rules), then compared with
// the rules through a contingency table (stats.h Associate). There is no HMM library in Debian
// worth a dependency for ~150 lines.
//
// Initialisation is deterministic: observations are sorted by `sort_dim` and cut into `states`
// equal-count groups whose means and variances start the states; the transition matrix starts
// at 0.9 on the diagonal. After fitting, states are relabelled by increasing mean of `sort_dim`
// (so with sort_dim = log volatility, state 0 = calmest).
//
// Thread safety: pure functions on values.
#pragma once

#include <span>
#include <vector>

#include "core/status.h"

namespace sinyal::signals {

struct GaussianHmmOptions {
  int states = 3;            // Default 3. Bounds [2, 10].
  int max_iterations = 200;  // Default 200.
  double tolerance =
      1e-6;  // stop when the log-likelihood gain per observation is below. Default 1e-6.
  double min_variance = 1e-8;  // variance floor per dimension. Default 1e-8.
  int sort_dim = 0;            // dimension that orders (and initialises) the states. Default 0.
};

struct GaussianHmm {
  int states = 0, dims = 0;
  std::vector<double> log_initial;     // states
  std::vector<double> log_transition;  // states x states, row = from
  std::vector<double> mean, variance;  // states x dims
  double log_likelihood = 0;
  int iterations = 0;
  bool converged = false;
};

// Fits the model to `obs` (n x dims, row-major). Errors: InvalidArgument naming "obs" (size not
// a multiple of dims, fewer than 10 * states rows, non-finite value with its row) or
// "options.states" / "options.sort_dim" out of bounds.
[[nodiscard]] Result<GaussianHmm> FitGaussianHmm(std::span<const double> obs, int dims,
                                                 const GaussianHmmOptions& options = {});

// Most likely state path. REQUIRES: obs.size() is a multiple of model.dims, values finite.
std::vector<int> Viterbi(const GaussianHmm& model, std::span<const double> obs);

}  // namespace sinyal::signals
