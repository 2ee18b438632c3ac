// Rate limiting per API key and per user, by plan: GCRA (the generic cell rate algorithm, a
// token bucket without a refill timer) in process or in Redis.
//
// RateLimiter::Check over a RateLimit gives a RateDecision; MakeLocalRateLimiter (in process),
// MakeRedisRateLimiter (shared by every node) and MakeFailoverRateLimiter (Redis, falling back to
// the local limiter while Redis is down) make one; ParseRedisUrl/RedactRedisUrl read and print
// the Redis URL; Gcra is the pure arithmetic both implementations share (docs/billing.md).
//
// GCRA, as both implementations compute it (times in integer microseconds):
//   T   = emission interval = ceil(1e6 / rate_per_second)      (rounded up: never above the rate)
//   tau = burst * T                                            (how far ahead of now a key may run)
//   tat = the key's theoretical arrival time (absent = now)
//   new_tat = max(tat, now) + T;  allowed iff new_tat - now <= tau;  if allowed, tat := new_tat.
// So a fresh key may send `burst` requests at once, then one per T; after an idle period of
// tau it has its full burst again. Refused requests do not consume anything.
//
// Reported per call (IETF draft "RateLimit header fields" semantics):
//   limit               = burst
//   remaining           = requests that could be sent right now after this one: floor((tau - (tat - now)) / T)
//   reset_seconds       = ceil((tat - now) / 1 s): when the bucket is full again
//   retry_after_seconds = 0 when allowed; else ceil((new_tat - tau - now) / 1 s), at least 1
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/status.h"

namespace sinyal::billing {

struct RateLimit {
  double rate_per_second = 1;  // sustained rate. REQUIRES: > 0 and finite.
  int64_t burst = 5;           // bucket depth. REQUIRES: >= 1.
};

struct RateDecision {
  bool allowed = false;
  int64_t limit = 0;
  int64_t remaining = 0;
  int64_t reset_seconds = 0;
  int64_t retry_after_seconds = 0;
};

// InvalidArgument naming "rate_per_second" or "burst" when the limit is unusable.
[[nodiscard]] Status ValidateRateLimit(const RateLimit& limit);

// One GCRA step in microseconds (the arithmetic above, shared by the local limiter and mirrored
// line by line by the Redis Lua script). `tat_us` <= 0 means "no state". Pure.
struct GcraStep {
  bool allowed = false;
  int64_t new_tat_us = 0;  // the key's state after the call (unchanged when refused)
  int64_t retry_after_us = 0;
};
GcraStep Gcra(int64_t tat_us, int64_t now_us, int64_t emission_us, int64_t tau_us);
int64_t EmissionMicros(const RateLimit& limit);
// Builds the decision from a step (shared by both limiters).
RateDecision DecisionFrom(const GcraStep& step, const RateLimit& limit, int64_t now_us);

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;

  // Counts one request of `key` against `limit` at `now` and says whether it may proceed.
  // key: "key:<api_key_id>" or "user:<user_id>" (any short printable string works).
  // Errors: InvalidArgument for a bad limit (ValidateRateLimit); Unavailable when the backing
  // store (Redis) cannot be reached: the caller decides (the HTTP pipeline fails open, see
  // pipeline.h). A refusal is NOT an error: it is a decision with allowed = false.
  // Thread-safe.
  [[nodiscard]] virtual Result<RateDecision> Check(std::string_view key, const RateLimit& limit,
                                                   UnixNanos now) = 0;
};

struct LocalRateLimiterOptions {
  // Upper bound on keys held. Keys whose bucket is full again (tat <= now) hold no information
  // and are dropped by a sweep; if the map is still full, the least-recently-limited keys are
  // dropped (they get a fresh bucket: a small over-allowance, never a wrong refusal).
  // Default: 1,000,000 keys (~100 MB worst case).
  size_t max_keys = 1'000'000;
  int shards = 64;  // Default: 64 mutex-guarded shards.
};

// GCRA in process; uses the `now` passed to Check. Never returns Unavailable.
std::unique_ptr<RateLimiter> MakeLocalRateLimiter(LocalRateLimiterOptions options = {});

// redis://[[user]:password@]host[:port][/db]. rediss:// is refused: hiredis 0.14 has no TLS.
struct RedisUrl {
  std::string host;
  int port = 6379;
  int db = 0;
  std::string user;      // empty = default user
  std::string password;  // empty = no AUTH
};
// InvalidArgument naming "redis.url" with what is wrong (never echoing a password).
[[nodiscard]] Result<RedisUrl> ParseRedisUrl(std::string_view url);
// The URL with any password replaced by "***", for logs.
std::string RedactRedisUrl(std::string_view url);

struct RedisRateLimiterOptions {
  std::string key_prefix = "sinyal:rl:";  // Redis key = prefix + key.
  int connect_timeout_ms = 200;           // Default: 200 ms.
  int command_timeout_ms = 200;           // Default: 200 ms per EVALSHA.
  int max_connections = 16;               // pool size; callers beyond it wait for a free one.
  // After a connection failure, calls fail fast with Unavailable for this long before the next
  // reconnect attempt (so a dead Redis costs microseconds per request, not a timeout each).
  int retry_backoff_ms = 500;
  // Default true: the script reads Redis's own clock (TIME), so servers with skewed clocks
  // share one timeline. Tests set false to drive the script with Check's `now` (keys then live
  // at least 60 s, since that clock need not run at real-time pace).
  bool use_server_time = true;
  // CLIENT SETNAME of every pooled connection (no spaces), so operators see them in CLIENT LIST
  // and tests can kill exactly these connections. Empty: no name.
  std::string client_name = "sinyal-ratelimit";
};

// GCRA in one Lua script (atomic; SCRIPT LOAD once, EVALSHA, reloaded on NOSCRIPT), keys expire
// (PX) once their bucket is full again. A small connection pool; a broken connection is dropped
// and a new one made on a later call. Errors: InvalidArgument for a malformed URL; Unavailable
// when the first connection (made here, so startup fails clearly) cannot be made.
[[nodiscard]] Result<std::unique_ptr<RateLimiter>> MakeRedisRateLimiter(
    std::string url, RedisRateLimiterOptions options = {});

// Uses `primary`; when it returns Unavailable, answers from `fallback` instead (per-process
// limits while Redis is down: the product keeps selling, each server enforcing the plan limit
// on its own) and logs the outage once per minute. Thread-safe.
std::unique_ptr<RateLimiter> MakeFailoverRateLimiter(std::unique_ptr<RateLimiter> primary,
                                                     std::unique_ptr<RateLimiter> fallback);

// What `sinyal serve` uses. Empty `redis_url`: MakeLocalRateLimiter(). Otherwise
// MakeRedisRateLimiter(redis_url) wrapped in MakeFailoverRateLimiter with a local fallback.
// Errors (for startup): InvalidArgument "redis.url" when malformed; Unavailable when Redis can't
// be reached or refuses AUTH now (a typo in the host should stop the deploy, not degrade it
// silently; later outages fail over). Messages never hold the password.
[[nodiscard]] Result<std::unique_ptr<RateLimiter>> MakeRateLimiter(std::string_view redis_url);

}  // namespace sinyal::billing
