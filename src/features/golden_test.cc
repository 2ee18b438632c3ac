// Golden tests: every indicator against TA-Lib's own output (npm talib 1.1.6, TA-Lib C 0.6.x)
// on real bars. The CSV files are read with Sinyal's importer, so the whole path from text to
// indicator value is checked. Fixtures: scripts/golden.sh <dir>, then SINYAL_GOLDEN_DIR=<dir>.
// Tolerance: relative 1e-9 per value, and the first valid index must equal TA-Lib's begIndex.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/testing/test_util.h"
#include "features/indicators.h"
#include "market/csv_import.h"

namespace sinyal::features {
namespace {

using nlohmann::json;

constexpr double kRelTol = 1e-9;

std::filesystem::path GoldenDir(std::string* why) {
  const char* env = std::getenv("SINYAL_GOLDEN_DIR");
  if (env == nullptr || *env == '\0') {
    *why =
        "SINYAL_GOLDEN_DIR is not set; generate the fixtures with `scripts/golden.sh "
        "<builddir>/golden` and run with SINYAL_GOLDEN_DIR=<builddir>/golden";
    return {};
  }
  std::filesystem::path dir(env);
  if (!std::filesystem::exists(dir / "manifest.json")) {
    *why = "no manifest.json in SINYAL_GOLDEN_DIR=" + dir.string() + "; run `scripts/golden.sh " +
           dir.string() + "`";
    return {};
  }
  return dir;
}

market::CsvImportOptions OptionsFor(const std::string& file) {
  market::CsvImportOptions o;
  if (file.rfind("daily/", 0) == 0) {
    o.source_tz = *TimeZone::Parse("EET");
    o.embedded_offset = market::EmbeddedOffset::kIgnore;
  } else if (file.rfind("alt_utc/", 0) == 0) {
    o.source_tz = TimeZone::Utc();
  } else if (file.rfind("USDJPY", 0) == 0 || file.rfind("XAUUSD", 0) == 0) {
    o.source_tz = *TimeZone::Parse("EET");
  } else {
    o.source_tz = *TimeZone::Parse("NY+7");
  }
  return o;
}

int I(const json& params, const char* key) { return params.at(key).get<int>(); }

// Computes the Sinyal outputs for one TA-Lib case, keyed by TA-Lib's output names.
Result<std::map<std::string, std::vector<double>>> Compute(const std::string& fn, const json& p,
                                                           const Columns& c) {
  std::map<std::string, std::vector<double>> out;
  if (fn == "SMA") {
    SINYAL_ASSIGN_OR_RETURN(out["outReal"], SmaBatch(c.close, I(p, "optInTimePeriod")));
  } else if (fn == "EMA") {
    SINYAL_ASSIGN_OR_RETURN(out["outReal"], EmaBatch(c.close, I(p, "optInTimePeriod")));
  } else if (fn == "RSI") {
    SINYAL_ASSIGN_OR_RETURN(out["outReal"], RsiBatch(c.close, I(p, "optInTimePeriod")));
  } else if (fn == "MACD") {
    SINYAL_ASSIGN_OR_RETURN(auto m, MacdBatch(c.close, I(p, "optInFastPeriod"),
                                              I(p, "optInSlowPeriod"), I(p, "optInSignalPeriod")));
    out["outMACD"] = m.macd;
    out["outMACDSignal"] = m.signal;
    out["outMACDHist"] = m.hist;
  } else if (fn == "BBANDS") {
    SINYAL_ASSIGN_OR_RETURN(
        auto b, BbandsBatch(c.close, I(p, "optInTimePeriod"), p.at("optInNbDevUp").get<double>(),
                            p.at("optInNbDevDn").get<double>()));
    out["outRealUpperBand"] = b.upper;
    out["outRealMiddleBand"] = b.middle;
    out["outRealLowerBand"] = b.lower;
  } else if (fn == "ATR") {
    SINYAL_ASSIGN_OR_RETURN(out["outReal"], AtrBatch(c, I(p, "optInTimePeriod")));
  } else if (fn == "ADX" || fn == "PLUS_DI" || fn == "MINUS_DI") {
    SINYAL_ASSIGN_OR_RETURN(auto a, AdxBatch(c, I(p, "optInTimePeriod")));
    out["outReal"] = fn == "ADX" ? a.adx : fn == "PLUS_DI" ? a.plus_di : a.minus_di;
  } else if (fn == "STOCH") {
    SINYAL_ASSIGN_OR_RETURN(auto s,
                            StochBatch(c, I(p, "optInFastK_Period"), I(p, "optInSlowK_Period"),
                                       I(p, "optInSlowD_Period")));
    out["outSlowK"] = s.slowk;
    out["outSlowD"] = s.slowd;
  } else if (fn == "CCI") {
    SINYAL_ASSIGN_OR_RETURN(out["outReal"], CciBatch(c, I(p, "optInTimePeriod")));
  } else if (fn == "WILLR") {
    SINYAL_ASSIGN_OR_RETURN(out["outReal"], WillrBatch(c, I(p, "optInTimePeriod")));
  } else if (fn == "ROC") {
    SINYAL_ASSIGN_OR_RETURN(out["outReal"], RocBatch(c.close, I(p, "optInTimePeriod")));
  } else if (fn == "OBV") {
    SINYAL_ASSIGN_OR_RETURN(out["outReal"], ObvBatch(c));
  } else if (fn == "MFI") {
    SINYAL_ASSIGN_OR_RETURN(out["outReal"], MfiBatch(c, I(p, "optInTimePeriod")));
  } else {
    return Status::NotFound("no Sinyal indicator for TA-Lib function " + fn);
  }
  return out;
}

TEST(GoldenTest, EveryIndicatorMatchesTaLibOnRealBars) {
  std::string why;
  const auto dir = GoldenDir(&why);
  if (dir.empty()) {
    if (std::getenv("CI") != nullptr) FAIL() << why;
    GTEST_SKIP() << why;
  }
  json manifest = json::parse(std::ifstream(dir / "manifest.json"));
  // The bars are read from where the fixtures were generated: the full shared set, or the
  // repository's data/sample when ../shared is absent (tests/golden/generate.js).
  const std::filesystem::path data_dir =
      manifest.value("data_dir", testing::MarketDataDir().string());
  ASSERT_GE(manifest["fixtures"].size(), 3u) << "need fixtures for at least three symbols";
  std::set<std::string> functions;
  for (const json& entry : manifest["fixtures"]) {
    const std::string file = entry["file"];
    SCOPED_TRACE(file);
    json fx = json::parse(std::ifstream(dir / entry["fixture"].get<std::string>()));
    auto imported = market::ImportBarsCsvFile(data_dir / file, OptionsFor(file));
    ASSERT_OK(imported);
    const auto& bars = imported->bars;
    ASSERT_EQ(static_cast<int64_t>(bars.size()), fx["rows"].get<int64_t>());
    ASSERT_EQ(bars.front().close(), fx["first_close"].get<double>());
    ASSERT_EQ(bars.back().close(), fx["last_close"].get<double>());
    Columns cols = Columns::FromBars(bars);
    int64_t compared = 0, exact = 0;
    double max_rel = 0;
    for (const json& cs : fx["cases"]) {
      const std::string fn = cs["fn"];
      functions.insert(fn);
      SCOPED_TRACE(fn + " " + cs["params"].dump());
      auto mine = Compute(fn, cs["params"], cols);
      ASSERT_OK(mine);
      const int64_t beg = cs["begIndex"];
      for (const auto& [name, expected] : cs["outputs"].items()) {
        SCOPED_TRACE(name);
        ASSERT_TRUE(mine->count(name)) << "output not computed";
        const std::vector<double>& got = mine->at(name);
        ASSERT_EQ(got.size(), bars.size());
        // Same lookback: NaN before begIndex, a value at begIndex.
        int64_t first_valid = -1;
        for (size_t i = 0; i < got.size(); ++i) {
          if (!std::isnan(got[i])) {
            first_valid = static_cast<int64_t>(i);
            break;
          }
        }
        ASSERT_EQ(first_valid, beg) << "first valid index differs from TA-Lib's begIndex";
        ASSERT_EQ(static_cast<int64_t>(expected.size()), static_cast<int64_t>(bars.size()) - beg);
        int bad = 0;
        for (size_t k = 0; k < expected.size(); ++k) {
          const double want = expected[k].get<double>();
          const double have = got[beg + k];
          const double diff = std::fabs(have - want);
          const double scale = std::max(std::fabs(have), std::fabs(want));
          const double rel = scale > 0 ? diff / scale : 0;
          max_rel = std::max(max_rel, rel);
          ++compared;
          if (have == want) ++exact;
          if (!(diff <= kRelTol * scale) && bad++ < 3) {
            ADD_FAILURE() << "index " << beg + k << ": sinyal " << have << " vs TA-Lib " << want
                          << " (rel " << rel << ")";
          }
        }
      }
    }
    std::printf(
        "golden %-24s %6zu bars  %3zu cases  %9lld values  %9lld bit-identical  max rel diff "
        "%.3g\n",
        file.c_str(), bars.size(), fx["cases"].size(), static_cast<long long>(compared),
        static_cast<long long>(exact), max_rel);
  }
  // Every indicator of the issue is covered.
  for (const char* fn : {"SMA", "EMA", "RSI", "MACD", "BBANDS", "ATR", "ADX", "PLUS_DI", "MINUS_DI",
                         "STOCH", "CCI", "WILLR", "ROC", "OBV", "MFI"}) {
    EXPECT_TRUE(functions.count(fn)) << fn << " has no golden case";
  }
}

}  // namespace
}  // namespace sinyal::features
