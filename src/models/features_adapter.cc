#include "models/features_adapter.h"

#include <cmath>
#include <limits>

namespace sinyal::models {

Result<FeatureFrame> ComputeFeatureFrame(const features::FeatureSetConfig& config,
                                         std::span<const market::Bar> bars) {
  SINYAL_ASSIGN_OR_RETURN(features::FeatureComputer fc, features::FeatureComputer::Create(config));
  FeatureFrame fr;
  fr.set_name = config.name;
  fr.set_version = config.version;
  fr.names = features::FeatureNames(config);
  fr.rows = bars.size();
  const size_t f = fr.names.size();
  fr.values.reserve(bars.size() * f);
  std::vector<double> out;
  for (const market::Bar& b : bars) {
    fc.Update(b, &out);
    if (out.size() != f) return Status::Internal("feature computer returned a wrong-sized vector");
    for (double v : out) {
      fr.values.push_back(std::isfinite(v) ? static_cast<float>(v)
                                           : std::numeric_limits<float>::quiet_NaN());
    }
  }
  return fr;
}

}  // namespace sinyal::models
