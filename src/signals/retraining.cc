#include "signals/retraining.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/time.h"
#include "models/registry_key.h"

namespace sinyal::signals {

std::string_view AuditActionName(AuditAction a) {
  switch (a) {
    case AuditAction::kDriftCheck:
      return "drift_check";
    case AuditAction::kChallengerTrained:
      return "challenger_trained";
    case AuditAction::kChallengerEvaluated:
      return "challenger_evaluated";
    case AuditAction::kPromoted:
      return "promoted";
    case AuditAction::kRejected:
      return "rejected";
    case AuditAction::kPostPromotionCheck:
      return "post_promotion_check";
    case AuditAction::kRolledBack:
      return "rolled_back";
  }
  return "?";
}

nlohmann::json AuditRecord::ToJson() const {
  return {{"seq", seq},
          {"time", FormatIso8601(time)},
          {"action", AuditActionName(action)},
          {"tenant", tenant.value()},
          {"symbol", symbol},
          {"timeframe", timeframe},
          {"champion_version", champion_version},
          {"challenger_version", challenger_version},
          {"decision", decision},
          {"reasons", reasons},
          {"figures", figures}};
}

Result<int64_t> InMemoryAuditLog::Append(AuditRecord r) {
  std::lock_guard<std::mutex> lock(mu_);
  r.seq = static_cast<int64_t>(records_.size()) + 1;
  records_.push_back(std::move(r));
  return records_.back().seq;
}

Result<std::vector<AuditRecord>> InMemoryAuditLog::List(TenantId tenant,
                                                        const market::SeriesKey& series) const {
  const std::string& symbol = series.symbol;
  const std::string timeframe(market::TimeframeName(series.timeframe));
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<AuditRecord> out;
  for (const auto& r : records_) {
    if (r.tenant == tenant && r.symbol == symbol && r.timeframe == timeframe) out.push_back(r);
  }
  return out;
}

TriggerDecision DecideRetraining(const RetrainingPolicy& p, UnixNanos now,
                                 UnixNanos last_trained_at, std::span<const FeaturePsi> psi,
                                 const PerformanceCheck* perf) {
  TriggerDecision d;
  char b[200];
  if (p.schedule_every > 0 && now - last_trained_at >= p.schedule_every) {
    std::snprintf(b, sizeof b, "schedule: %.1f h since the last training (every %.1f h)",
                  static_cast<double>(now - last_trained_at) / kNanosPerHour,
                  static_cast<double>(p.schedule_every) / kNanosPerHour);
    d.reasons.push_back(b);
  }
  int moderate = 0;
  for (const auto& f : psi) {
    if (f.psi >= kPsiModerate) ++moderate;
    if (p.on_significant_psi && f.level == DriftLevel::kSignificant) {
      std::snprintf(b, sizeof b, "feature drift: PSI of '%s' = %.3f >= %.2f", f.feature.c_str(),
                    f.psi, kPsiSignificant);
      d.reasons.push_back(b);
    }
  }
  if (p.moderate_features > 0 && moderate >= p.moderate_features) {
    std::snprintf(b, sizeof b, "feature drift: %d features with PSI >= %.2f (trigger %d)", moderate,
                  kPsiModerate, p.moderate_features);
    d.reasons.push_back(b);
  }
  if (p.on_performance && perf != nullptr && perf->degraded) {
    for (const auto& r : perf->reasons) d.reasons.push_back("performance: " + r);
  }
  d.retrain = !d.reasons.empty();
  return d;
}

namespace {

ModelScores Score(std::span<const float> p, std::span<const int8_t> y,
                  std::vector<double>* per_row) {
  ModelScores s;
  s.n = p.size();
  for (size_t i = 0; i < p.size(); ++i) {
    const double up = y[i] == models::kUp ? 1.0 : 0.0;
    const double q = std::clamp(static_cast<double>(up > 0 ? p[i] : 1 - p[i]), 1e-15, 1.0);
    const double ll = -std::log(q);
    if (per_row) per_row->push_back(ll);
    s.log_loss += ll;
    s.brier += (p[i] - up) * (p[i] - up);
    s.accuracy += ((p[i] >= 0.5) == (up > 0));
  }
  if (s.n) {
    s.log_loss /= static_cast<double>(s.n);
    s.brier /= static_cast<double>(s.n);
    s.accuracy /= static_cast<double>(s.n);
  }
  return s;
}

std::vector<int8_t> Labels(const models::Dataset& ds, std::span<const size_t> rows) {
  std::vector<int8_t> y;
  for (size_t r : rows) y.push_back(ds.rows[r].label);
  return y;
}

}  // namespace

ModelScores ScoreModel(const models::Ensemble& e, const models::Dataset& ds,
                       std::span<const size_t> rows) {
  const auto p = PredictUp(e, ds, rows);
  const auto y = Labels(ds, rows);
  return Score(p, y, nullptr);
}

std::vector<float> PredictUp(const models::Ensemble& e, const models::Dataset& ds,
                             std::span<const size_t> rows) {
  std::vector<float> out;
  out.reserve(rows.size());
  for (size_t r : rows) out.push_back(e.Predict(ds.Row(r)).proba[models::kUp]);
  return out;
}

Result<ChallengerEvaluation> EvaluateChallenger(std::span<const float> a, std::span<const float> b,
                                                std::span<const int8_t> y,
                                                const PromotionRule& rule) {
  if (a.size() != b.size() || a.size() != y.size()) {
    return Status::InvalidArgument("champion, challenger and labels differ in length",
                                   "challenger_p_up");
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) || std::isnan(b[i])) {
      return Status::InvalidArgument("probability at row " + std::to_string(i) + " is NaN",
                                     std::isnan(a[i]) ? "champion_p_up" : "challenger_p_up");
    }
  }
  if (a.size() < rule.min_rows) {
    return Status::FailedPrecondition("evaluation window has " + std::to_string(a.size()) +
                                          " rows; the rule needs " + std::to_string(rule.min_rows),
                                      "window");
  }
  ChallengerEvaluation ev;
  std::vector<double> la, lb;
  ev.champion = Score(a, y, &la);
  ev.challenger = Score(b, y, &lb);
  std::vector<double> d(la.size());
  for (size_t i = 0; i < d.size(); ++i) d[i] = la[i] - lb[i];
  SINYAL_ASSIGN_OR_RETURN(ev.paired, PairedTTest(d));
  char buf[200];
  const double gain = ev.champion.log_loss - ev.challenger.log_loss;
  bool ok = true;
  if (gain >= rule.min_log_loss_gain) {
    std::snprintf(buf, sizeof buf, "log loss gain %.4f >= %.4f", gain, rule.min_log_loss_gain);
  } else {
    std::snprintf(buf, sizeof buf, "log loss gain %.4f < required %.4f", gain,
                  rule.min_log_loss_gain);
    ok = false;
  }
  ev.reasons.push_back(buf);
  const double dbrier = ev.challenger.brier - ev.champion.brier;
  if (dbrier <= rule.max_brier_increase) {
    std::snprintf(buf, sizeof buf, "Brier %.4f vs champion %.4f: not worse", ev.challenger.brier,
                  ev.champion.brier);
  } else {
    std::snprintf(buf, sizeof buf, "Brier %.4f is worse than champion %.4f by %.4f",
                  ev.challenger.brier, ev.champion.brier, dbrier);
    ok = false;
  }
  ev.reasons.push_back(buf);
  if (ev.paired.p_greater <= rule.max_p_value) {
    std::snprintf(buf, sizeof buf, "paired t-test on per-row log loss: t %.2f, p %.3g <= %.3g",
                  ev.paired.t, ev.paired.p_greater, rule.max_p_value);
  } else {
    std::snprintf(buf, sizeof buf,
                  "paired t-test on per-row log loss: t %.2f, p %.3g > %.3g (not significant)",
                  ev.paired.t, ev.paired.p_greater, rule.max_p_value);
    ok = false;
  }
  ev.reasons.push_back(buf);
  ev.promote = ok;
  return ev;
}

RetrainingController::RetrainingController(models::ModelRegistry& registry, AuditLog& audit,
                                           const Clock& clock, TenantId tenant,
                                           market::SeriesKey series, RetrainingPolicy policy,
                                           PromotionRule promotion, RollbackRule rollback)
    : registry_(registry),
      audit_(audit),
      clock_(clock),
      tenant_(tenant),
      series_(std::move(series)),
      timeframe_(models::KeyTimeframe(series_.timeframe)),
      policy_(policy),
      promotion_(promotion),
      rollback_(rollback) {}

Status RetrainingController::Audit(AuditRecord r) {
  r.time = clock_.Now();
  r.tenant = tenant_;
  r.symbol = series_.symbol;
  r.timeframe = timeframe_;
  auto seq = audit_.Append(std::move(r));
  return seq.status();
}

int64_t RetrainingController::ActiveVersionOrZero() {
  auto v = registry_.ActiveVersion(tenant_, series_, models::kDefaultHorizon);
  return v.ok() ? *v : 0;
}

Result<TriggerDecision> RetrainingController::CheckDrift(const PsiReference& reference,
                                                         std::span<const float> live,
                                                         const PerformanceCheck* perf,
                                                         UnixNanos last_trained_at) {
  SINYAL_ASSIGN_OR_RETURN(auto psi, ComputePsi(reference, live));
  const TriggerDecision d = DecideRetraining(policy_, clock_.Now(), last_trained_at, psi, perf);
  AuditRecord r;
  r.action = AuditAction::kDriftCheck;
  r.champion_version = ActiveVersionOrZero();
  r.decision = d.retrain;
  r.reasons = d.reasons;
  if (!d.retrain) r.reasons.push_back("no trigger: feature PSI and live performance within limits");
  for (const auto& f : psi) r.figures["psi." + f.feature] = f.psi;
  if (perf) {
    r.figures["live.n"] = static_cast<double>(perf->live.n);
    r.figures["live.brier"] = perf->live.brier;
    r.figures["live.hit_rate"] = perf->live.hit_rate;
  }
  SINYAL_RETURN_IF_ERROR(Audit(std::move(r)));
  return d;
}

Result<models::Ensemble> RetrainingController::TrainChallenger(const models::Dataset& ds,
                                                               std::span<const size_t> fit,
                                                               std::span<const size_t> calib,
                                                               const models::TrainConfig& config) {
  const int64_t t0 = clock_.MonotonicNanos();
  SINYAL_ASSIGN_OR_RETURN(auto e, models::Ensemble::Train(ds, fit, calib, config));
  AuditRecord r;
  r.action = AuditAction::kChallengerTrained;
  r.champion_version = ActiveVersionOrZero();
  r.decision = true;
  r.reasons.push_back("trained " + std::to_string(e.num_members()) + " members on " +
                      std::to_string(fit.size()) + " rows from " +
                      FormatIso8601(ds.rows[fit.front()].ts) + " to " +
                      FormatIso8601(ds.rows[fit.back()].ts));
  r.figures["fit_rows"] = static_cast<double>(fit.size());
  r.figures["calib_rows"] = static_cast<double>(calib.size());
  r.figures["train_seconds"] = static_cast<double>(clock_.MonotonicNanos() - t0) / 1e9;
  SINYAL_RETURN_IF_ERROR(Audit(std::move(r)));
  return e;
}

Result<ChallengerEvaluation> RetrainingController::EvaluateAndPromote(
    const models::Ensemble& champion, const models::Ensemble& challenger, models::ModelRecord meta,
    const models::Dataset& ds, std::span<const size_t> window,
    const ValidationFigures& champion_validation) {
  if (meta.symbol != series_.symbol || meta.timeframe != timeframe_) {
    return Status::InvalidArgument("challenger record is for " + meta.symbol + "/" + meta.timeframe,
                                   "challenger_meta");
  }
  const auto y = Labels(ds, window);
  SINYAL_ASSIGN_OR_RETURN(auto ev,
                          EvaluateChallenger(PredictUp(champion, ds, window),
                                             PredictUp(challenger, ds, window), y, promotion_));
  const int64_t champ_v = ActiveVersionOrZero();
  AuditRecord r;
  r.action = AuditAction::kChallengerEvaluated;
  r.champion_version = champ_v;
  r.decision = ev.promote;
  r.reasons = ev.reasons;
  r.reasons.push_back("window: " + std::to_string(window.size()) + " rows from " +
                      FormatIso8601(ds.rows[window.front()].ts) + " to " +
                      FormatIso8601(ds.rows[window.back()].ts) + ", unseen by both models");
  r.figures = {{"champion.log_loss", ev.champion.log_loss},
               {"champion.brier", ev.champion.brier},
               {"champion.accuracy", ev.champion.accuracy},
               {"challenger.log_loss", ev.challenger.log_loss},
               {"challenger.brier", ev.challenger.brier},
               {"challenger.accuracy", ev.challenger.accuracy},
               {"paired.t", ev.paired.t},
               {"paired.p", ev.paired.p_greater},
               {"n", static_cast<double>(ev.champion.n)}};
  SINYAL_RETURN_IF_ERROR(Audit(r));
  if (!ev.promote) {
    AuditRecord rej;
    rej.action = AuditAction::kRejected;
    rej.champion_version = champ_v;
    rej.reasons.push_back("champion kept: the challenger did not meet the promotion rule");
    rej.figures = r.figures;
    SINYAL_RETURN_IF_ERROR(Audit(std::move(rej)));
    return ev;
  }
  meta.metrics["promotion_window"] = {{"log_loss", ev.challenger.log_loss},
                                      {"brier", ev.challenger.brier},
                                      {"accuracy", ev.challenger.accuracy},
                                      {"n", ev.challenger.n}};
  SINYAL_ASSIGN_OR_RETURN(auto rec, registry_.Register(tenant_, challenger, meta));
  SINYAL_RETURN_IF_ERROR(registry_.Activate(tenant_, series_, rec.version));
  old_champion_validation_ = champion_validation;
  old_champion_version_ = champ_v;
  AuditRecord pr;
  pr.action = AuditAction::kPromoted;
  pr.champion_version = champ_v;
  pr.challenger_version = rec.version;
  pr.decision = true;
  pr.reasons.push_back("challenger v" + std::to_string(rec.version) +
                       " registered and activated in place of v" + std::to_string(champ_v));
  pr.figures = r.figures;
  SINYAL_RETURN_IF_ERROR(Audit(std::move(pr)));
  return ev;
}

Result<bool> RetrainingController::CheckAfterPromotion(const models::Ensemble& active,
                                                       const models::Dataset& ds,
                                                       std::span<const size_t> window) {
  if (!old_champion_validation_) {
    return Status::FailedPrecondition("no promotion awaits its check", "promotion");
  }
  if (window.size() < rollback_.min_rows) {
    return Status::FailedPrecondition("window has " + std::to_string(window.size()) +
                                          " rows; need " + std::to_string(rollback_.min_rows),
                                      "window");
  }
  const auto p = PredictUp(active, ds, window);
  const auto y = Labels(ds, window);
  const ModelScores now = Score(p, y, nullptr);
  const ValidationFigures& old = *old_champion_validation_;
  std::vector<std::string> reasons;
  char b[200];
  if (now.log_loss > old.log_loss + rollback_.log_loss_tolerance) {
    std::snprintf(
        b, sizeof b,
        "log loss %.4f on the next window is worse than the old champion's validation %.4f + %.4f",
        now.log_loss, old.log_loss, rollback_.log_loss_tolerance);
    reasons.push_back(b);
  }
  if (now.brier > old.brier + rollback_.brier_tolerance) {
    std::snprintf(b, sizeof b,
                  "Brier %.4f on the next window is worse than the old champion's %.4f + %.4f",
                  now.brier, old.brier, rollback_.brier_tolerance);
    reasons.push_back(b);
  }
  const bool degrade = !reasons.empty();
  const int64_t active_v = ActiveVersionOrZero();
  AuditRecord r;
  r.action = AuditAction::kPostPromotionCheck;
  r.champion_version = active_v;
  r.decision = degrade;
  r.reasons = degrade ? reasons
                      : std::vector<std::string>{"the promoted model holds up on the next window"};
  r.figures = {{"active.log_loss", now.log_loss},
               {"active.brier", now.brier},
               {"old_champion.validation_log_loss", old.log_loss},
               {"old_champion.validation_brier", old.brier},
               {"n", static_cast<double>(now.n)}};
  SINYAL_RETURN_IF_ERROR(Audit(r));
  old_champion_validation_.reset();
  if (!degrade) return false;
  SINYAL_RETURN_IF_ERROR(registry_.Rollback(tenant_, series_, models::kDefaultHorizon));
  AuditRecord rb;
  rb.action = AuditAction::kRolledBack;
  rb.champion_version = ActiveVersionOrZero();
  rb.challenger_version = active_v;
  rb.decision = true;
  rb.reasons = reasons;
  rb.reasons.push_back("rolled back from v" + std::to_string(active_v) + " to v" +
                       std::to_string(rb.champion_version));
  rb.figures = r.figures;
  SINYAL_RETURN_IF_ERROR(Audit(std::move(rb)));
  return true;
}

}  // namespace sinyal::signals
