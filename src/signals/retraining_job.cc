#include "signals/retraining_job.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "core/log.h"
#include "core/time.h"
#include "features/feature_set.h"
#include "market/edge_parse.h"
#include "market/timeframe.h"
#include "models/dataset.h"
#include "models/input_resolver.h"
#include "models/market_adapter.h"
#include "models/registry_key.h"
#include "store/bar_store.h"
#include "store/database.h"
#include "store/feature_set_store.h"
#include "store/soci.h"

namespace sinyal::signals {

using nlohmann::json;

namespace {

bool IsPlatform(TenantId t) { return t == models::kPlatformTenant; }

std::optional<TenantId> Viewer(TenantId owner) {
  if (IsPlatform(owner)) return std::nullopt;
  return owner;
}

std::string Owner(TenantId t) {
  return IsPlatform(t) ? std::string("tenant_id IS NULL")
                       : "tenant_id = " + std::to_string(t.value());
}

std::string Iso(UnixNanos t) { return FormatIso8601(t); }
double Seconds(UnixNanos t) { return static_cast<double>(t / kNanosPerSecond); }
UnixNanos FromSeconds(double s) {
  return static_cast<UnixNanos>(std::llround(s)) * kNanosPerSecond;
}

std::string Fmt(const char* fmt, double a, double b, double c) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, a, b, c);
  return buf;
}

// The walk-forward figures stored with a version (models::ModelService::Train), as validation.
ValidationFigures ValidationOf(const models::ModelRecord& r) {
  ValidationFigures v;
  const json& wf = r.metrics.contains("walk_forward") ? r.metrics["walk_forward"] : json::object();
  if (wf.is_object()) {
    if (wf.contains("brier") && wf["brier"].is_number()) v.brier = wf["brier"].get<double>();
    if (wf.contains("log_loss") && wf["log_loss"].is_number())
      v.log_loss = wf["log_loss"].get<double>();
    if (wf.contains("accuracy") && wf["accuracy"].is_number())
      v.hit_rate = wf["accuracy"].get<double>();
  }
  return v;
}

Result<PsiReference> ReferenceFromJson(const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  PsiReference r;
  try {
    if (j.is_discarded()) throw std::runtime_error("not JSON");
    r.names = j.at("names").get<std::vector<std::string>>();
    r.edges = j.at("edges").get<std::vector<std::vector<double>>>();
    r.expected = j.at("expected").get<std::vector<std::vector<double>>>();
    r.rows = j.at("rows").get<size_t>();
  } catch (const std::exception& e) {
    return Status::DataLoss(std::string("stored PSI reference is unreadable: ") + e.what());
  }
  if (r.edges.size() != r.names.size() || r.expected.size() != r.names.size()) {
    return Status::DataLoss("stored PSI reference has mismatched sizes");
  }
  return r;
}

models::ModelServiceOptions TrainerOptions(models::ModelServiceOptions o, size_t window) {
  o.max_bars = std::max<size_t>(window, 100);
  return o;
}

}  // namespace

json CheckOutcome::ToJson() const {
  return {{"outcome", outcome},
          {"champion_version", champion_version},
          {"challenger_version", challenger_version},
          {"audit_seqs", audit_seqs},
          {"detail", detail}};
}

// Everything one check reads about a series, loaded once.
struct RetrainingService::Series {
  TenantId owner;
  market::SeriesKey key;
  std::vector<market::Bar> bars;
  models::BarColumns cols;
  std::vector<AuditRecord> trail;
  std::vector<int64_t> seqs;                       // appended by this check
  std::map<int64_t, models::FeatureFrame> frames;  // by model version
  std::map<int64_t, models::ModelRecord> records;  // by model version
};

RetrainingService::RetrainingService(store::Database& db, store::BarStore& bars,
                                     store::FeatureSetStore* feature_sets,
                                     models::DbModelRegistry& registry, store::JobQueue* jobs,
                                     const SignalLog* signals, AuditLog& audit, const Clock& clock,
                                     models::ModelServiceOptions model_options,
                                     RetrainingJobOptions options)
    : db_(db),
      bars_(bars),
      feature_sets_(feature_sets),
      registry_(registry),
      jobs_(jobs),
      signals_(signals),
      audit_(audit),
      clock_(clock),
      trainer_(db, bars, feature_sets, registry, nullptr, clock,
               TrainerOptions(std::move(model_options), options.train_window_bars)),
      options_(std::move(options)) {}

Result<int64_t> RetrainingService::EnqueueCheck(TenantId owner, const market::SeriesKey& series,
                                                const std::string& actor) {
  if (jobs_ == nullptr) return Status::Unavailable("no job queue");
  SINYAL_RETURN_IF_ERROR(market::ValidateSymbol(series.symbol));
  const std::string& symbol = series.symbol;
  const std::string timeframe = models::KeyTimeframe(series.timeframe);  // payload text: "H1"
  auto active = registry_.ActiveVersion(owner, series, models::kDefaultHorizon);
  if (!active.ok()) {
    if (active.error().code() == StatusCode::kNotFound) {
      return Status::NotFound(
          "no active model for " + symbol + " " + timeframe + ": train and activate one first",
          "model");
    }
    return active.error();
  }
  json payload = {{"symbol", symbol}, {"timeframe", timeframe}, {"actor", actor}};
  store::JobSpec spec;
  if (!IsPlatform(owner)) spec.tenant = owner;
  spec.kind = kRetrainCheckJobKind;
  spec.payload = payload.dump();
  spec.dedupe_key = "retrain:" + symbol + ":" + timeframe;
  spec.max_attempts = 2;
  return jobs_->Enqueue(spec);
}

Result<size_t> RetrainingService::EnqueueAll() {
  struct Key {
    std::optional<int64_t> tenant;
    std::string symbol, timeframe;
  };
  std::vector<Key> keys;
  SINYAL_RETURN_IF_ERROR(db_.WithReadTx([&](soci::session& sql) -> Status {
    keys.clear();
    soci::rowset<soci::row> rows =
        (sql.prepare << "SELECT tenant_id, symbol, timeframe FROM model_active WHERE horizon = " +
                            std::to_string(models::kDefaultHorizon) +
                            " ORDER BY symbol, timeframe");
    for (const soci::row& row : rows) {
      Key k;
      if (row.get_indicator(0) != soci::i_null) {
        switch (row.get_properties(0).get_data_type()) {
          case soci::dt_integer:
            k.tenant = row.get<int>(0);
            break;
          case soci::dt_long_long:
            k.tenant = row.get<long long>(0);
            break;
          default:
            k.tenant = std::stoll(row.get<std::string>(0));
        }
      }
      k.symbol = row.get<std::string>(1);
      k.timeframe = row.get<std::string>(2);
      keys.push_back(std::move(k));
    }
    return Status::Ok();
  }));
  size_t queued = 0;
  for (const Key& k : keys) {
    const TenantId owner = k.tenant ? TenantId(*k.tenant) : models::kPlatformTenant;
    // The stored row's text, parsed once here.
    auto series = market::ParseSeriesKey(k.symbol, k.timeframe);
    auto id =
        series.ok() ? EnqueueCheck(owner, *series, "schedule") : Result<int64_t>(series.error());
    if (id.ok()) {
      ++queued;
    } else if (id.error().code() != StatusCode::kConflict) {
      LogEvent(
          spdlog::level::warn, "retrain_enqueue_failed",
          {{"symbol", k.symbol}, {"timeframe", k.timeframe}, {"error", id.error().ToString()}});
    }
  }
  return queued;
}

Result<RetrainingService::Series> RetrainingService::LoadSeries(TenantId owner,
                                                                const market::SeriesKey& series) {
  Series s;
  s.owner = owner;
  s.key = series;
  SINYAL_ASSIGN_OR_RETURN(s.trail, audit_.List(owner, series));
  SINYAL_ASSIGN_OR_RETURN(s.bars, bars_.ReadBars(Viewer(owner), series));
  if (s.bars.empty()) {
    return Status::NotFound("no bars for " + models::KeyText(series), "symbol");
  }
  SINYAL_ASSIGN_OR_RETURN(
      s.cols, models::ToBarColumns(series.symbol, models::KeyTimeframe(series.timeframe), s.bars,
                                   std::pow(10.0, -models::InferDigits(s.bars))));
  return s;
}

namespace {

Result<const models::ModelRecord*> RecordOf(models::DbModelRegistry& registry, TenantId owner,
                                            const market::SeriesKey& series, int64_t version,
                                            std::map<int64_t, models::ModelRecord>& cache) {
  auto it = cache.find(version);
  if (it == cache.end()) {
    SINYAL_ASSIGN_OR_RETURN(models::ModelRecord r, registry.GetRecord(owner, series, version));
    if (r.schema.num_classes != 2) {
      return Status::FailedPrecondition("retraining supports binary models; version " +
                                            std::to_string(version) + " has " +
                                            std::to_string(r.schema.num_classes) + " classes",
                                        "neutral");
    }
    it = cache.emplace(version, std::move(r)).first;
  }
  return &it->second;
}

// The model's input rows over the series' bars, through the seam (from the model's anchor, as
// training and the live SignalService compute them).
Result<models::FeatureFrame> ComputeFrame(const models::ModelRecord& rec, TenantId owner,
                                          std::span<const market::Bar> bars,
                                          store::FeatureSetStore* feature_sets) {
  auto frame = models::InputResolver(feature_sets).Rows(owner, rec.schema, bars);
  if (!frame.ok()) return frame.error().WithContext("model version " + std::to_string(rec.version));
  return frame;
}

bool Finite(const float* row, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(row[i])) return false;
  }
  return true;
}

// Rows of `labels` (the dataset of the first model) whose prediction bar is after `after`, with
// finite features in every frame; at most `max_rows`, oldest first.
std::vector<size_t> WindowRows(const models::Dataset& ds, UnixNanos after,
                               const std::vector<const models::FeatureFrame*>& frames,
                               size_t max_rows) {
  std::vector<size_t> out;
  for (size_t i = 0; i < ds.size() && out.size() < max_rows; ++i) {
    const auto& r = ds.rows[i];
    if (r.ts <= after) continue;
    bool ok = true;
    for (const auto* f : frames) ok = ok && Finite(f->Row(r.bar), f->cols());
    if (ok) out.push_back(i);
  }
  return out;
}

std::vector<float> PUp(const models::Ensemble& e, const models::FeatureFrame& f,
                       const models::Dataset& ds, const std::vector<size_t>& rows) {
  std::vector<float> p;
  p.reserve(rows.size());
  for (size_t i : rows) p.push_back(e.Predict(f.Row(ds.rows[i].bar)).proba[models::kUp]);
  return p;
}

// A check that needs `needed` labelled rows after `after` and has `rows` so far.
CheckOutcome Waiting(CheckOutcome o, size_t rows, size_t needed, const std::string& after) {
  o.outcome = "waiting";
  o.detail = std::to_string(rows) + " of " + std::to_string(needed) + " labelled rows after " +
             after + " so far";
  return o;
}

std::map<std::string, double> ScoreFigures(const ChallengerEvaluation& ev, const std::string& a,
                                           const std::string& b) {
  return {{a + ".log_loss", ev.champion.log_loss},
          {a + ".brier", ev.champion.brier},
          {a + ".accuracy", ev.champion.accuracy},
          {b + ".log_loss", ev.challenger.log_loss},
          {b + ".brier", ev.challenger.brier},
          {b + ".accuracy", ev.challenger.accuracy},
          {"paired.t", ev.paired.t},
          {"paired.p", ev.paired.p_greater},
          {"n", static_cast<double>(ev.champion.n)}};
}

}  // namespace

Result<PsiReference> RetrainingService::ReferenceOf(TenantId owner, const market::SeriesKey& series,
                                                    int64_t version) {
  SINYAL_RETURN_IF_ERROR(market::ValidateSymbol(series.symbol));
  const std::string& symbol = series.symbol;
  const std::string timeframe = models::KeyTimeframe(series.timeframe);  // stored text: "H1"
  auto tx = [&](bool read, const std::function<Status(soci::session&)>& fn) {
    if (IsPlatform(owner)) return read ? db_.WithReadTx(fn) : db_.WithTx(fn);
    return read ? db_.WithTenantReadTx(owner, fn) : db_.WithTenantTx(owner, fn);
  };
  std::string stored;
  SINYAL_RETURN_IF_ERROR(tx(true, [&](soci::session& sql) -> Status {
    long long v = version;
    sql << "SELECT reference FROM retraining_references WHERE " + Owner(owner) +
               " AND symbol = :s AND timeframe = :tf AND version = :v",
        soci::use(symbol, "s"), soci::use(timeframe, "tf"), soci::use(v, "v"), soci::into(stored);
    if (!sql.got_data()) stored.clear();
    return Status::Ok();
  }));
  if (!stored.empty()) return ReferenceFromJson(stored);

  // First use: fit it on the features of the version's training rows and store it.
  SINYAL_ASSIGN_OR_RETURN(Series s, LoadSeries(owner, series));
  SINYAL_ASSIGN_OR_RETURN(const models::ModelRecord* rec,
                          RecordOf(registry_, owner, series, version, s.records));
  SINYAL_ASSIGN_OR_RETURN(models::FeatureFrame frame,
                          ComputeFrame(*rec, owner, s.bars, feature_sets_));
  std::vector<float> x;
  for (size_t i = 0; i < frame.rows; ++i) {
    if (s.cols.ts[i] < rec->data_from || s.cols.ts[i] > rec->data_to) continue;
    if (!Finite(frame.Row(i), frame.cols())) continue;
    x.insert(x.end(), frame.Row(i), frame.Row(i) + frame.cols());
  }
  auto ref = FitPsiReference(x, frame.names);
  if (!ref.ok()) {
    return ref.error().WithContext("PSI reference of version " + std::to_string(version) +
                                   " (training bars " + Iso(rec->data_from) + " to " +
                                   Iso(rec->data_to) + " no longer stored?)");
  }
  const ValidationFigures val = ValidationOf(*rec);
  const std::string ref_text = ref->ToJson().dump();
  const std::string val_text =
      json{{"brier", val.brier}, {"log_loss", val.log_loss}, {"hit_rate", val.hit_rate}}.dump();
  Status w = tx(false, [&](soci::session& sql) -> Status {
    long long t = owner.value(), v = version, now = clock_.Now();
    soci::indicator ti = IsPlatform(owner) ? soci::i_null : soci::i_ok;
    sql << "INSERT INTO retraining_references (tenant_id, symbol, timeframe, version, reference, "
           "validation, created_at) VALUES (:t, :s, :tf, :v, :r, :val, :c)",
        soci::use(t, ti, "t"), soci::use(symbol, "s"), soci::use(timeframe, "tf"),
        soci::use(v, "v"), soci::use(ref_text, "r"), soci::use(val_text, "val"),
        soci::use(now, "c");
    return Status::Ok();
  });
  // AlreadyExists: a concurrent check stored the same (deterministic) reference first.
  if (!w.ok() && w.code() != StatusCode::kAlreadyExists) return w;
  return ref;
}

Result<int64_t> RetrainingService::Record(Series& s, AuditRecord r) {
  r.tenant = s.owner;
  r.symbol = s.key.symbol;
  r.timeframe = models::KeyTimeframe(s.key.timeframe);
  r.time = clock_.Now();
  SINYAL_ASSIGN_OR_RETURN(int64_t seq, audit_.Append(std::move(r)));
  s.seqs.push_back(seq);
  return seq;
}

Result<CheckOutcome> RetrainingService::RunCheck(TenantId owner, const market::SeriesKey& series,
                                                 const store::JobWorker::ProgressFn& progress) {
  SINYAL_RETURN_IF_ERROR(market::ValidateSymbol(series.symbol));
  auto report = [&](double f, std::string_view stage) {
    if (progress) progress(f, stage);
  };
  auto active = registry_.ActiveVersion(owner, series, models::kDefaultHorizon);
  if (!active.ok()) {
    if (active.error().code() != StatusCode::kNotFound) return active.error();
    CheckOutcome o;
    o.outcome = "no_model";
    o.detail = "no active model for " + models::KeyText(series);
    return o;
  }
  report(0.02, "loading bars and the audit trail");
  SINYAL_ASSIGN_OR_RETURN(Series s, LoadSeries(owner, series));
  // What is pending, from the trail (see the header).
  std::optional<AuditRecord> pending_challenger, pending_promotion;
  for (const AuditRecord& r : s.trail) {
    switch (r.action) {
      case AuditAction::kChallengerTrained:
        if (r.decision && r.challenger_version > 0) pending_challenger = r;
        break;
      case AuditAction::kPromoted:
        pending_challenger.reset();
        pending_promotion = r;
        break;
      case AuditAction::kRejected:
        pending_challenger.reset();
        break;
      case AuditAction::kPostPromotionCheck:
        pending_promotion.reset();
        break;
      default:
        break;
    }
  }
  Result<CheckOutcome> out = Status::Internal("unreachable");
  if (pending_promotion) {
    report(0.1, "checking the promoted model on new bars");
    out = PostPromotionCheck(s, *pending_promotion, *active);
  } else if (pending_challenger) {
    report(0.1, "evaluating the challenger against the champion");
    out = EvaluateChallenger(s, *pending_challenger, *active);
  } else {
    report(0.1, "drift check");
    out = DriftCheck(s, *active, progress);
  }
  if (out.ok()) out->audit_seqs = s.seqs;
  return out;
}

Result<std::string> RetrainingService::RunCheckJob(const store::Job& job,
                                                   const store::JobWorker::ProgressFn& progress) {
  auto payload = json::parse(job.payload, nullptr, false);
  if (payload.is_discarded() || !payload.is_object() || !payload.contains("symbol") ||
      !payload["symbol"].is_string() || !payload.contains("timeframe") ||
      !payload["timeframe"].is_string()) {
    return Status::InvalidArgument("bad retrain_check payload", "payload");
  }
  const TenantId owner = job.tenant.value_or(models::kPlatformTenant);
  // The payload is text (EnqueueCheck wrote "EURUSD", "H1"): parsed once here.
  SINYAL_ASSIGN_OR_RETURN(market::SeriesKey series,
                          market::ParseSeriesKey(payload["symbol"].get<std::string>(),
                                                 payload["timeframe"].get<std::string>()));
  SINYAL_ASSIGN_OR_RETURN(CheckOutcome o, RunCheck(owner, series, progress));
  LogEvent(spdlog::level::info, "retrain_check",
           {{"owner", owner.value()},
            {"symbol", payload["symbol"]},
            {"timeframe", payload["timeframe"]},
            {"outcome", o.outcome},
            {"detail", o.detail}});
  return o.ToJson().dump();
}

Result<CheckOutcome> RetrainingService::DriftCheck(Series& s, int64_t active,
                                                   const store::JobWorker::ProgressFn& progress) {
  CheckOutcome o;
  o.champion_version = active;
  SINYAL_ASSIGN_OR_RETURN(const models::ModelRecord* rec,
                          RecordOf(registry_, s.owner, s.key, active, s.records));
  SINYAL_ASSIGN_OR_RETURN(PsiReference ref, ReferenceOf(s.owner, s.key, active));
  SINYAL_ASSIGN_OR_RETURN(models::FeatureFrame frame,
                          ComputeFrame(*rec, s.owner, s.bars, feature_sets_));
  // The newest drift.window complete feature rows, in time order, and the version's training rows.
  const size_t window = options_.drift.window;
  std::vector<size_t> rows;
  for (size_t i = frame.rows; i-- > 0 && rows.size() < window;) {
    if (Finite(frame.Row(i), frame.cols())) rows.push_back(i);
  }
  std::reverse(rows.begin(), rows.end());
  std::vector<float> live;
  for (size_t i : rows) live.insert(live.end(), frame.Row(i), frame.Row(i) + frame.cols());
  std::vector<float> train;
  for (size_t i = 0; i < frame.rows; ++i) {
    if (s.cols.ts[i] < rec->data_from || s.cols.ts[i] > rec->data_to) continue;
    if (Finite(frame.Row(i), frame.cols()))
      train.insert(train.end(), frame.Row(i), frame.Row(i) + frame.cols());
  }

  std::optional<PerformanceCheck> perf;
  if (signals_ != nullptr) {
    SINYAL_ASSIGN_OR_RETURN(
        std::vector<StoredSignal> resolved,
        signals_->RecentResolved(s.owner, s.key, ModelVersionName(s.owner, s.key, active),
                                 options_.live_signals));
    if (!resolved.empty()) {
      perf = CheckPerformance(ComputeLivePerformance(resolved), ValidationOf(*rec),
                              options_.tolerance);
    }
  }
  SINYAL_ASSIGN_OR_RETURN(std::vector<FeaturePsi> psi, ComputePsi(ref, live));
  AuditRecord dc;
  dc.action = AuditAction::kDriftCheck;
  dc.champion_version = active;
  for (const auto& f : psi) dc.figures["psi." + f.feature] = f.psi;
  dc.figures["psi_window"] = static_cast<double>(rows.size());
  // Schedule and live performance: DecideRetraining without its fixed PSI levels.
  RetrainingPolicy base = options_.policy;
  base.on_significant_psi = false;
  base.moderate_features = 0;
  TriggerDecision d =
      DecideRetraining(base, clock_.Now(), rec->created_at, {}, perf ? &*perf : nullptr);
  // Features: each against its own null threshold from the training rows.
  auto null = FitPsiNull(ref, train, options_.drift);
  if (null.ok()) {
    const FeatureDriftVerdict v = JudgeFeatureDrift(psi, *null, options_.drift);
    for (size_t j = 0; j < psi.size() && j < null->threshold.size(); ++j) {
      dc.figures["psi_threshold." + psi[j].feature] = null->threshold[j];
    }
    dc.figures["features_above"] = v.above;
    d.reasons.insert(d.reasons.begin(), v.reasons.begin(), v.reasons.end());
  } else {
    // Too few training rows for the null: the fixed levels, said so.
    RetrainingPolicy fixed = options_.policy;
    fixed.schedule_every = 0;
    fixed.on_performance = false;
    const TriggerDecision f = DecideRetraining(fixed, clock_.Now(), rec->created_at, psi, nullptr);
    for (const auto& why : f.reasons)
      d.reasons.insert(d.reasons.begin(),
                       why + " (fixed PSI levels: " + null.error().message() + ")");
  }
  d.retrain = !d.reasons.empty();
  if (perf) {
    dc.figures["live.n"] = static_cast<double>(perf->live.n);
    dc.figures["live.brier"] = perf->live.brier;
    dc.figures["live.hit_rate"] = perf->live.hit_rate;
  }
  // Cooldown after the last rejection or rollback.
  std::string cooldown;
  for (auto it = s.trail.rbegin(); it != s.trail.rend(); ++it) {
    if (it->action != AuditAction::kRejected && it->action != AuditAction::kRolledBack) continue;
    const auto fig = [&](const char* k) -> std::optional<double> {
      auto f = it->figures.find(k);
      if (f == it->figures.end() || !std::isfinite(f->second)) return std::nullopt;
      return f->second;
    };
    const UnixNanos mark = fig("last_bar_s")    ? FromSeconds(*fig("last_bar_s"))
                           : fig("window_to_s") ? FromSeconds(*fig("window_to_s"))
                                                : it->time;
    size_t since = 0;
    for (auto b = s.bars.rbegin(); b != s.bars.rend() && b->time() > mark; ++b) ++since;
    const int64_t elapsed = clock_.Now() - it->time;
    const bool bars_left = since < options_.cooldown_bars;
    const bool time_left =
        options_.cooldown_seconds > 0 && elapsed < options_.cooldown_seconds * kNanosPerSecond;
    if (bars_left || time_left) {
      cooldown = "cooldown: " + std::string(AuditActionName(it->action)) + " (seq " +
                 std::to_string(it->seq) + ") " + std::to_string(since) + " bars and " +
                 std::to_string(elapsed / kNanosPerSecond) + " s ago; no new challenger before " +
                 std::to_string(options_.cooldown_bars) + " bars" +
                 (options_.cooldown_seconds > 0
                      ? " and " + std::to_string(options_.cooldown_seconds) + " s"
                      : "");
      dc.figures["cooldown.bars_since"] = static_cast<double>(since);
      dc.figures["cooldown.seconds_since"] = static_cast<double>(elapsed / kNanosPerSecond);
    }
    break;
  }
  const bool cooled = d.retrain && !cooldown.empty();
  dc.decision = d.retrain && !cooled;
  if (cooled) {
    dc.reasons = {cooldown};
    for (const auto& why : d.reasons) dc.reasons.push_back("would retrain on: " + why);
  } else {
    dc.reasons = d.reasons;
    if (!d.retrain)
      dc.reasons.push_back("no trigger: feature PSI and live performance within limits");
  }
  SINYAL_RETURN_IF_ERROR(Record(s, std::move(dc)).status());
  if (cooled) {
    o.outcome = "cooldown";
    o.detail = cooldown;
    return o;
  }
  if (!d.retrain) {
    o.outcome = "drift_checked";
    o.detail = "no trigger";
    return o;
  }

  // Train a challenger through the models service on the newest bars; not activated.
  if (progress) progress(0.15, "training a challenger");
  models::TrainRequest req;
  req.series = s.key;
  req.overrides = options_.challenger_overrides;
  req.activate = false;
  req.actor = "retraining";
  auto trained = trainer_.Train(s.owner, req, [&](double f, std::string_view stage) {
    if (progress) progress(0.15 + 0.8 * f, stage);
  });
  AuditRecord r;
  r.action = AuditAction::kChallengerTrained;
  r.champion_version = active;
  if (!trained.ok()) {
    r.decision = false;
    r.reasons = {"training the challenger failed: " + trained.error().ToString()};
    SINYAL_RETURN_IF_ERROR(Record(s, std::move(r)).status());
    return trained.error().WithContext("challenger training");
  }
  const models::ModelRecord& c = trained->record;
  // Its PSI reference, once, now that its training rows are known.
  SINYAL_RETURN_IF_ERROR(ReferenceOf(s.owner, s.key, c.version).status());
  r.challenger_version = c.version;
  r.decision = true;
  r.reasons = {"trained v" + std::to_string(c.version) +
                   " through the models service on the newest " + std::to_string(trained->bars) +
                   " bars (rows " + Iso(c.data_from) + " to " + Iso(c.data_to) + "); not activated",
               "evaluation waits for " + std::to_string(options_.promotion.min_rows) +
                   " labelled rows after " + Iso(std::max(c.data_to, rec->data_to)) +
                   ", unseen by both models"};
  r.figures = {{"bars", static_cast<double>(trained->bars)},
               {"train_seconds", trained->train_seconds},
               {"total_seconds", trained->total_seconds},
               {"data_from_s", Seconds(c.data_from)},
               {"data_to_s", Seconds(c.data_to)}};
  const ValidationFigures cv = ValidationOf(c);
  r.figures["walk_forward.log_loss"] = cv.log_loss;
  r.figures["walk_forward.brier"] = cv.brier;
  r.figures["walk_forward.accuracy"] = cv.hit_rate;
  SINYAL_RETURN_IF_ERROR(Record(s, std::move(r)).status());
  o.outcome = "challenger_trained";
  o.challenger_version = c.version;
  o.detail = "challenger v" + std::to_string(c.version) + " registered, awaiting evaluation";
  return o;
}

// Two versions scored on the same rows: the labelled rows after `after` (labelled with the first
// version's horizon and dead band) where both versions' inputs are finite, at most
// max_window_rows, oldest first. Below `min_rows` rows nothing is loaded or scored.
struct RetrainingService::PairedWindow {
  bool scored = false;
  size_t rows = 0;
  std::vector<float> p_first, p_second;  // P(up) of each version per row
  std::vector<int8_t> labels;
  UnixNanos from = 0, to = 0;  // the first and last row's time
};

Result<RetrainingService::PairedWindow> RetrainingService::Paired(Series& s,
                                                                  const models::ModelRecord& first,
                                                                  const models::ModelRecord& second,
                                                                  UnixNanos after,
                                                                  size_t min_rows) {
  SINYAL_ASSIGN_OR_RETURN(models::FeatureFrame f1,
                          ComputeFrame(first, s.owner, s.bars, feature_sets_));
  SINYAL_ASSIGN_OR_RETURN(models::FeatureFrame f2,
                          ComputeFrame(second, s.owner, s.bars, feature_sets_));
  models::LabelConfig lc;
  lc.horizon = first.schema.horizon;
  lc.dead_band = first.schema.dead_band;
  lc.neutral = models::NeutralMode::kExclude;
  SINYAL_ASSIGN_OR_RETURN(models::Dataset ds, models::BuildDataset(s.cols, f1, lc, 1));
  const auto rows = WindowRows(ds, after, {&f1, &f2}, options_.max_window_rows);
  PairedWindow w;
  w.rows = rows.size();
  if (rows.size() < min_rows || rows.empty()) return w;
  SINYAL_ASSIGN_OR_RETURN(models::Ensemble e1, registry_.Load(s.owner, s.key, first.version));
  SINYAL_ASSIGN_OR_RETURN(models::Ensemble e2, registry_.Load(s.owner, s.key, second.version));
  w.scored = true;
  w.p_first = PUp(e1, f1, ds, rows);
  w.p_second = PUp(e2, f2, ds, rows);
  for (size_t i : rows) w.labels.push_back(ds.rows[i].label);
  w.from = ds.rows[rows.front()].ts;
  w.to = ds.rows[rows.back()].ts;
  return w;
}

Result<CheckOutcome> RetrainingService::EvaluateChallenger(Series& s, const AuditRecord& trained,
                                                           int64_t active) {
  CheckOutcome o;
  const int64_t x = trained.challenger_version;
  o.champion_version = active;
  o.challenger_version = x;
  if (active == x) {
    AuditRecord r;
    r.action = AuditAction::kRejected;
    r.champion_version = active;
    r.challenger_version = x;
    r.reasons = {"v" + std::to_string(x) + " was activated outside retraining; nothing to decide"};
    SINYAL_RETURN_IF_ERROR(Record(s, std::move(r)).status());
    o.outcome = "superseded";
    o.detail = "the challenger is already active";
    return o;
  }
  SINYAL_ASSIGN_OR_RETURN(const models::ModelRecord* champ,
                          RecordOf(registry_, s.owner, s.key, active, s.records));
  SINYAL_ASSIGN_OR_RETURN(const models::ModelRecord* chal,
                          RecordOf(registry_, s.owner, s.key, x, s.records));
  if (champ->schema.horizon != chal->schema.horizon) {
    AuditRecord r;
    r.action = AuditAction::kRejected;
    r.champion_version = active;
    r.challenger_version = x;
    r.reasons = {"the challenger's horizon (" + std::to_string(chal->schema.horizon) +
                 " bars) differs from the champion's (" + std::to_string(champ->schema.horizon) +
                 "): they cannot be scored on the same labels"};
    SINYAL_RETURN_IF_ERROR(Record(s, std::move(r)).status());
    o.outcome = "rejected";
    o.detail = "horizons differ";
    return o;
  }
  const UnixNanos after = std::max(champ->data_to, chal->data_to);
  SINYAL_ASSIGN_OR_RETURN(PairedWindow w,
                          Paired(s, *champ, *chal, after, options_.promotion.min_rows));
  if (!w.scored) return Waiting(std::move(o), w.rows, options_.promotion.min_rows, Iso(after));
  SINYAL_ASSIGN_OR_RETURN(
      ChallengerEvaluation ev,
      signals::EvaluateChallenger(w.p_first, w.p_second, w.labels, options_.promotion));
  AuditRecord e;
  e.action = AuditAction::kChallengerEvaluated;
  e.champion_version = active;
  e.challenger_version = x;
  e.decision = ev.promote;
  e.reasons = ev.reasons;
  e.reasons.push_back("window: " + std::to_string(w.rows) + " rows from " + Iso(w.from) + " to " +
                      Iso(w.to) + ", after both models' training data (" + Iso(after) + ")");
  e.figures = ScoreFigures(ev, "champion", "challenger");
  e.figures["window_from_s"] = Seconds(w.from);
  e.figures["window_to_s"] = Seconds(w.to);
  SINYAL_RETURN_IF_ERROR(Record(s, e).status());
  AuditRecord d;
  d.champion_version = active;
  d.challenger_version = x;
  d.figures = e.figures;
  if (!ev.promote) {
    d.figures["last_bar_s"] = Seconds(s.bars.back().time());  // the cooldown counts bars from here
    d.action = AuditAction::kRejected;
    d.reasons = {"champion v" + std::to_string(active) + " kept: challenger v" + std::to_string(x) +
                 " did not meet the promotion rule"};
    SINYAL_RETURN_IF_ERROR(Record(s, std::move(d)).status());
    o.outcome = "rejected";
    o.detail = "champion v" + std::to_string(active) + " kept";
    return o;
  }
  SINYAL_RETURN_IF_ERROR(registry_.ActivateAs(s.owner, s.key, x, "retraining"));
  d.action = AuditAction::kPromoted;
  d.decision = true;
  d.reasons = {"challenger v" + std::to_string(x) + " activated in place of v" +
               std::to_string(active) + "; it is checked again on the rows after " + Iso(w.to)};
  SINYAL_RETURN_IF_ERROR(Record(s, std::move(d)).status());
  o.outcome = "promoted";
  o.detail = "v" + std::to_string(x) + " is active";
  return o;
}

Result<CheckOutcome> RetrainingService::PostPromotionCheck(Series& s, const AuditRecord& promoted,
                                                           int64_t active) {
  CheckOutcome o;
  const int64_t p = promoted.challenger_version, c = promoted.champion_version;
  o.champion_version = active;
  o.challenger_version = p;
  if (active != p) {
    AuditRecord r;
    r.action = AuditAction::kPostPromotionCheck;
    r.champion_version = active;
    r.challenger_version = p;
    r.reasons = {"superseded: v" + std::to_string(active) + " was activated after v" +
                 std::to_string(p) + "'s promotion; no check"};
    SINYAL_RETURN_IF_ERROR(Record(s, std::move(r)).status());
    o.outcome = "superseded";
    o.detail = "the promoted version is no longer active";
    return o;
  }
  auto wt = promoted.figures.find("window_to_s");
  if (wt == promoted.figures.end() || !std::isfinite(wt->second)) {
    return Status::DataLoss("promotion record " + std::to_string(promoted.seq) +
                            " lacks window_to_s");
  }
  const UnixNanos after = FromSeconds(wt->second);
  SINYAL_ASSIGN_OR_RETURN(const models::ModelRecord* prec,
                          RecordOf(registry_, s.owner, s.key, p, s.records));
  SINYAL_ASSIGN_OR_RETURN(const models::ModelRecord* crec,
                          RecordOf(registry_, s.owner, s.key, c, s.records));
  // The previous champion (first: the labels are its) against the promoted version, same rows.
  SINYAL_ASSIGN_OR_RETURN(PairedWindow w,
                          Paired(s, *crec, *prec, after, options_.rollback.min_rows));
  if (!w.scored) {
    return Waiting(std::move(o), w.rows, options_.rollback.min_rows,
                   "the promotion window (" + Iso(after) + ")");
  }
  PromotionRule scoring;  // only the scores and the paired test are used here
  scoring.min_rows = options_.rollback.min_rows;
  SINYAL_ASSIGN_OR_RETURN(ChallengerEvaluation ev,
                          signals::EvaluateChallenger(w.p_first, w.p_second, w.labels, scoring));
  const ModelScores& now = ev.challenger;  // the promoted model
  const ModelScores& prev = ev.champion;   // the previous champion on the same rows
  std::vector<std::string> reasons;
  const RollbackRule& rule = options_.rollback;
  if (now.log_loss > prev.log_loss + rule.log_loss_tolerance) {
    reasons.push_back(
        Fmt("log loss %.4f on the rows after the promotion is worse than the previous "
            "champion's %.4f on the same rows by more than %.3f",
            now.log_loss, prev.log_loss, rule.log_loss_tolerance));
  }
  if (now.brier > prev.brier + rule.brier_tolerance) {
    reasons.push_back(
        Fmt("Brier %.4f on the rows after the promotion is worse than the previous "
            "champion's %.4f by more than %.3f",
            now.brier, prev.brier, rule.brier_tolerance));
  }
  AuditRecord r;
  r.action = AuditAction::kPostPromotionCheck;
  r.champion_version = p;
  r.challenger_version = c;
  r.figures = ScoreFigures(ev, "previous", "promoted");
  r.figures["window_from_s"] = Seconds(w.from);
  r.figures["window_to_s"] = Seconds(w.to);
  // Live performance of the promoted version's resolved signals against its promotion figures.
  if (signals_ != nullptr) {
    SINYAL_ASSIGN_OR_RETURN(
        std::vector<StoredSignal> resolved,
        signals_->RecentResolved(s.owner, s.key, ModelVersionName(s.owner, s.key, p),
                                 options_.live_signals));
    if (!resolved.empty()) {
      ValidationFigures v;
      auto get = [&](const char* k, double d) {
        auto it = promoted.figures.find(k);
        return it != promoted.figures.end() && std::isfinite(it->second) ? it->second : d;
      };
      v.brier = get("challenger.brier", v.brier);
      v.log_loss = get("challenger.log_loss", v.log_loss);
      v.hit_rate = get("challenger.accuracy", v.hit_rate);
      const PerformanceCheck pc =
          CheckPerformance(ComputeLivePerformance(resolved), v, options_.tolerance);
      r.figures["live.n"] = static_cast<double>(pc.live.n);
      r.figures["live.brier"] = pc.live.brier;
      r.figures["live.hit_rate"] = pc.live.hit_rate;
      if (pc.degraded) {
        for (const auto& why : pc.reasons) reasons.push_back("live signals: " + why);
      }
    }
  }
  const bool degraded = !reasons.empty();
  r.decision = degraded;
  r.reasons = degraded
                  ? reasons
                  : std::vector<std::string>{"v" + std::to_string(p) + " holds up on " +
                                             std::to_string(w.rows) + " rows after its promotion"};
  SINYAL_RETURN_IF_ERROR(Record(s, r).status());
  if (!degraded) {
    o.outcome = "kept";
    o.detail = "the promoted model holds up";
    return o;
  }
  SINYAL_ASSIGN_OR_RETURN(
      int64_t now_active,
      registry_.RollbackAs(s.owner, s.key, models::kDefaultHorizon, "retraining"));
  AuditRecord rb;
  rb.action = AuditAction::kRolledBack;
  rb.champion_version = now_active;
  rb.challenger_version = p;
  rb.decision = true;
  rb.reasons = reasons;
  rb.reasons.push_back("rolled back from v" + std::to_string(p) + " to v" +
                       std::to_string(now_active));
  rb.figures = r.figures;
  rb.figures["last_bar_s"] = Seconds(s.bars.back().time());  // the cooldown counts bars from here
  SINYAL_RETURN_IF_ERROR(Record(s, std::move(rb)).status());
  o.outcome = "rolled_back";
  o.champion_version = now_active;
  o.detail = "v" + std::to_string(now_active) + " is active again";
  return o;
}

RetrainScheduler::RetrainScheduler(RetrainingService& service, std::chrono::milliseconds period,
                                   std::function<void()> after_enqueue)
    : service_(service), period_(period), after_enqueue_(std::move(after_enqueue)) {}

RetrainScheduler::~RetrainScheduler() { Stop(); }

void RetrainScheduler::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void RetrainScheduler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RetrainScheduler::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    auto n = service_.EnqueueAll();
    if (!n.ok()) {
      LogEvent(spdlog::level::warn, "retrain_schedule_failed", {{"error", n.error().ToString()}});
    } else if (*n > 0) {
      LogEvent(spdlog::level::info, "retrain_checks_queued", {{"count", *n}});
      if (after_enqueue_) after_enqueue_();
    }
    rounds_.fetch_add(1);
    lock.lock();
    cv_.wait_for(lock, period_, [this] { return stop_; });
  }
}

}  // namespace sinyal::signals
