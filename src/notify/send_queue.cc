#include "notify/send_queue.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <queue>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/log.h"
#include "store/database.h"
#include "store/soci.h"

namespace sinyal::notify {
namespace {

int Priority(MessageKind k) { return static_cast<int>(k); }

// How far ahead the dispatcher plans (and claims) send slots: twice the recent claiming
// transaction's latency, within [5 ms, 100 ms]. Claimed slots are what a crash can leave
// 'uncertain', so the window is kept as short as the database allows.
constexpr int64_t kMinLookahead = 5'000'000;
constexpr int64_t kMaxLookahead = 100'000'000;

// Runs a statement and returns the rows it changed.
template <typename... Uses>
long long Exec(soci::session& sql, const std::string& q, Uses&&... uses) {
  soci::statement st = (sql.prepare << q, ..., std::forward<Uses>(uses));
  st.execute(true);
  return st.get_affected_rows();
}

}  // namespace

std::string_view MessageKindName(MessageKind k) {
  switch (k) {
    case MessageKind::kReply:
      return "reply";
    case MessageKind::kNotice:
      return "notice";
    case MessageKind::kAlert:
      return "alert";
  }
  return "reply";
}

// ---------------------------------------------------------------------------------------------
// OutboxWriter

struct OutboxWriter::Impl {
  soci::session& sql;
  long long now;
  long long tenant = 0;
  soci::indicator tenant_ind = soci::i_null;
  long long chat = 0;
  std::string key, kind, text;
  int priority = 0, silent = 0;
  std::optional<soci::statement> st;

  Impl(soci::session& s, UnixNanos n) : sql(s), now(n) {}
};

OutboxWriter::OutboxWriter(soci::session& sql, UnixNanos now)
    : impl_(std::make_unique<Impl>(sql, now)) {}
OutboxWriter::~OutboxWriter() = default;

Result<int> OutboxWriter::AddAll(const std::vector<QueuedMessage>& messages) {
  int added = 0;
  for (const QueuedMessage& m : messages) {
    SINYAL_ASSIGN_OR_RETURN(int n, Add(m));
    added += n;
  }
  return added;
}

Result<int> OutboxWriter::Add(const QueuedMessage& m) {
  if (m.chat_id == 0) return Status::InvalidArgument("chat id is 0", "chat_id");
  if (m.dedupe_key.empty() || m.dedupe_key.size() > 200) {
    return Status::InvalidArgument("dedupe key must be 1..200 bytes", "dedupe_key");
  }
  std::vector<std::string> parts = SplitMessage(m.text);
  if (parts.empty()) return Status::InvalidArgument("message text is empty", "text");
  Impl& d = *impl_;
  if (!d.st) {
    d.st.emplace((
        d.sql.prepare
            << "INSERT INTO telegram_outbox (tenant_id, chat_id, dedupe_key, kind, priority, text, "
               "silent, state, attempts, next_attempt_at, created_at) VALUES (:t, :c, :k, :kind, "
               ":p, :text, :s, 'pending', 0, :n1, :n2) ON CONFLICT (chat_id, dedupe_key) DO "
               "NOTHING",
        soci::use(d.tenant, d.tenant_ind, "t"), soci::use(d.chat, "c"), soci::use(d.key, "k"),
        soci::use(d.kind, "kind"), soci::use(d.priority, "p"), soci::use(d.text, "text"),
        soci::use(d.silent, "s"), soci::use(d.now, "n1"), soci::use(d.now, "n2")));
  }
  d.tenant = m.tenant ? m.tenant->value() : 0;
  d.tenant_ind = m.tenant ? soci::i_ok : soci::i_null;
  d.chat = m.chat_id;
  d.kind = std::string(MessageKindName(m.kind));
  d.priority = Priority(m.kind);
  d.silent = m.silent ? 1 : 0;
  int added = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    d.key = i == 0 ? m.dedupe_key : m.dedupe_key + "#" + std::to_string(i + 1);
    d.text = std::move(parts[i]);
    d.st->execute(true);
    const long long n = d.st->get_affected_rows();
    if (i == 0 && n == 0) return 0;  // already queued: the whole message is
    added += static_cast<int>(n);
  }
  return added;
}

// ---------------------------------------------------------------------------------------------
// SendQueue

namespace {

struct Pending {
  int64_t id = 0;
  int64_t chat_id = 0;
  int priority = 0;
  std::string text;
  bool silent = false;
  int attempts = 0;
  int64_t not_before = 0;  // monotonic
  int64_t send_at = 0;     // monotonic: the slot the dispatcher planned for it
};

struct ChatQueue {
  std::deque<Pending> q;  // by id
  bool in_flight = false;
  enum Where { kIdle, kReady, kTimed } where = kIdle;
  int64_t timed_at = 0;
  std::tuple<int, int64_t, int64_t> ready_key;
};

struct Completion {
  Pending msg;
  ApiOutcome outcome;
  int64_t at = 0;     // monotonic
  bool held = false;  // not sent: a 429 paused sending after it was claimed
};

// A database change decided by the dispatcher, applied in its next transaction.
struct RowUpdate {
  enum Kind { kSent, kRetry, kFinal } kind = kSent;
  int64_t id = 0;
  std::string state;  // kFinal
  int attempts = 0;
  int64_t next_attempt_at = 0;  // wall
  int64_t message_id = 0;
  std::string error;
};

}  // namespace

struct SendQueue::Impl {
  store::Database& db;
  const Clock& clock;
  SendQueueOptions options;
  ChatEventHooks hooks;

  mutable std::mutex mu;
  std::condition_variable cv;       // dispatcher wake-ups
  std::condition_variable work_cv;  // workers
  std::condition_variable idle_cv;
  bool running = false;
  bool stopping = false;
  bool workers_exit = false;
  bool wake = false;
  std::deque<Pending> work;             // GUARDED_BY(mu): claimed, for the workers
  std::vector<Completion> completions;  // GUARDED_BY(mu)
  int busy_workers = 0;                 // GUARDED_BY(mu)
  int64_t loads = 0;                    // GUARDED_BY(mu): finished loads
  Stats stats;                          // GUARDED_BY(mu)

  // Dispatcher-only state.
  FloodGate flood;
  std::unordered_map<int64_t, ChatQueue> chats;
  std::set<std::tuple<int, int64_t, int64_t>> ready;  // (priority, head id, chat)
  std::priority_queue<std::pair<int64_t, int64_t>, std::vector<std::pair<int64_t, int64_t>>,
                      std::greater<>>
      timed;                          // (ready_at, chat), lazily invalidated
  std::unordered_set<int64_t> known;  // ids in memory or in flight
  int64_t max_loaded_id = 0;
  int64_t next_poll = 0;
  int polls = 0;
  std::vector<RowUpdate> updates;
  std::vector<std::pair<int64_t, int64_t>> migrations;  // (old, new)
  std::vector<int64_t> blocked_chats;
  int64_t db_backoff_until = 0;
  int64_t commit_ewma = 0;  // nanoseconds, of the claiming transactions
  // Set by the worker that meets a 429, read by every worker before it sends, so that messages
  // already claimed wait out retry_after too (monotonic nanoseconds).
  std::atomic<int64_t> paused_until{0};

  std::thread dispatcher;
  std::vector<std::thread> workers;

  Impl(store::Database& d, const Clock& c, SendQueueOptions o, ChatEventHooks h)
      : db(d), clock(c), options(std::move(o)), hooks(std::move(h)), flood(options.limits) {}

  int64_t Mono() const { return clock.MonotonicNanos(); }

  // ---- in-memory scheduling ----
  void Schedule(int64_t chat_id, int64_t now) {
    ChatQueue& c = chats[chat_id];
    if (c.where == ChatQueue::kReady) ready.erase(c.ready_key);
    c.where = ChatQueue::kIdle;
    if (c.in_flight || c.q.empty()) {
      if (!c.in_flight && c.q.empty()) chats.erase(chat_id);
      return;
    }
    const Pending& head = c.q.front();
    const int64_t at = std::max(flood.ChatReadyAt(chat_id), head.not_before);
    if (at <= now) {
      c.ready_key = {head.priority, head.id, chat_id};
      ready.insert(c.ready_key);
      c.where = ChatQueue::kReady;
    } else {
      c.timed_at = at;
      c.where = ChatQueue::kTimed;
      timed.emplace(at, chat_id);
    }
  }

  void Promote(int64_t now) {
    while (!timed.empty() && timed.top().first <= now) {
      auto [at, chat_id] = timed.top();
      timed.pop();
      auto it = chats.find(chat_id);
      if (it == chats.end() || it->second.where != ChatQueue::kTimed || it->second.timed_at != at)
        continue;
      Schedule(chat_id, now);
    }
  }

  void AddPending(Pending p, int64_t now) {
    if (!known.insert(p.id).second) return;
    max_loaded_id = std::max(max_loaded_id, p.id);
    ChatQueue& c = chats[p.chat_id];
    const int64_t chat_id = p.chat_id;
    auto pos = std::upper_bound(c.q.begin(), c.q.end(), p.id,
                                [](int64_t id, const Pending& x) { return id < x.id; });
    c.q.insert(pos, std::move(p));
    Schedule(chat_id, now);
  }

  size_t InMemory() const { return known.size(); }

  // ---- database ----
  // Loads pending rows: ids above the highest seen, or (rescan) every pending row not held.
  Status Load(bool rescan) {
    if (InMemory() >= options.max_in_memory) return Status::Ok();
    const long long after = rescan ? 0 : max_loaded_id;
    const int limit = static_cast<int>(std::min<size_t>(5000, options.max_in_memory - InMemory()));
    std::vector<long long> ids(limit), chat_ids(limit), next_at(limit);
    std::vector<int> priorities(limit), silents(limit), attempts(limit);
    std::vector<std::string> texts(limit);
    Status s = db.WithReadTx([&](soci::session& sql) -> Status {
      sql << "SELECT id, chat_id, priority, text, silent, attempts, next_attempt_at FROM "
             "telegram_outbox "
             "WHERE state = 'pending' AND id > :after ORDER BY id LIMIT :lim",
          soci::use(after, "after"), soci::use(limit, "lim"), soci::into(ids), soci::into(chat_ids),
          soci::into(priorities), soci::into(texts), soci::into(silents), soci::into(attempts),
          soci::into(next_at);
      return Status::Ok();
    });
    if (!s.ok()) return s;
    const int64_t now = Mono();
    const int64_t wall = clock.Now();
    for (size_t i = 0; i < ids.size(); ++i) {
      if (known.count(ids[i])) continue;
      Pending p;
      p.id = ids[i];
      p.chat_id = chat_ids[i];
      p.priority = priorities[i];
      p.text = std::move(texts[i]);
      p.silent = silents[i] != 0;
      p.attempts = attempts[i];
      p.not_before = now + std::max<int64_t>(0, next_at[i] - wall);
      AddPending(std::move(p), now);
    }
    return Status::Ok();
  }

  // Applies the decided updates and claims `claims` (pending -> sending) in one transaction.
  // Returns the claimed messages (rows no longer pending are dropped).
  Result<std::vector<Pending>> Commit(std::vector<Pending> claims) {
    std::vector<Pending> claimed;
    const long long wall = clock.Now();
    // Sent rows and claims are written with one statement each (ids and message ids are our own
    // integers, inlined); retries and final states are rare and written row by row.
    std::string sent_values, claim_ids;
    for (const RowUpdate& u : updates) {
      if (u.kind != RowUpdate::kSent) continue;
      sent_values += (sent_values.empty() ? "(" : ", (") + std::to_string(u.id) + ", " +
                     std::to_string(u.message_id) + ")";
    }
    for (const Pending& p : claims)
      claim_ids += (claim_ids.empty() ? "" : ", ") + std::to_string(p.id);
    const int64_t started = Mono();
    Status s = db.WithTx([&](soci::session& sql) -> Status {
      claimed.clear();
      if (!sent_values.empty()) {
        Exec(sql,
             "WITH v(id, m) AS (VALUES " + sent_values +
                 ") UPDATE telegram_outbox SET state = 'sent', sent_at = :at, message_id = (SELECT "
                 "m FROM v "
                 "WHERE v.id = telegram_outbox.id) WHERE id IN (SELECT id FROM v) AND state = "
                 "'sending'",
             soci::use(wall, "at"));
      }
      for (const RowUpdate& u : updates) {
        long long id = u.id;
        if (u.kind == RowUpdate::kRetry) {
          long long next = u.next_attempt_at;
          int attempts = u.attempts;
          Exec(sql,
               "UPDATE telegram_outbox SET state = 'pending', attempts = :a, next_attempt_at = :n, "
               "last_error = :e WHERE id = :id AND state = 'sending'",
               soci::use(attempts, "a"), soci::use(next, "n"), soci::use(u.error, "e"),
               soci::use(id, "id"));
        } else if (u.kind == RowUpdate::kFinal) {
          Exec(sql,
               "UPDATE telegram_outbox SET state = :s, last_error = :e WHERE id = :id AND state IN "
               "('sending', 'pending')",
               soci::use(u.state, "s"), soci::use(u.error, "e"), soci::use(id, "id"));
        }
      }
      for (int64_t chat : blocked_chats) {
        long long c = chat;
        Exec(
            sql,
            "UPDATE telegram_outbox SET state = 'skipped', last_error = 'the chat blocked the bot' "
            "WHERE chat_id = :c AND state = 'pending'",
            soci::use(c, "c"));
        if (hooks.blocked) SINYAL_RETURN_IF_ERROR(hooks.blocked(sql, chat, wall));
      }
      for (auto [from, to] : migrations) {
        long long f = from, t = to;
        Exec(sql,
             "UPDATE telegram_outbox SET chat_id = :t WHERE chat_id = :f AND state = 'pending' AND "
             "NOT EXISTS "
             "(SELECT 1 FROM telegram_outbox o2 WHERE o2.chat_id = :t2 AND o2.dedupe_key = "
             "telegram_outbox.dedupe_key)",
             soci::use(t, "t"), soci::use(f, "f"), soci::use(t, "t2"));
        if (hooks.migrated) SINYAL_RETURN_IF_ERROR(hooks.migrated(sql, from, to));
      }
      if (!claim_ids.empty()) {
        const long long n = Exec(
            sql,
            "UPDATE telegram_outbox SET state = 'sending' WHERE state = 'pending' AND id IN (" +
                claim_ids + ")");
        if (n == static_cast<long long>(claims.size())) {
          claimed = claims;
        } else {  // some were taken meanwhile (another sender): find ours... none can be told
                  // apart, so only rows this statement changed count: re-read those now 'sending'
                  // by us.
          std::vector<long long> ids(claims.size());
          sql << "SELECT id FROM telegram_outbox WHERE state = 'sending' AND id IN (" + claim_ids +
                     ")",
              soci::into(ids);
          std::set<long long> got(ids.begin(), ids.end());
          for (const Pending& p : claims) {
            if (got.count(p.id)) claimed.push_back(p);
          }
        }
      }
      return Status::Ok();
    });
    if (!s.ok()) return s;
    const int64_t took = Mono() - started;
    commit_ewma = commit_ewma == 0 ? took : (commit_ewma * 7 + took) / 8;
    updates.clear();
    blocked_chats.clear();
    migrations.clear();
    return claimed;
  }

  // ---- outcomes ----
  int64_t Backoff(int attempts) const {
    int64_t ms = options.backoff_base.count();
    for (int i = 1; i < attempts && ms < options.backoff_max.count(); ++i) ms *= 2;
    return std::min<int64_t>(ms, options.backoff_max.count()) * 1'000'000;
  }

  void Requeue(Pending p, int64_t now) {
    known.insert(p.id);
    const int64_t chat_id = p.chat_id;
    chats[chat_id].q.push_front(std::move(p));
  }

  // REQUIRES: mu NOT held.
  void Handle(Completion c, Stats& delta) {
    Pending& p = c.msg;
    const int64_t chat_id = p.chat_id;
    const int64_t now = c.at;
    const int64_t wall = clock.Now();
    auto chat_it = chats.find(p.chat_id);
    if (chat_it != chats.end()) chat_it->second.in_flight = false;
    known.erase(p.id);
    const ApiOutcome& o = c.outcome;
    if (c.held) {  // claimed, then held back by a pause: back to the queue, nothing was sent
      p.not_before = std::max(now, paused_until.load());
      updates.push_back({.kind = RowUpdate::kRetry,
                         .id = p.id,
                         .attempts = p.attempts,
                         .next_attempt_at = wall + (p.not_before - now),
                         .error = "held by a 429 pause"});
      Requeue(std::move(p), now);
      Schedule(chat_id, now);
      return;
    }
    switch (o.kind) {
      case ApiResult::kOk:
        updates.push_back(
            {.kind = RowUpdate::kSent,
             .id = p.id,
             .message_id = o.result.is_object() ? o.result.value("message_id", int64_t{0}) : 0});
        ++delta.sent;
        break;
      case ApiResult::kRateLimited:
        flood.Pause(now, o.retry_after);
        p.not_before = now + static_cast<int64_t>(o.retry_after) * 1'000'000'000LL;
        updates.push_back(
            {.kind = RowUpdate::kRetry,
             .id = p.id,
             .attempts = p.attempts,
             .next_attempt_at = wall + static_cast<int64_t>(o.retry_after) * 1'000'000'000LL,
             .error = "429 retry_after " + std::to_string(o.retry_after)});
        ++delta.rate_limited;
        Requeue(std::move(p), now);
        break;
      case ApiResult::kBlocked: {
        updates.push_back(
            {.kind = RowUpdate::kFinal, .id = p.id, .state = "skipped", .error = o.description});
        blocked_chats.push_back(p.chat_id);
        ++delta.blocked;
        if (chat_it != chats.end()) {
          for (const Pending& other : chat_it->second.q) known.erase(other.id);
          delta.skipped += static_cast<int64_t>(chat_it->second.q.size());
          chat_it->second.q.clear();
        }
        flood.Forget(p.chat_id);
        break;
      }
      case ApiResult::kMigrated: {
        migrations.emplace_back(p.chat_id, o.migrate_to_chat_id);
        ++delta.migrated;
        // Everything queued for the old id moves to the new one.
        std::deque<Pending> moved;
        if (chat_it != chats.end()) moved.swap(chat_it->second.q);
        moved.push_front(p);
        flood.Forget(p.chat_id);
        updates.push_back({.kind = RowUpdate::kRetry,
                           .id = p.id,
                           .attempts = p.attempts,
                           .next_attempt_at = wall,
                           .error = "migrated"});
        for (Pending& m : moved) {
          known.erase(m.id);
          m.chat_id = o.migrate_to_chat_id;
          AddPending(std::move(m), now);
        }
        break;
      }
      case ApiResult::kNotSent:
      case ApiResult::kServerError:
      case ApiResult::kUnauthorized:
      case ApiResult::kConflict: {
        ++p.attempts;
        if (p.attempts >= options.max_attempts) {
          updates.push_back({.kind = RowUpdate::kFinal,
                             .id = p.id,
                             .state = "failed",
                             .error = std::string(ApiResultName(o.kind)) + ": " + o.description});
          ++delta.failed;
        } else {
          const int64_t wait = Backoff(p.attempts);
          p.not_before = now + wait;
          updates.push_back({.kind = RowUpdate::kRetry,
                             .id = p.id,
                             .attempts = p.attempts,
                             .next_attempt_at = wall + wait,
                             .error = std::string(ApiResultName(o.kind)) + ": " + o.description});
          ++delta.retried;
          Requeue(std::move(p), now);
        }
        if (o.kind == ApiResult::kUnauthorized) {
          LogEvent(spdlog::level::err, "telegram_unauthorized",
                   {{"detail", "the Bot API refused the token; check telegram.bot_token"}});
        }
        break;
      }
      case ApiResult::kBadRequest:
        updates.push_back(
            {.kind = RowUpdate::kFinal, .id = p.id, .state = "failed", .error = o.description});
        ++delta.failed;
        LogEvent(spdlog::level::warn, "telegram_message_refused",
                 {{"outbox_id", p.id}, {"detail", o.description.substr(0, 200)}});
        break;
      case ApiResult::kUncertain:
        updates.push_back(
            {.kind = RowUpdate::kFinal, .id = p.id, .state = "uncertain", .error = o.description});
        ++delta.uncertain;
        LogEvent(spdlog::level::warn, "telegram_send_uncertain",
                 {{"outbox_id", p.id}, {"detail", o.description.substr(0, 200)}});
        break;
    }
    Schedule(chat_id, now);
  }

  // ---- threads ----
  void DispatchLoop() {
    bool first = true;
    while (true) {
      std::vector<Completion> done;
      int idle = 0;
      bool want_load = false;
      {
        std::unique_lock<std::mutex> lock(mu);
        if (stopping && busy_workers == 0 && work.empty() && completions.empty() &&
            updates.empty() && blocked_chats.empty() && migrations.empty()) {
          break;
        }
        done.swap(completions);
        // Claimed ahead: at most two messages per worker are claimed and waiting or in flight.
        idle = 2 * static_cast<int>(workers.size()) - busy_workers - static_cast<int>(work.size());
        want_load = wake || first;
        wake = false;
      }
      first = false;
      int64_t now = Mono();
      Stats delta;
      for (Completion& c : done) Handle(std::move(c), delta);

      bool rescan = false;
      if (!stopping_copy() && now >= db_backoff_until && (want_load || now >= next_poll)) {
        rescan = ++polls % 10 == 0;
        Status s = Load(rescan);
        if (!s.ok()) {
          ++delta.db_errors;
          db_backoff_until = now + 1'000'000'000LL;
          LogEvent(spdlog::level::warn, "telegram_outbox_load_failed", {{"error", s.ToString()}});
        }
        next_poll = now + options.poll_interval.count() * 1'000'000;
        std::lock_guard<std::mutex> lock(mu);
        ++loads;
      }

      // Plan the slots of the next lookahead window: each message gets the time it may go (overall
      // spacing, its chat's limits); the workers send at those times. Planning ahead lets one
      // claiming transaction cover several slots, so the database's latency does not cap the rate.
      now = Mono();
      Promote(now);
      std::vector<Pending> claims;
      if (!stopping_copy() && now >= db_backoff_until) {
        const int64_t horizon =
            now + std::clamp<int64_t>(2 * commit_ewma, kMinLookahead, kMaxLookahead);
        while (idle > 0) {
          const int64_t t = std::max(now, flood.GlobalReadyAt());
          if (t > horizon) break;
          Promote(t);
          if (ready.empty()) {
            if (timed.empty() || timed.top().first > horizon) break;
            Promote(std::max(t, timed.top().first));
            if (ready.empty()) break;
          }
          auto key = *ready.begin();
          const int64_t chat_id = std::get<2>(key);
          ChatQueue& c = chats[chat_id];
          ready.erase(ready.begin());
          c.where = ChatQueue::kIdle;
          const int64_t at = std::max({t, flood.ChatReadyAt(chat_id), c.q.front().not_before});
          if (at > horizon) {  // promoted for a later time than this slot: back to waiting
            Schedule(chat_id, now);
            continue;
          }
          Pending p = std::move(c.q.front());
          c.q.pop_front();
          c.in_flight = true;
          flood.Record(chat_id, at);
          p.send_at = at;
          claims.push_back(std::move(p));
          --idle;
        }
      }
      if (!claims.empty() || !updates.empty() || !blocked_chats.empty() || !migrations.empty()) {
        if (now >= db_backoff_until || stopping_copy()) {
          auto claimed = Commit(claims);
          if (!claimed.ok()) {
            ++delta.db_errors;
            db_backoff_until = now + 1'000'000'000LL;
            LogEvent(spdlog::level::warn, "telegram_outbox_commit_failed",
                     {{"error", claimed.error().ToString()}});
            if (stopping_copy()) {
              // Shutting down with the database gone: the rows stay 'sending' and become
              // 'uncertain' at the next start (never resent).
              updates.clear();
              blocked_chats.clear();
              migrations.clear();
            }
            // Claims go back; nothing was sent.
            for (Pending& p : claims) {
              chats[p.chat_id].in_flight = false;
              const int64_t chat_id = p.chat_id;
              chats[chat_id].q.push_front(std::move(p));
              Schedule(chat_id, now);
            }
            claims.clear();
          } else {
            std::set<int64_t> got;
            for (const Pending& p : *claimed) got.insert(p.id);
            for (Pending& p : claims) {
              if (!got.count(p.id)) {  // taken by someone else meanwhile: forget it
                known.erase(p.id);
                chats[p.chat_id].in_flight = false;
                Schedule(p.chat_id, now);
              }
            }
            claims = std::move(claimed).value();
          }
        }
      }

      // Next wake-up.
      int64_t next = next_poll;
      if (!ready.empty() && idle > 0) next = std::min(next, flood.GlobalReadyAt());
      if (!timed.empty()) next = std::min(next, timed.top().first);
      if (db_backoff_until > now) next = std::max(next, db_backoff_until);
      {
        std::unique_lock<std::mutex> lock(mu);
        for (Pending& p : claims) work.push_back(std::move(p));
        if (!claims.empty()) work_cv.notify_all();
        stats.sent += delta.sent;
        stats.rate_limited += delta.rate_limited;
        stats.retried += delta.retried;
        stats.failed += delta.failed;
        stats.blocked += delta.blocked;
        stats.skipped += delta.skipped;
        stats.uncertain += delta.uncertain;
        stats.migrated += delta.migrated;
        stats.db_errors += delta.db_errors;
        stats.pending_in_memory =
            static_cast<int64_t>(InMemory()) - static_cast<int64_t>(work.size()) - busy_workers;
        stats.in_flight = static_cast<int64_t>(work.size()) + busy_workers;
        idle_cv.notify_all();
        if (!completions.empty() || wake || (stopping && busy_workers == 0 && work.empty()))
          continue;
        const int64_t wait = std::max<int64_t>(0, next - Mono());
        cv.wait_for(lock, std::chrono::nanoseconds(std::min<int64_t>(wait, 1'000'000'000LL)));
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    idle_cv.notify_all();
  }

  bool stopping_copy() {
    std::lock_guard<std::mutex> lock(mu);
    return stopping;
  }

  void WorkerLoop() {
    BotClient client(options.api);
    while (true) {
      Pending p;
      {
        std::unique_lock<std::mutex> lock(mu);
        work_cv.wait(lock, [&] { return !work.empty() || workers_exit; });
        if (work.empty()) return;
        p = std::move(work.front());
        work.pop_front();
        ++busy_workers;
      }
      const int64_t wait = p.send_at - Mono();
      if (wait > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
      Completion done;
      if (Mono() < paused_until.load()) {
        done.held = true;
      } else {
        done.outcome = client.SendMessage(
            {.chat_id = p.chat_id, .text = p.text, .disable_notification = p.silent});
        if (done.outcome.kind == ApiResult::kRateLimited) {
          const int64_t until = Mono() +
                                static_cast<int64_t>(done.outcome.retry_after) * 1'000'000'000LL +
                                options.limits.retry_pad_ms * 1'000'000;
          int64_t prev = paused_until.load();
          while (prev < until && !paused_until.compare_exchange_weak(prev, until)) {
          }
        }
      }
      done.at = Mono();
      done.msg = std::move(p);
      std::lock_guard<std::mutex> lock(mu);
      --busy_workers;
      completions.push_back(std::move(done));
      cv.notify_all();
    }
  }
};

SendQueue::SendQueue(store::Database& db, const Clock& clock, SendQueueOptions options,
                     ChatEventHooks hooks)
    : impl_(std::make_unique<Impl>(db, clock, std::move(options), std::move(hooks))) {}

SendQueue::~SendQueue() { Stop(); }

Status SendQueue::Start() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->running) return Status::Ok();
  SINYAL_RETURN_IF_ERROR(impl_->db.WithTx([](soci::session& sql) -> Status {
    long long n = Exec(
        sql,
        "UPDATE telegram_outbox SET state = 'uncertain', last_error = 'in flight when the previous "
        "sender stopped' WHERE state = 'sending'");
    if (n > 0)
      LogEvent(spdlog::level::warn, "telegram_outbox_uncertain_after_restart", {{"count", n}});
    return Status::Ok();
  }));
  impl_->running = true;
  impl_->stopping = false;
  impl_->workers_exit = false;
  const int n = std::clamp(impl_->options.sender_threads, 1, 64);
  for (int i = 0; i < n; ++i) impl_->workers.emplace_back([this] { impl_->WorkerLoop(); });
  impl_->dispatcher = std::thread([this] { impl_->DispatchLoop(); });
  return Status::Ok();
}

void SendQueue::Stop() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (!impl_->running) return;
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  // The dispatcher claims nothing more, waits for the requests in flight, records their
  // outcomes, then exits; then the workers (with no work left) exit.
  impl_->dispatcher.join();
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->workers_exit = true;
  }
  impl_->work_cv.notify_all();
  for (auto& t : impl_->workers) t.join();
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->workers.clear();
  impl_->running = false;
  // Forget the in-memory copy: the rows stay pending in the database for the next start.
  impl_->chats.clear();
  impl_->ready.clear();
  impl_->timed = {};
  impl_->known.clear();
  impl_->max_loaded_id = 0;
}

bool SendQueue::running() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->running;
}

void SendQueue::Wake() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->wake = true;
  impl_->cv.notify_all();
}

bool SendQueue::WaitIdle(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(impl_->mu);
  const int64_t start_loads = impl_->loads;
  impl_->wake = true;
  impl_->cv.notify_all();
  return impl_->idle_cv.wait_for(lock, timeout, [&] {
    return impl_->loads > start_loads + 1 && impl_->stats.pending_in_memory == 0 &&
           impl_->stats.in_flight == 0 && impl_->completions.empty();
  });
}

SendQueue::Stats SendQueue::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->stats;
}

}  // namespace sinyal::notify
