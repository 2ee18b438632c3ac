// FakeBotApi: a FAKE (simulated) Telegram Bot API server for tests, benchmarks and the dashboard's
// browser tests. It is NOT Telegram: it speaks the same HTTP + JSON protocol on loopback, keeps
// everything in memory, and lets a test see and steer what Telegram would do.
//
// What it does:
//   - Bot API methods: getMe, sendMessage, getUpdates (long polling with offset confirmation, and
//     409 to the older of two concurrent pollers, like Telegram), setWebhook / deleteWebhook /
//     getWebhookInfo (while a webhook is set, updates are POSTed to it with the
//     X-Telegram-Bot-Api-Secret-Token header and retried until a 2xx, and getUpdates answers 409),
//     getChatMember, setMyCommands. Parameters as a JSON body or a query string.
//   - Records every accepted sendMessage (chat, text, receive time) BEFORE answering, so a slow
//     answer that the client gives up on still counts as delivered, as it would on Telegram.
//   - Injects updates (text messages from any user in any chat, bot membership changes), and
//     faults: 429 with retry_after, 5xx, slow answers; a blocked chat answers 403 "bot was blocked
//     by the user"; message text over 4,096 characters answers 400.
//   - Optional Telegram-like enforcement of the flood limits (global messages per second, per-chat
//     interval, messages per minute per group): a breach answers 429 and is counted, so a test can
//     assert that a sender never provoked one.
//   - A control API over HTTP under /fake/ (for a fake run as its own process, see
//     `sinyal-fake-telegram --help` and docs/telegram.md): POST /fake/updates, GET /fake/sent,
//     POST /fake/faults, POST /fake/block, POST /fake/chat_member, POST /fake/limits,
//     POST /fake/reset, GET /fake/stats.
//
// Thread safety: every method is thread-safe.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace sinyal::notify::testing {

struct FakeSentMessage {
  int64_t message_id = 0;
  int64_t chat_id = 0;
  std::string text;
  bool silent = false;
  int64_t at_nanos = 0;  // steady clock, when the request was received
};

// Telegram-like flood limits the fake enforces (0 = not enforced). Breaches answer 429.
struct FakeLimits {
  double global_per_second = 0;      // sliding 1 s window over every chat
  int64_t per_chat_interval_ms = 0;  // minimum gap between two messages to one chat
  int group_per_minute = 0;          // sliding 60 s window per group chat (chat_id < 0)
  int64_t slack_ms = 0;              // tolerated early arrival (network jitter) per check
  int retry_after = 1;               // seconds, in the 429 answers
};

enum class FaultKind { kRateLimit, kServerError, kSlow };
struct Fault {
  std::string method = "sendMessage";
  FaultKind kind = FaultKind::kRateLimit;
  int count = 1;          // how many matching calls get it
  int retry_after = 1;    // kRateLimit
  int http_status = 500;  // kServerError
  int delay_ms = 0;       // kSlow: answer (normally) after this delay
  int64_t chat_id = 0;    // sendMessage only to this chat; 0 = any
};

class FakeBotApi {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    uint16_t port = 0;  // 0: a free port
    std::string token = "123456:FAKE-telegram-token";
    int64_t bot_id = 777000;
    std::string bot_username = "sinyal_fake_bot";
    size_t io_threads = 4;
  };

  // Starts listening. Unavailable when the port can't be bound.
  [[nodiscard]] static Result<std::unique_ptr<FakeBotApi>> Start(Options options);
  ~FakeBotApi();  // stops
  FakeBotApi(const FakeBotApi&) = delete;
  FakeBotApi& operator=(const FakeBotApi&) = delete;

  // "http://127.0.0.1:<port>": BotApiOptions::base_url.
  std::string base_url() const;
  uint16_t port() const;
  const Options& options() const;

  // ---- updates ----
  // Queues an update (update_id is assigned; returns it).
  int64_t InjectUpdate(nlohmann::json update);
  // A text message from user `from_id` in chat `chat_id` (private when chat_id == from_id).
  int64_t InjectText(int64_t from_id, int64_t chat_id, const std::string& text,
                     const std::string& username = "", const std::string& language_code = "",
                     const std::string& chat_type = "");
  // my_chat_member: the bot's status in `chat_id` changed to `status` ("kicked" = blocked in a
  // private chat; "member" = unblocked or added to a group; "left" = removed).
  int64_t InjectMemberChange(int64_t chat_id, int64_t from_id, const std::string& status);
  // Updates not yet confirmed by a getUpdates offset (or delivered to the webhook).
  size_t PendingUpdates() const;
  // The highest offset a poller has confirmed.
  int64_t ConfirmedOffset() const;

  // ---- what was sent ----
  std::vector<FakeSentMessage> Sent() const;
  std::vector<FakeSentMessage> SentTo(int64_t chat_id) const;
  size_t SentCount() const;
  // Waits until at least n messages were recorded. false on timeout.
  bool WaitForSent(size_t n, std::chrono::milliseconds timeout) const;
  // Waits until a message to `chat_id` containing `needle` is recorded (after `after` messages
  // to that chat). Returns it, or nullopt on timeout.
  std::optional<FakeSentMessage> WaitForMessage(int64_t chat_id, const std::string& needle,
                                                std::chrono::milliseconds timeout,
                                                size_t after = 0) const;

  // ---- behaviour ----
  void AddFault(Fault fault);
  // Every sendMessage in the next `duration` answers 429 retry_after (a "429 storm").
  void RateLimitFor(std::chrono::milliseconds duration, int retry_after);
  void SetLimits(FakeLimits limits);
  // Every sendMessage is answered after this delay (a network round trip to Telegram), after
  // being recorded. Default 0.
  void SetLatency(std::chrono::milliseconds latency);
  void Block(int64_t chat_id);  // the user blocked the bot: sendMessage answers 403
  void Unblock(int64_t chat_id);
  void SetChatMember(int64_t chat_id, int64_t user_id, const std::string& status);
  std::optional<std::string> WebhookUrl() const;
  // Forgets messages, updates, faults, limits, blocks, webhook; keeps the port.
  void Reset();

  struct Stats {
    int64_t requests = 0, send_ok = 0, send_rate_limited = 0, send_blocked = 0, send_errors = 0,
            limit_breaches = 0, get_updates = 0, webhook_posts = 0, webhook_failures = 0;
  };
  Stats stats() const;

  // Stops serving (idempotent).
  void Stop();

  struct Impl;

 private:
  explicit FakeBotApi(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The largest number of `times` (nanoseconds) inside any window of `window` nanoseconds: what a
// flood limit bounds.
inline size_t MaxInWindow(std::vector<int64_t> times, int64_t window) {
  std::sort(times.begin(), times.end());
  size_t best = 0, lo = 0;
  for (size_t hi = 0; hi < times.size(); ++hi) {
    while (times[hi] - times[lo] >= window) ++lo;
    best = std::max(best, hi - lo + 1);
  }
  return best;
}

}  // namespace sinyal::notify::testing
