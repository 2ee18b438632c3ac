// The persistent Telegram send queue (table telegram_outbox, migration 60).
//
// Writing: OutboxWriter adds messages inside the caller's transaction, so a message is queued
// if and only if the work that produced it commits (a linked account and its welcome, an alert
// and the signal's fan-out, a reply and the update it answers). Each row has a dedupe key that
// is unique per chat (unique index (chat_id, dedupe_key)): "a:<signal id>" for alerts, so an
// alert is queued at most once per chat however often its signal is delivered; "u:<bot>:<update
// id>" for replies; "n:<notice>" for account notices. Texts longer than Telegram's 4,096
// characters become several rows ("<key>", "<key>#2", ...), sent in order.
//
// Sending: SendQueue runs one dispatcher thread and `sender_threads` workers, each with its own
// BotClient. The dispatcher keeps the pending rows in memory (per chat, in id order; chats are
// served by priority: replies, then notices, then alerts, oldest first), asks FloodGate when each
// may go, and for each message it decides to send: marks the row 'sending' in the database
// (committed BEFORE the request leaves), hands it to a worker, and records the outcome:
//   sent           -> 'sent' (with Telegram's message_id)
//   429            -> back to 'pending' with next_attempt_at = now + retry_after; every send
//                     pauses for retry_after + 100 ms (flood.h); not counted as an attempt
//   blocked / chat not found -> the chat is marked blocked (hook) and its pending rows 'skipped'
//   group migrated -> the chat id is changed everywhere (hook) and the message is requeued
//   not sent (DNS/connect) or 5xx -> retried with exponential backoff, at most max_attempts
//   400 bad request -> 'failed'
//   uncertain (the answer was lost after the request left) -> 'uncertain', never resent
// Rows found 'sending' when a sender starts were claimed or in flight when the previous one died:
// they are marked 'uncertain' and not resent. So a message is sent at most once per chat, and a
// stop (SIGTERM) loses nothing: Stop() waits for the requests in flight and records their outcome.
// The dispatcher claims the slots of a short window ahead (twice the claiming transaction's
// latency, 5-100 ms; at most 2 x sender_threads messages), so one transaction covers several
// sends; after a crash (SIGKILL, power) at most those claimed and in-flight messages are left
// 'uncertain': logged, neither resent nor known to be delivered.
//
// Rows queued by other processes are picked up every poll_interval (ids above the highest
// seen) plus a full rescan every 10 polls (PostgreSQL may commit ids out of order). One process
// at a time should run a SendQueue (TelegramBot holds a database lease for it).
//
// Thread safety: OutboxWriter is bound to its transaction's thread. SendQueue is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"
#include "core/status.h"
#include "notify/bot_api.h"
#include "notify/flood.h"
#include "store/fwd.h"

namespace sinyal::notify {

enum class MessageKind { kReply, kNotice, kAlert };  // also the priority order
std::string_view MessageKindName(MessageKind k);     // "reply", "notice", "alert"

struct QueuedMessage {
  std::optional<TenantId> tenant;  // nullopt: a reply to someone without a linked account
  int64_t chat_id = 0;
  std::string dedupe_key;  // 1..200 bytes, unique per chat
  MessageKind kind = MessageKind::kReply;
  std::string text;     // any length (split at 4,096 characters)
  bool silent = false;  // disable_notification
};

// Adds messages inside the caller's transaction (one prepared statement reused).
class OutboxWriter {
 public:
  OutboxWriter(soci::session& sql, UnixNanos now);
  ~OutboxWriter();
  // Rows added: 0 when the chat already has this key (dedupe), else the number of parts.
  // InvalidArgument for an empty text or a bad key/chat.
  [[nodiscard]] Result<int> Add(const QueuedMessage& m);
  // Add of each message in order; the rows added in all.
  [[nodiscard]] Result<int> AddAll(const std::vector<QueuedMessage>& messages);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct SendQueueOptions {
  BotApiOptions api;
  FloodLimits limits;
  int sender_threads = 8;  // concurrent requests. Default 8. [1, 64]
  int max_attempts = 8;    // transient failures before 'failed' (429s don't count). [1, 100]
  std::chrono::milliseconds backoff_base{1000};   // first retry delay, doubled each attempt
  std::chrono::milliseconds backoff_max{300000};  // cap: 5 min
  std::chrono::milliseconds poll_interval{500};   // looks for rows from other processes
  size_t max_in_memory = 100000;                  // pending rows held in memory
};

// Called inside the transaction that records the outcome.
struct ChatEventHooks {
  // The chat blocked the bot (or no longer exists): mark it so nothing more is queued for it.
  std::function<Status(soci::session&, int64_t chat_id, UnixNanos now)> blocked;
  // A group became a supergroup with a new id.
  std::function<Status(soci::session&, int64_t old_chat_id, int64_t new_chat_id)> migrated;
};

class SendQueue {
 public:
  // REQUIRES: db and clock outlive the queue; db is migrated.
  SendQueue(store::Database& db, const Clock& clock, SendQueueOptions options,
            ChatEventHooks hooks = {});
  ~SendQueue();  // Stop()
  SendQueue(const SendQueue&) = delete;
  SendQueue& operator=(const SendQueue&) = delete;

  // Marks rows left 'sending' by a previous sender 'uncertain', then starts the threads.
  // Idempotent while running.
  [[nodiscard]] Status Start();
  // Stops dispatching, waits for the requests in flight and records their outcome. Idempotent.
  void Stop();
  bool running() const;
  // Rows were committed by this process: look now rather than at the next poll.
  void Wake();
  // Waits until nothing is pending (a fresh look at the database included) or in flight.
  // false on timeout. Tests and benchmarks.
  bool WaitIdle(std::chrono::milliseconds timeout);

  struct Stats {
    int64_t sent = 0, rate_limited = 0, retried = 0, failed = 0, blocked = 0, skipped = 0,
            uncertain = 0, migrated = 0, db_errors = 0;
    int64_t pending_in_memory = 0, in_flight = 0;
  };
  Stats stats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sinyal::notify
