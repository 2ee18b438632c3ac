#include "signals/conformal.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace sinyal::signals {

namespace {

Status CheckRows(std::span<const ConformalRow> rows, int groups) {
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    const std::string f = "rows[" + std::to_string(i) + "].";
    if (!(r.scale > 0) || !std::isfinite(r.scale)) {
      return Status::InvalidArgument("scale must be a positive number", f + "scale");
    }
    if (!std::isfinite(r.actual))
      return Status::InvalidArgument("actual is not finite", f + "actual");
    if (!std::isfinite(r.point)) return Status::InvalidArgument("point is not finite", f + "point");
    if (r.group < 0 || r.group >= groups) {
      return Status::InvalidArgument(
          "group " + std::to_string(r.group) + " is outside [0, " + std::to_string(groups) + ")",
          f + "group");
    }
  }
  return Status::Ok();
}

// ceil((n + 1) c)-th smallest; +inf when that exceeds n.
double ConformalQuantile(std::vector<double> s, double c) {
  std::sort(s.begin(), s.end());
  const double k = std::ceil((static_cast<double>(s.size()) + 1) * c);
  if (k > static_cast<double>(s.size())) return std::numeric_limits<double>::infinity();
  return s[static_cast<size_t>(k) - 1];
}

}  // namespace

Result<ConformalIntervals> ConformalIntervals::Fit(std::span<const ConformalRow> rows,
                                                   const ConformalConfig& config) {
  if (config.coverages.empty()) return Status::InvalidArgument("no coverage levels", "coverages");
  for (double c : config.coverages) {
    if (!(c > 0 && c < 1))
      return Status::InvalidArgument("coverage must be in (0, 1)", "coverages");
  }
  if (config.groups < 1) return Status::InvalidArgument("groups must be >= 1", "groups");
  SINYAL_RETURN_IF_ERROR(CheckRows(rows, config.groups));
  if (rows.size() < config.min_scores) {
    return Status::FailedPrecondition("only " + std::to_string(rows.size()) +
                                          " calibration rows; need " +
                                          std::to_string(config.min_scores),
                                      "rows");
  }
  ConformalIntervals ci;
  ci.config_ = config;
  ci.n_ = rows.size();
  std::vector<double> all;
  std::vector<std::vector<double>> by(config.groups);
  for (const auto& r : rows) {
    const double s = std::fabs(r.actual - r.point) / r.scale;
    all.push_back(s);
    by[r.group].push_back(s);
  }
  for (double c : config.coverages) ci.pooled_.push_back(ConformalQuantile(all, c));
  ci.group_.assign(config.groups, {});
  ci.group_n_.assign(config.groups, 0);
  for (int g = 0; g < config.groups; ++g) {
    ci.group_n_[g] = by[g].size();
    if (!config.mondrian || by[g].size() < config.min_group) continue;
    for (double c : config.coverages) ci.group_[g].push_back(ConformalQuantile(by[g], c));
  }
  return ci;
}

double ConformalIntervals::Quantile(size_t k, int group) const {
  if (group >= 0 && group < static_cast<int>(group_.size()) && !group_[group].empty()) {
    return group_[group][k];
  }
  return pooled_[k];
}

std::vector<ReturnInterval> ConformalIntervals::Predict(double point, double scale,
                                                        int group) const {
  std::vector<ReturnInterval> out;
  if (pooled_.size() != config_.coverages.size()) return out;  // never fitted: no intervals
  for (size_t k = 0; k < config_.coverages.size(); ++k) {
    const double q = Quantile(k, group);
    out.push_back({config_.coverages[k], point - q * scale, point + q * scale});
  }
  return out;
}

nlohmann::json ConformalIntervals::ToJson() const {
  nlohmann::json j;
  j["coverages"] = config_.coverages;
  j["mondrian"] = config_.mondrian;
  j["groups"] = config_.groups;
  j["min_group"] = config_.min_group;
  j["n"] = n_;
  j["pooled"] = pooled_;
  j["group_quantiles"] = group_;
  j["group_n"] = group_n_;
  return j;
}

Result<ConformalIntervals> ConformalIntervals::FromJson(const nlohmann::json& j) {
  try {
    ConformalIntervals ci;
    ci.config_.coverages = j.at("coverages").get<std::vector<double>>();
    ci.config_.mondrian = j.at("mondrian").get<bool>();
    ci.config_.groups = j.at("groups").get<int>();
    ci.config_.min_group = j.at("min_group").get<size_t>();
    ci.n_ = j.at("n").get<size_t>();
    ci.pooled_ = j.at("pooled").get<std::vector<double>>();
    ci.group_ = j.at("group_quantiles").get<std::vector<std::vector<double>>>();
    ci.group_n_ = j.at("group_n").get<std::vector<size_t>>();
    if (ci.pooled_.size() != ci.config_.coverages.size() ||
        ci.group_.size() != static_cast<size_t>(ci.config_.groups)) {
      return Status::InvalidArgument("conformal JSON: sizes disagree", "conformal");
    }
    for (const auto& g : ci.group_) {
      if (!g.empty() && g.size() != ci.pooled_.size()) {
        return Status::InvalidArgument("conformal JSON: group sizes disagree", "conformal");
      }
    }
    return ci;
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("conformal JSON: ") + e.what(), "conformal");
  }
}

Result<double> FitMoveRatio(std::span<const ConformalRow> rows) {
  SINYAL_RETURN_IF_ERROR(CheckRows(rows, std::numeric_limits<int>::max()));
  if (rows.empty()) return Status::FailedPrecondition("no rows", "rows");
  double s = 0;
  for (const auto& r : rows) s += std::fabs(r.actual) / r.scale;
  return s / static_cast<double>(rows.size());
}

std::vector<CoverageLine> EvaluateCoverage(const ConformalIntervals& ci,
                                           std::span<const ConformalRow> test) {
  std::vector<CoverageLine> out;
  const auto& cov = ci.config().coverages;
  for (int g = -1; g < ci.config().groups; ++g) {
    for (size_t k = 0; k < cov.size(); ++k) {
      CoverageLine l;
      l.nominal = cov[k];
      l.group = g;
      double width = 0;
      for (const auto& r : test) {
        if (g >= 0 && r.group != g) continue;
        const auto iv = ci.Predict(r.point, r.scale, r.group)[k];
        ++l.n;
        l.covered += r.actual >= iv.lo && r.actual <= iv.hi;
        width += iv.hi - iv.lo;
      }
      l.empirical = l.n ? static_cast<double>(l.covered) / static_cast<double>(l.n) : 0;
      l.ci = models::WilsonInterval(l.covered, l.n);
      l.mean_width = l.n ? width / static_cast<double>(l.n) : 0;
      out.push_back(l);
    }
  }
  return out;
}

Result<ConformalIntervals> FitRecentConformal(std::span<const ConformalRow> resolved,
                                              const RecentConformalConfig& config) {
  if (resolved.size() < config.min_rows) {
    return Status::FailedPrecondition("only " + std::to_string(resolved.size()) +
                                          " resolved rows for the interval; need " +
                                          std::to_string(config.min_rows),
                                      "rows");
  }
  const size_t take = std::min(config.window, resolved.size());
  ConformalConfig c;
  c.coverages = config.coverages;
  c.mondrian = false;
  c.min_scores = config.min_rows;
  return ConformalIntervals::Fit(resolved.last(take), c);
}

}  // namespace sinyal::signals
