#include "models/input_resolver.h"

#include "features/feature_set.h"
#include "models/basic_features.h"
#include "models/registry.h"
#include "store/bar_store.h"
#include "store/feature_set_store.h"

namespace sinyal::models {

std::optional<TenantId> ViewerOf(TenantId owner) {
  if (owner == kPlatformTenant) return std::nullopt;
  return owner;
}

Result<InputSpec> InputResolver::ForName(TenantId owner, std::string_view spec,
                                         const std::string& field) const {
  std::string name(spec);
  std::optional<int> version;
  if (size_t at = spec.find('@'); at != std::string_view::npos) {
    name = std::string(spec.substr(0, at));
    const std::string_view vs = spec.substr(at + 1);
    if (vs.empty() || vs.size() > 6 ||
        vs.find_first_not_of("0123456789") != std::string_view::npos) {
      return Status::InvalidArgument(field + " must be 'name' or 'name@version'", field);
    }
    version = std::stoi(std::string(vs));
  }
  if (name.empty() || name.size() > 60) {
    return Status::InvalidArgument(field + " must be 1-60 characters", field);
  }
  if (name == kBasicFeatureSetName && (!version || *version == kBasicFeatureSetVersion)) {
    return InputSpec::Basic();
  }
  const auto& def = features::DefaultFeatureSet();
  if (name == def.name && (!version || *version == def.version)) return InputSpec::FeatureSet(def);
  if (owner == kPlatformTenant || sets_ == nullptr) {
    return Status::NotFound("unknown feature set '" + std::string(spec.substr(0, 60)) +
                                "' (the platform has " + def.name + " and " + kBasicFeatureSetName +
                                ")",
                            field);
  }
  auto stored = sets_->Get(owner, name, version);
  if (!stored.ok()) {
    if (stored.error().code() == StatusCode::kNotFound) {
      return Status::NotFound("unknown feature set '" + std::string(spec.substr(0, 60)) + "'",
                              field);
    }
    return stored.error();
  }
  SINYAL_ASSIGN_OR_RETURN(features::FeatureSetConfig config,
                          features::FeatureSetConfig::FromJson(stored->config_json));
  return InputSpec::FeatureSet(std::move(config));
}

Result<InputSpec> InputResolver::ForSchema(TenantId owner, const ModelSchema& schema) const {
  auto spec = ForName(owner, schema.feature_set + "@" + std::to_string(schema.feature_set_version),
                      "model");
  if (!spec.ok()) {
    if (spec.error().code() == StatusCode::kNotFound ||
        spec.error().code() == StatusCode::kInvalidArgument) {
      return Status::FailedPrecondition("feature set " + schema.feature_set + " v" +
                                            std::to_string(schema.feature_set_version) +
                                            " of the model is unavailable",
                                        "model");
    }
    return spec.error();
  }
  SINYAL_RETURN_IF_ERROR(spec->CheckSchema(schema));
  return spec;
}

Result<FeatureFrame> InputResolver::Rows(TenantId owner, const ModelSchema& schema,
                                         std::span<const market::Bar> bars) const {
  SINYAL_ASSIGN_OR_RETURN(InputSpec spec, ForSchema(owner, schema));
  return ComputeInputs(spec, bars, schema.inputs_from);
}

Result<std::vector<market::Bar>> ReadInputBars(store::BarStore& bars, TenantId owner,
                                               const market::SeriesKey& key,
                                               const ModelSchema& schema, UnixNanos to,
                                               size_t max_bars) {
  return bars.ReadBars(ViewerOf(owner), key,
                       {.from = schema.inputs_from, .to = to, .newest = max_bars});
}

}  // namespace sinyal::models
