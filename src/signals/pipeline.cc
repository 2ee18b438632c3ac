#include "signals/pipeline.h"

#include <cmath>
#include <set>

namespace sinyal::signals {

models::FeatureFrame RegimeFrame(std::span<const RegimeState> states) {
  models::FeatureFrame f;
  f.set_name = "regime";
  f.set_version = 1;
  f.names = RegimeFeatureNames();
  f.rows = states.size();
  f.values.resize(states.size() * f.names.size());
  for (size_t i = 0; i < states.size(); ++i)
    RegimeFeatures(states[i], f.values.data() + i * f.names.size());
  return f;
}

Result<models::FeatureFrame> CombineFrames(const models::FeatureFrame& a,
                                           const models::FeatureFrame& b) {
  if (a.rows != b.rows) {
    return Status::InvalidArgument(
        "frames have " + std::to_string(a.rows) + " and " + std::to_string(b.rows) + " rows",
        "features");
  }
  std::set<std::string> seen(a.names.begin(), a.names.end());
  for (const auto& n : b.names) {
    if (!seen.insert(n).second)
      return Status::InvalidArgument("feature '" + n + "' appears twice", "features");
  }
  models::FeatureFrame f;
  f.set_name = a.set_name + "+" + b.set_name;
  f.set_version = a.set_version + b.set_version;
  f.inputs_from = a.inputs_from;
  f.names = a.names;
  f.names.insert(f.names.end(), b.names.begin(), b.names.end());
  f.rows = a.rows;
  f.values.reserve(a.rows * f.names.size());
  for (size_t i = 0; i < a.rows; ++i) {
    f.values.insert(f.values.end(), a.Row(i), a.Row(i) + a.cols());
    f.values.insert(f.values.end(), b.Row(i), b.Row(i) + b.cols());
  }
  return f;
}

}  // namespace sinyal::signals
