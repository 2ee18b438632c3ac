// Feature sets and feature vectors of stored series, for the features API (GET
// /api/v1/business/features, /api/v1/feature-sets): feature-set resolution (the platform default
// and a tenant's own sets) and cached vectors per stored series. Names resolve and values are
// computed through the model-inputs seam (models::InputResolver, models::InputStream), so the values
// served are those a model trained on the set sees (at double precision). The vectors of a series
// are fed bar by bar as bars are appended and rebuilt from the stored history when the series
// changes other than by appending.
//
// Thread safety: thread-safe (one lock for the series map, one per series).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"
#include "core/status.h"
#include "features/feature_set.h"
#include "market/bar.h"
#include "market/instrument.h"
#include "models/inputs.h"
#include "store/bar_store.h"
#include "store/feature_set_store.h"

namespace sinyal::models {

// REQUIRES: bars and sets outlive the service.
class FeatureService {
 public:
  FeatureService(store::BarStore& bars, store::FeatureSetStore& sets);

  struct ResolvedSet {
    features::FeatureSetConfig config;
    std::string owner;  // "platform" or "tenant"
  };

  // "core-v1" (platform default) or one of the tenant's sets: "name" (highest version) or
  // "name@version". NotFound("set") otherwise.
  Result<ResolvedSet> Resolve(std::optional<TenantId> tenant, const std::string& spec);

  struct FeatureVector {
    UnixNanos time = 0;          // the bar's open time (UTC)
    std::vector<double> values;  // in the set's feature order; NaN while warming up
    bool complete = false;       // no NaN
  };

  struct Vectors {
    store::SeriesInfo series;
    std::string hash;
    std::vector<std::string> names;
    std::vector<FeatureVector> vectors;
  };

  // The latest vector (range unset) or the cached vectors with from <= time <= to, of bars that
  // opened at or before `newest_open` (the caller's data delay: its NotAfter minus one period).
  Result<Vectors> Compute(std::optional<TenantId> viewer, const market::SeriesKey& key,
                          const features::FeatureSetConfig& config,
                          std::optional<std::pair<UnixNanos, UnixNanos>> range, size_t limit,
                          UnixNanos newest_open);

  store::FeatureSetStore& sets() { return sets_; }

 private:
  static constexpr size_t kTail = 4096;          // bars kept to detect non-append changes
  static constexpr size_t kMaxHistory = 500000;  // bars loaded to warm a new configuration
  static constexpr size_t kKeepVectors = 5000;   // vectors kept per configuration

  // One feature set over one series: the seam's stream and its newest vectors.
  struct Computation {
    models::InputStream stream;
    std::deque<FeatureVector> vectors;

    static Result<Computation> Create(const features::FeatureSetConfig& config) {
      SINYAL_ASSIGN_OR_RETURN(models::InputSpec spec, models::InputSpec::FeatureSet(config));
      SINYAL_ASSIGN_OR_RETURN(models::InputStream stream, models::InputStream::Create(spec));
      return Computation{std::move(stream), {}};
    }
    Status Feed(std::span<const market::Bar> bars) {
      for (const auto& b : bars) {
        SINYAL_RETURN_IF_ERROR(stream.Push(b));
        vectors.push_back(
            {b.time(), {stream.values().begin(), stream.values().end()}, stream.complete()});
        if (vectors.size() > kKeepVectors) vectors.pop_front();
      }
      return Status::Ok();
    }
  };

  struct SeriesState {
    std::mutex mu;
    bool loaded = false;
    std::map<std::string, Computation> sets;  // by ConfigHash
    std::vector<market::Bar> tail;            // the newest bars fed, <= kTail
    int64_t revision = -1;
  };

  Result<std::vector<market::Bar>> LoadAll(std::optional<TenantId> viewer,
                                           const market::SeriesKey& key);

  // Brings the series' computations up to the stored revision: appended bars are fed once; any
  // other change (overwrite, bars inserted in the past) rebuilds them from the stored history.
  Status Sync(SeriesState& st, std::optional<TenantId> viewer, const store::SeriesInfo& series);

  store::BarStore& bars_;
  store::FeatureSetStore& sets_;
  std::mutex mu_;
  std::map<int64_t, std::shared_ptr<SeriesState>> states_;  // GUARDED_BY(mu_), by series id
};

}  // namespace sinyal::models
