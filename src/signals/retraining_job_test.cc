// The retrain_check job on SQLite and PostgreSQL, through the real models service, database
// registry, bar store, job queue and DbAuditLog. Synthetic H1 bars whose returns follow an AR(1)
// process: phase A trends (next return has the sign of the last, phi = +0.5), phase B reverts
// (phi = -0.5) with doubled volatility. Checks run as bars arrive:
//   A only       -> drift check, no trigger
//   + B          -> drift (PSI of volatility features), challenger trained on B, not active
//   + more B     -> champion and challenger scored on the same new rows: promoted
//   + A again    -> the promoted model is worse than the old one on the new rows: rolled back
// and a second scenario where only the volatility changes: the challenger does not win, and the
// champion stays. A third shows the live-performance trigger from resolved signals.
#include "signals/retraining_job.h"

#include <cmath>
#include <cstdio>
#include <random>

#include "market/bar.h"
#include "market/edge_parse.h"
#include "signals/db_audit_log.h"
#include "store/bar_store.h"
#include "store/soci.h"
#include "store/testing/test_db.h"

namespace sinyal::signals {
namespace {

using nlohmann::json;

using ::sinyal::store::testing::CreateTenant;

// AR(1) log returns r_t = phi r_{t-1} + sigma e_t, hourly bars from `state`.
struct Phase {
  size_t bars;
  double phi, sigma;
};
struct Stream {
  std::mt19937_64 rng{7};
  double price = 1.1, last_r = 0;
  UnixNanos t = 1'577'836'800LL * kNanosPerSecond;  // 2020-01-01
  std::vector<market::Bar> Next(const Phase& ph) {
    std::normal_distribution<double> z(0, 1);
    std::vector<market::Bar> out;
    auto round5 = [](double x) { return std::round(x * 1e5) / 1e5; };
    for (size_t i = 0; i < ph.bars; ++i) {
      const double r = ph.phi * last_r + ph.sigma * z(rng);
      const double o = round5(price), c = round5(price * std::exp(r));
      const double wick = std::fabs(z(rng)) * ph.sigma * 0.3 * price;
      const double h = round5(std::max(o, c) + wick), l = round5(std::min(o, c) - wick);
      out.push_back(market::Bar::Create(t, o, h, l, c, 100 + i % 7, 8).value());
      price *= std::exp(r);
      last_r = r;
      t += kNanosPerHour;
    }
    return out;
  }
};

std::vector<std::string> Actions(const std::vector<AuditRecord>& v) {
  std::vector<std::string> a;
  for (const auto& r : v) a.push_back(std::string(AuditActionName(r.action)));
  return a;
}

class RetrainingJobTest : public store::testing::DbTest {
 protected:
  void SetUp() override {
    DbTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    a_ = CreateTenant(db(), "a");
    bars_ = std::make_unique<store::BarStore>(db(), clock_);
    registry_ = std::make_unique<models::DbModelRegistry>(db(), clock_);
    jobs_ = std::make_unique<store::JobQueue>(db(), clock_);
    audit_ = std::make_unique<DbAuditLog>(db());
    const models::ModelServiceOptions mo{.code_version = "test", .report_folds = 2, .nthread = 1};
    models_ = std::make_unique<models::ModelService>(db(), *bars_, nullptr, *registry_, jobs_.get(),
                                                     clock_, mo);
    RetrainingJobOptions ro;
    ro.train_window_bars = 4000;
    retraining_ = std::make_unique<RetrainingService>(
        db(), *bars_, nullptr, *registry_, jobs_.get(), &signals_, *audit_, clock_, mo, ro);
  }
  void Append(const Phase& ph) {
    auto b = stream_.Next(ph);
    ASSERT_OK(
        bars_->Import(store::SeriesOwner::Tenant(a_), {"SYN", market::Timeframe::kH1}, b, {}));
    clock_.Advance(static_cast<int64_t>(ph.bars) * kNanosPerHour);
  }
  void TrainChampion() {
    ASSERT_OK(models_->PutConfig(a_, {"SYN", market::Timeframe::kH1},
                                 {{"trees", 30}, {"feature_set", "basic"}}));
    auto s = models_->Train(
        a_, {.series = {"SYN", market::Timeframe::kH1}, .activate = true, .actor = "test"});
    ASSERT_OK(s);
    ASSERT_EQ(s->record.version, 1);
  }
  int64_t Active() {
    return registry_->ActiveVersion(a_, {"SYN", market::Timeframe::kH1}, 1).value();
  }
  std::vector<AuditRecord> Trail() {
    return audit_->List(a_, {"SYN", market::Timeframe::kH1}).value();
  }

  ManualClock clock_{1'700'000'000LL * kNanosPerSecond};
  TenantId a_;
  Stream stream_;
  InMemorySignalLog signals_;
  std::unique_ptr<store::BarStore> bars_;
  std::unique_ptr<models::DbModelRegistry> registry_;
  std::unique_ptr<store::JobQueue> jobs_;
  std::unique_ptr<DbAuditLog> audit_;
  std::unique_ptr<models::ModelService> models_;
  std::unique_ptr<RetrainingService> retraining_;
};

TEST_P(RetrainingJobTest, RelationshipChangeDriftChallengerPromotionAndRollback) {
  Append({4000, +0.5, 0.001});
  TrainChampion();
  EXPECT_EQ(
      retraining_->RunCheck(CreateTenant(db(), "b"), market::ParseSeriesKey("syn", "h1").value())
          ->outcome,
      "no_model");

  // 1. Same regime: the drift check finds nothing.
  auto c1 = retraining_->RunCheck(a_, {"SYN", market::Timeframe::kH1});
  ASSERT_OK(c1);
  EXPECT_EQ(c1->outcome, "drift_checked") << c1->detail;
  // The reference of v1 was computed once and stored.
  auto ref = retraining_->ReferenceOf(a_, {"SYN", market::Timeframe::kH1}, 1);
  ASSERT_OK(ref);
  EXPECT_GT(ref->rows, 3000u);

  // 2. The relationship flips and volatility doubles: drift -> challenger, through the job queue.
  Append({4000, -0.5, 0.002});
  auto job = retraining_->EnqueueCheck(a_, {"SYN", market::Timeframe::kH1}, "test");
  ASSERT_OK(job);
  EXPECT_EQ(retraining_->EnqueueCheck(a_, {"SYN", market::Timeframe::kH1}, "test").status().code(),
            StatusCode::kConflict);
  store::JobWorker worker(*jobs_, {.worker_id = "test"});
  worker.Register(kRetrainCheckJobKind,
                  [&](const store::Job& j, const store::JobWorker::ProgressFn& p) {
                    return retraining_->RunCheckJob(j, p);
                  });
  ASSERT_TRUE(*worker.RunOnce());
  auto done = jobs_->Get(a_, *job);
  ASSERT_OK(done);
  ASSERT_EQ(done->status, store::JobStatus::kSucceeded) << done->error;
  auto result = json::parse(done->result);
  EXPECT_EQ(result["outcome"], "challenger_trained");
  EXPECT_EQ(result["challenger_version"], 2);
  EXPECT_EQ(Active(), 1);  // registered, not active
  ASSERT_OK(retraining_->ReferenceOf(a_, {"SYN", market::Timeframe::kH1}, 2));

  // 3. No bars after both models' data yet: waiting, nothing recorded.
  const size_t before = Trail().size();
  auto w = retraining_->RunCheck(a_, {"SYN", market::Timeframe::kH1});
  ASSERT_OK(w);
  EXPECT_EQ(w->outcome, "waiting");
  EXPECT_EQ(Trail().size(), before);

  // 4. New bars of the new regime: both scored on the same rows; the challenger wins.
  Append({600, -0.5, 0.002});
  auto p = retraining_->RunCheck(a_, {"SYN", market::Timeframe::kH1});
  ASSERT_OK(p);
  EXPECT_EQ(p->outcome, "promoted") << p->detail;
  EXPECT_EQ(Active(), 2);
  EXPECT_EQ(retraining_->RunCheck(a_, {"SYN", market::Timeframe::kH1})->outcome, "waiting");

  // 5. The old relationship returns: the promoted model degrades against v1 -> rollback.
  Append({600, +0.5, 0.002});
  auto rb = retraining_->RunCheck(a_, {"SYN", market::Timeframe::kH1});
  ASSERT_OK(rb);
  EXPECT_EQ(rb->outcome, "rolled_back") << rb->detail;
  EXPECT_EQ(Active(), 1);

  const auto trail = Trail();
  // The trail as the API shows it (docs/signals.md quotes these figures).
  for (const auto& r : trail) std::printf("trail: %s\n", r.ToJson().dump().c_str());
  EXPECT_EQ(Actions(trail),
            (std::vector<std::string>{"drift_check", "drift_check", "challenger_trained",
                                      "challenger_evaluated", "promoted", "post_promotion_check",
                                      "rolled_back"}));
  for (size_t i = 0; i < trail.size(); ++i) EXPECT_EQ(trail[i].seq, static_cast<int64_t>(i + 1));
  EXPECT_FALSE(trail[0].decision);
  EXPECT_TRUE(trail[1].decision);
  double max_psi = 0;
  for (const auto& [k, v] : trail[1].figures) {
    if (k.rfind("psi.", 0) == 0) max_psi = std::max(max_psi, v);
  }
  EXPECT_GE(max_psi, kPsiSignificant);
  EXPECT_EQ(trail[2].challenger_version, 2);
  EXPECT_EQ(trail[2].figures.at("bars"), 4000);
  // Same window for both, unseen by both; the old model is now clearly wrong.
  const auto& ev = trail[3];
  EXPECT_TRUE(ev.decision);
  EXPECT_GE(ev.figures.at("n"), 300);
  EXPECT_GT(ev.figures.at("champion.log_loss"), ev.figures.at("challenger.log_loss") + 0.05);
  EXPECT_LT(ev.figures.at("paired.p"), 0.01);
  EXPECT_GT(ev.figures.at("window_from_s"), trail[2].figures.at("data_to_s"));
  EXPECT_EQ(trail[4].champion_version, 1);
  EXPECT_EQ(trail[4].challenger_version, 2);
  EXPECT_TRUE(trail[5].decision);
  EXPECT_GT(trail[5].figures.at("window_from_s"), ev.figures.at("window_to_s"));
  EXPECT_GT(trail[5].figures.at("promoted.log_loss"),
            trail[5].figures.at("previous.log_loss") + 0.05);
  EXPECT_EQ(trail[6].champion_version, 1);
  EXPECT_EQ(trail[6].challenger_version, 2);
  // The registry's own audit shows who switched: activate by retraining, then rollback.
  auto acts = registry_->Audit(a_, {"SYN", market::Timeframe::kH1}).value();
  ASSERT_EQ(acts.size(), 3u);
  EXPECT_EQ(acts[1].actor, "retraining");
  EXPECT_EQ(acts[2].action, "rollback");
}

TEST_P(RetrainingJobTest, VolatilityChangeAloneTrainsAChallengerThatDoesNotWin) {
  Append({4000, +0.5, 0.001});
  TrainChampion();
  Append({4000, +0.5, 0.002});  // same relationship, doubled volatility
  auto c = retraining_->RunCheck(a_, {"SYN", market::Timeframe::kH1});
  ASSERT_OK(c);
  EXPECT_EQ(c->outcome, "challenger_trained");
  Append({600, +0.5, 0.002});
  auto e = retraining_->RunCheck(a_, {"SYN", market::Timeframe::kH1});
  ASSERT_OK(e);
  EXPECT_EQ(e->outcome, "rejected") << e->detail;
  EXPECT_EQ(Active(), 1);
  EXPECT_EQ(Actions(Trail()), (std::vector<std::string>{"drift_check", "challenger_trained",
                                                        "challenger_evaluated", "rejected"}));
  EXPECT_FALSE(Trail()[2].decision);
}

TEST_P(RetrainingJobTest, DegradedLiveSignalsTriggerRetrainingAndTheSchedulerQueuesEveryModel) {
  Append({4000, +0.5, 0.001});
  TrainChampion();
  // 250 resolved signals of v1, confidently wrong: live Brier and hit rate far below validation.
  const std::string version = ModelVersionName(a_, {"SYN", market::Timeframe::kH1}, 1);
  EXPECT_EQ(version, "t" + std::to_string(a_.value()) + "/SYN/H1/v1");
  for (int i = 0; i < 250; ++i) {
    SignalFields f;
    f.id = "sig" + std::to_string(i);
    f.symbol = "SYN";
    f.timeframe = "H1";
    f.bar_time = i * kNanosPerHour;
    f.p_up = 0.8;
    f.direction = Direction::kBullish;
    f.model_version = version;
    ASSERT_OK(signals_.Append(a_, Signal::FromFields(f)));
    Resolution r;
    r.up = false;
    r.hit = false;
    r.brier = 0.64;
    r.log_loss = -std::log(0.2);
    ASSERT_OK(signals_.Resolve(a_, f.id, r));
  }
  auto c = retraining_->RunCheck(a_, {"SYN", market::Timeframe::kH1});
  ASSERT_OK(c);
  EXPECT_EQ(c->outcome, "challenger_trained");
  const auto trail = Trail();
  ASSERT_FALSE(trail.empty());
  EXPECT_EQ(trail[0].figures.at("live.n"), 250);
  bool performance_reason = false;
  for (const auto& r : trail[0].reasons) performance_reason |= r.rfind("performance:", 0) == 0;
  EXPECT_TRUE(performance_reason);

  // The scheduler's round queues one check per active model (tenant and platform), once.
  ASSERT_OK(bars_->Import(store::SeriesOwner::Platform(), {"SYN", market::Timeframe::kH1},
                          Stream().Next({4000, +0.5, 0.001}), {}));
  ASSERT_OK(models_->Train(models::kPlatformTenant,
                           {.series = {"SYN", market::Timeframe::kH1},
                            .overrides = {{"trees", 10}, {"feature_set", "basic"}},
                            .activate = true}));
  auto n = retraining_->EnqueueAll();
  ASSERT_OK(n);
  EXPECT_EQ(*n, 2u);
  EXPECT_EQ(*retraining_->EnqueueAll(), 0u);  // both still queued: deduplicated
  auto platform = retraining_->RunCheck(models::kPlatformTenant, {"SYN", market::Timeframe::kH1});
  ASSERT_OK(platform);
  EXPECT_EQ(platform->outcome, "drift_checked");
  EXPECT_EQ(audit_->List(models::kPlatformTenant, {"SYN", market::Timeframe::kH1})->size(), 1u);
  EXPECT_EQ(retraining_->EnqueueCheck(a_, {"NOPE", market::Timeframe::kH1}, "t").status().field(),
            "model");
}

TEST_P(RetrainingJobTest, CooldownAfterARejectedChallenger) {
  Append({4000, +0.5, 0.001});
  TrainChampion();
  Append({4000, +0.5, 0.002});  // doubled volatility: drift, a challenger that does not win
  ASSERT_EQ(retraining_->RunCheck(a_, {"SYN", market::Timeframe::kH1})->outcome,
            "challenger_trained");
  Append({600, +0.5, 0.002});
  ASSERT_EQ(retraining_->RunCheck(a_, {"SYN", market::Timeframe::kH1})->outcome, "rejected");
  const auto rejected = Trail().back();
  ASSERT_EQ(rejected.action, AuditAction::kRejected);
  EXPECT_GT(rejected.figures.at("last_bar_s"), 0);
  // 200 bars later the features still differ from v1's reference, but no new challenger for
  // 500 bars: the drift check is recorded with "cooldown" as its reason.
  Append({200, +0.5, 0.002});
  auto c = retraining_->RunCheck(a_, {"SYN", market::Timeframe::kH1});
  ASSERT_OK(c);
  EXPECT_EQ(c->outcome, "cooldown") << c->detail;
  auto last = Trail().back();
  EXPECT_EQ(last.action, AuditAction::kDriftCheck);
  EXPECT_FALSE(last.decision);
  ASSERT_GE(last.reasons.size(), 2u);
  EXPECT_EQ(last.reasons[0].rfind("cooldown: rejected", 0), 0u) << last.reasons[0];
  EXPECT_NE(last.reasons[0].find("200 bars"), std::string::npos) << last.reasons[0];
  EXPECT_EQ(last.reasons[1].rfind("would retrain on: feature drift", 0), 0u) << last.reasons[1];
  EXPECT_EQ(last.figures.at("cooldown.bars_since"), 200);
  EXPECT_GT(last.figures.at("psi_threshold.vol_24"), 0);
  EXPECT_GE(last.figures.at("features_above"), 3);
  EXPECT_EQ(registry_->List(a_, {"SYN", market::Timeframe::kH1})->size(), 2u);  // nothing trained

  // A time-based cooldown alone (no bar count): 200 h after the rejection, 400 h required.
  RetrainingJobOptions timed;
  timed.train_window_bars = 4000;
  timed.cooldown_bars = 0;
  timed.cooldown_seconds = 400 * 3600;
  const models::ModelServiceOptions mo{.code_version = "test", .report_folds = 2, .nthread = 1};
  RetrainingService by_time(db(), *bars_, nullptr, *registry_, jobs_.get(), &signals_, *audit_,
                            clock_, mo, timed);
  auto t = by_time.RunCheck(a_, {"SYN", market::Timeframe::kH1});
  ASSERT_OK(t);
  EXPECT_EQ(t->outcome, "cooldown") << t->detail;
  EXPECT_NE(Trail().back().reasons[0].find("720000 s ago"), std::string::npos)
      << Trail().back().reasons[0];

  // 500 bars after the rejection the cooldown is over: a new challenger.
  Append({300, +0.5, 0.002});
  auto again = retraining_->RunCheck(a_, {"SYN", market::Timeframe::kH1});
  ASSERT_OK(again);
  EXPECT_EQ(again->outcome, "challenger_trained") << again->detail;
  EXPECT_EQ(Actions(Trail()),
            (std::vector<std::string>{"drift_check", "challenger_trained", "challenger_evaluated",
                                      "rejected", "drift_check", "drift_check", "drift_check",
                                      "challenger_trained"}));
}

INSTANTIATE_TEST_SUITE_P(Backends, RetrainingJobTest, SINYAL_DB_BACKENDS,
                         store::testing::BackendName);

}  // namespace
}  // namespace sinyal::signals
