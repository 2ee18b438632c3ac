// SignalService on SQLite and PostgreSQL: a platform model trained on seeded synthetic bars, the
// signal computed once per bar and served from memory (proved by closing the database), the
// calibration fitted once per model version and read back by a second service, a new bar giving a
// new signal (listener, log, resolution of the previous one), WithThreshold, and errors.
#include "signals/service.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "market/bar.h"
#include "market/edge_parse.h"
#include "models/db_registry.h"
#include "models/input_resolver.h"
#include "models/service.h"
#include "models/testing/synthetic.h"
#include "signals/db_signal_log.h"
#include "signals/interval_calibration.h"
#include "store/bar_store.h"
#include "store/soci.h"
#include "store/testing/test_db.h"

namespace sinyal::signals {
namespace {

using nlohmann::json;

using ::sinyal::store::testing::CreateTenant;

std::vector<market::Bar> Bars(size_t n, uint64_t seed, double phi = -0.3) {
  return models::testing::SyntheticMarketBars(n, seed, phi);
}

constexpr TenantId kPlatform = models::kPlatformTenant;
constexpr UnixNanos kFar = INT64_MAX / 2;
const market::SeriesKey kSyn{"SYNUSD", market::Timeframe::kH1};

class SignalServiceTest : public store::testing::DbTest {
 protected:
  void SetUp() override {
    DbTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    a_ = CreateTenant(db(), "a");
    bars_ = std::make_unique<store::BarStore>(db(), clock_);
    registry_ = std::make_unique<models::DbModelRegistry>(db(), clock_);
    calibrations_ =
        std::make_unique<IntervalCalibrationStore>(db(), *bars_, *registry_, nullptr, clock_);
    // As app/ wires it: a version's interval calibration is fitted when it is trained.
    models::ModelServiceOptions mo{.code_version = "test", .report_folds = 2, .nthread = 1};
    mo.on_version_stored = [this](TenantId owner, const market::SeriesKey& series,
                                  const models::ModelRecord& r) {
      ASSERT_OK(calibrations_->Fit(owner, series, r.version).status());
    };
    models_ = std::make_unique<models::ModelService>(db(), *bars_, nullptr, *registry_, nullptr,
                                                     clock_, mo);
    log_ = std::make_unique<DbSignalLog>(db());
    all_ = Bars(6001, 7);
    // The last bar is held back: it "closes" during the test.
    ASSERT_OK(bars_->Import(store::SeriesOwner::Platform(), {"SYNUSD", market::Timeframe::kH1},
                            std::span(all_).first(6000), {}));
    auto trained = models_->Train(kPlatform, {.series = {"SYNUSD", market::Timeframe::kH1},
                                              .overrides = {{"trees", 15}},
                                              .activate = true,
                                              .actor = "test"});
    ASSERT_OK(trained.status());
  }
  std::unique_ptr<SignalService> MakeService(SignalServiceOptions o = {},
                                             IntervalCalibrationStore* calibrations = nullptr) {
    o.background_thread = false;
    return std::make_unique<SignalService>(*bars_, *registry_, nullptr, *log_,
                                           calibrations ? *calibrations : *calibrations_, clock_,
                                           o);
  }
  ManualClock clock_{1'700'000'000LL * kNanosPerSecond};
  TenantId a_;
  std::vector<market::Bar> all_;
  std::unique_ptr<store::BarStore> bars_;
  std::unique_ptr<models::DbModelRegistry> registry_;
  std::unique_ptr<IntervalCalibrationStore> calibrations_;
  std::unique_ptr<models::ModelService> models_;
  std::unique_ptr<DbSignalLog> log_;
};

TEST_P(SignalServiceTest, ComputedOnceThenServedFromMemoryWithoutTheDatabase) {
  auto svc = MakeService();
  const auto c0 = std::chrono::steady_clock::now();
  auto s = svc->Latest(a_, *market::ParseSeriesKey("synusd", "1h"), kFar);
  ASSERT_OK(s.status());
  std::printf(
      "first Latest() (model load, calibration fit + store, 5,000 bars streamed, signal): %.1f "
      "ms\n",
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - c0).count());
  const Signal& sig = **s;
  EXPECT_EQ(sig.fields().symbol, "SYNUSD");
  EXPECT_EQ(sig.bar_time(), all_[5999].time());
  EXPECT_EQ(sig.fields().model_version, "platform/SYNUSD/H1/v1");
  EXPECT_EQ(sig.fields().reference_price, all_[5999].close());
  ASSERT_EQ(sig.fields().intervals.size(), 2u);
  EXPECT_LT(sig.fields().intervals[0].lo, sig.fields().intervals[0].hi);
  // The 95% interval contains the 80% one.
  EXPECT_LE(sig.fields().intervals[1].lo, sig.fields().intervals[0].lo);
  EXPECT_GE(sig.fields().intervals[1].hi, sig.fields().intervals[0].hi);
  EXPECT_GT(sig.fields().expected_abs_move, 0);
  EXPECT_GE(sig.fields().regime_code, 0);
  EXPECT_EQ(sig.fields().drivers.size(), 5u);
  EXPECT_FALSE(sig.fields().cross_asset.available);  // no DXY nor its components stored
  EXPECT_EQ(svc->ReferenceName(market::Timeframe::kH1), "");
  // Stored once, under the platform.
  auto stored = log_->Get(kPlatform, sig.id());
  ASSERT_OK(stored.status());
  EXPECT_EQ(stored->signal.ToJson(), sig.ToJson());
  EXPECT_EQ(svc->stats().signals_computed, 1);
  EXPECT_EQ(svc->stats().calibrations_fitted, 1);

  // Steady state: close the database; within the check interval Latest() is a memory lookup.
  db().Close();
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) {
    auto again = svc->Latest(a_, kSyn, kFar);
    ASSERT_OK(again.status());
    ASSERT_EQ(again->get(), s->get());  // the same cached object
  }
  const double us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() /
      1000;
  std::printf("steady-state Latest(): %.2f us per call (cache hit, database closed)\n", us);
  EXPECT_LT(us, 100.0);  // microseconds, not a database round trip
  EXPECT_EQ(svc->stats().signals_computed, 1);
  EXPECT_EQ(svc->stats().cache_hits, 1000);
  // After the interval the latest-bar check reads the database (which is now closed).
  clock_.Advance(2 * kNanosPerSecond);
  EXPECT_FALSE(svc->Latest(a_, kSyn, kFar).ok());
}

TEST_P(SignalServiceTest, CalibrationIsFittedWhenTrainedStoredAndNeverOnARequest) {
  // Training fitted and stored it (the hook); the service only reads it.
  EXPECT_EQ(calibrations_->stats().fitted, 1);
  auto first = MakeService();
  ASSERT_OK(first->Latest(a_, kSyn, kFar).status());
  EXPECT_EQ(calibrations_->stats().fitted, 1);
  auto cal = first->Calibration(kPlatform, kSyn, 1);
  ASSERT_OK(cal.status());
  // Held-out rows: 20% of the training rows (calibration_fraction), less the purge and warm-up.
  EXPECT_GT(cal->rows, 500u);
  EXPECT_LT(cal->rows, 1300u);
  EXPECT_GT(cal->move_ratio, 0.3);
  EXPECT_LT(cal->move_ratio, 1.5);
  // On its own calibration rows split conformal covers at least the nominal share.
  for (const auto& line : cal->coverage) {
    if (line.group == -1) EXPECT_GE(line.empirical + 1e-12, line.nominal);
  }
  long long rows = 0;
  ASSERT_OK(db().WithReadTx([&](soci::session& sql) {
    sql << "SELECT COUNT(*) FROM signal_calibrations", soci::into(rows);
    return Status::Ok();
  }));
  EXPECT_EQ(rows, 1);
  // A second process reads the stored calibration instead of refitting.
  IntervalCalibrationStore other(db(), *bars_, *registry_, nullptr, clock_);
  auto second = MakeService({}, &other);
  auto s2 = second->Latest(a_, kSyn, kFar);
  ASSERT_OK(s2.status());
  EXPECT_EQ(other.stats().fitted, 0);
  EXPECT_EQ(other.stats().loaded, 1);
  auto s1 = first->Latest(a_, kSyn, kFar);
  EXPECT_EQ((*s1)->id(), (*s2)->id());
  ASSERT_EQ((*s1)->fields().intervals.size(), (*s2)->fields().intervals.size());
  for (size_t k = 0; k < (*s1)->fields().intervals.size(); ++k) {
    EXPECT_DOUBLE_EQ((*s1)->fields().intervals[k].lo, (*s2)->fields().intervals[k].lo);
  }
}

// A version whose calibration was never fitted (trained by a process without the hook): the
// request is answered Unavailable at once and the background thread fits it.
TEST_P(SignalServiceTest, MissingCalibrationIsFittedInTheBackgroundNotOnTheRequest) {
  models::ModelService bare(db(), *bars_, nullptr, *registry_, nullptr, clock_,
                            {.code_version = "test", .report_folds = 2, .nthread = 1});
  ASSERT_OK(bare.Train(kPlatform, {.series = {"SYNUSD", market::Timeframe::kH1},
                                   .overrides = {{"trees", 10}},
                                   .activate = true,
                                   .actor = "test"})
                .status());
  IntervalCalibrationStore fresh(db(), *bars_, *registry_, nullptr, clock_);
  SignalServiceOptions o;
  SignalService svc(*bars_, *registry_, nullptr, *log_, fresh, clock_, o);  // background thread on
  auto first = svc.Latest(a_, kSyn, kFar);
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(first.status().field(), "model");
  svc.Drain();
  EXPECT_EQ(fresh.stats().fitted, 1);
  auto later = svc.Latest(a_, kSyn, kFar);
  ASSERT_OK(later.status());
  EXPECT_EQ((*later)->fields().model_version, "platform/SYNUSD/H1/v2");
}

// The latest-bar check interval is an option: 0 checks on every call (no sleeping in tests).
TEST_P(SignalServiceTest, ZeroCheckIntervalSeesANewBarOnTheNextCall) {
  auto svc = MakeService({.bar_check_interval_nanos = 0});
  ASSERT_OK(svc->Latest(a_, kSyn, kFar).status());
  const market::Bar& bar = all_[6000];
  ASSERT_OK(bars_->Import(store::SeriesOwner::Platform(), {"SYNUSD", market::Timeframe::kH1},
                          std::span(&bar, 1), {}));
  EXPECT_EQ((*svc->Latest(a_, kSyn, kFar))->bar_time(), bar.time());
}

TEST_P(SignalServiceTest, NewBarGivesNewSignalListenersAndResolution) {
  auto svc = MakeService();
  std::vector<std::pair<TenantId, std::shared_ptr<const Signal>>> seen;
  auto sub = svc->Subscribe([&](TenantId owner, std::shared_ptr<const Signal> s) {
    seen.emplace_back(owner, std::move(s));
  });
  auto before = svc->Latest(a_, kSyn, kFar);
  ASSERT_OK(before.status());
  ASSERT_EQ(seen.size(), 1u);  // the first computation of the newest bar is published too
  // The held-back bar closes: stored, then the LiveFeed listener hook.
  const market::Bar& bar = all_[6000];
  ASSERT_OK(bars_->Import(store::SeriesOwner::Platform(), {"SYNUSD", market::Timeframe::kH1},
                          std::span(&bar, 1), {}));
  svc->OnBarClosed({"SYNUSD", market::Timeframe::kH1}, bar);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].first, kPlatform);
  EXPECT_EQ(seen[1].second->bar_time(), bar.time());
  // Latest() now serves it from the cache (no new computation), even within the check interval.
  auto after = svc->Latest(a_, kSyn, kFar);
  ASSERT_OK(after.status());
  EXPECT_EQ(after->get(), seen[1].second.get());
  EXPECT_EQ(svc->stats().signals_computed, 2);
  // A delayed caller (not_after one hour earlier) still gets the previous bar's signal.
  auto delayed = svc->Latest(a_, kSyn, bar.time() + kNanosPerHour - 1);
  ASSERT_OK(delayed.status());
  EXPECT_EQ((*delayed)->id(), (*before)->id());
  // The horizon (1 bar) of the previous signal has passed: it was resolved against the new bar.
  auto resolved = log_->Get(kPlatform, (*before)->id());
  ASSERT_OK(resolved.status());
  ASSERT_TRUE(resolved->resolution.has_value());
  EXPECT_DOUBLE_EQ(resolved->resolution->realized_return,
                   std::log(bar.close() / all_[5999].close()));
  auto perf = svc->Performance(a_, kSyn);
  ASSERT_OK(perf.status());
  EXPECT_EQ(perf->live.n, 1u);
  EXPECT_EQ(perf->model_version, "platform/SYNUSD/H1/v1");
  EXPECT_TRUE(perf->validation.contains("walk_forward"));
  // Unsubscribed listeners are not called.
  sub.Reset();
  EXPECT_EQ(svc->ResolveSeries(a_, kSyn).value(), 0u);
}

TEST_P(SignalServiceTest, LatestBarCheckFindsImportedBarsAfterTheInterval) {
  auto svc = MakeService();
  ASSERT_OK(svc->Latest(a_, kSyn, kFar).status());
  const market::Bar& bar = all_[6000];
  ASSERT_OK(bars_->Import(store::SeriesOwner::Platform(), {"SYNUSD", market::Timeframe::kH1},
                          std::span(&bar, 1), {}));
  // Within the interval: still the cached signal of the previous bar.
  EXPECT_EQ((*svc->Latest(a_, kSyn, kFar))->bar_time(), all_[5999].time());
  clock_.Advance(kNanosPerSecond);
  EXPECT_EQ((*svc->Latest(a_, kSyn, kFar))->bar_time(), bar.time());
}

TEST_P(SignalServiceTest, WithThresholdRederivesDirection) {
  auto svc = MakeService();
  auto s = svc->Latest(a_, kSyn, kFar);
  ASSERT_OK(s.status());
  const double p = (*s)->p_up();
  const Signal strict = SignalService::WithThreshold(**s, 0.999);
  EXPECT_EQ(strict.direction(), Direction::kNeutral);
  EXPECT_TRUE(strict.fields().abstained);
  EXPECT_NE(strict.fields().abstain_reason.find("threshold 0.999"), std::string::npos);
  EXPECT_EQ(strict.id(), (*s)->id());
  const Signal loose = SignalService::WithThreshold(**s, 0.1);  // below 0.5 acts as 0.5
  EXPECT_DOUBLE_EQ(loose.fields().confidence_threshold, 0.5);
  EXPECT_EQ(loose.direction(), p > 0.5 ? Direction::kBullish : Direction::kBearish);
  const Signal exact = SignalService::WithThreshold(**s, std::max(p, 1 - p));
  EXPECT_EQ(exact.direction(), loose.direction());
  EXPECT_EQ(SignalService::WithThreshold(**s, 0.6, /*max_uncertainty=*/0.0).direction(),
            Direction::kNeutral);
}

// The test: a model with no skill on its walk-forward abstains. A platform model trained
// on a pure random walk (phi = 0) records its walk-forward skill (not shown); every signal it makes
// is neutral at every threshold, serves the base rate as its probability and says why.
TEST_P(SignalServiceTest, AModelWithNoWalkForwardSkillAbstains) {
  const std::vector<market::Bar> walk = Bars(6000, 99, /*phi=*/0.0);
  ASSERT_OK(
      bars_->Import(store::SeriesOwner::Platform(), {"RWUSD", market::Timeframe::kH1}, walk, {}));
  auto trained = models_->Train(kPlatform, {.series = {"RWUSD", market::Timeframe::kH1},
                                            .overrides = {{"trees", 15}},
                                            .activate = true,
                                            .actor = "test"});
  ASSERT_OK(trained.status());
  const json& skill = trained->record.metrics.at("skill");
  EXPECT_FALSE(skill.at("shown").get<bool>()) << skill.dump();
  EXPECT_LE(skill.at("log_loss").at("gain").at("ci95").at(0).get<double>(), 0);

  auto svc = MakeService();
  auto s = svc->Latest(a_, market::SeriesKey{"RWUSD", market::Timeframe::kH1}, kFar);
  ASSERT_OK(s.status());
  const SignalFields& f = (*s)->fields();
  EXPECT_EQ(f.direction, Direction::kNeutral);
  EXPECT_TRUE(f.abstained);
  EXPECT_FALSE(f.skill_shown);
  EXPECT_NE(f.abstain_reason.find("walk-forward log-loss gain"), std::string::npos)
      << f.abstain_reason;
  EXPECT_NE(f.abstain_reason.find("base rate"), std::string::npos) << f.abstain_reason;
  // The probability served is the model's base rate (shrunk toward 1/2), not a model output.
  auto ens = registry_->Load(kPlatform, {"RWUSD", market::Timeframe::kH1}, trained->record.version);
  ASSERT_OK(ens.status());
  EXPECT_NEAR(f.p_up, ens->calibrator().base_rate(), 1e-9);
  EXPECT_DOUBLE_EQ(f.confidence, std::max(f.p_up, 1 - f.p_up));
  // No caller's threshold turns it into a call, and the stored signal keeps it.
  for (double th : {0.0, 0.5, 0.51}) {
    const Signal w = SignalService::WithThreshold(**s, th);
    EXPECT_EQ(w.direction(), Direction::kNeutral) << th;
    EXPECT_EQ(w.fields().abstain_reason, f.abstain_reason);
  }
  auto stored = log_->Get(kPlatform, (*s)->id());
  ASSERT_OK(stored.status());
  EXPECT_FALSE(stored->signal.fields().skill_shown);
  EXPECT_EQ(SignalService::WithThreshold(stored->signal, 0.5).direction(), Direction::kNeutral);
  EXPECT_EQ((*s)->ToJson().at("skill_shown"), false);
}

TEST_P(SignalServiceTest, ErrorsNameTheField) {
  auto svc = MakeService();
  const market::SeriesKey nope{"NOPE", market::Timeframe::kH1};
  EXPECT_EQ(svc->Latest(a_, nope, kFar).status().field(), "symbol");
  EXPECT_EQ(svc->Latest(a_, nope, kFar).status().code(), StatusCode::kNotFound);
  // Keys are typed; the one parse of user text (the callers' edge) names the field.
  EXPECT_EQ(market::ParseSeriesKey("SYNUSD", "H7").error().field(), "timeframe");
  EXPECT_EQ(market::ParseSeriesKey("", "H1").error().field(), "symbol");
  EXPECT_EQ(market::ParseSeriesKey("SYNUSD", "").error().field(), "timeframe");
  // A key that was not parsed is still checked.
  EXPECT_EQ(svc->Latest(a_, {"", market::Timeframe::kH1}, kFar).status().field(), "symbol");
  EXPECT_EQ(svc->Latest(a_, {"syn/../x", market::Timeframe::kH1}, kFar).status().code(),
            StatusCode::kInvalidArgument);
  // Data but no model.
  ASSERT_OK(bars_->Import(store::SeriesOwner::Platform(), {"NOMODEL", market::Timeframe::kH1},
                          std::span(all_).first(100), {}));
  auto no_model = svc->Latest(a_, {"NOMODEL", market::Timeframe::kH1}, kFar);
  EXPECT_EQ(no_model.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(no_model.status().field(), "model");
  // No bar closed by not_after.
  auto early = svc->Latest(a_, kSyn, all_[0].time());
  EXPECT_EQ(early.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(svc->ModelOwner(a_, kSyn).value(), kPlatform);
  EXPECT_OK(svc->Track(a_, kSyn));
}

// Train/serve identity: the live service's inputs and signals, as bars close one at a time,
// equal bit for bit what the batch path (the seam over the stored bars from the model's anchor,
// as training and calibration compute them) gives for the same bars.
TEST_P(SignalServiceTest, LiveInputsAndSignalsEqualTheBatchPathBitForBit) {
  const market::SeriesKey key{"SYNUSD", market::Timeframe::kH1};
  auto rec = registry_->GetRecord(kPlatform, {"SYNUSD", market::Timeframe::kH1}, 1);
  ASSERT_OK(rec.status());
  EXPECT_EQ(rec->schema.inputs_from, all_[0].time());  // training recorded its anchor
  auto ens = registry_->Load(kPlatform, {"SYNUSD", market::Timeframe::kH1}, 1);
  ASSERT_OK(ens.status());
  auto svc = MakeService();
  std::vector<std::shared_ptr<const Signal>> seen;
  auto sub = svc->Subscribe(
      [&](TenantId, std::shared_ptr<const Signal> s) { seen.push_back(std::move(s)); });
  ASSERT_OK(svc->Latest(a_, kSyn, kFar).status());
  auto cal = svc->Calibration(kPlatform, kSyn, 1);
  ASSERT_OK(cal.status());
  SignalModel model;
  model.ensemble = &*ens;
  model.conformal = cal->conformal;
  model.move_ratio = cal->move_ratio;
  model.model_version = "platform/SYNUSD/H1/v1";
  model.symbol = "SYNUSD";
  model.timeframe = "H1";
  SignalGenerator gen(clock_);
  SignalRequest req;  // the service's: threshold 0.5, 5 drivers, no uncertainty cap

  const std::vector<market::Bar> more = Bars(6013, 7);  // the same walk, 12 bars further
  for (size_t t = 5999; t < more.size(); ++t) {
    if (t >= 6000) {  // the bar closes: stored, then the LiveFeed hook
      clock_.Advance(kNanosPerHour);
      ASSERT_OK(bars_->Import(store::SeriesOwner::Platform(), key, std::span(&more[t], 1), {}));
      svc->OnBarClosed(key, more[t]);
    }
    ASSERT_FALSE(seen.empty());
    const Signal& live = *seen.back();
    ASSERT_EQ(live.bar_time(), more[t].time());
    // Batch: the model's rows over the stored bars from its anchor, the regime over the same bars.
    auto stored = models::ReadInputBars(*bars_, kPlatform, key, rec->schema);
    ASSERT_OK(stored.status());
    ASSERT_EQ(stored->size(), t + 1);
    auto frame = models::InputResolver(nullptr).Rows(kPlatform, rec->schema, *stored);
    ASSERT_OK(frame.status());
    auto states = ClassifyRegimes(*stored);
    ASSERT_OK(states.status());
    auto inputs = svc->TEST_InputsAt(kPlatform, kSyn, more[t].time());
    ASSERT_TRUE(inputs.has_value());
    ASSERT_EQ(inputs->size(), frame->cols());
    ASSERT_EQ(std::memcmp(inputs->data(), frame->Row(t), frame->cols() * sizeof(float)), 0) << t;
    SignalInput in;
    in.bar_time = more[t].time();
    in.reference_price = more[t].close();
    in.features = std::span<const float>(frame->Row(t), frame->cols());
    in.regime = (*states)[t];
    // The served intervals at t (interval_calibration.h RecentIntervals over the bars up to t).
    auto recent = RecentIntervals(std::span(*stored).first(t + 1), std::span(*states).first(t + 1),
                                  ens->schema().horizon);
    ASSERT_OK(recent.status());
    in.recent_intervals = std::move(recent).value();
    // No reference series is stored: no cross-asset context on either path.
    auto batch = gen.Generate(model, req, in);
    ASSERT_OK(batch.status());
    EXPECT_EQ(live.ToJson(), batch->ToJson()) << t;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, SignalServiceTest, SINYAL_DB_BACKENDS,
                         store::testing::BackendName);

}  // namespace
}  // namespace sinyal::signals
