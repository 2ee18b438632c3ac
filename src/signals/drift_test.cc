#include "signals/drift.h"

#include <gtest/gtest.h>

#include <cmath>
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
  EXPECT_EQ(FitPsiReference(Matrix(50, 1, 0), names).status().code(), StatusCode::kFailedPrecondition);
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

}  // namespace
}  // namespace sinyal::signals
