// Hot-path costs of authentication (the lead's GET /api/v1/me benchmark sits on these).
//   ninja -C build sinyal_accounts_bench && build/src/accounts/accounts_bench
// SQLite file database in a temp dir; ManualClock so cached entries never expire mid-run
// except in the *_CacheMiss case (cache disabled).
#include <benchmark/benchmark.h>

#include <filesystem>
#include <random>

#include "accounts/accounts.h"
#include "store/database.h"

namespace sinyal::accounts {
namespace {

struct Env {
  explicit Env(int64_t cache_ttl) {
    dir = std::filesystem::temp_directory_path() /
          ("sinyal-bench-" + std::to_string(std::random_device{}()));
    db = std::move(store::Database::Open({.url = "sqlite://" + (dir / "b.db").string()})).value();
    if (!db->Migrate().ok()) std::abort();
    AuthConfig c;
    c.jwt_secret = "bench-secret-0123456789abcdefghijklmnop";
    c.api_key_cache_ttl_seconds = cache_ttl;
    svc = std::make_unique<AccountService>(*db, clock, c);
    auto reg = svc->Register({"Bench", "bench@example.com", "bench password", "Bench"});
    if (!reg.ok()) std::abort();
    token = reg->second.access_token;
    auto p = svc->AuthenticateAccessToken(token);
    key = svc->CreateApiKey(*p, "bench", {}, std::nullopt)->secret;
  }
  ~Env() {
    svc.reset();
    db.reset();
    std::filesystem::remove_all(dir);
  }
  std::filesystem::path dir;
  ManualClock clock{1'700'000'000LL * kNanosPerSecond};
  std::unique_ptr<store::Database> db;
  std::unique_ptr<AccountService> svc;
  std::string token, key;
};

void BM_AuthenticateAccessToken(benchmark::State& state) {
  static Env env(10);
  for (auto _ : state) benchmark::DoNotOptimize(env.svc->AuthenticateAccessToken(env.token));
}
BENCHMARK(BM_AuthenticateAccessToken)->ThreadRange(1, 2);

void BM_AuthenticateApiKey_Cached(benchmark::State& state) {
  static Env env(10);
  for (auto _ : state) benchmark::DoNotOptimize(env.svc->AuthenticateApiKey(env.key));
}
BENCHMARK(BM_AuthenticateApiKey_Cached)->ThreadRange(1, 2);

void BM_AuthenticateApiKey_CacheMiss(benchmark::State& state) {
  static Env env(0);  // every call reads the database
  for (auto _ : state) benchmark::DoNotOptimize(env.svc->AuthenticateApiKey(env.key));
}
BENCHMARK(BM_AuthenticateApiKey_CacheMiss);

void BM_Me(benchmark::State& state) {  // one tenant-scoped read transaction
  static Env env(10);
  static Principal p = *env.svc->AuthenticateAccessToken(env.token);
  for (auto _ : state) benchmark::DoNotOptimize(env.svc->Me(p));
}
BENCHMARK(BM_Me)->ThreadRange(1, 4)->UseRealTime();

void BM_Login(benchmark::State& state) {  // argon2id verify dominates
  static Env env(10);
  for (auto _ : state) {
    benchmark::DoNotOptimize(env.svc->Login("bench@example.com", "bench password"));
  }
}
BENCHMARK(BM_Login)->Unit(benchmark::kMillisecond)->Iterations(20);

}  // namespace
}  // namespace sinyal::accounts
