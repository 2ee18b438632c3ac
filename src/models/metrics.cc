#include "models/metrics.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <numeric>

#include "models/dataset.h"

namespace sinyal::models {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}

Interval WilsonInterval(size_t successes, size_t n, double z) {
  if (n == 0) return {0, 1};
  const double nn = static_cast<double>(n);
  const double p = static_cast<double>(successes) / nn;
  const double z2 = z * z;
  const double denom = 1 + z2 / nn;
  const double center = (p + z2 / (2 * nn)) / denom;
  const double half = z * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / denom;
  return {std::max(0.0, center - half), std::min(1.0, center + half)};
}

double McNemarExactP(size_t b, size_t c) {
  const size_t n = b + c;
  if (n == 0) return 1.0;
  const size_t k = std::min(b, c);
  // P(X <= k) for X ~ Binomial(n, 1/2), summed in log space for large n.
  const double log_half_n = -static_cast<double>(n) * std::log(2.0);
  const double lg_n1 = std::lgamma(static_cast<double>(n) + 1);
  double tail = 0;
  for (size_t i = 0; i <= k; ++i) {
    const double lp = lg_n1 - std::lgamma(static_cast<double>(i) + 1) -
                      std::lgamma(static_cast<double>(n - i) + 1) + log_half_n;
    tail += std::exp(lp);
  }
  return std::min(1.0, 2 * tail);
}

std::vector<double> AbstentionThresholds() {
  std::vector<double> t;
  for (int i = 0; i <= 6; ++i) t.push_back(0.50 + 0.05 * i);
  return t;
}

std::vector<int8_t> Argmax(std::span<const float> probs, int k) {
  const size_t n = probs.size() / static_cast<size_t>(k);
  std::vector<int8_t> out(n);
  for (size_t i = 0; i < n; ++i) {
    const float* p = probs.data() + i * k;
    out[i] = static_cast<int8_t>(std::max_element(p, p + k) - p);
  }
  return out;
}

namespace {

double RocAuc(const std::vector<double>& score, const std::vector<bool>& positive) {
  const size_t n = score.size();
  size_t pos = 0;
  for (bool b : positive) pos += b;
  const size_t neg = n - pos;
  if (pos == 0 || neg == 0) return kNaN;
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] < score[b]; });
  // Mid-ranks for ties.
  double rank_sum_pos = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j + 1 < n && score[order[j + 1]] == score[order[i]]) ++j;
    const double mid = (static_cast<double>(i) + static_cast<double>(j)) / 2 + 1;
    for (size_t k = i; k <= j; ++k) {
      if (positive[order[k]]) rank_sum_pos += mid;
    }
    i = j + 1;
  }
  const double p = static_cast<double>(pos), q = static_cast<double>(neg);
  return (rank_sum_pos - p * (p + 1) / 2) / (p * q);
}

}  // namespace

ClassificationMetrics ComputeMetrics(std::span<const float> probs, std::span<const int8_t> labels,
                                     int k, int bins) {
  assert(probs.size() == labels.size() * static_cast<size_t>(k));
  ClassificationMetrics m;
  const size_t n = labels.size();
  m.n = n;
  m.class_counts.assign(k, 0);
  std::vector<size_t> class_correct(k, 0);
  std::vector<double> conf(n), up_score(n);
  std::vector<bool> is_up(n);
  double ll = 0, brier = 0;
  for (size_t i = 0; i < n; ++i) {
    const float* p = probs.data() + i * k;
    const int y = labels[i];
    const int pred = static_cast<int>(std::max_element(p, p + k) - p);
    m.class_counts[y]++;
    if (pred == y) {
      ++m.correct;
      ++class_correct[y];
    }
    ll -= std::log(std::clamp(static_cast<double>(p[y]), 1e-15, 1.0));
    if (k == 2) {
      const double d = p[kUp] - (y == kUp ? 1.0 : 0.0);
      brier += d * d;
    } else {
      for (int c = 0; c < k; ++c) {
        const double d = p[c] - (y == c ? 1.0 : 0.0);
        brier += d * d;
      }
    }
    conf[i] = *std::max_element(p, p + k);
    up_score[i] = p[kUp];
    is_up[i] = y == kUp;
  }
  if (n == 0) {
    m.accuracy = m.balanced_accuracy = m.log_loss = m.brier = m.roc_auc = kNaN;
    m.accuracy_ci = {0, 1};
    return m;
  }
  m.accuracy = static_cast<double>(m.correct) / n;
  m.accuracy_ci = WilsonInterval(m.correct, n);
  double recall_sum = 0;
  int present = 0;
  for (int c = 0; c < k; ++c) {
    if (m.class_counts[c] == 0) continue;
    recall_sum += static_cast<double>(class_correct[c]) / m.class_counts[c];
    ++present;
  }
  m.balanced_accuracy = recall_sum / present;
  m.log_loss = ll / n;
  m.brier = brier / n;
  m.roc_auc = RocAuc(up_score, is_up);

  // Reliability: binary on P(up); K = 3 on top-class confidence vs correctness.
  m.reliability.resize(bins);
  std::vector<double> sum_pred(bins, 0), sum_obs(bins, 0);
  for (size_t i = 0; i < n; ++i) {
    double x;
    double obs;
    if (k == 2) {
      x = up_score[i];
      obs = is_up[i] ? 1 : 0;
    } else {
      x = conf[i];
      const float* p = probs.data() + i * k;
      obs = (std::max_element(p, p + k) - p) == labels[i] ? 1 : 0;
    }
    int b = std::clamp(static_cast<int>(x * bins), 0, bins - 1);
    m.reliability[b].count++;
    sum_pred[b] += x;
    sum_obs[b] += obs;
  }
  double gap = 0;
  for (int b = 0; b < bins; ++b) {
    auto& r = m.reliability[b];
    r.lo = static_cast<double>(b) / bins;
    r.hi = static_cast<double>(b + 1) / bins;
    if (r.count == 0) {
      r.mean_predicted = r.observed = kNaN;
      continue;
    }
    r.mean_predicted = sum_pred[b] / r.count;
    r.observed = sum_obs[b] / r.count;
    gap += r.count * std::fabs(r.mean_predicted - r.observed);
  }
  m.reliability_gap = gap / n;

  for (double thr : AbstentionThresholds()) {
    AbstentionPoint a;
    a.threshold = thr;
    size_t kept = 0, right = 0;
    for (size_t i = 0; i < n; ++i) {
      if (conf[i] + 1e-12 < thr) continue;
      ++kept;
      const float* p = probs.data() + i * k;
      right += (std::max_element(p, p + k) - p) == labels[i];
    }
    a.n = kept;
    a.coverage = static_cast<double>(kept) / n;
    a.accuracy = kept ? static_cast<double>(right) / kept : kNaN;
    a.accuracy_ci = WilsonInterval(right, kept);
    m.abstention.push_back(a);
  }
  return m;
}

PairedComparison ComparePaired(std::span<const int8_t> model_pred,
                               std::span<const int8_t> baseline_pred,
                               std::span<const int8_t> labels) {
  assert(model_pred.size() == labels.size() && baseline_pred.size() == labels.size());
  PairedComparison c;
  c.n = labels.size();
  size_t model_right = 0, base_right = 0;
  for (size_t i = 0; i < c.n; ++i) {
    const bool a = model_pred[i] == labels[i];
    const bool b = baseline_pred[i] == labels[i];
    model_right += a;
    base_right += b;
    if (a && !b) ++c.model_only_correct;
    if (!a && b) ++c.baseline_only_correct;
  }
  if (c.n > 0) {
    c.accuracy_difference =
        (static_cast<double>(model_right) - static_cast<double>(base_right)) / c.n;
  }
  c.p_value = McNemarExactP(c.model_only_correct, c.baseline_only_correct);
  return c;
}

}  // namespace sinyal::models
