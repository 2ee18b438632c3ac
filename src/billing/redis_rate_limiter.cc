// GCRA in Redis: one Lua script, atomic per key, run with EVALSHA over a small pool of blocking
// hiredis connections. The only includer of hiredis (stack-check.md section 3: hiredis 0.14.1,
// no TLS, NOSCRIPT after SCRIPT FLUSH or a Redis restart).
#include <hiredis.h>
#include <sys/time.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "billing/rate_limiter.h"
#include "core/log.h"

namespace sinyal::billing {
namespace {

// The same arithmetic as Gcra() in rate_limiter.cc, line by line, in integer microseconds.
// Lua numbers are doubles: every value here is an integer below 2^53 (epoch microseconds are
// ~1.7e15), so the arithmetic is exact. tostring() would print 1.7e+15 and lose digits, hence
// string.format('%.0f'). TIME is allowed in scripts since Redis 5 (effects replication).
// KEYS[1] = bucket key; ARGV[1] = emission interval T (us); ARGV[2] = tau (us);
// ARGV[3] = now (us), or "" to read Redis's clock; ARGV[4] = smallest TTL (ms): 1 with Redis's
// clock; 60 s when the caller's clock drives the script, as that clock need not run at Redis's
// pace (a test's simulated second may take 0.7 s or 3 s of real time).
// Returns {allowed (0|1), tat_after - now (us, >= 0), retry_after (us)}.
constexpr const char* kGcraScript = R"lua(
local T = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local now
if ARGV[3] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[3])
end
local stored = redis.call('GET', KEYS[1])
local tat = 0
if stored then tat = tonumber(stored) or 0 end
local base = now
if tat > now then base = tat end
local new_tat = base + T
if new_tat - now <= tau then
  local ttl_ms = math.ceil((new_tat - now) / 1000)
  local min_ttl = tonumber(ARGV[4])
  if ttl_ms < min_ttl then ttl_ms = min_ttl end
  redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', string.format('%.0f', ttl_ms))
  return {1, new_tat - now, 0}
end
return {0, base - now, new_tat - tau - now}
)lua";

timeval Millis(int ms) {
  timeval tv;
  tv.tv_sec = ms / 1000;
  tv.tv_usec = (ms % 1000) * 1000;
  return tv;
}

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

Reply Command(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  return Reply(static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(args.size()), argv.data(), lens.data())));
}

class RedisRateLimiter final : public RateLimiter {
 public:
  RedisRateLimiter(RedisUrl url, RedisRateLimiterOptions options)
      : url_(std::move(url)), options_(std::move(options)) {}

  ~RedisRateLimiter() override {
    for (redisContext* c : idle_) redisFree(c);
  }

  // Makes the first connection and loads the script, so a bad URL, password or a down Redis fail
  // at startup with a clear message.
  Status Start() {
    auto conn = Connect();
    if (!conn.ok()) return conn.error();
    std::lock_guard<std::mutex> lock(mu_);
    ++open_;
    idle_.push_back(*conn);
    return Status::Ok();
  }

  Result<RateDecision> Check(std::string_view key, const RateLimit& limit, UnixNanos now) override {
    SINYAL_RETURN_IF_ERROR(ValidateRateLimit(limit));
    if (SteadyNanos() < down_until_.load(std::memory_order_relaxed)) {
      return Status::Unavailable("redis at " + Where() + " is unreachable (" + LastError() +
                                 "); next attempt after a short backoff");
    }
    int64_t emission = EmissionMicros(limit);
    std::vector<std::string> args = {"EVALSHA",
                                     sha_,
                                     "1",
                                     options_.key_prefix + std::string(key),
                                     std::to_string(emission),
                                     std::to_string(emission * limit.burst),
                                     options_.use_server_time ? "" : std::to_string(now / 1000),
                                     options_.use_server_time ? "1" : "60000"};
    // Two attempts: an idle pooled connection may have died with a Redis restart.
    Status last;
    for (int attempt = 0; attempt < 2; ++attempt) {
      bool busy = false;
      auto conn = Acquire(&busy);
      if (!conn.ok()) {
        if (busy) return conn.error();  // overload, not an outage: no backoff
        last = conn.error();
        break;  // a fresh connection just failed: Redis is down
      }
      redisContext* c = *conn;
      Reply reply = Command(c, args);
      if (reply && reply->type == REDIS_REPLY_ERROR &&
          std::string_view(reply->str, reply->len).rfind("NOSCRIPT", 0) == 0) {
        // Script cache flushed (SCRIPT FLUSH, restart, failover): load it again and retry once.
        Status loaded = LoadScript(c);
        if (!loaded.ok()) {
          Release(c, /*healthy=*/c->err == 0);
          last = loaded;
          continue;
        }
        reply = Command(c, args);
      }
      if (!reply) {
        last = Status::Unavailable("redis at " + Where() + ": " + std::string(c->errstr));
        Release(c, /*healthy=*/false);
        continue;
      }
      Release(c, /*healthy=*/true);
      if (reply->type == REDIS_REPLY_ERROR) {
        // BUSY, LOADING, OOM, READONLY...: the store can't answer now.
        return Status::Unavailable("redis rate limit script: " +
                                   std::string(reply->str, reply->len));
      }
      if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
          reply->element[0]->type != REDIS_REPLY_INTEGER ||
          reply->element[1]->type != REDIS_REPLY_INTEGER ||
          reply->element[2]->type != REDIS_REPLY_INTEGER) {
        return Status::Internal("redis rate limit script returned an unexpected reply");
      }
      GcraStep step;
      step.allowed = reply->element[0]->integer == 1;
      step.new_tat_us = reply->element[1]->integer;  // relative to now = 0
      step.retry_after_us = reply->element[2]->integer;
      return DecisionFrom(step, limit, 0);
    }
    SetLastError(last.message());
    down_until_.store(SteadyNanos() + int64_t{options_.retry_backoff_ms} * 1'000'000,
                      std::memory_order_relaxed);
    return last.ok() ? Status::Unavailable("redis unavailable") : last;
  }

 private:
  std::string Where() const { return url_.host + ":" + std::to_string(url_.port); }

  Result<redisContext*> Connect() {
    redisContext* c =
        redisConnectWithTimeout(url_.host.c_str(), url_.port, Millis(options_.connect_timeout_ms));
    if (c == nullptr) return Status::Unavailable("redis at " + Where() + ": out of memory");
    auto fail = [&](std::string why) -> Status {
      redisFree(c);
      return Status::Unavailable("redis at " + Where() + ": " + why);
    };
    if (c->err) return fail(c->errstr);
    if (redisSetTimeout(c, Millis(options_.command_timeout_ms)) != REDIS_OK)
      return fail("cannot set timeout");
    if (!url_.password.empty()) {
      std::vector<std::string> auth = {"AUTH"};
      if (!url_.user.empty()) auth.push_back(url_.user);
      auth.push_back(url_.password);
      Reply r = Command(c, auth);
      if (!r) return fail(c->errstr);
      // The error text (e.g. "WRONGPASS invalid username-password pair") never holds the password.
      if (r->type == REDIS_REPLY_ERROR) return fail("AUTH failed: " + std::string(r->str, r->len));
    }
    if (url_.db != 0) {
      Reply r = Command(c, {"SELECT", std::to_string(url_.db)});
      if (!r) return fail(c->errstr);
      if (r->type == REDIS_REPLY_ERROR)
        return fail("SELECT " + std::to_string(url_.db) + ": " + r->str);
    }
    if (!options_.client_name.empty()) {
      Reply r = Command(c, {"CLIENT", "SETNAME", options_.client_name});
      if (!r) return fail(c->errstr);
      if (r->type == REDIS_REPLY_ERROR)
        return fail("CLIENT SETNAME: " + std::string(r->str, r->len));
    }
    Status loaded = LoadScript(c);
    if (!loaded.ok()) {
      redisFree(c);
      return loaded;
    }
    return c;
  }

  Status LoadScript(redisContext* c) {
    Reply r = Command(c, {"SCRIPT", "LOAD", kGcraScript});
    if (!r) return Status::Unavailable("redis at " + Where() + ": " + std::string(c->errstr));
    if (r->type != REDIS_REPLY_STRING) {
      return Status::Unavailable(
          "redis SCRIPT LOAD failed: " +
          std::string(r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply"));
    }
    std::lock_guard<std::mutex> lock(sha_mu_);
    if (sha_.empty()) sha_ = std::string(r->str, r->len);
    return Status::Ok();
  }

  // A pooled connection, or a new one while fewer than max_connections are open; waits (up to
  // the command timeout) when all are busy.
  Result<redisContext*> Acquire(bool* busy) {
    std::unique_lock<std::mutex> lock(mu_);
    auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.command_timeout_ms);
    while (idle_.empty() && open_ >= options_.max_connections) {
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
          open_ >= options_.max_connections) {
        *busy = true;
        return Status::Unavailable("all " + std::to_string(options_.max_connections) +
                                   " redis connections are busy");
      }
    }
    if (!idle_.empty()) {
      redisContext* c = idle_.back();
      idle_.pop_back();
      return c;
    }
    ++open_;
    lock.unlock();
    auto c = Connect();
    if (!c.ok()) {
      lock.lock();
      --open_;
      cv_.notify_one();
    }
    return c;
  }

  void Release(redisContext* c, bool healthy) {
    std::lock_guard<std::mutex> lock(mu_);
    if (healthy && c->err == 0) {
      idle_.push_back(c);
    } else {
      redisFree(c);
      --open_;
    }
    cv_.notify_one();
  }

  std::string LastError() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_error_;
  }
  void SetLastError(std::string e) {
    std::lock_guard<std::mutex> lock(mu_);
    last_error_ = std::move(e);
  }

  const RedisUrl url_;
  const RedisRateLimiterOptions options_;
  // The SHA1 of kGcraScript; set by the first SCRIPT LOAD (in Start, before any Check) and
  // identical for every later load, so Check reads it without a lock.
  std::mutex sha_mu_;
  std::string sha_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<redisContext*> idle_;  // GUARDED_BY(mu_)
  int open_ = 0;                     // GUARDED_BY(mu_): idle + in use
  std::string last_error_;           // GUARDED_BY(mu_)
  std::atomic<int64_t> down_until_{0};
};

}  // namespace

Result<std::unique_ptr<RateLimiter>> MakeRedisRateLimiter(std::string url,
                                                          RedisRateLimiterOptions options) {
  SINYAL_ASSIGN_OR_RETURN(RedisUrl parsed, ParseRedisUrl(url));
  if (options.max_connections < 1) options.max_connections = 1;
  auto limiter = std::make_unique<RedisRateLimiter>(std::move(parsed), std::move(options));
  SINYAL_RETURN_IF_ERROR(limiter->Start());
  return std::unique_ptr<RateLimiter>(std::move(limiter));
}

Result<std::unique_ptr<RateLimiter>> MakeRateLimiter(std::string_view redis_url) {
  if (redis_url.empty()) return MakeLocalRateLimiter();
  auto redis = MakeRedisRateLimiter(std::string(redis_url));
  if (!redis.ok()) {
    return Status(redis.error().code(),
                  "rate limiter at " + RedactRedisUrl(redis_url) + ": " + redis.error().message(),
                  redis.error().field());
  }
  return MakeFailoverRateLimiter(std::move(redis).value(), MakeLocalRateLimiter());
}

}  // namespace sinyal::billing
