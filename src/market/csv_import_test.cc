#include "market/csv_import.h"

#include <gtest/gtest.h>

#include <sstream>

#include "core/testing/test_util.h"

namespace sinyal::market {
namespace {

UnixNanos T(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  return CivilToNanos(CivilTime{y, mo, d, h, mi, s});
}

// Import options reading times in the zone `tz`.
CsvImportOptions InZone(const char* tz) {
  CsvImportOptions opt;
  opt.source_tz = *TimeZone::Parse(tz);
  return opt;
}

Result<CsvImportResult> Import(const std::string& text, CsvImportOptions opt = {}) {
  std::istringstream in(text);
  return ImportBarsCsv(in, opt);
}

TEST(CsvImportTest, Mt5TerminalTabWithAngleBrackets) {
  auto r = Import(
      "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n"
      "2020.01.02\t00:00:00\t1.12118\t1.12165\t1.12073\t1.12142\t426\t0\t3\n"
      "2020.01.02\t01:00:00\t1.12142\t1.12217\t1.12142\t1.12189\t523\t7\t1\n");
  ASSERT_OK(r);
  EXPECT_EQ(r->report.layout, CsvLayout::kMt5Terminal);
  EXPECT_EQ(r->report.separator, '\t');
  ASSERT_EQ(r->bars.size(), 2u);
  const Bar& b = r->bars[1];
  EXPECT_EQ(b.time(), T(2020, 1, 2, 1));
  EXPECT_EQ(b.open(), 1.12142);
  EXPECT_EQ(b.high(), 1.12217);
  EXPECT_EQ(b.low(), 1.12142);
  EXPECT_EQ(b.close(), 1.12189);
  EXPECT_EQ(b.volume(), 523);
  EXPECT_EQ(b.real_volume(), 7);
  EXPECT_EQ(b.spread(), 1);
}

TEST(CsvImportTest, Mt5ServerTimeConvertedToUtc) {
  // NY+7 server time: UTC+2 in US winter, UTC+3 in US summer.
  CsvImportOptions opt = InZone("NY+7");
  auto r = Import(
      "DATE,TIME,OPEN,HIGH,LOW,CLOSE,TICKVOL,VOL,SPREAD\n"
      "2020.01.02,00:00:00,1.1,1.2,1.0,1.1,1,0,0\n"
      "2020.07.01,00:00:00,1.1,1.2,1.0,1.1,1,0,0\n",
      opt);
  ASSERT_OK(r);
  EXPECT_EQ(r->bars[0].time(), T(2020, 1, 1, 22));
  EXPECT_EQ(r->bars[1].time(), T(2020, 6, 30, 21));
}

TEST(CsvImportTest, M1VariantWithoutVolSpreadAndLowerCase) {
  auto r = Import(
      "date,time,open,high,low,close,tick_volume\n"
      "2019.07.30,00:00:00,1.11443,1.11446,1.11442,1.11446,5\n"
      "2019.07.30,00:01:00,1.11446,1.11448,1.11434,1.11434,6\n");
  ASSERT_OK(r);
  EXPECT_EQ(r->report.layout, CsvLayout::kMt5Terminal);
  EXPECT_EQ(r->bars[1].time(), T(2019, 7, 30, 0, 1));
  EXPECT_EQ(r->bars[1].volume(), 6);
  EXPECT_EQ(r->bars[1].spread(), 0);
}

TEST(CsvImportTest, SingleDateTimeColumnInEet) {
  CsvImportOptions opt = InZone("EET");
  auto r = Import(
      "DateTime,Open,High,Low,Close,TickVolume,Spread\n"
      "2016.03.21 00:00:00,111.524,111.524,111.332,111.518,2691,0\n"
      "2016.07.01 10:00:00,111.518,111.552,111.393,111.439,2854,9\n",
      opt);
  ASSERT_OK(r);
  EXPECT_EQ(r->bars[0].time(), T(2016, 3, 20, 22));  // EET winter: UTC+2
  EXPECT_EQ(r->bars[1].time(), T(2016, 7, 1, 7));    // EEST: UTC+3
  EXPECT_EQ(r->bars[1].spread(), 9);
}

TEST(CsvImportTest, RatesLayoutWithUnixSecondsOfServerClock) {
  CsvImportOptions opt = InZone("NY+7");
  // 1576274400 = 2019-12-13 22:00 as a wall clock reading of NY+7 (UTC+2 in December).
  auto r = Import(
      "time,open,high,low,close,tick_volume,spread,real_volume\n"
      "1576274400,96.729,96.784,96.727,96.757,87,5,0\n",
      opt);
  ASSERT_OK(r);
  EXPECT_EQ(r->report.layout, CsvLayout::kMt5Rates);
  EXPECT_EQ(r->bars[0].time(), T(2019, 12, 13, 20));
  EXPECT_EQ(r->bars[0].spread(), 5);
  // Same layout with "YYYY.MM.DD HH:MM" time.
  auto r2 = Import(
      "time,open,high,low,close,tick_volume,spread,real_volume\n"
      "2019.12.13 22:00,96.729,96.784,96.727,96.757,87,5,0\n",
      opt);
  ASSERT_OK(r2);
  EXPECT_EQ(r2->bars[0].time(), T(2019, 12, 13, 20));
}

TEST(CsvImportTest, GenericMappingWithOpenLowHighCloseOrder) {
  CsvImportOptions opt;
  opt.layout = CsvLayout::kGeneric;
  opt.columns.datetime = "date";
  opt.columns.open = "open_1";
  opt.columns.low = "low_1";
  opt.columns.high = "high_1";
  opt.columns.close = "close_1";
  opt.columns.volume = "volume_1";
  auto r = Import(
      "date,open_1,low_1,high_1,close_1,volume_1\n"
      "2005-01-03,6.7022,6.6315,6.7112,6.6928,49055.0\n",
      opt);
  ASSERT_OK(r);
  EXPECT_EQ(r->bars[0].low(), 6.6315);
  EXPECT_EQ(r->bars[0].high(), 6.7112);
  EXPECT_EQ(r->bars[0].time(), T(2005, 1, 3));
  EXPECT_EQ(r->bars[0].volume(), 49055);
  // Without the mapping the reason names the missing column and the header.
  opt.columns = {};
  auto bad = Import("date,open_1,low_1,high_1,close_1,volume_1\n2005-01-03,1,1,1,1,1\n", opt);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(
      bad.error().message(),
      "line 1: missing column 'open' (header: date, open_1, low_1, high_1, close_1, volume_1)");
}

TEST(CsvImportTest, YahooColumnOrderFoundByName) {
  auto r = Import(
      "Date,Close,High,Low,Open,Volume\n"
      "1993-01-29,24.380447387695312,24.39778767744474,24.276405649198743,24.39778767744474,"
      "1003200\n");
  ASSERT_OK(r);
  EXPECT_EQ(r->report.layout, CsvLayout::kGeneric);
  EXPECT_EQ(r->bars[0].close(), 24.380447387695312);
  EXPECT_EQ(r->bars[0].open(), 24.39778767744474);
  EXPECT_EQ(r->bars[0].time(), T(1993, 1, 29));
}

TEST(CsvImportTest, CloseOnlyFileIsRejectedWithReason) {
  auto r = Import("Date,Close DXY\n1/2/1995,88.730003\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "line 1: missing column 'open' (header: Date, Close DXY)");
}

TEST(CsvImportTest, EmbeddedOffsetUsedOrIgnored) {
  const std::string text =
      "time,open,high,low,close,volume\n"
      "2007-02-05 00:00:00+00:00,1.2955,1.2964,1.2912,1.2928,5905\n";
  auto used = Import(text);
  ASSERT_OK(used);
  EXPECT_EQ(used->bars[0].time(), T(2007, 2, 5));
  CsvImportOptions opt;
  opt.embedded_offset = EmbeddedOffset::kIgnore;
  opt.source_tz = *TimeZone::Parse("EET");
  auto ignored = Import(text, opt);
  ASSERT_OK(ignored);
  EXPECT_EQ(ignored->bars[0].time(), T(2007, 2, 4, 22));
  auto plus3 = Import("time,open,high,low,close\n2020-01-01T03:00:00+03:00,1,1,1,1\n");
  ASSERT_OK(plus3);
  EXPECT_EQ(plus3->bars[0].time(), T(2020, 1, 1));
}

TEST(CsvImportTest, HeaderlessSemicolonMt5ByPosition) {
  CsvImportOptions opt;
  opt.has_header = false;
  opt.layout = CsvLayout::kMt5Terminal;
  auto r = Import(
      "2019.07.30;00:00;1.11443;1.11446;1.11442;1.11446;5\n"
      "2019.07.30;00:01;1.11446;1.11448;1.11434;1.11434;6\n",
      opt);
  ASSERT_OK(r);
  EXPECT_EQ(r->bars.size(), 2u);
  EXPECT_EQ(r->report.lines, 2);
  // Auto layout on a headerless file explains itself.
  auto bad = Import("2019.07.30,00:00,1.1,1.2,1.0,1.1,5\n2019.07.30,00:01,1.1,1.2,1.0,1.1,5\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(),
            "line 1: the first line '2019.07.30,...' looks like data, not a header: set "
            "has_header=false and the layout (mt5, mt5-rates or generic with '#N' columns)");
}

TEST(CsvImportTest, GenericByColumnNumberAndDmy) {
  CsvImportOptions opt;
  opt.has_header = false;
  opt.layout = CsvLayout::kGeneric;
  opt.date_format = DateFormat::kDmy;
  opt.columns.datetime = "#1";
  opt.columns.open = "#2";
  opt.columns.high = "#3";
  opt.columns.low = "#4";
  opt.columns.close = "#5";
  auto r = Import("31/01/2024,1,2,0.5,1.5\n", opt);
  ASSERT_OK(r);
  EXPECT_EQ(r->bars[0].time(), T(2024, 1, 31));
  opt.date_format = DateFormat::kMdy;
  auto r2 = Import("1/31/2024,1,2,0.5,1.5\n", opt);
  ASSERT_OK(r2);
  EXPECT_EQ(r2->bars[0].time(), T(2024, 1, 31));
}

TEST(CsvImportTest, SkipModeReportsEveryBadRowWithLineAndReason) {
  CsvImportOptions opt;
  opt.on_bad_row = BadRowPolicy::kSkipRow;
  opt.max_reported_errors = 2;
  auto r = Import(
      "DATE,TIME,OPEN,HIGH,LOW,CLOSE,TICKVOL\n"
      "2020.01.02,00:00,1.1,1.2,1.0,1.1,1\n"
      "2020.01.02,01:00,1.1,x,1.0,1.1,1\n"
      "2020.01.02,02:00,1.1,1.2,1.0,1.1,1\n"
      "2020.01.02,02:00,1.1,1.2,1.0,1.1,1\n"
      "2020.01.02,03:00,1.1,1.0,1.2,1.1,1\n"
      "2020.01.02,04:00,1.1,1.2,1.0,1.1,1\n",
      opt);
  ASSERT_OK(r);
  EXPECT_EQ(r->bars.size(), 3u);
  EXPECT_EQ(r->report.data_rows, 6);
  EXPECT_EQ(r->report.skipped_rows, 3);
  ASSERT_EQ(r->report.errors.size(), 2u);
  EXPECT_TRUE(r->report.errors_truncated);
  EXPECT_EQ(r->report.errors[0].ToString(), "line 3, column 'HIGH': 'x' is not a number");
  EXPECT_EQ(r->report.errors[1].ToString(),
            "line 5, column 'DATE': duplicate timestamp 2020-01-02T02:00:00Z (same as line 4)");
}

TEST(CsvImportTest, RejectModeReturnsNoBars) {
  auto r = Import(
      "DATE,TIME,OPEN,HIGH,LOW,CLOSE,TICKVOL\n"
      "2020.01.02,00:00,1.1,1.2,1.0,1.1,1\n"
      "2020.01.02,01:00,1.1,1.2,1.0,-1.1,1\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().field(), "line 3");
  EXPECT_EQ(r.error().message(), "line 3, column 'CLOSE': close -1.1 is not a positive price");
}

TEST(CsvImportTest, RoundingToleranceRepairsOnlyUlpNoise) {
  const std::string text =
      "Date,Close,High,Low,Open,Volume\n"
      "1993-02-19,24.172365188598633,24.17236518859863,24.085666656494141,24.11,100\n";
  auto strict = Import(text);
  ASSERT_FALSE(strict.ok());
  EXPECT_EQ(strict.error().message(),
            "line 2, column 'High': high 24.17236518859863 is below close 24.172365188598633");
  CsvImportOptions opt;
  opt.ohlc_rounding_tolerance = 1e-12;
  auto fixed = Import(text, opt);
  ASSERT_OK(fixed);
  EXPECT_EQ(fixed->bars[0].high(), 24.172365188598633);
  EXPECT_EQ(fixed->report.repaired_rows, 1);
  EXPECT_EQ(fixed->report.first_repaired_line, 2);
  // A real violation is still an error.
  auto real = Import("Date,Close,High,Low,Open\n1993-02-19,24.2,24.1,24.0,24.1\n", opt);
  ASSERT_FALSE(real.ok());
  opt.ohlc_rounding_tolerance = 0.5;
  EXPECT_EQ(Import(text, opt).error().field(), "ohlc_rounding_tolerance");
}

TEST(CsvImportTest, TimeframeCheckCatchesTheWrongFile) {
  const std::string m1 =
      "date,time,open,high,low,close,tick_volume\n"
      "2019.07.30,00:00:00,1.1,1.2,1.0,1.1,5\n"
      "2019.07.30,00:01:00,1.1,1.2,1.0,1.1,6\n";
  CsvImportOptions opt;
  opt.timeframe = Timeframe::kH1;
  opt.source_tz = *TimeZone::Parse("+03:00");
  auto r = Import(m1, opt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(),
            "line 3, column 'date': time 2019-07-30T00:01:00 is not the open of an H1 bar");
  opt.timeframe = Timeframe::kM1;
  EXPECT_OK(Import(m1, opt));
}

TEST(CsvImportTest, StreamingVariantDeliversBatchesInOrder) {
  std::string text = "DATE,TIME,OPEN,HIGH,LOW,CLOSE,TICKVOL\n";
  for (int h = 0; h < 10; ++h) {
    text += "2020.01.02," + std::string(h < 10 ? "0" : "") + std::to_string(h) +
            ":00,1.1,1.2,1.0,1.1," + std::to_string(h) + "\n";
  }
  std::istringstream in(text);
  std::vector<size_t> sizes;
  std::vector<Bar> all;
  auto rep = ImportBarsCsvStreaming(
      in, CsvImportOptions{},
      [&](std::span<const Bar> b) {
        sizes.push_back(b.size());
        all.insert(all.end(), b.begin(), b.end());
        return Status::Ok();
      },
      4);
  ASSERT_OK(rep);
  EXPECT_EQ(rep->bars, 10);
  EXPECT_EQ(sizes, (std::vector<size_t>{4, 4, 2}));
  ASSERT_EQ(all.size(), 10u);
  EXPECT_EQ(all[9].volume(), 9);
  // A sink error stops the import and is returned.
  std::istringstream in2(text);
  auto stopped = ImportBarsCsvStreaming(
      in2, CsvImportOptions{},
      [](std::span<const Bar>) { return Status::Unavailable("store down"); }, 4);
  ASSERT_FALSE(stopped.ok());
  EXPECT_EQ(stopped.error().code(), StatusCode::kUnavailable);
}

TEST(CsvImportTest, ParseWallTimeFormats) {
  bool off = false;
  int m = 0;
  EXPECT_EQ(*ParseWallTime("2020.01.02 03:04:05", {}, DateFormat::kAuto, &off, &m),
            T(2020, 1, 2, 3, 4, 5));
  EXPECT_EQ(*ParseWallTime("20200102", {}, DateFormat::kAuto, &off, &m), T(2020, 1, 2));
  EXPECT_EQ(*ParseWallTime("2020-01-02T03:04", {}, DateFormat::kAuto, &off, &m),
            T(2020, 1, 2, 3, 4));
  EXPECT_EQ(*ParseWallTime("1577934245123", {}, DateFormat::kUnixMillis, &off, &m),
            T(2020, 1, 2, 3, 4, 5) + 123'000'000);
  EXPECT_FALSE(ParseWallTime("2020.02.30", {}, DateFormat::kAuto, &off, &m).ok());
  EXPECT_FALSE(ParseWallTime("2020.01.02 25:00", {}, DateFormat::kAuto, &off, &m).ok());
  EXPECT_FALSE(ParseWallTime("2020.01.02 03:04x", {}, DateFormat::kAuto, &off, &m).ok());
  auto amb = ParseWallTime("1/2/2020", {}, DateFormat::kAuto, &off, &m);
  ASSERT_FALSE(amb.ok());
  EXPECT_NE(amb.error().message().find("ambiguous"), std::string::npos);
}

// Found by fuzz/csv_import_fuzz.cc (input kept in fuzz/corpus/csv_import/): 11 digits of Unix
// seconds (or 14+ of milliseconds) overflowed int64 nanoseconds before the range check, undefined
// behaviour that UBSan reported. They are out of range (after 2200-01-01), named by line.
TEST(CsvImportTest, UnixTimesBeyond2200AreOutOfRangeWithoutOverflow) {
  bool off = false;
  int m = 0;
  const int64_t limit_s = T(2200, 1, 1) / kNanosPerSecond;
  EXPECT_EQ(*ParseWallTime(std::to_string(limit_s), {}, DateFormat::kUnixSeconds, &off, &m),
            T(2200, 1, 1));
  for (const std::string text :
       {std::to_string(limit_s + 1), std::string("98654063200"), std::string("99999999999")}) {
    auto t = ParseWallTime(text, {}, DateFormat::kAuto, &off, &m);
    ASSERT_FALSE(t.ok()) << text;
    EXPECT_NE(t.error().message().find("out of range"), std::string::npos) << t.error().message();
  }
  auto ms = ParseWallTime("999999999999999", {}, DateFormat::kUnixMillis, &off, &m);
  ASSERT_FALSE(ms.ok());
  EXPECT_NE(ms.error().message().find("out of range"), std::string::npos);

  auto r = Import(
      "time,open,high,low,close,volume\n"
      "1654052400,101.766,101.851,101.761,101.841,894.0\n"
      "98654063200,101.923,101.943,101.886,101.936,765.0\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().field(), "line 3");
}

}  // namespace
}  // namespace sinyal::market
