// The streaming series window against the batch path (train/serve identity), pushed bar by bar
// on a ManualClock as a backtest would, with a cross-asset reference; and the no-look-ahead
// property (a signal does not change when later bars arrive).
#include "signals/series_window.h"

#include <gtest/gtest.h>

#include <cstring>

#include "core/testing/test_util.h"
#include "models/inputs.h"
#include "models/testing/synthetic.h"
#include "signals/interval_calibration.h"

namespace sinyal::signals {
namespace {

using models::testing::ToMarketBars;
std::vector<market::Bar> ToBars(const models::BarColumns& c) { return ToMarketBars(c); }

class SeriesWindowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = models::testing::TrainSmallModel(21, 4000);
    ASSERT_OK(model_.ensemble.status());
    const models::BarColumns cols = models::testing::SyntheticBars(4000, 21);
    bars_ = ToBars(cols);
    // A reference series on the same clock (another synthetic walk), as the DXY would be.
    const models::BarColumns ref = models::testing::SyntheticBars(4000, 99, 0.1);
    ref_ = {"DXY", ref.ts, ref.close};
    // Batch path: what training and calibration compute.
    spec_.emplace(models::InputSpec::Basic());
    auto frame = models::ComputeInputs(*spec_, bars_, model_.ds.inputs_from);
    ASSERT_OK(frame.status());
    frame_ = std::move(frame).value();
    auto states = ClassifyRegimes(bars_);
    ASSERT_OK(states.status());
    states_ = std::move(states).value();
    const auto& rows = model_.ds.rows;
    auto cal = FitIntervalCalibration(*model_.ensemble,
                                      {.data_from = rows.front().ts,
                                       .data_to = rows[rows.size() * 3 / 4].ts,
                                       .horizon = 1,
                                       .held_out_fraction = 0.25},
                                      bars_, frame_, states_);
    ASSERT_OK(cal.status());
    sm_.ensemble = &*model_.ensemble;
    sm_.conformal = cal->conformal;
    sm_.move_ratio = cal->move_ratio;
    sm_.model_version = "test/SYN/H1/v1";
    sm_.symbol = "SYN";
    sm_.timeframe = "H1";
    req_.top_drivers = 3;
  }

  // The batch signal at bar t: rows and states from the batch frame, context from the bars up to t.
  Result<Signal> BatchSignal(size_t t, const SignalGenerator& gen) {
    SignalInput in;
    in.bar_time = bars_[t].time();
    in.reference_price = bars_[t].close();
    in.features = std::span<const float>(frame_.Row(t), frame_.cols());
    in.regime = states_[t];
    in.cross_asset =
        CrossAssetContextAt(std::span(bars_).first(t + 1), market::Timeframe::kH1, "SYN", ref_);
    auto recent = RecentIntervals(std::span(bars_).first(t + 1), std::span(states_).first(t + 1),
                                  sm_.ensemble->schema().horizon);
    // Served once 200 rows are resolved after the regime's warm-up (about bar 750 here).
    if (t >= 1100) {
      EXPECT_TRUE(recent.ok()) << t;
    }
    if (recent.ok()) in.recent_intervals = std::move(recent).value();
    return gen.Generate(sm_, req_, in);
  }

  models::testing::SmallModel model_;
  std::vector<market::Bar> bars_;
  CrossAssetReference ref_;
  std::optional<models::InputSpec> spec_;
  models::FeatureFrame frame_;
  std::vector<RegimeState> states_;
  SignalModel sm_;
  SignalRequest req_;
};

TEST_F(SeriesWindowTest, StreamedBarByBarEqualsBatchBitForBit) {
  ManualClock clock(bars_.front().time());
  SignalGenerator gen(clock);
  auto w = SeriesWindow::Create(*spec_, model_.ds.inputs_from, "SYN", market::Timeframe::kH1);
  ASSERT_OK(w.status());
  size_t compared = 0;
  for (size_t t = 0; t < bars_.size(); ++t) {
    clock.Set(bars_[t].time() + kNanosPerHour);  // the bar closes
    ASSERT_TRUE(w->Push(bars_[t]).value());
    const size_t i = w->size() - 1;
    // Inputs and regime, bit for bit.
    ASSERT_EQ(std::memcmp(w->row(i).data(), frame_.Row(t), frame_.cols() * sizeof(float)), 0) << t;
    ASSERT_EQ(w->state(i), states_[t]) << t;
    if (t < 600 || t % 7 != 0) continue;  // signals once the regime is warm, every 7th bar
    auto live = SignalAt(*w, i, sm_, gen, req_, &ref_);
    auto batch = BatchSignal(t, gen);
    ASSERT_OK(live.status());
    ASSERT_OK(batch.status());
    ASSERT_EQ(live->ToJson(), batch->ToJson()) << t;
    EXPECT_TRUE(live->fields().cross_asset.available);
    ++compared;
  }
  EXPECT_GT(compared, 400u);
  // Older kept bars (delayed plans) give the batch signal too, once bars were dropped.
  ASSERT_GT(w->pushed(), w->size());
  for (size_t i = w->first_signal_index(); i < w->size(); i += 37) {
    const size_t t = bars_.size() - w->size() + i;
    auto live = SignalAt(*w, i, sm_, gen, req_, &ref_);
    ASSERT_OK(live.status());
    EXPECT_EQ(live->ToJson(), BatchSignal(t, gen)->ToJson()) << t;
  }
  EXPECT_EQ(SignalAt(*w, 0, sm_, gen, req_, &ref_).status().code(), StatusCode::kNotFound);
}

TEST_F(SeriesWindowTest, ASignalDoesNotChangeWhenLaterBarsArrive) {
  ManualClock clock(0);
  SignalGenerator gen(clock);
  auto w = SeriesWindow::Create(*spec_, models::kSeriesStart, "SYN", market::Timeframe::kH1);
  ASSERT_OK(w.status());
  const size_t t = 1500;
  for (size_t k = 0; k <= t; ++k) ASSERT_TRUE(w->Push(bars_[k]).value());
  auto at_t = SignalAt(*w, w->size() - 1, sm_, gen, req_, &ref_);
  ASSERT_OK(at_t.status());
  for (size_t k = t + 1; k < t + 100; ++k) ASSERT_TRUE(w->Push(bars_[k]).value());
  const size_t index_of_t = t - (w->pushed() - w->size());  // bars were dropped from the front
  ASSERT_EQ(w->bar(index_of_t).time(), bars_[t].time());
  auto later = SignalAt(*w, index_of_t, sm_, gen, req_, &ref_);
  ASSERT_OK(later.status());
  EXPECT_EQ(later->ToJson(), at_t->ToJson());
  // The same bar again, or an older one, is ignored.
  EXPECT_FALSE(w->Push(bars_[t]).value());
  // Closed-by lookup: the newest bar whose close is at or before the time.
  auto i = w->NewestClosedBy(bars_[t].time() + kNanosPerHour);
  ASSERT_TRUE(i.has_value());
  EXPECT_EQ(w->bar(*i).time(), bars_[t].time());
}

TEST_F(SeriesWindowTest, BarsBeforeTheAnchorAreIgnoredAndWarmUpIsReported) {
  auto w = SeriesWindow::Create(*spec_, bars_[100].time(), "SYN", market::Timeframe::kH1);
  ASSERT_OK(w.status());
  EXPECT_FALSE(w->Push(bars_[99]).value());
  EXPECT_TRUE(w->empty());
  for (size_t k = 100; k < 200; ++k) ASSERT_TRUE(w->Push(bars_[k]).value());
  auto in = w->InputAt(w->size() - 1, nullptr);
  EXPECT_EQ(in.status().code(), StatusCode::kFailedPrecondition);  // the regime warms up
  EXPECT_EQ(in.status().field(), "symbol");
}

}  // namespace
}  // namespace sinyal::signals
