#include "market/bar_series.h"

#include <gtest/gtest.h>

#include "core/testing/test_util.h"
#include "core/time.h"

namespace sinyal::market {
namespace {

UnixNanos T(int y, int mo, int d, int h = 0, int mi = 0) {
  return CivilToNanos(CivilTime{y, mo, d, h, mi, 0});
}
Bar At(UnixNanos t, double c = 1.0) { return *Bar::Create(t, c, c, c, c); }

TEST(BarSeriesTest, RingKeepsLastNInOrder) {
  BarSeries s(Timeframe::kH1, 3);
  for (int h = 0; h < 5; ++h) ASSERT_OK(s.Append(At(h * kNanosPerHour, 1.0 + h)));
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].time(), 2 * kNanosPerHour);
  EXPECT_EQ(s.back().close(), 5.0);
  auto range = s.Range(3 * kNanosPerHour, 10 * kNanosPerHour);
  ASSERT_EQ(range.size(), 2u);
  EXPECT_EQ(range[0].time(), 3 * kNanosPerHour);
  EXPECT_EQ(s.Range(0, INT64_MAX, 1).size(), 1u);
}

TEST(BarSeriesTest, RejectsOutOfOrderAndMisaligned) {
  BarSeries s(Timeframe::kH1, 10);
  ASSERT_OK(s.Append(At(T(2020, 1, 2, 5))));
  Status dup = s.Append(At(T(2020, 1, 2, 5)));
  EXPECT_EQ(dup.message(),
            "bar at 2020-01-02T05:00:00Z is not after the last bar at 2020-01-02T05:00:00Z");
  EXPECT_FALSE(s.Append(At(T(2020, 1, 2, 4))).ok());
  s.set_check_alignment(true);
  EXPECT_EQ(s.Append(At(T(2020, 1, 2, 6, 30))).message(),
            "bar at 2020-01-02T06:30:00Z is not on the H1 bucket grid");
  EXPECT_OK(s.ReplaceLast(At(T(2020, 1, 2, 5), 2.0)));
  EXPECT_EQ(s.back().close(), 2.0);
  EXPECT_EQ(s.size(), 1u);
}

TEST(BarSeriesTest, GapsExcludeTheFxWeekendButNotHolidays) {
  // Friday 2020-01-03 20:00 UTC (15:00 NY) .. 21:00 UTC is the last hour (16:00 NY) before
  // the weekend; the market reopens Sunday 2020-01-05 22:00 UTC (17:00 NY).
  std::vector<Bar> bars = {At(T(2020, 1, 3, 20)), At(T(2020, 1, 3, 21)), At(T(2020, 1, 5, 22)),
                           At(T(2020, 1, 5, 23))};
  EXPECT_TRUE(FindGaps(bars, Timeframe::kH1).empty());
  // Without the weekend rule, every missing hour is a gap.
  auto all = FindGaps(bars, Timeframe::kH1, WeekendRule::kNone);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].missing, 48);
  // A missing Monday hour is a gap; a missing week-day (holiday) too.
  std::vector<Bar> holes = {At(T(2020, 1, 6, 10)), At(T(2020, 1, 6, 13)), At(T(2020, 1, 8, 0))};
  auto gaps = FindGaps(holes, Timeframe::kH1);
  ASSERT_EQ(gaps.size(), 2u);
  EXPECT_EQ(gaps[0].from, T(2020, 1, 6, 11));
  EXPECT_EQ(gaps[0].to, T(2020, 1, 6, 13));
  EXPECT_EQ(gaps[0].missing, 2);
  EXPECT_EQ(gaps[1].missing, 34);
  // A gap spanning a weekend counts only the open-market hours.
  std::vector<Bar> span = {At(T(2020, 1, 3, 18)), At(T(2020, 1, 6, 1))};
  auto g = FindGaps(span, Timeframe::kH1);
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].from, T(2020, 1, 3, 19));
  EXPECT_EQ(g[0].missing, 3 + 3);  // Fri 19,20,21 UTC and Sun 22,23 + Mon 00 UTC
  // Daily exchange bars: Saturday/Sunday rule.
  std::vector<Bar> days = {At(T(2020, 1, 3)), At(T(2020, 1, 6))};
  EXPECT_TRUE(FindGaps(days, Timeframe::kD1, WeekendRule::kSaturdaySunday).empty());
}

}  // namespace
}  // namespace sinyal::market
