// Metering throughput: Reserve + Commit (exact, durable group commit) per prediction.
//   ninja -C build meter_bench && build/src/billing/meter_bench --benchmark_min_time=2s
// SQLite file database (WAL, synchronous=NORMAL) in a temp dir, one enterprise tenant per
// benchmark (unlimited quota, so every call is charged: one ledger row each). Threads stand in
// for the HTTP worker threads: each call blocks in Commit until its group commit is durable,
// so throughput with many threads shows how well commits share transactions.
// Reported: items_per_second = charged calls per second (real time); calls/tx = batch size.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include "billing/meter.h"
#include "store/database.h"
#include "store/soci.h"

namespace sinyal::billing {
namespace {

struct Env {
  // pg_url empty: SQLite in a temp dir; else PostgreSQL in a fresh schema (dropped at the end).
  Env(MeterOptions options, const std::string& pg_url) {
    store::DatabaseOptions o;
    if (pg_url.empty()) {
      dir = std::filesystem::temp_directory_path() /
            ("sinyal-meter-bench-" + std::to_string(std::random_device{}()));
      o.url = "sqlite://" + (dir / "b.db").string();
    } else {
      o.url = pg_url;
      o.schema = schema = "bench_meter_" + std::to_string(std::random_device{}() % 1000000);
      o.pool_size = 8;
    }
    db_options = o;
    db = std::move(store::Database::Open(o)).value();
    if (!db->Migrate().ok()) std::abort();
    long long id = 0;
    if (!db->WithTx([&](soci::session& sql) {
             sql << "INSERT INTO tenants (name, created_at) VALUES ('bench', 0)";
             sql << "SELECT MAX(id) FROM tenants", soci::into(id);
             return Status::Ok();
           }).ok()) {
      std::abort();
    }
    tenant = TenantId(id);
    plans = std::make_unique<PlanStore>(*db, clock);
    subs = std::make_unique<Subscriptions>(*db, *plans, clock);
    if (!subs->ChangePlan(tenant, "enterprise", clock.Now(), "bench").ok()) std::abort();
    meter = std::make_unique<Meter>(*db, *subs, options);
  }
  ~Env() {
    meter.reset();
    subs.reset();
    plans.reset();
    if (!schema.empty()) {
      (void)db->WithTx([&](soci::session& sql) {
        sql << "DROP SCHEMA IF EXISTS \"" + schema + "\" CASCADE";
        return Status::Ok();
      });
    }
    db.reset();
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
  std::filesystem::path dir;
  std::string schema;
  store::DatabaseOptions db_options;
  ManualClock clock{1'710'000'000LL * kNanosPerSecond};
  std::unique_ptr<store::Database> db;
  std::unique_ptr<PlanStore> plans;
  std::unique_ptr<Subscriptions> subs;
  std::unique_ptr<Meter> meter;
  TenantId tenant;
};

Env* env = nullptr;
std::atomic<int64_t> key_seq{0};

std::string PgUrl() {
  const char* url = std::getenv("SINYAL_TEST_PG_URL");
  return url != nullptr ? url : "";
}

void Setup(const benchmark::State& state) {
  MeterOptions o;
  o.max_linger = std::chrono::microseconds(state.range(1));
  o.verify_keys_at_reserve = state.range(0) == 1;
  if (state.range(2) >= 0) o.bulk_statements = state.range(2) != 0;
  env = new Env(o, "");
}
// PostgreSQL from $SINYAL_TEST_PG_URL (eval "$(scripts/services.sh)"); skipped without it.
void SetupPg(const benchmark::State& state) {
  MeterOptions o;
  o.max_linger = std::chrono::microseconds(state.range(1));
  if (state.range(2) >= 0) o.bulk_statements = state.range(2) != 0;
  if (PgUrl().empty()) return;
  env = new Env(o, PgUrl());
}
void Teardown(const benchmark::State&) {
  delete env;
  env = nullptr;
}

// range(0): 0 = no Idempotency-Key; 1 = every call carries a fresh key (stored with its body),
//           looked up in the database at Reserve (verify_keys_at_reserve = true); 2 = fresh
//           keys, verify_keys_at_reserve = false (the default: Commit's unique constraint).
// range(1): writer linger (MeterOptions::max_linger) in microseconds.
// range(2): MeterOptions::bulk_statements: 1 = multi-row statements per batch, 0 = one
//           prepared statement per call, -1 = unset (the default: per call on SQLite).
void BM_ReserveCommit(benchmark::State& state) {
  const bool keyed = state.range(0) != 0;
  MeterCall call;
  call.tenant = env->tenant;
  call.user = UserId(1);
  call.api_key = ApiKeyId(1);
  call.endpoint = "business.predict";
  call.request_hash = "0123456789abcdef0123456789abcdef";
  const nlohmann::json body = {
      {"prediction", "bullish"}, {"confidence", 0.71}, {"timestamp", "2024-03-15T10:00:00Z"}};
  const auto tx_before = env->meter->stats().transactions;
  int64_t failures = 0;
  for (auto _ : state) {
    if (keyed) call.idempotency_key = "k-" + std::to_string(key_seq.fetch_add(1));
    auto out = env->meter->Reserve(call, env->clock.Now());
    if (!out.ok() || !out->reservation) {
      ++failures;
      continue;
    }
    auto r = env->meter->Commit(std::move(out->reservation), body);
    if (!r.ok()) ++failures;
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    const auto tx = env->meter->stats().transactions - tx_before;
    state.counters["tx"] = static_cast<double>(tx);
  }
  if (failures > 0) state.SkipWithError("a Reserve or Commit failed");
}
BENCHMARK(BM_ReserveCommit)
    ->Setup(Setup)
    ->Teardown(Teardown)
    ->ArgsProduct({{0, 1, 2}, {0, 100}, {-1}})
    ->ArgsProduct({{0, 2}, {100}, {1}})
    ->Threads(1)
    ->Threads(8)
    ->Threads(64)
    ->UseRealTime();

// The same on PostgreSQL (durable commit: WAL flush per transaction).
void BM_ReserveCommitPostgres(benchmark::State& state) {
  if (env == nullptr) {
    state.SkipWithError("SINYAL_TEST_PG_URL is not set");
    for (auto _ : state) {
    }
    return;
  }
  BM_ReserveCommit(state);
}
BENCHMARK(BM_ReserveCommitPostgres)
    ->Setup(SetupPg)
    ->Teardown(Teardown)
    ->ArgsProduct({{0, 2}, {100}, {0, 1}})
    ->Threads(1)
    ->Threads(64)
    ->UseRealTime();

// An asynchronous server: one thread reserves and hands each call to CommitAsync, keeping up
// to range(0) calls in flight (no thread waits per call).
void BM_ReserveCommitAsync(benchmark::State& state) {
  const int64_t window = state.range(0);
  MeterCall call;
  call.tenant = env->tenant;
  call.user = UserId(1);
  call.endpoint = "business.predict";
  const nlohmann::json body = {{"prediction", "bullish"}, {"confidence", 0.71}};
  std::atomic<int64_t> inflight{0}, failures{0};
  const auto tx_before = env->meter->stats().transactions;
  for (auto _ : state) {
    while (inflight.load(std::memory_order_acquire) >= window) std::this_thread::yield();
    auto out = env->meter->Reserve(call, env->clock.Now());
    if (!out.ok() || !out->reservation) {
      failures.fetch_add(1);
      continue;
    }
    inflight.fetch_add(1, std::memory_order_relaxed);
    env->meter->CommitAsync(std::move(out->reservation), body, [&](Result<std::string> r) {
      if (!r.ok()) failures.fetch_add(1);
      inflight.fetch_sub(1, std::memory_order_release);
    });
  }
  env->meter->Flush();
  state.SetItemsProcessed(state.iterations());
  state.counters["tx"] = static_cast<double>(env->meter->stats().transactions - tx_before);
  if (failures.load() > 0) state.SkipWithError("a Reserve or Commit failed");
}
BENCHMARK(BM_ReserveCommitAsync)
    ->Setup(Setup)
    ->Teardown(Teardown)
    ->Args({512, 0, -1})
    ->Args({4096, 0, -1})
    ->UseRealTime();
// CommitAsync on PostgreSQL, one submitting thread, range(0) calls in flight.
void BM_ReserveCommitAsyncPostgres(benchmark::State& state) {
  if (env == nullptr) {
    state.SkipWithError("SINYAL_TEST_PG_URL is not set");
    for (auto _ : state) {
    }
    return;
  }
  BM_ReserveCommitAsync(state);
}
BENCHMARK(BM_ReserveCommitAsyncPostgres)
    ->Setup(SetupPg)
    ->Teardown(Teardown)
    ->Args({4096, 0, -1})
    ->UseRealTime();

// Reserve alone, then dropping the reservation (the in-memory part of the hot path).
void BM_ReserveRelease(benchmark::State& state) {
  MeterCall call;
  call.tenant = env->tenant;
  call.user = UserId(1);
  call.endpoint = "business.predict";
  for (auto _ : state) {
    auto out = env->meter->Reserve(call, env->clock.Now());
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ReserveRelease)->Setup(Setup)->Teardown(Teardown)->Args({0, 0, -1})->ThreadRange(1, 8);

}  // namespace
}  // namespace sinyal::billing
