// Nested model selection on synthetic data (the CI smoke test of the search; the long run on real
// data is scripts/model_search.sh).
#include "models/selection.h"

#include <cmath>

#include "core/testing/test_util.h"
#include "models/basic_features.h"
#include "models/testing/synthetic.h"

namespace sinyal::models {
namespace {

Dataset Synthetic(size_t bars, uint64_t seed, double phi) {
  BarColumns b = testing::SyntheticBars(bars, seed, phi);
  auto fr = ComputeBasicFeatures(b);
  LabelConfig lc;
  lc.dead_band = 0;
  return BuildDataset(b, fr.value(), lc).value();
}

TrainConfig Small(int trees, int depth) {
  TrainConfig c = DefaultTrainConfig("SYN");
  for (auto& m : c.members) {
    m.trees = trees;
    if (m.grow_policy == GrowPolicy::kDepthwise) m.max_depth = depth;
  }
  c.min_train_rows = 400;
  c.nthread = 1;
  return c;
}

TEST(SelectionTest, AlignKeepsCommonRowsAndSubsetKeepsBars) {
  const Dataset a = Synthetic(2000, 3, -0.3);
  std::vector<size_t> idx;
  for (size_t i = 10; i < a.size(); i += 2) idx.push_back(i);
  const Dataset b = SubsetRows(a, idx);
  EXPECT_EQ(b.rows[0].bar, a.rows[10].bar);
  EXPECT_EQ(b.Row(1)[0], a.Row(12)[0]);
  auto aligned = AlignDatasets({&a, &b});
  ASSERT_OK(aligned.status());
  ASSERT_EQ(aligned->size(), 2u);
  EXPECT_EQ((*aligned)[0].size(), b.size());
  EXPECT_EQ((*aligned)[0].rows.back().bar, b.rows.back().bar);
}

TEST(SelectionTest, NestedSearchChoosesOnInnerFoldsAndReportsOptimism) {
  const Dataset ds = Synthetic(5000, 11, -0.3);
  std::vector<SearchCandidate> cands = {{"default-ish", Small(20, 4), &ds},
                                        {"stumps", Small(5, 1), &ds},
                                        {"deeper", Small(30, 6), &ds}};
  NestedSearchConfig cfg;
  cfg.outer_folds = 2;
  cfg.inner_folds = 2;
  cfg.initial_train_fraction = 0.5;
  std::vector<std::string> lines;
  auto r = RunNestedSearch(cands, cfg, [&](const std::string& s) { lines.push_back(s); });
  ASSERT_OK(r.status());
  ASSERT_EQ(r->folds.size(), 2u);
  for (const auto& f : r->folds) {
    ASSERT_EQ(f.inner_log_loss.size(), 3u);
    // The choice is the inner minimum, nothing else.
    for (double v : f.inner_log_loss) EXPECT_LE(f.chosen_inner_log_loss, v);
    EXPECT_TRUE(std::isfinite(f.chosen_outer_log_loss));
    EXPECT_LT(f.chosen_outer_log_loss, std::log(2.0));  // the mean reversion is learnable
  }
  EXPECT_EQ(r->selected.n, r->default_model.n);
  EXPECT_NEAR(r->optimism, r->mean_outer_log_loss - r->mean_inner_log_loss, 1e-12);
  EXPECT_EQ(lines.size(), 2u * 3u + 2u);
  const auto j = r->ToJson();
  EXPECT_EQ(j["folds"].size(), 2u);
  // Errors name the field.
  EXPECT_EQ(RunNestedSearch({}, cfg).status().field(), "candidates");
  NestedSearchConfig bad = cfg;
  bad.inner_folds = 1;
  EXPECT_EQ(RunNestedSearch(cands, bad).status().field(), "inner_folds");
}

}  // namespace
}  // namespace sinyal::models
