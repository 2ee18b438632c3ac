#include "models/metrics.h"

#include <cmath>
#include <random>

#include "core/testing/test_util.h"
#include "models/calibration.h"
#include "models/dataset.h"

namespace sinyal::models {
namespace {

TEST(MetricsTest, WilsonIntervalKnownValues) {
  // 50/100: the classic [0.4038, 0.5962].
  Interval a = WilsonInterval(50, 100);
  EXPECT_NEAR(a.lo, 0.40383, 1e-4);
  EXPECT_NEAR(a.hi, 0.59617, 1e-4);
  // 0/10: [0, 0.2775].
  Interval b = WilsonInterval(0, 10);
  EXPECT_NEAR(b.lo, 0.0, 1e-12);
  EXPECT_NEAR(b.hi, 0.27753, 1e-4);
  Interval c = WilsonInterval(0, 0);
  EXPECT_EQ(c.lo, 0);
  EXPECT_EQ(c.hi, 1);
}

TEST(MetricsTest, McNemarExactKnownValues) {
  // b=10, c=2: 2 * P(X <= 2 | n=12, 1/2) = 2 * 79/4096 = 0.03857.
  EXPECT_NEAR(McNemarExactP(10, 2), 0.0385742, 1e-6);
  EXPECT_NEAR(McNemarExactP(2, 10), 0.0385742, 1e-6);
  EXPECT_DOUBLE_EQ(McNemarExactP(0, 0), 1.0);
  EXPECT_DOUBLE_EQ(McNemarExactP(5, 5), 1.0);
  // Large n stays finite and small for a real difference: 5600 vs 5400.
  const double p = McNemarExactP(5600, 5400);
  EXPECT_GT(p, 0.04);
  EXPECT_LT(p, 0.07);
}

TEST(MetricsTest, BinaryMetricsByHand) {
  // Rows: P(up) 0.9 up, 0.8 down, 0.3 down, 0.6 up.
  std::vector<float> p = {0.1f, 0.9f, 0.2f, 0.8f, 0.7f, 0.3f, 0.4f, 0.6f};
  std::vector<int8_t> y = {kUp, kDown, kDown, kUp};
  ClassificationMetrics m = ComputeMetrics(p, y, 2);
  EXPECT_EQ(m.n, 4u);
  EXPECT_EQ(m.correct, 3u);
  EXPECT_DOUBLE_EQ(m.accuracy, 0.75);
  EXPECT_DOUBLE_EQ(m.balanced_accuracy, 0.75);
  EXPECT_NEAR(m.brier, (0.01 + 0.64 + 0.09 + 0.16) / 4, 1e-6);
  EXPECT_NEAR(m.log_loss, -(std::log(0.9) + std::log(0.2) + std::log(0.7) + std::log(0.6)) / 4,
              1e-6);
  // AUC: positives {0.9, 0.6}, negatives {0.8, 0.3}: pairs won 0.9>0.8, 0.9>0.3, 0.6>0.3 -> 3/4.
  EXPECT_DOUBLE_EQ(m.roc_auc, 0.75);
  // Abstaining below 0.75 keeps 0.9 (right) and 0.8 (wrong).
  ASSERT_EQ(m.abstention.size(), 7u);
  EXPECT_DOUBLE_EQ(m.abstention[0].coverage, 1.0);
  EXPECT_DOUBLE_EQ(m.abstention[5].threshold, 0.75);
  EXPECT_EQ(m.abstention[5].n, 2u);
  EXPECT_DOUBLE_EQ(m.abstention[5].accuracy, 0.5);
  // Reliability: 0.9f is just below 0.9, so bin [0.8, 0.9) holds 0.9f (up) and 0.8f (down):
  // predicted 0.85, observed 0.5.
  EXPECT_EQ(m.reliability[9].count, 0u);
  EXPECT_TRUE(std::isnan(m.reliability[9].observed));
  EXPECT_EQ(m.reliability[8].count, 2u);
  EXPECT_NEAR(m.reliability[8].mean_predicted, 0.85, 1e-6);
  EXPECT_DOUBLE_EQ(m.reliability[8].observed, 0.5);
  EXPECT_NEAR(m.reliability_gap, (2 * 0.35 + 0.3 + 0.4) / 4, 1e-6);
}

TEST(MetricsTest, PairedComparisonCountsDiscordantRows) {
  std::vector<int8_t> y = {1, 1, 0, 0, 1};
  std::vector<int8_t> model = {1, 1, 0, 1, 0};
  std::vector<int8_t> base = {1, 0, 1, 1, 1};
  PairedComparison c = ComparePaired(model, base, y);
  EXPECT_EQ(c.model_only_correct, 2u);     // rows 1, 2
  EXPECT_EQ(c.baseline_only_correct, 1u);  // row 4
  EXPECT_DOUBLE_EQ(c.accuracy_difference, (3.0 - 2.0) / 5);
  EXPECT_DOUBLE_EQ(c.p_value, 1.0);
}

// Calibration: a miscalibrated score (true P(up) = 0.5 + 0.3 * (s - 0.5), so s overstates
// confidence) is fitted on held-back rows and checked on separate held-out rows.
TEST(CalibrationTest, IsotonicReducesHeldOutReliabilityGap) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(0, 1);
  auto draw = [&](size_t n, std::vector<float>* p, std::vector<int8_t>* y) {
    for (size_t i = 0; i < n; ++i) {
      const double s = u(rng);
      const double truth = 0.5 + 0.3 * (s - 0.5);
      p->push_back(static_cast<float>(1 - s));
      p->push_back(static_cast<float>(s));
      y->push_back(u(rng) < truth ? kUp : kDown);
    }
  };
  std::vector<float> p_fit, p_test;
  std::vector<int8_t> y_fit, y_test;
  draw(20000, &p_fit, &y_fit);
  draw(20000, &p_test, &y_test);
  auto cal = Calibrator::Fit(p_fit, y_fit, 2, 200);
  ASSERT_OK(cal);
  const double gap_before = ComputeMetrics(p_test, y_test, 2).reliability_gap;
  std::vector<float> q = p_test;
  for (size_t i = 0; i < y_test.size(); ++i) cal->Apply(&q[2 * i]);
  const ClassificationMetrics after = ComputeMetrics(q, y_test, 2);
  std::printf("held-out reliability mean |gap|: raw %.4f, calibrated %.4f (n = %zu)\n", gap_before,
              after.reliability_gap, y_test.size());
  EXPECT_GT(gap_before, 0.08);
  EXPECT_LT(after.reliability_gap, 0.02);
  // Monotone and within (0, 1).
  float prev = 0;
  for (int i = 0; i <= 100; ++i) {
    float row[2] = {1 - i / 100.0f, i / 100.0f};
    cal->Apply(row);
    EXPECT_GE(row[1], prev);
    EXPECT_GT(row[1], 0);
    EXPECT_LT(row[1], 1);
    prev = row[1];
  }
  // Minimum-block safeguard: no block smaller than 200 rows means few knots.
  EXPECT_LE(cal->maps()[0].knots(), 100u);
  // JSON round trip.
  auto back = Calibrator::FromJson(cal->ToJson());
  ASSERT_OK(back);
  float a[2] = {0.3f, 0.7f}, b[2] = {0.3f, 0.7f};
  cal->Apply(a);
  back->Apply(b);
  EXPECT_EQ(a[1], b[1]);
}

TEST(CalibrationTest, TooFewRowsIsAnError) {
  std::vector<float> p = {0.5f, 0.5f, 0.4f, 0.6f};
  std::vector<int8_t> y = {kUp, kDown};
  auto cal = Calibrator::Fit(p, y, 2, 100);
  ASSERT_FALSE(cal.ok());
  EXPECT_EQ(cal.error().field(), "calibration");
}

}  // namespace
}  // namespace sinyal::models
