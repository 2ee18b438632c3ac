// The retraining scenario: a replayed, seeded stream whose feature -> label relationship changes
// mid-way. Drift is detected, a challenger is trained with the models library's real trainer,
// promoted only if it wins on a window neither model saw, and every step is in the audit trail
// in order. A second scenario (no relationship change) must NOT promote; a third rolls back a
// promotion that degrades on the next window.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>

#include "core/testing/test_util.h"
#include "signals/retraining.h"

namespace sinyal::signals {
namespace {

using models::Dataset;

// Phases of the stream: label depends on x0 with sign `sign`; x1 is shifted by `x1_shift` (a
// distribution change without any effect on the label); x2, x3 are noise.
struct Phase {
  size_t rows;
  double sign;
  double x1_shift;
};

Dataset Stream(const std::vector<Phase>& phases, uint64_t seed) {
  Dataset ds;
  ds.symbol = "SYN";
  ds.timeframe = "H1";
  ds.feature_set = "scenario";
  ds.feature_set_version = 1;
  ds.feature_names = {"x0", "x1", "x2", "x3"};
  ds.num_classes = 2;
  ds.horizon = 1;
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z(0, 1);
  std::uniform_real_distribution<double> u(0, 1);
  uint32_t bar = 0;
  for (const auto& ph : phases) {
    for (size_t i = 0; i < ph.rows; ++i, ++bar) {
      const double x0 = z(rng), x1 = z(rng) + ph.x1_shift, x2 = z(rng), x3 = z(rng);
      const double p_up = 1 / (1 + std::exp(-1.5 * ph.sign * x0));
      const bool up = u(rng) < p_up;
      for (double v : {x0, x1, x2, x3}) ds.x.push_back(static_cast<float>(v));
      models::DatasetRow r;
      r.ts = 1'600'000'000LL * kNanosPerSecond + static_cast<int64_t>(bar) * kNanosPerHour;
      r.bar = bar;
      r.label_first = r.label_last = bar + 1;
      r.forward_return = up ? 0.001f : -0.001f;
      r.label = up ? models::kUp : models::kDown;
      ds.rows.push_back(r);
    }
  }
  return ds;
}

std::vector<size_t> Range(size_t a, size_t b) {
  std::vector<size_t> v(b - a);
  std::iota(v.begin(), v.end(), a);
  return v;
}

models::TrainConfig SmallConfig() {
  models::TrainConfig c = models::DefaultTrainConfig("SYN");
  for (auto& m : c.members) m.trees = 40;
  c.min_train_rows = 500;
  c.nthread = 1;
  return c;
}

std::vector<float> Features(const Dataset& ds, size_t a, size_t b) {
  return std::vector<float>(ds.x.begin() + a * ds.num_features(),
                            ds.x.begin() + b * ds.num_features());
}

struct World {
  testing::TempDir dir;
  ManualClock clock{1'700'000'000LL * kNanosPerSecond};
  std::unique_ptr<models::FileModelRegistry> registry;
  InMemoryAuditLog audit;
  Dataset ds;
  std::optional<models::Ensemble> champion;
  PsiReference reference;
  ValidationFigures validation;  // the champion's, on held-out rows [2500, 3000)

  explicit World(Dataset d) : ds(std::move(d)) {
    registry = models::FileModelRegistry::Open(dir.path(), clock).value();
    // The champion: trained on rows [0, 2000), calibrated on [2000, 2500).
    auto fit = Range(0, 2000), calib = Range(2000, 2500);
    champion = models::Ensemble::Train(ds, fit, calib, SmallConfig()).value();
    auto rec = registry->Register(TenantId{7}, *champion, Meta()).value();
    EXPECT_EQ(rec.version, 1);
    EXPECT_OK(registry->Activate(TenantId{7}, {"SYN", market::Timeframe::kH1}, 1));
    reference = FitPsiReference(Features(ds, 0, 2000), ds.feature_names).value();
    const auto v = ScoreModel(*champion, ds, Range(2500, 3000));
    validation = {v.brier, v.log_loss, v.accuracy};
  }
  models::ModelRecord Meta() const {
    models::ModelRecord m;
    m.symbol = "SYN";
    m.timeframe = "H1";
    return m;
  }
};

std::vector<std::string> Actions(const std::vector<AuditRecord>& v) {
  std::vector<std::string> a;
  for (const auto& r : v) a.push_back(std::string(AuditActionName(r.action)));
  return a;
}

TEST(RetrainingScenarioTest, RelationshipChangeIsDetectedAndTheChallengerPromoted) {
  // Rows [0, 3000): up iff x0 > 0 (noisily); from 3000 on: up iff x0 < 0, and x1 shifts.
  World w(Stream({{3000, +1, 0}, {3000, -1, 1.0}}, 42));
  RetrainingController ctl(*w.registry, w.audit, w.clock, TenantId{7},
                           market::SeriesKey{"SYN", market::Timeframe::kH1});

  // Step 1: drift on the first 500 rows after the change.
  w.clock.Advance(kNanosPerDay);
  auto d = ctl.CheckDrift(w.reference, Features(w.ds, 3000, 3500), nullptr, 0);
  ASSERT_OK(d);
  EXPECT_TRUE(d->retrain);
  ASSERT_FALSE(d->reasons.empty());
  EXPECT_NE(d->reasons[0].find("'x1'"), std::string::npos);

  // Step 2: challenger on recent data only.
  auto ch = ctl.TrainChallenger(w.ds, Range(3000, 4200), Range(4200, 4500), SmallConfig());
  ASSERT_OK(ch);

  // Step 3: both scored on [4500, 5200), unseen by both; the challenger must win.
  auto ev =
      ctl.EvaluateAndPromote(*w.champion, *ch, w.Meta(), w.ds, Range(4500, 5200), w.validation);
  ASSERT_OK(ev);
  EXPECT_TRUE(ev->promote);
  EXPECT_GT(ev->champion.log_loss, ev->challenger.log_loss + 0.1);  // the old model is now wrong
  EXPECT_LT(ev->paired.p_greater, 1e-6);
  EXPECT_EQ(*w.registry->ActiveVersion(TenantId{7}, {"SYN", market::Timeframe::kH1}, 1), 2);

  // Step 4: the new champion holds up on the next window: no rollback.
  auto rb = ctl.CheckAfterPromotion(*ch, w.ds, Range(5200, 6000));
  ASSERT_OK(rb);
  EXPECT_FALSE(*rb);
  EXPECT_EQ(*w.registry->ActiveVersion(TenantId{7}, {"SYN", market::Timeframe::kH1}, 1), 2);

  auto trail = w.audit.List(TenantId{7}, {"SYN", market::Timeframe::kH1}).value();
  EXPECT_EQ(Actions(trail),
            (std::vector<std::string>{"drift_check", "challenger_trained", "challenger_evaluated",
                                      "promoted", "post_promotion_check"}));
  for (size_t i = 0; i < trail.size(); ++i) EXPECT_EQ(trail[i].seq, static_cast<int64_t>(i + 1));
  EXPECT_TRUE(trail[0].decision);
  EXPECT_GT(trail[0].figures.at("psi.x1"), 0.25);
  EXPECT_LT(trail[0].figures.at("psi.x0"), 0.1);
  EXPECT_TRUE(trail[2].decision);
  EXPECT_EQ(trail[3].champion_version, 1);
  EXPECT_EQ(trail[3].challenger_version, 2);
  EXPECT_FALSE(trail[4].decision);
  EXPECT_EQ(trail[2].figures.at("n"), 700);
  // The trail is per tenant.
  EXPECT_TRUE(w.audit.List(TenantId{8}, {"SYN", market::Timeframe::kH1})->empty());
}

TEST(RetrainingScenarioTest, NoRelationshipChangeMeansNoPromotion) {
  // x1 drifts (a retraining trigger), but the label still follows x0 as before: a challenger
  // trained on less, recent data does not beat the champion, so nothing is promoted.
  World w(Stream({{3000, +1, 0}, {3000, +1, 1.0}}, 43));
  RetrainingController ctl(*w.registry, w.audit, w.clock, TenantId{7},
                           market::SeriesKey{"SYN", market::Timeframe::kH1});
  auto d = ctl.CheckDrift(w.reference, Features(w.ds, 3000, 3500), nullptr, 0);
  ASSERT_OK(d);
  EXPECT_TRUE(d->retrain);
  auto ch = ctl.TrainChallenger(w.ds, Range(3000, 4200), Range(4200, 4500), SmallConfig());
  ASSERT_OK(ch);
  auto ev =
      ctl.EvaluateAndPromote(*w.champion, *ch, w.Meta(), w.ds, Range(4500, 5200), w.validation);
  ASSERT_OK(ev);
  EXPECT_FALSE(ev->promote);
  EXPECT_EQ(*w.registry->ActiveVersion(TenantId{7}, {"SYN", market::Timeframe::kH1}, 1), 1);
  EXPECT_EQ(w.registry->List(TenantId{7}, {"SYN", market::Timeframe::kH1})->size(),
            1u);  // not even registered
  EXPECT_EQ(ctl.CheckAfterPromotion(*ch, w.ds, Range(5200, 6000)).status().code(),
            StatusCode::kFailedPrecondition);
  auto trail = w.audit.List(TenantId{7}, {"SYN", market::Timeframe::kH1}).value();
  EXPECT_EQ(Actions(trail), (std::vector<std::string>{"drift_check", "challenger_trained",
                                                      "challenger_evaluated", "rejected"}));
  EXPECT_FALSE(trail[2].decision);
}

TEST(RetrainingScenarioTest, PromotedModelThatDegradesIsRolledBack) {
  // The relationship flips at 3000 and flips back at 5200: the promoted challenger is wrong on
  // the next window, worse than the old champion was, so the registry rolls back to v1.
  World w(Stream({{3000, +1, 0}, {2200, -1, 0}, {800, +1, 0}}, 44));
  RetrainingController ctl(*w.registry, w.audit, w.clock, TenantId{7},
                           market::SeriesKey{"SYN", market::Timeframe::kH1});
  auto ch = ctl.TrainChallenger(w.ds, Range(3000, 4200), Range(4200, 4500), SmallConfig());
  ASSERT_OK(ch);
  auto ev =
      ctl.EvaluateAndPromote(*w.champion, *ch, w.Meta(), w.ds, Range(4500, 5200), w.validation);
  ASSERT_OK(ev);
  ASSERT_TRUE(ev->promote);
  EXPECT_EQ(*w.registry->ActiveVersion(TenantId{7}, {"SYN", market::Timeframe::kH1}, 1), 2);
  auto rb = ctl.CheckAfterPromotion(*ch, w.ds, Range(5200, 6000));
  ASSERT_OK(rb);
  EXPECT_TRUE(*rb);
  EXPECT_EQ(*w.registry->ActiveVersion(TenantId{7}, {"SYN", market::Timeframe::kH1}, 1), 1);
  auto trail = w.audit.List(TenantId{7}, {"SYN", market::Timeframe::kH1}).value();
  EXPECT_EQ(Actions(trail),
            (std::vector<std::string>{"challenger_trained", "challenger_evaluated", "promoted",
                                      "post_promotion_check", "rolled_back"}));
  EXPECT_EQ(trail.back().champion_version, 1);
  EXPECT_EQ(trail.back().challenger_version, 2);
  EXPECT_GT(trail[3].figures.at("active.log_loss"),
            trail[3].figures.at("old_champion.validation_log_loss") + 0.05);
}

TEST(RetrainingTest, PolicyAndRuleEdges) {
  RetrainingPolicy p;
  p.schedule_every = 24 * kNanosPerHour;
  std::vector<FeaturePsi> calm = {{"a", 0.02, DriftLevel::kNone}};
  EXPECT_FALSE(DecideRetraining(p, 10 * kNanosPerHour, 0, calm, nullptr).retrain);
  auto sched = DecideRetraining(p, 25 * kNanosPerHour, 0, calm, nullptr);
  EXPECT_TRUE(sched.retrain);
  EXPECT_NE(sched.reasons[0].find("schedule"), std::string::npos);
  std::vector<FeaturePsi> three = {{"a", 0.12, DriftLevel::kModerate},
                                   {"b", 0.11, DriftLevel::kModerate},
                                   {"c", 0.2, DriftLevel::kModerate}};
  EXPECT_TRUE(DecideRetraining(p, 0, 0, three, nullptr).retrain);
  PerformanceCheck perf;
  perf.degraded = true;
  perf.reasons = {"live Brier 0.27"};
  auto pd = DecideRetraining(p, 0, 0, calm, &perf);
  EXPECT_TRUE(pd.retrain);
  EXPECT_EQ(pd.reasons[0], "performance: live Brier 0.27");

  std::vector<float> a(100, 0.5f), b(100, 0.6f);
  std::vector<int8_t> y(100, models::kUp);
  EXPECT_EQ(EvaluateChallenger(a, b, y, PromotionRule{}).status().field(), "window");
  b[3] = std::nanf("");
  PromotionRule small;
  small.min_rows = 10;
  EXPECT_EQ(EvaluateChallenger(a, b, y, small).status().field(), "challenger_p_up");
  b[3] = 0.6f;
  b.pop_back();
  EXPECT_EQ(EvaluateChallenger(a, b, y, small).status().field(), "challenger_p_up");
}

}  // namespace
}  // namespace sinyal::signals
