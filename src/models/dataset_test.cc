#include "models/dataset.h"

#include <cmath>
#include <limits>

#include "core/testing/test_util.h"
#include "features/feature_set.h"
#include "market/bar.h"
#include "models/basic_features.h"
#include "models/inputs.h"
#include "models/testing/synthetic.h"

namespace sinyal::models {
namespace {

using testing::SyntheticBars;

// A one-feature frame: the close itself (no look-ahead).
FeatureFrame CloseFeature(const BarColumns& b) {
  FeatureFrame f;
  f.set_name = "close";
  f.set_version = 1;
  f.names = {"close"};
  f.rows = b.size();
  for (double c : b.close) f.values.push_back(static_cast<float>(c));
  return f;
}

TEST(DatasetTest, LabelsAreSignOfForwardReturnWithDeadBand) {
  BarColumns b = SyntheticBars(10, 1);
  b.close = {1.0, 1.001, 1.00105, 1.0, 1.002, 1.002, 0.999, 1.0, 1.0, 1.0};
  for (size_t i = 0; i < b.size(); ++i) {
    b.open[i] = b.close[i];
    b.high[i] = b.close[i] * 1.001;
    b.low[i] = b.close[i] * 0.999;
  }
  LabelConfig lc;
  lc.horizon = 1;
  lc.dead_band = 1e-4;
  auto ds = BuildDataset(b, CloseFeature(b), lc);
  ASSERT_OK(ds);
  // Bars 0..8 have a forward bar; |1.00105/1.001-1| = 5e-5, 1.002->1.002 and 1.0->1.0 are neutral.
  EXPECT_EQ(ds->neutral_dropped, 4u);
  ASSERT_EQ(ds->size(), 5u);
  EXPECT_EQ(ds->rows[0].bar, 0u);
  EXPECT_EQ(ds->rows[0].label, kUp);
  EXPECT_NEAR(ds->rows[0].forward_return, 0.001, 1e-7);
  EXPECT_EQ(ds->rows[0].label_first, 1u);
  EXPECT_EQ(ds->rows[0].label_last, 1u);
  EXPECT_EQ(ds->rows[1].bar, 2u);
  EXPECT_EQ(ds->rows[1].label, kDown);
  EXPECT_EQ(ds->rows[1].last_direction, 0);  // 1.00105/1.001 - 1 is inside the band

  lc.neutral = NeutralMode::kThirdClass;
  lc.horizon = 2;
  auto ds3 = BuildDataset(b, CloseFeature(b), lc);
  ASSERT_OK(ds3);
  EXPECT_EQ(ds3->num_classes, 3);
  EXPECT_EQ(ds3->size(), 8u);  // bars 0..7
  EXPECT_EQ(ds3->rows[0].label_last, 2u);
  EXPECT_EQ(ds3->rows[0].label, kUp);       // 1.00105 / 1.0
  EXPECT_EQ(ds3->rows[7].label, kNeutral);  // 1.0 / 1.0
  EXPECT_EQ(ds3->rows[2].label, kUp);       // 1.002 / 1.00105
}

TEST(DatasetTest, WarmupRowsAreDropped) {
  BarColumns b = SyntheticBars(500, 2);
  auto fr = ComputeBasicFeatures(b);
  ASSERT_OK(fr);
  LabelConfig lc;
  lc.dead_band = 0;
  auto ds = BuildDataset(b, *fr, lc);
  ASSERT_OK(ds);
  EXPECT_EQ(ds->warmup_dropped, 24u);
  EXPECT_EQ(ds->rows.front().bar, 24u);
  for (float v : ds->x) ASSERT_FALSE(std::isnan(v));
}

TEST(DatasetTest, TooLittleDataIsAClearError) {
  BarColumns b = SyntheticBars(100, 3);
  auto fr = ComputeBasicFeatures(b);
  ASSERT_OK(fr);
  auto ds = BuildDataset(b, *fr, LabelConfig{}, /*min_rows=*/1000);
  ASSERT_FALSE(ds.ok());
  EXPECT_EQ(ds.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(ds.error().message().find("too little data"), std::string::npos);
}

TEST(DatasetTest, BadBarsNameTheField) {
  BarColumns b = SyntheticBars(50, 4);
  b.volume.pop_back();
  auto fr = ComputeBasicFeatures(b);
  ASSERT_FALSE(fr.ok());
  EXPECT_EQ(fr.error().field(), "bars.volume");
  BarColumns c = SyntheticBars(50, 4);
  std::swap(c.ts[10], c.ts[11]);
  EXPECT_EQ(c.Validate().field(), "bars.ts");
  BarColumns d = SyntheticBars(50, 4);
  LabelConfig lc;
  lc.horizon = 0;
  auto ds = BuildDataset(d, CloseFeature(d), lc);
  ASSERT_FALSE(ds.ok());
  EXPECT_EQ(ds.error().field(), "horizon");
}

// The leakage detector passes on an honest feature set...
TEST(LookaheadTest, BasicFeaturesUseNoFutureBar) {
  const BarColumns bars = SyntheticBars(800, 5);
  FeatureComputer compute = [&](size_t n) { return ComputeBasicFeatures(bars.Prefix(n)); };
  EXPECT_OK(CheckNoLookahead(compute, bars.size()));
}

// The production feature set of features/ ("core-v1", TA-Lib-exact) passes too.
TEST(LookaheadTest, CoreFeatureSetUsesNoFutureBar) {
  const BarColumns cols = SyntheticBars(1200, 8);
  std::vector<market::Bar> bars;
  for (size_t i = 0; i < cols.size(); ++i) {
    bars.push_back(market::Bar::Create(cols.ts[i], cols.open[i], cols.high[i], cols.low[i],
                                       cols.close[i], cols.volume[i])
                       .value());
  }
  const InputSpec spec = InputSpec::FeatureSet(features::DefaultFeatureSet()).value();
  FeatureComputer compute = [&](size_t n) {
    return ComputeInputs(spec, std::span<const market::Bar>(bars.data(), n));
  };
  EXPECT_OK(CheckNoLookahead(compute, bars.size()));
  auto full = compute(bars.size());
  ASSERT_OK(full);
  EXPECT_EQ(full->set_name, features::DefaultFeatureSet().name);
  EXPECT_GT(full->cols(), 5u);
}

// ...and fails as soon as one feature looks one bar ahead.
TEST(LookaheadTest, FutureFeatureIsDetected) {
  const BarColumns bars = SyntheticBars(800, 6);
  FeatureComputer compute = [&](size_t n) -> Result<FeatureFrame> {
    BarColumns p = bars.Prefix(n);
    SINYAL_ASSIGN_OR_RETURN(FeatureFrame f, ComputeBasicFeatures(p));
    // Append "next_return": log(close[t+1]/close[t]), NaN at the last bar (unknown yet).
    FeatureFrame g = f;
    g.names.push_back("next_return");
    g.values.clear();
    for (size_t t = 0; t < n; ++t) {
      g.values.insert(g.values.end(), f.Row(t), f.Row(t) + f.cols());
      g.values.push_back(t + 1 < n ? static_cast<float>(std::log(p.close[t + 1] / p.close[t]))
                                   : std::numeric_limits<float>::quiet_NaN());
    }
    return g;
  };
  Status s = CheckNoLookahead(compute, bars.size());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.field(), "features.next_return");
  EXPECT_NE(s.message().find("future data"), std::string::npos);
}

// A centred moving average (a classic subtle leak: smoothing over t-2..t+2) is detected too.
TEST(LookaheadTest, CentredSmoothingIsDetected) {
  const BarColumns bars = SyntheticBars(400, 7);
  FeatureComputer compute = [&](size_t n) -> Result<FeatureFrame> {
    FeatureFrame f;
    f.set_name = "centred";
    f.names = {"cma_5"};
    f.rows = n;
    for (size_t t = 0; t < n; ++t) {
      double s = 0;
      int k = 0;
      for (int d = -2; d <= 2; ++d) {
        const long j = static_cast<long>(t) + d;
        if (j >= 0 && j < static_cast<long>(n)) {
          s += bars.close[j];
          ++k;
        }
      }
      f.values.push_back(static_cast<float>(s / k));
    }
    return f;
  };
  Status s = CheckNoLookahead(compute, bars.size());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.field(), "features.cma_5");
}

}  // namespace
}  // namespace sinyal::models
