#include "models/walk_forward.h"

#include <cmath>

#include "core/testing/test_util.h"
#include "models/basic_features.h"
#include "models/report.h"
#include "models/testing/synthetic.h"

namespace sinyal::models {
namespace {

Dataset SyntheticDataset(size_t bars, uint64_t seed, double phi, int horizon = 1) {
  BarColumns b = testing::SyntheticBars(bars, seed, phi);
  auto fr = ComputeBasicFeatures(b);
  LabelConfig lc;
  lc.horizon = horizon;
  lc.dead_band = 0;
  return BuildDataset(b, fr.value(), lc).value();
}

TrainConfig SmallConfig() {
  TrainConfig c = DefaultTrainConfig("SYN");
  for (auto& m : c.members) m.trees = 20;
  c.min_train_rows = 500;
  c.nthread = 1;  // keeps unit tests quick on a shared 2-core machine
  return c;
}

WalkForwardConfig Folds(int folds) {
  WalkForwardConfig wf;
  wf.folds = folds;
  return wf;
}

TEST(WalkForwardTest, SplitsArePurgedAndEmbargoed) {
  const Dataset ds = SyntheticDataset(3000, 1, -0.3, /*horizon=*/5);
  WalkForwardConfig wf;
  wf.folds = 4;
  auto splits = MakeWalkForwardSplits(ds, wf, 0.2);
  ASSERT_OK(splits);
  ASSERT_EQ(splits->size(), 4u);
  size_t prev_test_end = 0;
  for (const FoldSplit& s : *splits) {
    ASSERT_FALSE(s.fit.empty());
    ASSERT_FALSE(s.calib.empty());
    ASSERT_FALSE(s.test.empty());
    // Walk-forward: all training rows precede the test block; blocks are consecutive.
    EXPECT_LT(s.calib.back(), s.test.front());
    EXPECT_LT(s.fit.back(), s.calib.front());
    if (prev_test_end) {
      EXPECT_EQ(s.test.front(), prev_test_end);
    }
    prev_test_end = s.test.back() + 1;
    std::vector<size_t> train(s.fit);
    train.insert(train.end(), s.calib.begin(), s.calib.end());
    EXPECT_OK(CheckPurged(ds, train, s.test, 5));
    EXPECT_OK(CheckPurged(ds, s.fit, s.calib, 5));
    // The last training row's label window ends before the first test bar.
    EXPECT_LT(ds.rows[s.calib.back()].label_last, ds.rows[s.test.front()].bar);
    EXPECT_GE(s.purged, 5u);
  }
}

TEST(WalkForwardTest, CheckPurgedDetectsOverlapAndEmbargo) {
  const Dataset ds = SyntheticDataset(1000, 2, -0.3, /*horizon=*/3);
  std::vector<size_t> test = {500, 501, 502, 503, 504};
  // Row 498's label window (bars t+1..t+3) reaches into the test span: must be flagged.
  std::vector<size_t> leaky = {100, 200, 498};
  Status s = CheckPurged(ds, leaky, test, 0);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("overlaps"), std::string::npos);
  // Purge removes exactly the offenders.
  std::vector<size_t> kept = Purge(ds, leaky, test, 0);
  EXPECT_EQ(kept, (std::vector<size_t>{100, 200}));
  EXPECT_OK(CheckPurged(ds, kept, test, 0));
  // A row right after the test span is inside a 10-bar embargo but fine without one.
  const size_t after = 504 + 3 + 2;  // row index == bar offset + const for synthetic data
  std::vector<size_t> later = {after};
  EXPECT_OK(CheckPurged(ds, later, test, 0));
  Status e = CheckPurged(ds, later, test, 10);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.message().find("embargo"), std::string::npos);
}

// With a real signal the model beats the naive baselines significantly, and its calibrated
// probabilities are reliable on held-out rows (the calibration test).
TEST(WalkForwardTest, LearnsARealSignalAndIsCalibratedOutOfSample) {
  const Dataset ds = SyntheticDataset(8000, 3, -0.3);
  auto r = RunWalkForward(ds, SmallConfig(), Folds(3));
  ASSERT_OK(r);
  const ClassificationMetrics& p = r->pooled;
  std::printf(
      "signal: accuracy %.4f [%.4f, %.4f] n=%zu, held-out reliability mean |gap| %.4f "
      "(uncalibrated %.4f)\n",
      p.accuracy, p.accuracy_ci.lo, p.accuracy_ci.hi, p.n, p.reliability_gap,
      r->pooled_raw.reliability_gap);
  EXPECT_GT(p.accuracy_ci.lo, 0.53);
  EXPECT_LT(p.reliability_gap, 0.03);
  ASSERT_EQ(r->pooled_baselines.size(), 3u);
  EXPECT_EQ(r->pooled_baselines[0].name, "majority_class");
  EXPECT_LT(r->pooled_baselines[0].model_vs_baseline.p_value, 0.01);
  EXPECT_GT(r->pooled_baselines[0].model_vs_baseline.accuracy_difference, 0);
  EXPECT_EQ(r->folds.size(), 3u);
  for (const auto& f : r->folds) EXPECT_EQ(f.model.n, f.test_rows);
}

// The whole pipeline on a pure random walk: no signal exists, so an honest pipeline must not
// find one (a leak anywhere - features, labels, splits, calibration - would show up here).
TEST(WalkForwardTest, FindsNothingInARandomWalk) {
  const Dataset ds = SyntheticDataset(8000, 4, 0.0);
  auto r = RunWalkForward(ds, SmallConfig(), Folds(3));
  ASSERT_OK(r);
  const ClassificationMetrics& p = r->pooled;
  std::printf("random walk: accuracy %.4f [%.4f, %.4f] n=%zu auc %.3f\n", p.accuracy,
              p.accuracy_ci.lo, p.accuracy_ci.hi, p.n, p.roc_auc);
  EXPECT_LT(p.accuracy_ci.lo, 0.5);
  EXPECT_GT(p.accuracy, 0.47);
  EXPECT_LT(p.accuracy, 0.53);
  EXPECT_NEAR(p.roc_auc, 0.5, 0.03);
}

TEST(WalkForwardTest, ReportHasTablesAndImages) {
  const Dataset ds = SyntheticDataset(4000, 5, -0.3);
  auto r = RunWalkForward(ds, SmallConfig(), Folds(2));
  ASSERT_OK(r);
  EvaluationReport rep = RenderEvaluationReport(*r, "SYN_H1_h1", "sinyal_models_eval --symbol SYN");
  EXPECT_NE(rep.markdown.find("| ensemble (calibrated) | " + std::to_string(r->pooled.n)),
            std::string::npos);
  EXPECT_NE(rep.markdown.find("SYN_H1_h1_reliability.svg"), std::string::npos);
  EXPECT_NE(rep.markdown.find("McNemar"), std::string::npos);
  EXPECT_EQ(rep.reliability_svg.rfind("<svg", 0), 0u);
  EXPECT_NE(rep.reliability_svg.find("<circle"), std::string::npos);
  EXPECT_NE(rep.coverage_svg.find("<path"), std::string::npos);
  auto j = nlohmann::json::parse(rep.json);
  EXPECT_EQ(j["pooled"]["model"]["n"].get<size_t>(), r->pooled.n);
  EXPECT_EQ(j["folds"].size(), 2u);
  sinyal::testing::TempDir dir;
  ASSERT_OK(WriteEvaluationReport(rep, dir.path(), "SYN_H1_h1"));
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "SYN_H1_h1.md"));
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "SYN_H1_h1_coverage.svg"));
}

TEST(ConfigTest, OutOfBoundsValuesNameTheField) {
  PlanBounds plan;
  plan.max_trees = 300;
  plan.max_horizon = 24;
  TrainConfig ok = DefaultTrainConfig("EURUSD");
  EXPECT_OK(ValidateTrainConfig(ok, plan));
  auto expect_field = [&](TrainConfig c, const std::string& field) {
    Status s = ValidateTrainConfig(c, plan);
    EXPECT_FALSE(s.ok()) << field;
    EXPECT_EQ(s.field(), field) << s.ToString();
  };
  TrainConfig c = ok;
  c.members[1].max_depth = 50;
  expect_field(c, "members[1].max_depth");
  c = ok;
  c.members[0].trees = 301;
  expect_field(c, "members[0].trees");
  c = ok;
  c.members[2].eta = 0;
  expect_field(c, "members[2].eta");
  c = ok;
  c.members[3].max_leaves = 0;  // the lossguide member needs a leaf bound
  expect_field(c, "members[3].max_leaves");
  c = ok;
  c.members[0].subsample = 1.5;
  expect_field(c, "members[0].subsample");
  c = ok;
  c.members.resize(2);
  expect_field(c, "members");
  c = ok;
  c.horizon = 25;
  expect_field(c, "horizon");
  c = ok;
  c.timeframe = "H2";
  expect_field(c, "timeframe");
  c = ok;
  c.symbols = {};
  expect_field(c, "symbols");
  c = ok;
  c.symbols = {"EUR/USD"};
  expect_field(c, "symbols[0]");
  c = ok;
  c.dead_band = -1;
  expect_field(c, "dead_band");
  c = ok;
  c.members[1].lambda = std::nan("");
  expect_field(c, "members[1].lambda");
}

TEST(ConfigTest, BadWalkForwardConfigAndTooLittleData) {
  const Dataset ds = SyntheticDataset(1500, 6, -0.3);
  WalkForwardConfig wf;
  wf.folds = 0;
  auto r = MakeWalkForwardSplits(ds, wf, 0.2);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().field(), "folds");
  wf.folds = 3;
  TrainConfig cfg = SmallConfig();
  cfg.min_train_rows = 5000;
  auto res = RunWalkForward(ds, cfg, wf);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(res.error().message().find("too little data"), std::string::npos);
}

}  // namespace
}  // namespace sinyal::models
