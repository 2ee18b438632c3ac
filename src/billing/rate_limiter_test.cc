// One behaviour suite run against both limiters (in process, and Redis driven with the test's
// clock), plus tests specific to each: eviction for the local one; server time, NOSCRIPT
// reload, reconnect, key expiry and errors for Redis.
//
// Redis tests need $SINYAL_TEST_REDIS_URL (scripts/services.sh exports it): they FAIL under CI
// (env CI set) and are SKIPPED elsewhere with a message when it is unset.
#include "billing/rate_limiter.h"

#include <gtest/gtest.h>
#include <hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/testing/test_util.h"

namespace sinyal::billing {
namespace {

constexpr UnixNanos kT0 = 1'700'000'000LL * kNanosPerSecond;  // a fixed, realistic epoch time
constexpr int64_t kMs = 1'000'000;                            // nanoseconds

std::string RedisTestUrl() {
  const char* v = std::getenv("SINYAL_TEST_REDIS_URL");
  return v ? v : "";
}

#define SINYAL_REQUIRE_REDIS()                                                               \
  do {                                                                                       \
    if (RedisTestUrl().empty()) {                                                            \
      if (std::getenv("CI") != nullptr) FAIL() << "SINYAL_TEST_REDIS_URL is not set in CI";  \
      GTEST_SKIP() << "SINYAL_TEST_REDIS_URL not set: start Redis with scripts/services.sh"; \
    }                                                                                        \
  } while (0)

// A prefix no other run shares, so runs against one Redis never see each other's keys.
std::string UniquePrefix() {
  std::random_device rd;
  return "sinyal:test:rl:" + std::to_string(rd()) + std::to_string(rd()) + ":";
}

// ---- Pure GCRA ------------------------------------------------------------------------------

TEST(GcraTest, FreshKeyRunsAheadByOneInterval) {
  GcraStep s = Gcra(0, 1000, 100, 500);
  EXPECT_TRUE(s.allowed);
  EXPECT_EQ(s.new_tat_us, 1100);
}

TEST(GcraTest, RefusesBeyondTauAndKeepsState) {
  GcraStep s = Gcra(/*tat=*/1500, /*now=*/1000, 100, 500);  // 1600 - 1000 > 500
  EXPECT_FALSE(s.allowed);
  EXPECT_EQ(s.new_tat_us, 1500);
  EXPECT_EQ(s.retry_after_us, 100);  // at now = 1100, 1600 - 1100 = 500 <= tau
  EXPECT_TRUE(Gcra(1500, 1100, 100, 500).allowed);
}

TEST(GcraTest, PastTatCountsAsNow) {
  GcraStep s = Gcra(/*tat=*/10, /*now=*/1000, 100, 500);
  EXPECT_TRUE(s.allowed);
  EXPECT_EQ(s.new_tat_us, 1100);
}

TEST(GcraTest, EmissionRoundsUpSoTheRateIsNeverExceeded) {
  EXPECT_EQ(EmissionMicros({3, 1}), 333334);
  EXPECT_EQ(EmissionMicros({0.5, 1}), 2'000'000);
  EXPECT_EQ(EmissionMicros({1e9, 1}), 1);
}

TEST(ValidateRateLimitTest, NamesTheField) {
  EXPECT_EQ(ValidateRateLimit({0, 5}).field(), "rate_per_second");
  EXPECT_EQ(ValidateRateLimit({-1, 5}).field(), "rate_per_second");
  EXPECT_EQ(ValidateRateLimit({std::nan(""), 5}).field(), "rate_per_second");
  EXPECT_EQ(ValidateRateLimit({1, 0}).field(), "burst");
  EXPECT_EQ(ValidateRateLimit({1e-9, 1'000'000}).field(), "burst");
  EXPECT_OK(ValidateRateLimit({1, 5}));
}

// ---- The shared suite -----------------------------------------------------------------------

enum class Backend { kLocal, kRedis };

class RateLimiterSuite : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kLocal) {
      limiter_ = MakeLocalRateLimiter();
      return;
    }
    SINYAL_REQUIRE_REDIS();
    RedisRateLimiterOptions options;
    options.key_prefix = UniquePrefix();
    options.use_server_time = false;  // drive the script with the test's `now`
    auto r = MakeRedisRateLimiter(RedisTestUrl(), options);
    ASSERT_OK(r);
    limiter_ = std::move(r).value();
  }

  RateDecision Must(std::string_view key, RateLimit limit, UnixNanos now) {
    auto d = limiter_->Check(key, limit, now);
    EXPECT_OK(d);
    return d.ok() ? *d : RateDecision{};
  }

  std::unique_ptr<RateLimiter> limiter_;
};

TEST_P(RateLimiterSuite, FreshKeyGetsItsBurstThenARefusal) {
  RateLimit limit{1, 5};
  for (int i = 0; i < 5; ++i) {
    RateDecision d = Must("key:1", limit, kT0);
    EXPECT_TRUE(d.allowed) << i;
    EXPECT_EQ(d.limit, 5);
    EXPECT_EQ(d.remaining, 4 - i);
    EXPECT_EQ(d.reset_seconds, i + 1);  // one second of refill per request taken
    EXPECT_EQ(d.retry_after_seconds, 0);
  }
  RateDecision d = Must("key:1", limit, kT0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.remaining, 0);
  EXPECT_EQ(d.reset_seconds, 5);
  EXPECT_EQ(d.retry_after_seconds, 1);
}

TEST_P(RateLimiterSuite, RefillsAtTheRate) {
  RateLimit limit{2, 2};  // one request per 500 ms
  EXPECT_TRUE(Must("user:7", limit, kT0).allowed);
  EXPECT_TRUE(Must("user:7", limit, kT0).allowed);
  EXPECT_FALSE(Must("user:7", limit, kT0 + 499 * kMs).allowed);
  EXPECT_TRUE(Must("user:7", limit, kT0 + 500 * kMs).allowed);
  EXPECT_FALSE(Must("user:7", limit, kT0 + 500 * kMs).allowed);
  EXPECT_TRUE(Must("user:7", limit, kT0 + 1000 * kMs).allowed);
}

TEST_P(RateLimiterSuite, RefusalsConsumeNothing) {
  RateLimit limit{1, 1};
  EXPECT_TRUE(Must("key:9", limit, kT0).allowed);
  for (int i = 0; i < 50; ++i) EXPECT_FALSE(Must("key:9", limit, kT0 + i * 10 * kMs).allowed);
  EXPECT_TRUE(Must("key:9", limit, kT0 + 1000 * kMs).allowed);
}

TEST_P(RateLimiterSuite, KeysAreIndependent) {
  RateLimit limit{1, 1};
  EXPECT_TRUE(Must("key:1", limit, kT0).allowed);
  EXPECT_FALSE(Must("key:1", limit, kT0).allowed);
  EXPECT_TRUE(Must("key:2", limit, kT0).allowed);
  EXPECT_TRUE(Must("user:1", limit, kT0).allowed);
}

TEST_P(RateLimiterSuite, IdleKeyGetsItsFullBurstBack) {
  RateLimit limit{10, 4};
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(Must("k", limit, kT0).allowed);
  EXPECT_FALSE(Must("k", limit, kT0).allowed);
  RateDecision d = Must("k", limit, kT0 + 400 * kMs);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 3);
}

TEST_P(RateLimiterSuite, FractionalRate) {
  RateLimit limit{0.5, 1};  // one request per 2 s
  EXPECT_TRUE(Must("k", limit, kT0).allowed);
  RateDecision d = Must("k", limit, kT0 + 1000 * kMs);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_seconds, 1);
  EXPECT_EQ(d.reset_seconds, 1);
  EXPECT_TRUE(Must("k", limit, kT0 + 2000 * kMs).allowed);
}

TEST_P(RateLimiterSuite, SustainedRateOverASimulatedSecondIsBurstPlusRate) {
  RateLimit limit{1000, 10};
  int allowed = 0;
  // 5,000 requests spread over one second (every 200 us): 10 from the burst + 1000 refilled.
  for (int i = 0; i < 5000; ++i) allowed += Must("k", limit, kT0 + i * 200'000).allowed;
  EXPECT_GE(allowed, 1009);
  EXPECT_LE(allowed, 1010);
}

TEST_P(RateLimiterSuite, ConcurrentCallersGetExactlyTheBurst) {
  RateLimit limit{0.001, 37};  // no refill during the test
  std::atomic<int> allowed{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        auto d = limiter_->Check("key:shared", limit, kT0);
        if (!d.ok())
          ++errors;
        else if (d->allowed)
          ++allowed;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(allowed.load(), 37);
}

TEST_P(RateLimiterSuite, BadLimitIsInvalidArgument) {
  auto d = limiter_->Check("k", RateLimit{0, 5}, kT0);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(d.error().field(), "rate_per_second");
}

INSTANTIATE_TEST_SUITE_P(Backends, RateLimiterSuite,
                         ::testing::Values(Backend::kLocal, Backend::kRedis), [](const auto& info) {
                           return info.param == Backend::kLocal ? "Local" : "Redis";
                         });

// ---- Local only -----------------------------------------------------------------------------

TEST(LocalRateLimiterTest, BoundedMemoryEvictsTheKeyClosestToFull) {
  LocalRateLimiterOptions options;
  options.max_keys = 2;
  options.shards = 1;
  auto limiter = MakeLocalRateLimiter(options);
  RateLimit limit{1, 1};
  EXPECT_TRUE(limiter->Check("a", limit, kT0)->allowed);
  EXPECT_TRUE(limiter->Check("b", limit, kT0 + 1 * kMs)->allowed);
  EXPECT_FALSE(limiter->Check("a", limit, kT0 + 2 * kMs)->allowed);  // remembered
  EXPECT_TRUE(limiter->Check("c", limit, kT0 + 3 * kMs)->allowed);   // full: evicts a
  EXPECT_FALSE(limiter->Check("b", limit, kT0 + 4 * kMs)->allowed);  // b kept
  EXPECT_FALSE(limiter->Check("c", limit, kT0 + 4 * kMs)->allowed);  // c kept
  EXPECT_TRUE(limiter->Check("a", limit, kT0 + 5 * kMs)->allowed);   // a forgotten: fresh bucket
}

TEST(LocalRateLimiterTest, IdleKeysAreSweptBeforeActiveOnesAreEvicted) {
  LocalRateLimiterOptions options;
  options.max_keys = 2;
  options.shards = 1;
  auto limiter = MakeLocalRateLimiter(options);
  RateLimit fast{1000, 1}, slow{1, 1};
  EXPECT_TRUE(limiter->Check("idle", fast, kT0)->allowed);    // full again after 1 ms
  EXPECT_TRUE(limiter->Check("active", slow, kT0)->allowed);  // busy for 1 s
  EXPECT_TRUE(
      limiter->Check("new", slow, kT0 + 10 * kMs)->allowed);  // sweeps "idle", keeps "active"
  EXPECT_FALSE(limiter->Check("active", slow, kT0 + 20 * kMs)->allowed);
}

// ---- Failover -------------------------------------------------------------------------------

class DownLimiter final : public RateLimiter {
 public:
  Result<RateDecision> Check(std::string_view, const RateLimit&, UnixNanos) override {
    ++calls;
    return Status::Unavailable("redis down (test)");
  }
  std::atomic<int> calls{0};
};

TEST(FailoverRateLimiterTest, UsesTheFallbackWhilePrimaryIsUnavailable) {
  auto down = std::make_unique<DownLimiter>();
  DownLimiter* raw = down.get();
  auto limiter = MakeFailoverRateLimiter(std::move(down), MakeLocalRateLimiter());
  RateLimit limit{1, 2};
  EXPECT_TRUE(limiter->Check("k", limit, kT0)->allowed);
  EXPECT_TRUE(limiter->Check("k", limit, kT0)->allowed);
  EXPECT_FALSE(limiter->Check("k", limit, kT0)->allowed);  // the fallback still limits
  EXPECT_EQ(raw->calls.load(), 3);
}

TEST(FailoverRateLimiterTest, InvalidArgumentIsNotMaskedByTheFallback) {
  auto limiter = MakeFailoverRateLimiter(MakeLocalRateLimiter(), MakeLocalRateLimiter());
  auto d = limiter->Check("k", RateLimit{1, 0}, kT0);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code(), StatusCode::kInvalidArgument);
}

// ---- Redis URL ------------------------------------------------------------------------------

TEST(RedisUrlTest, ParsesHostPortDbAndCredentials) {
  auto u = ParseRedisUrl("redis://app:s3cret@cache.internal:6380/2");
  ASSERT_OK(u);
  EXPECT_EQ(u->host, "cache.internal");
  EXPECT_EQ(u->port, 6380);
  EXPECT_EQ(u->db, 2);
  EXPECT_EQ(u->user, "app");
  EXPECT_EQ(u->password, "s3cret");
  auto d = ParseRedisUrl("redis://127.0.0.1");
  ASSERT_OK(d);
  EXPECT_EQ(d->port, 6379);
  EXPECT_EQ(d->db, 0);
  auto p = ParseRedisUrl("redis://:pw@[::1]:7000/");
  ASSERT_OK(p);
  EXPECT_EQ(p->host, "::1");
  EXPECT_EQ(p->port, 7000);
  EXPECT_EQ(p->password, "pw");
  EXPECT_EQ(p->user, "");
}

TEST(RedisUrlTest, RejectsMalformedWithoutEchoingThePassword) {
  for (const char* bad :
       {"", "localhost:6379", "http://h:1", "redis://", "redis://:pw@", "redis://h:0",
        "redis://h:99999", "redis://h:port", "redis://h:1/x", "redis://h/1?timeout=1",
        "redis://h:", "redis://a b", "rediss://h:6379"}) {
    auto u = ParseRedisUrl(bad);
    ASSERT_FALSE(u.ok()) << bad;
    EXPECT_EQ(u.error().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(u.error().field(), "redis.url") << bad;
  }
  auto u = ParseRedisUrl("redis://user:hunter2@h:port");
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().message().find("hunter2"), std::string::npos);
}

TEST(RedisUrlTest, RedactsThePassword) {
  EXPECT_EQ(RedactRedisUrl("redis://app:s3cret@h:1/0"), "redis://app:***@h:1/0");
  EXPECT_EQ(RedactRedisUrl("redis://s3cret@h:1"), "redis://:***@h:1");
  EXPECT_EQ(RedactRedisUrl("redis://h:1/0"), "redis://h:1/0");
  EXPECT_EQ(RedactRedisUrl("garbage:s3cret@x").find("s3cret"), std::string::npos);
}

// ---- Redis only -----------------------------------------------------------------------------

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};

// A side connection for the test to poke Redis (PTTL, SCRIPT FLUSH, CLIENT KILL).
std::unique_ptr<redisContext, ContextDeleter> SideConnection() {
  auto url = ParseRedisUrl(RedisTestUrl());
  EXPECT_OK(url);
  if (!url.ok()) return nullptr;
  std::unique_ptr<redisContext, ContextDeleter> c(redisConnect(url->host.c_str(), url->port));
  EXPECT_TRUE(c && c->err == 0);
  if (!url->password.empty()) {
    freeReplyObject(url->user.empty() ? redisCommand(c.get(), "AUTH %s", url->password.c_str())
                                      : redisCommand(c.get(), "AUTH %s %s", url->user.c_str(),
                                                     url->password.c_str()));
  }
  if (url->db) freeReplyObject(redisCommand(c.get(), "SELECT %d", url->db));
  return c;
}

long long IntegerCommand(redisContext* c, const std::string& cmd, const std::string& arg) {
  auto* r = static_cast<redisReply*>(redisCommand(c, (cmd + " %s").c_str(), arg.c_str()));
  EXPECT_NE(r, nullptr);
  if (!r) return -999;
  long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : -998;
  freeReplyObject(r);
  return v;
}

class RedisRateLimiterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SINYAL_REQUIRE_REDIS();
    prefix_ = UniquePrefix();
    side_ = SideConnection();
    ASSERT_TRUE(side_);
  }
  std::unique_ptr<RateLimiter> Make(bool server_time) {
    RedisRateLimiterOptions o;
    o.key_prefix = prefix_;
    o.use_server_time = server_time;
    o.client_name = "sinyal-test-" + prefix_;  // prefix_ has no spaces
    auto r = MakeRedisRateLimiter(RedisTestUrl(), o);
    EXPECT_OK(r);
    return r.ok() ? std::move(r).value() : nullptr;
  }
  std::string prefix_;
  std::unique_ptr<redisContext, ContextDeleter> side_;
};

TEST_F(RedisRateLimiterTest, ServerTimeModeIgnoresTheCallersClock) {
  auto limiter = Make(/*server_time=*/true);
  ASSERT_TRUE(limiter);
  RateLimit limit{0.01, 3};  // no refill within the test
  // Wildly different `now` values: Redis's clock decides, so the callers share one timeline.
  EXPECT_TRUE(limiter->Check("k", limit, 0)->allowed);
  EXPECT_TRUE(limiter->Check("k", limit, kT0 * 2)->allowed);
  EXPECT_TRUE(limiter->Check("k", limit, 12345)->allowed);
  auto d = limiter->Check("k", limit, kT0);
  ASSERT_OK(d);
  EXPECT_FALSE(d->allowed);
  EXPECT_EQ(d->retry_after_seconds, 100);
}

TEST_F(RedisRateLimiterTest, KeysExpireWhenTheBucketIsFullAgain) {
  auto limiter = Make(/*server_time=*/true);
  ASSERT_TRUE(limiter);
  ASSERT_TRUE(limiter->Check("k", RateLimit{1, 5}, 0)->allowed);
  ASSERT_TRUE(limiter->Check("k", RateLimit{1, 5}, 0)->allowed);
  long long pttl = IntegerCommand(side_.get(), "PTTL", prefix_ + "k");
  EXPECT_GT(pttl, 1000);  // two requests ahead: ~2 s until full
  EXPECT_LE(pttl, 2000);
  ASSERT_TRUE(limiter->Check("fast", RateLimit{1000, 1}, 0)->allowed);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(IntegerCommand(side_.get(), "EXISTS", prefix_ + "fast"), 0);
}

TEST_F(RedisRateLimiterTest, ReloadsTheScriptAfterScriptFlush) {
  auto limiter = Make(/*server_time=*/false);
  ASSERT_TRUE(limiter);
  RateLimit limit{1, 2};
  EXPECT_TRUE(limiter->Check("k", limit, kT0)->allowed);
  freeReplyObject(redisCommand(side_.get(), "SCRIPT FLUSH"));
  auto d = limiter->Check("k", limit, kT0);
  ASSERT_OK(d);
  EXPECT_TRUE(d->allowed);
  EXPECT_EQ(d->remaining, 0);  // state survived the flush: only the script cache was dropped
  EXPECT_FALSE(limiter->Check("k", limit, kT0)->allowed);
}

TEST_F(RedisRateLimiterTest, ReconnectsAfterItsConnectionsAreKilled) {
  auto limiter = Make(/*server_time=*/false);
  ASSERT_TRUE(limiter);
  RateLimit limit{1, 3};
  EXPECT_TRUE(limiter->Check("k", limit, kT0)->allowed);
  // Kills this limiter's connections only (by the name it gives them): other tests and servers
  // may share this Redis, and killing their connections would make them fail or fall back.
  auto* list = static_cast<redisReply*>(redisCommand(side_.get(), "CLIENT LIST"));
  ASSERT_NE(list, nullptr);
  ASSERT_EQ(list->type, REDIS_REPLY_STRING);
  std::istringstream lines(std::string(list->str, list->len));
  freeReplyObject(list);
  int killed = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find(" name=sinyal-test-" + prefix_ + " ") == std::string::npos) continue;
    const size_t id_at = line.find("id=");
    ASSERT_NE(id_at, std::string::npos) << line;
    const std::string id = line.substr(id_at + 3, line.find(' ', id_at) - id_at - 3);
    freeReplyObject(redisCommand(side_.get(), "CLIENT KILL ID %s", id.c_str()));
    ++killed;
  }
  ASSERT_GE(killed, 1) << "no connection named sinyal-test-" << prefix_;
  auto d = limiter->Check("k", limit, kT0);
  ASSERT_OK(d);
  EXPECT_TRUE(d->allowed);
  EXPECT_EQ(d->remaining, 1);
}

TEST(RedisRateLimiterErrorsTest, UnreachableRedisFailsAtStartWithUnavailable) {
  RedisRateLimiterOptions o;
  o.connect_timeout_ms = 100;
  auto r = MakeRedisRateLimiter("redis://127.0.0.1:1/0", o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.error().message().find("127.0.0.1:1"), std::string::npos) << r.error().message();
}

TEST(RedisRateLimiterErrorsTest, MalformedUrlIsInvalidArgument) {
  auto r = MakeRedisRateLimiter("redis://:pw@h:notaport");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.error().field(), "redis.url");
}

TEST(MakeRateLimiterTest, EmptyUrlIsLocalBadUrlNamesTheKeyAndHidesThePassword) {
  auto local = MakeRateLimiter("");
  ASSERT_OK(local);
  EXPECT_TRUE((*local)->Check("k", RateLimit{1, 1}, kT0)->allowed);
  auto bad = MakeRateLimiter("redis://u:hunter2@h:99999");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().field(), "redis.url");
  EXPECT_EQ(bad.error().message().find("hunter2"), std::string::npos) << bad.error().message();
  auto down = MakeRateLimiter("redis://u:hunter2@127.0.0.1:1");
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().code(), StatusCode::kUnavailable);
  EXPECT_NE(down.error().message().find("redis://u:***@127.0.0.1:1"), std::string::npos)
      << down.error().message();
  EXPECT_EQ(down.error().message().find("hunter2"), std::string::npos);
}

TEST_F(RedisRateLimiterTest, MakeRateLimiterWithUrlSharesStateThroughRedis) {
  auto a = MakeRateLimiter(RedisTestUrl());
  auto b = MakeRateLimiter(RedisTestUrl());
  ASSERT_OK(a);
  ASSERT_OK(b);
  std::string key = prefix_ + "shared";  // the default key prefix is prepended; unique anyway
  RateLimit limit{0.01, 2};
  EXPECT_TRUE((*a)->Check(key, limit, 0)->allowed);
  EXPECT_TRUE((*b)->Check(key, limit, 0)->allowed);
  EXPECT_FALSE((*a)->Check(key, limit, 0)->allowed);  // two "servers", one bucket
  EXPECT_FALSE((*b)->Check(key, limit, 0)->allowed);
}

TEST_F(RedisRateLimiterTest, WrongPasswordFailsClearlyWithoutEchoingIt) {
  auto url = ParseRedisUrl(RedisTestUrl());
  ASSERT_OK(url);
  if (!url->password.empty()) GTEST_SKIP() << "test Redis has a password";
  std::string with_pw =
      "redis://:not-the-password-xyz@" + url->host + ":" + std::to_string(url->port);
  auto r = MakeRedisRateLimiter(with_pw);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.error().message().find("AUTH"), std::string::npos) << r.error().message();
  EXPECT_EQ(r.error().message().find("not-the-password-xyz"), std::string::npos);
}

// A private redis-server on a free port, so the test can kill and restart it.
class OwnRedis {
 public:
  bool Start() {
    if (port_ == 0) {
      int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
      socklen_t len = sizeof addr;
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
      port_ = ntohs(addr.sin_port);
      ::close(fd);
    }
    pid_ = ::fork();
    if (pid_ == 0) {
      std::string port = std::to_string(port_);
      ::execl("/usr/bin/redis-server", "redis-server", "--port", port.c_str(), "--bind",
              "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 100; ++i) {  // up to 5 s
      redisContext* c = redisConnect("127.0.0.1", port_);
      bool up = c != nullptr && c->err == 0;
      if (c) redisFree(c);
      if (up) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  void Kill() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  ~OwnRedis() { Kill(); }
  std::string Url() const { return "redis://127.0.0.1:" + std::to_string(port_) + "/0"; }

 private:
  int port_ = 0;
  pid_t pid_ = -1;
};

TEST(RedisOutageTest, FailsFastWhileDownThenReconnectsAndReloadsTheScript) {
  if (!std::filesystem::exists("/usr/bin/redis-server")) {
    if (std::getenv("CI") != nullptr) FAIL() << "redis-server is not installed in CI";
    GTEST_SKIP() << "redis-server not installed (scripts/install-deps.sh)";
  }
  OwnRedis redis;
  ASSERT_TRUE(redis.Start());
  RedisRateLimiterOptions o;
  o.retry_backoff_ms = 300;
  auto made = MakeRedisRateLimiter(redis.Url(), o);
  ASSERT_OK(made);
  RateLimiter& limiter = **made;
  RateLimit limit{0.01, 2};
  EXPECT_TRUE(limiter.Check("k", limit, 0)->allowed);

  redis.Kill();
  auto down = limiter.Check("k", limit, 0);
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().code(), StatusCode::kUnavailable);
  EXPECT_NE(down.error().message().find("127.0.0.1"), std::string::npos) << down.error().message();
  // Within the backoff, calls fail fast without touching the network.
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) ASSERT_FALSE(limiter.Check("k", limit, 0).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(200));

  ASSERT_TRUE(redis.Start());  // same port, empty data: the key's state was lost with the process
  std::this_thread::sleep_for(std::chrono::milliseconds(350));
  auto back = limiter.Check("k", limit, 0);
  ASSERT_OK(back);  // reconnected, and the script reloaded on the new server
  EXPECT_TRUE(back->allowed);
  EXPECT_EQ(back->remaining, 1);
}

}  // namespace
}  // namespace sinyal::billing
