// The persistent send queue against the FAKE Bot API over real HTTP, on SQLite and PostgreSQL:
// flood limits (scaled down so the test is short, and checked on the fake's receive times),
// exactly-once delivery, 429 storms, blocked chats, failures, restarts.
#include "notify/send_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <thread>

#include "core/testing/test_util.h"
#include "notify/flood.h"
#include "notify/testing/fake_bot_api.h"
#include "store/soci.h"
#include "store/testing/test_db.h"

namespace sinyal::notify {
namespace {

using store::testing::DbTest;
using testing::FakeBotApi;
using testing::FakeSentMessage;
using testing::MaxInWindow;

constexpr int64_t kMs = 1'000'000;

TEST(FloodGateTest, SpacesMessagesOverallPerChatAndPerGroup) {
  FloodGate gate({.global_per_second = 10,
                  .per_chat_interval_ms = 1000,
                  .group_per_window = 3,
                  .group_window_ms = 60000});
  EXPECT_EQ(gate.GlobalReadyAt(), 0);
  gate.Record(1, 0);
  EXPECT_EQ(gate.GlobalReadyAt(), 100 * kMs);  // 10/s
  EXPECT_EQ(gate.ChatReadyAt(1), 1000 * kMs);  // 1/s per chat
  EXPECT_EQ(gate.ChatReadyAt(2), 0);
  // A group: 3 per 60 s, then the oldest must leave the window.
  gate.Record(-5, 100 * kMs);
  gate.Record(-5, 1100 * kMs);
  gate.Record(-5, 2100 * kMs);
  EXPECT_EQ(gate.ChatReadyAt(-5), 60100 * kMs);
  // A late dispatcher does not burst to catch up.
  gate.Record(3, 10'000 * kMs);
  EXPECT_EQ(gate.GlobalReadyAt(), 10'100 * kMs);
  // 429: everything waits retry_after + 100 ms.
  gate.Pause(10'000 * kMs, 2);
  EXPECT_EQ(gate.GlobalReadyAt(), 12'100 * kMs);
}

class SendQueueTest : public DbTest {
 protected:
  void SetUp() override {
    DbTest::SetUp();
    auto fake = FakeBotApi::Start({});
    ASSERT_OK(fake);
    fake_ = std::move(fake).value();
  }

  SendQueueOptions Options(FloodLimits limits) {
    SendQueueOptions o;
    o.api.base_url = fake_->base_url();
    o.api.token = fake_->options().token;
    o.api.timeout = std::chrono::milliseconds(2000);
    o.limits = limits;
    o.sender_threads = 8;
    o.backoff_base = std::chrono::milliseconds(50);
    o.poll_interval = std::chrono::milliseconds(100);
    return o;
  }

  // Queues one message per (chat, key) in one transaction; returns rows added.
  int Enqueue(const std::vector<QueuedMessage>& messages) {
    int added = 0;
    Status s = db().WithTx([&](soci::session& sql) -> Status {
      added = 0;
      OutboxWriter w(sql, SystemClock::Instance().Now());
      for (const auto& m : messages) {
        SINYAL_ASSIGN_OR_RETURN(int n, w.Add(m));
        added += n;
      }
      return Status::Ok();
    });
    EXPECT_OK(s);
    return added;
  }

  std::map<std::string, int64_t> StateCounts() {
    std::vector<std::string> states(100);
    std::vector<long long> counts(100);
    EXPECT_OK(db().WithTx([&](soci::session& sql) -> Status {
      sql << "SELECT state, COUNT(*) FROM telegram_outbox GROUP BY state", soci::into(states),
          soci::into(counts);
      return Status::Ok();
    }));
    std::map<std::string, int64_t> out;
    for (size_t i = 0; i < states.size(); ++i) out[states[i]] = counts[i];
    return out;
  }

  std::unique_ptr<FakeBotApi> fake_;
};

TEST_P(SendQueueTest, DeliversEachMessageOnceWithinTheScaledLimits) {
  // Scaled limits: 400/s overall, 100 ms per chat (Telegram: 30/s, 1 s). 200 chats x 3 messages.
  const FloodLimits limits{.global_per_second = 400, .per_chat_interval_ms = 100};
  std::vector<QueuedMessage> messages;
  for (int round = 0; round < 3; ++round) {
    for (int chat = 1; chat <= 200; ++chat) {
      messages.push_back({.chat_id = chat,
                          .dedupe_key = "a:sig" + std::to_string(round),
                          .kind = MessageKind::kAlert,
                          .text = "alert " + std::to_string(round)});
    }
  }
  ASSERT_EQ(Enqueue(messages), 600);
  ASSERT_EQ(Enqueue(messages), 0);  // the same alerts again: nothing more is queued
  SendQueue queue(db(), SystemClock::Instance(), Options(limits));
  ASSERT_OK(queue.Start());
  ASSERT_TRUE(queue.WaitIdle(std::chrono::seconds(30)));
  queue.Stop();

  auto sent = fake_->Sent();
  ASSERT_EQ(sent.size(), 600u);
  std::map<std::pair<int64_t, std::string>, int> seen;
  std::map<int64_t, std::vector<int64_t>> per_chat;
  std::vector<int64_t> all;
  for (const FakeSentMessage& m : sent) {
    ++seen[{m.chat_id, m.text}];
    per_chat[m.chat_id].push_back(m.at_nanos);
    all.push_back(m.at_nanos);
  }
  for (const auto& [key, n] : seen) EXPECT_EQ(n, 1) << key.first << " " << key.second;
  // Per chat: at least 100 ms apart, less the jitter between two HTTP requests on a loaded
  // 2-core machine (30 ms).
  for (auto& [chat, times] : per_chat) {
    std::sort(times.begin(), times.end());
    for (size_t i = 1; i < times.size(); ++i)
      EXPECT_GE(times[i] - times[i - 1], 70 * kMs) << "chat " << chat;
  }
  // Overall: any 250 ms window holds at most 400 * 0.25 + 1 messages, plus what 25 ms of HTTP and
  // thread-wake jitter can shift into it (400 * 0.025 = 10).
  EXPECT_LE(MaxInWindow(all, 250 * kMs), 111u);
  // And the in-order per chat: round 0, 1, 2.
  for (int64_t chat = 1; chat <= 200; ++chat) {
    auto to_chat = fake_->SentTo(chat);
    ASSERT_EQ(to_chat.size(), 3u);
    for (int r = 0; r < 3; ++r) EXPECT_EQ(to_chat[r].text, "alert " + std::to_string(r));
  }
  EXPECT_EQ(StateCounts()["sent"], 600);
  EXPECT_EQ(fake_->stats().limit_breaches, 0);
}

TEST_P(SendQueueTest, GroupsGetAtMostTheirShareOfTheWindow) {
  // Scaled: 5 per 2 s window per group (Telegram: 20 per minute), 10 ms per chat.
  const FloodLimits limits{.global_per_second = 1000,
                           .per_chat_interval_ms = 10,
                           .group_per_window = 5,
                           .group_window_ms = 2000};
  std::vector<QueuedMessage> messages;
  for (int i = 0; i < 12; ++i) {
    messages.push_back({.chat_id = -100,
                        .dedupe_key = "n:" + std::to_string(i),
                        .kind = MessageKind::kNotice,
                        .text = "group " + std::to_string(i)});
  }
  ASSERT_EQ(Enqueue(messages), 12);
  SendQueue queue(db(), SystemClock::Instance(), Options(limits));
  ASSERT_OK(queue.Start());
  ASSERT_TRUE(queue.WaitIdle(std::chrono::seconds(20)));
  queue.Stop();
  std::vector<int64_t> times;
  for (const auto& m : fake_->SentTo(-100)) times.push_back(m.at_nanos);
  ASSERT_EQ(times.size(), 12u);
  EXPECT_LE(MaxInWindow(times, 1950 * kMs), 5u);  // 50 ms less for HTTP jitter on a loaded machine
  EXPECT_GE(times.back() - times.front(), 4000 * kMs);  // 12 messages: at least two full windows
}

TEST_P(SendQueueTest, AStormOf429sIsWaitedOutAndNothingIsLostOrDoubled) {
  const FloodLimits limits{.global_per_second = 1000, .per_chat_interval_ms = 10};
  std::vector<QueuedMessage> messages;
  for (int chat = 1; chat <= 50; ++chat) {
    messages.push_back(
        {.chat_id = chat, .dedupe_key = "a:x", .kind = MessageKind::kAlert, .text = "storm"});
  }
  ASSERT_EQ(Enqueue(messages), 50);
  // Every sendMessage in the next 1.5 s answers 429 retry_after 1.
  fake_->RateLimitFor(std::chrono::milliseconds(1500), 1);
  const auto start = std::chrono::steady_clock::now();
  SendQueue queue(db(), SystemClock::Instance(), Options(limits));
  ASSERT_OK(queue.Start());
  ASSERT_TRUE(queue.WaitIdle(std::chrono::seconds(30)));
  queue.Stop();
  EXPECT_EQ(fake_->SentCount(), 50u);
  std::set<int64_t> chats;
  for (const auto& m : fake_->Sent()) EXPECT_TRUE(chats.insert(m.chat_id).second);
  // Honoured: each 429 paused everything for 1.1 s, claimed messages included, so few requests met
  // the storm (those already in the air when the first 429 came: at most sender_threads per pause)
  // instead of hammering it.
  auto stats = fake_->stats();
  EXPECT_GE(stats.send_rate_limited, 1);
  EXPECT_LE(stats.send_rate_limited, 8 * 2);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500));
  EXPECT_EQ(queue.stats().rate_limited, stats.send_rate_limited);
}

TEST_P(SendQueueTest, ABlockedChatIsSkippedAndReportedOnce) {
  const FloodLimits limits{.global_per_second = 1000, .per_chat_interval_ms = 10};
  fake_->Block(7);
  std::vector<int64_t> blocked;
  ChatEventHooks hooks;
  hooks.blocked = [&blocked](soci::session&, int64_t chat, UnixNanos) {
    blocked.push_back(chat);
    return Status::Ok();
  };
  ASSERT_EQ(
      Enqueue({{.chat_id = 7, .dedupe_key = "a:1", .kind = MessageKind::kAlert, .text = "one"},
               {.chat_id = 7, .dedupe_key = "a:2", .kind = MessageKind::kAlert, .text = "two"},
               {.chat_id = 8, .dedupe_key = "a:1", .kind = MessageKind::kAlert, .text = "one"}}),
      3);
  SendQueue queue(db(), SystemClock::Instance(), Options(limits), hooks);
  ASSERT_OK(queue.Start());
  ASSERT_TRUE(queue.WaitIdle(std::chrono::seconds(10)));
  queue.Stop();
  EXPECT_EQ(blocked, std::vector<int64_t>{7});
  EXPECT_EQ(fake_->SentCount(), 1u);
  EXPECT_EQ(fake_->stats().send_blocked, 1);  // the second message was never tried
  auto counts = StateCounts();
  EXPECT_EQ(counts["skipped"], 2);
  EXPECT_EQ(counts["sent"], 1);
}

TEST_P(SendQueueTest, TransientFailuresAreRetriedAndBadRequestsAreNot) {
  const FloodLimits limits{.global_per_second = 1000, .per_chat_interval_ms = 10};
  fake_->AddFault(
      {.kind = testing::FaultKind::kServerError, .count = 2, .http_status = 502, .chat_id = 1});
  ASSERT_EQ(Enqueue({{.chat_id = 1, .dedupe_key = "u:1", .text = "after two 502s"},
                     {.chat_id = 2, .dedupe_key = "u:1", .text = std::string(5000, 'x')}}),
            3);  // the long one is two parts
  SendQueue queue(db(), SystemClock::Instance(), Options(limits));
  ASSERT_OK(queue.Start());
  ASSERT_TRUE(queue.WaitIdle(std::chrono::seconds(10)));
  queue.Stop();
  EXPECT_EQ(fake_->SentTo(1).size(), 1u);
  ASSERT_EQ(fake_->SentTo(2).size(), 2u);
  EXPECT_EQ(fake_->SentTo(2)[0].text.size() + fake_->SentTo(2)[1].text.size(), 5000u);
  EXPECT_EQ(queue.stats().retried, 2);
  EXPECT_EQ(StateCounts()["sent"], 3);
}

TEST_P(SendQueueTest, AnAnswerLostAfterTheRequestLeftIsNeverResent) {
  const FloodLimits limits{.global_per_second = 1000, .per_chat_interval_ms = 10};
  SendQueueOptions o = Options(limits);
  o.api.timeout = std::chrono::milliseconds(300);
  fake_->AddFault({.kind = testing::FaultKind::kSlow, .count = 1, .delay_ms = 1500, .chat_id = 3});
  ASSERT_EQ(
      Enqueue({{.chat_id = 3, .dedupe_key = "a:1", .kind = MessageKind::kAlert, .text = "slow"}}),
      1);
  SendQueue queue(db(), SystemClock::Instance(), o);
  ASSERT_OK(queue.Start());
  ASSERT_TRUE(queue.WaitIdle(std::chrono::seconds(10)));
  queue.Stop();
  EXPECT_EQ(fake_->SentTo(3).size(), 1u);
  EXPECT_EQ(StateCounts()["uncertain"], 1);
}

TEST_P(SendQueueTest, AStopMidwayLosesNothingAndTheNextStartSendsTheRestOnce) {
  // 1 chat per message, 100/s overall: 300 messages take ~3 s; stop after ~1 s.
  const FloodLimits limits{.global_per_second = 100, .per_chat_interval_ms = 10};
  std::vector<QueuedMessage> messages;
  for (int chat = 1; chat <= 300; ++chat) {
    messages.push_back(
        {.chat_id = chat, .dedupe_key = "a:s", .kind = MessageKind::kAlert, .text = "m"});
  }
  ASSERT_EQ(Enqueue(messages), 300);
  {
    SendQueue queue(db(), SystemClock::Instance(), Options(limits));
    ASSERT_OK(queue.Start());
    ASSERT_TRUE(fake_->WaitForSent(80, std::chrono::seconds(10)));
    queue.Stop();
  }
  const size_t first = fake_->SentCount();
  EXPECT_LT(first, 300u);
  auto counts = StateCounts();
  EXPECT_EQ(counts["sending"], 0);  // the stop waited for the requests in flight
  EXPECT_EQ(counts["sent"], static_cast<int64_t>(first));
  SendQueue again(db(), SystemClock::Instance(), Options(limits));
  ASSERT_OK(again.Start());
  ASSERT_TRUE(again.WaitIdle(std::chrono::seconds(20)));
  again.Stop();
  EXPECT_EQ(fake_->SentCount(), 300u);
  std::set<int64_t> chats;
  for (const auto& m : fake_->Sent()) EXPECT_TRUE(chats.insert(m.chat_id).second) << m.chat_id;
  EXPECT_EQ(StateCounts()["sent"], 300);
}

TEST_P(SendQueueTest, RowsLeftSendingByADeadSenderBecomeUncertain) {
  ASSERT_EQ(
      Enqueue({{.chat_id = 9, .dedupe_key = "a:1", .kind = MessageKind::kAlert, .text = "x"}}), 1);
  ASSERT_OK(db().WithTx([](soci::session& sql) -> Status {
    sql << "UPDATE telegram_outbox SET state = 'sending'";
    return Status::Ok();
  }));
  SendQueue queue(db(), SystemClock::Instance(),
                  Options({.global_per_second = 1000, .per_chat_interval_ms = 10}));
  ASSERT_OK(queue.Start());
  ASSERT_TRUE(queue.WaitIdle(std::chrono::seconds(5)));
  queue.Stop();
  EXPECT_EQ(fake_->SentCount(), 0u);
  EXPECT_EQ(StateCounts()["uncertain"], 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, SendQueueTest, SINYAL_DB_BACKENDS, store::testing::BackendName);

}  // namespace
}  // namespace sinyal::notify
