// First run on a real (SQLite) database: the sample is imported with the newest bars held back,
// the platform default model is trained by the train-defaults path, and the held-back bars go
// through the live path, so every one of them gets an out-of-sample signal and earlier signals are
// resolved. A second run finds the data and does nothing; a bad manifest names its line.
#include "app/first_run.h"

#include <fstream>

#include "app/models_cli.h"
#include "core/testing/test_util.h"
#include "models/db_registry.h"
#include "models/service.h"
#include "signals/db_signal_log.h"
#include "signals/service.h"
#include "store/bar_store.h"
#include "store/database.h"
#include "store/feature_set_store.h"
#include "store/testing/test_db.h"

namespace sinyal::app {
namespace {

// Header plus the last `n` data lines of a market data file.
void WriteTail(const std::filesystem::path& from, int n, const std::filesystem::path& to) {
  std::ifstream in(from);
  std::string header, line;
  std::getline(in, header);
  std::vector<std::string> all;
  while (std::getline(in, line)) all.push_back(line);
  std::ofstream out(to);
  out << header << "\n";
  for (size_t i = all.size() - static_cast<size_t>(n); i < all.size(); ++i) out << all[i] << "\n";
}

TEST(FirstRunTest, ImportsTrainsAndReplaysTheNewestBarsThroughTheLivePath) {
  SINYAL_REQUIRE_MARKET_DATA();
  testing::TempDir dir;
  WriteTail(testing::MarketDataDir() / "EURUSD_H1.csv", 4200, dir.path() / "EURUSD_H1.csv");
  std::ofstream(dir.path() / "first_run.tsv")
      << "# file\tsymbol\ttimeframe\ttimezone\nEURUSD_H1.csv\tEURUSD\tH1\tNY+7\n";

  auto db = store::testing::OpenMemoryDatabase();
  ASSERT_NE(db, nullptr);
  ManualClock clock(1'800'000'000 * kNanosPerSecond);
  store::BarStore bars(*db, clock);
  store::FeatureSetStore sets(*db, clock);
  models::DbModelRegistry registry(*db, clock);
  // As serve wires it: interval calibrations fitted when a version is trained or activated.
  signals::IntervalCalibrationStore calibrations(*db, bars, registry, &sets, clock);
  models::ModelServiceOptions model_options;
  FitIntervalCalibrationsOnTrainAndActivate(model_options, registry, calibrations);
  models::ModelService models(*db, bars, &sets, registry, nullptr, clock, model_options);
  signals::DbSignalLog log(*db);
  signals::SignalService signals(bars, registry, &sets, log, calibrations, clock);

  FirstRun first(
      bars, models, signals,
      {.sample_dir = dir.path().string(), .replay_bars = 60, .min_bars = 3000, .trees = 20});
  auto report = first.Run();
  ASSERT_OK(report);
  EXPECT_FALSE(report->skipped);
  EXPECT_EQ(report->series, 1u);
  EXPECT_EQ(report->bars_imported, 4140u);
  EXPECT_EQ(report->models_trained, 3u);  // horizons 1, 4 and 24
  EXPECT_EQ(report->models_failed, 0u);
  EXPECT_EQ(report->bars_replayed, 60u);

  // Every bar of the file is stored, and the model never saw the replayed ones.
  auto latest = bars.Latest(std::nullopt, {"EURUSD", market::Timeframe::kH1}, 5000);
  ASSERT_OK(latest);
  EXPECT_EQ(latest->bars.size(), 4200u);
  const UnixNanos first_replayed = latest->bars[4140].time();
  auto versions = registry.List(models::kPlatformTenant, {"EURUSD", market::Timeframe::kH1});
  ASSERT_OK(versions);
  ASSERT_FALSE(versions->empty());
  for (const auto& v : *versions) EXPECT_LT(v.data_to, first_replayed) << "version " << v.version;

  // One signal per replayed bar; the older ones resolved by the bars after them.
  auto pending = log.Unresolved(models::kPlatformTenant, {"EURUSD", market::Timeframe::kH1});
  ASSERT_OK(pending);
  auto resolved =
      log.RecentResolved(models::kPlatformTenant, {"EURUSD", market::Timeframe::kH1}, "", 1000);
  ASSERT_OK(resolved);
  // One signal per replayed bar and horizon; a signal is resolved once its horizon has passed.
  EXPECT_EQ(pending->size() + resolved->size(), 3 * 60u);
  EXPECT_GE(resolved->size(), (60u - 1) + (60u - 4) + (60u - 24));
  for (const auto& s : *resolved) EXPECT_GE(s.signal.bar_time(), first_replayed);

  // Horizons are a product: each of 1, 4 and 24 bars has its own active platform model, the
  // request's horizon chooses it, and a horizon without a model names the ones served.
  auto horizons =
      registry.ActiveHorizons(models::kPlatformTenant, {"EURUSD", market::Timeframe::kH1});
  ASSERT_OK(horizons);
  EXPECT_EQ(*horizons, (std::vector<int>{1, 4, 24}));
  const market::SeriesKey eurusd{"EURUSD", market::Timeframe::kH1};
  const UnixNanos now = latest->bars.back().time() + kNanosPerHour;
  for (int h : {1, 4, 24}) {
    auto sig = signals.Latest(TenantId{5}, eurusd, h, now);
    ASSERT_OK(sig);
    EXPECT_EQ((*sig)->horizon(), h);
    EXPECT_EQ((*sig)->bar_time(), latest->bars.back().time());
  }
  auto default_sig = signals.Latest(TenantId{5}, eurusd, now);
  ASSERT_OK(default_sig);
  EXPECT_EQ((*default_sig)->horizon(), models::kDefaultHorizon);
  auto missing = signals.Latest(TenantId{5}, eurusd, 12, now);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(missing.error().field(), "horizon");
  EXPECT_NE(missing.error().message().find("available horizons: 1, 4, 24"), std::string::npos)
      << missing.error().message();

  // The next start finds the data and leaves it alone.
  FirstRun again(bars, models, signals, {.sample_dir = dir.path().string()});
  auto second = again.Run();
  ASSERT_OK(second);
  EXPECT_TRUE(second->skipped);
}

// The horizons of first_run.horizons and `train-defaults --horizons`: empty means the platform
// defaults; anything else is ascending, distinct whole bars in [1, 48], errors naming the field.
TEST(FirstRunTest, HorizonListsParseOrNameTheField) {
  EXPECT_EQ(*ParseHorizonList("", "first_run.horizons"), DefaultPlatformHorizons());
  EXPECT_EQ(*ParseHorizonList("1,24", "first_run.horizons"), (std::vector<int>{1, 24}));
  for (const char* bad : {"0", "49", "4,1", "1,1", "x", "1,,4", "1.5"}) {
    auto r = ParseHorizonList(bad, "first_run.horizons");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().field(), "first_run.horizons") << bad;
  }
}

TEST(FirstRunTest, ManifestErrorsNameTheLine) {
  testing::TempDir dir;
  std::ofstream(dir.path() / "first_run.tsv") << "# comment\nEURUSD_H1.csv\tEURUSD\tH7\tNY+7\n";
  auto r = ReadSampleManifest(dir.path().string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("line 2"), std::string::npos) << r.error().ToString();
  std::ofstream(dir.path() / "first_run.tsv") << "../etc/passwd\tX\tH1\tUTC\n";
  EXPECT_FALSE(ReadSampleManifest(dir.path().string()).ok());
  EXPECT_EQ(ReadSampleManifest((dir.path() / "none").string()).error().code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace sinyal::app
