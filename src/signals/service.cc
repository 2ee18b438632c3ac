#include "signals/service.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>
#include <unordered_map>

#include "core/log.h"
#include "core/time.h"
#include "market/timeframe.h"
#include "models/db_registry.h"
#include "models/registry.h"
#include "models/service.h"
#include "signals/live_series.h"
#include "signals/series_window.h"
#include "store/bar_store.h"

namespace sinyal::signals {

using nlohmann::json;

namespace {

bool IsPlatform(TenantId t) { return t == models::kPlatformTenant; }
// (viewer or model owner, series, horizon): the key of a route and of an entry.
struct OwnerSeries {
  int64_t owner;
  market::SeriesKey key;
  int horizon = models::kDefaultHorizon;
  bool operator==(const OwnerSeries&) const = default;
};
struct OwnerSeriesHash {
  size_t operator()(const OwnerSeries& k) const {
    return (market::SeriesKeyHash()(k.key) * 31 + std::hash<int64_t>()(k.owner)) * 31 +
           std::hash<int>()(k.horizon);
  }
};

std::string JoinHorizons(const std::vector<int>& hs) {
  std::string out;
  for (int h : hs) out += (out.empty() ? "" : ", ") + std::to_string(h);
  return out;
}

void LogWarn(const char* event, json fields) {
  LogEvent(spdlog::level::warn, event, std::move(fields));
}

}  // namespace

nlohmann::json SignalPerformance::ToJson() const {
  json cov = json::array();
  for (const auto& [nominal, emp] : live.coverage)
    cov.push_back({{"nominal", nominal}, {"empirical", emp}});
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
            {"hit_rate_ci", live.directional
                                ? json({num(live.hit_rate_ci.lo), num(live.hit_rate_ci.hi)})
                                : json(nullptr)},
            {"interval_coverage", cov}}},
          {"validation", validation}};
}

// ---------------------------------------------------------------------------------------------
// The signal computation's state.

namespace {

// What a cache hit reads: the signal-eligible kept bars of an entry, oldest first, with their
// signal when computed. Immutable; replaced as a whole (Entry::published).
struct Published {
  struct Slot {
    UnixNanos close_time = 0;              // open + one period
    std::shared_ptr<const Signal> signal;  // null: not computed yet
  };
  std::vector<Slot> slots;
};

// One model version over one series.
struct Entry {
  // Set when built, immutable after.
  TenantId model_owner;
  market::SeriesKey key;
  std::string timeframe;  // key.timeframe's name
  int64_t version = 0;
  models::ModelRecord record;
  std::unique_ptr<models::Ensemble> ensemble;
  SignalModel model;

  std::mutex mu;                       // writers: the window and the signals
  std::optional<SeriesWindow> window;  // GUARDED_BY(mu)
  std::map<UnixNanos, std::shared_ptr<const Signal>> signals;  // by bar time. GUARDED_BY(mu)
  std::atomic<int64_t> checked_mono{0};                        // last latest-bar check
  std::atomic<int64_t> last_used{0};
  std::atomic<std::shared_ptr<const Published>> published;
};

// Which model serves a viewer for a series, as of checked_mono. Immutable.
struct RouteState {
  TenantId model_owner;
  int64_t version = 0;
  std::shared_ptr<Entry> entry;
  int64_t checked_mono = 0;
};
struct RouteSlot {
  std::atomic<std::shared_ptr<const RouteState>> state;
};
using RouteMap = std::unordered_map<OwnerSeries, std::shared_ptr<RouteSlot>, OwnerSeriesHash>;

// The newest published slot closed by not_after, if its signal is computed.
std::shared_ptr<const Signal> FindPublished(const Published& p, UnixNanos not_after) {
  auto it =
      std::upper_bound(p.slots.begin(), p.slots.end(), not_after,
                       [](UnixNanos t, const Published::Slot& s) { return t < s.close_time; });
  if (it == p.slots.begin()) return nullptr;
  return std::prev(it)->signal;
}

}  // namespace

struct SignalService::Impl {
  Impl(store::BarStore& b, models::DbModelRegistry& r, store::FeatureSetStore* fs, SignalLog& l,
       IntervalCalibrationStore& cal, const Clock& c, SignalServiceOptions o)
      : bars(b),
        registry(r),
        log(l),
        calibrations(cal),
        clock(c),
        options(Sanitize(std::move(o))),
        series(b, fs, c,
               {.max_input_bars = options.max_input_bars,
                .reference_interval_nanos = options.bar_check_interval_nanos,
                .regime = options.regime}),
        generator(c) {
    routes.store(std::make_shared<const RouteMap>());
  }

  static SignalServiceOptions Sanitize(SignalServiceOptions o) {
    o.top_drivers = std::clamp(o.top_drivers, 0, 50);
    o.max_input_bars = std::max<size_t>(o.max_input_bars, 600);
    o.signals_per_series = std::max<size_t>(o.signals_per_series, 1);
    o.max_series = std::max<size_t>(o.max_series, 1);
    o.bar_check_interval_nanos = std::max<int64_t>(o.bar_check_interval_nanos, 0);
    return o;
  }

  store::BarStore& bars;
  models::DbModelRegistry& registry;
  SignalLog& log;
  IntervalCalibrationStore& calibrations;
  const Clock& clock;
  const SignalServiceOptions options;
  LiveSeries series;
  SignalGenerator generator;

  // Routes: read without a lock (copy-on-write map of slots; each slot's state is replaced).
  std::atomic<std::shared_ptr<const RouteMap>> routes;
  std::mutex routes_write_mu;  // serialises route-map copies

  // Entries: touched only on misses.
  std::mutex entries_mu;
  std::unordered_map<OwnerSeries, std::shared_ptr<Entry>, OwnerSeriesHash>
      entries;          // GUARDED_BY(entries_mu)
  std::mutex build_mu;  // serialises entry builds (each reads the database)

  std::mutex sub_mu;
  std::map<uint64_t, Listener> listeners;  // GUARDED_BY(sub_mu)
  uint64_t next_sub = 1;

  // The background thread's work: bar closes and calibration fits.
  std::mutex q_mu;
  std::condition_variable q_cv, q_done_cv;
  std::deque<std::function<void()>> queue;                                 // GUARDED_BY(q_mu)
  std::map<std::tuple<int64_t, std::string, int, int64_t>, bool> fitting;  // GUARDED_BY(q_mu)
  int64_t enqueued = 0, processed = 0;                                     // GUARDED_BY(q_mu)
  bool stopping = false;                                                   // GUARDED_BY(q_mu)
  std::thread worker;

  struct Counters {
    std::atomic<int64_t> latest_calls{0}, cache_hits{0}, signals_computed{0}, bar_checks{0},
        entry_loads{0}, bars_processed{0}, resolved{0}, listener_calls{0};
  } counters;

  // ---- the hit path: no mutex ----
  std::shared_ptr<const Signal> TryHit(TenantId viewer, const market::SeriesKey& key, int horizon,
                                       UnixNanos not_after, int64_t now) {
    const std::shared_ptr<const RouteMap> map = routes.load(std::memory_order_acquire);
    auto it = map->find(OwnerSeries{viewer.value(), key, horizon});
    if (it == map->end()) return nullptr;
    const std::shared_ptr<const RouteState> route =
        it->second->state.load(std::memory_order_acquire);
    if (!route || now - route->checked_mono >= options.bar_check_interval_nanos) return nullptr;
    Entry& e = *route->entry;
    if (now - e.checked_mono.load(std::memory_order_relaxed) >= options.bar_check_interval_nanos) {
      return nullptr;
    }
    const std::shared_ptr<const Published> pub = e.published.load(std::memory_order_acquire);
    if (!pub) return nullptr;
    e.last_used.store(now, std::memory_order_relaxed);
    return FindPublished(*pub, not_after);
  }

  // ---- routes: which model serves a viewer ----
  std::shared_ptr<RouteSlot> SlotFor(TenantId viewer, const market::SeriesKey& key, int horizon) {
    const OwnerSeries k{viewer.value(), key, horizon};
    {
      const auto map = routes.load(std::memory_order_acquire);
      if (auto it = map->find(k); it != map->end()) return it->second;
    }
    std::lock_guard lock(routes_write_mu);
    auto map = routes.load(std::memory_order_acquire);
    if (auto it = map->find(k); it != map->end()) return it->second;
    auto copy = std::make_shared<RouteMap>(*map);
    auto slot = std::make_shared<RouteSlot>();
    copy->emplace(k, slot);
    routes.store(std::move(copy), std::memory_order_release);
    return slot;
  }

  // The route, refreshed from the database when older than the check interval.
  Result<std::shared_ptr<const RouteState>> GetRoute(TenantId viewer, const market::SeriesKey& key,
                                                     int horizon, int64_t now) {
    // Keys are parsed at the callers' edges; a bad one never gets a route slot.
    SINYAL_RETURN_IF_ERROR(market::ValidateSymbol(key.symbol));
    if (horizon < 1) return Status::InvalidArgument("must be a positive number of bars", "horizon");
    std::shared_ptr<RouteSlot> slot = SlotFor(viewer, key, horizon);
    if (auto st = slot->state.load(std::memory_order_acquire);
        st && now - st->checked_mono < options.bar_check_interval_nanos) {
      return st;
    }
    const std::string timeframe(market::TimeframeName(key.timeframe));
    // The series must exist for the viewer, then the active model (the viewer's, else the platform's).
    SINYAL_RETURN_IF_ERROR(bars.Resolve(models::ViewerOf(viewer), key).status());
    auto st = std::make_shared<RouteState>();
    st->model_owner = viewer;
    auto active = registry.ActiveVersion(viewer, key, horizon);
    if (!active.ok() && active.error().code() == StatusCode::kNotFound && !IsPlatform(viewer)) {
      st->model_owner = models::kPlatformTenant;
      active = registry.ActiveVersion(models::kPlatformTenant, key, horizon);
    }
    if (!active.ok()) {
      if (active.error().code() != StatusCode::kNotFound) return active.error();
      SINYAL_ASSIGN_OR_RETURN(std::vector<int> served,
                              models::ServedHorizons(registry, viewer, key));
      if (!served.empty()) {
        return Status::InvalidArgument(
            "no model of " + key.symbol + " " + timeframe + " predicts " + std::to_string(horizon) +
                " bars ahead; available horizons: " + JoinHorizons(served),
            "horizon");
      }
      return Status::NotFound("no active model for " + key.symbol + " " + timeframe +
                                  " (train one with POST /api/v1/models/train, or ask an "
                                  "operator for a platform default)",
                              "model");
    }
    st->version = *active;
    SINYAL_ASSIGN_OR_RETURN(st->entry, GetEntry(st->model_owner, key, horizon, st->version));
    st->checked_mono = now;
    slot->state.store(st, std::memory_order_release);
    return std::shared_ptr<const RouteState>(std::move(st));
  }

  // ---- entries ----
  Result<std::shared_ptr<Entry>> GetEntry(TenantId owner, const market::SeriesKey& key, int horizon,
                                          int64_t version) {
    const OwnerSeries k{owner.value(), key, horizon};
    auto find = [&]() -> std::shared_ptr<Entry> {
      std::lock_guard lock(entries_mu);
      auto it = entries.find(k);
      return it != entries.end() && it->second->version == version ? it->second : nullptr;
    };
    if (auto e = find()) return e;
    std::lock_guard build(build_mu);
    if (auto e = find()) return e;
    SINYAL_ASSIGN_OR_RETURN(std::shared_ptr<Entry> e, Build(owner, key, version));
    std::lock_guard lock(entries_mu);
    entries[k] = e;
    if (entries.size() > options.max_series) {
      auto victim = entries.end();
      for (auto it = entries.begin(); it != entries.end(); ++it) {
        if (it->second == e) continue;
        if (victim == entries.end() || it->second->last_used < victim->second->last_used)
          victim = it;
      }
      if (victim != entries.end()) entries.erase(victim);
    }
    return e;
  }

  Result<std::shared_ptr<Entry>> Build(TenantId owner, const market::SeriesKey& key,
                                       int64_t version) {
    counters.entry_loads++;
    auto e = std::make_shared<Entry>();
    e->model_owner = owner;
    e->key = key;
    e->timeframe = std::string(market::TimeframeName(key.timeframe));
    e->version = version;
    // The interval calibration is read, never fitted here: a missing one is fitted on the
    // background thread while callers get Unavailable.
    auto cal = calibrations.Get(owner, key, version);
    if (!cal.ok()) {
      if (cal.error().code() != StatusCode::kNotFound) return cal.error();
      if (!options.background_thread) {
        SINYAL_ASSIGN_OR_RETURN(cal, calibrations.Fit(owner, key, version));  // tests: inline
      } else {
        ScheduleFit(owner, key, version);
        return Status::Unavailable("the interval calibration of model version " +
                                   std::to_string(version) + " of " + key.symbol + " " +
                                   e->timeframe + " is being fitted; retry in a few seconds")
            .WithField("model");
      }
    }
    SINYAL_ASSIGN_OR_RETURN(e->record, registry.GetRecord(owner, key, version));
    SINYAL_ASSIGN_OR_RETURN(models::Ensemble ens, registry.Load(owner, key, version));
    if (ens.num_classes() != 2) {
      return Status::FailedPrecondition("signals need a binary up/down model; version " +
                                            std::to_string(version) + " has 3 classes",
                                        "model");
    }
    e->ensemble = std::make_unique<models::Ensemble>(std::move(ens));
    e->model.ensemble = e->ensemble.get();
    e->model.conformal = std::move(cal->conformal);
    e->model.move_ratio = cal->move_ratio;
    e->model.skill_shown = SkillShown(e->record.metrics, &e->model.no_skill_reason);
    e->model.model_version = ModelVersionName(owner, key, version);
    e->model.symbol = key.symbol;
    e->model.timeframe = e->timeframe;
    SINYAL_ASSIGN_OR_RETURN(SeriesWindow w,
                            series.Open(owner, key, e->record.schema,
                                        kCrossAssetContextBars + options.signals_per_series));
    counters.bars_processed += static_cast<int64_t>(w.pushed());
    e->window.emplace(std::move(w));
    e->checked_mono = clock.MonotonicNanos();
    Publish(*e);
    return e;
  }

  // Replaces the entry's published snapshot. REQUIRES: e.mu held (or e not yet shared).
  void Publish(Entry& e) {
    auto p = std::make_shared<Published>();
    const SeriesWindow& w = *e.window;
    const int64_t period = market::TimeframeNanos(e.key.timeframe);
    for (size_t i = w.first_signal_index(); i < w.size(); ++i) {
      const UnixNanos t = w.bar(i).time();
      auto it = e.signals.find(t);
      p->slots.push_back({t + period, it == e.signals.end() ? nullptr : it->second});
    }
    e.published.store(std::move(p), std::memory_order_release);
  }

  // Pushes newly stored bars. REQUIRES: e.mu held.
  Result<size_t> CatchUp(Entry& e) {
    counters.bar_checks++;
    e.checked_mono = clock.MonotonicNanos();
    SINYAL_ASSIGN_OR_RETURN(size_t n, series.CatchUp(e.model_owner, e.record.schema, *e.window));
    counters.bars_processed += static_cast<int64_t>(n);
    return n;
  }

  // The signal at kept bar `idx`, computed and logged once; second = newly computed.
  // REQUIRES: e.mu held.
  Result<std::pair<std::shared_ptr<const Signal>, bool>> SignalAt(Entry& e, size_t idx) {
    const UnixNanos t = e.window->bar(idx).time();
    if (auto it = e.signals.find(t); it != e.signals.end())
      return std::make_pair(it->second, false);
    SignalRequest req;
    req.confidence_threshold = 0.5;
    req.max_uncertainty = options.max_uncertainty;
    req.top_drivers = options.top_drivers;
    const std::shared_ptr<const CrossAssetReference> ref = series.Reference(e.key.timeframe);
    SINYAL_ASSIGN_OR_RETURN(Signal sig,
                            signals::SignalAt(*e.window, idx, e.model, generator, req, ref.get()));
    auto ptr = std::make_shared<const Signal>(std::move(sig));
    counters.signals_computed++;
    Status st = log.Append(e.model_owner, *ptr);
    if (!st.ok() && st.code() != StatusCode::kAlreadyExists)
      return st.WithContext("storing the signal");
    e.signals[t] = ptr;
    while (e.signals.size() > options.signals_per_series) e.signals.erase(e.signals.begin());
    return std::make_pair(ptr, true);
  }

  // ---- the miss path ----
  Result<std::shared_ptr<const Signal>> Slow(TenantId viewer, const market::SeriesKey& key,
                                             int horizon, UnixNanos not_after, int64_t now) {
    SINYAL_ASSIGN_OR_RETURN(std::shared_ptr<const RouteState> route,
                            GetRoute(viewer, key, horizon, now));
    Entry& e = *route->entry;
    e.last_used = now;
    std::shared_ptr<const Signal> result;
    bool fresh_newest = false;
    {
      std::lock_guard lock(e.mu);
      bool changed = false;
      if (now - e.checked_mono >= options.bar_check_interval_nanos) {
        SINYAL_ASSIGN_OR_RETURN(size_t n, CatchUp(e));
        changed = n > 0;
      }
      const SeriesWindow& w = *e.window;
      if (w.empty()) {
        if (changed) Publish(e);
        return Status::NotFound("no bars for " + key.symbol + " " + e.timeframe, "symbol");
      }
      const std::optional<size_t> found = w.NewestClosedBy(not_after);
      if (!found) {
        if (changed) Publish(e);
        return Status::NotFound("no bar of " + key.symbol + " " + e.timeframe + " closed by " +
                                    FormatIso8601(not_after) + " is cached (oldest kept: " +
                                    FormatIso8601(w.bar(w.first_signal_index()).time()) + ")",
                                "symbol");
      }
      auto computed = SignalAt(e, *found);
      if (!computed.ok()) {
        if (changed) Publish(e);
        return computed.error();
      }
      result = computed->first;
      if (!computed->second) counters.cache_hits++;  // cached, reached through the miss path
      fresh_newest = computed->second && *found + 1 == w.size();
      if (changed || computed->second) Publish(e);
    }
    if (fresh_newest) Notify(e.model_owner, result);
    return result;
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

  Result<size_t> Resolve(TenantId owner, const market::SeriesKey& key) {
    SINYAL_ASSIGN_OR_RETURN(std::vector<Signal> pending, log.Unresolved(owner, key));
    if (pending.empty()) return size_t{0};
    SINYAL_ASSIGN_OR_RETURN(
        std::vector<market::Bar> later,
        series.BarsAfter(owner, key, pending.front().bar_time(), 4 * store::kMaxBarPage));
    SINYAL_ASSIGN_OR_RETURN(size_t n, ResolvePending(log, owner, key, later));
    counters.resolved += static_cast<int64_t>(n);
    return n;
  }

  // ---- the background thread ----
  void Enqueue(std::function<void()> task) {
    {
      std::lock_guard lock(q_mu);
      if (stopping) return;
      queue.push_back(std::move(task));
      ++enqueued;
    }
    q_cv.notify_one();
  }

  void ScheduleFit(TenantId owner, const market::SeriesKey& key, int64_t version) {
    const auto k =
        std::make_tuple(owner.value(), key.symbol, static_cast<int>(key.timeframe), version);
    {
      std::lock_guard lock(q_mu);
      if (fitting[k]) return;
      fitting[k] = true;
    }
    Enqueue([this, owner, key, version, k] {
      auto c = calibrations.Fit(owner, key, version);
      if (!c.ok()) {
        LogWarn("interval_calibration_fit_failed",
                {{"symbol", key.symbol}, {"version", version}, {"error", c.error().ToString()}});
      }
      std::lock_guard lock(q_mu);
      fitting.erase(k);
    });
  }

  void ProcessBar(const market::SeriesKey& key) {
    std::vector<std::shared_ptr<Entry>> targets;
    {
      std::lock_guard lock(entries_mu);
      for (const auto& [k, e] : entries) {
        if (k.key == key) targets.push_back(e);
      }
    }
    for (const auto& e : targets) {
      std::shared_ptr<const Signal> fresh;
      {
        std::lock_guard lock(e->mu);
        auto n = CatchUp(*e);
        if (!n.ok()) {
          LogWarn("signal_bar_catch_up_failed",
                  {{"symbol", key.symbol}, {"error", n.error().ToString()}});
          continue;
        }
        if (*n == 0 || e->window->empty()) continue;
        auto s = SignalAt(*e, e->window->size() - 1);
        if (!s.ok()) {
          LogWarn("signal_compute_failed",
                  {{"symbol", key.symbol}, {"error", s.error().ToString()}});
        } else if (s->second) {
          fresh = s->first;
        }
        Publish(*e);
      }
      auto r = Resolve(e->model_owner, key);
      if (!r.ok())
        LogWarn("signal_resolve_failed", {{"symbol", key.symbol}, {"error", r.error().ToString()}});
      if (fresh) Notify(e->model_owner, fresh);
    }
  }

  bool Tracked(const market::SeriesKey& key) {
    std::lock_guard lock(entries_mu);
    for (const auto& [k, e] : entries) {
      if (k.key == key) return true;
    }
    return false;
  }

  void Run() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lock(q_mu);
        q_cv.wait(lock, [&] { return stopping || !queue.empty(); });
        if (queue.empty()) return;
        task = std::move(queue.front());
        queue.pop_front();
      }
      task();
      {
        std::lock_guard lock(q_mu);
        ++processed;
      }
      q_done_cv.notify_all();
    }
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

SignalService::SignalService(store::BarStore& bars, models::DbModelRegistry& registry,
                             store::FeatureSetStore* feature_sets, SignalLog& log,
                             IntervalCalibrationStore& calibrations, const Clock& clock,
                             SignalServiceOptions options)
    : impl_(std::make_unique<Impl>(bars, registry, feature_sets, log, calibrations, clock,
                                   std::move(options))) {
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

Result<std::shared_ptr<const Signal>> SignalService::Latest(TenantId owner,
                                                            const market::SeriesKey& key,
                                                            int horizon, UnixNanos not_after) {
  Impl& m = *impl_;
  m.counters.latest_calls.fetch_add(1, std::memory_order_relaxed);
  const int64_t now = m.clock.MonotonicNanos();
  if (std::shared_ptr<const Signal> hit = m.TryHit(owner, key, horizon, not_after, now)) {
    m.counters.cache_hits.fetch_add(1, std::memory_order_relaxed);
    return hit;
  }
  return m.Slow(owner, key, horizon, not_after, now);
}

Signal SignalService::WithThreshold(const Signal& s, double threshold, double max_uncertainty) {
  SignalFields f = s.fields();
  DecideDirection(f, std::isnan(threshold) ? 0.5 : std::clamp(threshold, 0.5, 1.0),
                  max_uncertainty);
  return Signal::FromFields(std::move(f));
}

Result<TenantId> SignalService::ModelOwner(TenantId viewer, const market::SeriesKey& key,
                                           int horizon) {
  SINYAL_ASSIGN_OR_RETURN(auto route,
                          impl_->GetRoute(viewer, key, horizon, impl_->clock.MonotonicNanos()));
  return route->model_owner;
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

Status SignalService::Track(TenantId owner, const market::SeriesKey& key, int horizon) {
  return impl_->GetRoute(owner, key, horizon, impl_->clock.MonotonicNanos()).status();
}

void SignalService::OnBarClosed(const market::SeriesKey& key, const market::Bar& bar) {
  (void)bar;  // the entry reads what is stored (the listener runs after the bar is persisted)
  if (!impl_->Tracked(key)) return;
  if (!impl_->options.background_thread) {
    impl_->ProcessBar(key);
    return;
  }
  impl_->Enqueue([this, key] { impl_->ProcessBar(key); });
}

void SignalService::Drain() {
  std::unique_lock lock(impl_->q_mu);
  const int64_t target = impl_->enqueued;
  impl_->q_done_cv.wait(lock, [&] { return impl_->processed >= target || impl_->stopping; });
}

Result<size_t> SignalService::ResolveSeries(TenantId viewer, const market::SeriesKey& key,
                                            int horizon) {
  SINYAL_ASSIGN_OR_RETURN(auto route,
                          impl_->GetRoute(viewer, key, horizon, impl_->clock.MonotonicNanos()));
  return impl_->Resolve(route->model_owner, key);
}

Result<SignalPerformance> SignalService::Performance(TenantId viewer, const market::SeriesKey& key,
                                                     size_t limit, int horizon) {
  Impl& m = *impl_;
  SINYAL_ASSIGN_OR_RETURN(auto route, m.GetRoute(viewer, key, horizon, m.clock.MonotonicNanos()));
  SINYAL_RETURN_IF_ERROR(m.Resolve(route->model_owner, key).status());
  SignalPerformance p;
  p.model_owner = route->model_owner;
  p.model_version = route->entry->model.model_version;
  SINYAL_ASSIGN_OR_RETURN(
      auto resolved,
      m.log.RecentResolved(route->model_owner, key, p.model_version, std::max<size_t>(limit, 1)));
  p.live = ComputeLivePerformance(resolved);
  p.validation = route->entry->record.metrics;
  return p;
}

Result<IntervalCalibration> SignalService::Calibration(TenantId model_owner,
                                                       const market::SeriesKey& key,
                                                       int64_t version) {
  SINYAL_RETURN_IF_ERROR(market::ValidateSymbol(key.symbol));
  return impl_->calibrations.Fit(model_owner, key, version);
}

std::string SignalService::ReferenceName(market::Timeframe timeframe) {
  return impl_->series.Reference(timeframe)->name;
}

std::optional<std::vector<float>> SignalService::TEST_InputsAt(TenantId model_owner,
                                                               const market::SeriesKey& key,
                                                               UnixNanos bar_time) {
  std::shared_ptr<Entry> e;
  {
    std::lock_guard lock(impl_->entries_mu);
    auto it = impl_->entries.find(OwnerSeries{model_owner.value(), key, models::kDefaultHorizon});
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
  const IntervalCalibrationStore::Stats cal = impl_->calibrations.stats();
  return {c.latest_calls.load(),
          c.cache_hits.load(),
          c.signals_computed.load(),
          c.bar_checks.load(),
          c.entry_loads.load(),
          cal.fitted,
          cal.loaded,
          c.bars_processed.load(),
          c.resolved.load(),
          c.listener_calls.load()};
}

}  // namespace sinyal::signals
