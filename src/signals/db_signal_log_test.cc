#include "signals/db_signal_log.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/testing/test_util.h"
#include "store/soci.h"
#include "store/testing/test_db.h"

namespace sinyal::signals {
namespace {

using store::testing::DbTest;

using ::sinyal::store::testing::CreateTenant;

constexpr TenantId kPlatform{0};

// A complete signal with every field set (so the JSON round trip is checked field by field).
Signal MakeSignal(const std::string& id, const std::string& symbol, UnixNanos bar_time, double p_up,
                  const std::string& model_version = "platform/EURUSD/H1/v1") {
  SignalFields f;
  f.id = id;
  f.symbol = symbol;
  f.timeframe = "H1";
  f.horizon = 1;
  f.bar_time = bar_time;
  f.issued_at = bar_time + kNanosPerHour + 123;
  f.reference_price = 1.0625;
  f.p_up = p_up;
  f.confidence = std::max(p_up, 1 - p_up);
  f.confidence_threshold = 0.55;
  f.direction = p_up >= 0.55 ? Direction::kBullish
                             : (1 - p_up >= 0.55 ? Direction::kBearish : Direction::kNeutral);
  f.abstained = f.direction == Direction::kNeutral;
  if (f.abstained) f.abstain_reason = "confidence below threshold";
  f.uncertainty = 0.02;
  f.expected_return = (2 * p_up - 1) * 5e-4;
  f.expected_abs_move = 5e-4;
  f.intervals = {{0.8, -9e-4, 8e-4}, {0.95, -1.7e-3, 1.6e-3}};
  f.regime.ready = true;
  f.regime.trend = TrendState::kTransition;
  f.regime.vol = VolState::kNormal;
  f.regime.adx = 13.6;
  f.regime.slope = 0.091;
  f.regime.rv = 7.2e-4;
  f.regime.rv_percentile = 0.4;
  f.regime.time = bar_time;
  f.regime_code = f.regime.Code();
  f.regime_name = RegimeName(f.regime_code);
  f.cross_asset = {true, -4.95e-4, -8.7e-4, -0.99, -6.5, true};
  f.drivers = {{"xasset.corr_ref_z", -6.5, -0.12}, {"mfi", 55.0, 0.03}};
  f.model_version = model_version;
  return Signal::FromFields(std::move(f));
}

market::Bar MakeBar(UnixNanos t, double close) {
  auto b = market::Bar::Create(t, close, close * 1.001, close * 0.999, close, 10, 1);
  EXPECT_TRUE(b.ok());
  return *b;
}

class DbSignalLogTest : public DbTest {
 protected:
  void SetUp() override {
    DbTest::SetUp();
    if (IsSkipped()) return;
    a_ = CreateTenant(db(), "a");
    b_ = CreateTenant(db(), "b");
    log_ = std::make_unique<DbSignalLog>(db());
  }
  TenantId a_, b_;
  std::unique_ptr<DbSignalLog> log_;
};

constexpr UnixNanos kT0 = 1'700'000'000LL * kNanosPerSecond / kNanosPerHour * kNanosPerHour;

TEST_P(DbSignalLogTest, JsonRoundTripKeepsEveryField) {
  const Signal s = MakeSignal("00000000000000aa", "EURUSD", kT0, 0.426);
  auto back = SignalFromJson(s.ToJson());
  ASSERT_OK(back.status());
  EXPECT_EQ(back->ToJson(), s.ToJson());
  EXPECT_EQ(back->fields().regime.trend, TrendState::kTransition);
  EXPECT_TRUE(back->fields().regime.ready);
  auto bad = s.ToJson();
  bad["prediction"] = "sideways";
  EXPECT_EQ(SignalFromJson(bad).status().field(), "prediction");
}

TEST_P(DbSignalLogTest, AppendGetResolveOncePerOwner) {
  const Signal s = MakeSignal("00000000000000a1", "EURUSD", kT0, 0.7, "t/EURUSD/H1/v1");
  ASSERT_OK(log_->Append(a_, s));
  // The deterministic id is stored once per owner; a replay is AlreadyExists naming "id".
  Status again = log_->Append(a_, s);
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(again.field(), "id");
  // Another tenant may hold the same id (its own row), and cannot read a's.
  ASSERT_OK(log_->Append(b_, s));
  auto got = log_->Get(a_, s.id());
  ASSERT_OK(got.status());
  EXPECT_EQ(got->tenant, a_);
  EXPECT_EQ(got->signal.ToJson(), s.ToJson());
  EXPECT_FALSE(got->resolution.has_value());
  EXPECT_EQ(log_->Get(a_, "ffffffffffffffff").status().code(), StatusCode::kNotFound);

  auto pending = log_->Unresolved(a_, {"EURUSD", market::Timeframe::kH1});
  ASSERT_OK(pending.status());
  ASSERT_EQ(pending->size(), 1u);

  // Resolve with the next bar: up 1%.
  const std::vector<market::Bar> later = {MakeBar(kT0 + kNanosPerHour, 1.0625 * 1.01)};
  ASSERT_OK(ResolvePending(*log_, a_, {"EURUSD", market::Timeframe::kH1}, later).status());
  got = log_->Get(a_, s.id());
  ASSERT_OK(got.status());
  ASSERT_TRUE(got->resolution.has_value());
  EXPECT_NEAR(got->resolution->realized_return, std::log(1.01), 1e-12);
  EXPECT_TRUE(got->resolution->up);
  ASSERT_TRUE(got->resolution->hit.has_value());
  EXPECT_TRUE(*got->resolution->hit);  // bullish and up
  EXPECT_NEAR(got->resolution->brier, 0.09, 1e-12);
  ASSERT_EQ(got->resolution->covered.size(), 2u);
  EXPECT_FALSE(got->resolution->covered[0].second);  // +99.5 bp is outside [-9, +8] bp
  // Once only.
  Resolution r = *got->resolution;
  EXPECT_EQ(log_->Resolve(a_, s.id(), r).code(), StatusCode::kFailedPrecondition);
  // b's copy is untouched.
  auto b_copy = log_->Get(b_, s.id());
  ASSERT_OK(b_copy.status());
  EXPECT_FALSE(b_copy->resolution.has_value());
  EXPECT_TRUE(log_->Unresolved(a_, {"EURUSD", market::Timeframe::kH1})->empty());

  auto recent = log_->RecentResolved(a_, {"EURUSD", market::Timeframe::kH1}, "t/EURUSD/H1/v1", 10);
  ASSERT_OK(recent.status());
  ASSERT_EQ(recent->size(), 1u);
  EXPECT_TRUE(log_->RecentResolved(a_, {"EURUSD", market::Timeframe::kH1}, "other", 10)->empty());
  EXPECT_EQ(log_->RecentResolved(a_, {"EURUSD", market::Timeframe::kH1}, "", 10)->size(), 1u);
  const LivePerformance perf = ComputeLivePerformance(*recent);
  EXPECT_EQ(perf.n, 1u);
  EXPECT_EQ(perf.hits, 1u);
}

TEST_P(DbSignalLogTest, PlatformSignalsAreStoredOnceAndVisibleToEveryTenant) {
  // Three platform signals on consecutive bars, one signal of tenant a's own model.
  for (int i = 0; i < 3; ++i) {
    char id[17];
    std::snprintf(id, sizeof id, "%016x", 0xb0 + i);
    ASSERT_OK(log_->Append(kPlatform, MakeSignal(id, "EURUSD", kT0 + i * kNanosPerHour, 0.6)));
  }
  ASSERT_OK(log_->Append(a_, MakeSignal("00000000000000c1", "EURUSD", kT0, 0.3, "t/x/v1")));
  ASSERT_OK(log_->Append(a_, MakeSignal("00000000000000c2", "GBPUSD", kT0, 0.3, "t/x/v1")));

  auto a_list = log_->ListVisible(a_, {.symbol = "EURUSD", .timeframe = "H1", .limit = 10});
  ASSERT_OK(a_list.status());
  ASSERT_EQ(a_list->size(), 4u);
  EXPECT_EQ((*a_list)[0].signal.bar_time(), kT0 + 2 * kNanosPerHour);  // newest first
  auto b_list = log_->ListVisible(b_, {.symbol = "EURUSD", .timeframe = "H1", .limit = 10});
  ASSERT_OK(b_list.status());
  ASSERT_EQ(b_list->size(), 3u);  // platform only: a's own signal is invisible to b
  for (const auto& s : *b_list) EXPECT_EQ(s.tenant, kPlatform);
  // Any symbol; paging with `before`.
  EXPECT_EQ(log_->ListVisible(a_, {.limit = 10})->size(), 5u);
  auto page = log_->ListVisible(b_, {.symbol = "EURUSD", .limit = 2});
  ASSERT_EQ(page->size(), 2u);
  auto next = log_->ListVisible(
      b_, {.symbol = "EURUSD", .limit = 2, .before = page->back().signal.bar_time()});
  ASSERT_EQ(next->size(), 1u);
  EXPECT_EQ(next->front().signal.bar_time(), kT0);
  // Resuming after a signal (the stream's resume_after): the later ones, oldest first.
  auto resumed = log_->ListVisible(b_, {.symbol = "EURUSD", .limit = 10, .after = kT0});
  ASSERT_OK(resumed.status());
  ASSERT_EQ(resumed->size(), 2u);
  EXPECT_EQ((*resumed)[0].signal.bar_time(), kT0 + kNanosPerHour);
  EXPECT_EQ((*resumed)[1].signal.bar_time(), kT0 + 2 * kNanosPerHour);
  auto first = log_->ListVisible(b_, {.symbol = "EURUSD", .limit = 1, .after = kT0});
  ASSERT_EQ(first->size(), 1u);
  EXPECT_EQ(first->front().signal.bar_time(), kT0 + kNanosPerHour) << "the limit keeps the oldest";
  EXPECT_TRUE(
      log_->ListVisible(b_, {.symbol = "EURUSD", .limit = 10, .after = kT0 + 2 * kNanosPerHour})
          ->empty());
  // One model line at a time: a 24-bar signal of the same bar is listed only under its horizon.
  SignalFields f24 =
      MakeSignal("00000000000000d1", "EURUSD", kT0, 0.7, "platform/EURUSD/H1/v9").fields();
  f24.horizon = 24;
  ASSERT_OK(log_->Append(kPlatform, Signal::FromFields(std::move(f24))));
  auto h1 = log_->ListVisible(b_, {.symbol = "EURUSD", .limit = 10, .horizon = 1});
  ASSERT_OK(h1.status());
  EXPECT_EQ(h1->size(), 3u);
  auto h24 = log_->ListVisible(b_, {.symbol = "EURUSD", .limit = 10, .horizon = 24});
  ASSERT_OK(h24.status());
  ASSERT_EQ(h24->size(), 1u);
  EXPECT_EQ(h24->front().signal.horizon(), 24);
  EXPECT_EQ(log_->ListVisible(b_, {.symbol = "EURUSD", .limit = 10})->size(), 4u)
      << "0: any horizon";
  EXPECT_EQ(log_->ListVisible(a_, {.limit = 0}).status().field(), "limit");
  EXPECT_EQ(log_->ListVisible(a_, {.limit = kMaxSignalPage + 1}).status().field(), "limit");

  EXPECT_OK(log_->GetVisible(b_, "00000000000000b1").status());
  EXPECT_EQ(log_->GetVisible(b_, "00000000000000c1").status().code(), StatusCode::kNotFound);
  EXPECT_OK(log_->GetVisible(a_, "00000000000000c1").status());

  // The platform resolves its own signals (system scope); tenants see the resolution.
  const std::vector<market::Bar> later = {MakeBar(kT0 + 1 * kNanosPerHour, 1.05),
                                          MakeBar(kT0 + 2 * kNanosPerHour, 1.06),
                                          MakeBar(kT0 + 3 * kNanosPerHour, 1.07)};
  auto n = ResolvePending(*log_, kPlatform, {"EURUSD", market::Timeframe::kH1}, later);
  ASSERT_OK(n.status());
  EXPECT_EQ(*n, 3u);
  auto seen = log_->GetVisible(b_, "00000000000000b0");
  ASSERT_OK(seen.status());
  ASSERT_TRUE(seen->resolution.has_value());
  EXPECT_NEAR(seen->resolution->realized_return, std::log(1.05 / 1.0625), 1e-12);
  EXPECT_EQ(StoredSignalJson(*seen)["owner"], "platform");
  EXPECT_EQ(StoredSignalJson(*seen)["resolved"], true);
  // a's own signal was not touched by the platform's resolution.
  EXPECT_FALSE(log_->Get(a_, "00000000000000c1")->resolution.has_value());
}

TEST_P(DbSignalLogTest, TenantsCannotWritePlatformRowsUnderRls) {
  if (!is_postgres()) GTEST_SKIP() << "row-level security is PostgreSQL's";
  ASSERT_OK(log_->Append(kPlatform, MakeSignal("00000000000000d1", "EURUSD", kT0, 0.6)));
  // In tenant scope, an UPDATE of a platform row touches nothing (RLS hides it from writes).
  ASSERT_OK(db().WithTenantTx(a_, [&](soci::session& sql) {
    sql << "UPDATE signals SET resolved = 1 WHERE tenant_id IS NULL";
    return Status::Ok();
  }));
  auto s = log_->Get(kPlatform, "00000000000000d1");
  ASSERT_OK(s.status());
  EXPECT_FALSE(s->resolution.has_value());
  auto pending = log_->Unresolved(kPlatform, {"EURUSD", market::Timeframe::kH1});
  ASSERT_OK(pending.status());
  EXPECT_EQ(pending->size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, DbSignalLogTest, SINYAL_DB_BACKENDS,
                         store::testing::BackendName);

}  // namespace
}  // namespace sinyal::signals
