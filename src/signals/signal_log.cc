#include "signals/signal_log.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "market/timeframe.h"
#include "models/registry.h"
#include "models/registry_key.h"

namespace sinyal::signals {

std::string ModelVersionName(TenantId owner, const market::SeriesKey& series, int64_t version) {
  const std::string who = owner == models::kPlatformTenant ? std::string("platform")
                                                           : "t" + std::to_string(owner.value());
  return who + "/" + series.symbol + "/" + models::KeyTimeframe(series.timeframe) + "/v" +
         std::to_string(version);
}

Status InMemorySignalLog::Append(TenantId tenant, const Signal& signal) {
  std::lock_guard<std::mutex> lock(mu_);
  auto key = std::make_pair(tenant.value(), signal.id());
  if (rows_.count(key)) {
    return Status::AlreadyExists("signal " + signal.id() + " is already stored", "id");
  }
  rows_.emplace(key, StoredSignal{tenant, signal, std::nullopt});
  return Status::Ok();
}

Result<StoredSignal> InMemorySignalLog::Get(TenantId tenant, const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = rows_.find({tenant.value(), id});
  if (it == rows_.end()) return Status::NotFound("no signal " + id, "id");
  return it->second;
}

Result<std::vector<Signal>> InMemorySignalLog::Unresolved(TenantId tenant,
                                                          const market::SeriesKey& series) const {
  const std::string& symbol = series.symbol;
  const std::string timeframe(market::TimeframeName(series.timeframe));
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Signal> out;
  for (const auto& [k, v] : rows_) {
    if (k.first != tenant.value() || v.resolution) continue;
    const auto& f = v.signal.fields();
    if (f.symbol == symbol && f.timeframe == timeframe) out.push_back(v.signal);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Signal& a, const Signal& b) { return a.bar_time() < b.bar_time(); });
  return out;
}

Status InMemorySignalLog::Resolve(TenantId tenant, const std::string& id, const Resolution& r) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = rows_.find({tenant.value(), id});
  if (it == rows_.end()) return Status::NotFound("no signal " + id, "id");
  if (it->second.resolution) {
    return Status::FailedPrecondition("signal " + id + " is already resolved", "id");
  }
  it->second.resolution = r;
  return Status::Ok();
}

Result<std::vector<StoredSignal>> InMemorySignalLog::RecentResolved(
    TenantId tenant, const market::SeriesKey& series, const std::string& model_version,
    size_t limit) const {
  const std::string& symbol = series.symbol;
  const std::string timeframe(market::TimeframeName(series.timeframe));
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<StoredSignal> out;
  for (const auto& [k, v] : rows_) {
    if (k.first != tenant.value() || !v.resolution) continue;
    const auto& f = v.signal.fields();
    if (f.symbol != symbol || f.timeframe != timeframe) continue;
    if (!model_version.empty() && f.model_version != model_version) continue;
    out.push_back(v);
  }
  std::stable_sort(out.begin(), out.end(), [](const StoredSignal& a, const StoredSignal& b) {
    return a.signal.bar_time() > b.signal.bar_time();
  });
  if (out.size() > limit) out.erase(out.begin() + static_cast<std::ptrdiff_t>(limit), out.end());
  return out;
}

Result<size_t> ResolvePending(SignalLog& log, TenantId tenant, const market::SeriesKey& series,
                              std::span<const market::Bar> bars) {
  SINYAL_ASSIGN_OR_RETURN(auto pending, log.Unresolved(tenant, series));
  size_t done = 0;
  for (const auto& s : pending) {
    auto first = std::upper_bound(bars.begin(), bars.end(), s.bar_time(),
                                  [](UnixNanos t, const market::Bar& b) { return t < b.time(); });
    std::span<const market::Bar> later(first, bars.end());
    if (later.size() < static_cast<size_t>(s.horizon())) continue;
    SINYAL_ASSIGN_OR_RETURN(auto r, ResolveSignal(s, later));
    SINYAL_RETURN_IF_ERROR(log.Resolve(tenant, s.id(), r));
    ++done;
  }
  return done;
}

LivePerformance ComputeLivePerformance(std::span<const StoredSignal> resolved) {
  LivePerformance p;
  std::vector<double> nominal;
  std::vector<size_t> inside;
  for (const auto& s : resolved) {
    if (!s.resolution) continue;
    const auto& r = *s.resolution;
    ++p.n;
    p.brier += r.brier;
    p.log_loss += r.log_loss;
    if (r.hit) {
      ++p.directional;
      p.hits += *r.hit;
    }
    for (size_t k = 0; k < r.covered.size(); ++k) {
      if (k >= nominal.size()) nominal.push_back(r.covered[k].first), inside.push_back(0);
      inside[k] += r.covered[k].second;
    }
  }
  if (p.n) {
    p.brier /= static_cast<double>(p.n);
    p.log_loss /= static_cast<double>(p.n);
  }
  p.hit_rate = p.directional ? static_cast<double>(p.hits) / static_cast<double>(p.directional)
                             : std::numeric_limits<double>::quiet_NaN();
  p.hit_rate_ci = models::WilsonInterval(p.hits, p.directional);
  for (size_t k = 0; k < nominal.size(); ++k) {
    p.coverage.push_back({nominal[k], static_cast<double>(inside[k]) / static_cast<double>(p.n)});
  }
  return p;
}

}  // namespace sinyal::signals
