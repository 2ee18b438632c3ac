// Alert fan-out throughput against the FAKE Telegram Bot API server (docs/benchmarks.md,
// "Telegram alert fan-out"). Not Telegram: the fake answers on loopback, optionally after a
// simulated round trip (--latency-ms).
//
// One closed bar's signal reaches N linked users (each with an alert on the series): the bar is
// closed, SignalService computes the signal, the bot queues one outbox row per chat in one
// transaction, and the send queue delivers them within the configured limits. Reported: the time
// to queue the fan-out, the time until the FAKE received the last message, messages per second,
// and the largest number received in any 1 s window (the overall limit) on the FAKE's clock.
//
//   telegram_fanout_bench [--users 10000] [--rate 0|30] [--per-chat-ms 1000] [--threads 8]
//                         [--latency-ms 0] [--postgres]
//   --rate 0 = no overall limit (the machine's throughput); --rate 30 = Telegram's limit.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "notify/testing/bot_fixture.h"
#include "store/testing/test_db.h"

using namespace sinyal;
using notify::testing::BotWorld;
using notify::testing::MaxInWindow;

namespace {

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

int main(int argc, char** argv) {
  int users = 10000, threads = 8, latency_ms = 0;
  double rate = 0;
  int64_t per_chat_ms = 1000;
  bool postgres = false;
  for (int i = 1; i < argc; ++i) {
    auto next = [&](const char* name) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", name);
        std::exit(2);
      }
      return argv[++i];
    };
    if (!std::strcmp(argv[i], "--users"))
      users = std::atoi(next("--users"));
    else if (!std::strcmp(argv[i], "--rate"))
      rate = std::atof(next("--rate"));
    else if (!std::strcmp(argv[i], "--per-chat-ms"))
      per_chat_ms = std::atoll(next("--per-chat-ms"));
    else if (!std::strcmp(argv[i], "--threads"))
      threads = std::atoi(next("--threads"));
    else if (!std::strcmp(argv[i], "--latency-ms"))
      latency_ms = std::atoi(next("--latency-ms"));
    else if (!std::strcmp(argv[i], "--postgres"))
      postgres = true;
    else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  auto test_db = store::testing::TestDatabase::Create(
      postgres ? store::testing::Backend::kPostgres : store::testing::Backend::kSqlite, 8);
  if (!test_db.ok()) {
    std::fprintf(stderr, "database: %s\n", test_db.error().ToString().c_str());
    return 1;
  }
  if (Status s = (*test_db)->db().Migrate(); !s.ok()) {
    std::fprintf(stderr, "migrate: %s\n", s.ToString().c_str());
    return 1;
  }
  BotWorld world((*test_db)->db());
  notify::TelegramOptions o = world.Options();
  o.send.limits.global_per_second = rate > 0 ? rate : 1e6;
  o.send.limits.per_chat_interval_ms = per_chat_ms;
  o.send.sender_threads = threads;
  world.fake().SetLatency(std::chrono::milliseconds(latency_ms));
  world.StartBot(o);

  // Organisations of 100 users each, on Pro, every user linked with an alert on SYNUSD H1.
  const int per_org = 100;
  std::vector<BotWorld::BulkUser> bulk;
  TenantId org;
  for (int i = 0; i < users; ++i) {
    if (i % per_org == 0) org = world.CreateTenant("Org " + std::to_string(i / per_org));
    bulk.push_back({org, "u" + std::to_string(i) + "@example.com",
                    i % per_org == 0 ? accounts::Role::kOwner : accounts::Role::kMember,
                    100000 + i});
  }
  world.CreateLinkedUsers(bulk, 0.5);
  // Warm: the series' signal state is loaded (as it is in a running server once anyone asked),
  // so the timing below is the bar's signal and the fan-out, not the first load of 5,000 bars.
  if (!world.signals().Track(org, {"SYNUSD", market::Timeframe::kH1}).ok() ||
      !world.signals().Latest(org, {"SYNUSD", market::Timeframe::kH1}, INT64_MAX / 2).ok()) {
    std::fprintf(stderr, "no signal for SYNUSD H1\n");
    return 1;
  }
  // That first signal is itself fanned out (a new signal is a new signal): let it go first.
  world.bot().DrainFanOut();
  world.bot().send_queue().WaitIdle(std::chrono::hours(2));
  const size_t before = world.fake().SentCount();
  const auto before_stats = world.bot().send_queue().stats();

  const auto t0 = std::chrono::steady_clock::now();
  auto signal = world.CloseNextBar();  // SignalService: bar -> signal -> listener
  world.bot().DrainFanOut();           // the bot: one outbox row per chat, one transaction
  const auto queued = std::chrono::steady_clock::now();
  const bool all =
      world.fake().WaitForSent(before + static_cast<size_t>(users), std::chrono::hours(2));
  const auto delivered = std::chrono::steady_clock::now();
  auto sent = world.fake().Sent();
  sent.erase(sent.begin(), sent.begin() + static_cast<std::ptrdiff_t>(before));
  std::vector<int64_t> times;
  for (const auto& m : sent) times.push_back(m.at_nanos);
  std::sort(times.begin(), times.end());
  const double span = times.size() > 1 ? (times.back() - times.front()) / 1e9 : 0;
  std::printf(
      "FAKE Telegram fan-out: %d users, backend %s, overall limit %s, per chat %lld ms, %d sender "
      "threads, "
      "simulated round trip %d ms\n",
      users, postgres ? "postgresql" : "sqlite", rate > 0 ? std::to_string(rate).c_str() : "none",
      static_cast<long long>(per_chat_ms), threads, latency_ms);
  std::printf("  signal %s (%s)\n", signal ? signal->id().c_str() : "?",
              signal ? std::string(signals::DirectionName(signal->direction())).c_str() : "?");
  std::printf("  bar closed -> %d alerts queued: %.3f s\n", users, Seconds(queued - t0));
  std::printf("  bar closed -> last alert received by the FAKE: %.3f s (%s)\n",
              Seconds(delivered - t0), all ? "all delivered" : "NOT all delivered");
  std::printf(
      "  delivered %zu messages in %.3f s between the first and the last: %.0f messages/s\n",
      sent.size(), span, span > 0 ? (sent.size() - 1) / span : 0.0);
  std::printf(
      "  most messages received in any 1 s window: %zu; FAKE limit breaches: %lld; 429s: %lld\n",
      MaxInWindow(times, 1'000'000'000LL),
      static_cast<long long>(world.fake().stats().limit_breaches),
      static_cast<long long>(world.fake().stats().send_rate_limited));
  world.bot().send_queue().WaitIdle(std::chrono::seconds(30));
  auto q = world.bot().send_queue().stats();
  std::printf("  queue (this signal): sent %lld, retried %lld, failed %lld, uncertain %lld\n",
              static_cast<long long>(q.sent - before_stats.sent),
              static_cast<long long>(q.retried - before_stats.retried),
              static_cast<long long>(q.failed - before_stats.failed),
              static_cast<long long>(q.uncertain - before_stats.uncertain));
  world.StopBot();
  return all ? 0 : 1;
}
