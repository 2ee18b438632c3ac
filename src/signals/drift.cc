#include "signals/drift.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "signals/stats.h"

namespace sinyal::signals {

namespace {

Status CheckMatrix(std::span<const float> x, const std::vector<std::string>& names, size_t* rows) {
  if (names.empty() || x.size() % names.size() != 0) {
    return Status::InvalidArgument("x has " + std::to_string(x.size()) +
                                       " values, not a multiple of " +
                                       std::to_string(names.size()) + " features",
                                   "x");
  }
  *rows = x.size() / names.size();
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i])) {
      const auto& n = names[i % names.size()];
      return Status::InvalidArgument(
          "feature '" + n + "' is not finite at row " + std::to_string(i / names.size()),
          "features." + n);
    }
  }
  return Status::Ok();
}

size_t Bin(const std::vector<double>& edges, double v) {
  return static_cast<size_t>(std::upper_bound(edges.begin(), edges.end(), v) - edges.begin());
}

}  // namespace

std::string_view DriftLevelName(DriftLevel l) {
  switch (l) {
    case DriftLevel::kNone:
      return "none";
    case DriftLevel::kModerate:
      return "moderate";
    case DriftLevel::kSignificant:
      return "significant";
  }
  return "?";
}

nlohmann::json PsiReference::ToJson() const {
  return {{"names", names}, {"edges", edges}, {"expected", expected}, {"rows", rows}};
}

Result<PsiReference> FitPsiReference(std::span<const float> x,
                                     const std::vector<std::string>& names, int bins) {
  if (bins < 2 || bins > 100) return Status::InvalidArgument("bins must be in [2, 100]", "bins");
  size_t rows = 0;
  SINYAL_RETURN_IF_ERROR(CheckMatrix(x, names, &rows));
  if (rows < 100) return Status::FailedPrecondition("need at least 100 training rows", "x");
  PsiReference ref;
  ref.names = names;
  ref.rows = rows;
  const size_t f = names.size();
  for (size_t j = 0; j < f; ++j) {
    std::vector<double> col(rows);
    for (size_t i = 0; i < rows; ++i) col[i] = x[i * f + j];
    std::sort(col.begin(), col.end());
    std::vector<double> edges;
    for (int b = 1; b < bins; ++b) {
      const double q = QuantileSorted(col, static_cast<double>(b) / bins);
      if (edges.empty() || q > edges.back()) edges.push_back(q);
    }
    if (edges.empty()) edges.push_back(col.front());  // constant feature: 2 bins around it
    std::vector<double> share(edges.size() + 1, 0);
    for (double v : col) share[Bin(edges, v)] += 1;
    for (auto& s : share) s /= static_cast<double>(rows);
    ref.edges.push_back(std::move(edges));
    ref.expected.push_back(std::move(share));
  }
  return ref;
}

Result<std::vector<FeaturePsi>> ComputePsi(const PsiReference& ref, std::span<const float> x) {
  size_t rows = 0;
  SINYAL_RETURN_IF_ERROR(CheckMatrix(x, ref.names, &rows));
  if (rows < 50) return Status::FailedPrecondition("need at least 50 live rows for PSI", "x");
  const size_t f = ref.names.size();
  std::vector<FeaturePsi> out;
  for (size_t j = 0; j < f; ++j) {
    std::vector<double> a(ref.expected[j].size(), 0);
    for (size_t i = 0; i < rows; ++i) a[Bin(ref.edges[j], x[i * f + j])] += 1;
    double psi = 0;
    for (size_t b = 0; b < a.size(); ++b) {
      const double ab = std::max(a[b] / static_cast<double>(rows), 1e-4);
      const double eb = std::max(ref.expected[j][b], 1e-4);
      psi += (ab - eb) * std::log(ab / eb);
    }
    FeaturePsi fp{ref.names[j], psi, DriftLevel::kNone};
    if (psi >= kPsiSignificant) {
      fp.level = DriftLevel::kSignificant;
    } else if (psi >= kPsiModerate) {
      fp.level = DriftLevel::kModerate;
    }
    out.push_back(fp);
  }
  return out;
}

nlohmann::json PsiNull::ToJson() const {
  return {{"window", window}, {"samples", samples}, {"threshold", threshold}};
}

Result<PsiNull> FitPsiNull(const PsiReference& ref, std::span<const float> train,
                           const DriftRule& rule, size_t stride) {
  size_t bins = 2;  // the reference's bin count (ties may have collapsed some features' bins)
  for (const auto& e : ref.expected) bins = std::max(bins, e.size());
  size_t rows = 0;
  SINYAL_RETURN_IF_ERROR(CheckMatrix(train, ref.names, &rows));
  const size_t w = rule.window;
  if (w < 50) return Status::InvalidArgument("drift window must be at least 50 rows", "window");
  if (stride == 0) stride = std::max<size_t>(1, w / 4);
  if (rows < 2 * w) {
    return Status::FailedPrecondition("need at least 2 windows of " + std::to_string(w) +
                                          " training rows for the PSI null, have " +
                                          std::to_string(rows),
                                      "window");
  }
  const size_t f = ref.names.size();
  std::vector<std::vector<double>> samples(f);
  // Each window against a reference fitted WITHOUT it (as live rows are against the model's
  // reference): an in-sample window would understate the spread, the more so the longer it is.
  std::vector<float> rest;
  for (size_t start = 0; start + w <= rows; start += stride) {
    rest.assign(train.begin(), train.begin() + static_cast<ptrdiff_t>(start * f));
    rest.insert(rest.end(), train.begin() + static_cast<ptrdiff_t>((start + w) * f), train.end());
    SINYAL_ASSIGN_OR_RETURN(PsiReference held_out,
                            FitPsiReference(rest, ref.names, static_cast<int>(bins)));
    SINYAL_ASSIGN_OR_RETURN(auto psi, ComputePsi(held_out, train.subspan(start * f, w * f)));
    for (size_t j = 0; j < f; ++j) samples[j].push_back(psi[j].psi);
  }
  PsiNull null;
  null.window = w;
  null.samples = samples[0].size();
  for (auto& s : samples) {
    std::sort(s.begin(), s.end());
    null.threshold.push_back(std::max(rule.floor, rule.margin * QuantileSorted(s, rule.quantile)));
  }
  return null;
}

FeatureDriftVerdict JudgeFeatureDrift(std::span<const FeaturePsi> psi, const PsiNull& null,
                                      const DriftRule& rule) {
  FeatureDriftVerdict v;
  std::vector<std::string> above;
  char b[200];
  for (size_t j = 0; j < psi.size() && j < null.threshold.size(); ++j) {
    if (psi[j].psi > null.threshold[j]) {
      ++v.above;
      std::snprintf(b, sizeof b, "%s %.3f > %.3f", psi[j].feature.c_str(), psi[j].psi,
                    null.threshold[j]);
      above.push_back(b);
    }
    if (rule.extreme > 0 && psi[j].psi >= rule.extreme) {
      std::snprintf(b, sizeof b, "feature drift: PSI of '%s' = %.3f >= %.2f (extreme)",
                    psi[j].feature.c_str(), psi[j].psi, rule.extreme);
      v.reasons.push_back(b);
    }
  }
  if (rule.min_features > 0 && v.above >= rule.min_features) {
    std::string list;
    for (const auto& a : above) list += (list.empty() ? "" : ", ") + a;
    std::snprintf(
        b, sizeof b,
        "feature drift: %d features above their null thresholds (trigger %d; q%.3g x %.2g "
        "over %zu-row windows): ",
        v.above, rule.min_features, rule.quantile, rule.margin, null.window);
    v.reasons.push_back(b + list);
  }
  v.drift = !v.reasons.empty();
  return v;
}

PerformanceCheck CheckPerformance(const LivePerformance& live, const ValidationFigures& v,
                                  const PerformanceTolerance& t) {
  PerformanceCheck c;
  c.live = live;
  c.enough_data = live.n >= t.min_signals;
  if (!c.enough_data) return c;
  char b[160];
  if (live.brier > v.brier + t.brier) {
    std::snprintf(b, sizeof b, "live Brier %.4f over %zu signals exceeds validation %.4f + %.4f",
                  live.brier, live.n, v.brier, t.brier);
    c.reasons.push_back(b);
    c.degraded = true;
  }
  if (live.directional >= t.min_directional && live.hit_rate < v.hit_rate - t.hit_rate) {
    std::snprintf(b, sizeof b, "live hit rate %.3f over %zu calls is below validation %.3f - %.3f",
                  live.hit_rate, live.directional, v.hit_rate, t.hit_rate);
    c.reasons.push_back(b);
    c.degraded = true;
  }
  return c;
}

}  // namespace sinyal::signals
