// FloodGate: when the next message may go, under Telegram's flood limits
// (research-tranche2.md B.2: "avoid sending more than one message per second" to a chat, "not
// more than 30 messages per second or so" in bulk, "not more than 20 messages per minute to the
// same group"; the exact limits are unpublished, a breach answers 429 retry_after).
//
// Rules, all on a monotonic clock (nanoseconds):
//   - overall: messages are spaced at least 1/global_per_second apart (no bursts), so any window
//     of W seconds holds at most W * rate + 1 messages;
//   - per chat: at least per_chat_interval apart;
//   - per group (chat_id < 0, Telegram's groups and supergroups): at most group_per_window messages
//     in any sliding window of group_window (exact: the window's log is kept), on top of the
//     per-chat spacing;
//   - a 429 pauses EVERYTHING until now + retry_after (+100 ms), as python-telegram-bot's
//     AIORateLimiter does ("A RetryAfter exception will halt all requests for retry_after + 0.1
//     seconds"): Telegram does not say whether a 429 is about one chat or the bot, and hammering
//     on gets bots banned.
// The limits are configurable so that tests can scale time down (e.g. 1,000/s overall and 20 ms
// per chat) and still check that the scaled limits are respected.
//
// Thread safety: not thread-safe; the send queue's dispatcher thread owns it.
#pragma once

#include <cstdint>
#include <deque>
#include <unordered_map>

namespace sinyal::notify {

struct FloodLimits {
  double global_per_second = 30;        // Default: 30 (Telegram's bulk limit). (0, 100000]
  int64_t per_chat_interval_ms = 1000;  // Default: 1 s. [0, 60000]
  int group_per_window = 20;            // Default: 20 ... [1, 1000]
  int64_t group_window_ms = 60000;      // ... per 60 s. [1, 3600000]
  int64_t retry_pad_ms = 100;           // added to a 429's retry_after. Default 100 ms.
};

class FloodGate {
 public:
  explicit FloodGate(FloodLimits limits) : limits_(limits) {}

  // Earliest time a message to `chat_id` may go, ignoring the overall spacing and pause.
  int64_t ChatReadyAt(int64_t chat_id) const;
  // Earliest time any message may go (overall spacing and pause).
  int64_t GlobalReadyAt() const {
    return global_next_ > paused_until_ ? global_next_ : paused_until_;
  }
  // Records a message sent to `chat_id` at `now` (REQUIRES: now >= both ready times).
  void Record(int64_t chat_id, int64_t now);
  // A 429 with retry_after seconds arrived at `now`: pauses everything.
  void Pause(int64_t now, int retry_after_seconds);
  int64_t paused_until() const { return paused_until_; }
  // Forgets a chat's history (it was blocked or migrated).
  void Forget(int64_t chat_id);
  const FloodLimits& limits() const { return limits_; }

 private:
  FloodLimits limits_;
  int64_t global_next_ = 0;
  int64_t paused_until_ = 0;
  std::unordered_map<int64_t, int64_t> chat_next_;
  std::unordered_map<int64_t, std::deque<int64_t>> group_log_;
};

}  // namespace sinyal::notify
