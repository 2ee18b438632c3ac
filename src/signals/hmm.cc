#include "signals/hmm.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace sinyal::signals {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();
constexpr double kLog2Pi = 1.8378770664093453;

double LogSumExp(const double* v, int k) {
  double m = kNegInf;
  for (int i = 0; i < k; ++i) m = std::max(m, v[i]);
  if (m == kNegInf) return kNegInf;
  double s = 0;
  for (int i = 0; i < k; ++i) s += std::exp(v[i] - m);
  return m + std::log(s);
}

// log N(x | mean, var) for every t and state: n x k.
std::vector<double> Emissions(const GaussianHmm& h, std::span<const double> obs, size_t n) {
  std::vector<double> lb(n * h.states);
  for (size_t t = 0; t < n; ++t) {
    const double* x = obs.data() + t * h.dims;
    for (int j = 0; j < h.states; ++j) {
      double l = 0;
      for (int d = 0; d < h.dims; ++d) {
        const double v = h.variance[j * h.dims + d];
        const double z = x[d] - h.mean[j * h.dims + d];
        l += -0.5 * (kLog2Pi + std::log(v) + z * z / v);
      }
      lb[t * h.states + j] = l;
    }
  }
  return lb;
}

void SortStates(GaussianHmm& h, int sort_dim) {
  const int k = h.states, d = h.dims;
  std::vector<int> order(k);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](int a, int b) { return h.mean[a * d + sort_dim] < h.mean[b * d + sort_dim]; });
  GaussianHmm s = h;
  for (int i = 0; i < k; ++i) {
    s.log_initial[i] = h.log_initial[order[i]];
    for (int j = 0; j < k; ++j)
      s.log_transition[i * k + j] = h.log_transition[order[i] * k + order[j]];
    for (int x = 0; x < d; ++x) {
      s.mean[i * d + x] = h.mean[order[i] * d + x];
      s.variance[i * d + x] = h.variance[order[i] * d + x];
    }
  }
  h = std::move(s);
}

}  // namespace

Result<GaussianHmm> FitGaussianHmm(std::span<const double> obs, int dims,
                                   const GaussianHmmOptions& o) {
  if (o.states < 2 || o.states > 10) {
    return Status::InvalidArgument("states must be in [2, 10]", "options.states");
  }
  if (dims < 1 || obs.size() % static_cast<size_t>(dims) != 0) {
    return Status::InvalidArgument("obs size is not a multiple of dims", "obs");
  }
  if (o.sort_dim < 0 || o.sort_dim >= dims) {
    return Status::InvalidArgument("sort_dim must be in [0, dims)", "options.sort_dim");
  }
  const size_t n = obs.size() / static_cast<size_t>(dims);
  const int k = o.states;
  if (n < static_cast<size_t>(10 * k)) {
    return Status::InvalidArgument(
        "need at least " + std::to_string(10 * k) + " observations, got " + std::to_string(n),
        "obs");
  }
  for (size_t i = 0; i < obs.size(); ++i) {
    if (!std::isfinite(obs[i])) {
      return Status::InvalidArgument(
          "observation row " + std::to_string(i / dims) + " is not finite", "obs");
    }
  }
  GaussianHmm h;
  h.states = k;
  h.dims = dims;
  h.log_initial.assign(k, -std::log(static_cast<double>(k)));
  h.log_transition.assign(static_cast<size_t>(k * k), std::log(0.1 / (k - 1)));
  for (int i = 0; i < k; ++i) h.log_transition[i * k + i] = std::log(0.9);
  h.mean.assign(static_cast<size_t>(k * dims), 0);
  h.variance.assign(static_cast<size_t>(k * dims), 1);
  {
    std::vector<size_t> idx(n);
    std::iota(idx.begin(), idx.end(), 0);
    std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
      return obs[a * dims + o.sort_dim] < obs[b * dims + o.sort_dim];
    });
    for (int j = 0; j < k; ++j) {
      const size_t lo = n * j / k, hi = n * (j + 1) / k;
      for (int d = 0; d < dims; ++d) {
        double m = 0, v = 0;
        for (size_t r = lo; r < hi; ++r) m += obs[idx[r] * dims + d];
        m /= static_cast<double>(hi - lo);
        for (size_t r = lo; r < hi; ++r)
          v += (obs[idx[r] * dims + d] - m) * (obs[idx[r] * dims + d] - m);
        v /= static_cast<double>(hi - lo);
        h.mean[j * dims + d] = m;
        h.variance[j * dims + d] = std::max(v, o.min_variance);
      }
    }
  }

  std::vector<double> alpha(n * k), beta(n * k), tmp(k);
  double prev_ll = kNegInf;
  for (int it = 0; it < o.max_iterations; ++it) {
    const auto lb = Emissions(h, obs, n);
    for (int j = 0; j < k; ++j) alpha[j] = h.log_initial[j] + lb[j];
    for (size_t t = 1; t < n; ++t) {
      for (int j = 0; j < k; ++j) {
        for (int i = 0; i < k; ++i) tmp[i] = alpha[(t - 1) * k + i] + h.log_transition[i * k + j];
        alpha[t * k + j] = LogSumExp(tmp.data(), k) + lb[t * k + j];
      }
    }
    for (int j = 0; j < k; ++j) beta[(n - 1) * k + j] = 0;
    for (size_t t = n - 1; t-- > 0;) {
      for (int i = 0; i < k; ++i) {
        for (int j = 0; j < k; ++j) {
          tmp[j] = h.log_transition[i * k + j] + lb[(t + 1) * k + j] + beta[(t + 1) * k + j];
        }
        beta[t * k + i] = LogSumExp(tmp.data(), k);
      }
    }
    const double ll = LogSumExp(alpha.data() + (n - 1) * k, k);
    h.log_likelihood = ll;
    h.iterations = it + 1;
    if (it > 0 && (ll - prev_ll) / static_cast<double>(n) < o.tolerance) {
      h.converged = true;
      break;
    }
    prev_ll = ll;

    // M step.
    std::vector<double> gsum(k, 0), gsum_trans(k, 0), xi(static_cast<size_t>(k * k), 0);
    std::vector<double> msum(static_cast<size_t>(k * dims), 0),
        vsum(static_cast<size_t>(k * dims), 0);
    std::vector<double> g0(k);
    for (size_t t = 0; t < n; ++t) {
      const double* x = obs.data() + t * dims;
      for (int i = 0; i < k; ++i) {
        const double g = std::exp(alpha[t * k + i] + beta[t * k + i] - ll);
        if (t == 0) g0[i] = g;
        gsum[i] += g;
        if (t + 1 < n) gsum_trans[i] += g;
        for (int d = 0; d < dims; ++d) msum[i * dims + d] += g * x[d];
      }
      if (t + 1 < n) {
        for (int i = 0; i < k; ++i) {
          for (int j = 0; j < k; ++j) {
            xi[i * k + j] += std::exp(alpha[t * k + i] + h.log_transition[i * k + j] +
                                      lb[(t + 1) * k + j] + beta[(t + 1) * k + j] - ll);
          }
        }
      }
    }
    for (int i = 0; i < k; ++i) {
      for (int d = 0; d < dims; ++d) msum[i * dims + d] /= std::max(gsum[i], 1e-300);
    }
    for (size_t t = 0; t < n; ++t) {
      const double* x = obs.data() + t * dims;
      for (int i = 0; i < k; ++i) {
        const double g = std::exp(alpha[t * k + i] + beta[t * k + i] - ll);
        for (int d = 0; d < dims; ++d) {
          const double z = x[d] - msum[i * dims + d];
          vsum[i * dims + d] += g * z * z;
        }
      }
    }
    for (int i = 0; i < k; ++i) {
      h.log_initial[i] = std::log(std::max(g0[i], 1e-300));
      double row = 0;
      for (int j = 0; j < k; ++j) row += xi[i * k + j];
      for (int j = 0; j < k; ++j) {
        h.log_transition[i * k + j] =
            std::log(std::max(xi[i * k + j] / std::max(row, 1e-300), 1e-300));
      }
      for (int d = 0; d < dims; ++d) {
        h.mean[i * dims + d] = msum[i * dims + d];
        h.variance[i * dims + d] =
            std::max(vsum[i * dims + d] / std::max(gsum[i], 1e-300), o.min_variance);
      }
    }
    (void)gsum_trans;
  }
  SortStates(h, o.sort_dim);
  return h;
}

std::vector<int> Viterbi(const GaussianHmm& h, std::span<const double> obs) {
  const size_t n = obs.size() / static_cast<size_t>(h.dims);
  const int k = h.states;
  if (n == 0) return {};
  const auto lb = Emissions(h, obs, n);
  std::vector<double> delta(n * k);
  std::vector<int> psi(n * k, 0);
  for (int j = 0; j < k; ++j) delta[j] = h.log_initial[j] + lb[j];
  for (size_t t = 1; t < n; ++t) {
    for (int j = 0; j < k; ++j) {
      double best = kNegInf;
      int arg = 0;
      for (int i = 0; i < k; ++i) {
        const double v = delta[(t - 1) * k + i] + h.log_transition[i * k + j];
        if (v > best) {
          best = v;
          arg = i;
        }
      }
      delta[t * k + j] = best + lb[t * k + j];
      psi[t * k + j] = arg;
    }
  }
  std::vector<int> path(n);
  int s = 0;
  for (int j = 1; j < k; ++j) {
    if (delta[(n - 1) * k + j] > delta[(n - 1) * k + s]) s = j;
  }
  path[n - 1] = s;
  for (size_t t = n - 1; t > 0; --t) {
    s = psi[t * k + s];
    path[t - 1] = s;
  }
  return path;
}

}  // namespace sinyal::signals
