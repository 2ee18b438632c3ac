// TrainModel: the one call behind `sinyal train` and POST /api/v1/models/train.
//
// Validates the config against the plan, splits the dataset in time (the newest
// `calibration_fraction` of rows hold the calibrator, purged and embargoed against the fitting
// rows), trains the ensemble, and returns it with a ModelRecord draft (data range, schema,
// params, held-back metrics, code version) ready for ModelRegistry::Register. Walk-forward
// evaluation is separate (walk_forward.h) because it trains one ensemble per fold.
//
// Thread safety: pure apart from XGBoost's threads (config.nthread).
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/status.h"
#include "models/config.h"
#include "models/dataset.h"
#include "models/ensemble.h"
#include "models/metrics.h"
#include "models/registry.h"

namespace sinyal::models {

struct TrainOutput {
  Ensemble ensemble;
  ModelRecord record;                     // Register(tenant, ensemble, record)
  ClassificationMetrics calibration_set;  // in-sample for the calibrator: a sanity figure only
  double train_seconds = 0;
};

// Progress: (fraction 0..1, stage text such as "member 2/4").
using TrainProgress = std::function<void(double, std::string_view)>;

// Errors: InvalidArgument naming the config field; FailedPrecondition "too little data";
// InvalidArgument (field "symbol") when the dataset's symbol is not in config.symbols.
[[nodiscard]] Result<TrainOutput> TrainModel(const Dataset& ds, const TrainConfig& config,
                                             const PlanBounds& bounds, std::string code_version,
                                             const Clock& clock,
                                             const TrainProgress& progress = {});

}  // namespace sinyal::models
