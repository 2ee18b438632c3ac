#include "signals/drift.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "signals/stats.h"

namespace sinyal::signals {

namespace {

Status CheckMatrix(std::span<const float> x, const std::vector<std::string>& names, size_t* rows) {
  if (names.empty() || x.size() % names.size() != 0) {
    return Status::InvalidArgument("x has " + std::to_string(x.size()) + " values, not a multiple of " +
                                       std::to_string(names.size()) + " features",
                                   "x");
  }
  *rows = x.size() / names.size();
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i])) {
      const auto& n = names[i % names.size()];
      return Status::InvalidArgument("feature '" + n + "' is not finite at row " +
                                         std::to_string(i / names.size()),
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
    case DriftLevel::kNone: return "none";
    case DriftLevel::kModerate: return "moderate";
    case DriftLevel::kSignificant: return "significant";
  }
  return "?";
}

nlohmann::json PsiReference::ToJson() const {
  return {{"names", names}, {"edges", edges}, {"expected", expected}, {"rows", rows}};
}

Result<PsiReference> FitPsiReference(std::span<const float> x, const std::vector<std::string>& names,
                                     int bins) {
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
