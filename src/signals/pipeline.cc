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
  for (size_t i = 0; i < states.size(); ++i) RegimeFeatures(states[i], f.values.data() + i * f.names.size());
  return f;
}

Result<models::FeatureFrame> CombineFrames(const models::FeatureFrame& a, const models::FeatureFrame& b) {
  if (a.rows != b.rows) {
    return Status::InvalidArgument("frames have " + std::to_string(a.rows) + " and " +
                                       std::to_string(b.rows) + " rows",
                                   "features");
  }
  std::set<std::string> seen(a.names.begin(), a.names.end());
  for (const auto& n : b.names) {
    if (!seen.insert(n).second) return Status::InvalidArgument("feature '" + n + "' appears twice", "features");
  }
  models::FeatureFrame f;
  f.set_name = a.set_name + "+" + b.set_name;
  f.set_version = a.set_version + b.set_version;
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

Result<std::vector<ConformalRow>> MakeConformalRows(const models::Ensemble* e, const models::Dataset& ds,
                                                    std::span<const size_t> rows,
                                                    std::span<const RegimeState> states, double move_ratio) {
  std::vector<ConformalRow> out;
  const double sqrt_h = std::sqrt(static_cast<double>(ds.horizon));
  for (size_t r : rows) {
    const auto& row = ds.rows[r];
    if (row.bar >= states.size()) {
      return Status::InvalidArgument("row " + std::to_string(r) + " has bar " + std::to_string(row.bar) +
                                         " beyond the " + std::to_string(states.size()) + " states",
                                     "states");
    }
    const auto& s = states[row.bar];
    if (!s.ready || !(s.rv > 0)) continue;
    ConformalRow c;
    c.scale = s.rv * sqrt_h;
    const double p = e ? e->Predict(ds.Row(r)).proba[models::kUp] : 0.5;
    c.point = (2 * p - 1) * move_ratio * c.scale;
    c.actual = std::log1p(static_cast<double>(row.forward_return));
    c.group = static_cast<int>(s.vol);
    out.push_back(c);
  }
  return out;
}

}  // namespace sinyal::signals
