// Retraining in production: the "retrain_check" job of store::JobQueue, run by the in-process
// worker of `sinyal serve` and by `sinyal worker`, and the scheduler that queues it for every
// active model. The domain rules are signals/retraining.h and drift.h; this file wires them to
// the database registry, the bar store, the signal log and the job queue.
//
// Horizons: a check watches the series' default-horizon model line (models::kDefaultHorizon, 1 bar);
// models at other horizons (the platform's 4 and 24) are retrained by training a new version.
//
// One check of (owner, symbol, timeframe) does the first step that applies, in this order. The
// state of a series is its audit trail (AuditLog, append-only): what is pending is read from the
// last records, so a check holds no state between runs and any worker can run the next one.
//
//   1. A promotion awaits its check (last "promoted" not yet followed by "post_promotion_check"):
//      the promoted version P and the previous champion C are scored on the rows that came after
//      the promotion's evaluation window (labels: C's horizon and dead band). When there are at
//      least rollback.min_rows of them: P is degraded when its log loss exceeds C's on those rows
//      by more than rollback.log_loss_tolerance, or its Brier by more than brier_tolerance, or
//      (with at least tolerance.min_signals resolved signals of P in the SignalLog) its live
//      performance fails CheckPerformance against P's figures on the promotion window. Degraded:
//      the registry rolls back to C.        [post_promotion_check, then rolled_back if degraded]
//   2. A challenger awaits evaluation (last "challenger_trained" not yet followed by "promoted" or
//      "rejected"): champion (the active version) and challenger are scored on the SAME rows,
//      those whose prediction bar is after both models' training data (so neither saw them). When
//      there are at least promotion.min_rows: EvaluateChallenger's rule; a winner is activated
//      (actor "retraining").               [challenger_evaluated, then promoted or rejected]
//   3. Otherwise a drift check of the active version: PSI of the newest drift.window feature rows
//      against the version's reference (stored in retraining_references, computed once per
//      version), each feature judged against its own null threshold from the version's training
//      rows (JudgeFeatureDrift), live performance of its resolved signals against its
//      walk-forward validation figures, and the schedule (DecideRetraining). Inside the cooldown
//      after a rejection or rollback nothing is trained (outcome "cooldown"). Otherwise, when it
//      says retrain, a challenger is trained through models::ModelService::Train (activate =
//      false) on the newest train_window_bars bars and registered; its reference is stored at once.
//                                          [drift_check, then challenger_trained if triggered]
// Steps 1 and 2 wait (nothing recorded, outcome "waiting") until enough new bars have arrived.
//
// Owners: a tenant (its models, its series: private first, else platform) or
// models::kPlatformTenant (the platform default models; platform jobs, tenant = none).
//
// Thread safety: RetrainingService is thread-safe (state in the database); the job queue's
// dedupe key "retrain:<SYMBOL>:<TF>" keeps one check of a series at a time per owner.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"
#include "core/status.h"
#include "market/instrument.h"
#include "models/db_registry.h"
#include "models/service.h"
#include "signals/drift.h"
#include "signals/retraining.h"
#include "signals/signal_log.h"
#include "store/fwd.h"
#include "store/job_queue.h"

namespace sinyal::signals {

inline constexpr const char* kRetrainCheckJobKind = "retrain_check";

struct RetrainingJobOptions {
  RetrainingPolicy policy;          // when to retrain (retraining.h defaults)
  PromotionRule promotion;          // when a challenger wins
  RollbackRule rollback;            // when a promoted model is rolled back
  PerformanceTolerance tolerance;   // live performance vs validation
  size_t train_window_bars = 5000;  // newest bars a challenger is trained on. Default 5,000.
  // Feature drift: the newest drift.window (1,000) feature rows against the version's reference,
  // each feature against its own null threshold fitted on the version's training rows
  // (drift.h, FitPsiNull / JudgeFeatureDrift). policy.on_significant_psi and
  // policy.moderate_features (the fixed 0.1/0.25 levels) apply only when the training rows no
  // longer hold 2 windows (then the audit reason says "fixed PSI levels"); policy.schedule_every
  // and policy.on_performance always apply.
  DriftRule drift;
  // Cooldown after a rejected challenger or a rollback: no new challenger until cooldown_bars
  // bars have closed after that decision's last bar AND cooldown_seconds have passed since it
  // (clock time). A drift check inside the cooldown is still recorded, with decision "no" and a
  // reason starting "cooldown:" (outcome "cooldown"). Defaults: 500 bars, 0 s.
  size_t cooldown_bars = 500;
  int64_t cooldown_seconds = 0;
  size_t live_signals = 500;      // newest resolved signals for live performance. Default 500.
  size_t max_window_rows = 5000;  // cap on evaluation rows (oldest first). Default 5,000.
  // Configuration overrides of the challenger's training (ModelService configuration JSON);
  // default none: the owner's stored configuration.
  nlohmann::json challenger_overrides = nlohmann::json::object();
};

// What one check did.
struct CheckOutcome {
  // "no_model", "drift_checked" (no trigger), "cooldown" (a trigger inside the cooldown),
  // "challenger_trained", "waiting", "promoted",
  // "rejected", "kept" (post-promotion check passed), "rolled_back", "superseded".
  std::string outcome;
  int64_t champion_version = 0;
  int64_t challenger_version = 0;
  std::vector<int64_t> audit_seqs;  // records appended by this check
  std::string detail;
  nlohmann::json ToJson() const;
};

class RetrainingService {
 public:
  // REQUIRES: every reference outlives the service; feature_sets, jobs and signals may be null
  // (no tenant feature sets / no queueing / no live-performance input). model_options are those
  // of the app's ModelService; the challenger's training uses them with max_bars =
  // options.train_window_bars.
  RetrainingService(store::Database& db, store::BarStore& bars,
                    store::FeatureSetStore* feature_sets, models::DbModelRegistry& registry,
                    store::JobQueue* jobs, const SignalLog* signals, AuditLog& audit,
                    const Clock& clock, models::ModelServiceOptions model_options,
                    RetrainingJobOptions options = {});

  // Queues a check of the owner's active model. Returns the job id. NotFound("model") when the
  // owner has no active model for the series; Conflict("dedupe_key") while a check of it is
  // queued or running; Unavailable without a job queue. Series are typed keys, parsed at the
  // caller's edge (market::ParseSeriesKey); an invalid symbol is InvalidArgument ("symbol").
  [[nodiscard]] Result<int64_t> EnqueueCheck(TenantId owner, const market::SeriesKey& series,
                                             const std::string& actor);

  // Queues a check for every active model of the default horizon (tenants' and the platform's;
  // retraining watches the horizon-1 line only); series with a check already queued or running
  // are skipped. Returns how many were queued. The scheduler calls it.
  [[nodiscard]] Result<size_t> EnqueueAll();

  // Runs one check now (see the top of this file).
  [[nodiscard]] Result<CheckOutcome> RunCheck(TenantId owner, const market::SeriesKey& series,
                                              const store::JobWorker::ProgressFn& progress = {});

  // The job handler for kRetrainCheckJobKind (payload written by EnqueueCheck).
  [[nodiscard]] Result<std::string> RunCheckJob(const store::Job& job,
                                                const store::JobWorker::ProgressFn& progress);

  // The PSI reference of a version (fitted on the features of its training rows), computed on
  // first use and stored in retraining_references; later calls read it.
  [[nodiscard]] Result<PsiReference> ReferenceOf(TenantId owner, const market::SeriesKey& series,
                                                 int64_t version);

  AuditLog& audit() { return audit_; }

 private:
  struct Series;
  struct PairedWindow;
  Result<Series> LoadSeries(TenantId owner, const market::SeriesKey& series);
  Result<PairedWindow> Paired(Series& s, const models::ModelRecord& first,
                              const models::ModelRecord& second, UnixNanos after, size_t min_rows);
  Result<CheckOutcome> PostPromotionCheck(Series& s, const AuditRecord& promoted, int64_t active);
  Result<CheckOutcome> EvaluateChallenger(Series& s, const AuditRecord& trained, int64_t active);
  Result<CheckOutcome> DriftCheck(Series& s, int64_t active,
                                  const store::JobWorker::ProgressFn& progress);
  Result<int64_t> Record(Series& s, AuditRecord r);

  store::Database& db_;
  store::BarStore& bars_;
  store::FeatureSetStore* feature_sets_;
  models::DbModelRegistry& registry_;
  store::JobQueue* jobs_;
  const SignalLog* signals_;
  AuditLog& audit_;
  const Clock& clock_;
  models::ModelService trainer_;  // the app's options with max_bars = train_window_bars
  RetrainingJobOptions options_;
};

// Calls service.EnqueueAll() every `period` on its own thread (the first time right after
// Start) and `after_enqueue` (e.g. JobWorker::Wake) when something was queued. Errors are logged.
class RetrainScheduler {
 public:
  // REQUIRES: service outlives the scheduler; period > 0.
  RetrainScheduler(RetrainingService& service, std::chrono::milliseconds period,
                   std::function<void()> after_enqueue = {});
  ~RetrainScheduler();  // Stop()s
  RetrainScheduler(const RetrainScheduler&) = delete;
  RetrainScheduler& operator=(const RetrainScheduler&) = delete;
  void Start();  // idempotent
  void Stop();   // idempotent; joins the thread
  int64_t rounds() const { return rounds_.load(); }

 private:
  void Loop();
  RetrainingService& service_;
  const std::chrono::milliseconds period_;
  std::function<void()> after_enqueue_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
  std::atomic<int64_t> rounds_{0};
};

}  // namespace sinyal::signals
