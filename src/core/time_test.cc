#include "core/time.h"

#include "core/testing/test_util.h"

namespace sinyal {
namespace {

UnixNanos At(int y, int mo, int d, int h, int mi = 0) {
  return CivilToNanos({y, mo, d, h, mi, 0, 0});
}

TEST(TimeTest, CivilRoundTrip) {
  for (int64_t days = -800000; days < 800000; days += 997) {
    int y, m, d;
    CivilFromDays(days, &y, &m, &d);
    EXPECT_EQ(DaysFromCivil(y, m, d), days);
  }
  EXPECT_EQ(Weekday(0), 4);                           // 1970-01-01 was a Thursday
  EXPECT_EQ(Weekday(DaysFromCivil(2024, 3, 15)), 5);  // a Friday
}

TEST(TimeTest, Iso8601RoundTripAndOffsets) {
  auto t = ParseIso8601("2024-03-15T10:30:00Z");
  ASSERT_OK(t);
  EXPECT_EQ(FormatIso8601(*t), "2024-03-15T10:30:00Z");
  EXPECT_EQ(*ParseIso8601("2024-03-15T17:30:00+07:00"), *t);
  EXPECT_EQ(*ParseIso8601("2024-03-15"), At(2024, 3, 15, 0));
  EXPECT_EQ(FormatIso8601(*ParseIso8601("2024-03-15T10:30:00.25Z")),
            "2024-03-15T10:30:00.250000000Z");
  EXPECT_EQ(*ParseIso8601("1710498600"), *t);
}

TEST(TimeTest, Iso8601RejectsGarbage) {
  for (const char* bad :
       {"", "2024-13-01", "2024-02-30T00:00Z", "2024-03-15T10:30:00", "2024-03-15T25:00Z",
        "yesterday", "2024-03-15T10:30:00+99:00", "99999999999999999999"}) {
    EXPECT_FALSE(ParseIso8601(bad).ok()) << bad;
  }
}

TEST(TimeZoneTest, NewYorkPlus7FollowsUsDst) {
  auto tz = TimeZone::Parse("NY+7");
  ASSERT_OK(tz);
  // Winter: server 2020-01-02 00:00 = UTC 2020-01-01 22:00.
  EXPECT_EQ(*tz->LocalToUtc(At(2020, 1, 2, 0)), At(2020, 1, 1, 22));
  // Summer: server 2020-07-01 12:00 = UTC 09:00.
  EXPECT_EQ(*tz->LocalToUtc(At(2020, 7, 1, 12)), At(2020, 7, 1, 9));
  // 2020-03-09 (Mon after US switch on Mar 8) is already +3, while EU is still +2.
  EXPECT_EQ(*tz->LocalToUtc(At(2020, 3, 9, 12)), At(2020, 3, 9, 9));
  auto eet = TimeZone::Parse("EET");
  ASSERT_OK(eet);
  EXPECT_EQ(*eet->LocalToUtc(At(2020, 3, 9, 12)), At(2020, 3, 9, 10));
  // EU switched on 2020-03-29; by 2020-03-30 both are +3.
  EXPECT_EQ(*eet->LocalToUtc(At(2020, 3, 30, 12)), At(2020, 3, 30, 9));
  // US ends 2020-11-01; EU ended 2020-10-25: in between NY+7 is +3, EET is +2.
  EXPECT_EQ(*tz->LocalToUtc(At(2020, 10, 28, 12)), At(2020, 10, 28, 9));
  EXPECT_EQ(*eet->LocalToUtc(At(2020, 10, 28, 12)), At(2020, 10, 28, 10));
}

TEST(TimeZoneTest, LocalToUtcInvertsUtcToLocal) {
  for (const char* name : {"UTC", "+07:00", "-05:30", "America/New_York", "NY+7", "EET"}) {
    auto tz = TimeZone::Parse(name);
    ASSERT_OK(tz);
    for (UnixNanos t = At(2019, 1, 1, 0); t < At(2024, 1, 1, 0); t += 7 * kNanosPerHour) {
      CivilTime c = NanosToCivil(t);
      if (Weekday(DaysFromCivil(c.year, c.month, c.day)) == 0) continue;  // DST switches on Sundays
      EXPECT_EQ(*tz->LocalToUtc(tz->UtcToLocal(t)), t) << name << " " << FormatIso8601(t);
    }
    EXPECT_EQ(TimeZone::Parse(tz->Name())->Name(), tz->Name());
  }
}

TEST(TimeZoneTest, RejectsUnknownNames) {
  auto tz = TimeZone::Parse("Mars/Olympus");
  ASSERT_FALSE(tz.ok());
  EXPECT_EQ(tz.error().field(), "timezone");
  EXPECT_FALSE(TimeZone::Parse("+25:00").ok());
}

}  // namespace
}  // namespace sinyal
