#include "models/feature_service.h"

#include <algorithm>
#include <cstdint>

#include "models/input_resolver.h"
#include "models/registry.h"

namespace sinyal::models {

FeatureService::FeatureService(store::BarStore& bars, store::FeatureSetStore& sets)
    : bars_(bars), sets_(sets) {}

Result<FeatureService::ResolvedSet> FeatureService::Resolve(std::optional<TenantId> tenant,
                                                            const std::string& spec) {
  SINYAL_ASSIGN_OR_RETURN(
      models::InputSpec set,
      models::InputResolver(&sets_).ForName(tenant.value_or(models::kPlatformTenant), spec, "set"));
  if (set.basic()) return Status::NotFound("no feature set " + spec.substr(0, 60), "set");
  const auto& def = features::DefaultFeatureSet();
  const bool platform = set.set_name() == def.name && set.set_version() == def.version;
  return ResolvedSet{set.config(), platform ? "platform" : "tenant"};
}

Result<FeatureService::Vectors> FeatureService::Compute(
    std::optional<TenantId> viewer, const market::SeriesKey& key,
    const features::FeatureSetConfig& config, std::optional<std::pair<UnixNanos, UnixNanos>> range,
    size_t limit, UnixNanos newest_open) {
  SINYAL_ASSIGN_OR_RETURN(store::SeriesInfo series, bars_.Resolve(viewer, key));
  std::shared_ptr<SeriesState> st;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& slot = states_[series.id];
    if (!slot) slot = std::make_shared<SeriesState>();
    st = slot;
  }
  std::lock_guard<std::mutex> lock(st->mu);
  SINYAL_RETURN_IF_ERROR(Sync(*st, viewer, series));
  const std::string hash = features::ConfigHash(config);
  if (!st->sets.count(hash)) {
    // A new configuration on a warm series: feed it the whole stored history.
    SINYAL_ASSIGN_OR_RETURN(std::vector<market::Bar> all, LoadAll(viewer, key));
    SINYAL_ASSIGN_OR_RETURN(Computation c, Computation::Create(config));
    SINYAL_RETURN_IF_ERROR(c.Feed(all));
    st->sets.emplace(hash, std::move(c));
  }
  const Computation& c = st->sets.at(hash);
  Vectors out;
  out.series = series;
  out.hash = hash;
  out.names = c.stream.spec().names();
  if (!range) {
    auto newest = std::find_if(c.vectors.rbegin(), c.vectors.rend(),
                               [&](const FeatureVector& v) { return v.time <= newest_open; });
    if (newest == c.vectors.rend()) {
      return Status::NotFound(
          c.vectors.empty() ? "no bars for the series"
                            : "no bar of the series closed early enough for the plan's data delay",
          "symbol");
    }
    out.vectors.push_back(*newest);
  } else {
    const UnixNanos to = std::min(range->second == INT64_MAX ? INT64_MAX : range->second + 1,
                                  newest_open == INT64_MAX ? INT64_MAX : newest_open + 1);
    for (const auto& v : c.vectors) {
      if (v.time < range->first || v.time >= to) continue;
      out.vectors.push_back(v);
      if (limit > 0 && out.vectors.size() >= limit) break;
    }
  }
  return out;
}

Result<std::vector<market::Bar>> FeatureService::LoadAll(std::optional<TenantId> viewer,
                                                         const market::SeriesKey& key) {
  return bars_.ReadBars(viewer, key, {.oldest = kMaxHistory});
}

Status FeatureService::Sync(SeriesState& st, std::optional<TenantId> viewer,
                            const store::SeriesInfo& series) {
  if (st.loaded && st.revision == series.revision) return Status::Ok();
  const market::SeriesKey& key = series.key;
  bool rebuild = !st.loaded;
  std::vector<market::Bar> newer;
  if (!rebuild) {
    SINYAL_ASSIGN_OR_RETURN(store::BarPage latest, bars_.Latest(viewer, key, kTail));
    const UnixNanos last = st.tail.empty() ? INT64_MIN : st.tail.back().time();
    // Stored bars up to `last` must be exactly what was fed.
    std::vector<market::Bar> old_part;
    for (const auto& b : latest.bars) {
      if (b.time() <= last)
        old_part.push_back(b);
      else
        newer.push_back(b);
    }
    if (old_part.size() > st.tail.size() ||
        !std::equal(old_part.begin(), old_part.end(), st.tail.end() - old_part.size()) ||
        (old_part.size() < st.tail.size() && latest.bars.size() < kTail)) {
      rebuild = true;
    }
    if (!rebuild && newer.size() == latest.bars.size() && !st.tail.empty() &&
        latest.bars.size() == kTail) {
      rebuild = true;  // more new bars than the probe holds: reload everything
    }
  }
  if (rebuild) {
    SINYAL_ASSIGN_OR_RETURN(std::vector<market::Bar> all, LoadAll(viewer, key));
    std::map<std::string, Computation> fresh;
    for (const auto& [hash, c] : st.sets) {
      SINYAL_ASSIGN_OR_RETURN(Computation n, Computation::Create(c.stream.spec().config()));
      SINYAL_RETURN_IF_ERROR(n.Feed(all));
      fresh.emplace(hash, std::move(n));
    }
    st.sets = std::move(fresh);
    st.loaded = true;
    st.tail.assign(all.size() > kTail ? all.end() - kTail : all.begin(), all.end());
  } else {
    for (auto& [hash, c] : st.sets) SINYAL_RETURN_IF_ERROR(c.Feed(newer));
    st.tail.insert(st.tail.end(), newer.begin(), newer.end());
    if (st.tail.size() > kTail) st.tail.erase(st.tail.begin(), st.tail.end() - kTail);
  }
  st.revision = series.revision;
  return Status::Ok();
}

}  // namespace sinyal::models
