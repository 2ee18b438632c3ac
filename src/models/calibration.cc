#include "models/calibration.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "models/dataset.h"

namespace sinyal::models {

namespace {
constexpr double kMinP = 0.001, kMaxP = 0.999;

struct Block {
  double sum_x = 0, sum_y = 0;
  size_t n = 0;
  double mean_y() const { return sum_y / n; }
  double mean_x() const { return sum_x / n; }
  void Merge(const Block& o) {
    sum_x += o.sum_x;
    sum_y += o.sum_y;
    n += o.n;
  }
};
}  // namespace

Result<IsotonicMap> IsotonicMap::Fit(std::span<const float> score, std::span<const uint8_t> outcome,
                                     size_t min_block) {
  if (score.size() != outcome.size()) {
    return Status::InvalidArgument("score and outcome sizes differ", "calibration");
  }
  min_block = std::max<size_t>(min_block, 1);
  if (score.size() < 2 * min_block) {
    return Status::InvalidArgument("too little data to calibrate: " + std::to_string(score.size()) +
                                       " held-back rows, need at least " +
                                       std::to_string(2 * min_block),
                                   "calibration");
  }
  std::vector<size_t> order(score.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] < score[b]; });
  std::vector<Block> st;
  for (size_t k = 0; k < order.size();) {
    // Equal scores form one initial block (they must map to one value).
    Block b;
    size_t j = k;
    while (j < order.size() && score[order[j]] == score[order[k]]) {
      b.sum_x += score[order[j]];
      b.sum_y += outcome[order[j]] ? 1 : 0;
      ++b.n;
      ++j;
    }
    k = j;
    st.push_back(b);
    while (st.size() >= 2 && st[st.size() - 2].mean_y() >= st.back().mean_y()) {
      Block top = st.back();
      st.pop_back();
      st.back().Merge(top);
    }
  }
  // Minimum-block safeguard: merge undersized blocks into the neighbour nearer in mean outcome.
  bool changed = true;
  while (changed && st.size() > 1) {
    changed = false;
    for (size_t i = 0; i < st.size(); ++i) {
      if (st[i].n >= min_block) continue;
      size_t into;
      if (i == 0) {
        into = 1;
      } else if (i + 1 == st.size()) {
        into = i - 1;
      } else {
        into = std::fabs(st[i - 1].mean_y() - st[i].mean_y()) <=
                       std::fabs(st[i + 1].mean_y() - st[i].mean_y())
                   ? i - 1
                   : i + 1;
      }
      st[into].Merge(st[i]);
      st.erase(st.begin() + static_cast<std::ptrdiff_t>(i));
      changed = true;
      break;
    }
  }
  IsotonicMap m;
  for (const Block& b : st) {
    m.x_.push_back(b.mean_x());
    m.y_.push_back(std::clamp(b.mean_y(), kMinP, kMaxP));
  }
  return m;
}

double IsotonicMap::Apply(double s) const {
  if (x_.empty()) return s;
  if (s <= x_.front()) return y_.front();
  if (s >= x_.back()) return y_.back();
  const size_t hi = static_cast<size_t>(std::upper_bound(x_.begin(), x_.end(), s) - x_.begin());
  const size_t lo = hi - 1;
  const double w = (s - x_[lo]) / (x_[hi] - x_[lo]);
  return y_[lo] + w * (y_[hi] - y_[lo]);
}

nlohmann::json IsotonicMap::ToJson() const { return {{"x", x_}, {"y", y_}}; }

Result<IsotonicMap> IsotonicMap::FromJson(const nlohmann::json& j) {
  IsotonicMap m;
  try {
    m.x_ = j.at("x").get<std::vector<double>>();
    m.y_ = j.at("y").get<std::vector<double>>();
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("bad isotonic map: ") + e.what(), "calibration");
  }
  if (m.x_.size() != m.y_.size() || !std::is_sorted(m.x_.begin(), m.x_.end()) ||
      !std::is_sorted(m.y_.begin(), m.y_.end())) {
    return Status::InvalidArgument("isotonic map is not monotone", "calibration");
  }
  return m;
}

Result<Calibrator> Calibrator::Fit(std::span<const float> probs, std::span<const int8_t> labels,
                                   int k, size_t min_block) {
  if (probs.size() != labels.size() * static_cast<size_t>(k)) {
    return Status::InvalidArgument("probability matrix does not match labels", "calibration");
  }
  Calibrator c;
  c.num_classes_ = k;
  const size_t n = labels.size();
  const int maps = k == 2 ? 1 : k;
  std::vector<float> s(n);
  std::vector<uint8_t> o(n);
  for (int m = 0; m < maps; ++m) {
    const int cls = k == 2 ? kUp : m;
    for (size_t i = 0; i < n; ++i) {
      s[i] = probs[i * k + cls];
      o[i] = labels[i] == cls;
    }
    SINYAL_ASSIGN_OR_RETURN(IsotonicMap map, IsotonicMap::Fit(s, o, min_block));
    c.maps_.push_back(std::move(map));
  }
  return c;
}

void Calibrator::Apply(float* row) const {
  if (maps_.empty()) return;
  if (num_classes_ == 2) {
    const double up = maps_[0].Apply(row[kUp]);
    row[kUp] = static_cast<float>(up);
    row[kDown] = static_cast<float>(1.0 - up);
    return;
  }
  double sum = 0;
  double tmp[8];
  for (int c = 0; c < num_classes_; ++c) sum += tmp[c] = maps_[c].Apply(row[c]);
  for (int c = 0; c < num_classes_; ++c) row[c] = static_cast<float>(tmp[c] / sum);
}

nlohmann::json Calibrator::ToJson() const {
  nlohmann::json maps = nlohmann::json::array();
  for (const auto& m : maps_) maps.push_back(m.ToJson());
  return {{"method", "isotonic"}, {"num_classes", num_classes_}, {"maps", maps}};
}

Result<Calibrator> Calibrator::FromJson(const nlohmann::json& j) {
  Calibrator c;
  try {
    if (j.at("method").get<std::string>() != "isotonic") {
      return Status::InvalidArgument("unknown calibration method", "calibration.method");
    }
    c.num_classes_ = j.at("num_classes").get<int>();
    if (c.num_classes_ < 2 || c.num_classes_ > 8) {
      return Status::InvalidArgument("num_classes out of range", "calibration.num_classes");
    }
    for (const auto& mj : j.at("maps")) {
      SINYAL_ASSIGN_OR_RETURN(IsotonicMap m, IsotonicMap::FromJson(mj));
      c.maps_.push_back(std::move(m));
    }
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("bad calibration: ") + e.what(), "calibration");
  }
  const size_t want = c.num_classes_ == 2 ? 1 : static_cast<size_t>(c.num_classes_);
  if (!c.maps_.empty() && c.maps_.size() != want) {
    return Status::InvalidArgument("calibration has the wrong number of maps", "calibration.maps");
  }
  return c;
}

}  // namespace sinyal::models
