// Small statistics used by signals/: correlation, rank tests, contingency measures, paired tests.
//
// Distribution functions (chi-squared, Student t, normal) come from Boost.Math; the statistics
// are written here because they are a few lines each and need our conventions (NaN handling,
// tie corrections). Every function that can see bad input returns Result/Status naming the
// argument; the pure numeric helpers document their REQUIRES instead.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"

namespace sinyal::signals {

// Pearson correlation. NaN when n < 2 or either side has zero variance.
// REQUIRES: x.size() == y.size().
double Pearson(std::span<const double> x, std::span<const double> y);

// Average ranks (1-based; ties get the mean of their ranks).
std::vector<double> AverageRanks(std::span<const double> x);

// Spearman rank correlation (Pearson of average ranks). NaN as Pearson.
double Spearman(std::span<const double> x, std::span<const double> y);

// Fisher z transform atanh(r), with r clipped to +-0.999999.
double FisherZ(double r);

// P(X > x) for X ~ chi-squared(df); 1 for x <= 0.
double ChiSquaredSurvival(double x, double df);
// Two-sided p-value of a standard normal statistic z.
double NormalTwoSidedP(double z);
// One-sided p-value P(T > t) for Student t with df degrees of freedom.
double StudentTUpperP(double t, double df);

struct KruskalWallisResult {
  double h = 0;        // tie-corrected H statistic
  int df = 0;          // non-empty groups - 1
  double p_value = 1;  // chi-squared(df) approximation
  size_t n = 0;        // observations used
};
// Kruskal-Wallis H test across groups (empty groups are ignored; NaN values are an error).
// Errors: InvalidArgument (field "groups") when fewer than two non-empty groups or a NaN.
[[nodiscard]] Result<KruskalWallisResult> KruskalWallis(
    const std::vector<std::vector<double>>& groups);

struct PairedTestResult {
  size_t n = 0;
  double mean_difference = 0;  // mean of d
  double t = 0;                // mean / (sd / sqrt(n))
  double p_greater = 1;        // one-sided p of H1: mean(d) > 0 (Student t, n - 1 df)
};
// Paired t-test on differences d. Errors: InvalidArgument (field "differences") when n < 2 or
// a value is not finite. Zero variance gives t = +-inf (p 0 or 1) or 0 (p 0.5) for mean 0.
[[nodiscard]] Result<PairedTestResult> PairedTTest(std::span<const double> d);

// Contingency table of two labelings; rows = labels of a (0..ka-1), cols = labels of b.
struct Contingency {
  int rows = 0, cols = 0;
  std::vector<int64_t> counts;  // rows x cols, row-major
  int64_t n = 0;
  int64_t at(int r, int c) const { return counts[static_cast<size_t>(r * cols + c)]; }
};
// Errors: InvalidArgument when sizes differ or a label is outside [0, k).
[[nodiscard]] Result<Contingency> MakeContingency(std::span<const int> a, int ka,
                                                  std::span<const int> b, int kb);

struct AssociationResult {
  double chi2 = 0;
  int df = 0;
  double p_value = 1;
  double cramers_v = 0;      // sqrt(chi2 / (n (min(r, c) - 1))), over non-empty rows/cols
  double adjusted_rand = 0;  // Hubert-Arabie adjusted Rand index
  double agreement = 0;      // share of the diagonal (meaningful when labels correspond)
};
AssociationResult Associate(const Contingency& t);

// Quantile of sorted data with linear interpolation (type 7). REQUIRES: !sorted.empty().
double QuantileSorted(std::span<const double> sorted, double q);

}  // namespace sinyal::signals
