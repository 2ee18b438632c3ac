#include "models/skill.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

namespace sinyal::models {

namespace {
constexpr double kZ95 = 1.959963984540054;

double ClippedLogLoss(double p) { return -std::log(std::clamp(p, 1e-15, 1.0)); }

double Brier(const float* row, int label, int k) {
  if (k == 2) {
    const double y = label == 1 ? 1.0 : 0.0;
    return (row[1] - y) * (row[1] - y);
  }
  double s = 0;
  for (int c = 0; c < k; ++c) {
    const double y = c == label ? 1.0 : 0.0;
    s += (row[c] - y) * (row[c] - y);
  }
  return s;
}

nlohmann::json IntervalJson(const MeanInterval& m) {
  return {{"mean", m.mean}, {"se", m.se},   {"ci95", {m.lo, m.hi}},
          {"n", m.n},       {"lag", m.lag}, {"n_effective", m.n_effective}};
}

Result<MeanInterval> IntervalFromJson(const nlohmann::json& j) {
  MeanInterval m;
  try {
    m.mean = j.at("mean").get<double>();
    m.se = j.at("se").get<double>();
    m.lo = j.at("ci95").at(0).get<double>();
    m.hi = j.at("ci95").at(1).get<double>();
    m.n = j.at("n").get<size_t>();
    m.lag = j.at("lag").get<int>();
    m.n_effective = j.at("n_effective").get<double>();
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("bad skill interval: ") + e.what(), "skill");
  }
  return m;
}
}  // namespace

int HacLag(size_t n, int horizon) {
  const int nw =
      static_cast<int>(std::floor(4.0 * std::pow(static_cast<double>(n) / 100.0, 2.0 / 9.0)));
  return std::max({2 * std::max(horizon, 1), nw, 1});
}

MeanInterval HacMean(std::span<const double> v, int lag) {
  MeanInterval m;
  m.n = v.size();
  if (v.empty()) return m;
  const size_t n = v.size();
  if (lag < 0) lag = HacLag(n, 1);
  lag = static_cast<int>(std::min<size_t>(static_cast<size_t>(lag), n - 1));
  m.lag = lag;
  double sum = 0;
  for (double x : v) sum += x;
  m.mean = sum / static_cast<double>(n);
  std::vector<double> e(n);
  for (size_t i = 0; i < n; ++i) e[i] = v[i] - m.mean;
  double g0 = 0;
  for (double x : e) g0 += x * x;
  g0 /= static_cast<double>(n);
  double lr = g0;
  for (int k = 1; k <= lag; ++k) {
    double g = 0;
    for (size_t i = static_cast<size_t>(k); i < n; ++i) g += e[i] * e[i - static_cast<size_t>(k)];
    g /= static_cast<double>(n);
    lr += 2.0 * (1.0 - static_cast<double>(k) / (lag + 1.0)) * g;
  }
  // Bartlett weights keep the long-run variance non-negative; a positively autocorrelated
  // series gives lr > g0. Never report more effective rows than rows.
  lr = std::max(lr, g0 / static_cast<double>(n));
  m.se = std::sqrt(lr / static_cast<double>(n));
  m.lo = m.mean - kZ95 * m.se;
  m.hi = m.mean + kZ95 * m.se;
  m.n_effective = g0 > 0 ? std::clamp(static_cast<double>(n) * g0 / lr, 1.0, static_cast<double>(n))
                         : static_cast<double>(n);
  return m;
}

double EvidenceShrink(double t) {
  if (!std::isfinite(t) || std::fabs(t) < kZ95) return 0;
  return 1.0 - 1.0 / (t * t);
}

std::vector<float> BaseRateForecast(std::span<const int8_t> labels, int k, int horizon) {
  std::vector<float> out(static_cast<size_t>(k), 1.0f / static_cast<float>(k));
  if (labels.empty()) return out;
  if (k == 2) {
    std::vector<double> up(labels.size());
    for (size_t i = 0; i < labels.size(); ++i) up[i] = labels[i] == 1 ? 1.0 : 0.0;
    const MeanInterval m = HacMean(up, HacLag(labels.size(), horizon));
    double r = 0.5;
    if (m.se > 0) {
      r = 0.5 + (m.mean - 0.5) * EvidenceShrink((m.mean - 0.5) / m.se);
    }
    out[1] = static_cast<float>(r);
    out[0] = static_cast<float>(1.0 - r);
    return out;
  }
  std::vector<double> c(static_cast<size_t>(k), 0);
  for (int8_t l : labels) c[static_cast<size_t>(l)] += 1;
  for (int i = 0; i < k; ++i)
    out[i] = static_cast<float>(c[i] / static_cast<double>(labels.size()));
  return out;
}

SkillEstimate EstimateSkill(std::span<const float> model, std::span<const float> base,
                            std::span<const int8_t> labels, int k, int horizon) {
  SkillEstimate s;
  s.n = labels.size();
  s.horizon = horizon;
  if (labels.empty()) return s;
  std::vector<double> dl(labels.size()), db(labels.size());
  double ml = 0, bl = 0, mb = 0, bb = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    const float* pm = model.data() + i * k;
    const float* pb = base.data() + i * k;
    const double lm = ClippedLogLoss(pm[labels[i]]), lb = ClippedLogLoss(pb[labels[i]]);
    const double brm = Brier(pm, labels[i], k), brb = Brier(pb, labels[i], k);
    ml += lm;
    bl += lb;
    mb += brm;
    bb += brb;
    dl[i] = lb - lm;
    db[i] = brb - brm;
  }
  const double n = static_cast<double>(labels.size());
  s.model_log_loss = ml / n;
  s.base_log_loss = bl / n;
  s.model_brier = mb / n;
  s.base_brier = bb / n;
  const int lag = HacLag(labels.size(), horizon);
  s.log_loss_gain = HacMean(dl, lag);
  s.brier_gain = HacMean(db, lag);
  s.shown = s.log_loss_gain.lo > 0 && s.log_loss_gain.mean >= kMinSkillGain;
  return s;
}

std::string SkillEstimate::Describe() const {
  char b[200];
  std::snprintf(b, sizeof b,
                "walk-forward log-loss gain over the base rate %+.4f [%+.4f, %+.4f] nats at "
                "horizon %d (n %zu, n_eff %.0f)",
                log_loss_gain.mean, log_loss_gain.lo, log_loss_gain.hi, horizon, n,
                log_loss_gain.n_effective);
  return b;
}

nlohmann::json SkillEstimate::ToJson() const {
  return {
      {"n", n},
      {"horizon", horizon},
      {"shown", shown},
      {"rule", "95% interval of the log-loss gain over the base rate above 0 (Newey-West)"},
      {"log_loss",
       {{"model", model_log_loss},
        {"base_rate", base_log_loss},
        {"gain", IntervalJson(log_loss_gain)}}},
      {"brier",
       {{"model", model_brier}, {"base_rate", base_brier}, {"gain", IntervalJson(brier_gain)}}}};
}

Result<SkillEstimate> SkillEstimate::FromJson(const nlohmann::json& j) {
  SkillEstimate s;
  try {
    s.n = j.at("n").get<size_t>();
    s.horizon = j.at("horizon").get<int>();
    s.shown = j.at("shown").get<bool>();
    s.model_log_loss = j.at("log_loss").at("model").get<double>();
    s.base_log_loss = j.at("log_loss").at("base_rate").get<double>();
    s.model_brier = j.at("brier").at("model").get<double>();
    s.base_brier = j.at("brier").at("base_rate").get<double>();
    SINYAL_ASSIGN_OR_RETURN(s.log_loss_gain, IntervalFromJson(j.at("log_loss").at("gain")));
    SINYAL_ASSIGN_OR_RETURN(s.brier_gain, IntervalFromJson(j.at("brier").at("gain")));
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("bad skill record: ") + e.what(), "skill");
  }
  return s;
}

}  // namespace sinyal::models
