// Dynamic retraining (domain logic): when to retrain, whether a challenger replaces the
// champion, rollback of a promotion that degrades, and an append-only audit trail of every
// decision with its reasons and figures.
//
// Flow (RetrainingController; app/ or the worker calls it on a schedule or on each batch of
// resolved signals):
//   1. CheckDrift: PSI of recent features vs the training reference and, if given, the live
//      performance check -> retrain or not (policy: schedule, significant PSI on any feature,
//      moderate PSI on >= k features, degraded live performance).      [audit: drift_check]
//   2. TrainChallenger: the models library's real trainer on the recent data. [challenger_trained]
//   3. EvaluateAndPromote: champion and challenger scored on the SAME out-of-sample window that
//      neither was trained on. Promotion rule: challenger log loss lower by >= min_log_loss_gain,
//      Brier not higher by more than max_brier_increase, and a one-sided paired t-test of the
//      per-row log-loss differences with p <= max_p_value. Promotion registers the challenger
//      in the ModelRegistry and activates it.             [challenger_evaluated, promoted|rejected]
//   4. CheckAfterPromotion: the new champion scored on the next window; if its log loss or Brier
//      is worse than the old champion's validation figures (given at promotion; plus tolerance),
//      the registry rolls back to the old champion.       [post_promotion_check, rolled_back]
//
// Thread safety: RetrainingController is not synchronized (one per tenant x series, driven by
// one worker). InMemoryAuditLog is thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"
#include "core/status.h"
#include "market/instrument.h"
#include "models/config.h"
#include "models/dataset.h"
#include "models/ensemble.h"
#include "models/registry.h"
#include "signals/drift.h"
#include "signals/stats.h"

namespace sinyal::signals {

enum class AuditAction {
  kDriftCheck,
  kChallengerTrained,
  kChallengerEvaluated,
  kPromoted,
  kRejected,
  kPostPromotionCheck,
  kRolledBack,
};
std::string_view AuditActionName(AuditAction a);  // "drift_check", ...

struct AuditRecord {
  int64_t seq = 0;     // assigned by the log: 1, 2, ... per log
  UnixNanos time = 0;  // from the controller's Clock
  AuditAction action = AuditAction::kDriftCheck;
  TenantId tenant;
  std::string symbol, timeframe;
  int64_t champion_version = 0;    // 0 = none / unknown
  int64_t challenger_version = 0;  // 0 = not registered
  bool decision = false;           // retrain? promote? roll back?
  std::vector<std::string> reasons;
  std::map<std::string, double> figures;
  nlohmann::json ToJson() const;
};

// Append-only: there is no update or delete. The DB implementation (lead) inserts rows.
class AuditLog {
 public:
  virtual ~AuditLog() = default;
  // Assigns seq and stores the record; returns seq.
  [[nodiscard]] virtual Result<int64_t> Append(AuditRecord record) = 0;
  // The tenant's records for the series, in append order.
  [[nodiscard]] virtual Result<std::vector<AuditRecord>> List(
      TenantId tenant, const market::SeriesKey& series) const = 0;
};

class InMemoryAuditLog final : public AuditLog {
 public:
  Result<int64_t> Append(AuditRecord record) override;
  Result<std::vector<AuditRecord>> List(TenantId tenant,
                                        const market::SeriesKey& series) const override;

 private:
  mutable std::mutex mu_;
  std::vector<AuditRecord> records_;  // GUARDED_BY(mu_)
};

struct RetrainingPolicy {
  int64_t schedule_every = 0;      // retrain at least this often (ns); 0 = no schedule. Default 0.
  int moderate_features = 3;       // retrain when >= this many features have PSI >= 0.1. Default 3.
  bool on_significant_psi = true;  // retrain when any feature has PSI >= 0.25. Default true.
  bool on_performance = true;      // retrain when live performance is degraded. Default true.
};

struct TriggerDecision {
  bool retrain = false;
  std::vector<std::string> reasons;
};
TriggerDecision DecideRetraining(const RetrainingPolicy& policy, UnixNanos now,
                                 UnixNanos last_trained_at, std::span<const FeaturePsi> psi,
                                 const PerformanceCheck* performance);

struct PromotionRule {
  double min_log_loss_gain = 0.005;  // champion - challenger mean log loss. Default 0.005.
  double max_brier_increase =
      0.0;                    // challenger Brier may not exceed champion's by more. Default 0.
  double max_p_value = 0.05;  // one-sided paired t-test on per-row log loss. Default 0.05.
  size_t min_rows = 300;      // evaluation rows needed. Default 300.
};

struct ModelScores {
  size_t n = 0;
  double log_loss = 0, brier = 0, accuracy = 0;
};

struct ChallengerEvaluation {
  ModelScores champion, challenger;
  PairedTestResult paired;  // d_i = champion loss_i - challenger loss_i
  bool promote = false;
  std::vector<std::string> reasons;
};

// Scores two binary models' calibrated P(up) on the same rows and applies the rule.
// Errors: InvalidArgument when sizes differ ("challenger_p_up") or a probability is NaN;
// FailedPrecondition ("window") with fewer than rule.min_rows rows.
[[nodiscard]] Result<ChallengerEvaluation> EvaluateChallenger(
    std::span<const float> champion_p_up, std::span<const float> challenger_p_up,
    std::span<const int8_t> labels, const PromotionRule& rule);

struct RollbackRule {
  // The standard error of a mean log loss over ~800 hourly rows is ~0.02, so the defaults only
  // react to a clear degradation.
  double log_loss_tolerance = 0.05;  // Default 0.05.
  double brier_tolerance = 0.02;     // Default 0.02.
  size_t min_rows = 300;             // Default 300.
};

// Log loss, Brier and accuracy of a binary ensemble on rows of a dataset.
ModelScores ScoreModel(const models::Ensemble& e, const models::Dataset& ds,
                       std::span<const size_t> rows);

class RetrainingController {
 public:
  // REQUIRES: registry, audit and clock outlive the controller.
  RetrainingController(models::ModelRegistry& registry, AuditLog& audit, const Clock& clock,
                       TenantId tenant, market::SeriesKey series, RetrainingPolicy policy = {},
                       PromotionRule promotion = {}, RollbackRule rollback = {});

  // Step 1. `live` = recent feature rows (reference order). `performance` may be null.
  [[nodiscard]] Result<TriggerDecision> CheckDrift(const PsiReference& reference,
                                                   std::span<const float> live,
                                                   const PerformanceCheck* performance,
                                                   UnixNanos last_trained_at);
  // Step 2: models::Ensemble::Train on rows `fit` (calibrator on `calib`).
  [[nodiscard]] Result<models::Ensemble> TrainChallenger(const models::Dataset& ds,
                                                         std::span<const size_t> fit,
                                                         std::span<const size_t> calib,
                                                         const models::TrainConfig& config);
  // Step 3. `window` = rows of `ds` used by neither model. On promotion the challenger is
  // registered with `challenger_meta` (symbol/timeframe must match) and activated, and
  // `champion_validation` (the old champion's validation figures, e.g. from its ModelRecord) is
  // kept as the bar the new model must clear in step 4.
  [[nodiscard]] Result<ChallengerEvaluation> EvaluateAndPromote(
      const models::Ensemble& champion, const models::Ensemble& challenger,
      models::ModelRecord challenger_meta, const models::Dataset& ds,
      std::span<const size_t> window, const ValidationFigures& champion_validation);
  // Step 4. Returns true when it rolled back. FailedPrecondition when no promotion is pending.
  [[nodiscard]] Result<bool> CheckAfterPromotion(const models::Ensemble& active,
                                                 const models::Dataset& ds,
                                                 std::span<const size_t> window);

 private:
  Status Audit(AuditRecord r);
  int64_t ActiveVersionOrZero();

  models::ModelRegistry& registry_;
  AuditLog& audit_;
  const Clock& clock_;
  TenantId tenant_;
  market::SeriesKey series_;
  std::string timeframe_;  // series_.timeframe as records store it ("H1")
  RetrainingPolicy policy_;
  PromotionRule promotion_;
  RollbackRule rollback_;
  std::optional<ValidationFigures>
      old_champion_validation_;  // set by a promotion, cleared by the check
  int64_t old_champion_version_ = 0;
};

// Calibrated P(up) of a binary ensemble on rows of a dataset (fast path).
std::vector<float> PredictUp(const models::Ensemble& e, const models::Dataset& ds,
                             std::span<const size_t> rows);

}  // namespace sinyal::signals
