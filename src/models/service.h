// ModelService: the models' service operations behind the HTTP routes, the job worker and the
// CLI (`sinyal train/evaluate/predict`, `sinyal admin train-defaults`). It reads bars from
// store::BarStore, keeps per-tenant model configuration in the database (model_configs),
// queues training jobs (store::JobQueue, kind "train_model"), trains and evaluates with
// models/ (TrainModel, RunWalkForward, report.h) and stores versions in DbModelRegistry.
//
// Owners. Every call names an owner: a tenant (its own models and configuration; training data
// = its private series of the symbol if any, else the platform series) or kPlatformTenant (the
// platform default models, trained from platform series within the platform's hard limits:
// PlanBounds' defaults).
//
// Configuration JSON (GET/PUT /api/v1/models/config, POST /api/v1/models/train overrides). Every
// field optional; unknown fields and wrong types are InvalidArgument naming the field:
//   horizon            bars ahead (int)
//   feature_set        "core-v1" (default: features/' TA-Lib-exact set), "basic" (models/'
//                      built-in set), or one of the tenant's feature sets: "name" / "name@version"
//   dead_band          fraction of price, or "auto" (default) = the series' median relative
//                      spread, at least 0.1 bp
//   neutral            "exclude" (default) or "third_class"
//   members            array of member objects (name, trees, max_depth, max_leaves, eta,
//                      subsample, colsample_bytree, min_child_weight, lambda, grow_policy, seed);
//                      member i starts from the i-th default member (config.h DefaultMembers)
//   trees, eta, subsample, colsample_bytree, min_child_weight, lambda
//                      shortcuts applied to every member
//   max_depth          shortcut for every depth-wise member; max_leaves for every lossguide one
// The merged configuration is validated with ValidateTrainConfig against the owner's training
// bounds (ModelServiceOptions::bounds_of: app/ passes the tenant's plan's, billing::Plan::training):
// an out-of-bounds value is InvalidArgument naming it (e.g. "members[0].trees").
//
// Thread safety: thread-safe (state lives in the database; the stores are thread-safe).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"
#include "core/status.h"
#include "market/instrument.h"
#include "models/config.h"
#include "models/db_registry.h"
#include "models/ensemble.h"
#include "models/inputs.h"
#include "models/trainer.h"
#include "models/walk_forward.h"
#include "store/fwd.h"
#include "store/job_queue.h"

namespace sinyal::models {

inline constexpr const char* kTrainJobKind = "train_model";

// A tenant's training bounds and the name of the plan they come from (shown by the config API).
struct OwnerBounds {
  std::string plan;
  PlanBounds bounds;
};

struct ModelServiceOptions {
  std::string code_version = "dev";  // recorded in every ModelRecord
  int report_folds = 5;              // walk-forward folds of the report trained with each version
  size_t max_bars = 300000;          // newest bars of a series used for training (5 y of H1 = 31k)
  int nthread = 2;                   // XGBoost threads per training. [1, 64]
  // The training bounds of a tenant (app/ passes its subscription plan's). Unset: the platform's
  // hard limits (PlanBounds' defaults) for everyone, named "platform". Errors propagate.
  std::function<Result<OwnerBounds>(TenantId)> bounds_of;
  // Called by Train after a version is stored (before it is activated), on the training thread:
  // app/ wires the interval calibration store, so a version's calibration is fitted when it is
  // trained. Unset: nothing. Failures are the callee's to log; training has succeeded.
  std::function<void(TenantId owner, const market::SeriesKey& series, const ModelRecord& record)>
      on_version_stored;
};

// A tenant's (or the platform's) configuration for one series. ToJson names it as stored:
// "symbol": "EURUSD", "timeframe": "H1".
struct ModelConfigView {
  market::SeriesKey series;
  TrainConfig config;  // dead_band resolved to a number only when !dead_band_auto
  bool dead_band_auto = true;
  bool stored = false;  // false: the defaults (nothing saved yet)
  std::string plan;
  PlanBounds bounds;
  nlohmann::json ToJson() const;
};

struct TrainRequest {
  market::SeriesKey series;                             // parsed at the edge; symbol validated
  nlohmann::json overrides = nlohmann::json::object();  // configuration fields (see above)
  bool activate = false;  // activate the new version when training succeeds
  std::string actor;      // recorded in the activation audit ("user:12", "cli", ...)
};

struct TrainSummary {
  ModelRecord record;
  bool activated = false;
  size_t bars = 0;           // bars read
  double train_seconds = 0;  // the final ensemble's training
  double total_seconds = 0;  // everything (features, walk-forward, training, storing)
  nlohmann::json ToJson() const;
};

struct LatestPrediction {
  ModelRecord record;          // the model used
  bool from_platform = false;  // the platform default (the tenant has no active model)
  UnixNanos bar_time = 0;      // open time of the latest closed bar
  Prediction prediction;
  std::vector<FeatureContribution> top;  // largest |contribution| first, bias excluded
};

// A version as the API shows it: ISO times, schema, params, metrics, hashes; "active" when
// active_version is given.
nlohmann::json ModelVersionJson(const ModelRecord& record, std::optional<int64_t> active_version);

class ModelService {
 public:
  // REQUIRES: all references outlive the service; feature_sets and jobs may be null (no tenant
  // feature sets / no queueing).
  ModelService(store::Database& db, store::BarStore& bars, store::FeatureSetStore* feature_sets,
               DbModelRegistry& registry, store::JobQueue* jobs, const Clock& clock,
               ModelServiceOptions options);

  DbModelRegistry& registry() { return registry_; }

  // Series are typed keys: callers parse user text once, at their edge (market::ParseSeriesKey).
  // A key whose symbol is not valid is InvalidArgument ("symbol").

  // The owner's plan name and training bounds (platform: "platform" and the hard limits).
  [[nodiscard]] Result<std::pair<std::string, PlanBounds>> PlanOf(TenantId owner) const;

  // The stored configuration, or the defaults. Tenants only.
  [[nodiscard]] Result<ModelConfigView> GetConfig(TenantId tenant, const market::SeriesKey& series);
  // Applies `changes` (configuration JSON) on top of the current configuration, validates it
  // against the plan (and the plan's number of configured symbols) and stores it.
  [[nodiscard]] Result<ModelConfigView> PutConfig(TenantId tenant, const market::SeriesKey& series,
                                                  const nlohmann::json& changes);

  // Validates the request (symbol with data visible to the tenant, configuration within bounds,
  // enough bars) and queues a training job. Returns the job id. Conflict("dedupe_key") while a
  // training of the same symbol x timeframe is queued or running. REQUIRES: jobs != null.
  [[nodiscard]] Result<int64_t> EnqueueTraining(TenantId tenant, const TrainRequest& request);

  // Trains now (the job handler and `sinyal train` call this): loads bars, checks the feature
  // set for look-ahead, runs the walk-forward evaluation (report), trains the final ensemble,
  // registers it with the report, and activates it if asked. A failure registers and activates
  // nothing. Errors: InvalidArgument naming the field; NotFound("symbol") without data;
  // FailedPrecondition "too little data".
  [[nodiscard]] Result<TrainSummary> Train(TenantId owner, const TrainRequest& request,
                                           const TrainProgress& progress = {});

  // The job handler for kTrainJobKind (payload written by EnqueueTraining).
  [[nodiscard]] Result<std::string> RunTrainJob(const store::Job& job,
                                                const store::JobWorker::ProgressFn& progress);

  // Walk-forward evaluation with the owner's configuration + overrides (no model stored).
  [[nodiscard]] Result<WalkForwardResult> Evaluate(TenantId owner, const market::SeriesKey& series,
                                                   const nlohmann::json& overrides, int folds);

  // The owner's active model for `horizon` (else the platform default) applied to the latest
  // stored bar.
  [[nodiscard]] Result<LatestPrediction> PredictLatest(TenantId owner,
                                                       const market::SeriesKey& series,
                                                       size_t top_n = 5,
                                                       int horizon = kDefaultHorizon);

  // Platform series with at least `min_bars` bars.
  [[nodiscard]] Result<std::vector<market::SeriesKey>> PlatformSeries(size_t min_bars);

  // What a walk-forward backtest trains with (backtest/walk_forward_source.h): the owner's
  // configuration for the series with `overrides` applied and validated against the owner's
  // plan exactly as Train does (errors name the configuration field), and its feature set
  // resolved through the seam. A dead band of "auto" is left to the caller (dead_band_auto), to
  // be computed from the bars each training sees (MedianRelativeSpread), never from later ones.
  struct BacktestSetup {
    TrainConfig config;
    bool dead_band_auto = true;
    InputSpec spec = InputSpec::Basic();
    std::string plan;
    PlanBounds bounds;
  };
  [[nodiscard]] Result<BacktestSetup> SetupForBacktest(TenantId owner,
                                                       const market::SeriesKey& series,
                                                       const nlohmann::json& overrides);
  // The smallest dead band "auto" resolves to (0.1 bp).
  static double MinAutoDeadBand();

 private:
  struct Prepared;
  Result<ModelConfigView> CurrentConfig(TenantId owner, const market::SeriesKey& series);
  Result<Prepared> Prepare(TenantId owner, const market::SeriesKey& series,
                           const nlohmann::json& overrides, bool check_lookahead);

  store::Database& db_;
  store::BarStore& bars_;
  store::FeatureSetStore* feature_sets_;
  DbModelRegistry& registry_;
  store::JobQueue* jobs_;
  const Clock& clock_;
  ModelServiceOptions options_;
};

}  // namespace sinyal::models
