// Model sub-commands and the wiring of the models service:
//   sinyal train     --symbol S --timeframe H1 [--horizon N] [--tenant-id T | --platform] [--activate]
//   sinyal evaluate  --symbol S --timeframe H1 --out DIR [--tenant-id T | --platform] [--folds N]
//   sinyal predict   --symbol S --timeframe H1 [--tenant-id T] [--horizon N]
//   sinyal worker    [--once]          runs queued jobs (training) until SIGTERM/SIGINT
//   sinyal admin train-defaults [--min-bars N]   platform default models for every series
// All read bars from the database (after `sinyal ingest` or an upload) and use the same
// models::ModelService as the HTTP API.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/config.h"
#include "billing/entitlements.h"
#include "models/service.h"
#include "signals/interval_calibration_store.h"
#include "signals/retraining_job.h"
#include "store/job_queue.h"

namespace CLI {
class App;
}  // namespace CLI

namespace sinyal::app {

// Sets OMP_WAIT_POLICY=PASSIVE unless the environment sets it, and re-executes the program
// once so that libgomp (which reads it when loaded, before main) sees it: XGBoost's OpenMP
// threads otherwise spin and train 18-150x slower on a busy machine. Call first thing in
// main(), with main's argv. Returns only when no re-exec happened.
void SetOpenMpDefaults(char** argv);

// Options of the models service from the configuration; tenants train within their plan's
// training bounds (resolved through `entitlements` at `clock`'s now). REQUIRES: entitlements and
// clock outlive the options' use.
models::ModelServiceOptions ModelServiceOptionsFrom(const Config& config,
                                                    billing::Entitlements& entitlements,
                                                    const Clock& clock);

// Wires the interval calibration store: a version's calibration is fitted when it is trained
// (options.on_version_stored) and when it is activated (the registry's activation listener), so
// a signal request never fits one. A failed fit is logged; the SignalService then fits it on its
// background thread. REQUIRES: `store` outlives the service and the registry's use.
void FitIntervalCalibrationsOnTrainAndActivate(models::ModelServiceOptions& options,
                                               models::DbModelRegistry& registry,
                                               signals::IntervalCalibrationStore& store);

// Options of the retraining job from the configuration (worker.retrain_window_bars,
// retrain_cooldown_bars, retrain_cooldown_seconds, drift_window_rows, drift_min_features).
signals::RetrainingJobOptions RetrainingOptionsFrom(const Config& config);

// A job worker running training jobs of `service` and, when `retraining` is given, retrain_check
// jobs (not started). Worker id: host:pid:<tag>.
std::unique_ptr<store::JobWorker> MakeJobWorker(const Config& config, store::JobQueue& jobs,
                                                models::ModelService& service,
                                                const std::string& tag,
                                                signals::RetrainingService* retraining = nullptr);

// The horizons of the platform default models: 1, 4 and 24 bars.
std::vector<int> DefaultPlatformHorizons();

// Trains and activates a platform default model for every platform series with at least
// `min_bars` bars, at every horizon of `horizons` (the first horizon for every series first, so
// the default horizon's signals come soonest): `sinyal admin train-defaults` and serve's first run
// (app/first_run.h) both call this, so there is one way to make the platform defaults.
// `on_trained` gets each model's outcome; `stop` is checked between models. Returns the number
// of series found.
struct TrainDefaultsOptions {
  size_t min_bars = 3000;                                 // Default: 3,000 bars.
  int trees = 0;                                          // 0: the configured default.
  std::vector<int> horizons = DefaultPlatformHorizons();  // bars ahead. Default: 1, 4, 24.
  std::string actor = "cli:train-defaults";
  std::function<bool()> stop;
};
using TrainDefaultsCallback =
    std::function<void(const std::string& symbol, const std::string& timeframe, int horizon,
                       const Result<models::TrainSummary>& result)>;
[[nodiscard]] Result<size_t> TrainPlatformDefaults(models::ModelService& service,
                                                   const TrainDefaultsOptions& options,
                                                   const TrainDefaultsCallback& on_trained);

// "1,4,24" -> {1, 4, 24}: ascending, distinct, each in [1, 48] (the platform's training bound);
// "" -> DefaultPlatformHorizons(). InvalidArgument naming `field` otherwise.
[[nodiscard]] Result<std::vector<int>> ParseHorizonList(const std::string& text,
                                                        const std::string& field);

struct ModelCommands;
struct ModelCommandsDeleter {
  void operator()(ModelCommands* c) const;
};
using ModelCommandsPtr = std::unique_ptr<ModelCommands, ModelCommandsDeleter>;

// Adds train, evaluate, predict and worker to `app` and train-defaults to `admin`;
// `add_common` adds the shared options (--database, --log-level, --data-dir).
ModelCommandsPtr AddModelCommands(CLI::App& app, CLI::App& admin,
                                  const std::function<void(CLI::App*)>& add_common);

// Runs the parsed model command, if one was parsed; returns its exit code (0 ok, 1 failure,
// 2 bad arguments).
std::optional<int> RunModelCommand(const ModelCommands& commands, const Config& config);

}  // namespace sinyal::app
