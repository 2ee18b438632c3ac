#include "models/sequence/gru_member.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/testing/test_util.h"
#include "models/basic_features.h"
#include "models/testing/synthetic.h"

namespace sinyal::models {
namespace {

TEST(GruMemberTest, InputsUseOnlyPastBars) {
  const BarColumns b = testing::SyntheticBars(600, 3);
  const std::vector<float> all = SequenceInputs(b);
  const std::vector<float> prefix = SequenceInputs(b.Prefix(400));
  for (size_t i = 0; i < 400 * kSequenceInputs; ++i) {
    if (std::isnan(prefix[i])) {
      EXPECT_TRUE(std::isnan(all[i])) << i;
    } else {
      EXPECT_EQ(all[i], prefix[i]) << i;
    }
  }
  EXPECT_TRUE(std::isnan(all[24 * kSequenceInputs]));
  EXPECT_FALSE(std::isnan(all[25 * kSequenceInputs]));
}

TEST(GruMemberTest, LearnsMeanReversionAndTheHandPassEqualsLibtorch) {
  // phi = -0.3: the last return predicts the next one; a GRU over vol-scaled returns finds it.
  const BarColumns b = testing::SyntheticBars(5000, 17, -0.3);
  auto fr = ComputeBasicFeatures(b);
  LabelConfig lc;
  lc.dead_band = 0;
  const Dataset ds = BuildDataset(b, fr.value(), lc).value();
  const std::vector<float> in = SequenceInputs(b);
  std::vector<size_t> fit, test;
  for (size_t i = 0; i < ds.size(); ++i) (i < 3 * ds.size() / 4 ? fit : test).push_back(i);
  GruConfig c;
  c.window = 8;
  c.hidden = 8;
  c.epochs = 6;
  c.lr = 5e-3;
  auto g = GruMember::Train(ds, fit, in, c);
  ASSERT_OK(g.status());
  double ll = 0;
  size_t n = 0;
  for (size_t k = 0; k < test.size(); ++k) {
    const size_t bar = ds.rows[test[k]].bar;
    const double p = g->Predict(in, bar);
    ASSERT_TRUE(std::isfinite(p));
    if (k % 50 == 0) {
      auto ref = g->PredictTorch(in, bar);
      ASSERT_OK(ref.status());
      EXPECT_NEAR(p, *ref, 1e-5) << bar;
    }
    ll += -std::log(ds.rows[test[k]].label == kUp ? p : 1 - p);
    ++n;
  }
  ll /= static_cast<double>(n);
  EXPECT_LT(ll, 0.68) << "the GRU should beat a coin (0.693) on mean-reverting bars";
  EXPECT_TRUE(std::isnan(g->Predict(in, 10)));  // window not defined yet
  // Errors name the field.
  GruConfig bad = c;
  bad.window = 2;
  EXPECT_EQ(GruMember::Train(ds, fit, in, bad).status().field(), "window");
}

}  // namespace
}  // namespace sinyal::models
