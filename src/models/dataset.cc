#include "models/dataset.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

namespace sinyal::models {

Status BarColumns::Validate() const {
  const size_t n = ts.size();
  auto check_len = [&](const std::vector<double>& v, const char* name) -> Status {
    if (v.size() != n) {
      return Status::InvalidArgument(std::string("column length ") + std::to_string(v.size()) +
                                         " differs from ts length " + std::to_string(n),
                                     std::string("bars.") + name);
    }
    return Status::Ok();
  };
  SINYAL_RETURN_IF_ERROR(check_len(open, "open"));
  SINYAL_RETURN_IF_ERROR(check_len(high, "high"));
  SINYAL_RETURN_IF_ERROR(check_len(low, "low"));
  SINYAL_RETURN_IF_ERROR(check_len(close, "close"));
  SINYAL_RETURN_IF_ERROR(check_len(volume, "volume"));
  if (!spread.empty()) SINYAL_RETURN_IF_ERROR(check_len(spread, "spread"));
  for (size_t i = 0; i < n; ++i) {
    if (i > 0 && ts[i] <= ts[i - 1]) {
      return Status::InvalidArgument(
          "timestamps not strictly increasing at bar " + std::to_string(i), "bars.ts");
    }
    if (!(close[i] > 0) || !(open[i] > 0) || !(high[i] > 0) || !(low[i] > 0)) {
      return Status::InvalidArgument("non-positive price at bar " + std::to_string(i),
                                     "bars.close");
    }
  }
  return Status::Ok();
}

BarColumns BarColumns::Prefix(size_t n) const {
  BarColumns p;
  p.symbol = symbol;
  p.timeframe = timeframe;
  auto cut = [n](const auto& v) {
    return std::remove_cvref_t<decltype(v)>(v.begin(), v.begin() + std::min(n, v.size()));
  };
  p.ts = cut(ts);
  p.open = cut(open);
  p.high = cut(high);
  p.low = cut(low);
  p.close = cut(close);
  p.volume = cut(volume);
  p.spread = cut(spread);
  return p;
}

void Dataset::Gather(std::span<const size_t> idx, std::vector<float>* x_out,
                     std::vector<float>* y_out) const {
  const size_t f = num_features();
  if (x_out != nullptr) {
    x_out->resize(idx.size() * f);
    for (size_t k = 0; k < idx.size(); ++k) {
      std::memcpy(x_out->data() + k * f, Row(idx[k]), f * sizeof(float));
    }
  }
  if (y_out != nullptr) {
    y_out->resize(idx.size());
    for (size_t k = 0; k < idx.size(); ++k) (*y_out)[k] = rows[idx[k]].label;
  }
}

Result<Dataset> BuildDataset(const BarColumns& bars, const FeatureFrame& features,
                             const LabelConfig& config, size_t min_rows) {
  SINYAL_RETURN_IF_ERROR(bars.Validate());
  if (config.horizon < 1 || config.horizon > 500) {
    return Status::InvalidArgument(
        "horizon must be in [1, 500], got " + std::to_string(config.horizon), "horizon");
  }
  if (!(config.dead_band >= 0 && config.dead_band <= 0.1)) {
    return Status::InvalidArgument("dead_band must be in [0, 0.1]", "dead_band");
  }
  if (features.rows != bars.size() || features.values.size() != features.rows * features.cols()) {
    return Status::InvalidArgument("feature frame has " + std::to_string(features.rows) +
                                       " rows for " + std::to_string(bars.size()) + " bars",
                                   "features");
  }
  if (features.cols() == 0)
    return Status::InvalidArgument("feature set has no features", "features");

  Dataset ds;
  ds.symbol = bars.symbol;
  ds.timeframe = bars.timeframe;
  ds.feature_set = features.set_name;
  ds.feature_set_version = features.set_version;
  ds.inputs_from = features.inputs_from;
  ds.feature_names = features.names;
  ds.num_classes = config.neutral == NeutralMode::kThirdClass ? 3 : 2;
  ds.horizon = config.horizon;
  ds.dead_band = config.dead_band;

  const size_t n = bars.size();
  const size_t h = static_cast<size_t>(config.horizon);
  const size_t f = features.cols();
  ds.x.reserve(n * f);
  ds.rows.reserve(n);
  for (size_t t = 0; t + h < n; ++t) {
    const float* row = features.Row(t);
    bool complete = true;
    for (size_t j = 0; j < f; ++j) complete &= !std::isnan(row[j]);
    if (!complete) {
      ++ds.warmup_dropped;
      continue;
    }
    const double fwd = bars.close[t + h] / bars.close[t] - 1.0;
    int label;
    if (std::fabs(fwd) <= config.dead_band) {
      if (config.neutral == NeutralMode::kExclude) {
        ++ds.neutral_dropped;
        continue;
      }
      label = kNeutral;
    } else {
      label = fwd > 0 ? kUp : kDown;
    }
    int8_t last_dir = 0;
    if (t >= h) {
      const double past = bars.close[t] / bars.close[t - h] - 1.0;
      if (std::fabs(past) > config.dead_band) last_dir = past > 0 ? 1 : -1;
    }
    DatasetRow r;
    r.ts = bars.ts[t];
    r.bar = static_cast<uint32_t>(t);
    r.label_first = static_cast<uint32_t>(t + 1);
    r.label_last = static_cast<uint32_t>(t + h);
    r.forward_return = static_cast<float>(fwd);
    r.label = static_cast<int8_t>(label);
    r.last_direction = last_dir;
    ds.rows.push_back(r);
    ds.x.insert(ds.x.end(), row, row + f);
  }
  if (ds.rows.size() < std::max<size_t>(min_rows, 1)) {
    return Status::FailedPrecondition("too little data: " + std::to_string(ds.rows.size()) +
                                          " labelled rows from " + std::to_string(n) +
                                          " bars, need at least " +
                                          std::to_string(std::max<size_t>(min_rows, 1)),
                                      "bars");
  }
  return ds;
}

Status CheckNoLookahead(const FeatureComputer& compute, size_t total_bars,
                        const LookaheadCheckOptions& options) {
  if (total_bars < 2) return Status::InvalidArgument("need at least 2 bars", "total_bars");
  SINYAL_ASSIGN_OR_RETURN(FeatureFrame full, compute(total_bars));
  if (full.rows != total_bars) {
    return Status::InvalidArgument("feature computer returned " + std::to_string(full.rows) +
                                       " rows for " + std::to_string(total_bars) + " bars",
                                   "features");
  }
  // Prefix lengths: evenly spaced, plus the very short and the last few (where look-ahead of
  // one bar is most visible).
  std::vector<size_t> lengths;
  const int probes = std::max(options.probes, 1);
  for (int i = 1; i <= probes; ++i)
    lengths.push_back(std::max<size_t>(1, total_bars * i / (probes + 1)));
  for (size_t k = 1; k <= 3 && k < total_bars; ++k) lengths.push_back(total_bars - k);
  lengths.push_back(1);
  std::sort(lengths.begin(), lengths.end());
  lengths.erase(std::unique(lengths.begin(), lengths.end()), lengths.end());

  const size_t f = full.cols();
  for (size_t len : lengths) {
    SINYAL_ASSIGN_OR_RETURN(FeatureFrame part, compute(len));
    if (part.rows != len || part.cols() != f) {
      return Status::InvalidArgument("feature computer returned a " + std::to_string(part.rows) +
                                         "x" + std::to_string(part.cols()) + " frame for " +
                                         std::to_string(len) + " bars",
                                     "features");
    }
    for (size_t t = 0; t < len; ++t) {
      const float* a = full.Row(t);
      const float* b = part.Row(t);
      for (size_t j = 0; j < f; ++j) {
        const bool both_nan = std::isnan(a[j]) && std::isnan(b[j]);
        if (both_nan) continue;
        const double diff = std::fabs(static_cast<double>(a[j]) - static_cast<double>(b[j]));
        if (std::isnan(a[j]) || std::isnan(b[j]) || diff > options.tolerance) {
          return Status::FailedPrecondition("feature '" + full.names[j] + "' at bar " +
                                                std::to_string(t) + " is " + std::to_string(a[j]) +
                                                " on the full series but " + std::to_string(b[j]) +
                                                " when only bars [0, " + std::to_string(len) +
                                                ") exist: it uses future data (look-ahead leakage)",
                                            "features." + full.names[j]);
        }
      }
    }
  }
  return Status::Ok();
}

}  // namespace sinyal::models
