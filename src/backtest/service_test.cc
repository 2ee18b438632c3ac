// Backtests as jobs on SQLite and PostgreSQL: submission checks (field-named errors), the job
// run, results, cancel, per-tenant limits and isolation.
#include "backtest/service.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "backtest/testing/bar_store_test.h"
#include "backtest/testing/random_walk.h"
#include "store/bar_store.h"
#include "store/soci.h"
#include "store/testing/test_db.h"

namespace sinyal::backtest {
namespace {

using nlohmann::json;

constexpr UnixNanos kT0 = 1'650'000'000LL * kNanosPerSecond / kNanosPerHour * kNanosPerHour;

using ::sinyal::store::testing::CreateTenant;

class AlternatingSource : public SignalSource {
 public:
  std::function<void()> on_bar;
  Result<std::optional<BarSignal>> OnBarClosed(int, const market::SeriesKey&, const market::Bar&,
                                               UnixNanos) override {
    if (on_bar) on_bar();
    BarSignal s;
    s.direction = (++n_ / 7) % 2 ? 1 : -1;
    s.confidence = 0.7;
    return std::optional<BarSignal>(s);
  }

 private:
  int n_ = 0;
};

class FakeFactory : public SignalSourceFactory {
 public:
  std::function<void()> on_bar;
  Status Validate(TenantId, const StrategyConfig& c) override {
    if (c.model.config.contains("trees") && c.model.config["trees"].get<int>() > 1000) {
      return Status::InvalidArgument("trees above the plan's 1000", "model.config.trees");
    }
    return Status::Ok();
  }
  Result<std::unique_ptr<SignalSource>> Create(TenantId, const StrategyConfig&,
                                               const std::vector<SeriesInput>& series,
                                               const Progress& progress) override {
    EXPECT_FALSE(series.empty());
    if (progress) progress(1.0, "trained");
    auto s = std::make_unique<AlternatingSource>();
    s->on_bar = on_bar;
    return std::unique_ptr<SignalSource>(std::move(s));
  }
};

class BacktestServiceTest : public testing::BarStoreTest {
 protected:
  void SetUp() override {
    SetUpBars(kT0);
    if (HasFatalFailure() || IsSkipped()) return;
    const std::vector<market::Bar> bars = testing::RandomWalk(
        5000, 3, {.start_time = kT0, .wick_points = 10, .volume = 10, .spread = 5});
    ASSERT_OK(bars_->Import(store::SeriesOwner::Platform(), {"EURUSD", market::Timeframe::kH1},
                            bars, {}));
    jobs_ = std::make_unique<store::JobQueue>(db(), clock_);
    BacktestServiceOptions opt;
    opt.max_active = 2;
    service_ = std::make_unique<BacktestService>(db(), *bars_, *jobs_, factory_, clock_, opt);
    worker_ = std::make_unique<store::JobWorker>(*jobs_, store::JobWorker::Options{"test-worker"});
    worker_->Register(kBacktestJobKind, [this](const store::Job& j, const auto& progress) {
      return service_->RunJob(j, progress);
    });
    tenant_ = CreateTenant(db(), "acme");
  }

  std::string Strategy(const std::string& extra = "") {
    return R"({"symbols": ["EURUSD"], "signal": {"threshold": 0.6},
               "sizing": {"mode": "fixed", "lots": 0.1},
               "costs": {"spread_points": 10, "commission_per_lot": 3.5},
               "baselines": {"random_seeds": 10})" +
           extra + "}";
  }

  std::unique_ptr<store::JobQueue> jobs_;
  FakeFactory factory_;
  std::unique_ptr<BacktestService> service_;
  std::unique_ptr<store::JobWorker> worker_;
  TenantId tenant_;
};

TEST_P(BacktestServiceTest, SubmitRunAndReadTheResult) {
  auto rec = service_->Submit(tenant_, UserId(3), Strategy());
  ASSERT_OK(rec);
  EXPECT_EQ(rec->status, "queued");
  auto ran = worker_->RunOnce();
  ASSERT_OK(ran);
  EXPECT_TRUE(*ran);
  auto done = service_->Get(tenant_, rec->id, true);
  ASSERT_OK(done);
  EXPECT_EQ(done->status, "succeeded");
  EXPECT_DOUBLE_EQ(done->progress, 1.0);
  const json& r = done->result;
  ASSERT_TRUE(r.is_object());
  EXPECT_GT(r["strategy"]["metrics"]["trades"].get<int>(), 100);
  EXPECT_TRUE(r["baselines"]["buy_and_hold"]["metrics"].contains("sharpe"));
  EXPECT_EQ(r["baselines"]["random_entry"]["total_returns"].size(), 10u);
  EXPECT_LE(r["strategy"]["curve"]["equity"].size(), 2000u);
  EXPECT_TRUE(r["definitions"].contains("max_drawdown"));
  // Another tenant can't see it.
  const TenantId other = CreateTenant(db(), "other");
  EXPECT_TRUE(service_->Get(other, rec->id, false).error().IsNotFound());
  EXPECT_TRUE(service_->Cancel(other, rec->id).error().IsNotFound());
  auto list = service_->List(tenant_, 10);
  ASSERT_OK(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(service_->Cancel(tenant_, rec->id).error().field(), "status");
}

TEST_P(BacktestServiceTest, ImpossibleStrategiesAreRefusedWithTheField) {
  auto field_of = [&](const std::string& text) {
    auto r = service_->Submit(tenant_, UserId(3), text);
    return r.ok() ? std::string("ok") : r.error().field();
  };
  EXPECT_EQ(field_of(R"({"symbols": ["EURUSD"], "costs": {"spread_points": -1}})"),
            "costs.spread_points");
  EXPECT_EQ(field_of(R"({"symbols": ["EURUSD"], "signal": {"threshold": 1.01}})"),
            "signal.threshold");
  EXPECT_EQ(
      field_of(R"({"symbols": ["EURUSD"], "period": {"from": "2030-01-01", "to": "2030-01-01"}})"),
      "period");
  EXPECT_EQ(field_of(R"({"symbols": ["EURUSD"], "period": {"from": "2030-01-01"}})"), "period");
  EXPECT_EQ(field_of(R"({"symbols": ["NOSUCH"]})"), "symbols[0]");
  EXPECT_EQ(field_of(R"({"symbols": ["EURUSD"], "model": {"config": {"trees": 5000}}})"),
            "model.config.trees");
  auto big = service_->Submit(
      tenant_, UserId(3), R"({"symbols":["EURUSD"],"name":")" + std::string(10 << 20, 'a') + "\"}");
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code(), StatusCode::kPayloadTooLarge);
  auto list = service_->List(tenant_, 10);
  ASSERT_OK(list);
  EXPECT_TRUE(list->empty());  // nothing stored for refused requests
}

TEST_P(BacktestServiceTest, LimitCancelQueuedAndCancelRunning) {
  auto a = service_->Submit(tenant_, UserId(3), Strategy());
  auto b = service_->Submit(tenant_, UserId(3), Strategy());
  ASSERT_OK(a);
  ASSERT_OK(b);
  auto c = service_->Submit(tenant_, UserId(3), Strategy());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code(), StatusCode::kRateLimited);
  // Cancelling a queued one frees a slot at once; its job then does nothing.
  auto cancelled = service_->Cancel(tenant_, a->id);
  ASSERT_OK(cancelled);
  EXPECT_EQ(cancelled->status, "cancelled");
  ASSERT_OK(service_->Submit(tenant_, UserId(3), Strategy()));
  ASSERT_OK(worker_->RunOnce());  // a's job
  EXPECT_EQ(service_->Get(tenant_, a->id, false)->status, "cancelled");
  // b is cancelled while running: the source asks for it at its 100th bar.
  int bars = 0;
  factory_.on_bar = [&] {
    if (++bars == 100) ASSERT_OK(service_->Cancel(tenant_, b->id));
  };
  ASSERT_OK(worker_->RunOnce());
  auto rb = service_->Get(tenant_, b->id, true);
  ASSERT_OK(rb);
  EXPECT_EQ(rb->status, "cancelled");
  EXPECT_TRUE(rb->result.is_null());
  EXPECT_LT(bars, 5000);
}

// The limit of queued + running backtests is the tenant's (its plan's, wired by app/).
TEST_P(BacktestServiceTest, TheActiveLimitIsPerTenant) {
  const TenantId big = CreateTenant(db(), "big");
  BacktestServiceOptions opt;
  opt.max_active_of = [&](TenantId t) { return t == big ? 3 : 1; };
  BacktestService service(db(), *bars_, *jobs_, factory_, clock_, opt);
  ASSERT_OK(service.Submit(tenant_, UserId(3), Strategy()));
  auto refused = service.Submit(tenant_, UserId(3), Strategy());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), StatusCode::kRateLimited);
  EXPECT_NE(refused.error().message().find("1 at a time"), std::string::npos)
      << refused.error().message();
  for (int i = 0; i < 3; ++i) ASSERT_OK(service.Submit(big, UserId(4), Strategy()));
  EXPECT_EQ(service.Submit(big, UserId(4), Strategy()).error().code(), StatusCode::kRateLimited);
}

INSTANTIATE_TEST_SUITE_P(Backends, BacktestServiceTest, SINYAL_DB_BACKENDS,
                         store::testing::BackendName);

}  // namespace
}  // namespace sinyal::backtest
