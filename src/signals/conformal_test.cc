#include "signals/conformal.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/testing/test_util.h"

namespace sinyal::signals {
namespace {

std::vector<ConformalRow> Rows(size_t n, uint64_t seed, const std::vector<double>& group_sd) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z(0, 1);
  std::uniform_real_distribution<double> u(0.5, 2.0);
  std::vector<ConformalRow> v;
  for (size_t i = 0; i < n; ++i) {
    ConformalRow r;
    r.group = static_cast<int>(i % group_sd.size());
    r.scale = u(rng) * 1e-3;
    r.point = 0.2 * r.scale * z(rng);
    r.actual = r.point + group_sd[r.group] * r.scale * z(rng);
    v.push_back(r);
  }
  return v;
}

// A model whose calibration could not be fitted (too few held-out rows, e.g. a walk-forward
// backtest's first small window) predicts no intervals instead of reading past its quantiles.
TEST(ConformalTest, AnUnfittedCalibrationPredictsNoIntervals) {
  const ConformalIntervals none;
  EXPECT_TRUE(none.Predict(0.001, 0.01, 0).empty());
  EXPECT_TRUE(none.Predict(0.001, 0.01, -1).empty());
}

TEST(ConformalTest, QuantileIsTheCeilRank) {
  std::vector<ConformalRow> rows;
  for (int i = 1; i <= 99; ++i) rows.push_back({0, 1, static_cast<double>(i), 0});
  ConformalConfig c;
  c.mondrian = false;
  auto ci = ConformalIntervals::Fit(rows, c).value();
  EXPECT_DOUBLE_EQ(ci.Quantile(0, -1), 80);  // ceil(100 * 0.8) = 80th smallest
  EXPECT_DOUBLE_EQ(ci.Quantile(1, -1), 95);
  auto iv = ci.Predict(1.0, 2.0, 0);
  EXPECT_DOUBLE_EQ(iv[0].lo, 1.0 - 160);
  EXPECT_DOUBLE_EQ(iv[1].hi, 1.0 + 190);
}

TEST(ConformalTest, CoverageIsNominalOnExchangeableData) {
  auto cal = Rows(3000, 1, {1.0, 1.0, 1.0});
  auto test = Rows(20000, 2, {1.0, 1.0, 1.0});
  auto ci = ConformalIntervals::Fit(cal).value();
  for (const auto& l : EvaluateCoverage(ci, test)) {
    if (l.group != -1) continue;
    EXPECT_NEAR(l.empirical, l.nominal, 0.015) << l.nominal;
    EXPECT_LE(l.ci.lo, l.empirical);
    EXPECT_GE(l.ci.hi, l.empirical);
    EXPECT_EQ(l.n, 20000u);
  }
}

TEST(ConformalTest, MondrianAdaptsPerGroupAndFallsBack) {
  // Group 2 is three times as noisy: pooled intervals under-cover it, Mondrian ones do not.
  auto cal = Rows(6000, 3, {0.7, 1.0, 3.0});
  auto test = Rows(30000, 4, {0.7, 1.0, 3.0});
  ConformalConfig pooled_cfg;
  pooled_cfg.mondrian = false;
  auto pooled = ConformalIntervals::Fit(cal, pooled_cfg).value();
  auto mond = ConformalIntervals::Fit(cal).value();
  EXPECT_GT(mond.Quantile(1, 2), 2.5 * mond.Quantile(1, 0));
  double pooled_g2 = 0, mond_g2 = 0;
  for (const auto& l : EvaluateCoverage(pooled, test)) {
    if (l.group == 2 && l.nominal == 0.95) pooled_g2 = l.empirical;
  }
  for (const auto& l : EvaluateCoverage(mond, test)) {
    if (l.group == 2 && l.nominal == 0.95) mond_g2 = l.empirical;
  }
  EXPECT_LT(pooled_g2, 0.90);
  EXPECT_NEAR(mond_g2, 0.95, 0.015);
  // A group with too few scores uses the pooled quantile.
  ConformalConfig big;
  big.min_group = 5000;
  auto fb = ConformalIntervals::Fit(cal, big).value();
  EXPECT_DOUBLE_EQ(fb.Quantile(0, 1), fb.Quantile(0, -1));
  // JSON round trip.
  auto back = ConformalIntervals::FromJson(mond.ToJson());
  ASSERT_OK(back);
  EXPECT_DOUBLE_EQ(back->Quantile(1, 2), mond.Quantile(1, 2));
  EXPECT_FALSE(ConformalIntervals::FromJson(nlohmann::json{{"n", 1}}).ok());
}

// The served rule: only the newest `window` resolved rows count, so a change in how large moves
// are relative to the scale (here: 1x for 6,000 rows, then 2x) is followed within a window, where
// fixed quantiles from the older rows under-cover.
TEST(ConformalTest, RecentWindowFollowsAChangeInScoreSize) {
  auto old_rows = Rows(6000, 21, {1});
  auto new_rows = Rows(4000, 22, {2});
  std::vector<ConformalRow> all(old_rows);
  all.insert(all.end(), new_rows.begin(), new_rows.end());
  const auto test = Rows(4000, 23, {2});
  RecentConformalConfig rc;
  auto recent = FitRecentConformal(std::span(all).first(6000 + 2500), rc);
  ASSERT_OK(recent);
  EXPECT_EQ(recent->calibration_size(), 2000u);
  auto fixed = ConformalIntervals::Fit(old_rows, {.mondrian = false});
  ASSERT_OK(fixed);
  const double cov_recent = EvaluateCoverage(*recent, test)[0].empirical;
  const double cov_fixed = EvaluateCoverage(*fixed, test)[0].empirical;
  EXPECT_NEAR(cov_recent, 0.8, 0.03);
  EXPECT_LT(cov_fixed, 0.6);
  EXPECT_EQ(FitRecentConformal(std::span(all).first(150), rc).status().field(), "rows");
}

TEST(ConformalTest, BadInput) {
  auto rows = Rows(100, 5, {1, 1, 1});
  rows[17].scale = 0;
  EXPECT_EQ(ConformalIntervals::Fit(rows).status().field(), "rows[17].scale");
  rows[17].scale = 1e-3;
  rows[3].actual = std::nan("");
  EXPECT_EQ(ConformalIntervals::Fit(rows).status().field(), "rows[3].actual");
  rows[3].actual = 0;
  rows[4].group = 7;
  EXPECT_EQ(ConformalIntervals::Fit(rows).status().field(), "rows[4].group");
  rows[4].group = 0;
  EXPECT_EQ(ConformalIntervals::Fit(std::span(rows).first(10)).status().code(),
            StatusCode::kFailedPrecondition);
  ConformalConfig c;
  c.coverages = {1.2};
  rows[4].group = 0;
  EXPECT_EQ(ConformalIntervals::Fit(rows, c).status().field(), "coverages");
}

}  // namespace
}  // namespace sinyal::signals
