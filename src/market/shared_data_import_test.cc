// Imports EVERY file of the shared market folder with its documented layout and time zone
// (../shared/data/market/README.md) and prints a table of row counts and first/last UTC times.
// Files that cannot be bars are expected to be rejected with a clear reason.
// Set SINYAL_IMPORT_TABLE_OUT=<file> to also write the table as Markdown (docs/market-data.md).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>

#include "core/testing/test_util.h"
#include "core/time.h"
#include "market/bar_series.h"
#include "market/csv_import.h"

namespace sinyal::market {
namespace {

struct FileSpec {
  std::string path;          // relative to the data folder
  std::string tz;            // source time zone
  std::string how;           // description for the table
  int64_t expect_rows;       // bars expected; -1 = expected rejection
  std::string expect_error;  // substring of the rejection
  CsvImportOptions options;
};

std::vector<FileSpec> Specs() {
  std::vector<FileSpec> v;
  auto add = [&](std::string path, std::string tz, std::string how, int64_t rows,
                 std::string err = {}, CsvImportOptions o = {}) {
    o.source_tz = *TimeZone::Parse(tz);
    // Every file is also checked against its timeframe grid (from its name).
    o.timeframe = path.find("_M1") != std::string::npos   ? Timeframe::kM1
                  : path.find("_D1") != std::string::npos ? Timeframe::kD1
                                                          : Timeframe::kH1;
    v.push_back({std::move(path), std::move(tz), std::move(how), rows, std::move(err), o});
  };
  for (const char* s : {"EURUSD", "GBPUSD", "USDCAD", "USDCHF", "AUDUSD"}) {
    add(std::string(s) + "_H1.csv", "NY+7", "auto (MT5 terminal)", 23580);
  }
  add("USDJPY_H1.csv", "EET", "auto (MT5 DateTime variant)", 48413);
  add("XAUUSD_H1.csv", "EET", "auto (MT5 DateTime variant)", 45857);
  add("DXY_H1.csv", "NY+7", "auto (Unix seconds of server clock)", 21640);
  add("EURUSD_M1.csv", "+03:00", "auto (MT5 terminal M1)", 30203);
  add("EURUSD_M1_2019.csv", "+03:00", "auto (MT5 M1, 7 columns)", 31585);
  add("EURUSD_M1_2020.csv", "+03:00", "auto (MT5 M1, 7 columns)", 18638);
  CsvImportOptions broker_day;
  broker_day.embedded_offset = EmbeddedOffset::kIgnore;
  for (const char* s : {"EURUSD", "GBPUSD", "USDJPY", "XAUUSD", "AUDUSD"}) {
    int64_t rows = std::string(s) == "EURUSD" || std::string(s) == "GBPUSD" ? 4390
                   : std::string(s) == "XAUUSD"                             ? 4394
                                                                            : 4389;
    add(std::string("daily/") + s + "_D1.csv", "EET",
        "auto, '+00:00' ignored (label), EET broker day", rows, {}, broker_day);
  }
  add("daily/DXY_D1.csv", "UTC", "auto", -1, "missing column 'open'");
  add("daily/ECB_EUROFXREF_D1.csv", "UTC", "auto", -1, "missing column 'open'");
  CsvImportOptions sek;
  sek.layout = CsvLayout::kGeneric;
  sek.columns.datetime = "date";
  sek.columns.open = "open_1";
  sek.columns.low = "low_1";
  sek.columns.high = "high_1";
  sek.columns.close = "close_1";
  sek.columns.volume = "volume_1";
  add("daily/USDSEK_D1.csv", "UTC", "generic mapping open_1,low_1,high_1,close_1; date label", 4652,
      {}, sek);
  CsvImportOptions yahoo;
  yahoo.ohlc_rounding_tolerance = 1e-12;
  add("daily/SPY_D1.csv", "UTC", "auto (Yahoo order); date label; ohlc_rounding_tolerance 1e-12",
      7786, {}, yahoo);
  add("daily/VIX_D1.csv", "UTC", "auto (Yahoo order); date label", 8565);
  for (const char* s : {"EURUSD", "GBPUSD", "USDCAD", "USDCHF"}) {
    add(std::string("alt_utc/") + s + "_H1.csv", "UTC", "auto (Timestamp)", 50000);
  }
  return v;
}

std::string ModalSpacing(const std::vector<Bar>& bars) {
  std::map<int64_t, int64_t> counts;
  for (size_t i = 1; i < bars.size(); ++i) counts[bars[i].time() - bars[i - 1].time()]++;
  int64_t best = 0, n = 0;
  for (auto& [d, c] : counts) {
    if (c > n) {
      best = d;
      n = c;
    }
  }
  if (best % kNanosPerDay == 0) return std::to_string(best / kNanosPerDay) + "d";
  if (best % kNanosPerHour == 0) return std::to_string(best / kNanosPerHour) + "h";
  return std::to_string(best / kNanosPerMinute) + "m";
}

TEST(SharedDataImportTest, EveryFileImportsOrIsRejectedWithAReason) {
  SINYAL_REQUIRE_MARKET_DATA();
  const auto dir = testing::MarketDataDir();
  std::string table =
      "| file | layout / options | tz | result | bars | first (UTC) | last (UTC) | usual step |\n"
      "|---|---|---|---|---|---|---|---|\n";
  int files = 0;
  for (const FileSpec& spec : Specs()) {
    ++files;
    auto r = ImportBarsCsvFile(dir / spec.path, spec.options);
    char row[1024];
    if (spec.expect_rows < 0) {
      ASSERT_FALSE(r.ok()) << spec.path << " should be rejected";
      EXPECT_NE(r.error().message().find(spec.expect_error), std::string::npos)
          << spec.path << ": " << r.error().message();
      std::snprintf(row, sizeof row, "| %s | %s | %s | rejected: %s | - | - | - | - |\n",
                    spec.path.c_str(), spec.how.c_str(), spec.tz.c_str(),
                    r.error().message().c_str());
    } else {
      ASSERT_OK(r);
      EXPECT_EQ(static_cast<int64_t>(r->bars.size()), spec.expect_rows) << spec.path;
      EXPECT_EQ(r->report.skipped_rows, 0) << spec.path;
      std::string result = "ok (" + std::string(CsvLayoutName(r->report.layout)) + ")";
      if (r->report.repaired_rows > 0) {
        result += ", " + std::to_string(r->report.repaired_rows) +
                  " rows with high/low 1-2 ulps inside open/close widened (first line " +
                  std::to_string(r->report.first_repaired_line) + ")";
      }
      std::snprintf(row, sizeof row, "| %s | %s | %s | %s | %zu | %s | %s | %s |\n",
                    spec.path.c_str(), spec.how.c_str(), spec.tz.c_str(), result.c_str(),
                    r->bars.size(), FormatIso8601(r->bars.front().time()).c_str(),
                    FormatIso8601(r->bars.back().time()).c_str(), ModalSpacing(r->bars).c_str());
    }
    table += row;
  }
  EXPECT_EQ(files, 25);
  std::printf("\n%s\n", table.c_str());
  if (const char* out = std::getenv("SINYAL_IMPORT_TABLE_OUT")) {
    std::ofstream f(out);
    f << table;
  }
}

TEST(SharedDataImportTest, TimeZonesLineUpAcrossFeeds) {
  SINYAL_REQUIRE_MARKET_DATA();
  const auto dir = testing::MarketDataDir();
  // EURUSD from the NY+7 broker and from the UTC feed must overlap on the same UTC hours with
  // nearly the same closes once both are converted (README: 0.1-0.9 pip apart).
  CsvImportOptions ny7;
  ny7.source_tz = *TimeZone::Parse("NY+7");
  auto a = ImportBarsCsvFile(dir / "EURUSD_H1.csv", ny7);
  auto b = ImportBarsCsvFile(dir / "alt_utc/EURUSD_H1.csv", CsvImportOptions{});
  ASSERT_OK(a);
  ASSERT_OK(b);
  std::map<UnixNanos, double> utc;
  for (const Bar& bar : b->bars) utc[bar.time()] = bar.close();
  double sum = 0;
  int n = 0;
  for (const Bar& bar : a->bars) {
    auto it = utc.find(bar.time());
    if (it == utc.end()) continue;
    sum += std::abs(it->second - bar.close());
    ++n;
  }
  ASSERT_GT(n, 5000);
  EXPECT_LT(sum / n, 0.0001) << "mean |diff| of closes over " << n << " common hours";
  // A wrong zone (UTC instead of NY+7) is detectably worse.
  auto wrong = ImportBarsCsvFile(dir / "EURUSD_H1.csv", CsvImportOptions{});
  ASSERT_OK(wrong);
  double sum_wrong = 0;
  int n_wrong = 0;
  for (const Bar& bar : wrong->bars) {
    auto it = utc.find(bar.time());
    if (it == utc.end()) continue;
    sum_wrong += std::abs(it->second - bar.close());
    ++n_wrong;
  }
  EXPECT_GT(sum_wrong / n_wrong, 2 * sum / n);
  // Gaps: an honest list, weekends excluded.
  auto gaps = FindGaps(a->bars, Timeframe::kH1);
  std::printf("EURUSD_H1 (NY+7): %zu gaps outside weekends\n", gaps.size());
}

}  // namespace
}  // namespace sinyal::market
