// The repository's own sample of real bars (data/sample/README.md): every file imports with its
// documented layout and time zone, with the documented row count and first/last instants, and,
// when the full shared set is present, each sample is byte-for-byte the stated run of rows of its
// source file (so the README's provenance stays true).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/testing/test_util.h"
#include "core/time.h"
#include "market/csv_import.h"

namespace sinyal::market {
namespace {

struct SampleFile {
  std::string name;
  std::string tz;
  Timeframe timeframe;
  int64_t rows;
  std::string first_utc, last_utc;
};

std::vector<SampleFile> Files() {
  return {
      {"EURUSD_H1.csv", "NY+7", Timeframe::kH1, 8524, "2022-05-31T21:00:00Z",
       "2023-10-12T08:00:00Z"},
      {"GBPUSD_H1.csv", "NY+7", Timeframe::kH1, 8524, "2022-05-31T21:00:00Z",
       "2023-10-12T08:00:00Z"},
      {"USDJPY_H1.csv", "EET", Timeframe::kH1, 9870, "2022-05-31T21:00:00Z",
       "2023-12-29T21:00:00Z"},
      {"XAUUSD_H1.csv", "EET", Timeframe::kH1, 9379, "2022-05-31T22:00:00Z",
       "2023-12-29T21:00:00Z"},
      // Unix seconds of the server clock: 2022-06-01 03:00 NY+7 in summer is 00:00 UTC.
      {"DXY_H1.csv", "NY+7", Timeframe::kH1, 8493, "2022-06-01T00:00:00Z", "2023-12-29T20:00:00Z"},
      {"EURUSD_M1.csv", "+03:00", Timeframe::kM1, 1440, "2018-05-31T21:00:00Z",
       "2018-06-03T21:01:00Z"},
  };
}

std::vector<std::string> Lines(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(SampleDataTest, EveryFileImportsWithItsDocumentedZoneRowsAndSpan) {
  const auto dir = testing::SampleDataDir();
  ASSERT_TRUE(std::filesystem::exists(dir / "README.md")) << dir;
  int64_t bytes = 0;
  for (const SampleFile& f : Files()) {
    SCOPED_TRACE(f.name);
    CsvImportOptions o;
    o.source_tz = *TimeZone::Parse(f.tz);
    o.timeframe = f.timeframe;
    auto r = ImportBarsCsvFile(dir / f.name, o);
    ASSERT_OK(r);
    EXPECT_EQ(static_cast<int64_t>(r->bars.size()), f.rows);
    EXPECT_EQ(r->report.skipped_rows, 0);
    EXPECT_EQ(FormatIso8601(r->bars.front().time()), f.first_utc);
    EXPECT_EQ(FormatIso8601(r->bars.back().time()), f.last_utc);
    EXPECT_LT(r->bars.back().time(), *ParseIso8601("2024-01-01T00:00:00Z")) << "2024+ is held out";
    bytes += static_cast<int64_t>(std::filesystem::file_size(dir / f.name));
  }
  // "A few MB at most" (GUIDE.md): keep the repository small.
  EXPECT_LT(bytes, 4 * 1024 * 1024);
  // No file in the folder that the README (and this test) does not describe.
  int csv_files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    csv_files += e.path().extension() == ".csv";
  EXPECT_EQ(csv_files, static_cast<int>(Files().size()));
}

TEST(SampleDataTest, EachFileIsAContiguousRunOfItsSharedSource) {
  std::string why;
  if (!testing::MarketDataAvailable(&why)) GTEST_SKIP() << why;
  for (const SampleFile& f : Files()) {
    SCOPED_TRACE(f.name);
    auto sample = Lines(testing::SampleDataDir() / f.name);
    auto full = Lines(testing::MarketDataDir() / f.name);
    ASSERT_GT(sample.size(), 1u);
    ASSERT_GT(full.size(), sample.size());
    EXPECT_EQ(sample[0], full[0]) << "same header";
    auto it = std::find(full.begin() + 1, full.end(), sample[1]);
    ASSERT_NE(it, full.end()) << "first sample row not in the source";
    ASSERT_LE(static_cast<size_t>(full.end() - it), full.size());
    ASSERT_GE(static_cast<size_t>(full.end() - it), sample.size() - 1);
    EXPECT_TRUE(std::equal(sample.begin() + 1, sample.end(), it)) << "rows differ from the source";
  }
}

}  // namespace
}  // namespace sinyal::market
