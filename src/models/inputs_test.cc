// The model-inputs seam (inputs.h): batch == stream bit for bit, the anchor, the basic set's
// streaming form against the batch implementation it replaced, errors.
#include "models/inputs.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/testing/test_util.h"
#include "features/feature_set.h"
#include "models/basic_features.h"
#include "models/ensemble.h"
#include "models/testing/synthetic.h"

namespace sinyal::models {
namespace {

using testing::ToMarketBars;
std::vector<market::Bar> ToBars(const BarColumns& c) { return ToMarketBars(c); }

// Bit-level equality of floats (NaN == NaN).
bool SameBits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// The batch "basic" computation as it was before the seam (kept here as the reference the
// streaming form must reproduce bit for bit, so models trained on "basic" keep their inputs).
std::vector<float> OldBasicBatch(const BarColumns& bars) {
  const size_t n = bars.size(), f = 16;
  std::vector<float> v(n * f, std::numeric_limits<float>::quiet_NaN());
  constexpr size_t kWin = 24;
  double avg_gain = 0, avg_loss = 0, atr = 0;
  const std::vector<double>& c = bars.close;
  for (size_t t = 0; t < n; ++t) {
    const double tr =
        t == 0 ? bars.high[t] - bars.low[t]
               : std::max({bars.high[t] - bars.low[t], std::fabs(bars.high[t] - c[t - 1]),
                           std::fabs(bars.low[t] - c[t - 1])});
    double gain = 0, loss = 0;
    if (t > 0) {
      const double d = c[t] - c[t - 1];
      gain = d > 0 ? d : 0;
      loss = d < 0 ? -d : 0;
    }
    if (t >= 1 && t <= 14) {
      avg_gain += gain / 14;
      avg_loss += loss / 14;
    } else if (t > 14) {
      avg_gain = (avg_gain * 13 + gain) / 14;
      avg_loss = (avg_loss * 13 + loss) / 14;
    }
    if (t < 14) {
      atr += tr / 14;
    } else {
      atr = (atr * 13 + tr) / 14;
    }
    if (t < kWin) continue;
    float* row = v.data() + t * f;
    auto lr = [&](size_t k) { return std::log(c[t] / c[t - k]); };
    row[0] = static_cast<float>(lr(1));
    row[1] = static_cast<float>(lr(2));
    row[2] = static_cast<float>(lr(3));
    row[3] = static_cast<float>(lr(6));
    row[4] = static_cast<float>(lr(12));
    row[5] = static_cast<float>(lr(24));
    double s = 0, s2 = 0, sma = 0, hi = bars.high[t], lo = bars.low[t], vol_sum = 0;
    for (size_t k = 0; k < kWin; ++k) {
      const double r = std::log(c[t - k] / c[t - k - 1]);
      s += r;
      s2 += r * r;
      sma += c[t - k];
      hi = std::max(hi, bars.high[t - k]);
      lo = std::min(lo, bars.low[t - k]);
      vol_sum += bars.volume[t - k];
    }
    const double mean = s / kWin;
    const double vol = std::sqrt(std::max(0.0, s2 / kWin - mean * mean));
    sma /= kWin;
    row[6] = static_cast<float>(vol);
    row[7] = static_cast<float>(vol > 0 ? (c[t] / sma - 1.0) / vol : 0.0);
    row[8] = static_cast<float>(avg_gain + avg_loss > 0 ? 100.0 * avg_gain / (avg_gain + avg_loss)
                                                        : 50.0);
    row[9] = static_cast<float>(atr / c[t]);
    row[10] = static_cast<float>(hi > lo ? (c[t] - lo) / (hi - lo) : 0.5);
    const double rng = bars.high[t] - bars.low[t];
    row[11] = static_cast<float>(rng > 0 ? (c[t] - bars.open[t]) / rng : 0.0);
    row[12] = static_cast<float>(vol_sum > 0 ? bars.volume[t] * kWin / vol_sum : 1.0);
    const int64_t secs = bars.ts[t] / kNanosPerSecond;
    const int64_t day = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    const double hour = static_cast<double>(secs - day * 86400) / 3600.0;
    row[13] = static_cast<float>(std::sin(2 * M_PI * hour / 24));
    row[14] = static_cast<float>(std::cos(2 * M_PI * hour / 24));
    row[15] = static_cast<float>(((day % 7) + 7 + 3) % 7);
  }
  return v;
}

TEST(InputsTest, BasicStreamReproducesTheFormerBatchBitForBit) {
  const BarColumns cols = testing::SyntheticBars(3000, 11);
  const std::vector<float> want = OldBasicBatch(cols);
  auto frame = ComputeInputs(InputSpec::Basic(), ToBars(cols));
  ASSERT_OK(frame);
  ASSERT_EQ(frame->values.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) ASSERT_TRUE(SameBits(frame->values[i], want[i])) << i;
  auto columns = ComputeBasicFeatures(cols);
  ASSERT_OK(columns);
  EXPECT_EQ(std::memcmp(columns->values.data(), want.data(), want.size() * sizeof(float)), 0);
  EXPECT_EQ(frame->names, BasicFeatureNames());
}

// The identity at the heart of the seam: the batch frame is the stream pushed bar by bar.
TEST(InputsTest, BatchEqualsStreamBitForBitForEverySet) {
  const std::vector<market::Bar> bars = ToBars(testing::SyntheticBars(2500, 12));
  for (const InputSpec& spec :
       {InputSpec::Basic(), InputSpec::FeatureSet(features::DefaultFeatureSet()).value()}) {
    auto batch = ComputeInputs(spec, bars);
    ASSERT_OK(batch);
    auto stream = InputStream::Create(spec);
    ASSERT_OK(stream);
    size_t complete = 0;
    for (size_t i = 0; i < bars.size(); ++i) {
      ASSERT_OK(stream->Push(bars[i]));
      ASSERT_EQ(stream->row().size(), spec.cols());
      for (size_t j = 0; j < spec.cols(); ++j) {
        ASSERT_TRUE(SameBits(stream->row()[j], batch->Row(i)[j]))
            << spec.set_name() << " " << i << "," << j;
        ASSERT_TRUE(SameBits(stream->row()[j], InputValueToFloat(stream->values()[j])));
      }
      complete += stream->complete();
    }
    EXPECT_GT(complete, bars.size() - static_cast<size_t>(spec.WarmupBars()) - 5)
        << spec.set_name();
    EXPECT_EQ(batch->inputs_from, bars.front().time());
  }
}

// Rows depend on the anchor; bars before it give NaN rows and the rows after it equal a batch
// computed over the bars from the anchor only.
TEST(InputsTest, AnchorStartsTheStream) {
  const std::vector<market::Bar> bars = ToBars(testing::SyntheticBars(1500, 13));
  const InputSpec spec = InputSpec::FeatureSet(features::DefaultFeatureSet()).value();
  const size_t a = 400;
  auto anchored = ComputeInputs(spec, bars, bars[a].time());
  ASSERT_OK(anchored);
  EXPECT_EQ(anchored->inputs_from, bars[a].time());
  for (size_t i = 0; i < a; ++i) {
    for (size_t j = 0; j < spec.cols(); ++j) ASSERT_TRUE(std::isnan(anchored->Row(i)[j]));
  }
  auto suffix = ComputeInputs(spec, std::span<const market::Bar>(bars).subspan(a));
  ASSERT_OK(suffix);
  ASSERT_EQ(std::memcmp(anchored->Row(a), suffix->Row(0), suffix->values.size() * sizeof(float)),
            0);
  // A different anchor gives different rows (EMA seeds): why models record theirs.
  auto from_start = ComputeInputs(spec, bars);
  ASSERT_OK(from_start);
  EXPECT_NE(
      std::memcmp(from_start->Row(a + 30), anchored->Row(a + 30), spec.cols() * sizeof(float)), 0);
}

TEST(InputsTest, OutOfOrderBarIsRejectedAndChangesNothing) {
  const std::vector<market::Bar> bars = ToBars(testing::SyntheticBars(60, 14));
  auto stream = InputStream::Create(InputSpec::Basic());
  ASSERT_OK(stream);
  for (size_t i = 0; i < 40; ++i) ASSERT_OK(stream->Push(bars[i]));
  const std::vector<float> before(stream->row().begin(), stream->row().end());
  Status s = stream->Push(bars[10]);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.field(), "time");
  EXPECT_EQ(std::memcmp(before.data(), stream->row().data(), before.size() * sizeof(float)), 0);
  std::vector<market::Bar> shuffled = {bars[1], bars[0]};
  auto frame = ComputeInputs(InputSpec::Basic(), shuffled);
  ASSERT_FALSE(frame.ok());
  EXPECT_EQ(frame.error().field(), "bars[1].time");
}

TEST(InputsTest, SchemaWithOtherFeaturesIsRefused) {
  ModelSchema schema;
  schema.feature_set = "basic";
  schema.feature_set_version = 1;
  schema.feature_names = BasicFeatureNames();
  EXPECT_OK(InputSpec::Basic().CheckSchema(schema));
  schema.feature_names.pop_back();
  Status s = InputSpec::Basic().CheckSchema(schema);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.field(), "model");
}

TEST(InputsTest, SchemaKeepsTheAnchorThroughJson) {
  ModelSchema schema;
  schema.feature_set = "basic";
  schema.feature_set_version = 1;
  schema.feature_names = BasicFeatureNames();
  auto old_json = schema.ToJson();
  EXPECT_FALSE(old_json.contains("inputs_from"));  // models stored before anchors read as before
  EXPECT_EQ(ModelSchema::FromJson(old_json)->inputs_from, kSeriesStart);
  schema.inputs_from = 1'577'836'800LL * kNanosPerSecond;
  EXPECT_EQ(ModelSchema::FromJson(schema.ToJson())->inputs_from, schema.inputs_from);
}

}  // namespace
}  // namespace sinyal::models
