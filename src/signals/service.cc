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
#include "models/basic_features.h"
#include "models/db_registry.h"
#include "models/features_adapter.h"
#include "models/market_adapter.h"
#include "models/registry.h"
#include "models/service.h"
#include "signals/cross_asset.h"
#include "store/bar_store.h"
#include "store/database.h"
#include "store/feature_set_store.h"
#include "store/soci.h"

namespace sinyal::signals {

using nlohmann::json;

namespace {

constexpr size_t kWindowBars = 1024;  // bars (with features and regime) kept per series entry
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

// Streaming features of one model's feature set over one series.
class FeatureStream {
 public:
  // "basic" has no streaming form: it is recomputed over the kept window on each bar.
  static Result<FeatureStream> Create(const models::ModelSchema& schema,
                                      std::optional<features::FeatureSetConfig> config) {
    FeatureStream s;
    s.names_ = schema.feature_names;
    if (!config) {
      s.basic_ = true;
      return s;
    }
    SINYAL_ASSIGN_OR_RETURN(features::FeatureComputer c, features::FeatureComputer::Create(*config));
    if (features::FeatureNames(*config) != schema.feature_names) {
      return Status::FailedPrecondition("the model's features differ from feature set " +
                                            schema.feature_set + " as computed now",
                                        "model");
    }
    s.computer_.emplace(std::move(c));
    return s;
  }
  bool basic() const { return basic_; }
  size_t cols() const { return names_.size(); }
  const std::vector<std::string>& names() const { return names_; }
  void Update(const market::Bar& bar, std::vector<float>* out) {
    computer_->Update(bar, &scratch_);
    out->assign(scratch_.begin(), scratch_.end());
  }

 private:
  bool basic_ = false;
  std::vector<std::string> names_;
  std::optional<features::FeatureComputer> computer_;
  std::vector<double> scratch_;
};

}  // namespace

nlohmann::json SignalCalibration::ToJson() const {
  json cov = json::array();
  for (const auto& c : coverage) {
    cov.push_back({{"nominal", c.nominal},
                   {"group", c.group},
                   {"n", c.n},
                   {"covered", c.covered},
                   {"empirical", c.empirical},
                   {"mean_width", c.mean_width}});
  }
  return {{"conformal", conformal.ToJson()},
          {"move_ratio", move_ratio},
          {"rows", rows},
          {"from", FormatIso8601(from)},
          {"to", FormatIso8601(to)},
          {"coverage_on_calibration_rows", cov}};
}

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
  std::optional<FeatureStream> features;   // GUARDED_BY(mu)
  std::optional<RegimeClassifier> regime;  // GUARDED_BY(mu)
  std::deque<market::Bar> bars;            // newest kWindowBars, ascending. GUARDED_BY(mu)
  std::deque<std::vector<float>> rows;     // features per kept bar. GUARDED_BY(mu)
  std::deque<RegimeState> states;          // regime per kept bar. GUARDED_BY(mu)
  std::map<UnixNanos, std::shared_ptr<const Signal>> signals;  // by bar time. GUARDED_BY(mu)
  int64_t checked_mono = 0;                // last latest-bar check. GUARDED_BY(mu)
  std::atomic<int64_t> last_used{0};
};

struct Reference {
  std::string name;  // "DXY", "synthetic_dxy_5" or ""
  std::vector<UnixNanos> times;
  std::vector<double> values;
  int64_t checked_mono = 0;
  bool loaded = false;
};

struct SignalService::Impl {
  Impl(store::Database& d, store::BarStore& b, models::DbModelRegistry& r,
       store::FeatureSetStore* fs, SignalLog& l, const Clock& c, SignalServiceOptions o)
      : db(d), bars(b), registry(r), feature_sets(fs), log(l), clock(c), options(std::move(o)),
        generator(c) {
    options.top_drivers = std::clamp(options.top_drivers, 0, 50);
    options.history_bars = std::clamp<size_t>(options.history_bars, 600, store::kMaxBarPage);
    options.signals_per_series = std::max<size_t>(options.signals_per_series, 1);
    options.max_series = std::max<size_t>(options.max_series, 1);
  }

  store::Database& db;
  store::BarStore& bars;
  models::DbModelRegistry& registry;
  store::FeatureSetStore* feature_sets;
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

  Result<std::optional<features::FeatureSetConfig>> FeatureConfigOf(TenantId owner,
                                                                    const models::ModelSchema& schema) {
    if (schema.feature_set == models::kBasicFeatureSetName) return std::optional<features::FeatureSetConfig>();
    const auto& def = features::DefaultFeatureSet();
    if (schema.feature_set == def.name) return std::optional<features::FeatureSetConfig>(def);
    if (feature_sets == nullptr || IsPlatform(owner)) {
      return Status::FailedPrecondition("feature set " + schema.feature_set + " is unavailable", "model");
    }
    SINYAL_ASSIGN_OR_RETURN(store::StoredFeatureSet st,
                            feature_sets->Get(owner, schema.feature_set, schema.feature_set_version));
    SINYAL_ASSIGN_OR_RETURN(features::FeatureSetConfig fs,
                            features::FeatureSetConfig::FromJson(st.config_json));
    return std::optional<features::FeatureSetConfig>(std::move(fs));
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
    SINYAL_ASSIGN_OR_RETURN(SignalCalibration cal, GetCalibration(route.model_owner, symbol, timeframe,
                                                                  route.version, e->record, *e->ensemble));
    e->model.ensemble = e->ensemble.get();
    e->model.conformal = std::move(cal.conformal);
    e->model.move_ratio = cal.move_ratio;
    e->model.skill_shown = SkillShown(e->record.metrics, &e->model.no_skill_reason);
    e->model.model_version = OwnerLabel(route.model_owner) + "/" + symbol + "/" + timeframe + "/v" +
                             std::to_string(route.version);
    e->model.symbol = symbol;
    e->model.timeframe = timeframe;
    SINYAL_ASSIGN_OR_RETURN(auto fs, FeatureConfigOf(route.model_owner, e->record.schema));
    SINYAL_ASSIGN_OR_RETURN(FeatureStream stream, FeatureStream::Create(e->record.schema, fs));
    e->features.emplace(std::move(stream));
    SINYAL_ASSIGN_OR_RETURN(RegimeClassifier rc, RegimeClassifier::Create(options.regime));
    e->regime.emplace(std::move(rc));
    SINYAL_ASSIGN_OR_RETURN(store::BarPage page,
                            bars.Latest(Viewer(route.model_owner), {symbol, tf}, options.history_bars));
    SINYAL_RETURN_IF_ERROR(Feed(*e, page.bars).status());
    e->checked_mono = clock.MonotonicNanos();
    return e;
  }

  // Feeds bars newer than the entry's last one through features and regime. REQUIRES: e.mu held
  // (or e not yet shared).
  Result<size_t> Feed(Entry& e, std::span<const market::Bar> in) {
    std::vector<float> row;
    size_t added = 0;
    for (const auto& bar : in) {
      if (!e.bars.empty() && bar.time() <= e.bars.back().time()) continue;
      SINYAL_RETURN_IF_ERROR(e.regime->Update(bar));
      if (!e.features->basic()) {
        e.features->Update(bar, &row);
      } else {
        row.assign(e.features->cols(), std::numeric_limits<float>::quiet_NaN());
      }
      e.bars.push_back(bar);
      e.rows.push_back(row);
      e.states.push_back(e.regime->Current());
      ++added;
      if (e.bars.size() > kWindowBars) {
        e.bars.pop_front();
        e.rows.pop_front();
        e.states.pop_front();
      }
    }
    if (added > 0 && e.features->basic()) {
      // models' "basic" set has no streaming form: recompute it over the kept window.
      std::vector<market::Bar> window(e.bars.begin(), e.bars.end());
      SINYAL_ASSIGN_OR_RETURN(models::BarColumns cols,
                              models::ToBarColumns(e.symbol, e.timeframe, window,
                                                   std::pow(10.0, -models::InferDigits(window))));
      SINYAL_ASSIGN_OR_RETURN(models::FeatureFrame frame, models::ComputeBasicFeatures(cols));
      if (frame.names != e.record.schema.feature_names) {
        return Status::FailedPrecondition("the model's features differ from the basic set", "model");
      }
      for (size_t i = 0; i < frame.rows; ++i) e.rows[i].assign(frame.Row(i), frame.Row(i) + frame.cols());
    }
    counters.bars_processed += static_cast<int64_t>(added);
    return added;
  }

  // Reads bars newer than the entry's newest (one database read). REQUIRES: e.mu held.
  Result<size_t> CatchUp(Entry& e) {
    counters.bar_checks++;
    e.checked_mono = clock.MonotonicNanos();
    const std::optional<TenantId> viewer = Viewer(e.model_owner);
    const market::SeriesKey key{e.symbol, e.tf};
    size_t added = 0;
    const UnixNanos last = e.bars.empty() ? INT64_MIN : e.bars.back().time();
    SINYAL_ASSIGN_OR_RETURN(store::BarPage page, bars.Latest(viewer, key, 8));
    if (page.bars.empty() || page.bars.back().time() <= last) return size_t{0};
    if (page.bars.front().time() > last && !e.bars.empty()) {
      // More than 8 new bars: page forward from the newest one we have.
      std::optional<UnixNanos> cursor = last;
      do {
        SINYAL_ASSIGN_OR_RETURN(store::BarPage p, bars.Query(viewer, {.key = key,
                                                                      .limit = store::kMaxBarPage,
                                                                      .cursor = cursor}));
        SINYAL_ASSIGN_OR_RETURN(size_t n, Feed(e, p.bars));
        added += n;
        cursor = p.next_cursor;
      } while (cursor);
    } else {
      SINYAL_ASSIGN_OR_RETURN(added, Feed(e, page.bars));
    }
    return added;
  }

  // ---- the cross-asset reference ----
  // REQUIRES: ref_mu held.
  Status LoadReference(const std::string& timeframe, market::Timeframe tf, Reference& ref) {
    ref = Reference{};
    ref.checked_mono = clock.MonotonicNanos();
    ref.loaded = true;
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
    (void)timeframe;
    return Status::Ok();
  }

  // The reference for a timeframe, reloaded at most once per check interval.
  Reference RefFor(const std::string& timeframe, market::Timeframe tf) {
    std::lock_guard lock(ref_mu);
    Reference& ref = references[timeframe];
    if (!ref.loaded || clock.MonotonicNanos() - ref.checked_mono >= options.bar_check_interval_nanos) {
      (void)LoadReference(timeframe, tf, ref);
    }
    return ref;
  }

  CrossAssetContext ContextAt(const Entry& e, size_t idx) {
    CrossAssetContext ctx;
    if (e.symbol == kDxySymbol) return ctx;
    const Reference ref = RefFor(e.timeframe, e.tf);
    if (ref.name.empty() || ref.times.empty()) return ctx;
    std::vector<market::Bar> window(e.bars.begin(), e.bars.begin() + static_cast<std::ptrdiff_t>(idx) + 1);
    auto frame = CrossAssetFeatures(window, e.tf, ref.times, ref.values);
    if (!frame.ok() || frame->rows == 0) return ctx;
    const float* row = frame->Row(frame->rows - 1);
    auto col = [&](const std::string& name) -> double {
      for (size_t i = 0; i < frame->cols(); ++i) {
        if (frame->names[i] == name) return row[i];
      }
      return std::numeric_limits<double>::quiet_NaN();
    };
    ctx.ref_return_1 = col("xasset.ref_ret_1");
    ctx.ref_return_long = col("xasset.ref_ret_long");
    ctx.corr_to_ref = col("xasset.corr_ref");
    ctx.corr_break_z = col("xasset.corr_ref_z");
    ctx.available = std::isfinite(ctx.corr_to_ref);
    if (!std::isfinite(ctx.corr_break_z)) ctx.corr_break_z = 0;
    return ctx;
  }

  // ---- signals ----
  // The signal at kept bar `idx`, computed and logged once. REQUIRES: e.mu held.
  Result<std::pair<std::shared_ptr<const Signal>, bool>> SignalAt(Entry& e, size_t idx) {
    const UnixNanos t = e.bars[idx].time();
    if (auto it = e.signals.find(t); it != e.signals.end()) return std::make_pair(it->second, false);
    const std::vector<float>& row = e.rows[idx];
    for (size_t i = 0; i < row.size(); ++i) {
      if (!std::isfinite(row[i])) {
        return Status::FailedPrecondition("too little history: feature " + e.features->names()[i] +
                                              " is not defined at the bar of " + FormatIso8601(t),
                                          "symbol");
      }
    }
    if (!e.states[idx].ready) {
      return Status::FailedPrecondition("too little history: the regime is still warming up at the "
                                        "bar of " + FormatIso8601(t) + " (about 525 bars are needed)",
                                        "symbol");
    }
    SignalInput in;
    in.bar_time = t;
    in.reference_price = e.bars[idx].close();
    in.features = row;
    in.regime = e.states[idx];
    in.cross_asset = ContextAt(e, idx);
    SignalRequest req;
    req.confidence_threshold = 0.5;
    req.max_uncertainty = options.max_uncertainty;
    req.top_drivers = options.top_drivers;
    auto sig = generator.Generate(e.model, req, in);
    if (!sig.ok()) {
      if (sig.error().code() == StatusCode::kFailedPrecondition) return sig.error().WithField("symbol");
      return sig.error();
    }
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
    std::vector<market::Bar> later;
    std::optional<UnixNanos> cursor = pending.front().bar_time();
    do {
      SINYAL_ASSIGN_OR_RETURN(store::BarPage p, bars.Query(Viewer(owner), {.key = {symbol, tf},
                                                                           .limit = store::kMaxBarPage,
                                                                           .cursor = cursor}));
      later.insert(later.end(), p.bars.begin(), p.bars.end());
      cursor = p.next_cursor;
    } while (cursor && later.size() < 4 * store::kMaxBarPage);
    SINYAL_ASSIGN_OR_RETURN(size_t n, ResolvePending(log, owner, symbol, timeframe, later));
    counters.resolved += static_cast<int64_t>(n);
    return n;
  }

  // ---- calibration (table signal_calibrations) ----
  Status CalTx(TenantId owner, bool read, const std::function<Status(soci::session&)>& fn) {
    if (IsPlatform(owner)) return read ? db.WithReadTx(fn) : db.WithTx(fn);
    return read ? db.WithTenantReadTx(owner, fn) : db.WithTenantTx(owner, fn);
  }

  Result<std::optional<SignalCalibration>> ReadCalibration(TenantId owner, const std::string& symbol,
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
    if (!found) return std::optional<SignalCalibration>();
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Status::DataLoss("stored signal calibration is not JSON");
    SignalCalibration c;
    SINYAL_ASSIGN_OR_RETURN(c.conformal, ConformalIntervals::FromJson(j.at("conformal")));
    c.move_ratio = j.value("move_ratio", 0.0);
    c.rows = j.value("rows", size_t{0});
    if (auto f = ParseIso8601(j.value("from", "")); f.ok()) c.from = *f;
    if (auto f = ParseIso8601(j.value("to", "")); f.ok()) c.to = *f;
    if (j.contains("coverage_on_calibration_rows")) {
      for (const auto& l : j["coverage_on_calibration_rows"]) {
        CoverageLine cl;
        cl.nominal = l.value("nominal", 0.0);
        cl.group = l.value("group", -1);
        cl.n = l.value("n", size_t{0});
        cl.covered = l.value("covered", size_t{0});
        cl.empirical = l.value("empirical", 0.0);
        cl.mean_width = l.value("mean_width", 0.0);
        c.coverage.push_back(cl);
      }
    }
    return std::optional<SignalCalibration>(std::move(c));
  }

  // Fits the calibration from the model's held-out rows: the newest calibration_fraction of its
  // training range (the trees never saw them), after a purge of `horizon` bars. move_ratio is
  // fitted on the older (fitting) rows, as FitMoveRatio wants.
  Result<SignalCalibration> FitCalibration(TenantId owner, const std::string& symbol,
                                           const std::string& timeframe, const models::ModelRecord& rec,
                                           const models::Ensemble& ens) {
    SINYAL_ASSIGN_OR_RETURN(market::Timeframe tf, market::ParseTimeframe(timeframe));
    const int h = std::max(1, rec.schema.horizon);
    double frac = 0.2;
    if (rec.params.is_object() && rec.params.contains("calibration_fraction") &&
        rec.params["calibration_fraction"].is_number()) {
      frac = rec.params["calibration_fraction"].get<double>();
    }
    // Every stored bar up to the end of the training range + horizon (features are streamed from
    // the start of the series, as in training).
    std::vector<market::Bar> all;
    std::optional<UnixNanos> cursor;
    const UnixNanos to = rec.data_to + static_cast<int64_t>(h + 1) * market::TimeframeNanos(tf) * 8;
    do {
      SINYAL_ASSIGN_OR_RETURN(store::BarPage p, bars.Query(Viewer(owner), {.key = {symbol, tf},
                                                                           .to = to,
                                                                           .limit = store::kMaxBarPage,
                                                                           .cursor = cursor}));
      all.insert(all.end(), p.bars.begin(), p.bars.end());
      cursor = p.next_cursor;
    } while (cursor);
    if (all.size() > 300000) all.erase(all.begin(), all.end() - 300000);
    SINYAL_ASSIGN_OR_RETURN(auto fs, FeatureConfigOf(owner, rec.schema));
    models::FeatureFrame frame;
    if (fs) {
      SINYAL_ASSIGN_OR_RETURN(frame, models::ComputeFeatureFrame(*fs, all));
    } else {
      SINYAL_ASSIGN_OR_RETURN(models::BarColumns cols,
                              models::ToBarColumns(symbol, timeframe, all,
                                                   std::pow(10.0, -models::InferDigits(all))));
      SINYAL_ASSIGN_OR_RETURN(frame, models::ComputeBasicFeatures(cols));
    }
    if (frame.names != rec.schema.feature_names) {
      return Status::FailedPrecondition("the model's features differ from its feature set as computed now",
                                        "model");
    }
    SINYAL_ASSIGN_OR_RETURN(std::vector<RegimeState> states, ClassifyRegimes(all, options.regime));
    std::vector<size_t> idx;  // bars in the training range with a forward bar h later
    for (size_t i = 0; i + h < all.size(); ++i) {
      if (all[i].time() >= rec.data_from && all[i].time() <= rec.data_to) idx.push_back(i);
    }
    if (idx.empty()) {
      return Status::FailedPrecondition("the bars of the model's training range are no longer stored",
                                        "model");
    }
    const size_t held = static_cast<size_t>(std::ceil(static_cast<double>(idx.size()) * frac));
    const size_t split = idx.size() - std::min(held, idx.size());
    auto make_row = [&](size_t i, ConformalRow* out) -> bool {
      const RegimeState& s = states[i];
      if (!s.ready || !(s.rv > 0) || !std::isfinite(s.rv)) return false;
      const float* x = frame.Row(i);
      for (size_t k = 0; k < frame.cols(); ++k) {
        if (!std::isfinite(x[k])) return false;
      }
      out->scale = s.rv * std::sqrt(static_cast<double>(h));
      out->actual = std::log(all[i + h].close() / all[i].close());
      out->group = static_cast<int>(s.vol);
      out->point = 0;
      return std::isfinite(out->actual);
    };
    std::vector<ConformalRow> fit_rows, cal_rows;
    for (size_t k = 0; k + static_cast<size_t>(h) < split; ++k) {
      ConformalRow r;
      if (make_row(idx[k], &r)) fit_rows.push_back(r);
    }
    SINYAL_ASSIGN_OR_RETURN(double move_ratio, FitMoveRatio(fit_rows));
    SignalCalibration c;
    c.move_ratio = move_ratio;
    for (size_t k = split + static_cast<size_t>(h); k < idx.size(); ++k) {
      ConformalRow r;
      if (!make_row(idx[k], &r)) continue;
      const models::Prediction p = ens.Predict(frame.Row(idx[k]));
      r.point = (2.0 * p.proba[models::kUp] - 1.0) * move_ratio * r.scale;
      if (c.rows == 0) c.from = all[idx[k]].time();
      c.to = all[idx[k]].time();
      cal_rows.push_back(r);
      ++c.rows;
    }
    auto ci = ConformalIntervals::Fit(cal_rows, options.conformal);
    if (!ci.ok()) return ci.error().WithContext("conformal calibration of the held-out rows");
    c.conformal = std::move(ci).value();
    c.coverage = EvaluateCoverage(c.conformal, cal_rows);
    return c;
  }

  Status StoreCalibration(TenantId owner, const std::string& symbol, const std::string& timeframe,
                          int64_t version, const SignalCalibration& c) {
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

  Result<SignalCalibration> GetCalibration(TenantId owner, const std::string& symbol,
                                           const std::string& timeframe, int64_t version,
                                           const models::ModelRecord& rec, const models::Ensemble& ens) {
    SINYAL_ASSIGN_OR_RETURN(auto stored, ReadCalibration(owner, symbol, timeframe, version));
    if (stored) {
      counters.calibrations_loaded++;
      return std::move(*stored);
    }
    SINYAL_ASSIGN_OR_RETURN(SignalCalibration c, FitCalibration(owner, symbol, timeframe, rec, ens));
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
        if (*n == 0 || e->bars.empty()) continue;
        auto s = SignalAt(*e, e->bars.size() - 1);
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
  const int64_t period = market::TimeframeNanos(tf);
  std::shared_ptr<const Signal> result;
  bool fresh_newest = false;
  {
    std::lock_guard lock(e->mu);
    if (now - e->checked_mono >= m.options.bar_check_interval_nanos) {
      SINYAL_RETURN_IF_ERROR(m.CatchUp(*e).status());
    }
    if (e->bars.empty()) return Status::NotFound("no bars for " + symbol + " " + timeframe, "symbol");
    // The newest kept bar whose close (open + one period) is at or before not_after.
    size_t i = e->bars.size();
    while (i > 0 && e->bars[i - 1].time() + period > not_after) --i;
    if (i == 0) {
      return Status::NotFound("no bar of " + symbol + " " + timeframe + " closed by " +
                                  FormatIso8601(not_after) + " is cached (oldest kept: " +
                                  FormatIso8601(e->bars.front().time()) + ")",
                              "symbol");
    }
    --i;
    if (auto it = e->signals.find(e->bars[i].time()); it != e->signals.end()) {
      m.counters.cache_hits++;
      return it->second;
    }
    SINYAL_ASSIGN_OR_RETURN(auto computed, m.SignalAt(*e, i));
    result = computed.first;
    fresh_newest = computed.second && i + 1 == e->bars.size();
  }
  if (fresh_newest) m.Notify(e->model_owner, result);
  return result;
}

Signal SignalService::WithThreshold(const Signal& s, double threshold, double max_uncertainty) {
  SignalFields f = s.fields();
  DecideDirection(f, std::isnan(threshold) ? 0.5 : std::clamp(threshold, 0.5, 1.0), max_uncertainty);
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

Result<SignalCalibration> SignalService::Calibration(TenantId model_owner, const std::string& symbol_in,
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

SignalService::Stats SignalService::stats() const {
  const auto& c = impl_->counters;
  return {c.latest_calls.load(),      c.cache_hits.load(),          c.signals_computed.load(),
          c.bar_checks.load(),        c.entry_loads.load(),         c.calibrations_fitted.load(),
          c.calibrations_loaded.load(), c.bars_processed.load(),    c.resolved.load(),
          c.listener_calls.load()};
}

}  // namespace sinyal::signals
