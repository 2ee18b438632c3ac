#include "market/tick_aggregator.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "core/testing/test_util.h"
#include "core/time.h"

namespace sinyal::market {
namespace {

constexpr int64_t kSec = kNanosPerSecond;
const UnixNanos kT0 = CivilToNanos(CivilTime{2024, 3, 15, 10, 0, 0});

struct Collected {
  std::vector<std::pair<Timeframe, Bar>> bars;
  std::vector<Bar> Of(Timeframe tf) const {
    std::vector<Bar> out;
    for (auto& [t, b] : bars)
      if (t == tf) out.push_back(b);
    return out;
  }
};

TickAggregator Make(Collected* c, int64_t grace = 0,
                    std::vector<Timeframe> rollups = {Timeframe::kM5, Timeframe::kH1}) {
  AggregatorOptions o;
  o.grace_nanos = grace;
  o.rollups = std::move(rollups);
  return TickAggregator(o, [c](Timeframe tf, const Bar& b) { c->bars.push_back({tf, b}); });
}

Tick At(UnixNanos t, double bid, double vol = 0) { return Tick{t, bid, bid + 0.0001, 0, vol}; }

TEST(TickAggregatorTest, BuildsM1BarsAndClosesOnNextMinute) {
  Collected c;
  auto agg = Make(&c);
  ASSERT_OK(agg.Add(At(kT0 + 1 * kSec, 1.10, 2)));
  ASSERT_OK(agg.Add(At(kT0 + 20 * kSec, 1.12)));
  ASSERT_OK(agg.Add(At(kT0 + 30 * kSec, 1.09)));
  ASSERT_OK(agg.Add(At(kT0 + 59 * kSec, 1.11)));
  EXPECT_TRUE(c.bars.empty()) << "bar must not close before the minute ends";
  ASSERT_OK(agg.Add(At(kT0 + 60 * kSec, 1.115)));
  auto m1 = c.Of(Timeframe::kM1);
  ASSERT_EQ(m1.size(), 1u);
  EXPECT_EQ(m1[0].time(), kT0);
  EXPECT_EQ(m1[0].open(), 1.10);
  EXPECT_EQ(m1[0].high(), 1.12);
  EXPECT_EQ(m1[0].low(), 1.09);
  EXPECT_EQ(m1[0].close(), 1.11);
  EXPECT_EQ(m1[0].volume(), 4);       // ticks
  EXPECT_EQ(m1[0].real_volume(), 2);  // traded volume
}

TEST(TickAggregatorTest, RollsUpToCoarserTimeframesWithoutFillingGaps) {
  Collected c;
  auto agg = Make(&c);
  // Ticks in minutes 0, 1, 3 (minute 2 silent), 7, then one in the next hour.
  for (int m : {0, 1, 3, 7}) ASSERT_OK(agg.Add(At(kT0 + m * 60 * kSec + kSec, 1.0 + m * 0.01)));
  ASSERT_OK(agg.Add(At(kT0 + 3600 * kSec + kSec, 2.0)));
  auto m1 = c.Of(Timeframe::kM1);
  ASSERT_EQ(m1.size(), 4u) << "silent minute 2 must have no bar";
  EXPECT_EQ(m1[2].time(), kT0 + 3 * 60 * kSec);
  auto m5 = c.Of(Timeframe::kM5);
  ASSERT_EQ(m5.size(), 2u);
  EXPECT_EQ(m5[0].time(), kT0);
  EXPECT_EQ(m5[0].open(), 1.0);
  EXPECT_EQ(m5[0].close(), 1.03);
  EXPECT_EQ(m5[0].high(), 1.03);
  EXPECT_EQ(m5[0].volume(), 3);
  EXPECT_EQ(m5[1].time(), kT0 + 5 * 60 * kSec);
  auto h1 = c.Of(Timeframe::kH1);
  ASSERT_EQ(h1.size(), 1u);
  EXPECT_EQ(h1[0].time(), kT0);
  EXPECT_EQ(h1[0].open(), 1.0);
  EXPECT_EQ(h1[0].close(), 1.07);
  EXPECT_EQ(h1[0].volume(), 4);
  // Emission order: each M1 before the coarser bar it completes.
  EXPECT_EQ(c.bars.back().first, Timeframe::kH1);
}

TEST(TickAggregatorTest, LateTickWithinGraceAmendsTheOpenBar) {
  Collected c;
  auto agg = Make(&c, 2 * kSec, {});
  ASSERT_OK(agg.Add(At(kT0 + 10 * kSec, 1.10)));
  ASSERT_OK(agg.Add(At(kT0 + 61 * kSec, 1.20)));  // next minute; watermark = 59 s
  // A tick stamped 59.5 s arrives after the 61 s tick: within grace, applied to minute 0.
  ASSERT_OK(agg.Add(At(kT0 + 59 * kSec + kSec / 2, 1.05)));
  // An out-of-order tick earlier than the bar's first tick becomes its open.
  ASSERT_OK(agg.Add(At(kT0 + 5 * kSec, 1.07)));
  EXPECT_TRUE(c.bars.empty());
  ASSERT_OK(agg.Add(At(kT0 + 62 * kSec, 1.21)));  // watermark = 60 s: minute 0 final
  auto m1 = c.Of(Timeframe::kM1);
  ASSERT_EQ(m1.size(), 1u);
  EXPECT_EQ(m1[0].open(), 1.07);
  EXPECT_EQ(m1[0].low(), 1.05);
  EXPECT_EQ(m1[0].close(), 1.05);  // the latest timestamp (59.5 s), not the latest arrival
  EXPECT_EQ(m1[0].volume(), 3);
  // Now minute 0 is final: a tick for it is late, dropped and reported.
  Status late = agg.Add(At(kT0 + 30 * kSec, 9.99));
  EXPECT_EQ(late.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(late.message(), "late tick at 2024-03-15T10:00:30Z: its M1 bar is already final");
  EXPECT_EQ(agg.stats().late, 1);
  agg.Flush();
  m1 = c.Of(Timeframe::kM1);
  ASSERT_EQ(m1.size(), 2u);
  EXPECT_EQ(m1[0].close(), 1.05) << "an emitted bar never changes";
  EXPECT_EQ(m1[1].close(), 1.21);
}

TEST(TickAggregatorTest, ArrivalOrderWithinGraceDoesNotChangeBars) {
  // The same ticks shuffled within a 5 s window give identical bars.
  std::vector<Tick> ticks;
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> px(1.0, 1.1);
  for (int i = 0; i < 2000; ++i) ticks.push_back(At(kT0 + i * (kSec / 4), px(rng)));
  auto run = [&](const std::vector<Tick>& in) {
    Collected c;
    auto agg = Make(&c, 5 * kSec);
    for (const Tick& t : in) EXPECT_OK(agg.Add(t));
    agg.Flush();
    return c.bars;
  };
  auto ordered = run(ticks);
  std::vector<Tick> shuffled = ticks;
  // Local shuffles: swap within blocks of 16 ticks (4 s < grace).
  for (size_t b = 0; b + 16 <= shuffled.size(); b += 16) {
    std::shuffle(shuffled.begin() + b, shuffled.begin() + b + 16, rng);
  }
  auto mixed = run(shuffled);
  ASSERT_EQ(ordered.size(), mixed.size());
  for (size_t i = 0; i < ordered.size(); ++i) {
    EXPECT_EQ(ordered[i].first, mixed[i].first);
    EXPECT_EQ(ordered[i].second, mixed[i].second) << i;
  }
}

TEST(TickAggregatorTest, AdvanceToClosesQuietMarketsAndRejectsBadTicks) {
  Collected c;
  auto agg = Make(&c, 2 * kSec, {Timeframe::kM5});
  ASSERT_OK(agg.Add(At(kT0 + kSec, 1.1)));
  agg.AdvanceTo(kT0 + 61 * kSec);
  EXPECT_TRUE(c.Of(Timeframe::kM1).empty()) << "grace not yet over";
  agg.AdvanceTo(kT0 + 62 * kSec);
  EXPECT_EQ(c.Of(Timeframe::kM1).size(), 1u);
  agg.AdvanceTo(kT0 + 5 * 60 * kSec + 2 * kSec);
  EXPECT_EQ(c.Of(Timeframe::kM5).size(), 1u);
  EXPECT_EQ(agg.Add(Tick{kT0 + 400 * kSec, -1, 0, 0, 0}).code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(agg.Add(Tick{kT0 + 400 * kSec, 1.2, 1.1, 0, 0}).ok()) << "ask < bid";
  EXPECT_FALSE(agg.Add(Tick{kT0 + 400 * kSec, std::nan(""), 0, 0, 0}).ok());
  EXPECT_EQ(agg.stats().invalid, 3);
}

TEST(TickAggregatorTest, M1BarsRollUpLikeTicks) {
  Collected c;
  auto agg = Make(&c, 0, {Timeframe::kH1});
  for (int m = 0; m < 60; ++m) {
    double o = 1.0 + m * 0.001;
    ASSERT_OK(
        agg.AddM1Bar(*Bar::Create(kT0 + m * 60 * kSec, o, o + 0.0005, o - 0.0005, o + 0.0002, 10)));
  }
  agg.Flush();
  auto h1 = c.Of(Timeframe::kH1);
  ASSERT_EQ(h1.size(), 1u);
  EXPECT_EQ(h1[0].open(), 1.0);
  EXPECT_DOUBLE_EQ(h1[0].high(), 1.059 + 0.0005);
  EXPECT_DOUBLE_EQ(h1[0].low(), 1.0 - 0.0005);
  EXPECT_DOUBLE_EQ(h1[0].close(), 1.059 + 0.0002);
  EXPECT_EQ(h1[0].volume(), 600);
  EXPECT_FALSE(agg.AddM1Bar(*Bar::Create(kT0 + 30 * kSec, 1, 1, 1, 1)).ok()) << "off-grid";
}

}  // namespace
}  // namespace sinyal::market
