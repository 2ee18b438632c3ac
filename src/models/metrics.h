// Classification metrics for direction models, each with its sample size.
//
// Predictions are probabilities, n x K row-major (K = 2: [P(down), P(up)]; K = 3 adds
// P(neutral) in column kNeutral). Conventions:
// - accuracy: argmax == label, with the 95% Wilson score interval;
// - balanced accuracy: mean recall over the classes present;
// - log loss: mean -ln p[label], p clipped to [1e-15, 1];
// - Brier: binary (p_up - 1{up})^2; K = 3: sum over classes of (p_k - 1{label=k})^2;
// - ROC AUC: of P(up) for "up" vs the rest (Mann-Whitney, ties counted half); NaN when one
//   side is empty;
// - reliability: binary on P(up) vs observed frequency of up; K = 3 on top-class confidence vs
//   observed accuracy; 10 equal-width bins; gap = count-weighted mean |predicted - observed|
//   (the expected calibration error);
// - abstention: confidence = max_k p_k; for thresholds 0.50, 0.55, ..., 0.80 the accuracy on
//   rows with confidence >= threshold and the coverage (their share of all rows).
// Samples are treated as independent; with horizon > 1 neighbouring labels overlap and the
// intervals are too narrow (docs/models.md says so).
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace sinyal::models {

struct Interval {
  double lo = 0, hi = 0;
};

// 95% (z = 1.96) Wilson score interval of successes / n. n == 0 gives [0, 1].
Interval WilsonInterval(size_t successes, size_t n, double z = 1.959963984540054);

// Exact two-sided McNemar test (binomial, p = 1/2) on the discordant pairs: b = rows only the
// model got right, c = rows only the baseline got right. Returns 1 when b + c == 0.
double McNemarExactP(size_t b, size_t c);

struct ReliabilityBin {
  double lo = 0, hi = 0;  // bin edges of the predicted probability
  size_t count = 0;
  double mean_predicted = 0;  // NaN when count == 0
  double observed = 0;        // observed frequency; NaN when count == 0
};

struct AbstentionPoint {
  double threshold = 0;
  size_t n = 0;         // rows kept (confidence >= threshold)
  double coverage = 0;  // n / all rows
  double accuracy = 0;  // NaN when n == 0
  Interval accuracy_ci;
};

struct ClassificationMetrics {
  size_t n = 0;
  size_t correct = 0;
  double accuracy = 0;
  Interval accuracy_ci;
  double balanced_accuracy = 0;
  double log_loss = 0;
  double brier = 0;
  double roc_auc = 0;                // NaN when undefined
  std::vector<size_t> class_counts;  // true labels per class
  std::vector<ReliabilityBin> reliability;
  double reliability_gap = 0;  // count-weighted mean |predicted - observed|
  std::vector<AbstentionPoint> abstention;
};

// The abstention thresholds used everywhere: 0.50, 0.55, ..., 0.80.
std::vector<double> AbstentionThresholds();

// REQUIRES: probs.size() == labels.size() * num_classes; labels in [0, num_classes).
ClassificationMetrics ComputeMetrics(std::span<const float> probs, std::span<const int8_t> labels,
                                     int num_classes, int reliability_bins = 10);

// Hard predictions (argmax) of a probability matrix.
std::vector<int8_t> Argmax(std::span<const float> probs, int num_classes);

struct PairedComparison {
  size_t n = 0;
  size_t model_only_correct = 0;     // b
  size_t baseline_only_correct = 0;  // c
  double accuracy_difference = 0;    // model - baseline
  double p_value = 1;                // exact McNemar, two-sided
};

// Compares two hard predictors on the same rows. REQUIRES: equal sizes.
PairedComparison ComparePaired(std::span<const int8_t> model_pred,
                               std::span<const int8_t> baseline_pred,
                               std::span<const int8_t> labels);

}  // namespace sinyal::models
