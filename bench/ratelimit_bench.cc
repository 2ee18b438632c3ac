// billing/ rate limiter: Check() per second and per-call p50/p99, in process and in Redis
// (docs/benchmarks.md, "Rate limiting"). The Redis cases need $SINYAL_TEST_REDIS_URL (e.g.
// after `eval "$(scripts/services.sh)"`) and are skipped with a message otherwise.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "billing/rate_limiter.h"

namespace sinyal::billing {
namespace {

constexpr UnixNanos kT0 = 1'700'000'000LL * kNanosPerSecond;

// Per-call latencies of this thread -> p50/p99 counters, averaged over the threads of a run
// (kAvgThreads): with several threads this is the mean of per-thread percentiles, close to the
// pooled percentile since the threads do the same work.
void ReportLatencies(benchmark::State& state, std::vector<double>& ns) {
  std::sort(ns.begin(), ns.end());
  if (ns.empty()) return;
  state.counters["p50_us"] =
      benchmark::Counter(ns[ns.size() / 2] / 1000, benchmark::Counter::kAvgThreads);
  state.counters["p99_us"] =
      benchmark::Counter(ns[ns.size() * 99 / 100] / 1000, benchmark::Counter::kAvgThreads);
}

// The bench's own hot loop: `keys` distinct keys (round robin per thread), a limit that admits
// most calls (the cost of an admitted call is the one that matters), now advancing 1 us a call.
void RunChecks(benchmark::State& state, RateLimiter& limiter, int keys, bool advance_time) {
  RateLimit limit{1e6, 1000};
  std::vector<std::string> names;
  for (int i = 0; i < keys; ++i)
    names.push_back("key:" + std::to_string(state.thread_index() * 1'000'000 + i));
  std::vector<double> mine;
  mine.reserve(1 << 16);
  // Each run (and thread) starts far after the previous ones, so keys reused across runs are full.
  static std::atomic<int64_t> epoch{0};
  UnixNanos now = kT0 + epoch.fetch_add(1) * 1'000'000 * kNanosPerSecond;
  size_t i = 0;
  int64_t errors = 0, refused = 0;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    auto d = limiter.Check(names[i++ % names.size()], limit, now);
    auto t1 = std::chrono::steady_clock::now();
    if (!d.ok())
      ++errors;
    else if (!d->allowed)
      ++refused;
    if (advance_time) now += 1000;
    if (mine.size() < (1u << 20))
      mine.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
  }
  ReportLatencies(state, mine);
  state.counters["checks_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["errors"] = static_cast<double>(errors);
  state.counters["refused"] = static_cast<double>(refused);
}

// ---- In process ------------------------------------------------------------------------------

RateLimiter& Local() {
  static auto* l = MakeLocalRateLimiter().release();
  return *l;
}

// Arg: number of distinct keys (1 = one hot key, 100000 = many tenants).
void BM_LocalCheck(benchmark::State& state) {
  RunChecks(state, Local(), static_cast<int>(state.range(0)), true);
}
BENCHMARK(BM_LocalCheck)->Arg(1)->Arg(100000)->Threads(1)->Threads(2)->UseRealTime();

// ---- Redis -----------------------------------------------------------------------------------

RateLimiter* Redis() {
  static RateLimiter* r = []() -> RateLimiter* {
    const char* url = std::getenv("SINYAL_TEST_REDIS_URL");
    if (url == nullptr || *url == 0) return nullptr;
    RedisRateLimiterOptions o;
    o.key_prefix = "sinyal:bench:rl:" + std::to_string(std::random_device{}()) + ":";
    auto l = MakeRedisRateLimiter(url, o);  // server time (TIME), as in production
    if (!l.ok()) {
      std::fprintf(stderr, "redis limiter: %s\n", l.error().ToString().c_str());
      return nullptr;
    }
    return std::move(l).value().release();
  }();
  return r;
}

// Arg: number of distinct keys. Threads: concurrent callers (each on its own pooled connection).
void BM_RedisCheck(benchmark::State& state) {
  RateLimiter* r = Redis();
  if (r == nullptr) {
    state.SkipWithError("SINYAL_TEST_REDIS_URL not set or Redis unreachable");
    for (auto _ : state) {
    }
    return;
  }
  RunChecks(state, *r, static_cast<int>(state.range(0)), false);
}
BENCHMARK(BM_RedisCheck)
    ->Arg(1)
    ->Arg(10000)
    ->Threads(1)
    ->Threads(4)
    ->Threads(16)
    ->UseRealTime()
    ->MinTime(2.0);

}  // namespace
}  // namespace sinyal::billing
