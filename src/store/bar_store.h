// BarStore: persisted bar series (symbol x timeframe) with a hot in-memory window per series.
//
// Ownership. A series belongs to the platform (operators' feeds; tenant_id NULL) or to one
// tenant (a private upload). It is unique per (owner, symbol, timeframe). A tenant reads its
// own private series and every platform series, never another tenant's; where a tenant has a
// private series of a symbol x timeframe, that one is what it reads (Resolve). Only operators
// (system scope, Database::WithTx) write platform series; tenants write their own.
// On PostgreSQL row-level security enforces the same (migration "market_bars"): tenant
// transactions see rows with tenant_id IS NULL OR = app.tenant_id, and may write only their own.
//
// Writes. Import() writes a batch of bars into one series in ONE transaction: it locks the
// series row, reads the stored bars in the batch's time range, and applies market::PlanMerge
// with the caller's OverlapPolicy. Re-importing overlapping bars never duplicates (primary key
// (series_id, ts)) and never overwrites silently: identical bars are skipped and counted;
// differing bars are conflicts (kReject: nothing written, Conflict returned; kKeepExisting:
// stored bar kept; kOverwrite: replaced). Any error writes nothing. Bars are stored as given:
// missing buckets (weekends, holidays, a quiet minute) stay missing, never forward-filled.
// Bulk inserts bind whole columns per chunk (SOCI vector binds; arrays on PostgreSQL, see
// BarStoreOptions::pg_array_binds).
//
// Reads. Query() pages through [from, to] with a cursor (the last returned bar's time);
// Latest() returns the newest N. Both are served from the hot window (the newest
// `hot_window_bars` bars of the series, market::BarSeries) when it covers the request and is
// current. Coherence: every write transaction bumps market_series.revision; a window is used
// only while its revision equals the stored one (read in the same call that resolves the
// series), so writes by this process (which update the window in place when they only append)
// and by other processes (which make the window stale and reload it) are both seen.
//
// Thread safety: BarStore is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"
#include "core/status.h"
#include "market/bar.h"
#include "market/instrument.h"
#include "market/merge.h"

namespace sinyal::store {

class Database;

// Who owns (and writes) a series. No tenant: the platform.
struct SeriesOwner {
  std::optional<TenantId> tenant;
  static SeriesOwner Platform() { return {}; }
  static SeriesOwner Tenant(TenantId t) { return {t}; }
  bool is_platform() const { return !tenant.has_value(); }
};

struct SeriesInfo {
  int64_t id = 0;
  std::optional<TenantId> tenant;  // nullopt: platform series
  market::SeriesKey key;
  std::string source;    // free text recorded at creation, e.g. "mt5 NY+7"
  int64_t revision = 0;  // bumped by every write transaction
};

struct BarImportOptions {
  market::OverlapPolicy overlap = market::OverlapPolicy::kReject;  // Default: reject.
  std::string source;  // recorded when the series is created (max 200 chars)
  // Who imports, for the security audit trail of a tenant's imports ("user:7", "api_key:3").
  // Default: "import".
  std::string actor;
  size_t max_reported_conflicts = 10;  // Default: first 10 conflicts listed in the report.
};

struct BarImportReport {
  int64_t series_id = 0;
  bool series_created = false;
  int64_t received = 0;   // bars in the batch
  int64_t inserted = 0;   // new bars written
  int64_t replaced = 0;   // stored bars overwritten (kOverwrite)
  int64_t identical = 0;  // bars equal to stored ones, skipped
  int64_t conflicts = 0;  // bars differing from stored ones (all policies)
  std::vector<market::BarConflict> first_conflicts;  // at most max_reported_conflicts
  std::optional<UnixNanos> first, last;              // time range of the batch (UTC)
};

inline constexpr size_t kMaxBarPage = 5000;

struct BarQuery {
  market::SeriesKey key;
  UnixNanos from = INT64_MIN;       // inclusive
  UnixNanos to = INT64_MAX;         // inclusive
  size_t limit = 1000;              // REQUIRES: 1..kMaxBarPage (else InvalidArgument "limit")
  std::optional<UnixNanos> cursor;  // only bars with time > cursor (paging)
};

struct BarPage {
  SeriesInfo series;
  std::vector<market::Bar> bars;         // ascending
  std::optional<UnixNanos> next_cursor;  // set when more bars follow within [from, to]
  bool from_hot_window = false;
};

// A range read by BarStore::ReadBars (every field optional).
struct BarRange {
  UnixNanos from = INT64_MIN;      // inclusive
  UnixNanos to = INT64_MAX;        // inclusive
  std::optional<UnixNanos> after;  // only bars with time > after (e.g. the newest one held)
  size_t newest = SIZE_MAX;        // keep only the newest N bars of the range
  size_t oldest = SIZE_MAX;        // stop once N bars are read (the oldest N of the range)
};

struct BarStoreOptions {
  size_t hot_window_bars = 4096;  // Default: 4096 newest bars per series. >= 1.
  size_t max_hot_series = 512;    // Default: 512 windows; the least recently used is dropped.
  size_t insert_chunk = 2000;     // Default: rows per vector-bound INSERT execution.
  // PostgreSQL only. Default true: each chunk of new bars goes as arrays through unnest(), one
  // round trip per chunk. false: SOCI vector binds, which SOCI 4.0.3's PostgreSQL backend runs
  // as one round trip per row (~40x slower here; docs/benchmarks.md). SQLite always uses
  // vector binds (in-process, no round trips).
  bool pg_array_binds = true;
};

struct HotWindowStats {
  int64_t hits = 0, misses = 0, loads = 0, appends = 0, invalidations = 0;
  size_t windows = 0;
};

class BarStore {
 public:
  // REQUIRES: db and clock outlive the store; db is migrated. The clock stamps created_at.
  BarStore(Database& db, Clock& clock, BarStoreOptions options = {});
  ~BarStore();
  BarStore(const BarStore&) = delete;
  BarStore& operator=(const BarStore&) = delete;

  // Imports `bars` (ascending, unique times; else InvalidArgument) into the owner's series
  // `key`, creating the series if needed. Empty `bars`: InvalidArgument("bars").
  // Conflict (field "on_overlap") when policy is kReject and some bars differ; nothing written.
  // The report is returned only on success.
  [[nodiscard]] Result<BarImportReport> Import(const SeriesOwner& owner,
                                               const market::SeriesKey& key,
                                               std::span<const market::Bar> bars,
                                               const BarImportOptions& options);

  // The series a viewer reads for `key`: for a tenant its private series if it has one, else
  // the platform series; for no tenant (operators) the platform series.
  // NotFound (field "symbol") when there is none.
  [[nodiscard]] Result<SeriesInfo> Resolve(std::optional<TenantId> viewer,
                                           const market::SeriesKey& key);

  // One page of bars of the resolved series. InvalidArgument "limit" / "from" (from > to).
  [[nodiscard]] Result<BarPage> Query(std::optional<TenantId> viewer, const BarQuery& query);

  // The newest `n` bars (1..kMaxBarPage), ascending.
  [[nodiscard]] Result<BarPage> Latest(std::optional<TenantId> viewer, const market::SeriesKey& key,
                                       size_t n);

  // Every bar of the resolved series in `range`, ascending: the one paging loop over Query
  // (kMaxBarPage bars per read), so callers never write their own. With `newest` set, memory
  // stays under 2 * newest + one page. Errors as Query (NotFound "symbol" without a series).
  // Pages are separate reads: bars written meanwhile may or may not be included.
  [[nodiscard]] Result<std::vector<market::Bar>> ReadBars(std::optional<TenantId> viewer,
                                                          const market::SeriesKey& key,
                                                          const BarRange& range = {});

  // Series visible to the viewer (platform + own), ordered by symbol, timeframe, owner.
  [[nodiscard]] Result<std::vector<SeriesInfo>> ListSeries(std::optional<TenantId> viewer);

  HotWindowStats hot_window_stats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sinyal::store
