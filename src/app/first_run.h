// First run (issue 15): `sinyal serve` on a database with no market data shows real signals
// without any manual step. In a background thread, after the server is listening:
//   1. the repository's sample of real bars (first_run.sample_dir, default data/sample; the files
//      and their time zones are listed in its first_run.tsv) is imported as platform series,
//      holding back each series' newest `replay_bars` bars;
//   2. platform default models are trained and activated exactly as `sinyal admin
//      train-defaults` does (TrainPlatformDefaults, app/models_cli.h), on the imported bars only;
//   3. the held-back bars are stored one by one, in time order across series, and handed to the
//      SignalService as closed bars - the live path a feed takes - so every one gets a signal
//      made by a model that never saw it, and earlier signals are resolved by later bars. The
//      dashboard's chart, track record and the README's curl examples then have real,
//      out-of-sample signals.
// Each step is logged (event "first_run" with the stage and counts; one line per trained model).
// Nothing happens when the database already has a platform series, or when first_run.enabled is
// false. Stop() waits for the model being trained (training cannot be interrupted) and skips the
// rest; the next start, finding data, does nothing, so an interrupted first run is finished by
// `sinyal admin train-defaults`.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "market/bar.h"
#include "market/instrument.h"
#include "models/fwd.h"
#include "signals/fwd.h"
#include "store/fwd.h"

namespace sinyal::app {

struct FirstRunOptions {
  std::string sample_dir = "data/sample";
  size_t replay_bars = 240;   // newest bars of each series replayed through the live path
  size_t min_bars = 3000;     // as train-defaults: series with fewer bars get no model
  int trees = 0;              // 0: the configured default
  std::vector<int> horizons;  // empty: the platform defaults (1, 4, 24), as train-defaults
};

// One file of the sample: a line of <sample_dir>/first_run.tsv ("file symbol timeframe timezone",
// tab-separated, '#' comments).
struct SampleFile {
  std::string file;
  market::SeriesKey key;
  std::string timezone;
};
// Parses first_run.tsv. Errors name the line.
[[nodiscard]] Result<std::vector<SampleFile>> ReadSampleManifest(const std::string& sample_dir);

struct FirstRunReport {
  bool skipped = false;  // the database already had market data
  size_t series = 0, bars_imported = 0, models_trained = 0, models_failed = 0, bars_replayed = 0;
};

class FirstRun {
 public:
  // REQUIRES: every reference outlives this object.
  FirstRun(store::BarStore& bars, models::ModelService& models, signals::SignalService& signals,
           FirstRunOptions options);
  ~FirstRun();  // Stop()
  FirstRun(const FirstRun&) = delete;
  FirstRun& operator=(const FirstRun&) = delete;

  // Runs the whole first run on the calling thread (tests) and returns what it did.
  [[nodiscard]] Result<FirstRunReport> Run();
  // Runs it on a background thread, logging the outcome.
  void Start();
  // Asks the background run to stop after its current step and waits for it.
  void Stop();

 private:
  store::BarStore& bars_;
  models::ModelService& models_;
  signals::SignalService& signals_;
  FirstRunOptions options_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace sinyal::app
