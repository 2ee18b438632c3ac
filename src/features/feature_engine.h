// FeatureEngine: computes feature vectors once per closed bar per (series, feature-set hash)
// and caches the latest and a window of past vectors. Every tenant whose configuration has the
// same ConfigHash() shares one computation and one cache entry.
//
// Wiring (done by app/): register the configurations in use (the platform default and tenant
// sets) for each series, backfill them from the store's history (Warm), then call OnBar for
// every closed bar from the aggregator or the importer. Readers call Latest/Range.
//
// Thread safety: all methods are thread-safe. Registration takes an exclusive lock on the
// registry; OnBar/Warm lock only the entries they update (one mutex per entry); readers take a
// shared registry lock plus the entry's mutex, so readers of one series never block bar
// ingestion of another.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "features/feature_set.h"
#include "market/bar.h"
#include "market/instrument.h"

namespace sinyal::features {

struct FeatureVector {
  UnixNanos time = 0;          // the bar's open time (UTC)
  std::vector<double> values;  // in FeatureNames() order; NaN while warming up
  bool complete = false;       // no NaN
};

struct FeatureEngineOptions {
  size_t history = 5000;  // Default 5000 vectors kept per entry (oldest dropped).
};

class FeatureEngine {
 public:
  explicit FeatureEngine(FeatureEngineOptions options = {});
  ~FeatureEngine();

  // Registers `config` for `series`; returns its ConfigHash. Idempotent: registering an
  // equivalent configuration again returns the same hash and keeps the computation.
  [[nodiscard]] Result<std::string> Register(const market::SeriesKey& series,
                                             const FeatureSetConfig& config);
  // Feeds history bars to one entry (ascending, after whatever it has seen). Use right after
  // Register so a new entry is warm; InvalidArgument on out-of-order bars, NotFound if not
  // registered.
  [[nodiscard]] Status Warm(const market::SeriesKey& series, const std::string& hash,
                            std::span<const market::Bar> bars);
  // Feeds one closed bar to every entry of `series`. A bar not later than an entry's last bar is
  // rejected (InvalidArgument) and changes nothing. No registered entry: OK, nothing to do.
  [[nodiscard]] Status OnBar(const market::SeriesKey& series, const market::Bar& bar);

  // The newest vector. NotFound when not registered or no bar yet.
  [[nodiscard]] Result<FeatureVector> Latest(const market::SeriesKey& series,
                                             const std::string& hash) const;
  // Cached vectors with from <= time < to, oldest first, at most `limit` (0 = all).
  [[nodiscard]] Result<std::vector<FeatureVector>> Range(const market::SeriesKey& series,
                                                         const std::string& hash, UnixNanos from,
                                                         UnixNanos to, size_t limit = 0) const;
  // Feature names of a registered hash.
  [[nodiscard]] Result<std::vector<std::string>> Names(const std::string& hash) const;
  // Number of distinct computations (entries) - for metrics and tests of sharing.
  size_t EntryCount() const;

 private:
  struct Entry;
  Status FeedLocked(Entry& e, const market::Bar& bar);
  std::shared_ptr<Entry> Find(const market::SeriesKey& series, const std::string& hash) const;

  FeatureEngineOptions options_;
  mutable std::shared_mutex mu_;
  // series -> (hash -> entry)
  std::unordered_map<market::SeriesKey, std::unordered_map<std::string, std::shared_ptr<Entry>>,
                     market::SeriesKeyHash>
      entries_;  // GUARDED_BY(mu_)
  std::unordered_map<std::string, std::vector<std::string>> names_;  // GUARDED_BY(mu_)
};

}  // namespace sinyal::features
