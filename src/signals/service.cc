#include "signals/service.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include "core/log.h"
#include "core/time.h"
#include "features/feature_set.h"
#include "market/timeframe.h"
#include "models/db_registry.h"
#include "models/input_resolver.h"
#include "models/registry.h"
#include "models/service.h"
#include "signals/cross_asset.h"
#include "signals/series_window.h"
#include "store/bar_store.h"
#include "store/database.h"
#include "store/feature_set_store.h"
#include "store/soci.h"

namespace sinyal::signals {

using nlohmann::json;

namespace {

constexpr const char* kDxySymbol = "DXY";

bool IsPlatform(TenantId t) { return t == models::kPlatformTenant; }
std::optional<TenantId> Viewer(TenantId owner) {
  if (IsPlatform(owner)) return std::nullopt;
  return owner;
}
std::string OwnerLabel(TenantId t) {
  return IsPlatform(t) ? std::string("platform") : "t" + std::to_string(t.value());
}

struct RouteKey {
  int64_t viewer;
  std::string symbol, timeframe;
  bool operator==(const RouteKey&) const = default;
};
struct EntryKey {
  int64_t owner;
  std::string symbol, timeframe;
  bool operator==(const EntryKey&) const = default;
};
struct KeyHash {
  size_t operator()(const RouteKey& k) const {
    return std::hash<std::string>()(k.symbol) * 31 + std::hash<std::string>()(k.timeframe) * 7 +
           std::hash<int64_t>()(k.viewer);
  }
  size_t operator()(const EntryKey& k) const {
    return std::hash<std::string>()(k.symbol) * 31 + std::hash<std::string>()(k.timeframe) * 7 +
           std::hash<int64_t>()(k.owner);
  }
};

struct Route {
  TenantId model_owner;
  int64_t version = 0;
  int64_t checked_mono = 0;
};

}  // namespace

nlohmann::json SignalPerformance::ToJson() const {
  json cov = json::array();
  for (const auto& [nominal, emp] : live.coverage) cov.push_back({{"nominal", nominal}, {"empirical", emp}});
  auto num = [](double x) { return std::isfinite(x) ? json(x) : json(nullptr); };
  return {{"model_owner", IsPlatform(model_owner) ? "platform" : "tenant"},
          {"model_version", model_version},
          {"live",
           {{"resolved", live.n},
            {"brier", live.n ? num(live.brier) : json(nullptr)},
            {"log_loss", live.n ? num(live.log_loss) : json(nullptr)},
            {"directional", live.directional},
            {"hits", live.hits},
            {"hit_rate", live.directional ? num(live.hit_rate) : json(nullptr)},
            {"hit_rate_ci", live.directional ? json({num(live.hit_rate_ci.lo), num(live.hit_rate_ci.hi)})
                                             : json(nullptr)},
            {"interval_coverage", cov}}},
          {"validation", validation}};
}

// ---------------------------------------------------------------------------------------------

struct Entry {
  std::mutex mu;
  TenantId model_owner;
  std::string symbol, timeframe;
  market::Timeframe tf = market::Timeframe::kH1;
  int64_t version = 0;
  models::ModelRecord record;
  std::unique_ptr<models::Ensemble> ensemble;
  SignalModel model;
  std::optional<SeriesWindow> window;       // rows, regime, kept bars. GUARDED_BY(mu)
  std::map<UnixNanos, std::shared_ptr<const Signal>> signals;  // by bar time. GUARDED_BY(mu)
  int64_t checked_mono = 0;                // last latest-bar check. GUARDED_BY(mu)
  std::atomic<int64_t> last_used{0};
};

struct Reference {
  CrossAssetReference ref;
  int64_t checked_mono = 0;
  bool loaded = false;
};

struct SignalService::Impl {
  Impl(store::Database& d, store::BarStore& b, models::DbModelRegistry& r,
       store::FeatureSetStore* fs, SignalLog& l, const Clock& c, SignalServiceOptions o)
      : db(d), bars(b), registry(r), feature_sets(fs), log(l), clock(c), options(std::move(o)),
        generator(c) {
    options.top_drivers = std::clamp(options.top_drivers, 0, 50);
    options.max_input_bars = std::max<size_t>(options.max_input_bars, 600);
    options.signals_per_series = std::max<size_t>(options.signals_per_series, 1);
    options.max_series = std::max<size_t>(options.max_series, 1);
  }

  store::Database& db;
  store::BarStore& bars;
  models::DbModelRegistry& registry;
  store::FeatureSetStore* feature_sets;
  models::InputResolver inputs{feature_sets};
  SignalLog& log;
  const Clock& clock;
  SignalServiceOptions options;
  SignalGenerator generator;

  mutable std::shared_mutex mu;  // guards routes and entries (the maps, not the entries)
  std::unordered_map<RouteKey, Route, KeyHash> routes;
  std::unordered_map<EntryKey, std::shared_ptr<Entry>, KeyHash> entries;
  std::mutex build_mu;  // serialises entry builds (each reads the database and may fit a calibration)

  std::mutex ref_mu;
  std::map<std::string, Reference> references;  // by timeframe. GUARDED_BY(ref_mu)

  std::mutex sub_mu;
  std::map<uint64_t, Listener> listeners;  // GUARDED_BY(sub_mu)
  uint64_t next_sub = 1;

  std::mutex q_mu;
  std::condition_variable q_cv, q_done_cv;
  std::deque<market::SeriesKey> queue;  // GUARDED_BY(q_mu)
  int64_t enqueued = 0, processed = 0;  // GUARDED_BY(q_mu)
  bool stopping = false;
  std::thread worker;

  struct Counters {
    std::atomic<int64_t> latest_calls{0}, cache_hits{0}, signals_computed{0}, bar_checks{0},
        entry_loads{0}, calibrations_fitted{0}, calibrations_loaded{0}, bars_processed{0},
        resolved{0}, listener_calls{0};
  } counters;

  // ---- routes: which model serves a viewer ----
  Result<Route> GetRoute(TenantId viewer, const std::string& symbol, const std::string& timeframe,
                         market::Timeframe tf) {
    const RouteKey key{viewer.value(), symbol, timeframe};
    const int64_t now = clock.MonotonicNanos();
    {
      std::shared_lock lock(mu);
      auto it = routes.find(key);
      if (it != routes.end() && now - it->second.checked_mono < options.bar_check_interval_nanos) {
        return it->second;
      }
    }
    // Refresh (database): the series must exist for the viewer, then the active model.
    SINYAL_RETURN_IF_ERROR(bars.Resolve(Viewer(viewer), market::SeriesKey{symbol, tf}).status());
    Route r;
    r.model_owner = viewer;
    auto active = registry.ActiveVersion(viewer, symbol, timeframe);
    if (!active.ok() && active.error().code() == StatusCode::kNotFound && !IsPlatform(viewer)) {
      r.model_owner = models::kPlatformTenant;
      active = registry.ActiveVersion(models::kPlatformTenant, symbol, timeframe);
    }
    if (!active.ok()) {
      if (active.error().code() == StatusCode::kNotFound) {
        return Status::NotFound("no active model for " + symbol + " " + timeframe +
                                    " (train one with POST /api/v1/models/train, or ask an "
                                    "operator for a platform default)",
                                "model");
      }
      return active.error();
    }
    r.version = *active;
    r.checked_mono = now;
    std::unique_lock lock(mu);
    routes[key] = r;
    return r;
  }

  // ---- entries ----
  Result<std::shared_ptr<Entry>> GetEntry(const Route& route, const std::string& symbol,
                                          const std::string& timeframe, market::Timeframe tf) {
    const EntryKey key{route.model_owner.value(), symbol, timeframe};
    {
      std::shared_lock lock(mu);
      auto it = entries.find(key);
      if (it != entries.end() && it->second->version == route.version) return it->second;
    }
    std::lock_guard build(build_mu);
    {
      std::shared_lock lock(mu);
      auto it = entries.find(key);
      if (it != entries.end() && it->second->version == route.version) return it->second;
    }
    SINYAL_ASSIGN_OR_RETURN(std::shared_ptr<Entry> e, Build(route, symbol, timeframe, tf));
    std::unique_lock lock(mu);
    entries[key] = e;
    if (entries.size() > options.max_series) {
      auto victim = entries.end();
      for (auto it = entries.begin(); it != entries.end(); ++it) {
        if (it->second == e) continue;
        if (victim == entries.end() || it->second->last_used < victim->second->last_used) victim = it;
      }
      if (victim != entries.end()) entries.erase(victim);
    }
    return e;
  }

  Result<std::shared_ptr<Entry>> Build(const Route& route, const std::string& symbol,
                                       const std::string& timeframe, market::Timeframe tf) {
    counters.entry_loads++;
    auto e = std::make_shared<Entry>();
    e->model_owner = route.model_owner;
    e->symbol = symbol;
    e->timeframe = timeframe;
    e->tf = tf;
    e->version = route.version;
    SINYAL_ASSIGN_OR_RETURN(e->record, registry.GetRecord(route.model_owner, symbol, timeframe, route.version));
    SINYAL_ASSIGN_OR_RETURN(models::Ensemble ens,
                            registry.Load(route.model_owner, symbol, timeframe, route.version));
    if (ens.num_classes() != 2) {
      return Status::FailedPrecondition("signals need a binary up/down model; version " +
                                            std::to_string(route.version) + " has 3 classes",
                                        "model");
    }
    e->ensemble = std::make_unique<models::Ensemble>(std::move(ens));
    SINYAL_ASSIGN_OR_RETURN(IntervalCalibration cal, GetCalibration(route.model_owner, symbol, timeframe,
                                                                    route.version, e->record, *e->ensemble));
    e->model.ensemble = e->ensemble.get();
    e->model.conformal = std::move(cal.conformal);
    e->model.move_ratio = cal.move_ratio;
    e->model.model_version = OwnerLabel(route.model_owner) + "/" + symbol + "/" + timeframe + "/v" +
                             std::to_string(route.version);
    e->model.symbol = symbol;
    e->model.timeframe = timeframe;
    // The window streams the model's rows and the regime from the model's anchor (the seam).
    SINYAL_ASSIGN_OR_RETURN(models::InputSpec spec, inputs.ForSchema(route.model_owner, e->record.schema));
    SINYAL_ASSIGN_OR_RETURN(SeriesWindow w, SeriesWindow::Create(spec, e->record.schema.inputs_from, symbol,
                                                                 tf, {.keep = kCrossAssetContextBars + options.signals_per_series,
                                                                      .regime = options.regime}));
    e->window.emplace(std::move(w));
    SINYAL_ASSIGN_OR_RETURN(std::vector<market::Bar> history,
                            models::ReadInputBars(bars, route.model_owner, {symbol, tf}, e->record.schema,
                                                  INT64_MAX, options.max_input_bars));
    SINYAL_RETURN_IF_ERROR(Feed(*e, history).status());
    e->checked_mono = clock.MonotonicNanos();
    return e;
  }

  // Feeds bars newer than the entry's last one through its window. REQUIRES: e.mu held (or e not
  // yet shared).
  Result<size_t> Feed(Entry& e, std::span<const market::Bar> in) {
    size_t added = 0;
    for (const auto& bar : in) {
      SINYAL_ASSIGN_OR_RETURN(bool pushed, e.window->Push(bar));
      added += pushed ? 1 : 0;
    }
    counters.bars_processed += static_cast<int64_t>(added);
    return added;
  }

  // Reads bars newer than the entry's newest (one database read). REQUIRES: e.mu held.
  Result<size_t> CatchUp(Entry& e) {
    counters.bar_checks++;
    e.checked_mono = clock.MonotonicNanos();
    SINYAL_ASSIGN_OR_RETURN(std::vector<market::Bar> newer,
                            bars.ReadBars(Viewer(e.model_owner), {e.symbol, e.tf},
                                          {.from = e.record.schema.inputs_from,
                                           .after = e.window->last_time()}));
    return Feed(e, newer);
  }

  // ---- the cross-asset reference ----
  // REQUIRES: ref_mu held.
  Status LoadReference(market::Timeframe tf, Reference& entry) {
    entry = Reference{};
    entry.checked_mono = clock.MonotonicNanos();
    entry.loaded = true;
    CrossAssetReference& ref = entry.ref;
    auto dxy = bars.Latest(std::nullopt, {kDxySymbol, tf}, store::kMaxBarPage);
    if (dxy.ok() && dxy->bars.size() > static_cast<size_t>(kMinCorrelationWindow)) {
      ref.name = kDxySymbol;
      for (const auto& b : dxy->bars) {
        ref.times.push_back(b.time());
        ref.values.push_back(b.close());
      }
      return Status::Ok();
    }
    std::vector<SymbolSeries> series;
    for (const auto& c : kDxyComponents) {
      if (std::string(c.symbol) == "USDSEK") continue;
      auto page = bars.Latest(std::nullopt, {c.symbol, tf}, store::kMaxBarPage);
      if (!page.ok()) return Status::Ok();  // a component is missing: no reference
      series.push_back({c.symbol, std::move(page->bars)});
    }
    auto panel = AlignPanel(series, tf);
    if (!panel.ok()) return Status::Ok();
    auto values = SyntheticDxy(*panel, SekMode::kDropSek);
    if (!values.ok()) return Status::Ok();
    ref.name = "synthetic_dxy_5";
    ref.times = panel->times;
    ref.values = std::move(*values);
    return Status::Ok();
  }

  // The reference for a timeframe, reloaded at most once per check interval.
  CrossAssetReference RefFor(const std::string& timeframe, market::Timeframe tf) {
    std::lock_guard lock(ref_mu);
    Reference& ref = references[timeframe];
    if (!ref.loaded || clock.MonotonicNanos() - ref.checked_mono >= options.bar_check_interval_nanos) {
      (void)LoadReference(tf, ref);
    }
    return ref.ref;
  }

  // ---- signals ----
  // The signal at kept bar `idx`, computed and logged once. REQUIRES: e.mu held.
  Result<std::pair<std::shared_ptr<const Signal>, bool>> SignalAt(Entry& e, size_t idx) {
    const UnixNanos t = e.window->bar(idx).time();
    if (auto it = e.signals.find(t); it != e.signals.end()) return std::make_pair(it->second, false);
    SignalRequest req;
    req.confidence_threshold = 0.5;
    req.max_uncertainty = options.max_uncertainty;
    req.top_drivers = options.top_drivers;
    const CrossAssetReference ref = RefFor(e.timeframe, e.tf);
    auto sig = signals::SignalAt(*e.window, idx, e.model, generator, req, &ref);
    if (!sig.ok()) return sig.error();
    auto ptr = std::make_shared<const Signal>(std::move(sig).value());
    counters.signals_computed++;
    Status st = log.Append(e.model_owner, *ptr);
    if (!st.ok() && st.code() != StatusCode::kAlreadyExists) {
      return st.WithContext("storing the signal");
    }
    e.signals[t] = ptr;
    while (e.signals.size() > options.signals_per_series) e.signals.erase(e.signals.begin());
    return std::make_pair(ptr, true);
  }

  void Notify(TenantId owner, const std::shared_ptr<const Signal>& s) {
    std::vector<Listener> ls;
    {
      std::lock_guard lock(sub_mu);
      for (const auto& [id, l] : listeners) ls.push_back(l);
    }
    for (const auto& l : ls) {
      counters.listener_calls++;
      l(owner, s);
    }
  }

  Result<size_t> Resolve(TenantId owner, const std::string& symbol, const std::string& timeframe,
                         market::Timeframe tf) {
    SINYAL_ASSIGN_OR_RETURN(std::vector<Signal> pending, log.Unresolved(owner, symbol, timeframe));
    if (pending.empty()) return size_t{0};
    SINYAL_ASSIGN_OR_RETURN(std::vector<market::Bar> later,
                            bars.ReadBars(Viewer(owner), {symbol, tf},
                                          {.after = pending.front().bar_time(),
                                           .oldest = 4 * store::kMaxBarPage}));
    SINYAL_ASSIGN_OR_RETURN(size_t n, ResolvePending(log, owner, symbol, timeframe, later));
    counters.resolved += static_cast<int64_t>(n);
    return n;
  }

  // ---- calibration (table signal_calibrations) ----
  Status CalTx(TenantId owner, bool read, const std::function<Status(soci::session&)>& fn) {
    if (IsPlatform(owner)) return read ? db.WithReadTx(fn) : db.WithTx(fn);
    return read ? db.WithTenantReadTx(owner, fn) : db.WithTenantTx(owner, fn);
  }

  Result<std::optional<IntervalCalibration>> ReadCalibration(TenantId owner, const std::string& symbol,
                                                             const std::string& timeframe, int64_t version) {
    std::string text;
    bool found = false;
    SINYAL_RETURN_IF_ERROR(CalTx(owner, true, [&](soci::session& sql) -> Status {
      long long t = owner.value(), v = version;
      soci::indicator ind = soci::i_null;
      sql << "SELECT c.calibration FROM signal_calibrations c JOIN model_versions m ON m.id = c.model_id "
             "WHERE COALESCE(m.tenant_id, 0) = :t AND m.symbol = :s AND m.timeframe = :tf AND m.version = :v",
          soci::use(t, "t"), soci::use(symbol, "s"), soci::use(timeframe, "tf"), soci::use(v, "v"),
          soci::into(text, ind);
      found = sql.got_data() && ind == soci::i_ok;
      return Status::Ok();
    }));
    if (!found) return std::optional<IntervalCalibration>();
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded()) return Status::DataLoss("stored interval calibration is not JSON");
    SINYAL_ASSIGN_OR_RETURN(IntervalCalibration c, IntervalCalibration::FromJson(j));
    return std::optional<IntervalCalibration>(std::move(c));
  }

  // Fits the interval calibration from the model's held-out rows (FitIntervalCalibration) over
  // the model's rows computed through the seam from its anchor, as the live window computes
  // them: the stored bars from schema.inputs_from to the end of the training range + horizon.
  Result<IntervalCalibration> FitCalibration(TenantId owner, const std::string& symbol,
                                             const std::string& timeframe, const models::ModelRecord& rec,
                                             const models::Ensemble& ens) {
    SINYAL_ASSIGN_OR_RETURN(market::Timeframe tf, market::ParseTimeframe(timeframe));
    const int h = std::max(1, rec.schema.horizon);
    double frac = 0.2;
    if (rec.params.is_object() && rec.params.contains("calibration_fraction") &&
        rec.params["calibration_fraction"].is_number()) {
      frac = rec.params["calibration_fraction"].get<double>();
    }
    const UnixNanos to = rec.data_to + static_cast<int64_t>(h + 1) * market::TimeframeNanos(tf) * 8;
    SINYAL_ASSIGN_OR_RETURN(std::vector<market::Bar> all,
                            models::ReadInputBars(bars, owner, {symbol, tf}, rec.schema, to,
                                                  options.max_input_bars));
    SINYAL_ASSIGN_OR_RETURN(models::FeatureFrame frame, inputs.Rows(owner, rec.schema, all));
    SINYAL_ASSIGN_OR_RETURN(std::vector<RegimeState> states, ClassifyRegimes(all, options.regime));
    return FitIntervalCalibration(ens, {.data_from = rec.data_from, .data_to = rec.data_to,
                                        .horizon = h, .held_out_fraction = frac},
                                  all, frame, states, options.conformal);
  }

  Status StoreCalibration(TenantId owner, const std::string& symbol, const std::string& timeframe,
                          int64_t version, const IntervalCalibration& c) {
    const std::string text = c.ToJson().dump();
    return CalTx(owner, false, [&](soci::session& sql) -> Status {
      long long t = owner.value(), v = version, id = 0, now = clock.Now();
      soci::indicator ind = soci::i_null;
      sql << "SELECT id FROM model_versions WHERE COALESCE(tenant_id, 0) = :t AND symbol = :s AND "
             "timeframe = :tf AND version = :v",
          soci::use(t, "t"), soci::use(symbol, "s"), soci::use(timeframe, "tf"), soci::use(v, "v"),
          soci::into(id, ind);
      if (!sql.got_data() || ind != soci::i_ok) return Status::NotFound("no model version", "model");
      soci::indicator ti = IsPlatform(owner) ? soci::i_null : soci::i_ok;
      sql << "INSERT INTO signal_calibrations (model_id, tenant_id, calibration, created_at) "
             "VALUES (:m, :t, :c, :at)",
          soci::use(id, "m"), soci::use(t, ti, "t"), soci::use(text, "c"), soci::use(now, "at");
      return Status::Ok();
    });
  }

  Result<IntervalCalibration> GetCalibration(TenantId owner, const std::string& symbol,
                                           const std::string& timeframe, int64_t version,
                                           const models::ModelRecord& rec, const models::Ensemble& ens) {
    SINYAL_ASSIGN_OR_RETURN(auto stored, ReadCalibration(owner, symbol, timeframe, version));
    if (stored) {
      counters.calibrations_loaded++;
      return std::move(*stored);
    }
    SINYAL_ASSIGN_OR_RETURN(IntervalCalibration c, FitCalibration(owner, symbol, timeframe, rec, ens));
    counters.calibrations_fitted++;
    Status st = StoreCalibration(owner, symbol, timeframe, version, c);
    if (st.code() == StatusCode::kAlreadyExists) {
      // Another process stored it first: use the stored one (same inputs, same result).
      SINYAL_ASSIGN_OR_RETURN(auto again, ReadCalibration(owner, symbol, timeframe, version));
      if (again) return std::move(*again);
    }
    SINYAL_RETURN_IF_ERROR(st);
    return c;
  }

  // ---- bar closes (background thread) ----
  void ProcessBar(const market::SeriesKey& key) {
    std::vector<std::shared_ptr<Entry>> targets;
    const std::string tfname(market::TimeframeName(key.timeframe));
    {
      std::shared_lock lock(mu);
      for (const auto& [k, e] : entries) {
        if (k.symbol == key.symbol && k.timeframe == tfname) targets.push_back(e);
      }
    }
    for (const auto& e : targets) {
      std::shared_ptr<const Signal> fresh;
      {
        std::lock_guard lock(e->mu);
        auto n = CatchUp(*e);
        if (!n.ok()) {
          LogWarn("signal_bar_catch_up_failed", {{"symbol", e->symbol}, {"error", n.error().ToString()}});
          continue;
        }
        if (*n == 0 || e->window->empty()) continue;
        auto s = SignalAt(*e, e->window->size() - 1);
        if (!s.ok()) {
          LogWarn("signal_compute_failed", {{"symbol", e->symbol}, {"error", s.error().ToString()}});
        } else if (s->second) {
          fresh = s->first;
        }
      }
      auto r = Resolve(e->model_owner, e->symbol, e->timeframe, e->tf);
      if (!r.ok()) LogWarn("signal_resolve_failed", {{"symbol", e->symbol}, {"error", r.error().ToString()}});
      if (fresh) Notify(e->model_owner, fresh);
    }
  }

  void Run() {
    for (;;) {
      market::SeriesKey key;
      {
        std::unique_lock lock(q_mu);
        q_cv.wait(lock, [&] { return stopping || !queue.empty(); });
        if (queue.empty()) return;
        key = queue.front();
        queue.pop_front();
      }
      ProcessBar(key);
      {
        std::lock_guard lock(q_mu);
        ++processed;
      }
      q_done_cv.notify_all();
    }
  }

  static void LogWarn(const char* event, json fields) {
    LogEvent(spdlog::level::warn, event, std::move(fields));
  }
};

// ---------------------------------------------------------------------------------------------

SignalService::Subscription::Subscription(Subscription&& o) noexcept
    : service_(o.service_), id_(o.id_) {
  o.service_ = nullptr;
}
SignalService::Subscription& SignalService::Subscription::operator=(Subscription&& o) noexcept {
  if (this != &o) {
    Reset();
    service_ = o.service_;
    id_ = o.id_;
    o.service_ = nullptr;
  }
  return *this;
}
SignalService::Subscription::~Subscription() { Reset(); }
void SignalService::Subscription::Reset() {
  if (service_ != nullptr) service_->Unsubscribe(id_);
  service_ = nullptr;
}

SignalService::SignalService(store::Database& db, store::BarStore& bars,
                             models::DbModelRegistry& registry, store::FeatureSetStore* feature_sets,
                             SignalLog& log, const Clock& clock, SignalServiceOptions options)
    : impl_(std::make_unique<Impl>(db, bars, registry, feature_sets, log, clock, std::move(options))) {
  if (impl_->options.background_thread) {
    impl_->worker = std::thread([this] { impl_->Run(); });
  }
}

SignalService::~SignalService() {
  {
    std::lock_guard lock(impl_->q_mu);
    impl_->stopping = true;
    impl_->queue.clear();
  }
  impl_->q_cv.notify_all();
  if (impl_->worker.joinable()) impl_->worker.join();
}

Result<std::shared_ptr<const Signal>> SignalService::Latest(TenantId owner, const std::string& symbol_in,
                                                            const std::string& timeframe_in,
                                                            UnixNanos not_after) {
  Impl& m = *impl_;
  m.counters.latest_calls++;
  SINYAL_ASSIGN_OR_RETURN(std::string symbol, models::ModelService::NormalizeSymbol(symbol_in));
  SINYAL_ASSIGN_OR_RETURN(std::string timeframe, models::ModelService::NormalizeTimeframe(timeframe_in));
  SINYAL_ASSIGN_OR_RETURN(market::Timeframe tf, market::ParseTimeframe(timeframe));
  SINYAL_ASSIGN_OR_RETURN(Route route, m.GetRoute(owner, symbol, timeframe, tf));
  SINYAL_ASSIGN_OR_RETURN(std::shared_ptr<Entry> e, m.GetEntry(route, symbol, timeframe, tf));
  const int64_t now = m.clock.MonotonicNanos();
  e->last_used = now;
  std::shared_ptr<const Signal> result;
  bool fresh_newest = false;
  {
    std::lock_guard lock(e->mu);
    if (now - e->checked_mono >= m.options.bar_check_interval_nanos) {
      SINYAL_RETURN_IF_ERROR(m.CatchUp(*e).status());
    }
    const SeriesWindow& w = *e->window;
    if (w.empty()) return Status::NotFound("no bars for " + symbol + " " + timeframe, "symbol");
    // The newest kept bar whose close (open + one period) is at or before not_after.
    const std::optional<size_t> found = w.NewestClosedBy(not_after);
    if (!found) {
      return Status::NotFound("no bar of " + symbol + " " + timeframe + " closed by " +
                                  FormatIso8601(not_after) + " is cached (oldest kept: " +
                                  FormatIso8601(w.bar(w.first_signal_index()).time()) + ")",
                              "symbol");
    }
    const size_t i = *found;
    if (auto it = e->signals.find(w.bar(i).time()); it != e->signals.end()) {
      m.counters.cache_hits++;
      return it->second;
    }
    SINYAL_ASSIGN_OR_RETURN(auto computed, m.SignalAt(*e, i));
    result = computed.first;
    fresh_newest = computed.second && i + 1 == w.size();
  }
  if (fresh_newest) m.Notify(e->model_owner, result);
  return result;
}

Signal SignalService::WithThreshold(const Signal& s, double threshold, double max_uncertainty) {
  SignalFields f = s.fields();
  double th = std::isnan(threshold) ? 0.5 : std::clamp(threshold, 0.5, 1.0);
  f.confidence_threshold = th;
  f.abstain_reason.clear();
  char b[96];
  if (f.uncertainty > max_uncertainty) {
    f.direction = Direction::kNeutral;
    std::snprintf(b, sizeof b, "uncertainty %.3f > maximum %.3f", f.uncertainty, max_uncertainty);
    f.abstain_reason = b;
  } else if (f.p_up >= th && f.p_up > 0.5) {
    f.direction = Direction::kBullish;
  } else if (1 - f.p_up >= th && f.p_up < 0.5) {
    f.direction = Direction::kBearish;
  } else {
    f.direction = Direction::kNeutral;
    std::snprintf(b, sizeof b, "confidence %.3f < threshold %.3f", f.confidence, th);
    f.abstain_reason = b;
  }
  f.abstained = f.direction == Direction::kNeutral;
  return Signal::FromFields(std::move(f));
}

Result<TenantId> SignalService::ModelOwner(TenantId viewer, const std::string& symbol_in,
                                           const std::string& timeframe_in) {
  SINYAL_ASSIGN_OR_RETURN(std::string symbol, models::ModelService::NormalizeSymbol(symbol_in));
  SINYAL_ASSIGN_OR_RETURN(std::string timeframe, models::ModelService::NormalizeTimeframe(timeframe_in));
  SINYAL_ASSIGN_OR_RETURN(market::Timeframe tf, market::ParseTimeframe(timeframe));
  SINYAL_ASSIGN_OR_RETURN(Route r, impl_->GetRoute(viewer, symbol, timeframe, tf));
  return r.model_owner;
}

SignalService::Subscription SignalService::Subscribe(Listener listener) {
  std::lock_guard lock(impl_->sub_mu);
  const uint64_t id = impl_->next_sub++;
  impl_->listeners[id] = std::move(listener);
  return Subscription(this, id);
}

void SignalService::Unsubscribe(uint64_t id) {
  std::lock_guard lock(impl_->sub_mu);
  impl_->listeners.erase(id);
}

Status SignalService::Track(TenantId owner, const std::string& symbol_in, const std::string& timeframe_in) {
  SINYAL_ASSIGN_OR_RETURN(std::string symbol, models::ModelService::NormalizeSymbol(symbol_in));
  SINYAL_ASSIGN_OR_RETURN(std::string timeframe, models::ModelService::NormalizeTimeframe(timeframe_in));
  SINYAL_ASSIGN_OR_RETURN(market::Timeframe tf, market::ParseTimeframe(timeframe));
  SINYAL_ASSIGN_OR_RETURN(Route route, impl_->GetRoute(owner, symbol, timeframe, tf));
  return impl_->GetEntry(route, symbol, timeframe, tf).status();
}

void SignalService::OnBarClosed(const market::SeriesKey& key, const market::Bar& bar) {
  (void)bar;  // the entry reads what is stored (the listener runs after the bar is persisted)
  {
    std::shared_lock lock(impl_->mu);
    const std::string tfname(market::TimeframeName(key.timeframe));
    bool tracked = false;
    for (const auto& [k, e] : impl_->entries) {
      if (k.symbol == key.symbol && k.timeframe == tfname) {
        tracked = true;
        break;
      }
    }
    if (!tracked) return;
  }
  if (!impl_->options.background_thread) {
    impl_->ProcessBar(key);
    return;
  }
  {
    std::lock_guard lock(impl_->q_mu);
    if (impl_->stopping) return;
    impl_->queue.push_back(key);
    ++impl_->enqueued;
  }
  impl_->q_cv.notify_one();
}

void SignalService::Drain() {
  std::unique_lock lock(impl_->q_mu);
  const int64_t target = impl_->enqueued;
  impl_->q_done_cv.wait(lock, [&] { return impl_->processed >= target || impl_->stopping; });
}

Result<size_t> SignalService::ResolveSeries(TenantId viewer, const std::string& symbol_in,
                                            const std::string& timeframe_in) {
  SINYAL_ASSIGN_OR_RETURN(std::string symbol, models::ModelService::NormalizeSymbol(symbol_in));
  SINYAL_ASSIGN_OR_RETURN(std::string timeframe, models::ModelService::NormalizeTimeframe(timeframe_in));
  SINYAL_ASSIGN_OR_RETURN(market::Timeframe tf, market::ParseTimeframe(timeframe));
  SINYAL_ASSIGN_OR_RETURN(Route route, impl_->GetRoute(viewer, symbol, timeframe, tf));
  return impl_->Resolve(route.model_owner, symbol, timeframe, tf);
}

Result<SignalPerformance> SignalService::Performance(TenantId viewer, const std::string& symbol_in,
                                                     const std::string& timeframe_in, size_t limit) {
  Impl& m = *impl_;
  SINYAL_ASSIGN_OR_RETURN(std::string symbol, models::ModelService::NormalizeSymbol(symbol_in));
  SINYAL_ASSIGN_OR_RETURN(std::string timeframe, models::ModelService::NormalizeTimeframe(timeframe_in));
  SINYAL_ASSIGN_OR_RETURN(market::Timeframe tf, market::ParseTimeframe(timeframe));
  SINYAL_ASSIGN_OR_RETURN(Route route, m.GetRoute(viewer, symbol, timeframe, tf));
  SINYAL_RETURN_IF_ERROR(m.Resolve(route.model_owner, symbol, timeframe, tf).status());
  SINYAL_ASSIGN_OR_RETURN(models::ModelRecord rec,
                          m.registry.GetRecord(route.model_owner, symbol, timeframe, route.version));
  SignalPerformance p;
  p.model_owner = route.model_owner;
  p.model_version = OwnerLabel(route.model_owner) + "/" + symbol + "/" + timeframe + "/v" +
                    std::to_string(route.version);
  SINYAL_ASSIGN_OR_RETURN(auto resolved, m.log.RecentResolved(route.model_owner, symbol, timeframe,
                                                              p.model_version, std::max<size_t>(limit, 1)));
  p.live = ComputeLivePerformance(resolved);
  p.validation = rec.metrics;
  return p;
}

Result<IntervalCalibration> SignalService::Calibration(TenantId model_owner, const std::string& symbol_in,
                                                     const std::string& timeframe_in, int64_t version) {
  SINYAL_ASSIGN_OR_RETURN(std::string symbol, models::ModelService::NormalizeSymbol(symbol_in));
  SINYAL_ASSIGN_OR_RETURN(std::string timeframe, models::ModelService::NormalizeTimeframe(timeframe_in));
  SINYAL_ASSIGN_OR_RETURN(models::ModelRecord rec,
                          impl_->registry.GetRecord(model_owner, symbol, timeframe, version));
  SINYAL_ASSIGN_OR_RETURN(models::Ensemble ens, impl_->registry.Load(model_owner, symbol, timeframe, version));
  return impl_->GetCalibration(model_owner, symbol, timeframe, version, rec, ens);
}

std::string SignalService::ReferenceName(const std::string& timeframe_in) {
  auto timeframe = models::ModelService::NormalizeTimeframe(timeframe_in);
  if (!timeframe.ok()) return "";
  auto tf = market::ParseTimeframe(*timeframe);
  if (!tf.ok()) return "";
  return impl_->RefFor(*timeframe, *tf).name;
}

std::optional<std::vector<float>> SignalService::TEST_InputsAt(TenantId model_owner,
                                                               const std::string& symbol,
                                                               const std::string& timeframe,
                                                               UnixNanos bar_time) {
  std::shared_ptr<Entry> e;
  {
    std::shared_lock lock(impl_->mu);
    auto it = impl_->entries.find(EntryKey{model_owner.value(), symbol, timeframe});
    if (it == impl_->entries.end()) return std::nullopt;
    e = it->second;
  }
  std::lock_guard lock(e->mu);
  for (size_t i = 0; i < e->window->size(); ++i) {
    if (e->window->bar(i).time() == bar_time) {
      return std::vector<float>(e->window->row(i).begin(), e->window->row(i).end());
    }
  }
  return std::nullopt;
}

SignalService::Stats SignalService::stats() const {
  const auto& c = impl_->counters;
  return {c.latest_calls.load(),      c.cache_hits.load(),          c.signals_computed.load(),
          c.bar_checks.load(),        c.entry_loads.load(),         c.calibrations_fitted.load(),
          c.calibrations_loaded.load(), c.bars_processed.load(),    c.resolved.load(),
          c.listener_calls.load()};
}

}  // namespace sinyal::signals
