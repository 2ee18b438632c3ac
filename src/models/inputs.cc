#include "models/inputs.h"

#include <cmath>

#include "models/basic_features.h"
#include "models/ensemble.h"

namespace sinyal::models {

InputSpec InputSpec::Basic() {
  InputSpec s;
  s.set_name_ = kBasicFeatureSetName;
  s.set_version_ = kBasicFeatureSetVersion;
  s.names_ = BasicFeatureNames();
  return s;
}

Result<InputSpec> InputSpec::FeatureSet(features::FeatureSetConfig config) {
  SINYAL_RETURN_IF_ERROR(features::Validate(config));
  InputSpec s;
  s.set_name_ = config.name;
  s.set_version_ = config.version;
  s.names_ = features::FeatureNames(config);
  s.config_ = std::move(config);
  return s;
}

int InputSpec::WarmupBars() const {
  if (basic()) return kBasicWarmupBars;
  auto c = features::FeatureComputer::Create(*config_);
  return c.ok() ? c->WarmupBars() : 0;
}

Status InputSpec::CheckSchema(const ModelSchema& schema) const {
  if (schema.feature_names != names_) {
    return Status::FailedPrecondition(
        "the model's features differ from feature set " + schema.feature_set + " as computed now",
        "model");
  }
  return Status::Ok();
}

// One of the two computations behind a spec.
struct InputStream::Computer {
  std::optional<features::FeatureComputer> features;  // a feature set of features/
  BasicFeatureStream basic;                           // else models/' basic set
};

InputStream::InputStream(InputSpec spec, UnixNanos anchor, std::unique_ptr<Computer> c)
    : spec_(std::move(spec)), anchor_(anchor), computer_(std::move(c)) {
  values_.assign(spec_.cols(), std::numeric_limits<double>::quiet_NaN());
  row_.assign(spec_.cols(), std::numeric_limits<float>::quiet_NaN());
}
InputStream::InputStream(InputStream&&) noexcept = default;
InputStream& InputStream::operator=(InputStream&&) noexcept = default;
InputStream::~InputStream() = default;

Result<InputStream> InputStream::Create(const InputSpec& spec, UnixNanos anchor) {
  auto c = std::make_unique<Computer>();
  if (!spec.basic()) {
    SINYAL_ASSIGN_OR_RETURN(features::FeatureComputer fc,
                            features::FeatureComputer::Create(spec.config()));
    if (fc.size() != spec.cols())
      return Status::Internal("feature computer size differs from its names");
    c->features.emplace(std::move(fc));
  }
  return InputStream(spec, anchor, std::move(c));
}

Status InputStream::Push(const market::Bar& bar) {
  if (last_ && bar.time() <= *last_) {
    return Status::InvalidArgument("bar time is not after the previous bar's", "time");
  }
  last_ = bar.time();
  if (bar.time() < anchor_) {
    std::fill(values_.begin(), values_.end(), std::numeric_limits<double>::quiet_NaN());
    std::fill(row_.begin(), row_.end(), std::numeric_limits<float>::quiet_NaN());
    complete_ = false;
    return Status::Ok();
  }
  if (!first_) first_ = bar.time();
  if (computer_->features) {
    computer_->features->Update(bar, &values_);
  } else {
    computer_->basic.Update(bar.time(), bar.open(), bar.high(), bar.low(), bar.close(),
                            bar.volume(), values_.data());
  }
  complete_ = true;
  for (size_t i = 0; i < values_.size(); ++i) {
    row_[i] = InputValueToFloat(values_[i]);
    complete_ = complete_ && !std::isnan(row_[i]);
  }
  return Status::Ok();
}

Result<FeatureFrame> ComputeInputs(const InputSpec& spec, std::span<const market::Bar> bars,
                                   UnixNanos anchor) {
  SINYAL_ASSIGN_OR_RETURN(InputStream stream, InputStream::Create(spec, anchor));
  FeatureFrame fr;
  fr.set_name = spec.set_name();
  fr.set_version = spec.set_version();
  fr.names = spec.names();
  fr.rows = bars.size();
  const size_t f = spec.cols();
  fr.values.resize(bars.size() * f);
  for (size_t i = 0; i < bars.size(); ++i) {
    Status s = stream.Push(bars[i]);
    if (!s.ok()) return s.WithField("bars[" + std::to_string(i) + "].time");
    std::copy(stream.row().begin(), stream.row().end(),
              fr.values.begin() + static_cast<std::ptrdiff_t>(i * f));
  }
  fr.inputs_from = stream.first_time().value_or(kSeriesStart);
  return fr;
}

}  // namespace sinyal::models
