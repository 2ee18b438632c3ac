#include "market/replay.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <sstream>

#include "core/testing/test_util.h"
#include "market/csv_import.h"

namespace sinyal::market {
namespace {

const UnixNanos kT0 = CivilToNanos(CivilTime{2018, 6, 1, 0, 0, 0});

std::vector<Bar> M1Bars(int n) {
  std::vector<Bar> out;
  for (int i = 0; i < n; ++i) {
    double o = 1.16 + i * 1e-4;
    out.push_back(*Bar::Create(kT0 + i * kNanosPerMinute, o, o + 2e-4, o - 1e-4, o + 1e-4, 5));
  }
  return out;
}

TEST(ReplayTest, PacesOnTheInjectedClock) {
  ManualClock clock(1'000);
  ManualClockSleeper sleeper(clock);
  BarVectorSource src(M1Bars(120));
  std::vector<std::pair<Timeframe, Bar>> out;
  TickAggregator agg(AggregatorOptions{0, PriceSource::kBid, {Timeframe::kH1}},
                     [&](Timeframe tf, const Bar& b) {
                       out.push_back({tf, b});
                     });
  ReplayOptions opt;
  opt.speed = 60;  // one market minute per second
  auto stats = Replay(src, AggregatorSink(agg), clock, sleeper, opt);
  ASSERT_OK(stats);
  agg.Flush();
  EXPECT_EQ(stats->events, 120);
  EXPECT_EQ(stats->rejected, 0);
  ASSERT_EQ(sleeper.waits().size(), 120u);
  EXPECT_EQ(sleeper.waits()[0], 1'000);
  EXPECT_EQ(sleeper.waits()[1], 1'000 + kNanosPerSecond);
  EXPECT_EQ(sleeper.waits()[119], 1'000 + 119 * kNanosPerSecond);
  EXPECT_EQ(clock.Now(), 1'000 + 119 * kNanosPerSecond);
  int h1 = 0, m1 = 0;
  for (auto& [tf, b] : out) (tf == Timeframe::kH1 ? h1 : m1)++;
  EXPECT_EQ(m1, 120);
  EXPECT_EQ(h1, 2);
}

TEST(ReplayTest, SpeedZeroDoesNotWaitAndCancelStops) {
  ManualClock clock;
  ManualClockSleeper sleeper(clock);
  BarVectorSource src(M1Bars(10));
  int n = 0;
  std::atomic<bool> cancel{false};
  ReplayOptions opt;
  opt.speed = 0;
  opt.cancel = &cancel;
  auto stats = Replay(
      src,
      [&](const ReplayEvent&) {
        if (++n == 4) cancel = true;
        return Status::Ok();
      },
      clock, sleeper, opt);
  ASSERT_OK(stats);
  EXPECT_TRUE(sleeper.waits().empty());
  EXPECT_EQ(stats->events, 4);
  EXPECT_TRUE(stats->cancelled);
  opt.speed = -1;
  EXPECT_FALSE(Replay(
                   src, [](const ReplayEvent&) { return Status::Ok(); }, clock, sleeper, opt)
                   .ok());
}

TEST(ReplayTest, TickFileIntoAggregatorCountsLateTicks) {
  std::istringstream in(
      "time,bid,ask,volume\n"
      "2018.06.01 03:00:00.250,1.1000,1.1002,1\n"
      "2018.06.01 03:00:30,1.1010,1.1012,2\n"
      "2018.06.01 03:01:05,1.1020,1.1022,1\n"
      "2018.06.01 03:00:40,1.0990,1.0992,1\n"  // late (grace 0): minute 03:00 already final
      "2018.06.01 03:01:10,1.1015,1.1017,1\n");
  TickCsvSource src(in, *TimeZone::Parse("+03:00"));
  ManualClock clock;
  ManualClockSleeper sleeper(clock);
  std::vector<Bar> m1;
  TickAggregator agg(AggregatorOptions{0, PriceSource::kBid, {}},
                     [&](Timeframe, const Bar& b) { m1.push_back(b); });
  auto stats = Replay(src, AggregatorSink(agg), clock, sleeper, ReplayOptions{0});
  ASSERT_OK(stats);
  agg.Flush();
  EXPECT_EQ(stats->events, 5);
  EXPECT_EQ(stats->rejected, 1);
  ASSERT_EQ(m1.size(), 2u);
  EXPECT_EQ(m1[0].time(), kT0);  // 03:00 at UTC+3 = 00:00 UTC
  EXPECT_EQ(m1[0].open(), 1.1);
  EXPECT_EQ(m1[0].close(), 1.101);
  EXPECT_EQ(m1[0].real_volume(), 3);
  EXPECT_EQ(m1[1].close(), 1.1015);
}

TEST(ReplayTest, BadTickLineStopsWithItsLineNumber) {
  std::istringstream in("time,bid\n2018.06.01 03:00:00,abc\n");
  TickCsvSource src(in, TimeZone::Utc());
  ManualClock clock;
  ManualClockSleeper sleeper(clock);
  auto r = Replay(src, [](const ReplayEvent&) { return Status::Ok(); }, clock, sleeper, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "line 2: column 'bid': 'abc' is not a finite number");
}

}  // namespace
}  // namespace sinyal::market

namespace sinyal::market {
namespace {

// Scenario on real data: the M1 file of September 2020, replayed into the aggregator, rolls up to
// H1 bars that line up with the broker's own H1 file (README: the same kind of server, closes
// about 0.26 pip apart on average).
TEST(ReplayTest, RealM1FileRollsUpToTheBrokersH1Bars) {
  SINYAL_REQUIRE_MARKET_DATA();
  const auto dir = testing::MarketDataDir();
  CsvImportOptions m1_opt;
  m1_opt.source_tz = *TimeZone::Parse("+03:00");
  m1_opt.timeframe = Timeframe::kM1;
  auto m1 = ImportBarsCsvFile(dir / "EURUSD_M1_2020.csv", m1_opt);
  ASSERT_OK(m1);
  CsvImportOptions h1_opt;
  h1_opt.source_tz = *TimeZone::Parse("NY+7");
  auto h1 = ImportBarsCsvFile(dir / "EURUSD_H1.csv", h1_opt);
  ASSERT_OK(h1);
  std::map<UnixNanos, Bar> broker;
  for (const Bar& b : h1->bars) broker.emplace(b.time(), b);

  std::vector<Bar> rolled;
  TickAggregator agg(AggregatorOptions{0, PriceSource::kBid, {Timeframe::kH1}},
                     [&](Timeframe tf, const Bar& b) {
                       if (tf == Timeframe::kH1) rolled.push_back(b);
                     });
  ManualClock clock;
  ManualClockSleeper sleeper(clock);
  BarVectorSource src(m1->bars);
  auto stats = Replay(src, AggregatorSink(agg), clock, sleeper, ReplayOptions{3600});
  ASSERT_OK(stats);
  agg.Flush();
  EXPECT_EQ(stats->events, static_cast<int64_t>(m1->bars.size()));
  EXPECT_EQ(stats->rejected, 0);
  // At speed 3600 a market hour takes one (virtual) second.
  EXPECT_NEAR(static_cast<double>(clock.Now()) / kNanosPerSecond,
              static_cast<double>(m1->bars.back().time() - m1->bars.front().time()) / kNanosPerHour,
              1e-6);
  int matched = 0;
  double sum_close = 0, sum_high = 0;
  for (const Bar& b : rolled) {
    auto it = broker.find(b.time());
    if (it == broker.end()) continue;
    ++matched;
    sum_close += std::abs(b.close() - it->second.close());
    sum_high += std::abs(b.high() - it->second.high());
  }
  ASSERT_GT(rolled.size(), 250u);
  EXPECT_GT(matched, static_cast<int>(rolled.size() * 9 / 10)) << "H1 buckets must line up in UTC";
  std::printf(
      "M1_2020 -> H1: %zu bars, %d on the broker's H1 times, mean |close diff| %.2f pip, "
      "mean |high diff| %.2f pip\n",
      rolled.size(), matched, sum_close / matched * 1e4, sum_high / matched * 1e4);
  EXPECT_LT(sum_close / matched, 0.5e-4);
}

}  // namespace
}  // namespace sinyal::market
