#include "models/calibration.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "models/dataset.h"
#include "models/skill.h"

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
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return score[a] < score[b]; });
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

const char* CalibrationMethodName(CalibrationMethod m) {
  return m == CalibrationMethod::kIsotonic ? "isotonic" : "shrunk_logistic";
}

Result<CalibrationMethod> ParseCalibrationMethod(std::string_view name) {
  if (name == "isotonic") return CalibrationMethod::kIsotonic;
  if (name == "shrunk_logistic") return CalibrationMethod::kShrunkLogistic;
  return Status::InvalidArgument("calibration must be 'shrunk_logistic' or 'isotonic'",
                                 "calibration");
}

namespace {
constexpr double kScoreClip = 1e-6;
double Logit(double p) {
  p = std::clamp(p, kScoreClip, 1 - kScoreClip);
  return std::log(p / (1 - p));
}
double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Bartlett-weighted long-run covariance of a 2-vector series (the sandwich's meat), divided by n.
void LongRunCov(const std::vector<double>& s0, const std::vector<double>& s1, int lag,
                double out[3]) {
  const size_t n = s0.size();
  double c00 = 0, c01 = 0, c11 = 0;
  for (size_t i = 0; i < n; ++i) {
    c00 += s0[i] * s0[i];
    c01 += s0[i] * s1[i];
    c11 += s1[i] * s1[i];
  }
  for (int k = 1; k <= lag && static_cast<size_t>(k) < n; ++k) {
    const double w = 1.0 - static_cast<double>(k) / (lag + 1.0);
    double a00 = 0, a01 = 0, a10 = 0, a11 = 0;
    for (size_t i = static_cast<size_t>(k); i < n; ++i) {
      const size_t j = i - static_cast<size_t>(k);
      a00 += s0[i] * s0[j];
      a01 += s0[i] * s1[j];
      a10 += s1[i] * s0[j];
      a11 += s1[i] * s1[j];
    }
    c00 += 2 * w * a00;
    c01 += w * (a01 + a10);
    c11 += 2 * w * a11;
  }
  out[0] = c00;
  out[1] = c01;
  out[2] = c11;
}
}  // namespace

Result<LogisticShrinkMap> LogisticShrinkMap::Fit(std::span<const float> score,
                                                 std::span<const uint8_t> outcome, int horizon,
                                                 double min_slope_t, double prior_up) {
  if (score.size() != outcome.size()) {
    return Status::InvalidArgument("score and outcome sizes differ", "calibration");
  }
  const size_t n = score.size();
  if (n < 50) {
    return Status::InvalidArgument(
        "too little data to calibrate: " + std::to_string(n) + " held-back rows, need at least 50",
        "calibration");
  }
  LogisticShrinkMap m;
  m.n_ = n;
  std::vector<double> u(n), y(n);
  double mean_z = 0, mean_y = 0;
  for (size_t i = 0; i < n; ++i) {
    u[i] = Logit(score[i]);
    y[i] = outcome[i] ? 1.0 : 0.0;
    mean_z += u[i];
    mean_y += y[i];
  }
  mean_z /= static_cast<double>(n);
  mean_y /= static_cast<double>(n);
  m.center_ = mean_z;
  for (double& v : u) v -= mean_z;
  const int lag = HacLag(n, horizon);

  // The base rate and its evidence on these rows, against the prior (the training rows' base
  // rate when given, else 1/2).
  const double prior = std::isfinite(prior_up) ? std::clamp(prior_up, 0.001, 0.999) : 0.5;
  const MeanInterval rate = HacMean(y, lag);
  m.observed_rate_ = mean_y;
  m.prior_rate_ = prior;
  m.n_effective_ = rate.n_effective;
  if (rate.se > 0) {
    const double t = (mean_y - prior) / rate.se;
    m.rate_shrink_ = EvidenceShrink(t);
  }

  // Maximum likelihood of (a, b) by Newton's method (a tiny ridge keeps it finite when the
  // outcome is constant or the score has no spread).
  double a = Logit(std::clamp(mean_y, 0.01, 0.99)), b = 0;
  const double ridge = 1e-9 * static_cast<double>(n);
  double j00 = 0, j01 = 0, j11 = 0;
  for (int it = 0; it < 100; ++it) {
    double g0 = -ridge * a, g1 = -ridge * b;
    j00 = ridge, j01 = 0, j11 = ridge;
    for (size_t i = 0; i < n; ++i) {
      const double p = Sigmoid(a + b * u[i]);
      const double r = y[i] - p, w = p * (1 - p);
      g0 += r;
      g1 += r * u[i];
      j00 += w;
      j01 += w * u[i];
      j11 += w * u[i] * u[i];
    }
    const double det = j00 * j11 - j01 * j01;
    if (!(det > 0)) break;
    const double da = (j11 * g0 - j01 * g1) / det, db = (j00 * g1 - j01 * g0) / det;
    a += da;
    b += db;
    if (std::fabs(da) + std::fabs(db) < 1e-10) break;
  }
  m.slope_mle_ = b;
  // Sandwich: V = J^-1 S J^-1 with S the HAC covariance of the scores (y - p) * (1, u).
  {
    std::vector<double> s0(n), s1(n);
    for (size_t i = 0; i < n; ++i) {
      const double r = y[i] - Sigmoid(a + b * u[i]);
      s0[i] = r;
      s1[i] = r * u[i];
    }
    double S[3];
    LongRunCov(s0, s1, lag, S);
    const double det = j00 * j11 - j01 * j01;
    if (det > 0) {
      // Inverse of J = [[j00, j01], [j01, j11]].
      const double i01 = -j01 / det, i11 = j00 / det;
      // (J^-1 S J^-1)[1][1]
      const double r0 = i01 * S[0] + i11 * S[1];
      const double r1 = i01 * S[1] + i11 * S[2];
      const double v11 = r0 * i01 + r1 * i11;
      m.slope_se_ = v11 > 0 ? std::sqrt(v11) : 0;
    }
  }
  m.slope_t_ = m.slope_se_ > 0 ? b / m.slope_se_ : 0;
  double bs = 0;
  if (b > 0 && m.slope_t_ >= min_slope_t && std::isfinite(m.slope_t_)) {
    bs = b * (1.0 - 1.0 / (m.slope_t_ * m.slope_t_));
  }
  m.slope_ = bs;
  // The intercept for the shrunk slope (mean prediction = mean outcome), then shrunk toward 1/2.
  double a2 = Logit(std::clamp(mean_y, 0.001, 0.999));
  for (int it = 0; it < 100; ++it) {
    double g = 0, h = 0;
    for (size_t i = 0; i < n; ++i) {
      const double p = Sigmoid(a2 + bs * u[i]);
      g += y[i] - p;
      h += p * (1 - p);
    }
    if (!(h > 0)) break;
    const double d = g / h;
    a2 += d;
    if (std::fabs(d) < 1e-12) break;
  }
  // Toward the prior by the evidence; without a slope the map is the prior itself (the base rate
  // of all the training rows), so a model without skill serves exactly the no-skill forecast.
  m.intercept_ = bs > 0 ? Logit(prior) + (a2 - Logit(prior)) * m.rate_shrink_ : Logit(prior);
  return m;
}

double LogisticShrinkMap::Apply(double score) const {
  const double p = Sigmoid(intercept_ + slope_ * (Logit(score) - center_));
  return std::clamp(p, kMinP, kMaxP);
}

double LogisticShrinkMap::base_rate() const {
  return std::clamp(Sigmoid(intercept_), kMinP, kMaxP);
}

nlohmann::json LogisticShrinkMap::ToJson() const {
  return {{"center", center_},
          {"slope", slope_},
          {"intercept", intercept_},
          {"slope_mle", slope_mle_},
          {"slope_se", slope_se_},
          {"slope_t", slope_t_},
          {"observed_rate", observed_rate_},
          {"prior_rate", prior_rate_},
          {"rate_shrink", rate_shrink_},
          {"n", n_},
          {"n_effective", n_effective_}};
}

Result<LogisticShrinkMap> LogisticShrinkMap::FromJson(const nlohmann::json& j) {
  LogisticShrinkMap m;
  try {
    m.center_ = j.at("center").get<double>();
    m.slope_ = j.at("slope").get<double>();
    m.intercept_ = j.at("intercept").get<double>();
    m.slope_mle_ = j.value("slope_mle", 0.0);
    m.slope_se_ = j.value("slope_se", 0.0);
    m.slope_t_ = j.value("slope_t", 0.0);
    m.observed_rate_ = j.value("observed_rate", 0.5);
    m.rate_shrink_ = j.value("rate_shrink", 0.0);
    m.prior_rate_ = j.value("prior_rate", 0.5);
    m.n_ = j.value("n", size_t{0});
    m.n_effective_ = j.value("n_effective", 0.0);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("bad logistic calibration: ") + e.what(),
                                   "calibration");
  }
  if (!std::isfinite(m.center_) || !std::isfinite(m.slope_) || !std::isfinite(m.intercept_) ||
      m.slope_ < 0) {
    return Status::InvalidArgument("logistic calibration is not finite or has a negative slope",
                                   "calibration");
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
  CalibrationOptions o;
  o.method = CalibrationMethod::kIsotonic;
  o.min_block = min_block;
  return Fit(probs, labels, k, o);
}

Result<Calibrator> Calibrator::Fit(std::span<const float> probs, std::span<const int8_t> labels,
                                   int k, const CalibrationOptions& options) {
  if (probs.size() != labels.size() * static_cast<size_t>(k)) {
    return Status::InvalidArgument("probability matrix does not match labels", "calibration");
  }
  Calibrator c;
  c.num_classes_ = k;
  const size_t n = labels.size();
  const size_t min_block = options.min_block;
  if (options.method == CalibrationMethod::kShrunkLogistic && k == 2) {
    c.method_ = CalibrationMethod::kShrunkLogistic;
    std::vector<float> s(n);
    std::vector<uint8_t> o(n);
    for (size_t i = 0; i < n; ++i) {
      s[i] = probs[i * k + kUp];
      o[i] = labels[i] == kUp;
    }
    SINYAL_ASSIGN_OR_RETURN(
        c.logistic_,
        LogisticShrinkMap::Fit(s, o, options.horizon, options.min_slope_t, options.prior_up));
    return c;
  }
  c.method_ = CalibrationMethod::kIsotonic;
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

bool Calibrator::informative() const {
  if (method_ == CalibrationMethod::kShrunkLogistic) return logistic_.informative();
  for (const auto& m : maps_) {
    if (m.knots() > 1) return true;
  }
  return maps_.empty();  // no calibration at all: the raw model
}

double Calibrator::base_rate() const {
  if (method_ == CalibrationMethod::kShrunkLogistic) return logistic_.base_rate();
  if (num_classes_ == 2 && !maps_.empty() && maps_[0].knots() > 0) {
    return maps_[0].levels()[maps_[0].knots() / 2];
  }
  return 0.5;
}

void Calibrator::Apply(float* row) const {
  if (method_ == CalibrationMethod::kShrunkLogistic) {
    const double up = logistic_.Apply(row[kUp]);
    row[kUp] = static_cast<float>(up);
    row[kDown] = static_cast<float>(1.0 - up);
    return;
  }
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
  if (method_ == CalibrationMethod::kShrunkLogistic) {
    return {
        {"method", "shrunk_logistic"}, {"num_classes", num_classes_}, {"map", logistic_.ToJson()}};
  }
  nlohmann::json maps = nlohmann::json::array();
  for (const auto& m : maps_) maps.push_back(m.ToJson());
  return {{"method", "isotonic"}, {"num_classes", num_classes_}, {"maps", maps}};
}

Result<Calibrator> Calibrator::FromJson(const nlohmann::json& j) {
  Calibrator c;
  try {
    const std::string method = j.at("method").get<std::string>();
    c.num_classes_ = j.at("num_classes").get<int>();
    if (method == "shrunk_logistic") {
      if (c.num_classes_ != 2) {
        return Status::InvalidArgument("the shrunk logistic map is binary",
                                       "calibration.num_classes");
      }
      c.method_ = CalibrationMethod::kShrunkLogistic;
      SINYAL_ASSIGN_OR_RETURN(c.logistic_, LogisticShrinkMap::FromJson(j.at("map")));
      return c;
    }
    if (method != "isotonic") {
      return Status::InvalidArgument("unknown calibration method", "calibration.method");
    }
    c.method_ = CalibrationMethod::kIsotonic;
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
