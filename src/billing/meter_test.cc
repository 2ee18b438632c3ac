#include "billing/meter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "billing/testing/billing_fixture.h"
#include "store/testing/test_db.h"

namespace sinyal::billing {
namespace {

using store::testing::Backend;
using testing::CountRows;
using testing::CreateTenant;
using testing::T;

MeterCall Call(TenantId t, std::string key = {}, std::string hash = "h",
               std::string endpoint = "business.predict", int64_t units = 1) {
  MeterCall c;
  c.tenant = t;
  c.user = UserId(1);
  c.api_key = ApiKeyId(7);
  c.endpoint = std::move(endpoint);
  c.units = units;
  c.idempotency_key = std::move(key);
  c.request_hash = std::move(hash);
  return c;
}

class MeterTest : public testing::BillingTest {
 protected:
  void SetUp() override {
    BillingTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    tenant_ = CreateTenant(db(), "acme");
  }

  // Reserve + Commit with body {"prediction":"bullish"}; returns the committed body.
  Result<nlohmann::json> Predict(const MeterCall& c, UnixNanos now) {
    SINYAL_ASSIGN_OR_RETURN(auto out, meter_->Reserve(c, now));
    if (out.replay) return nlohmann::json::parse(*out.replay);
    SINYAL_ASSIGN_OR_RETURN(
        std::string body,
        meter_->Commit(std::move(out.reservation), nlohmann::json{{"prediction", "bullish"}}));
    return nlohmann::json::parse(body);
  }

  TenantId tenant_;
};

TEST_P(MeterTest, FreePlanStopsAtItsQuotaWith402AndCountsDown) {
  const UnixNanos now = clock_.Now();
  for (int i = 0; i < 100; ++i) {
    auto body = Predict(Call(tenant_), now + i);
    ASSERT_OK(body);
    EXPECT_EQ((*body)["remaining_quota"], 99 - i);
    EXPECT_EQ((*body)["cost_credits"], 1);
    EXPECT_EQ((*body)["usage_cost"], 0);
    EXPECT_EQ((*body)["prediction"], "bullish");
  }
  auto r = meter_->Reserve(Call(tenant_), now + 200);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), StatusCode::kQuotaExceeded);
  EXPECT_NE(r.error().message().find("free"), std::string::npos);
  EXPECT_NE(r.error().message().find("2024-04-01T00:00:00Z"), std::string::npos);
  EXPECT_EQ(CountRows(db(), "usage_ledger", tenant_), 100);

  // The next period starts afresh.
  auto body = Predict(Call(tenant_), T("2024-04-01T00:00:00Z"));
  ASSERT_OK(body);
  EXPECT_EQ((*body)["remaining_quota"], 99);
}

TEST_P(MeterTest, ReleasedReservationChargesNothingAndFreesTheQuota) {
  ASSERT_OK(plans_->Update("free", {{"monthly_quota", 2}}, "op"));
  const UnixNanos now = clock_.Now();
  {
    auto a = meter_->Reserve(Call(tenant_, "k1"), now);
    ASSERT_OK(a);
    auto b = meter_->Reserve(Call(tenant_), now);
    ASSERT_OK(b);
    EXPECT_EQ(b->remaining_estimate, 0);
    EXPECT_EQ(meter_->Reserve(Call(tenant_), now).error().code(), StatusCode::kQuotaExceeded);
    // Both dropped here: the work failed.
  }
  EXPECT_EQ(CountRows(db(), "usage_ledger", tenant_), 0);
  EXPECT_EQ(CountRows(db(), "idempotency_keys", tenant_), 0);
  // The key is free again and the quota is whole.
  ASSERT_OK(Predict(Call(tenant_, "k1"), now));
  auto last = Predict(Call(tenant_), now);
  ASSERT_OK(last);
  EXPECT_EQ((*last)["remaining_quota"], 0);
}

TEST_P(MeterTest, IdempotencyKeyReplaysTheFirstResponseWithoutASecondCharge) {
  const UnixNanos now = clock_.Now();
  auto first = Predict(Call(tenant_, "order-1", "hash-a"), now);
  ASSERT_OK(first);
  EXPECT_EQ((*first)["remaining_quota"], 99);
  // The same key and request: the stored body (still 99), no charge.
  auto again = meter_->Reserve(Call(tenant_, "order-1", "hash-a"), now + 5);
  ASSERT_OK(again);
  ASSERT_TRUE(again->replay.has_value());
  EXPECT_EQ(nlohmann::json::parse(*again->replay), *first);
  EXPECT_EQ(again->reservation, nullptr);
  // The same key with another request: 422.
  auto other = meter_->Reserve(Call(tenant_, "order-1", "hash-b"), now);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(other.error().field(), "Idempotency-Key");
  EXPECT_EQ(CountRows(db(), "usage_ledger", tenant_), 1);
  // Keys are per tenant.
  const TenantId other_tenant = CreateTenant(db(), "globex");
  auto theirs = Predict(Call(other_tenant, "order-1", "hash-b"), now);
  ASSERT_OK(theirs);
  EXPECT_EQ(CountRows(db(), "usage_ledger", other_tenant), 1);

  // A new process (fresh meter, empty caches) replays from the database: one key lookup.
  Meter fresh(db(), *subs_, MeterOptions{.verify_keys_at_reserve = true});
  auto replay = fresh.Reserve(Call(tenant_, "order-1", "hash-a"), now);
  ASSERT_OK(replay);
  ASSERT_TRUE(replay->replay.has_value());
  EXPECT_EQ(nlohmann::json::parse(*replay->replay), *first);
  EXPECT_EQ(fresh.stats().db_key_lookups, 1);
  // Second time from its memory.
  ASSERT_OK(fresh.Reserve(Call(tenant_, "order-1", "hash-a"), now));
  EXPECT_EQ(fresh.stats().db_key_lookups, 1);
  EXPECT_EQ(CountRows(db(), "usage_ledger", tenant_), 1);

  // Without the lookup at Reserve, the retry does the work, and Commit meets the stored key:
  // the first response, no charge; the key is then known in memory.
  Meter lazy(db(), *subs_, MeterOptions{.verify_keys_at_reserve = false});
  auto lz = lazy.Reserve(Call(tenant_, "order-1", "hash-a"), now);
  ASSERT_OK(lz);
  ASSERT_NE(lz->reservation, nullptr);
  auto lz_body = lazy.Commit(std::move(lz->reservation), {{"prediction", "bearish"}});
  ASSERT_OK(lz_body);
  EXPECT_EQ(nlohmann::json::parse(*lz_body), *first);
  EXPECT_EQ(lazy.stats().db_key_lookups, 0);
  EXPECT_EQ(lazy.stats().committed, 0);
  EXPECT_EQ(lazy.Reserve(Call(tenant_, "order-1", "hash-b"), now).error().code(),
            StatusCode::kInvalidArgument);
  auto lz_other = lazy.Reserve(Call(tenant_, "order-2", "hash-b"), now);
  ASSERT_OK(lz_other);
  EXPECT_EQ(CountRows(db(), "usage_ledger", tenant_), 1);
}

TEST_P(MeterTest, KeyInFlightIsAConflictAndBadKeysAreRejected) {
  const UnixNanos now = clock_.Now();
  auto a = meter_->Reserve(Call(tenant_, "k", "h1"), now);
  ASSERT_OK(a);
  auto dup = meter_->Reserve(Call(tenant_, "k", "h1"), now);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code(), StatusCode::kConflict);
  EXPECT_EQ(meter_->Reserve(Call(tenant_, "k", "h2"), now).error().code(),
            StatusCode::kInvalidArgument);
  ASSERT_OK(meter_->Commit(std::move(a->reservation), {{"x", 1}}));
  ASSERT_TRUE(meter_->Reserve(Call(tenant_, "k", "h1"), now)->replay.has_value());

  for (const std::string bad :
       {std::string(256, 'a'), std::string("tab\there"), std::string("caf\xc3\xa9")}) {
    auto r = meter_->Reserve(Call(tenant_, bad), now);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.error().field(), "Idempotency-Key");
  }
  EXPECT_OK(meter_->Reserve(Call(tenant_, std::string(255, 'a')), now));
  EXPECT_EQ(meter_->Reserve(Call(tenant_, "", "h", "business.predict", 0), now).error().field(),
            "units");
  EXPECT_EQ(meter_->Reserve(Call(tenant_, "", "h", ""), now).error().field(), "endpoint");
  auto r = meter_->Reserve(Call(tenant_), now);
  ASSERT_OK(r);
  EXPECT_EQ(meter_->Commit(std::move(r->reservation), nlohmann::json::array()).status().field(),
            "body");
}

TEST_P(MeterTest, PaidPlanAccruesOverageAtThePlansPrice) {
  ASSERT_OK(plans_->Update("pro", {{"monthly_quota", 3}, {"overage_price_idr", 250}}, "op"));
  ASSERT_OK(subs_->ChangePlan(tenant_, "pro", clock_.Now(), "op"));
  const UnixNanos now = clock_.Now();
  std::vector<nlohmann::json> bodies;
  for (int i = 0; i < 5; ++i) {
    auto b = Predict(Call(tenant_), now + i);
    ASSERT_OK(b);
    bodies.push_back(*b);
  }
  EXPECT_EQ(bodies[2]["remaining_quota"], 0);
  EXPECT_EQ(bodies[2]["usage_cost"], 0);
  EXPECT_EQ(bodies[3]["usage_cost"], 250);
  EXPECT_EQ(bodies[4]["remaining_quota"], 0);
  // A batch of 3 units: all overage.
  auto batch = Predict(Call(tenant_, "", "h", "business.predict.batch", 3), now + 10);
  ASSERT_OK(batch);
  EXPECT_EQ((*batch)["cost_credits"], 3);
  EXPECT_EQ((*batch)["usage_cost"], 750);

  long long rows = 0, over = 0, cost = 0, over_rows = 0;
  ASSERT_OK(db().WithTx([&](soci::session& sql) -> Status {
    long long t = tenant_.value();
    sql << "SELECT COUNT(*), SUM(overage_units), SUM(cost_idr) FROM usage_ledger WHERE "
           "tenant_id = :t",
        soci::use(t, "t"), soci::into(rows), soci::into(over), soci::into(cost);
    sql << "SELECT COUNT(*) FROM usage_ledger WHERE tenant_id = :t AND overage_units > 0 AND "
           "unit_price_idr = 250",
        soci::use(t, "t"), soci::into(over_rows);
    return Status::Ok();
  }));
  EXPECT_EQ(rows, 6);
  EXPECT_EQ(over, 5);
  EXPECT_EQ(cost, 1250);
  EXPECT_EQ(over_rows, 3);
}

TEST_P(MeterTest, ConcurrentCallsAreBatchedAndCountedExactly) {
  ASSERT_OK(subs_->ChangePlan(tenant_, "enterprise", clock_.Now(), "op"));
  constexpr int kThreads = 8, kPerThread = 150;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < kPerThread; ++j) {
        auto b =
            Predict(Call(tenant_, j % 2 ? "t" + std::to_string(i) + "-" + std::to_string(j) : ""),
                    clock_.Now());
        if (b.ok() && (*b)["remaining_quota"].is_null()) ok.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  EXPECT_EQ(CountRows(db(), "usage_ledger", tenant_), kThreads * kPerThread);
  EXPECT_EQ(CountRows(db(), "idempotency_keys", tenant_), kThreads * kPerThread / 2);
  const auto st = meter_->stats();
  EXPECT_EQ(st.committed, kThreads * kPerThread);
  EXPECT_LT(st.transactions, kThreads * kPerThread);  // group commit shared transactions
}

TEST_P(MeterTest, CommitAsyncCallsBackOnceDurable) {
  ASSERT_OK(plans_->Update("free", {{"monthly_quota", 40}}, "op"));
  std::mutex mu;
  std::vector<int64_t> remaining;
  int failures = 0;
  for (int i = 0; i < 50; ++i) {
    auto out = meter_->Reserve(Call(tenant_), clock_.Now());
    if (!out.ok()) {
      EXPECT_EQ(out.error().code(), StatusCode::kQuotaExceeded);
      ++failures;
      continue;
    }
    meter_->CommitAsync(std::move(out->reservation), {{"i", i}}, [&](Result<std::string> body) {
      std::lock_guard<std::mutex> lock(mu);
      ASSERT_TRUE(body.ok()) << body.error().ToString();
      remaining.push_back(nlohmann::json::parse(*body)["remaining_quota"].get<int64_t>());
    });
  }
  meter_->Flush();
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(failures, 10);
  ASSERT_EQ(remaining.size(), 40u);
  std::sort(remaining.begin(), remaining.end());
  for (int i = 0; i < 40; ++i) EXPECT_EQ(remaining[i], i);
  EXPECT_EQ(CountRows(db(), "usage_ledger", tenant_), 40);
  // A null reservation is reported through the callback.
  bool called = false;
  meter_->CommitAsync(nullptr, nlohmann::json::object(), [&](Result<std::string> r) {
    called = true;
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  });
  EXPECT_TRUE(called);
}

// A PreparedBody (the caller's own serialisation with usage slots) gives the same text as the json
// body, is stored for Idempotency-Key replays, and bad slots are refused without a charge.
TEST_P(MeterTest, PreparedBodyMatchesTheJsonBodyAndIsReplayed) {
  ASSERT_OK(plans_->Update("free", {{"monthly_quota", 40}}, "op"));
  auto commit_async = [&](std::unique_ptr<Reservation> r, auto body) {
    std::promise<Result<std::string>> done;
    auto cb = [&](Result<std::string> b) { done.set_value(std::move(b)); };
    if constexpr (std::is_same_v<decltype(body), Meter::PreparedBody>) {
      meter_->CommitPreparedAsync(std::move(r), std::move(body), cb);
    } else {
      meter_->CommitAsync(std::move(r), std::move(body), cb);
    }
    return done.get_future().get();
  };
  auto a = meter_->Reserve(Call(tenant_), clock_.Now());
  ASSERT_OK(a);
  auto from_json =
      commit_async(std::move(a->reservation), nlohmann::json{{"a", 1}, {"p", "x"}, {"z", true}});
  ASSERT_OK(from_json);
  EXPECT_EQ(*from_json,
            R"({"a":1,"cost_credits":1,"p":"x","remaining_quota":39,"usage_cost":0,"z":true})");

  Meter::PreparedBody prepared;
  prepared.text = R"({"a":1,"cost_credits":,"p":"x","remaining_quota":,"usage_cost":,"z":true})";
  prepared.cost_credits_at = prepared.text.find("cost_credits\":") + 14;
  prepared.remaining_quota_at = prepared.text.find("remaining_quota\":") + 17;
  prepared.usage_cost_at = prepared.text.find("usage_cost\":") + 12;
  auto b = meter_->Reserve(Call(tenant_, "key-1"), clock_.Now());
  ASSERT_OK(b);
  auto from_prepared = commit_async(std::move(b->reservation), prepared);
  ASSERT_OK(from_prepared);
  EXPECT_EQ(*from_prepared,
            R"({"a":1,"cost_credits":1,"p":"x","remaining_quota":38,"usage_cost":0,"z":true})");
  auto replay = meter_->Reserve(Call(tenant_, "key-1"), clock_.Now());
  ASSERT_OK(replay);
  ASSERT_TRUE(replay->replay.has_value());
  EXPECT_EQ(*replay->replay, *from_prepared);

  Meter::PreparedBody bad = prepared;
  std::swap(bad.cost_credits_at, bad.usage_cost_at);  // out of order
  auto c = meter_->Reserve(Call(tenant_), clock_.Now());
  ASSERT_OK(c);
  auto refused = commit_async(std::move(c->reservation), bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), StatusCode::kInvalidArgument);
  meter_->Flush();
  EXPECT_EQ(CountRows(db(), "usage_ledger", tenant_), 2);
}

// A call whose commit can't succeed (its tenant was deleted after Reserve) fails alone; the
// calls sharing its batch are still committed.
TEST_P(MeterTest, OneFailingCallDoesNotFailItsBatch) {
  const TenantId doomed = CreateTenant(db(), "doomed");
  std::vector<std::unique_ptr<Reservation>> good;
  for (int i = 0; i < 60; ++i) {
    auto out = meter_->Reserve(Call(tenant_), clock_.Now());
    ASSERT_OK(out);
    good.push_back(std::move(out->reservation));
  }
  auto bad = meter_->Reserve(Call(doomed), clock_.Now());
  ASSERT_OK(bad);
  ASSERT_OK(db().WithTx([&](soci::session& sql) -> Status {
    long long t = doomed.value();
    sql << "DELETE FROM tenants WHERE id = :t", soci::use(t, "t");
    return Status::Ok();
  }));
  std::atomic<int> ok{0}, failed{0};
  auto count = [&](Result<std::string> r) { (r.ok() ? ok : failed).fetch_add(1); };
  for (int i = 0; i < 30; ++i) meter_->CommitAsync(std::move(good[i]), {{"i", i}}, count);
  meter_->CommitAsync(std::move(bad->reservation), {{"i", -1}}, count);
  for (int i = 30; i < 60; ++i) meter_->CommitAsync(std::move(good[i]), {{"i", i}}, count);
  meter_->Flush();
  EXPECT_EQ(ok.load(), 60);
  EXPECT_EQ(failed.load(), 1);
  EXPECT_EQ(CountRows(db(), "usage_ledger", tenant_), 60);
}

// Two meters (two processes) on one database, racing for the last units of a Free quota:
// exactly the quota is charged, and every success was a real charge.
TEST_P(MeterTest, TwoMetersOnOneDatabaseStayExact) {
  auto db2 = test_db().OpenAnother();
  ASSERT_OK(db2);
  ManualClock clock2(clock_.Now());
  PlanStore plans2(**db2, clock2);
  Subscriptions subs2(**db2, plans2, clock2);
  // The processes write batches differently (per call / multi-row; which is the default
  // depends on the backend).
  MeterOptions other_mode;
  other_mode.bulk_statements = !is_postgres();
  Meter meter2(**db2, subs2, other_mode);
  ASSERT_OK(subs_->Current(tenant_, clock_.Now()));  // one anchor for both

  constexpr int kThreads = 4, kPerThread = 40;  // 2 x 4 x 40 = 320 attempts for 100 units
  std::atomic<int> ok{0}, quota{0}, other{0};
  std::atomic<int> shown_negative{0};
  auto run = [&](Meter& m, int id) {
    for (int j = 0; j < kPerThread; ++j) {
      MeterCall c = Call(tenant_, "p" + std::to_string(id) + "-" + std::to_string(j));
      auto out = m.Reserve(c, clock_.Now());
      if (!out.ok()) {
        (out.error().code() == StatusCode::kQuotaExceeded ? quota : other).fetch_add(1);
        continue;
      }
      auto body = m.Commit(std::move(out->reservation), {{"prediction", "bearish"}});
      if (!body.ok()) {
        (body.error().code() == StatusCode::kQuotaExceeded ? quota : other).fetch_add(1);
        continue;
      }
      ok.fetch_add(1);
      if (nlohmann::json::parse(*body)["remaining_quota"].get<int64_t>() < 0) {
        shown_negative.fetch_add(1);
      }
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back(run, std::ref(*meter_), i);
    threads.emplace_back(run, std::ref(meter2), 100 + i);
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(ok.load(), 100);
  EXPECT_EQ(quota.load(), 2 * kThreads * kPerThread - 100);
  EXPECT_EQ(shown_negative.load(), 0);
  EXPECT_EQ(CountRows(db(), "usage_ledger", tenant_), 100);
  long long used = 0;
  ASSERT_OK(db().WithTx([&](soci::session& sql) -> Status {
    long long t = tenant_.value();
    sql << "SELECT used FROM usage_counters WHERE tenant_id = :t", soci::use(t, "t"),
        soci::into(used);
    return Status::Ok();
  }));
  EXPECT_EQ(used, 100);
}

// The same Idempotency-Key sent to two processes at once: one charge; the other process
// answers with the first response.
TEST_P(MeterTest, SameKeyInTwoProcessesChargesOnce) {
  auto db2 = test_db().OpenAnother();
  ASSERT_OK(db2);
  PlanStore plans2(**db2, clock_);
  Subscriptions subs2(**db2, plans2, clock_);
  for (bool bulk : {false, true}) {
    MeterOptions o;
    o.bulk_statements = bulk;  // per call: the INSERT meets the key; bulk: the SELECT finds it
    Meter meter2(**db2, subs2, o);
    const UnixNanos now = clock_.Now();
    const std::string key = bulk ? "shared-bulk" : "shared";
    auto a = meter_->Reserve(Call(tenant_, key, "h"), now);
    auto b = meter2.Reserve(Call(tenant_, key, "h"), now);
    ASSERT_OK(a);
    ASSERT_OK(b);
    ASSERT_TRUE(a->reservation && b->reservation);  // neither process knew the key yet
    auto first = meter_->Commit(std::move(a->reservation), {{"who", "first"}});
    auto second = meter2.Commit(std::move(b->reservation), {{"who", "second"}});
    ASSERT_OK(first);
    ASSERT_OK(second);
    EXPECT_EQ(*first, *second);
    EXPECT_EQ(nlohmann::json::parse(*second)["who"], "first");
    EXPECT_EQ(meter2.stats().committed, 0);
  }
  EXPECT_EQ(CountRows(db(), "usage_ledger", tenant_), 2);
}

// At the quota, a retry of a committed call is still replayed (not refused with 402): at
// Commit when the other process's estimate was stale, and at Reserve in a fresh process.
TEST_P(MeterTest, RetryAtTheQuotaIsReplayedNotRefused) {
  ASSERT_OK(plans_->Update("free", {{"monthly_quota", 1}}, "op"));
  auto db2 = test_db().OpenAnother();
  ASSERT_OK(db2);
  PlanStore plans2(**db2, clock_);
  Subscriptions subs2(**db2, plans2, clock_);
  Meter meter2(**db2, subs2);
  const UnixNanos now = clock_.Now();
  auto a = meter_->Reserve(Call(tenant_, "last", "h"), now);
  auto b = meter2.Reserve(Call(tenant_, "last", "h"), now);
  ASSERT_OK(a);
  ASSERT_OK(b);
  auto first = meter_->Commit(std::move(a->reservation), {{"who", "first"}});
  ASSERT_OK(first);
  auto second = meter2.Commit(std::move(b->reservation), {{"who", "second"}});
  ASSERT_OK(second);
  EXPECT_EQ(*second, *first);
  // meter2 now knows the quota is used: another key is refused, the same key replayed.
  EXPECT_EQ(meter2.Reserve(Call(tenant_, "other", "h"), now).error().code(),
            StatusCode::kQuotaExceeded);
  Meter fresh(db(), *subs_);
  auto again = fresh.Reserve(Call(tenant_, "last", "h"), now);
  ASSERT_OK(again);
  ASSERT_TRUE(again->replay.has_value());
  EXPECT_EQ(*again->replay, *first);
  EXPECT_EQ(fresh.Reserve(Call(tenant_, "last", "other-hash"), now).error().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(CountRows(db(), "usage_ledger", tenant_), 1);
}

TEST_P(MeterTest, UsageReportsPerPeriodDayAndEndpoint) {
  const UnixNanos d1 = T("2024-03-02T08:00:00Z"), d2 = T("2024-03-05T23:00:00Z");
  ASSERT_OK(subs_->Current(tenant_, clock_.Now()));  // anchor 2024-03-01T00:00:00Z
  for (int i = 0; i < 3; ++i) ASSERT_OK(Predict(Call(tenant_), d1 + i));
  ASSERT_OK(Predict(Call(tenant_, "", "h", "user.predict"), d2));
  ASSERT_OK(Predict(Call(tenant_, "", "h", "business.predict.batch", 4), d2 + 1));
  // A reservation never committed is not usage.
  { ASSERT_OK(meter_->Reserve(Call(tenant_), d2 + 2)); }
  // Next period.
  ASSERT_OK(Predict(Call(tenant_), T("2024-04-02T00:00:00Z")));

  auto u = meter_->Usage(tenant_, T("2024-03-20T00:00:00Z"), 0);
  ASSERT_OK(u);
  EXPECT_EQ((*u)["plan"], "free");
  EXPECT_EQ((*u)["period"]["start"], "2024-03-01T00:00:00Z");
  EXPECT_EQ((*u)["period"]["end"], "2024-04-01T00:00:00Z");
  EXPECT_EQ((*u)["calls"], 5);
  EXPECT_EQ((*u)["used"], 8);
  EXPECT_EQ((*u)["quota"], 100);
  EXPECT_EQ((*u)["remaining"], 92);
  ASSERT_EQ((*u)["by_day"].size(), 2u);
  EXPECT_EQ((*u)["by_day"][0]["date"], "2024-03-02");
  EXPECT_EQ((*u)["by_day"][0]["units"], 3);
  EXPECT_EQ((*u)["by_day"][1]["date"], "2024-03-05");
  EXPECT_EQ((*u)["by_day"][1]["calls"], 2);
  EXPECT_EQ((*u)["by_day"][1]["units"], 5);
  ASSERT_EQ((*u)["by_endpoint"].size(), 3u);
  EXPECT_EQ((*u)["by_endpoint"][0]["endpoint"], "business.predict");
  EXPECT_EQ((*u)["by_endpoint"][0]["units"], 3);
  EXPECT_EQ((*u)["by_endpoint"][1]["endpoint"], "business.predict.batch");
  EXPECT_EQ((*u)["by_endpoint"][1]["units"], 4);

  // From April, the March period is one back.
  auto prev = meter_->Usage(tenant_, T("2024-04-03T00:00:00Z"), 1);
  ASSERT_OK(prev);
  EXPECT_EQ((*prev)["used"], 8);
  auto cur = meter_->Usage(tenant_, T("2024-04-03T00:00:00Z"), 0);
  ASSERT_OK(cur);
  EXPECT_EQ((*cur)["used"], 1);
  EXPECT_EQ(meter_->Usage(tenant_, T("2024-04-03T00:00:00Z"), 2).error().field(), "period");
  EXPECT_EQ(meter_->Usage(tenant_, T("2024-04-03T00:00:00Z"), -1).error().field(), "period");
}

TEST_P(MeterTest, LedgerIsAppendOnly) {
  ASSERT_OK(Predict(Call(tenant_), clock_.Now()));
  Status st = db().WithTx([&](soci::session& sql) -> Status {
    sql << "UPDATE usage_ledger SET units = 0";
    return Status::Ok();
  });
  EXPECT_FALSE(st.ok());
  // DELETE is refused too: by the trigger on both backends, even for the table's owner (and on
  // PostgreSQL the system role holds no DELETE privilege in the first place).
  EXPECT_FALSE(db().WithTx([&](soci::session& sql) -> Status {
                     sql << "DELETE FROM usage_ledger";
                     return Status::Ok();
                   })
                   .ok());
  EXPECT_FALSE(db().WithOwnerTx([&](soci::session& sql) -> Status {
                     sql << "DELETE FROM usage_ledger";
                     return Status::Ok();
                   })
                   .ok());
  long long units = 0;
  ASSERT_OK(db().WithTx([&](soci::session& sql) -> Status {
    sql << "SELECT SUM(units) FROM usage_ledger", soci::into(units);
    return Status::Ok();
  }));
  EXPECT_EQ(units, 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, MeterTest, SINYAL_DB_BACKENDS, store::testing::BackendName);

// PostgreSQL row-level security: a tenant transaction without a tenant filter sees only its
// own ledger rows and can't update or delete them.
class MeterRlsTest : public MeterTest {};

TEST_P(MeterRlsTest, TenantSeesOnlyItsOwnLedgerAndCannotRewriteIt) {
  const TenantId other = CreateTenant(db(), "globex");
  ASSERT_OK(Predict(Call(tenant_), clock_.Now()));
  ASSERT_OK(Predict(Call(other), clock_.Now()));
  ASSERT_OK(Predict(Call(other), clock_.Now()));
  long long seen = 0;
  ASSERT_OK(db().WithTenantTx(tenant_, [&](soci::session& sql) -> Status {
    sql << "SELECT COUNT(*) FROM usage_ledger", soci::into(seen);
    return Status::Ok();
  }));
  EXPECT_EQ(seen, 1);
  // The app role holds no DELETE privilege on the ledger (and no policy would let it).
  EXPECT_FALSE(db().WithTenantTx(tenant_,
                                 [&](soci::session& sql) -> Status {
                                   sql << "DELETE FROM usage_ledger";
                                   return Status::Ok();
                                 })
                   .ok());
  EXPECT_EQ(CountRows(db(), "usage_ledger", tenant_), 1);
}

INSTANTIATE_TEST_SUITE_P(PostgresOnly, MeterRlsTest, ::testing::Values(Backend::kPostgres),
                         store::testing::BackendName);

}  // namespace
}  // namespace sinyal::billing
