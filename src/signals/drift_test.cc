#include "signals/drift.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "core/testing/test_util.h"

namespace sinyal::signals {
namespace {

std::vector<float> Matrix(size_t rows, uint64_t seed, double shift_f1) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z(0, 1);
  std::vector<float> x;
  for (size_t i = 0; i < rows; ++i) {
    x.push_back(static_cast<float>(z(rng)));
    x.push_back(static_cast<float>(z(rng) + shift_f1));
    x.push_back(3.0f);  // constant feature
  }
  return x;
}

TEST(DriftTest, PsiSeparatesStableFromShifted) {
  const std::vector<std::string> names = {"a", "b", "c"};
  auto ref = FitPsiReference(Matrix(5000, 1, 0), names);
  ASSERT_OK(ref);
  EXPECT_EQ(ref->edges[0].size(), 9u);  // deciles
  auto same = ComputePsi(*ref, Matrix(2000, 2, 0)).value();
  for (const auto& f : same) EXPECT_LT(f.psi, 0.03) << f.feature;
  auto moved = ComputePsi(*ref, Matrix(2000, 3, 1.0)).value();
  EXPECT_LT(moved[0].psi, 0.03);
  EXPECT_GT(moved[1].psi, 0.25);
  EXPECT_EQ(moved[1].level, DriftLevel::kSignificant);
  auto mild = ComputePsi(*ref, Matrix(2000, 4, 0.4)).value();
  EXPECT_EQ(mild[1].level, DriftLevel::kModerate) << mild[1].psi;
}

TEST(DriftTest, BadInputNamesTheFeature) {
  const std::vector<std::string> names = {"a", "b", "c"};
  auto x = Matrix(200, 1, 0);
  x[3 * 57 + 1] = std::nanf("");
  auto r = FitPsiReference(x, names);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().field(), "features.b");
  EXPECT_NE(r.error().message().find("row 57"), std::string::npos);
  EXPECT_EQ(FitPsiReference(std::vector<float>(7, 1.0f), names).status().field(), "x");
  EXPECT_EQ(FitPsiReference(Matrix(50, 1, 0), names).status().code(),
            StatusCode::kFailedPrecondition);
}

TEST(DriftTest, PerformanceCheckAgainstValidation) {
  ValidationFigures v{0.248, 0.69, 0.53};
  LivePerformance live;
  live.n = 150;
  live.brier = 0.30;
  EXPECT_FALSE(CheckPerformance(live, v).enough_data);
  live.n = 400;
  live.directional = 300;
  live.hit_rate = 0.52;
  live.brier = 0.255;
  auto ok = CheckPerformance(live, v);
  EXPECT_TRUE(ok.enough_data);
  EXPECT_FALSE(ok.degraded);
  live.brier = 0.27;
  live.hit_rate = 0.47;
  auto bad = CheckPerformance(live, v);
  EXPECT_TRUE(bad.degraded);
  ASSERT_EQ(bad.reasons.size(), 2u);
  EXPECT_NE(bad.reasons[0].find("Brier 0.2700"), std::string::npos);
}

// Three persistent features (AR(1) with phi 0.98, a half-life of 34 rows like RSI or a 24-bar return: a window of 1,000 rows holds few
// independent stretches) and one iid feature, in time order; `shift` moves every feature.
std::vector<float> Persistent(size_t rows, uint64_t seed, double shift) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z(0, 1);
  std::vector<float> x;
  double a[3] = {0, 0, 0};
  const double phi = 0.98, s = std::sqrt(1 - phi * phi);
  for (size_t i = 0; i < rows; ++i) {
    for (double& v : a) {
      v = phi * v + s * z(rng);
      x.push_back(static_cast<float>(v + shift));
    }
    x.push_back(static_cast<float>(z(rng) + shift));
  }
  return x;
}

TEST(DriftTest, NullThresholdsFollowPersistenceAndSeparateStableFromShifted) {
  const std::vector<std::string> names = {"p1", "p2", "p3", "iid"};
  const auto train = Persistent(5000, 3, 0);
  auto ref = FitPsiReference(train, names);
  ASSERT_OK(ref);
  DriftRule rule;  // defaults: 1,000-row windows, 1.5 x q99, k = 3
  auto null = FitPsiNull(*ref, train, rule);
  ASSERT_OK(null);
  EXPECT_EQ(null->window, 1000u);
  EXPECT_EQ(null->samples, 17u);  // windows every 250 rows
  ASSERT_EQ(null->threshold.size(), 4u);
  // The persistent features' null spread is far wider than the iid one's (floored at 0.1).
  for (int j = 0; j < 3; ++j) {
    std::printf("null threshold %s %.3f\n", names[j].c_str(), null->threshold[j]);
    EXPECT_GT(null->threshold[j], 0.15) << names[j];
  }
  EXPECT_DOUBLE_EQ(null->threshold[3], rule.floor);
  // Later windows of the same process: the fixed levels see drift in many, the rule in few.
  int fixed_alarms = 0, rule_alarms = 0;
  for (uint64_t seed = 10; seed < 30; ++seed) {
    const auto later = Persistent(1000, seed, 0);
    auto psi = ComputePsi(*ref, later).value();
    int moderate = 0;
    bool significant = false;
    for (const auto& f : psi) {
      moderate += f.psi >= kPsiModerate;
      significant |= f.level == DriftLevel::kSignificant;
    }
    fixed_alarms += significant || moderate >= 3;
    rule_alarms += JudgeFeatureDrift(psi, *null, rule).drift;
  }
  EXPECT_GE(fixed_alarms, 10);
  EXPECT_LE(rule_alarms, 2);
  // A real shift of every feature by 1.5 sd: drift, with the features and thresholds named.
  auto shifted = ComputePsi(*ref, Persistent(1000, 99, 1.5)).value();
  const auto v = JudgeFeatureDrift(shifted, *null, rule);
  EXPECT_TRUE(v.drift);
  EXPECT_EQ(v.above, 4);
  ASSERT_EQ(v.reasons.size(), 1u);
  EXPECT_NE(v.reasons[0].find("4 features above their null thresholds"), std::string::npos)
      << v.reasons[0];
  EXPECT_NE(v.reasons[0].find("iid "), std::string::npos) << v.reasons[0];
  // k and the extreme rule.
  DriftRule k5 = rule;
  k5.min_features = 5;
  EXPECT_FALSE(JudgeFeatureDrift(shifted, *null, k5).drift);
  k5.extreme = 0.5;
  EXPECT_TRUE(JudgeFeatureDrift(shifted, *null, k5).drift);
}

TEST(DriftTest, NullNeedsTwoWindowsOfTrainingRows) {
  const std::vector<std::string> names = {"p1", "p2", "p3", "iid"};
  const auto train = Persistent(1500, 3, 0);
  auto ref = FitPsiReference(train, names).value();
  auto null = FitPsiNull(ref, train, DriftRule{});
  ASSERT_FALSE(null.ok());
  EXPECT_EQ(null.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(null.error().field(), "window");
  DriftRule tiny;
  tiny.window = 10;
  EXPECT_EQ(FitPsiNull(ref, train, tiny).error().field(), "window");
  EXPECT_EQ(FitPsiNull(ref, std::vector<float>(7, 0.f), DriftRule{}).error().field(), "x");
}

}  // namespace
}  // namespace sinyal::signals
