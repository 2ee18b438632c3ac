// GCRA arithmetic, the in-process limiter, Redis URL parsing and the failover decorator.
// The Redis limiter itself is in redis_rate_limiter.cc (the only includer of hiredis).
#include "billing/rate_limiter.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/log.h"

namespace sinyal::billing {
namespace {

constexpr int64_t kMicrosPerSecond = 1'000'000;
constexpr int64_t kMaxTauMicros = int64_t{10} * 366 * 86400 * kMicrosPerSecond;  // ~10 years

int64_t CeilDiv(int64_t a, int64_t b) { return a <= 0 ? 0 : (a + b - 1) / b; }

}  // namespace

Status ValidateRateLimit(const RateLimit& limit) {
  if (!std::isfinite(limit.rate_per_second) || limit.rate_per_second <= 0) {
    return Status::InvalidArgument("rate_per_second must be a positive number", "rate_per_second");
  }
  if (limit.burst < 1 || limit.burst > 1'000'000'000) {
    return Status::InvalidArgument("burst must be in [1, 1000000000]", "burst");
  }
  double tau = std::ceil(1e6 / limit.rate_per_second) * static_cast<double>(limit.burst);
  if (tau > static_cast<double>(kMaxTauMicros)) {
    return Status::InvalidArgument("burst / rate_per_second spans more than 10 years", "burst");
  }
  return Status::Ok();
}

int64_t EmissionMicros(const RateLimit& limit) {
  double t = std::ceil(1e6 / limit.rate_per_second);
  return std::max<int64_t>(1, static_cast<int64_t>(t));
}

GcraStep Gcra(int64_t tat_us, int64_t now_us, int64_t emission_us, int64_t tau_us) {
  GcraStep step;
  int64_t base = std::max(tat_us, now_us);
  int64_t new_tat = base + emission_us;
  if (new_tat - now_us <= tau_us) {
    step.allowed = true;
    step.new_tat_us = new_tat;
  } else {
    step.allowed = false;
    step.new_tat_us = std::max(tat_us, now_us);
    step.retry_after_us = new_tat - tau_us - now_us;
  }
  return step;
}

RateDecision DecisionFrom(const GcraStep& step, const RateLimit& limit, int64_t now_us) {
  int64_t emission = EmissionMicros(limit);
  int64_t tau = emission * limit.burst;
  int64_t ahead = std::max<int64_t>(0, step.new_tat_us - now_us);
  RateDecision d;
  d.allowed = step.allowed;
  d.limit = limit.burst;
  d.remaining = std::clamp<int64_t>((tau - ahead) / emission, 0, limit.burst);
  d.reset_seconds = CeilDiv(ahead, kMicrosPerSecond);
  d.retry_after_seconds =
      step.allowed ? 0 : std::max<int64_t>(1, CeilDiv(step.retry_after_us, kMicrosPerSecond));
  return d;
}

// ---- In-process limiter ------------------------------------------------------------------

namespace {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class LocalRateLimiter final : public RateLimiter {
 public:
  explicit LocalRateLimiter(LocalRateLimiterOptions options)
      : shards_(static_cast<size_t>(std::max(1, options.shards))) {
    per_shard_cap_ = std::max<size_t>(1, options.max_keys / shards_.size());
  }

  Result<RateDecision> Check(std::string_view key, const RateLimit& limit, UnixNanos now) override {
    SINYAL_RETURN_IF_ERROR(ValidateRateLimit(limit));
    int64_t now_us = now / 1000;
    int64_t emission = EmissionMicros(limit);
    int64_t tau = emission * limit.burst;
    size_t h = StringHash{}(key);
    Shard& shard = shards_[(h >> 7) % shards_.size()];
    GcraStep step;
    {
      std::lock_guard<std::mutex> lock(shard.mu);
      if (++shard.ops % kSweepEvery == 0 && shard.tat.size() > kSweepAbove) Sweep(shard, now_us);
      auto it = shard.tat.find(key);
      int64_t tat = it == shard.tat.end() ? 0 : it->second;
      step = Gcra(tat, now_us, emission, tau);
      if (step.allowed) {
        if (it != shard.tat.end()) {
          it->second = step.new_tat_us;
        } else {
          if (shard.tat.size() >= per_shard_cap_) MakeRoom(shard, now_us);
          shard.tat.emplace(std::string(key), step.new_tat_us);
        }
      }
    }
    return DecisionFrom(step, limit, now_us);
  }

 private:
  static constexpr uint32_t kSweepEvery = 4096;
  static constexpr size_t kSweepAbove = 1024;

  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, int64_t, StringHash, std::equal_to<>> tat;  // GUARDED_BY(mu)
    uint32_t ops = 0;                                                           // GUARDED_BY(mu)
  };

  // Drops keys whose bucket is full again: they are indistinguishable from absent keys.
  static void Sweep(Shard& shard, int64_t now_us) {
    std::erase_if(shard.tat, [now_us](const auto& kv) { return kv.second <= now_us; });
  }

  // REQUIRES: shard.mu held and the shard at its cap.
  void MakeRoom(Shard& shard, int64_t now_us) {
    Sweep(shard, now_us);
    if (shard.tat.size() < per_shard_cap_) return;
    // Still full of active keys: drop the one closest to a full bucket (smallest tat).
    auto victim =
        std::min_element(shard.tat.begin(), shard.tat.end(),
                         [](const auto& a, const auto& b) { return a.second < b.second; });
    shard.tat.erase(victim);
  }

  std::vector<Shard> shards_;
  size_t per_shard_cap_;
};

}  // namespace

std::unique_ptr<RateLimiter> MakeLocalRateLimiter(LocalRateLimiterOptions options) {
  return std::make_unique<LocalRateLimiter>(options);
}

// ---- Redis URL ----------------------------------------------------------------------------

Result<RedisUrl> ParseRedisUrl(std::string_view url) {
  auto bad = [](std::string why) {
    return Status::InvalidArgument("redis.url: " + why, "redis.url");
  };
  constexpr std::string_view kScheme = "redis://";
  if (url.rfind("rediss://", 0) == 0) {
    return bad(
        "rediss:// (TLS) is not supported: the hiredis 0.14 client has no TLS; use redis:// "
        "on a private network or a TLS tunnel");
  }
  if (url.rfind(kScheme, 0) != 0) return bad("must start with redis://");
  std::string_view rest = url.substr(kScheme.size());
  RedisUrl out;
  size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      // "redis://secret@host": Redis's convention treats a lone userinfo as the password.
      out.password = std::string(userinfo);
    } else {
      out.user = std::string(userinfo.substr(0, colon));
      out.password = std::string(userinfo.substr(colon + 1));
    }
  }
  size_t slash = rest.find('/');
  std::string_view hostport = rest.substr(0, slash);
  std::string_view path =
      slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  if (hostport.empty()) return bad("missing host");
  std::string_view host = hostport, port;
  if (hostport.front() == '[') {  // [::1]:6379
    size_t close = hostport.find(']');
    if (close == std::string_view::npos) return bad("unterminated [ in host");
    host = hostport.substr(1, close - 1);
    std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("unexpected text after ]");
      port = after.substr(1);
    }
  } else {
    size_t colon = hostport.rfind(':');
    if (colon != std::string_view::npos) {
      host = hostport.substr(0, colon);
      port = hostport.substr(colon + 1);
      if (port.empty()) return bad("empty port");
    }
  }
  if (host.empty()) return bad("missing host");
  for (char c : host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ||
          c == ':')) {
      return bad("invalid character in host");
    }
  }
  out.host = std::string(host);
  auto parse_int = [](std::string_view s, int lo, int hi, int* v) {
    if (s.empty() || s.size() > 9) return false;
    int n = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      n = n * 10 + (c - '0');
    }
    if (n < lo || n > hi) return false;
    *v = n;
    return true;
  };
  if (!port.empty() && !parse_int(port, 1, 65535, &out.port)) return bad("port must be 1-65535");
  if (size_t q = path.find('?'); q != std::string_view::npos)
    return bad("query parameters are not supported");
  if (!path.empty() && !parse_int(path, 0, 1'000'000, &out.db))
    return bad("database must be a number (redis://host:port/0)");
  return out;
}

std::string RedactRedisUrl(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return "(unparseable redis url)";
  size_t start = scheme + 3;
  size_t at = url.rfind('@');
  if (at == std::string_view::npos || at < start) return std::string(url);
  std::string_view userinfo = url.substr(start, at - start);
  size_t colon = userinfo.find(':');
  std::string user = colon == std::string_view::npos ? "" : std::string(userinfo.substr(0, colon));
  return std::string(url.substr(0, start)) + user + ":***" + std::string(url.substr(at));
}

// ---- Failover ------------------------------------------------------------------------------

namespace {

class FailoverRateLimiter final : public RateLimiter {
 public:
  FailoverRateLimiter(std::unique_ptr<RateLimiter> primary, std::unique_ptr<RateLimiter> fallback)
      : primary_(std::move(primary)), fallback_(std::move(fallback)) {}

  Result<RateDecision> Check(std::string_view key, const RateLimit& limit, UnixNanos now) override {
    Result<RateDecision> r = primary_->Check(key, limit, now);
    if (r.ok()) {
      if (degraded_.exchange(false, std::memory_order_relaxed)) {
        LogEvent(spdlog::level::warn, "ratelimit_primary_recovered", {});
      }
      return r;
    }
    if (r.error().code() != StatusCode::kUnavailable) return r;
    degraded_.store(true, std::memory_order_relaxed);
    int64_t mono = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::steady_clock::now().time_since_epoch())
                       .count();
    int64_t last = last_log_.load(std::memory_order_relaxed);
    if (mono - last >= int64_t{60} * 1'000'000'000 &&
        last_log_.compare_exchange_strong(last, mono, std::memory_order_relaxed)) {
      LogEvent(spdlog::level::warn, "ratelimit_fallback",
               {{"error", r.error().message()},
                {"action", "limiting per process until the shared store is back"}});
    }
    return fallback_->Check(key, limit, now);
  }

 private:
  std::unique_ptr<RateLimiter> primary_, fallback_;
  std::atomic<bool> degraded_{false};
  std::atomic<int64_t> last_log_{std::numeric_limits<int64_t>::min() / 2};
};

}  // namespace

std::unique_ptr<RateLimiter> MakeFailoverRateLimiter(std::unique_ptr<RateLimiter> primary,
                                                     std::unique_ptr<RateLimiter> fallback) {
  return std::make_unique<FailoverRateLimiter>(std::move(primary), std::move(fallback));
}

}  // namespace sinyal::billing
