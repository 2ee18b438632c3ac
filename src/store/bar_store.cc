#include "store/bar_store.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <mutex>
#include <unordered_map>

#include "core/time.h"
#include "market/bar_series.h"
#include "store/database.h"
#include "store/security_audit.h"
#include "store/soci.h"  // first: configures SOCI

namespace sinyal::store {
namespace {

using market::Bar;

constexpr const char* kBarColumns = "ts, open, high, low, close, volume, spread, real_volume";

std::string TenantLiteral(const std::optional<TenantId>& t) {
  return t ? std::to_string(t->value()) : "NULL";
}

// Column vectors for bulk reads and writes (SOCI vector binds).
struct BarColumns {
  std::vector<long long> ts;
  std::vector<double> open, high, low, close, volume, real_volume;
  std::vector<int> spread;

  void Resize(size_t n) {
    ts.resize(n);
    open.resize(n);
    high.resize(n);
    low.resize(n);
    close.resize(n);
    volume.resize(n);
    real_volume.resize(n);
    spread.resize(n);
  }
  void Fill(std::span<const Bar> bars) {
    Resize(bars.size());
    for (size_t i = 0; i < bars.size(); ++i) {
      const Bar& b = bars[i];
      ts[i] = b.time();
      open[i] = b.open();
      high[i] = b.high();
      low[i] = b.low();
      close[i] = b.close();
      volume[i] = b.volume();
      real_volume[i] = b.real_volume();
      spread[i] = b.spread();
    }
  }
  // Appends rows [0, n) as Bars. DataLoss when a stored row violates the Bar invariants.
  Status AppendTo(size_t n, std::vector<Bar>* out) const {
    for (size_t i = 0; i < n; ++i) {
      auto bar = Bar::Create(ts[i], open[i], high[i], low[i], close[i], volume[i], spread[i],
                             real_volume[i]);
      if (!bar.ok()) {
        return Status::DataLoss("stored bar at " + FormatIso8601(ts[i]) +
                                " is invalid: " + bar.error().message());
      }
      out->push_back(*bar);
    }
    return Status::Ok();
  }
};

// PostgreSQL array literal of the column, e.g. "{1.1,1.2}". Doubles use the shortest text that
// reads back to the same double (std::to_chars), so values round-trip exactly.
template <typename T>
std::string ArrayLiteral(const std::vector<T>& v) {
  std::string out;
  out.reserve(v.size() * 12 + 2);
  out += '{';
  char buf[64];
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v[i]);
    out.append(buf, end);
  }
  out += '}';
  return out;
}

// Runs a SELECT of kBarColumns (already prepared with its uses) and appends every row.
// `prepare` binds the statement's parameters; fetching is done in bulk chunks.
Status FetchBars(soci::session& sql, const std::string& query, long long series_id, long long lo,
                 long long hi, long long limit, std::vector<Bar>* out) {
  constexpr size_t kChunk = 1024;
  BarColumns cols;
  cols.Resize(kChunk);
  soci::statement st =
      (sql.prepare << query, soci::use(series_id, "s"), soci::use(lo, "lo"), soci::use(hi, "hi"),
       soci::use(limit, "n"), soci::into(cols.ts), soci::into(cols.open), soci::into(cols.high),
       soci::into(cols.low), soci::into(cols.close), soci::into(cols.volume),
       soci::into(cols.spread), soci::into(cols.real_volume));
  st.execute();
  while (st.fetch()) {
    SINYAL_RETURN_IF_ERROR(cols.AppendTo(cols.ts.size(), out));
    cols.Resize(kChunk);
  }
  return Status::Ok();
}

std::string RangeQuery(bool descending) {
  return std::string("SELECT ") + kBarColumns +
         " FROM market_bars WHERE series_id = :s AND ts >= :lo AND ts <= :hi ORDER BY ts " +
         (descending ? "DESC" : "ASC") + " LIMIT :n";
}

SeriesInfo RowToSeries(long long id, long long tenant, soci::indicator tenant_ind,
                       const std::string& symbol, const std::string& tf, const std::string& source,
                       long long revision) {
  SeriesInfo s;
  s.id = id;
  if (tenant_ind != soci::i_null) s.tenant = TenantId(tenant);
  s.key.symbol = symbol;
  auto parsed = market::ParseTimeframe(tf);
  s.key.timeframe = parsed.ok() ? *parsed : market::Timeframe::kM1;
  s.source = source;
  s.revision = revision;
  return s;
}

// The series a viewer reads (private first, then platform). NotFound when none.
Result<SeriesInfo> ResolveIn(soci::session& sql, std::optional<TenantId> viewer,
                             const market::SeriesKey& key) {
  long long id = 0, tenant = 0, revision = 0;
  soci::indicator tenant_ind = soci::i_null;
  std::string source;
  const std::string tf(market::TimeframeName(key.timeframe));
  std::string q =
      "SELECT id, tenant_id, source, revision FROM market_series "
      "WHERE symbol = :sym AND timeframe = :tf AND ";
  if (viewer) {
    q += "(tenant_id = " + std::to_string(viewer->value()) +
         " OR tenant_id IS NULL) ORDER BY CASE WHEN tenant_id IS NULL THEN 1 ELSE 0 END LIMIT 1";
  } else {
    q += "tenant_id IS NULL";
  }
  sql << q, soci::use(key.symbol, "sym"), soci::use(tf, "tf"), soci::into(id),
      soci::into(tenant, tenant_ind), soci::into(source), soci::into(revision);
  if (!sql.got_data()) {
    return Status::NotFound("no " + std::string(market::TimeframeName(key.timeframe)) +
                                " series for symbol " + key.symbol,
                            "symbol");
  }
  return RowToSeries(id, tenant, tenant_ind, key.symbol, tf, source, revision);
}

}  // namespace

struct BarStore::Impl {
  Database& db;
  Clock& clock;
  BarStoreOptions options;

  struct Window {
    int64_t revision = 0;
    bool complete = false;  // holds every bar of the series
    market::BarSeries bars;
    uint64_t last_used = 0;
    Window(market::Timeframe tf, size_t cap) : bars(tf, cap) {}
  };
  mutable std::mutex mu;
  std::unordered_map<int64_t, std::unique_ptr<Window>> windows;  // GUARDED_BY(mu)
  uint64_t tick = 0;                                             // GUARDED_BY(mu)
  HotWindowStats stats;                                          // GUARDED_BY(mu)

  Impl(Database& d, Clock& c, BarStoreOptions o) : db(d), clock(c), options(o) {
    options.hot_window_bars = std::max<size_t>(1, options.hot_window_bars);
    options.max_hot_series = std::max<size_t>(1, options.max_hot_series);
    options.insert_chunk = std::clamp<size_t>(options.insert_chunk, 1, 100000);
  }

  Status Tx(std::optional<TenantId> tenant, const std::function<Status(soci::session&)>& fn) {
    return tenant ? db.WithTenantTx(*tenant, fn) : db.WithTx(fn);
  }

  void EvictIfFull() {  // REQUIRES: mu held
    while (windows.size() > options.max_hot_series) {
      auto oldest = windows.begin();
      for (auto it = windows.begin(); it != windows.end(); ++it) {
        if (it->second->last_used < oldest->second->last_used) oldest = it;
      }
      windows.erase(oldest);
    }
  }

  // After a committed write that moved `series` from revision `before` to `after`.
  void OnWrite(const SeriesInfo& series, int64_t before, int64_t after,
               std::span<const Bar> inserted, bool replaced) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = windows.find(series.id);
    if (it == windows.end()) return;
    Window& w = *it->second;
    const bool appends_only =
        !replaced && w.revision == before &&
        (inserted.empty() || w.bars.empty() || inserted.front().time() > w.bars.back().time());
    // A window that is not complete and empty can't tell where the series ends: reload.
    if (!appends_only || (w.bars.empty() && !w.complete)) {
      windows.erase(it);
      ++stats.invalidations;
      return;
    }
    for (const Bar& b : inserted) {
      if (w.bars.size() == w.bars.capacity()) w.complete = false;
      if (!w.bars.Append(b).ok()) {  // cannot happen for ascending bars; stay safe
        windows.erase(it);
        ++stats.invalidations;
        return;
      }
    }
    w.revision = after;
    ++stats.appends;
  }

  // Runs `use` on the current window of `series`, loading it first when missing or stale.
  // Returns false (and does not call `use`) only when loading failed.
  Status WithWindow(soci::session& sql, const SeriesInfo& series,
                    const std::function<void(const Window&)>& use) {
    {
      std::lock_guard<std::mutex> lock(mu);
      auto it = windows.find(series.id);
      if (it != windows.end() && it->second->revision == series.revision) {
        it->second->last_used = ++tick;
        ++stats.hits;
        use(*it->second);
        return Status::Ok();
      }
      ++stats.misses;
    }
    // Load the newest bars. The revision was read before the bars, so the window can only be
    // newer than its label, never older: a later check at worst reloads it once more.
    const size_t cap = options.hot_window_bars;
    std::vector<Bar> newest;
    newest.reserve(cap);
    SINYAL_RETURN_IF_ERROR(FetchBars(
        sql, RangeQuery(/*descending=*/true), series.id, std::numeric_limits<long long>::min(),
        std::numeric_limits<long long>::max(), static_cast<long long>(cap), &newest));
    std::reverse(newest.begin(), newest.end());
    auto w = std::make_unique<Window>(series.key.timeframe, cap);
    w->revision = series.revision;
    w->complete = newest.size() < cap;
    for (const Bar& b : newest) {
      if (Status s = w->bars.Append(b); !s.ok()) return Status::DataLoss(s.message());
    }
    std::lock_guard<std::mutex> lock(mu);
    ++stats.loads;
    w->last_used = ++tick;
    use(*w);
    windows[series.id] = std::move(w);
    EvictIfFull();
    return Status::Ok();
  }
};

BarStore::BarStore(Database& db, Clock& clock, BarStoreOptions options)
    : impl_(std::make_unique<Impl>(db, clock, options)) {}
BarStore::~BarStore() = default;

HotWindowStats BarStore::hot_window_stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  HotWindowStats s = impl_->stats;
  s.windows = impl_->windows.size();
  return s;
}

Result<BarImportReport> BarStore::Import(const SeriesOwner& owner, const market::SeriesKey& key,
                                         std::span<const Bar> bars,
                                         const BarImportOptions& options) {
  SINYAL_RETURN_IF_ERROR(market::ValidateSymbol(key.symbol));
  if (bars.empty()) return Status::InvalidArgument("no bars to import", "bars");
  for (size_t i = 1; i < bars.size(); ++i) {
    if (bars[i].time() <= bars[i - 1].time()) {
      return Status::InvalidArgument("bars are not strictly ascending at index " +
                                         std::to_string(i) + " (" + FormatIso8601(bars[i].time()) +
                                         ")",
                                     "bars");
    }
  }
  // Bars of one series are at least one period apart (D1: 20 h, since daily files converted
  // from a DST-observing zone step by 23 or 25 h); closer bars mean the wrong timeframe.
  const int64_t min_gap = key.timeframe == market::Timeframe::kD1
                              ? 20 * kNanosPerHour
                              : market::TimeframeNanos(key.timeframe);
  for (size_t i = 1; i < bars.size(); ++i) {
    if (bars[i].time() - bars[i - 1].time() < min_gap) {
      return Status::InvalidArgument("bars at " + FormatIso8601(bars[i - 1].time()) + " and " +
                                         FormatIso8601(bars[i].time()) + " are closer than one " +
                                         std::string(market::TimeframeName(key.timeframe)) +
                                         " bar: wrong timeframe?",
                                     "timeframe");
    }
  }
  if (options.source.size() > 200) {
    return Status::InvalidArgument("source is longer than 200 characters", "source");
  }
  Impl& im = *impl_;
  BarImportReport report;
  SeriesInfo series;
  int64_t revision_before = 0;
  std::vector<Bar> inserted;
  bool replaced_any = false;

  Status st = im.Tx(owner.tenant, [&](soci::session& sql) -> Status {
    report = BarImportReport{};
    inserted.clear();
    replaced_any = false;
    const std::string tf(market::TimeframeName(key.timeframe));
    const std::string owner_filter = owner.tenant
                                         ? "tenant_id = " + std::to_string(owner.tenant->value())
                                         : std::string("tenant_id IS NULL");
    // 1. Get or create the series. ON CONFLICT DO NOTHING makes concurrent creators meet.
    long long id = 0;
    sql << "SELECT id FROM market_series WHERE " + owner_filter +
               " AND symbol = :sym AND timeframe = :tf",
        soci::use(key.symbol, "sym"), soci::use(tf, "tf"), soci::into(id);
    if (!sql.got_data()) {
      const std::string source = options.source;
      long long now = im.clock.Now();
      sql << "INSERT INTO market_series(tenant_id, symbol, timeframe, source, revision, "
             "created_at) VALUES (" +
                 TenantLiteral(owner.tenant) + ", :sym, :tf, :src, 0, :now) ON CONFLICT DO NOTHING",
          soci::use(key.symbol, "sym"), soci::use(tf, "tf"), soci::use(source, "src"),
          soci::use(now, "now");
      sql << "SELECT id FROM market_series WHERE " + owner_filter +
                 " AND symbol = :sym AND timeframe = :tf",
          soci::use(key.symbol, "sym"), soci::use(tf, "tf"), soci::into(id);
      if (!sql.got_data()) return Status::Internal("series row vanished after insert");
      report.series_created = true;
    }
    report.series_id = id;
    // 2. Lock the series (row lock on PostgreSQL; SQLite's BEGIN IMMEDIATE already
    //    serializes writers) and bump its revision.
    sql << "UPDATE market_series SET revision = revision + 1 WHERE id = :id", soci::use(id, "id");
    long long revision = 0;
    std::string source;
    sql << "SELECT revision, source FROM market_series WHERE id = :id", soci::use(id, "id"),
        soci::into(revision), soci::into(source);
    revision_before = revision - 1;
    series.id = id;
    series.tenant = owner.tenant;
    series.key = key;
    series.source = source;
    series.revision = revision;

    // 3. Stored bars in the batch's range, and the merge plan.
    std::vector<Bar> existing;
    SINYAL_RETURN_IF_ERROR(FetchBars(sql, RangeQuery(false), id, bars.front().time(),
                                     bars.back().time(), std::numeric_limits<long long>::max(),
                                     &existing));
    SINYAL_ASSIGN_OR_RETURN(market::MergePlan plan,
                            market::PlanMerge(existing, bars, options.overlap));
    report.received = static_cast<int64_t>(bars.size());
    report.identical = plan.identical;
    report.conflicts = static_cast<int64_t>(plan.conflicts.size());
    for (size_t i = 0; i < plan.conflicts.size() && i < options.max_reported_conflicts; ++i) {
      report.first_conflicts.push_back(plan.conflicts[i]);
    }
    report.first = bars.front().time();
    report.last = bars.back().time();
    if (!plan.status.ok()) return plan.status.WithField("on_overlap");

    // 4. Bulk writes: vector-bound rows, one execution per chunk. A statement is prepared per
    //    chunk, not re-executed: SOCI 4.0.3's PostgreSQL vector binds keep the first
    //    execution's converted values (stale rows on re-execution, a crash when prepared
    //    empty), see docs/market-data.md. Preparing costs one round trip per 2000 rows.
    const std::string tenant = TenantLiteral(owner.tenant);
    const size_t chunk = im.options.insert_chunk;
    const std::string insert_sql =
        "INSERT INTO market_bars(series_id, tenant_id, ts, open, high, low, close, volume, "
        "spread, real_volume) VALUES (" +
        std::to_string(id) + ", " + tenant + ", :ts, :o, :h, :l, :c, :v, :sp, :rv)";
    BarColumns cols;
    const bool arrays = im.options.pg_array_binds && im.db.dialect() == Dialect::kPostgres;
    for (size_t at = 0; at < plan.to_insert.size(); at += chunk) {
      const size_t n = std::min(chunk, plan.to_insert.size() - at);
      cols.Fill(std::span<const Bar>(plan.to_insert).subspan(at, n));
      if (arrays) {
        const std::string ts = ArrayLiteral(cols.ts), o = ArrayLiteral(cols.open),
                          h = ArrayLiteral(cols.high), l = ArrayLiteral(cols.low),
                          c = ArrayLiteral(cols.close), v = ArrayLiteral(cols.volume),
                          sp = ArrayLiteral(cols.spread), rv = ArrayLiteral(cols.real_volume);
        sql << "INSERT INTO market_bars(series_id, tenant_id, ts, open, high, low, close, "
               "volume, spread, real_volume) SELECT " +
                   std::to_string(id) + ", " + tenant +
                   ", * FROM unnest(CAST(:ts AS bigint[]), CAST(:o AS float8[]), "
                   "CAST(:h AS float8[]), CAST(:l AS float8[]), CAST(:c AS float8[]), "
                   "CAST(:v AS float8[]), CAST(:sp AS integer[]), CAST(:rv AS float8[]))",
            soci::use(ts), soci::use(o), soci::use(h), soci::use(l), soci::use(c), soci::use(v),
            soci::use(sp), soci::use(rv);
        continue;
      }
      soci::statement ins =
          (sql.prepare << insert_sql, soci::use(cols.ts), soci::use(cols.open),
           soci::use(cols.high), soci::use(cols.low), soci::use(cols.close), soci::use(cols.volume),
           soci::use(cols.spread), soci::use(cols.real_volume));
      ins.execute(true);
    }
    const std::string update_sql =
        "UPDATE market_bars SET open = :o, high = :h, low = :l, close = :c, volume = :v, "
        "spread = :sp, real_volume = :rv WHERE series_id = " +
        std::to_string(id) + " AND ts = :ts";
    for (size_t at = 0; at < plan.to_replace.size(); at += chunk) {
      const size_t n = std::min(chunk, plan.to_replace.size() - at);
      cols.Fill(std::span<const Bar>(plan.to_replace).subspan(at, n));
      soci::statement upd =
          (sql.prepare << update_sql, soci::use(cols.open), soci::use(cols.high),
           soci::use(cols.low), soci::use(cols.close), soci::use(cols.volume),
           soci::use(cols.spread), soci::use(cols.real_volume), soci::use(cols.ts));
      upd.execute(true);
      replaced_any = true;
    }
    report.inserted = static_cast<int64_t>(plan.to_insert.size());
    report.replaced = static_cast<int64_t>(plan.to_replace.size());
    inserted = std::move(plan.to_insert);
    if (owner.tenant) {  // a tenant's import is audited with it (store/security_audit.h)
      const std::string data = "{\"received\":" + std::to_string(report.received) +
                               ",\"inserted\":" + std::to_string(report.inserted) +
                               ",\"replaced\":" + std::to_string(report.replaced) + "}";
      AppendSecurityEvent(sql, *owner.tenant,
                          {.kind = std::string(kAuditDataImported),
                           .actor = options.actor.empty() ? "import" : options.actor,
                           .subject = "series:" + key.symbol + "/" + tf,
                           .data = data},
                          im.clock.Now());
    }
    return Status::Ok();
  });
  if (!st.ok()) {
    if (st.code() == StatusCode::kInvalidArgument && st.field().empty())
      return st.WithField("bars");
    return st;
  }
  im.OnWrite(series, revision_before, series.revision, inserted, replaced_any);
  return report;
}

Result<SeriesInfo> BarStore::Resolve(std::optional<TenantId> viewer, const market::SeriesKey& key) {
  SINYAL_RETURN_IF_ERROR(market::ValidateSymbol(key.symbol));
  std::optional<SeriesInfo> out;
  SINYAL_RETURN_IF_ERROR(impl_->Tx(viewer, [&](soci::session& sql) -> Status {
    SINYAL_ASSIGN_OR_RETURN(SeriesInfo s, ResolveIn(sql, viewer, key));
    out = std::move(s);
    return Status::Ok();
  }));
  return *out;
}

Result<BarPage> BarStore::Query(std::optional<TenantId> viewer, const BarQuery& q) {
  SINYAL_RETURN_IF_ERROR(market::ValidateSymbol(q.key.symbol));
  if (q.limit < 1 || q.limit > kMaxBarPage) {
    return Status::InvalidArgument("limit must be between 1 and " + std::to_string(kMaxBarPage),
                                   "limit");
  }
  if (q.from > q.to) return Status::InvalidArgument("from is after to", "from");
  UnixNanos lo = q.from;
  if (q.cursor) {
    if (*q.cursor == INT64_MAX) return BarPage{};
    lo = std::max(lo, *q.cursor + 1);
  }
  const UnixNanos hi = q.to;
  Impl& im = *impl_;
  BarPage page;
  SINYAL_RETURN_IF_ERROR(im.Tx(viewer, [&](soci::session& sql) -> Status {
    page = BarPage{};
    SINYAL_ASSIGN_OR_RETURN(page.series, ResolveIn(sql, viewer, q.key));
    if (lo > hi) return Status::Ok();
    const size_t want = q.limit + 1;  // one more tells whether a next page exists
    bool served = false;
    SINYAL_RETURN_IF_ERROR(im.WithWindow(sql, page.series, [&](const Impl::Window& w) {
      if (!w.complete && (w.bars.empty() || lo < w.bars[0].time())) return;
      page.bars = w.bars.Range(lo, hi == INT64_MAX ? INT64_MAX : hi + 1, want);
      served = true;
    }));
    page.from_hot_window = served;
    if (!served) {
      SINYAL_RETURN_IF_ERROR(FetchBars(sql, RangeQuery(false), page.series.id, lo, hi,
                                       static_cast<long long>(want), &page.bars));
    }
    return Status::Ok();
  }));
  if (page.bars.size() > q.limit) {
    page.bars.erase(page.bars.begin() + static_cast<std::ptrdiff_t>(q.limit), page.bars.end());
    page.next_cursor = page.bars.back().time();
  }
  return page;
}

Result<std::vector<market::Bar>> BarStore::ReadBars(std::optional<TenantId> viewer,
                                                    const market::SeriesKey& key,
                                                    const BarRange& range) {
  std::vector<market::Bar> out;
  std::optional<UnixNanos> cursor = range.after;
  do {
    SINYAL_ASSIGN_OR_RETURN(BarPage page, Query(viewer, {.key = key,
                                                         .from = range.from,
                                                         .to = range.to,
                                                         .limit = kMaxBarPage,
                                                         .cursor = cursor}));
    const size_t room = range.oldest - std::min(range.oldest, out.size());
    const size_t take = std::min(room, page.bars.size());
    out.insert(out.end(), page.bars.begin(), page.bars.begin() + static_cast<std::ptrdiff_t>(take));
    if (out.size() > 2 * std::min(range.newest, SIZE_MAX / 4)) {
      out.erase(out.begin(), out.end() - static_cast<std::ptrdiff_t>(range.newest));
    }
    cursor = page.next_cursor;
  } while (cursor && out.size() < range.oldest);
  if (out.size() > range.newest)
    out.erase(out.begin(), out.end() - static_cast<std::ptrdiff_t>(range.newest));
  return out;
}

Result<BarPage> BarStore::Latest(std::optional<TenantId> viewer, const market::SeriesKey& key,
                                 size_t n) {
  SINYAL_RETURN_IF_ERROR(market::ValidateSymbol(key.symbol));
  if (n < 1 || n > kMaxBarPage) {
    return Status::InvalidArgument("limit must be between 1 and " + std::to_string(kMaxBarPage),
                                   "limit");
  }
  Impl& im = *impl_;
  BarPage page;
  SINYAL_RETURN_IF_ERROR(im.Tx(viewer, [&](soci::session& sql) -> Status {
    page = BarPage{};
    SINYAL_ASSIGN_OR_RETURN(page.series, ResolveIn(sql, viewer, key));
    bool served = false;
    SINYAL_RETURN_IF_ERROR(im.WithWindow(sql, page.series, [&](const Impl::Window& w) {
      if (!w.complete && w.bars.size() < n) return;
      const size_t take = std::min(n, w.bars.size());
      page.bars.reserve(take);
      for (size_t i = w.bars.size() - take; i < w.bars.size(); ++i) page.bars.push_back(w.bars[i]);
      served = true;
    }));
    page.from_hot_window = served;
    if (!served) {
      SINYAL_RETURN_IF_ERROR(
          FetchBars(sql, RangeQuery(true), page.series.id, std::numeric_limits<long long>::min(),
                    std::numeric_limits<long long>::max(), static_cast<long long>(n), &page.bars));
      std::reverse(page.bars.begin(), page.bars.end());
    }
    return Status::Ok();
  }));
  return page;
}

Result<std::vector<SeriesInfo>> BarStore::ListSeries(std::optional<TenantId> viewer) {
  std::vector<SeriesInfo> out;
  SINYAL_RETURN_IF_ERROR(impl_->Tx(viewer, [&](soci::session& sql) -> Status {
    out.clear();
    std::string q =
        "SELECT id, tenant_id, symbol, timeframe, source, revision FROM market_series WHERE ";
    q += viewer ? "(tenant_id = " + std::to_string(viewer->value()) + " OR tenant_id IS NULL)"
                : std::string("tenant_id IS NULL");
    q += " ORDER BY symbol, timeframe, CASE WHEN tenant_id IS NULL THEN 1 ELSE 0 END";
    constexpr size_t kChunk = 256;
    std::vector<long long> ids(kChunk), tenants(kChunk), revisions(kChunk);
    std::vector<soci::indicator> tenant_inds(kChunk);
    std::vector<std::string> symbols(kChunk), tfs(kChunk), sources(kChunk);
    soci::statement st =
        (sql.prepare << q, soci::into(ids), soci::into(tenants, tenant_inds), soci::into(symbols),
         soci::into(tfs), soci::into(sources), soci::into(revisions));
    st.execute();
    while (st.fetch()) {
      for (size_t i = 0; i < ids.size(); ++i) {
        out.push_back(RowToSeries(ids[i], tenants[i], tenant_inds[i], symbols[i], tfs[i],
                                  sources[i], revisions[i]));
      }
      for (auto* v : {&ids, &tenants, &revisions}) v->resize(kChunk);
      tenant_inds.resize(kChunk);
      for (auto* v : {&symbols, &tfs, &sources}) v->resize(kChunk);
    }
    return Status::Ok();
  }));
  return out;
}

}  // namespace sinyal::store
