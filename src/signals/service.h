// SignalService: the live signal of a (tenant, symbol, timeframe, horizon), computed once per
// closed bar and model version, cached in memory, appended once to the SignalLog and pushed to
// subscribers.
//
// Which model. The owner's active model for the series and horizon (models::DbModelRegistry: one
// active version per horizon); when the tenant has none, the platform default
// (models::kPlatformTenant) for that horizon. Calls without a horizon mean
// models::kDefaultHorizon (1 bar). Listeners get the signals of every tracked horizon (each
// Signal carries its horizon()) and filter what they serve. A signal made by a platform model is
// one signal shared by every tenant without its own model: it is stored once, under the platform
// (tenant_id NULL in the signals table, readable by every tenant, like model_versions), and its
// listeners get owner = kPlatformTenant. A tenant model's signals are stored under the tenant.
//
// Three parts, one job each:
//   - the series window (live_series.h + series_window.h): per (model owner, series, version) a
//     SeriesWindow over the stored bars from the model's anchor (ModelSchema::inputs_from),
//     streamed ONCE through the model-inputs seam (models/inputs.h) and the RegimeClassifier and
//     then pushed bar by bar (rows bit-identical to training's); the cross-asset reference;
//   - the interval calibration store (interval_calibration_store.h): the conformal intervals and
//     move_ratio of each version, fitted when the version is trained or activated (hooks wired in
//     app/), read here. A version whose calibration is not stored yet is answered Unavailable
//     ("model") while the service's background thread fits it: never on the request;
//   - the signal computation (this class): the Signal of a bar at threshold 0.5 on first use
//     (signals::SignalAt), kept per model version and bar and published as an immutable snapshot.
//
// New bars are detected two ways (both on by default):
//   1. OnBarClosed(): wired by app/ to store::LiveFeed's BarListener (same process). Bars are
//      queued and processed by one background thread of this service (the feed's thread never
//      computes signals): windows advance, a signal is computed for every tracked (owner, series)
//      whose model serves that series, appended to the log, pending signals of the series are
//      resolved, and subscribers are called.
//   2. A latest-bar check in Latest(), at most once per `bar_check_interval_nanos` per route and
//      per series (default 1 s; app config signals.bar_check_interval_ms): the active model
//      version, then the bars stored after the window's newest. This catches bars imported by CSV
//      upload or written by another process, and model activations. Between checks Latest() does
//      no database read.
//
// Cross-asset context: live_series.h says which reference is used; ReferenceName() names it.
//
// Thread safety: thread-safe. Latest() on a cache hit (route and series checked within the
// interval, the bar's signal computed) takes no mutex: it reads three immutable snapshots through
// std::atomic<std::shared_ptr> (the route table, the route, the series' published signals).
// Misses take the series' mutex. Listeners are called from the service's background thread (or
// from Latest() when a check finds a new bar), never while a service lock is held, and must not
// block for long.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"
#include "core/status.h"
#include "market/bar.h"
#include "market/instrument.h"
#include "models/fwd.h"
#include "models/registry.h"
#include "signals/conformal.h"
#include "signals/interval_calibration.h"
#include "signals/interval_calibration_store.h"
#include "signals/regime.h"
#include "signals/signal.h"
#include "signals/signal_log.h"
#include "store/fwd.h"

namespace sinyal::signals {

struct SignalServiceOptions {
  int top_drivers = 5;             // drivers (SHAP) per signal. Default 5. [0, 50].
  size_t max_input_bars = 300000;  // at most this many bars (the newest) are read from the
                                   // model's anchor when an entry is created or a calibration
                                   // fitted. Default 300,000 (ModelServiceOptions::max_bars,
                                   // so a model's rows start where its training's did).
  int64_t bar_check_interval_nanos = kNanosPerSecond;  // latest-bar check per route and series
                                                       // in Latest(), and cross-asset reference
                                                       // reload. Default 1 s. 0 = every call.
  size_t signals_per_series = 256;  // cached signals per series (older bars, for delayed
                                    // plans). Default 256.
  size_t max_series = 1024;         // cache entries; least recently used dropped. Default 1024.
  double max_uncertainty = 1.0;     // SignalRequest::max_uncertainty. Default 1 (off).
  ConformalConfig conformal;        // coverages 80% and 95%, Mondrian per vol state.
  RegimeConfig regime;              // Default rules (docs/signals.md section 1).
  bool background_thread = true;    // false: OnBarClosed processes inline (tests).
};

// Live performance of a series' resolved signals next to the model's validation figures.
struct SignalPerformance {
  TenantId model_owner;       // kPlatformTenant for the platform default
  std::string model_version;  // e.g. "platform/EURUSD/H1/v3"
  LivePerformance live;       // of the model version's resolved signals (newest `limit`)
  nlohmann::json validation;  // the version's walk-forward metrics (ModelRecord.metrics)
  nlohmann::json ToJson() const;
};

class SignalService {
 public:
  using Listener = std::function<void(TenantId model_owner, std::shared_ptr<const Signal>)>;

  // Unsubscribes when destroyed or Reset(). Move-only. REQUIRES: destroyed before the service.
  class Subscription {
   public:
    Subscription() = default;
    Subscription(Subscription&& o) noexcept;
    Subscription& operator=(Subscription&& o) noexcept;
    ~Subscription();
    void Reset();
    bool active() const { return service_ != nullptr; }

   private:
    friend class SignalService;
    Subscription(SignalService* s, uint64_t id) : service_(s), id_(id) {}
    SignalService* service_ = nullptr;
    uint64_t id_ = 0;
  };

  // REQUIRES: every reference outlives the service; feature_sets may be null (tenant feature
  // sets unavailable). `log` receives every newly computed signal once. `calibrations` should be
  // the store app/ wires to training and activation (it is only read on requests).
  SignalService(store::BarStore& bars, models::DbModelRegistry& registry,
                store::FeatureSetStore* feature_sets, SignalLog& log,
                IntervalCalibrationStore& calibrations, const Clock& clock,
                SignalServiceOptions options = {});
  ~SignalService();
  SignalService(const SignalService&) = delete;
  SignalService& operator=(const SignalService&) = delete;

  // Series are typed keys (market::SeriesKey): callers parse user text once, at their edge
  // (market::ParseSeriesKey). A key whose symbol is not valid is InvalidArgument ("symbol").
  //
  // The signal of `owner`'s active model for the series - else the platform default model - at
  // the latest closed bar whose close time (open + one period) <= not_after.
  // (not_after = now for realtime plans, now - delay for delayed ones.) Direction at threshold
  // 0.5; use WithThreshold for the caller's. Errors: InvalidArgument ("symbol");
  // NotFound("symbol") unknown symbol or no bar closed by not_after; NotFound("model") no active
  // model;
  // Unavailable("model") while the version's interval calibration is being fitted;
  // FailedPrecondition ("symbol") when the series is too short for the features or the regime;
  // DataLoss when the stored model is corrupted.
  // A horizon no model serves (for the viewer) while others are served is InvalidArgument
  // ("horizon") listing the served ones; none served at all is NotFound("model").
  [[nodiscard]] Result<std::shared_ptr<const Signal>> Latest(TenantId owner,
                                                             const market::SeriesKey& key,
                                                             int horizon, UnixNanos not_after);
  [[nodiscard]] Result<std::shared_ptr<const Signal>> Latest(TenantId owner,
                                                             const market::SeriesKey& key,
                                                             UnixNanos not_after) {
    return Latest(owner, key, models::kDefaultHorizon, not_after);
  }

  // The same signal with direction, abstention and confidence_threshold re-derived for
  // `threshold` (in [0,1]; below 0.5 acts as 0.5; NaN acts as 0.5). The id stays the stored
  // signal's id. Also abstains when the signal's uncertainty exceeds max_uncertainty.
  static Signal WithThreshold(const Signal& s, double threshold, double max_uncertainty = 1.0);

  // Which model serves `viewer` for the series: the viewer when it has an active model, else
  // kPlatformTenant. NotFound("model") when neither has one. Cached like Latest().
  [[nodiscard]] Result<TenantId> ModelOwner(TenantId viewer, const market::SeriesKey& key,
                                            int horizon = models::kDefaultHorizon);

  // Calls `listener` with every newly computed signal (as bars close), from the service's thread.
  // Only series that are tracked get signals on bar close: every series ever asked for through
  // Latest() or Track().
  [[nodiscard]] Subscription Subscribe(Listener listener);
  // Marks (owner's model for) the series as tracked, so its signals are computed as bars close
  // even before anyone asks. Validates the symbol and that a model serves it (errors as Latest).
  [[nodiscard]] Status Track(TenantId owner, const market::SeriesKey& key,
                             int horizon = models::kDefaultHorizon);

  // The LiveFeed BarListener hook (app/ wires it). Cheap: queues the bar. Bars of untracked
  // series are ignored; a bar out of order or after a gap in the cache makes the entry reload.
  void OnBarClosed(const market::SeriesKey& key, const market::Bar& bar);
  // Waits until every bar queued before the call is processed (tests, shutdown).
  void Drain();

  // Resolves the unresolved signals of the series' model owner (as seen by `viewer`) with the
  // stored bars; returns how many were resolved. Also run for each bar close.
  [[nodiscard]] Result<size_t> ResolveSeries(TenantId viewer, const market::SeriesKey& key,
                                             int horizon = models::kDefaultHorizon);

  // Live performance (newest `limit` resolved signals of the serving model version) and the
  // version's validation metrics. Resolves pending signals first.
  [[nodiscard]] Result<SignalPerformance> Performance(TenantId viewer, const market::SeriesKey& key,
                                                      size_t limit = 500,
                                                      int horizon = models::kDefaultHorizon);

  // The stored interval calibration of a model version, fitting and storing it if absent
  // (IntervalCalibrationStore::Fit: cold work, for operators and tests).
  [[nodiscard]] Result<IntervalCalibration> Calibration(TenantId model_owner,
                                                        const market::SeriesKey& key,
                                                        int64_t version);

  // Name of the cross-asset reference used for `timeframe`: "synthetic_dxy_5" (five components),
  // "DXY" (stored series) or "" (none).
  std::string ReferenceName(market::Timeframe timeframe);

  // Test hook: the model's input row the live window of (model_owner, symbol, timeframe) holds
  // for the bar opening at `bar_time`; nullopt when no such entry or bar is held.
  std::optional<std::vector<float>> TEST_InputsAt(TenantId model_owner,
                                                  const market::SeriesKey& key, UnixNanos bar_time);

  struct Stats {
    int64_t latest_calls = 0, cache_hits = 0, signals_computed = 0, bar_checks = 0, entry_loads = 0,
            calibrations_fitted = 0, calibrations_loaded = 0, bars_processed = 0, resolved = 0,
            listener_calls = 0;
  };
  Stats stats() const;

  struct Impl;

 private:
  void Unsubscribe(uint64_t id);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sinyal::signals
