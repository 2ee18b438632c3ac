#include "signals/stats.h"

#include <algorithm>
#include <boost/math/distributions/chi_squared.hpp>
#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <limits>
#include <numeric>

namespace sinyal::signals {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}  // namespace

double Pearson(std::span<const double> x, std::span<const double> y) {
  const size_t n = x.size();
  if (n < 2 || y.size() != n) return kNaN;
  double mx = 0, my = 0;
  for (size_t i = 0; i < n; ++i) {
    mx += x[i];
    my += y[i];
  }
  mx /= static_cast<double>(n);
  my /= static_cast<double>(n);
  double sxx = 0, syy = 0, sxy = 0;
  for (size_t i = 0; i < n; ++i) {
    const double dx = x[i] - mx, dy = y[i] - my;
    sxx += dx * dx;
    syy += dy * dy;
    sxy += dx * dy;
  }
  if (sxx <= 0 || syy <= 0) return kNaN;
  return sxy / std::sqrt(sxx * syy);
}

std::vector<double> AverageRanks(std::span<const double> x) {
  const size_t n = x.size();
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
  std::vector<double> r(n);
  size_t i = 0;
  while (i < n) {
    size_t j = i;
    while (j + 1 < n && x[idx[j + 1]] == x[idx[i]]) ++j;
    const double avg = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
    for (size_t k = i; k <= j; ++k) r[idx[k]] = avg;
    i = j + 1;
  }
  return r;
}

double Spearman(std::span<const double> x, std::span<const double> y) {
  if (x.size() != y.size() || x.size() < 2) return kNaN;
  const auto rx = AverageRanks(x);
  const auto ry = AverageRanks(y);
  return Pearson(rx, ry);
}

double FisherZ(double r) {
  r = std::clamp(r, -0.999999, 0.999999);
  return std::atanh(r);
}

double ChiSquaredSurvival(double x, double df) {
  if (!(x > 0)) return 1.0;
  if (!std::isfinite(x)) return 0.0;
  boost::math::chi_squared_distribution<double> d(df);
  return boost::math::cdf(boost::math::complement(d, x));
}

double NormalTwoSidedP(double z) {
  if (std::isnan(z)) return kNaN;
  return std::erfc(std::fabs(z) / std::sqrt(2.0));
}

double StudentTUpperP(double t, double df) {
  if (std::isnan(t)) return kNaN;
  if (t == std::numeric_limits<double>::infinity()) return 0.0;
  if (t == -std::numeric_limits<double>::infinity()) return 1.0;
  boost::math::students_t_distribution<double> d(df);
  return boost::math::cdf(boost::math::complement(d, t));
}

Result<KruskalWallisResult> KruskalWallis(const std::vector<std::vector<double>>& groups) {
  std::vector<double> all;
  std::vector<size_t> gsize;
  for (size_t g = 0; g < groups.size(); ++g) {
    for (double v : groups[g]) {
      if (std::isnan(v)) {
        return Status::InvalidArgument("group " + std::to_string(g) + " contains NaN", "groups");
      }
    }
    if (groups[g].empty()) continue;
    gsize.push_back(groups[g].size());
    all.insert(all.end(), groups[g].begin(), groups[g].end());
  }
  if (gsize.size() < 2) {
    return Status::InvalidArgument("Kruskal-Wallis needs at least two non-empty groups", "groups");
  }
  const auto ranks = AverageRanks(all);
  const double n = static_cast<double>(all.size());
  double h = 0;
  size_t off = 0;
  for (size_t s : gsize) {
    double rs = 0;
    for (size_t i = 0; i < s; ++i) rs += ranks[off + i];
    off += s;
    h += rs * rs / static_cast<double>(s);
  }
  h = 12.0 / (n * (n + 1)) * h - 3.0 * (n + 1);
  // Tie correction: 1 - sum(t^3 - t) / (n^3 - n).
  std::vector<double> sorted = all;
  std::sort(sorted.begin(), sorted.end());
  double ties = 0;
  for (size_t i = 0; i < sorted.size();) {
    size_t j = i;
    while (j < sorted.size() && sorted[j] == sorted[i]) ++j;
    const double t = static_cast<double>(j - i);
    ties += t * t * t - t;
    i = j;
  }
  const double c = 1.0 - ties / (n * n * n - n);
  if (c > 0) h /= c;
  KruskalWallisResult r;
  r.h = h;
  r.df = static_cast<int>(gsize.size()) - 1;
  r.p_value = ChiSquaredSurvival(h, r.df);
  r.n = all.size();
  return r;
}

Result<PairedTestResult> PairedTTest(std::span<const double> d) {
  if (d.size() < 2)
    return Status::InvalidArgument("paired test needs at least 2 pairs", "differences");
  double m = 0;
  for (size_t i = 0; i < d.size(); ++i) {
    if (!std::isfinite(d[i])) {
      return Status::InvalidArgument("difference " + std::to_string(i) + " is not finite",
                                     "differences");
    }
    m += d[i];
  }
  const double n = static_cast<double>(d.size());
  m /= n;
  double ss = 0;
  for (double v : d) ss += (v - m) * (v - m);
  const double sd = std::sqrt(ss / (n - 1));
  PairedTestResult r;
  r.n = d.size();
  r.mean_difference = m;
  if (sd == 0) {
    r.t = m > 0   ? std::numeric_limits<double>::infinity()
          : m < 0 ? -std::numeric_limits<double>::infinity()
                  : 0.0;
    r.p_greater = m > 0 ? 0.0 : m < 0 ? 1.0 : 0.5;
    return r;
  }
  r.t = m / (sd / std::sqrt(n));
  r.p_greater = StudentTUpperP(r.t, n - 1);
  return r;
}

Result<Contingency> MakeContingency(std::span<const int> a, int ka, std::span<const int> b,
                                    int kb) {
  if (a.size() != b.size()) {
    return Status::InvalidArgument("labelings differ in length: " + std::to_string(a.size()) +
                                       " vs " + std::to_string(b.size()),
                                   "labels");
  }
  if (ka < 1 || kb < 1) return Status::InvalidArgument("label counts must be >= 1", "labels");
  Contingency t;
  t.rows = ka;
  t.cols = kb;
  t.counts.assign(static_cast<size_t>(ka * kb), 0);
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] < 0 || a[i] >= ka || b[i] < 0 || b[i] >= kb) {
      return Status::InvalidArgument("label out of range at row " + std::to_string(i), "labels");
    }
    ++t.counts[static_cast<size_t>(a[i] * kb + b[i])];
  }
  t.n = static_cast<int64_t>(a.size());
  return t;
}

AssociationResult Associate(const Contingency& t) {
  AssociationResult r;
  const double n = static_cast<double>(t.n);
  if (t.n == 0) return r;
  std::vector<double> row(t.rows, 0), col(t.cols, 0);
  for (int i = 0; i < t.rows; ++i) {
    for (int j = 0; j < t.cols; ++j) {
      row[i] += static_cast<double>(t.at(i, j));
      col[j] += static_cast<double>(t.at(i, j));
    }
  }
  int nr = 0, nc = 0;
  for (double v : row) nr += v > 0;
  for (double v : col) nc += v > 0;
  double chi2 = 0, diag = 0;
  for (int i = 0; i < t.rows; ++i) {
    for (int j = 0; j < t.cols; ++j) {
      if (row[i] == 0 || col[j] == 0) continue;
      const double e = row[i] * col[j] / n;
      const double o = static_cast<double>(t.at(i, j));
      chi2 += (o - e) * (o - e) / e;
      if (i == j) diag += o;
    }
  }
  r.chi2 = chi2;
  r.df = (nr - 1) * (nc - 1);
  r.p_value = r.df > 0 ? ChiSquaredSurvival(chi2, r.df) : 1.0;
  const int k = std::min(nr, nc);
  r.cramers_v = k > 1 ? std::sqrt(chi2 / (n * (k - 1))) : 0.0;
  r.agreement = diag / n;
  // Adjusted Rand index.
  auto c2 = [](double x) { return x * (x - 1) / 2; };
  double sum_ij = 0, sum_a = 0, sum_b = 0;
  for (int i = 0; i < t.rows; ++i) {
    for (int j = 0; j < t.cols; ++j) sum_ij += c2(static_cast<double>(t.at(i, j)));
  }
  for (double v : row) sum_a += c2(v);
  for (double v : col) sum_b += c2(v);
  const double expected = sum_a * sum_b / c2(n);
  const double max_index = (sum_a + sum_b) / 2;
  r.adjusted_rand = max_index == expected ? 0.0 : (sum_ij - expected) / (max_index - expected);
  return r;
}

double QuantileSorted(std::span<const double> sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double f = pos - static_cast<double>(lo);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * f;
}

}  // namespace sinyal::signals
