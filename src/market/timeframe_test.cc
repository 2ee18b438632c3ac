#include "market/timeframe.h"

#include <gtest/gtest.h>

#include "core/testing/test_util.h"
#include "core/time.h"
#include "market/edge_parse.h"
#include "market/instrument.h"

namespace sinyal::market {
namespace {

UnixNanos T(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  return CivilToNanos(CivilTime{y, mo, d, h, mi, s});
}

// The edge parse: user text -> typed key, with the messages the HTTP API returns.
TEST(EdgeParseTest, ParsesSeriesKeysAndItsHalvesWithTheSameRules) {
  auto k = ParseSeriesKey("eurusd", "1h");
  ASSERT_OK(k);
  EXPECT_EQ(*k, (SeriesKey{"EURUSD", Timeframe::kH1}));
  EXPECT_EQ(ParseSeriesKey("", "H1").error().message(), "symbol is required");
  EXPECT_EQ(ParseSeriesKey("EURUSD", "").error().field(), "timeframe");
  EXPECT_EQ(ParseSeriesKey("EUR/USD", "H1").error().field(), "symbol");
  EXPECT_EQ(ParseSeriesKey("EURUSD", "H2").error().field(), "timeframe");

  EXPECT_EQ(*ParseSymbolText("xauusd"), "XAUUSD");
  EXPECT_EQ(ParseSymbolText("").error().message(), "symbol is required");
  EXPECT_EQ(ParseSymbolText("EUR/USD").error().field(), "symbol");
  EXPECT_EQ(*ParseTimeframeText("4h"), Timeframe::kH4);
  EXPECT_EQ(ParseTimeframeText("").error().message(), "timeframe is required");
  EXPECT_EQ(ParseTimeframeText("H2").error().field(), "timeframe");
}

TEST(TimeframeTest, ParsesCanonicalAndDurationSpellings) {
  EXPECT_EQ(*ParseTimeframe("H1"), Timeframe::kH1);
  EXPECT_EQ(*ParseTimeframe("1h"), Timeframe::kH1);
  EXPECT_EQ(*ParseTimeframe("60m"), Timeframe::kH1);
  EXPECT_EQ(*ParseTimeframe("m15"), Timeframe::kM15);
  EXPECT_EQ(*ParseTimeframe("240m"), Timeframe::kH4);
  EXPECT_EQ(*ParseTimeframe("1d"), Timeframe::kD1);
  EXPECT_EQ(*ParseTimeframe("D1"), Timeframe::kD1);
  for (Timeframe tf : kAllTimeframes) EXPECT_EQ(*ParseTimeframe(TimeframeName(tf)), tf);
  auto bad = ParseTimeframe("2h");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().field(), "timeframe");
  EXPECT_NE(bad.error().message().find("'2h'"), std::string::npos);
  EXPECT_FALSE(ParseTimeframe("").ok());
}

TEST(TimeframeTest, DurationsAndBucketFloor) {
  EXPECT_EQ(TimeframeNanos(Timeframe::kM5), 5 * kNanosPerMinute);
  EXPECT_EQ(TimeframeNanos(Timeframe::kD1), kNanosPerDay);
  UnixNanos t = T(2023, 3, 15, 13, 47, 31);
  EXPECT_EQ(BucketFloor(Timeframe::kM1, t), T(2023, 3, 15, 13, 47));
  EXPECT_EQ(BucketFloor(Timeframe::kM15, t), T(2023, 3, 15, 13, 45));
  EXPECT_EQ(BucketFloor(Timeframe::kM30, t), T(2023, 3, 15, 13, 30));
  EXPECT_EQ(BucketFloor(Timeframe::kH1, t), T(2023, 3, 15, 13));
  EXPECT_EQ(BucketFloor(Timeframe::kH4, t), T(2023, 3, 15, 12));
  EXPECT_EQ(BucketFloor(Timeframe::kD1, t), T(2023, 3, 15));  // UTC midnight
  // With a 22:00 UTC day boundary (offset -2 h), 13:47 belongs to the day opened 22:00 before.
  EXPECT_EQ(BucketFloor(Timeframe::kD1, t, -2 * kNanosPerHour), T(2023, 3, 14, 22));
  // Floor, not truncation, before 1970.
  EXPECT_EQ(BucketFloor(Timeframe::kH1, -1), -kNanosPerHour);
  EXPECT_TRUE(IsBucketAligned(Timeframe::kH1, T(2020, 1, 1, 5)));
  EXPECT_FALSE(IsBucketAligned(Timeframe::kH1, T(2020, 1, 1, 5, 1)));
}

TEST(InstrumentTest, ValidatesSymbols) {
  EXPECT_OK(ValidateSymbol("EURUSD"));
  EXPECT_OK(ValidateSymbol("DXY"));
  EXPECT_OK(ValidateSymbol("US500"));
  EXPECT_EQ(ValidateSymbol("EU").message(),
            "symbol must be 3 to 12 characters of A-Z and 0-9, got 2 characters");
  EXPECT_FALSE(ValidateSymbol("ABCDEFGHIJKLM").ok());
  EXPECT_EQ(ValidateSymbol("EUR/USD").message(),
            "symbol may contain only A-Z and 0-9; character 4 is not allowed");
  EXPECT_FALSE(ValidateSymbol("eurusd").ok());
  EXPECT_EQ(*NormalizeSymbol("eurusd"), "EURUSD");
  EXPECT_FALSE(NormalizeSymbol("../etc").ok());
}

TEST(InstrumentTest, PointsAreExactFixedPoint) {
  auto eu = Instrument::Create("EURUSD", 5);
  ASSERT_OK(eu);
  EXPECT_EQ(eu->ToPoints(1.12345), 112345);
  EXPECT_EQ(eu->FromPoints(112345), 1.12345);  // equals strtod("1.12345")
  EXPECT_DOUBLE_EQ(eu->point(), 0.00001);
  EXPECT_FALSE(Instrument::Create("EURUSD", 11).ok());
  EXPECT_FALSE(Instrument::Create("E", 5).ok());
  SeriesKey k{"EURUSD", Timeframe::kH1};
  EXPECT_EQ(k.ToString(), "EURUSD:H1");
}

}  // namespace
}  // namespace sinyal::market
