// InputResolver: which feature set a model (or a caller) means, and the stored bars its input
// rows are computed from. The resolving half of the model-inputs seam (inputs.h holds the
// computing half); it needs the database, so it lives in models_service.
//
//   (model schema | feature-set name, owner)  --InputResolver-->  InputSpec
//   (owner, series, schema.inputs_from)        --ReadInputBars-->  bars
//   (InputSpec, bars, anchor)                  --ComputeInputs / InputStream-->  rows
//
// Everything that needs a model's rows (training, evaluation, retraining, interval calibration,
// `sinyal predict`, SignalService, the features API) goes through these three steps.
//
// Thread safety: thread-safe (FeatureSetStore is).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/ids.h"
#include "core/status.h"
#include "market/bar.h"
#include "market/instrument.h"
#include "models/dataset.h"
#include "models/ensemble.h"
#include "models/inputs.h"
#include "store/fwd.h"

namespace sinyal::models {

class InputResolver {
 public:
  // REQUIRES: sets (may be null: tenants' own feature sets are then unavailable) outlives this.
  explicit InputResolver(store::FeatureSetStore* sets) : sets_(sets) {}

  // A feature set by name: "basic", "core-v1" (the platform default; "core-v1@1"), or one of
  // `owner`'s sets, "name" (its highest version) or "name@version". The platform
  // (kPlatformTenant) has only the built-in sets. Errors name `field`: InvalidArgument for a
  // malformed name, NotFound for an unknown one.
  [[nodiscard]] Result<InputSpec> ForName(TenantId owner, std::string_view name,
                                          const std::string& field) const;

  // The feature set a model was trained on (schema.feature_set at feature_set_version), checked
  // against the schema's feature names (FailedPrecondition "model" when they differ or the set
  // is no longer available).
  [[nodiscard]] Result<InputSpec> ForSchema(TenantId owner, const ModelSchema& schema) const;

  // The model's input rows over `bars` (ascending): ComputeInputs(ForSchema(owner, schema),
  // bars, schema.inputs_from).
  [[nodiscard]] Result<FeatureFrame> Rows(TenantId owner, const ModelSchema& schema,
                                          std::span<const market::Bar> bars) const;

 private:
  store::FeatureSetStore* sets_;
};

// The stored bars a model's rows are computed from: the owner's view of the series (its
// private series, else the platform's) from schema.inputs_from up to `to` (inclusive), at most
// the newest `max_bars`. Models without a recorded anchor read from the first stored bar.
[[nodiscard]] Result<std::vector<market::Bar>> ReadInputBars(store::BarStore& bars, TenantId owner,
                                                             const market::SeriesKey& key,
                                                             const ModelSchema& schema,
                                                             UnixNanos to = INT64_MAX,
                                                             size_t max_bars = SIZE_MAX);

// The bar store's viewer for a model owner: none (platform series only) for kPlatformTenant.
std::optional<TenantId> ViewerOf(TenantId owner);

}  // namespace sinyal::models
