#include "notify/telegram.h"

#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "backtest/paper.h"
#include "billing/meter.h"
#include "billing/metered_call.h"
#include "billing/plans.h"
#include "core/log.h"
#include "core/time.h"
#include "market/edge_parse.h"
#include "market/instrument.h"
#include "market/timeframe.h"
#include "notify/commands.h"
#include "notify/texts.h"
#include "signals/service.h"
#include "signals/signal.h"
#include "store/database.h"
#include "store/soci.h"

namespace sinyal::notify {
namespace {

using nlohmann::json;

// ---- small helpers ----

template <typename... Uses>
long long Exec(soci::session& sql, const std::string& q, Uses&&... uses) {
  soci::statement st = (sql.prepare << q, ..., std::forward<Uses>(uses));
  st.execute(true);
  return st.get_affected_rows();
}

std::string Sha256Hex(std::string_view s) {
  unsigned char out[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(out, reinterpret_cast<const unsigned char*>(s.data()), s.size());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(2 * sizeof out, '0');
  for (size_t i = 0; i < sizeof out; ++i) {
    hex[2 * i] = kHex[out[i] >> 4];
    hex[2 * i + 1] = kHex[out[i] & 0xF];
  }
  return hex;
}

// Constant time whatever the lengths: both sides are hashed to 32 bytes first.
bool SecretsEqual(std::string_view a, std::string_view b) {
  unsigned char ha[crypto_hash_sha256_BYTES], hb[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(ha, reinterpret_cast<const unsigned char*>(a.data()), a.size());
  crypto_hash_sha256(hb, reinterpret_cast<const unsigned char*>(b.data()), b.size());
  return sodium_memcmp(ha, hb, sizeof ha) == 0;
}

std::string RandomToken() {
  unsigned char raw[32];
  randombytes_buf(raw, sizeof raw);
  char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return b64;
}

bool TokenAlphabet(std::string_view s, size_t max_len) {
  if (s.empty() || s.size() > max_len) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

int64_t BotIdFromToken(const std::string& token) {
  int64_t id = 0;
  size_t colon = token.find(':');
  if (colon == std::string::npos) return 0;
  auto [p, ec] = std::from_chars(token.data(), token.data() + colon, id);
  return ec == std::errc() && p == token.data() + colon ? id : 0;
}

std::string Replace(std::string s, std::string_view from, std::string_view to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
  return s;
}

Lang LangOf(const std::string& code) { return ParseLang(code).value_or(Lang::kEn); }

bool Manager(accounts::Role r) {
  return r == accounts::Role::kOwner || r == accounts::Role::kAdmin;
}

// ---- rows ----

struct LinkRow {
  int64_t id = 0;
  TenantId tenant;
  UserId user;
  int64_t telegram_user_id = 0, chat_id = 0;
  std::string username;
  Lang lang = Lang::kEn;
  bool muted = false, blocked = false;
  UnixNanos linked_at = 0;
};

struct GroupRow {
  int64_t id = 0;
  TenantId tenant;
  UserId linked_by;
  int64_t chat_id = 0;
  std::string title;
  Lang lang = Lang::kEn;
  bool muted = false, blocked = false;
  UnixNanos linked_at = 0;
};

constexpr const char* kLinkColumns =
    "id, tenant_id, user_id, telegram_user_id, chat_id, username, lang, muted, blocked_at, "
    "linked_at";

std::optional<LinkRow> ReadLink(soci::session& sql, const std::string& where, long long a,
                                long long b = 0) {
  LinkRow r;
  long long id = 0, tenant = 0, user = 0, tg = 0, chat = 0, blocked = 0, linked = 0;
  int muted = 0;
  std::string lang;
  soci::indicator blocked_ind = soci::i_null;
  sql << std::string("SELECT ") + kLinkColumns + " FROM telegram_links WHERE " + where,
      soci::use(a, "a"), soci::use(b, "b"), soci::into(id), soci::into(tenant), soci::into(user),
      soci::into(tg), soci::into(chat), soci::into(r.username), soci::into(lang), soci::into(muted),
      soci::into(blocked, blocked_ind), soci::into(linked);
  if (!sql.got_data()) return std::nullopt;
  r.id = id;
  r.tenant = TenantId(tenant);
  r.user = UserId(user);
  r.telegram_user_id = tg;
  r.chat_id = chat;
  r.lang = LangOf(lang);
  r.muted = muted != 0;
  r.blocked = blocked_ind == soci::i_ok;
  r.linked_at = linked;
  return r;
}

std::optional<LinkRow> LinkByTelegramUser(soci::session& sql, int64_t tg_user) {
  // b is unused; bound so both lookups share ReadLink.
  return ReadLink(sql, "telegram_user_id = :a AND :b = 0", tg_user);
}
std::optional<LinkRow> LinkByUser(soci::session& sql, TenantId t, UserId u) {
  return ReadLink(sql, "tenant_id = :a AND user_id = :b", t.value(), u.value());
}

constexpr const char* kGroupColumns =
    "id, tenant_id, linked_by, chat_id, title, lang, muted, blocked_at, linked_at";

std::vector<GroupRow> ReadGroups(soci::session& sql, const std::string& where, long long a) {
  const int kMax = 1000;
  std::vector<long long> ids(kMax), tenants(kMax), by(kMax), chats(kMax), blocked(kMax),
      linked(kMax);
  std::vector<soci::indicator> blocked_ind(kMax);
  std::vector<std::string> titles(kMax), langs(kMax);
  std::vector<int> muted(kMax);
  sql << std::string("SELECT ") + kGroupColumns + " FROM telegram_groups WHERE " + where +
             " ORDER BY id",
      soci::use(a, "a"), soci::into(ids), soci::into(tenants), soci::into(by), soci::into(chats),
      soci::into(titles), soci::into(langs), soci::into(muted), soci::into(blocked, blocked_ind),
      soci::into(linked);
  std::vector<GroupRow> out;
  for (size_t i = 0; i < ids.size(); ++i) {
    GroupRow g;
    g.id = ids[i];
    g.tenant = TenantId(tenants[i]);
    g.linked_by = UserId(by[i]);
    g.chat_id = chats[i];
    g.title = titles[i];
    g.lang = LangOf(langs[i]);
    g.muted = muted[i] != 0;
    g.blocked = blocked_ind[i] == soci::i_ok;
    g.linked_at = linked[i];
    out.push_back(std::move(g));
  }
  return out;
}

std::optional<GroupRow> GroupByChat(soci::session& sql, int64_t chat) {
  auto rows = ReadGroups(sql, "chat_id = :a", chat);
  if (rows.empty()) return std::nullopt;
  return rows[0];
}

struct TokenRow {
  int64_t id = 0;
  TenantId tenant;
  UserId user;
  std::string kind;
  UnixNanos expires_at = 0;
  bool used = false;
};

std::optional<TokenRow> TokenByHash(soci::session& sql, const std::string& hash) {
  TokenRow t;
  long long id = 0, tenant = 0, user = 0, expires = 0, used = 0;
  soci::indicator used_ind = soci::i_null;
  sql << "SELECT id, tenant_id, user_id, kind, expires_at, used_at FROM telegram_link_tokens WHERE "
         "token_hash = :h",
      soci::use(hash, "h"), soci::into(id), soci::into(tenant), soci::into(user),
      soci::into(t.kind), soci::into(expires), soci::into(used, used_ind);
  if (!sql.got_data()) return std::nullopt;
  t.id = id;
  t.tenant = TenantId(tenant);
  t.user = UserId(user);
  t.expires_at = expires;
  t.used = used_ind == soci::i_ok;
  return t;
}

// Claims a link token for `tg_user` in `chat`: false when it was already used (only one of
// two racing links wins).
bool ClaimToken(soci::session& sql, int64_t token_id, UnixNanos now, int64_t tg_user,
                int64_t chat) {
  long long tid = token_id, n = now, by = tg_user, ch = chat;
  return Exec(sql,
              "UPDATE telegram_link_tokens SET used_at = :n, used_by = :by, used_in_chat = :c "
              "WHERE id = :i "
              "AND used_at IS NULL",
              soci::use(n, "n"), soci::use(by, "by"), soci::use(ch, "c"), soci::use(tid, "i")) == 1;
}

constexpr const char* kAlertColumns =
    "id, chat_id, symbol, timeframe, min_confidence, direction, muted, user_id, created_at";

std::vector<AlertInfo> ReadAlerts(soci::session& sql, const std::string& where, long long a,
                                  long long b) {
  std::vector<AlertInfo> out;
  const int kMax = 1000;
  std::vector<long long> ids(kMax), chats(kMax), users(kMax), created(kMax);
  std::vector<std::string> symbols(kMax), tfs(kMax), dirs(kMax);
  std::vector<double> confs(kMax);
  std::vector<int> muted(kMax);
  sql << std::string("SELECT ") + kAlertColumns + " FROM telegram_alerts WHERE " + where +
             " ORDER BY id",
      soci::use(a, "a"), soci::use(b, "b"), soci::into(ids), soci::into(chats), soci::into(symbols),
      soci::into(tfs), soci::into(confs), soci::into(dirs), soci::into(muted), soci::into(users),
      soci::into(created);
  for (size_t i = 0; i < ids.size(); ++i) {
    AlertInfo x;
    x.id = ids[i];
    x.chat_id = chats[i];
    x.group = chats[i] < 0;
    x.symbol = symbols[i];
    x.timeframe = tfs[i];
    x.min_confidence = confs[i];
    x.direction = dirs[i];
    x.muted = muted[i] != 0;
    x.created_by = UserId(users[i]);
    x.created_at = created[i];
    out.push_back(std::move(x));
  }
  return out;
}

texts::AlertLine Line(const AlertInfo& a) {
  return {.id = a.id,
          .symbol = a.symbol,
          .timeframe = a.timeframe,
          .direction = a.direction,
          .min_confidence = a.min_confidence,
          .muted = a.muted};
}

// Parses "0.65", "65%" or "65" into [0.5, 0.99].
std::optional<double> ParseConfidence(std::string_view text) {
  std::string t(text);
  bool percent = !t.empty() && t.back() == '%';
  if (percent) t.pop_back();
  for (char& c : t) {
    if (c == ',') c = '.';  // "0,65" (Indonesian decimal comma)
  }
  double v = 0;
  try {
    size_t used = 0;
    v = std::stod(t, &used);
    if (used != t.size()) return std::nullopt;
  } catch (...) {
    return std::nullopt;
  }
  if (percent || v > 1.0) v /= 100.0;
  if (!std::isfinite(v) || v < 0.5 || v > 0.99) return std::nullopt;
  return v;
}

}  // namespace

// ---- JSON views ----

json LinkToken::ToJson() const {
  return {{"token", token},
          {"deep_link", deep_link},
          {"kind", kind == LinkKind::kGroup ? "group" : "private"},
          {"expires_at", FormatIso8601(expires_at)},
          {"bot_username", bot_username}};
}

json LinkInfo::ToJson() const {
  json j = {{"linked", linked}};
  if (linked) {
    j["telegram_user_id"] = telegram_user_id;
    j["username"] = username;
    j["lang"] = lang;
    j["muted"] = muted;
    j["blocked"] = blocked;
    j["linked_at"] = FormatIso8601(linked_at);
  }
  json groups = json::array();
  for (const LinkedGroup& g : this->groups) {
    groups.push_back({{"chat_id", g.chat_id},
                      {"title", g.title},
                      {"lang", g.lang},
                      {"muted", g.muted},
                      {"blocked", g.blocked},
                      {"linked_by", g.linked_by.value()},
                      {"linked_at", FormatIso8601(g.linked_at)}});
  }
  j["groups"] = std::move(groups);
  return j;
}

json AlertInfo::ToJson() const {
  return {{"id", id},
          {"chat_id", chat_id},
          {"chat", group ? "group" : "private"},
          {"symbol", symbol},
          {"timeframe", timeframe},
          {"min_confidence", min_confidence},
          {"direction", direction},
          {"muted", muted},
          {"created_by", created_by.value()},
          {"created_at", FormatIso8601(created_at)}};
}

// ---------------------------------------------------------------------------------------------

struct TelegramBot::Impl {
  TelegramDeps d;
  TelegramOptions o;
  int64_t bot_id = 0;
  std::string holder;  // this process's lease holder id

  mutable std::mutex mu;
  std::string bot_username;  // GUARDED_BY(mu)
  std::unique_ptr<SendQueue> sender;
  std::atomic<bool> is_leader{false};
  std::atomic<bool> stopping{false};
  std::atomic<bool> started{false};
  std::atomic<bool> abort_poll{false};

  std::thread lease_thread, poll_thread, fanout_thread, maintenance_thread;
  std::condition_variable cv;  // lease / maintenance sleeps, fan-out queue

  struct SignalEvent {
    TenantId owner;
    std::shared_ptr<const signals::Signal> signal;
  };
  std::deque<SignalEvent> fanout_queue;  // GUARDED_BY(mu)
  int fanout_busy = 0;                   // GUARDED_BY(mu)
  std::condition_variable fanout_done;
  signals::SignalService::Subscription subscription;

  Impl(TelegramDeps deps, TelegramOptions options) : d(deps), o(std::move(options)) {
    bot_id = BotIdFromToken(o.api.token);
    bot_username = o.bot_username;
    o.send.api = o.api;
    unsigned char raw[8];
    randombytes_buf(raw, sizeof raw);
    for (unsigned char c : raw) holder += "0123456789abcdef"[c & 15];
    sender = std::make_unique<SendQueue>(
        *d.db, *d.clock, o.send,
        ChatEventHooks{.blocked = &Impl::ChatBlocked, .migrated = &Impl::ChatMigrated});
  }

  std::string Username() {
    std::lock_guard<std::mutex> lock(mu);
    return bot_username;
  }

  // ---- hooks of the send queue (inside its transaction) ----
  static Status ChatBlocked(soci::session& sql, int64_t chat, UnixNanos now) {
    long long c = chat, n = now;
    Exec(sql, "UPDATE telegram_links SET blocked_at = :n WHERE chat_id = :c AND blocked_at IS NULL",
         soci::use(n, "n"), soci::use(c, "c"));
    Exec(sql,
         "UPDATE telegram_groups SET blocked_at = :n WHERE chat_id = :c AND blocked_at IS NULL",
         soci::use(n, "n"), soci::use(c, "c"));
    LogEvent(spdlog::level::info, "telegram_chat_blocked", {{"chat_id", chat}});
    return Status::Ok();
  }

  static Status ChatMigrated(soci::session& sql, int64_t from, int64_t to) {
    long long f = from, t = to;
    Exec(sql, "UPDATE telegram_groups SET chat_id = :t WHERE chat_id = :f", soci::use(t, "t"),
         soci::use(f, "f"));
    Exec(sql, "UPDATE telegram_alerts SET chat_id = :t WHERE chat_id = :f", soci::use(t, "t"),
         soci::use(f, "f"));
    LogEvent(spdlog::level::info, "telegram_group_migrated", {{"from", from}, {"to", to}});
    return Status::Ok();
  }

  // ---- plans ----
  Result<std::shared_ptr<const billing::Plan>> PlanOf(TenantId t, UnixNanos now) {
    SINYAL_ASSIGN_OR_RETURN(billing::Subscription sub, d.subscriptions->Current(t, now));
    return d.plans->GetShared(sub.plan);
  }

  std::string PlanNeeded(std::string_view feature) {
    auto need = d.plans->CheapestWith(feature);
    return need.ok() ? "requires plan " + *need : "not available on any plan";
  }

  // Alerts need the plan's Telegram feature and the timeframe.
  Status AlertsAllowed(const billing::Plan& plan, market::Timeframe tf) {
    if (!plan.Has(billing::kFeatTelegram)) {
      return Status::PermissionDenied("Telegram alerts are not in plan " + plan.name + "; " +
                                          PlanNeeded(billing::kFeatTelegram),
                                      "plan");
    }
    if (!plan.Has(billing::kFeatAllTimeframes)) {
      const std::string name(market::TimeframeName(tf));
      if (std::find(plan.timeframes.begin(), plan.timeframes.end(), name) ==
          plan.timeframes.end()) {
        return Status::PermissionDenied("timeframe " + name + " is not in plan " + plan.name +
                                            "; " + PlanNeeded(billing::kFeatAllTimeframes),
                                        "timeframe");
      }
    }
    return Status::Ok();
  }

  Result<accounts::UserInfo> Who(TenantId t, UserId u) {
    accounts::Principal p;
    p.tenant = t;
    p.user = u;
    p.role = accounts::Role::kMember;
    return d.accounts->Me(p);
  }

  // ---- the chat's replies ----
  struct Reply {
    std::string text;
  };
  struct Work;
  using Write = std::function<Status(soci::session&, Work&)>;
  struct Work {
    int64_t update_id = 0;
    int64_t chat = 0;
    std::optional<TenantId> tenant;
    Lang lang = Lang::kEn;
    std::vector<Reply> replies;  // answered in the chat, in order
    std::vector<Write> writes;   // run in the handling transaction; may add replies
    bool wake = false;
  };

  void Say(Work& w, std::string text) { w.replies.push_back({std::move(text)}); }

  // Records the update and applies its work in one transaction. `duplicate` when handled before.
  Status Commit(int64_t update_id, Work& w, bool* duplicate) {
    const std::vector<Reply> prepared = w.replies;
    Status s = d.db->WithTx([&](soci::session& sql) -> Status {
      *duplicate = false;
      w.replies = prepared;
      long long bot = bot_id, id = update_id, now = d.clock->Now();
      if (Exec(sql,
               "INSERT INTO telegram_updates (bot_id, update_id, received_at) VALUES (:b, :u, :n) "
               "ON CONFLICT DO NOTHING",
               soci::use(bot, "b"), soci::use(id, "u"), soci::use(now, "n")) == 0) {
        *duplicate = true;
        return Status::Ok();
      }
      for (const Write& write : w.writes) SINYAL_RETURN_IF_ERROR(write(sql, w));
      if (w.chat == 0) return Status::Ok();
      OutboxWriter out(sql, now);
      for (size_t i = 0; i < w.replies.size(); ++i) {
        SINYAL_RETURN_IF_ERROR(out.Add({.tenant = w.tenant,
                                        .chat_id = w.chat,
                                        .dedupe_key = "u:" + std::to_string(bot) + ":" +
                                                      std::to_string(id) + ":" + std::to_string(i),
                                        .kind = MessageKind::kReply,
                                        .text = w.replies[i].text})
                                   .status());
      }
      return Status::Ok();
    });
    return s;
  }

  // Queues messages outside an update (unlink from the web, notices): one transaction.
  Status Queue(const std::vector<QueuedMessage>& messages) {
    if (messages.empty()) return Status::Ok();
    SINYAL_RETURN_IF_ERROR(d.db->WithTx([&](soci::session& sql) -> Status {
      return OutboxWriter(sql, d.clock->Now()).AddAll(messages).status();
    }));
    sender->Wake();
    return Status::Ok();
  }

  // ---- updates ----
  Status HandleUpdate(const TgUpdate& u) {
    bool seen = false;
    SINYAL_RETURN_IF_ERROR(d.db->WithReadTx([&](soci::session& sql) -> Status {
      long long bot = bot_id, id = u.update_id, one = 0;
      sql << "SELECT 1 FROM telegram_updates WHERE bot_id = :b AND update_id = :u",
          soci::use(bot, "b"), soci::use(id, "u"), soci::into(one);
      seen = sql.got_data();
      return Status::Ok();
    }));
    if (seen) return Status::Ok();
    Work w;
    w.update_id = u.update_id;
    Status prepared = Prepare(u, w);
    if (!prepared.ok()) {
      if (prepared.code() == StatusCode::kUnavailable || prepared.code() == StatusCode::kInternal) {
        return Status::Unavailable("update " + std::to_string(u.update_id) + ": " +
                                   prepared.message());
      }
      LogEvent(spdlog::level::warn, "telegram_update_failed",
               {{"update_id", u.update_id}, {"error", prepared.ToString()}});
    }
    bool duplicate = false;
    Status s = Commit(u.update_id, w, &duplicate);
    if (!s.ok())
      return Status::Unavailable("update " + std::to_string(u.update_id) + ": " + s.message());
    if (!duplicate && (!w.replies.empty() || w.wake)) sender->Wake();
    return Status::Ok();
  }

  Status Prepare(const TgUpdate& u, Work& w) {
    if (u.my_chat_member) return MemberChange(*u.my_chat_member, w);
    if (!u.message) return Status::Ok();  // other kinds: recorded, ignored
    const TgMessage& m = *u.message;
    if (m.migrate_to_chat_id != 0) {
      const int64_t from = m.chat.id, to = m.migrate_to_chat_id;
      w.writes.push_back(
          [from, to](soci::session& sql, Work&) { return ChatMigrated(sql, from, to); });
      return Status::Ok();
    }
    if (!m.from || m.from->is_bot || m.text.empty()) return Status::Ok();
    const TgUser& from = *m.from;
    const bool group = m.chat.is_group();
    if (!group && m.chat.type != "private") return Status::Ok();  // channels
    w.chat = m.chat.id;

    std::optional<LinkRow> sender_link;
    std::optional<GroupRow> group_row;
    SINYAL_RETURN_IF_ERROR(d.db->WithReadTx([&](soci::session& sql) -> Status {
      sender_link = LinkByTelegramUser(sql, from.id);
      if (group) group_row = GroupByChat(sql, m.chat.id);
      return Status::Ok();
    }));
    // Private chats: the sender's language (their link's, else their Telegram app's).
    w.lang = sender_link ? sender_link->lang : LangFromTelegram(from.language_code);
    if (group) w.lang = group_row ? group_row->lang : w.lang;
    w.tenant = group_row     ? std::optional<TenantId>(group_row->tenant)
               : sender_link ? std::optional<TenantId>(sender_link->tenant)
                             : std::nullopt;
    // A linked user writing again has unblocked the bot.
    if (!group && sender_link && sender_link->blocked) {
      const int64_t id = sender_link->id;
      w.writes.push_back([id](soci::session& sql, Work&) {
        long long i = id;
        Exec(sql, "UPDATE telegram_links SET blocked_at = NULL WHERE id = :i", soci::use(i, "i"));
        return Status::Ok();
      });
    }

    const size_t chars = Utf8Length(m.text);
    std::optional<Command> cmd;
    if (chars <= kMaxCommandChars) cmd = ParseCommand(m.text, Username());
    if (group) return GroupMessage(m, from, cmd, chars, sender_link, group_row, w);
    if (chars > kMaxCommandChars) {
      Say(w, texts::TooLong(w.lang, chars, kMaxCommandChars));
      return Status::Ok();
    }
    if (!cmd || cmd->for_other_bot) {
      Say(w, sender_link ? texts::NotACommand(w.lang) : texts::HelpUnlinked(w.lang));
      return Status::Ok();
    }
    return PrivateCommand(*cmd, m, from, sender_link, w);
  }

  Status MemberChange(const TgMemberChange& c, Work& w) {
    const int64_t chat = c.chat.id;
    const std::string status = c.new_status;
    const bool gone = status == "kicked" || status == "left";
    const bool back = status == "member" || status == "administrator";
    if (!gone && !back) return Status::Ok();
    w.writes.push_back([chat, gone, this](soci::session& sql, Work&) -> Status {
      long long ch = chat, now = d.clock->Now();
      if (gone) {
        Exec(sql,
             "UPDATE telegram_links SET blocked_at = :n WHERE chat_id = :c AND blocked_at IS NULL",
             soci::use(now, "n"), soci::use(ch, "c"));
        Exec(sql,
             "UPDATE telegram_groups SET blocked_at = :n WHERE chat_id = :c AND blocked_at IS NULL",
             soci::use(now, "n"), soci::use(ch, "c"));
        Exec(
            sql,
            "UPDATE telegram_outbox SET state = 'skipped', last_error = 'the chat blocked the bot' "
            "WHERE chat_id = :c AND state = 'pending'",
            soci::use(ch, "c"));
      } else {
        Exec(sql, "UPDATE telegram_links SET blocked_at = NULL WHERE chat_id = :c",
             soci::use(ch, "c"));
        Exec(sql, "UPDATE telegram_groups SET blocked_at = NULL WHERE chat_id = :c",
             soci::use(ch, "c"));
      }
      return Status::Ok();
    });
    LogEvent(spdlog::level::info, "telegram_member_change",
             {{"chat_id", chat}, {"status", status}});
    return Status::Ok();
  }

  // ---- private chats ----
  Status PrivateCommand(const Command& cmd, const TgMessage& m, const TgUser& from,
                        const std::optional<LinkRow>& link, Work& w) {
    const std::string& name = cmd.name;
    if (name == "start") {
      if (cmd.args.empty()) {
        Say(w, link ? texts::WelcomeBack(w.lang) : texts::HelpUnlinked(w.lang));
        return Status::Ok();
      }
      return LinkPrivate(cmd.args[0], m, from, link, w);
    }
    if (name == "help") {
      Say(w, link ? texts::HelpLinked(w.lang, d.paper != nullptr) : texts::HelpUnlinked(w.lang));
      return Status::Ok();
    }
    static const std::set<std::string> kKnown = {"signal", "alerts", "usage", "plan",
                                                 "paper",  "lang",   "stop"};
    if (!kKnown.count(name)) {
      Say(w, texts::UnknownCommand(w.lang, name));
      return Status::Ok();
    }
    if (!link) {
      Say(w, texts::NotLinked(w.lang));
      return Status::Ok();
    }
    if (name == "lang") return SetLang(cmd, *link, std::nullopt, w);
    if (name == "stop") {
      QueueUnlink(w, link->tenant, link->chat_id, link->id, /*group=*/false);
      LogEvent(spdlog::level::info, "telegram_unlinked",
               {{"tenant", link->tenant.value()}, {"by", "chat"}});
      return Status::Ok();
    }
    if (name == "alerts") return Alerts(cmd, *link, std::nullopt, w);
    if (name == "usage") return Usage(link->tenant, w);
    if (name == "plan") return PlanCommand(link->tenant, w);
    if (name == "signal") return SignalCommand(cmd, *link, w);
    if (name == "paper") return PaperCommand(*link, w);
    return Status::Ok();
  }

  // The user's own paper trading accounts (backtest::PaperService::Summaries), private chats only.
  Status PaperCommand(const LinkRow& link, Work& w) {
    if (d.paper == nullptr) {
      Say(w, texts::PaperUnavailable(w.lang));
      return Status::Ok();
    }
    SINYAL_ASSIGN_OR_RETURN(std::vector<backtest::PaperSummary> summaries,
                            d.paper->Summaries(link.tenant, link.user));
    std::vector<texts::PaperLine> lines;
    for (const backtest::PaperSummary& a : summaries) {
      texts::PaperLine line{
          .id = a.id,
          .name = a.name,
          .status = a.status,
          .currency = a.currency,
          .trading_state = std::string(backtest::TradingStateName(a.trading_state)),
          .initial_balance = a.initial_balance,
          .balance = a.balance,
          .equity = a.equity,
          .return_fraction = a.return_fraction,
          .last_bar_time = a.last_bar_time};
      for (const backtest::Position& p : a.positions) {
        char buf[200];
        std::snprintf(buf, sizeof buf, "%s %s %.2f @ %.5f, P/L %+.2f", p.symbol.c_str(),
                      p.quantity >= 0 ? "long" : "short", std::abs(p.quantity), p.avg_price,
                      p.unrealized_pnl);
        line.positions.push_back(buf);
      }
      lines.push_back(std::move(line));
    }
    Say(w, texts::Paper(w.lang, lines));
    return Status::Ok();
  }

  // /stop: deletes the chat's alerts and its link (a private chat's telegram_links row or a
  // group's telegram_groups row), then says so.
  static void QueueUnlink(Work& w, TenantId tenant, int64_t chat, int64_t id, bool group) {
    w.writes.push_back([=](soci::session& sql, Work& work) -> Status {
      long long t = tenant.value(), c = chat, i = id;
      Exec(sql, "DELETE FROM telegram_alerts WHERE tenant_id = :t AND chat_id = :c",
           soci::use(t, "t"), soci::use(c, "c"));
      Exec(sql,
           group ? "DELETE FROM telegram_groups WHERE id = :i"
                 : "DELETE FROM telegram_links WHERE id = :i",
           soci::use(i, "i"));
      work.replies.push_back(
          {group ? texts::GroupUnlinked(work.lang) : texts::Unlinked(work.lang)});
      return Status::Ok();
    });
  }

  // A link token as sent in /start: its hash and stored row (empty when no such token); nullopt
  // when it is malformed (not our alphabet, or too long), after saying so.
  struct TokenLookup {
    std::string hash;
    std::optional<TokenRow> row;
  };
  Result<std::optional<TokenLookup>> LookupToken(const std::string& token, Work& w) {
    if (!TokenAlphabet(token, kMaxStartPayload)) {
      Say(w, texts::LinkRefused(w.lang, texts::LinkProblem::kMalformed));
      return std::optional<TokenLookup>();
    }
    TokenLookup out;
    out.hash = Sha256Hex(token);
    SINYAL_RETURN_IF_ERROR(d.db->WithReadTx([&](soci::session& sql) -> Status {
      out.row = TokenByHash(sql, out.hash);
      return Status::Ok();
    }));
    return std::optional<TokenLookup>(std::move(out));
  }

  Status LinkPrivate(const std::string& token, const TgMessage& m, const TgUser& from,
                     const std::optional<LinkRow>& existing, Work& w) {
    SINYAL_ASSIGN_OR_RETURN(std::optional<TokenLookup> found, LookupToken(token, w));
    if (!found) return Status::Ok();  // malformed, and said so
    const std::string hash = found->hash;
    const std::optional<TokenRow>& row = found->row;
    // Names for the welcome (read before the writing transaction).
    std::string tenant_name, user_name;
    if (row) {
      auto who = Who(row->tenant, row->user);
      if (who.ok()) {
        tenant_name = who->tenant_name;
        user_name = who->display_name.empty() ? who->email : who->display_name;
      }
    }
    const int64_t tg_user = from.id, chat = m.chat.id;
    const std::string username = from.username;
    w.writes.push_back([this, hash, tg_user, chat, username, tenant_name, user_name](
                           soci::session& sql, Work& work) -> Status {
      const UnixNanos now = d.clock->Now();
      auto refuse = [&work](texts::LinkProblem p) {
        work.replies.push_back({texts::LinkRefused(work.lang, p)});
        return Status::Ok();
      };
      std::optional<TokenRow> t = TokenByHash(sql, hash);
      if (!t) return refuse(texts::LinkProblem::kUnknown);
      if (t->kind != "private") return refuse(texts::LinkProblem::kWrongChatKind);
      if (t->used) return refuse(texts::LinkProblem::kUsed);
      if (t->expires_at <= now) return refuse(texts::LinkProblem::kExpired);
      std::optional<LinkRow> current = LinkByTelegramUser(sql, tg_user);
      if (current && (current->user != t->user || current->tenant != t->tenant)) {
        return refuse(texts::LinkProblem::kOtherAccount);
      }
      long long n = now, by = tg_user, ch = chat;  // bound by the statements below
      if (!ClaimToken(sql, t->id, now, tg_user, chat)) {
        return refuse(texts::LinkProblem::kUsed);
      }
      work.tenant = t->tenant;
      if (current) {  // the same account again
        work.replies.push_back({texts::WelcomeBack(work.lang)});
        return Status::Ok();
      }
      // The user's previous Telegram account (if any) is replaced, with its chat's alerts.
      long long tenant = t->tenant.value(), user = t->user.value();
      if (std::optional<LinkRow> old = LinkByUser(sql, t->tenant, t->user)) {
        long long old_chat = old->chat_id, old_id = old->id;
        Exec(sql, "DELETE FROM telegram_alerts WHERE tenant_id = :t AND chat_id = :c",
             soci::use(tenant, "t"), soci::use(old_chat, "c"));
        Exec(sql, "DELETE FROM telegram_links WHERE id = :i", soci::use(old_id, "i"));
      }
      std::string lang(LangCode(work.lang));
      Exec(sql,
           "INSERT INTO telegram_links (tenant_id, user_id, telegram_user_id, chat_id, username, "
           "lang, muted, "
           "linked_at) VALUES (:t, :u, :tg, :c, :name, :lang, 0, :n)",
           soci::use(tenant, "t"), soci::use(user, "u"), soci::use(by, "tg"), soci::use(ch, "c"),
           soci::use(username, "name"), soci::use(lang, "lang"), soci::use(n, "n"));
      LogEvent(spdlog::level::info, "telegram_linked", {{"tenant", tenant}, {"user", user}});
      work.replies.push_back({texts::Welcome(work.lang, tenant_name, user_name)});
      return Status::Ok();
    });
    (void)existing;
    return Status::Ok();
  }

  Status SetLang(const Command& cmd, const LinkRow& link, std::optional<GroupRow> group, Work& w) {
    std::optional<Lang> lang = cmd.args.size() == 1 ? ParseLang(cmd.args[0]) : std::nullopt;
    if (!lang) {
      Say(w, texts::LangUsage(w.lang));
      return Status::Ok();
    }
    const std::string code(LangCode(*lang));
    const int64_t id = group ? group->id : link.id;
    const bool is_group = group.has_value();
    w.lang = *lang;
    w.writes.push_back([id, is_group, code](soci::session& sql, Work&) {
      long long i = id;
      Exec(sql,
           std::string("UPDATE ") + (is_group ? "telegram_groups" : "telegram_links") +
               " SET lang = :l WHERE id = :i",
           soci::use(code, "l"), soci::use(i, "i"));
      return Status::Ok();
    });
    Say(w, texts::LangSet(*lang));
    return Status::Ok();
  }

  // ---- alerts by command ----
  Status Alerts(const Command& cmd, const LinkRow& link, std::optional<GroupRow> group, Work& w) {
    const int64_t chat = group ? group->chat_id : link.chat_id;
    const TenantId tenant = link.tenant;
    if (cmd.args.empty()) {
      std::vector<AlertInfo> alerts;
      SINYAL_RETURN_IF_ERROR(d.db->WithTenantReadTx(tenant, [&](soci::session& sql) -> Status {
        alerts = ReadAlerts(sql, "tenant_id = :a AND chat_id = :b", tenant.value(), chat);
        return Status::Ok();
      }));
      std::vector<texts::AlertLine> lines;
      for (const auto& a : alerts) lines.push_back(Line(a));
      Say(w, texts::AlertList(w.lang, lines, group ? group->muted : link.muted));
      return Status::Ok();
    }
    std::string sub = cmd.args[0];
    for (char& c : sub) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (sub == "add") {
      if (cmd.args.size() < 4 || cmd.args.size() > 5) {
        Say(w, texts::AlertsUsage(w.lang));
        return Status::Ok();
      }
      AlertSpec spec;
      spec.symbol = cmd.args[1];
      spec.timeframe = cmd.args[2];
      std::optional<double> conf = ParseConfidence(cmd.args[3]);
      if (!conf) {
        Say(w, texts::AlertsUsage(w.lang));
        return Status::Ok();
      }
      spec.min_confidence = *conf;
      if (cmd.args.size() == 5) spec.direction = cmd.args[4];
      auto added = Add(tenant, link.user, chat, spec);
      if (!added.ok()) {
        if (added.error().code() == StatusCode::kUnavailable ||
            added.error().code() == StatusCode::kInternal) {
          return added.error();
        }
        Say(w, texts::AlertRefused(w.lang, added.error().message()));
        return Status::Ok();
      }
      Say(w, texts::AlertAdded(w.lang, Line(*added)));
      return Status::Ok();
    }
    if (sub == "remove" || sub == "delete") {
      int64_t id = 0;
      if (cmd.args.size() != 2 || !ParseId(cmd.args[1], &id)) {
        Say(w, texts::AlertsUsage(w.lang));
        return Status::Ok();
      }
      w.writes.push_back([tenant, chat, id](soci::session& sql, Work& work) -> Status {
        long long t = tenant.value(), c = chat, i = id;
        if (Exec(sql,
                 "DELETE FROM telegram_alerts WHERE id = :i AND tenant_id = :t AND chat_id = :c",
                 soci::use(i, "i"), soci::use(t, "t"), soci::use(c, "c")) == 1) {
          work.replies.push_back({texts::AlertRemoved(work.lang, id)});
        } else {
          work.replies.push_back({texts::AlertNotFound(work.lang, id)});
        }
        return Status::Ok();
      });
      return Status::Ok();
    }
    if (sub == "mute" || sub == "unmute") {
      const bool mute = sub == "mute";
      std::optional<int64_t> id;
      if (cmd.args.size() == 2) {
        int64_t v = 0;
        if (!ParseId(cmd.args[1], &v)) {
          Say(w, texts::AlertsUsage(w.lang));
          return Status::Ok();
        }
        id = v;
      } else if (cmd.args.size() > 2) {
        Say(w, texts::AlertsUsage(w.lang));
        return Status::Ok();
      }
      const bool is_group = group.has_value();
      const int64_t row_id = group ? group->id : link.id;
      w.writes.push_back(
          [tenant, chat, id, mute, is_group, row_id](soci::session& sql, Work& work) -> Status {
            long long t = tenant.value(), c = chat;
            int m = mute ? 1 : 0;
            if (id) {
              long long i = *id;
              if (Exec(sql,
                       "UPDATE telegram_alerts SET muted = :m WHERE id = :i AND tenant_id = :t AND "
                       "chat_id = :c",
                       soci::use(m, "m"), soci::use(i, "i"), soci::use(t, "t"),
                       soci::use(c, "c")) != 1) {
                work.replies.push_back({texts::AlertNotFound(work.lang, *id)});
                return Status::Ok();
              }
            } else {
              long long r = row_id;
              Exec(sql,
                   std::string("UPDATE ") + (is_group ? "telegram_groups" : "telegram_links") +
                       " SET muted = :m WHERE id = :r",
                   soci::use(m, "m"), soci::use(r, "r"));
            }
            work.replies.push_back({texts::AlertMuted(work.lang, id, mute)});
            return Status::Ok();
          });
      return Status::Ok();
    }
    Say(w, texts::AlertsUsage(w.lang));
    return Status::Ok();
  }

  static bool ParseId(std::string_view s, int64_t* out) {
    if (!s.empty() && s[0] == '#') s.remove_prefix(1);
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    return ec == std::errc() && p == s.data() + s.size() && *out > 0;
  }

  // The one place alerts are validated and stored (commands and API).
  Result<AlertInfo> Add(TenantId tenant, UserId user, int64_t chat, const AlertSpec& spec) {
    auto symbol = market::NormalizeSymbol(spec.symbol);
    if (!symbol.ok()) return symbol.error().WithField("symbol");
    auto tf = market::ParseTimeframe(spec.timeframe);
    if (!tf.ok()) return tf.error().WithField("timeframe");
    if (!std::isfinite(spec.min_confidence) || spec.min_confidence < 0.5 ||
        spec.min_confidence > 0.99) {
      return Status::InvalidArgument("must be between 0.5 and 0.99", "min_confidence");
    }
    if (spec.direction != "any" && spec.direction != "bullish" && spec.direction != "bearish") {
      return Status::InvalidArgument("must be any, bullish or bearish", "direction");
    }
    const UnixNanos now = d.clock->Now();
    SINYAL_ASSIGN_OR_RETURN(auto plan, PlanOf(tenant, now));
    SINYAL_RETURN_IF_ERROR(AlertsAllowed(*plan, *tf));
    const std::string tf_name(market::TimeframeName(*tf));
    auto owner = d.signals->ModelOwner(tenant, market::SeriesKey{*symbol, *tf});
    if (!owner.ok()) {
      if (owner.error().code() == StatusCode::kNotFound) {
        return Status::NotFound("no model serves " + *symbol + " " + tf_name + " yet", "symbol");
      }
      return owner.error();
    }
    AlertInfo a;
    a.chat_id = chat;
    a.group = chat < 0;
    a.symbol = *symbol;
    a.timeframe = tf_name;
    a.direction = spec.direction;
    a.min_confidence = spec.min_confidence;
    a.created_by = user;
    a.created_at = now;
    SINYAL_RETURN_IF_ERROR(d.db->WithTenantTx(tenant, [&](soci::session& sql) -> Status {
      long long t = tenant.value(), c = chat, count = 0;
      sql << "SELECT COUNT(*) FROM telegram_alerts WHERE tenant_id = :t AND chat_id = :c",
          soci::use(t, "t"), soci::use(c, "c"), soci::into(count);
      if (count >= static_cast<long long>(o.max_alerts_per_chat)) {
        return Status::Conflict("this chat has " + std::to_string(count) +
                                    " alerts, the most allowed; remove one first",
                                "alerts");
      }
      long long u = user.value(), n = now;
      Exec(sql,
           "INSERT INTO telegram_alerts (tenant_id, user_id, chat_id, symbol, timeframe, "
           "min_confidence, "
           "direction, muted, created_at) VALUES (:t, :u, :c, :s, :tf, :m, :d, 0, :n)",
           soci::use(t, "t"), soci::use(u, "u"), soci::use(c, "c"), soci::use(a.symbol, "s"),
           soci::use(a.timeframe, "tf"), soci::use(a.min_confidence, "m"),
           soci::use(a.direction, "d"), soci::use(n, "n"));
      long long id = 0;
      sql << "SELECT MAX(id) FROM telegram_alerts WHERE tenant_id = :t AND chat_id = :c",
          soci::use(t, "t"), soci::use(c, "c"), soci::into(id);
      a.id = id;
      return Status::Ok();
    }));
    auto tracked_key = market::ParseSeriesKey(a.symbol, a.timeframe);
    Status tracked =
        tracked_key.ok() ? d.signals->Track(tenant, *tracked_key) : tracked_key.error();
    if (!tracked.ok()) {
      LogEvent(spdlog::level::warn, "telegram_track_failed",
               {{"symbol", a.symbol}, {"error", tracked.ToString()}});
    }
    return a;
  }

  // ---- other commands ----
  Status Usage(TenantId tenant, Work& w) {
    const UnixNanos now = d.clock->Now();
    auto usage = d.meter->Usage(tenant, now, 0);
    if (!usage.ok()) return usage.error();
    const json& u = *usage;
    std::optional<int64_t> quota;
    if (u.contains("quota") && u["quota"].is_number_integer()) quota = u["quota"].get<int64_t>();
    UnixNanos end = 0;
    if (u.contains("period") && u["period"].contains("end")) {
      auto parsed = ParseIso8601(u["period"]["end"].get<std::string>());
      if (parsed.ok()) end = *parsed;
    }
    Say(w,
        texts::Usage(w.lang, u.value("plan", ""), u.value("used", int64_t{0}), quota,
                     u.value("overage_units", int64_t{0}), u.value("cost_idr", int64_t{0}), end));
    return Status::Ok();
  }

  Status PlanCommand(TenantId tenant, Work& w) {
    const UnixNanos now = d.clock->Now();
    SINYAL_ASSIGN_OR_RETURN(billing::Subscription sub, d.subscriptions->Current(tenant, now));
    SINYAL_ASSIGN_OR_RETURN(auto plan, d.plans->GetShared(sub.plan));
    std::vector<std::string> features(plan->features.begin(), plan->features.end());
    Say(w,
        texts::PlanInfo(
            w.lang, plan->display_name.empty() ? plan->name : plan->display_name, plan->price_idr,
            plan->unlimited() ? std::nullopt : std::optional<int64_t>(plan->monthly_quota),
            features, sub.period_end));
    return Status::Ok();
  }

  // /signal SYMBOL TIMEFRAME: the latest signal, metered and gated like GET /signals/latest
  // (billing's metered-call flow: the plan's timeframes, rate limit, quota and data delay; one
  // unit, charged to the linked user's organisation). The update id is the idempotency key, so an
  // update handled again after a crash is not charged twice.
  Status SignalCommand(const Command& cmd, const LinkRow& link, Work& w) {
    if (cmd.args.size() != 2) {
      Say(w, texts::SignalUsage(w.lang));
      return Status::Ok();
    }
    auto symbol = market::NormalizeSymbol(cmd.args[0]);
    auto tf = market::ParseTimeframe(cmd.args[1]);
    if (!symbol.ok() || !tf.ok()) {
      Say(w, texts::SignalUsage(w.lang));
      return Status::Ok();
    }
    if (d.metered == nullptr) {
      Say(w, texts::SignalRefused(w.lang, w.lang == Lang::kId
                                              ? "/signal tidak aktif di server ini."
                                              : "/signal is not enabled on this server."));
      return Status::Ok();
    }
    std::shared_ptr<const signals::Signal> sig;
    std::shared_ptr<const billing::Plan> plan;
    billing::MeteredCalls::Spec spec;
    spec.endpoint = "telegram.signal";
    spec.units = 1;
    spec.timeframe = *tf;
    spec.idempotency_key = "telegram:" + std::to_string(bot_id) + ":" + std::to_string(w.update_id);
    auto body =
        d.metered->Run({.tenant = link.tenant, .user = link.user}, d.clock->Now(), spec,
                       [&](billing::MeteredCall& call) -> Result<nlohmann::json> {
                         plan = call.resolved().plan;
                         SINYAL_ASSIGN_OR_RETURN(
                             sig, d.signals->Latest(link.tenant, {*symbol, *tf}, call.NotAfter()));
                         return nlohmann::json{{"signal_id", sig->fields().id}};
                       });
    if (!body.ok()) {
      if (body.error().code() == StatusCode::kUnavailable ||
          body.error().code() == StatusCode::kInternal) {
        return body.error();  // retried with the update
      }
      Say(w, texts::SignalRefused(w.lang, body.error().message()));
      return Status::Ok();
    }
    if (sig == nullptr || plan == nullptr) {  // a replay: answered (and charged) before
      Say(w,
          texts::SignalRefused(w.lang, w.lang == Lang::kId ? "permintaan ini sudah dijawab."
                                                           : "this request was already answered."));
      return Status::Ok();
    }
    SignalView v = View(*sig, 0.5, *plan);
    v.metered = true;
    const nlohmann::json usage = nlohmann::json::parse(*body, nullptr, false);
    if (usage.is_object() && usage.contains("remaining_quota") &&
        usage["remaining_quota"].is_number_integer()) {
      v.remaining_quota = usage["remaining_quota"].get<int64_t>();
    }
    Say(w, texts::SignalAnswer(w.lang, v));
    return Status::Ok();
  }

  // ---- groups ----
  Status GroupMessage(const TgMessage& m, const TgUser& from, const std::optional<Command>& cmd,
                      size_t chars, const std::optional<LinkRow>& link,
                      const std::optional<GroupRow>& group, Work& w) {
    if (!cmd || cmd->for_other_bot) return Status::Ok();  // plain talk in a group: not for us
    if (cmd->name == "start" && !cmd->args.empty())
      return LinkGroup(cmd->args[0], m, from, link, group, w);
    // Only members linked to the group's organisation are answered; everyone else is ignored.
    if (!group || group->blocked || !link || link->tenant != group->tenant) {
      w.chat = 0;  // nothing to say
      return Status::Ok();
    }
    if (chars > kMaxCommandChars) {
      Say(w, texts::TooLong(w.lang, chars, kMaxCommandChars));
      return Status::Ok();
    }
    const std::string& name = cmd->name;
    std::string tenant_name;
    accounts::Role role = accounts::Role::kMember;
    auto who = Who(link->tenant, link->user);
    if (!who.ok()) return who.error();
    tenant_name = who->tenant_name;
    role = who->role;
    const bool manager = Manager(role) || group->linked_by == link->user;
    if (name == "help" || name == "start") {
      Say(w, texts::HelpGroup(w.lang, tenant_name));
      return Status::Ok();
    }
    if (name == "signal") return SignalCommand(*cmd, *link, w);
    if (name == "alerts") {
      if (!cmd->args.empty() && !manager) {
        Say(w, texts::NotAllowedInGroup(w.lang));
        return Status::Ok();
      }
      return Alerts(*cmd, *link, *group, w);
    }
    if (name == "usage" || name == "plan" || name == "lang" || name == "stop") {
      if (!manager) {
        Say(w, texts::NotAllowedInGroup(w.lang));
        return Status::Ok();
      }
      if (name == "usage") return Usage(link->tenant, w);
      if (name == "plan") return PlanCommand(link->tenant, w);
      if (name == "lang") return SetLang(*cmd, *link, *group, w);
      QueueUnlink(w, group->tenant, group->chat_id, group->id, /*group=*/true);
      return Status::Ok();
    }
    if (name == "paper") {
      Say(w, texts::PrivateOnly(w.lang));
      return Status::Ok();
    }
    Say(w, texts::UnknownCommand(w.lang, name));
    return Status::Ok();
  }

  Status LinkGroup(const std::string& token, const TgMessage& m, const TgUser& from,
                   const std::optional<LinkRow>& link, const std::optional<GroupRow>& group,
                   Work& w) {
    if (!link) {
      Say(w, texts::NotLinked(w.lang));
      return Status::Ok();
    }
    w.lang = link->lang;
    SINYAL_ASSIGN_OR_RETURN(std::optional<TokenLookup> found, LookupToken(token, w));
    if (!found) return Status::Ok();  // malformed, and said so
    const std::string hash = found->hash;
    const std::optional<TokenRow>& row = found->row;
    if (!row) {
      Say(w, texts::LinkRefused(w.lang, texts::LinkProblem::kUnknown));
      return Status::Ok();
    }
    if (row->user != link->user || row->tenant != link->tenant) {
      Say(w, texts::LinkRefused(w.lang, texts::LinkProblem::kNotTokenOwner));
      return Status::Ok();
    }
    if (row->kind != "group") {
      Say(w, texts::LinkRefused(w.lang, texts::LinkProblem::kWrongChatKind));
      return Status::Ok();
    }
    // The group's owner on Telegram: asked of Telegram itself.
    BotClient client(o.api);
    auto status = client.GetChatMemberStatus(m.chat.id, from.id);
    if (!status.ok()) return Status::Unavailable("getChatMember: " + status.error().message());
    if (*status != "creator") {
      Say(w, texts::LinkRefused(w.lang, texts::LinkProblem::kNotGroupOwner));
      return Status::Ok();
    }
    auto who = Who(link->tenant, link->user);
    if (!who.ok()) return who.error();
    const std::string tenant_name = who->tenant_name;
    const std::string by = who->display_name.empty() ? who->email : who->display_name;
    const int64_t chat = m.chat.id, tg_user = from.id;
    const std::string title = m.chat.title;
    const LinkRow l = *link;
    (void)group;
    w.tenant = link->tenant;
    w.writes.push_back([this, hash, chat, tg_user, title, l, tenant_name, by](
                           soci::session& sql, Work& work) -> Status {
      const UnixNanos now = d.clock->Now();
      std::optional<TokenRow> t = TokenByHash(sql, hash);
      auto refuse = [&work](texts::LinkProblem p) {
        work.replies.push_back({texts::LinkRefused(work.lang, p)});
        return Status::Ok();
      };
      if (!t || t->used) return refuse(texts::LinkProblem::kUsed);
      if (t->expires_at <= now) return refuse(texts::LinkProblem::kExpired);
      std::optional<GroupRow> existing = GroupByChat(sql, chat);
      if (existing && existing->tenant != l.tenant) return refuse(texts::LinkProblem::kGroupTaken);
      long long n = now, ch = chat;  // bound by the statements below
      if (!ClaimToken(sql, t->id, now, tg_user, chat)) {
        return refuse(texts::LinkProblem::kUsed);
      }
      long long tenant = l.tenant.value(), user = l.user.value();
      std::string lang(LangCode(work.lang));
      if (existing) {
        long long gid = existing->id;
        Exec(sql,
             "UPDATE telegram_groups SET linked_by = :u, title = :ti, blocked_at = NULL WHERE id = "
             ":i",
             soci::use(user, "u"), soci::use(title, "ti"), soci::use(gid, "i"));
      } else {
        Exec(sql,
             "INSERT INTO telegram_groups (tenant_id, linked_by, chat_id, title, lang, muted, "
             "linked_at) VALUES "
             "(:t, :u, :c, :ti, :l, 0, :n)",
             soci::use(tenant, "t"), soci::use(user, "u"), soci::use(ch, "c"),
             soci::use(title, "ti"), soci::use(lang, "l"), soci::use(n, "n"));
      }
      LogEvent(spdlog::level::info, "telegram_group_linked",
               {{"tenant", tenant}, {"chat_id", chat}});
      work.replies.push_back({texts::GroupLinked(work.lang, tenant_name, by)});
      return Status::Ok();
    });
    return Status::Ok();
  }

  // ---- the API side ----
  static Status UsersOnly(const accounts::Principal& p) {
    if (p.is_operator() || p.api_key || !p.tenant.valid()) {
      return Status::PermissionDenied(
          "Telegram links belong to signed-in users (not API keys or operators)");
    }
    return Status::Ok();
  }

  Result<std::optional<LinkRow>> OwnLink(const accounts::Principal& p) {
    std::optional<LinkRow> link;
    SINYAL_RETURN_IF_ERROR(d.db->WithTenantReadTx(p.tenant, [&](soci::session& sql) -> Status {
      link = LinkByUser(sql, p.tenant, p.user);
      return Status::Ok();
    }));
    return link;
  }

  // The chat an alert request is about, and whether the caller may change alerts there.
  Result<int64_t> AlertChat(const accounts::Principal& p, std::optional<int64_t> group_chat) {
    if (group_chat) {
      std::optional<GroupRow> g;
      SINYAL_RETURN_IF_ERROR(d.db->WithTenantReadTx(p.tenant, [&](soci::session& sql) -> Status {
        g = GroupByChat(sql, *group_chat);
        return Status::Ok();
      }));
      if (!g || g->tenant != p.tenant)
        return Status::NotFound("no linked group with this chat id", "chat_id");
      SINYAL_ASSIGN_OR_RETURN(accounts::UserInfo me, Who(p.tenant, p.user));
      if (!Manager(me.role) && g->linked_by != p.user) {
        return Status::PermissionDenied(
            "group alerts are changed by owners, admins or whoever linked the group", "chat_id");
      }
      return g->chat_id;
    }
    SINYAL_ASSIGN_OR_RETURN(std::optional<LinkRow> link, OwnLink(p));
    if (!link)
      return Status::FailedPrecondition(
          "link your Telegram account first (POST /api/v1/telegram/link)", "chat");
    return link->chat_id;
  }

  // ---- alerts from signals ----
  SignalView View(const signals::Signal& stored, double threshold, const billing::Plan& plan) {
    signals::Signal s = signals::SignalService::WithThreshold(stored, threshold);
    const signals::SignalFields& f = s.fields();
    SignalView v;
    v.symbol = f.symbol;
    v.timeframe = f.timeframe;
    v.direction = std::string(signals::DirectionName(f.direction));
    v.horizon = f.horizon;
    auto tf = market::ParseTimeframe(f.timeframe);
    v.bar_close = f.bar_time + (tf.ok() ? market::TimeframeNanos(*tf) : 0);
    if (plan.Has(billing::kFeatConfidence)) {
      v.confidence = f.confidence;
      v.p_up = f.p_up;
      v.abstain_reason = f.abstain_reason;
    } else {
      v.gated.push_back("confidence (" + PlanNeeded(billing::kFeatConfidence) + ")");
    }
    if (plan.Has(billing::kFeatIntervals)) {
      v.expected_return = f.expected_return;
      if (auto i = s.Interval(0.8)) {
        v.interval80_lo = i->lo;
        v.interval80_hi = i->hi;
      }
    } else {
      v.gated.push_back("intervals (" + PlanNeeded(billing::kFeatIntervals) + ")");
    }
    if (plan.Has(billing::kFeatRegime)) {
      if (f.regime.ready) {
        v.regime = std::string(signals::TrendStateName(f.regime.trend)) + ", " +
                   std::string(signals::VolStateName(f.regime.vol));
      }
      for (size_t i = 0; i < f.drivers.size() && i < 3; ++i) {
        const signals::Driver& dr = f.drivers[i];
        char buf[128];
        std::snprintf(buf, sizeof buf, "%s %.4g (%s)", dr.feature.c_str(), dr.value,
                      dr.contribution >= 0 ? "+" : "-");
        v.drivers.push_back(buf);
      }
      v.model_version = f.model_version;
    } else {
      v.gated.push_back("regime (" + PlanNeeded(billing::kFeatRegime) + ")");
    }
    if (!o.chart_url_template.empty()) {
      v.chart_url =
          Replace(Replace(o.chart_url_template, "{symbol}", f.symbol), "{timeframe}", f.timeframe);
    }
    return v;
  }

  Result<int> FanOut(TenantId model_owner, const signals::Signal& signal) {
    const signals::SignalFields& f = signal.fields();
    const UnixNanos now = d.clock->Now();
    struct Target {
      int64_t alert_id, tenant, chat;
      double min_confidence;
      std::string direction, lang;
    };
    std::vector<Target> targets;
    SINYAL_RETURN_IF_ERROR(d.db->WithReadTx([&](soci::session& sql) -> Status {
      const int kMax = 100000;
      std::vector<long long> ids(kMax), tenants(kMax), chats(kMax);
      std::vector<double> confs(kMax);
      std::vector<std::string> dirs(kMax), langs(kMax);
      sql << "SELECT a.id, a.tenant_id, a.chat_id, a.min_confidence, a.direction, "
             "CASE WHEN l.id IS NOT NULL THEN l.lang ELSE g.lang END "
             "FROM telegram_alerts a "
             "LEFT JOIN telegram_links l ON l.chat_id = a.chat_id AND l.tenant_id = a.tenant_id "
             "LEFT JOIN telegram_groups g ON g.chat_id = a.chat_id AND g.tenant_id = a.tenant_id "
             "WHERE a.symbol = :s AND a.timeframe = :tf AND a.muted = 0 AND "
             "((l.id IS NOT NULL AND l.blocked_at IS NULL AND l.muted = 0) OR "
             " (g.id IS NOT NULL AND g.blocked_at IS NULL AND g.muted = 0)) "
             "ORDER BY a.chat_id, a.min_confidence, a.id",
          soci::use(f.symbol, "s"), soci::use(f.timeframe, "tf"), soci::into(ids),
          soci::into(tenants), soci::into(chats), soci::into(confs), soci::into(dirs),
          soci::into(langs);
      for (size_t i = 0; i < ids.size(); ++i) {
        targets.push_back({ids[i], tenants[i], chats[i], confs[i], dirs[i], langs[i]});
      }
      return Status::Ok();
    }));
    if (targets.empty()) return 0;
    auto tf = market::ParseTimeframe(f.timeframe);
    if (!tf.ok()) return tf.error();
    // Per organisation: is it served by this signal's model, and may its plan have alerts?
    std::map<int64_t, std::shared_ptr<const billing::Plan>> allowed;
    std::set<int64_t> refused;
    std::vector<QueuedMessage> messages;
    std::map<std::pair<std::string, std::string>, SignalView> views;  // (lang, plan) -> view
    int64_t last_chat = 0;
    for (const Target& t : targets) {
      if (t.chat == last_chat) continue;  // this chat already has its one message
      if (refused.count(t.tenant)) continue;
      auto it = allowed.find(t.tenant);
      if (it == allowed.end()) {
        const TenantId tenant(t.tenant);
        auto key = market::ParseSeriesKey(f.symbol, f.timeframe);
        auto owner = key.ok() ? d.signals->ModelOwner(tenant, *key) : Result<TenantId>(key.error());
        auto plan = PlanOf(tenant, now);
        if (!owner.ok() || *owner != model_owner || !plan.ok() ||
            !AlertsAllowed(**plan, *tf).ok()) {
          refused.insert(t.tenant);
          continue;
        }
        it = allowed.emplace(t.tenant, *plan).first;
      }
      // The alert's rule: a call (not neutral) at its minimum confidence, in its direction.
      signals::Signal at = signals::SignalService::WithThreshold(signal, t.min_confidence);
      const std::string dir(signals::DirectionName(at.direction()));
      if (dir == "neutral") continue;
      if (t.direction != "any" && t.direction != dir) continue;
      const auto key = std::make_pair(t.lang, it->second->name);
      auto view = views.find(key);
      if (view == views.end()) view = views.emplace(key, View(signal, 0.5, *it->second)).first;
      messages.push_back({.tenant = TenantId(t.tenant),
                          .chat_id = t.chat,
                          .dedupe_key = "a:" + signal.id(),
                          .kind = MessageKind::kAlert,
                          .text = texts::Alert(LangOf(t.lang), view->second)});
      last_chat = t.chat;
    }
    int added = 0;
    if (!messages.empty()) {
      SINYAL_RETURN_IF_ERROR(d.db->WithTx([&](soci::session& sql) -> Status {
        SINYAL_ASSIGN_OR_RETURN(added, OutboxWriter(sql, now).AddAll(messages));
        return Status::Ok();
      }));
      if (added > 0) sender->Wake();
    }
    LogEvent(spdlog::level::info, "telegram_alert_fanout",
             {{"signal_id", signal.id()},
              {"series", f.symbol + "/" + f.timeframe},
              {"queued", added},
              {"matching_chats", messages.size()}});
    return added;
  }

  // ---- notices ----
  Result<int> Notify(const billing::AccountNotice& n) {
    if (!n.tenant.valid()) return Status::InvalidArgument("notice without tenant", "tenant");
    if (n.event_id.empty() || n.event_id.size() > 200)
      return Status::InvalidArgument("must be 1..200 bytes", "event_id");
    const UnixNanos now = d.clock->Now();
    // Recipients: the organisation's linked, reachable owners and admins.
    std::vector<LinkRow> links;
    SINYAL_RETURN_IF_ERROR(d.db->WithTenantReadTx(n.tenant, [&](soci::session& sql) -> Status {
      const int kMax = 1000;
      std::vector<long long> users(kMax), chats(kMax);
      std::vector<std::string> langs(kMax);
      long long t = n.tenant.value();
      sql << "SELECT user_id, chat_id, lang FROM telegram_links WHERE tenant_id = :t AND "
             "blocked_at IS NULL ORDER BY id",
          soci::use(t, "t"), soci::into(users), soci::into(chats), soci::into(langs);
      for (size_t i = 0; i < users.size(); ++i) {
        LinkRow r;
        r.tenant = n.tenant;
        r.user = UserId(users[i]);
        r.chat_id = chats[i];
        r.lang = LangOf(langs[i]);
        links.push_back(r);
      }
      return Status::Ok();
    }));
    std::vector<QueuedMessage> messages;
    for (const LinkRow& l : links) {
      auto who = Who(l.tenant, l.user);
      if (!who.ok() || !Manager(who->role)) continue;
      std::string text;
      switch (n.kind) {
        case billing::NoticeKind::kQuota80:
          text = texts::QuotaNotice(l.lang, 80, n.plan, n.used, n.quota, n.due_at);
          break;
        case billing::NoticeKind::kQuota100:
          text = texts::QuotaNotice(l.lang, 100, n.plan, n.used, n.quota, n.due_at);
          break;
        case billing::NoticeKind::kRenewalDue:
          text = texts::RenewalDue(l.lang, n.plan, n.amount_idr, n.due_at);
          break;
        case billing::NoticeKind::kPaymentSettled:
          text = texts::PaymentSettled(l.lang, n.plan, n.amount_idr);
          break;
        case billing::NoticeKind::kPaymentFailed:
          text = texts::PaymentFailed(l.lang, n.plan, n.amount_idr, n.detail);
          break;
      }
      messages.push_back(
          {.tenant = n.tenant,
           .chat_id = l.chat_id,
           .dedupe_key = "n:" + std::string(billing::NoticeKindName(n.kind)) + ":" + n.event_id,
           .kind = MessageKind::kNotice,
           .text = std::move(text)});
    }
    int added = 0;
    bool duplicate = false;
    SINYAL_RETURN_IF_ERROR(d.db->WithTenantTx(n.tenant, [&](soci::session& sql) -> Status {
      added = 0;
      duplicate = false;
      long long t = n.tenant.value(), at = now;
      std::string kind(billing::NoticeKindName(n.kind));
      if (Exec(sql,
               "INSERT INTO telegram_notices (tenant_id, kind, event_id, created_at) VALUES (:t, "
               ":k, :e, :n) "
               "ON CONFLICT DO NOTHING",
               soci::use(t, "t"), soci::use(kind, "k"), soci::use(n.event_id, "e"),
               soci::use(at, "n")) == 0) {
        duplicate = true;
        return Status::Ok();
      }
      SINYAL_ASSIGN_OR_RETURN(added, OutboxWriter(sql, now).AddAll(messages));
      return Status::Ok();
    }));
    if (added > 0) sender->Wake();
    return duplicate ? 0 : added;
  }

  Result<int> CheckQuotas() {
    const UnixNanos now = d.clock->Now();
    std::vector<long long> tenants(100000);
    SINYAL_RETURN_IF_ERROR(d.db->WithReadTx([&](soci::session& sql) -> Status {
      sql << "SELECT DISTINCT tenant_id FROM telegram_links WHERE blocked_at IS NULL ORDER BY "
             "tenant_id",
          soci::into(tenants);
      return Status::Ok();
    }));
    int issued = 0;
    for (long long t : tenants) {
      const TenantId tenant(t);
      auto sub = d.subscriptions->Current(tenant, now);
      if (!sub.ok()) continue;
      auto plan = d.plans->GetShared(sub->plan);
      if (!plan.ok() || (*plan)->unlimited() || (*plan)->monthly_quota <= 0) continue;
      auto usage = d.meter->Usage(tenant, now, 0);
      if (!usage.ok()) continue;
      const int64_t used = usage->value("used", int64_t{0});
      const int64_t quota = (*plan)->monthly_quota;
      billing::NoticeKind kind;
      if (used >= quota) {
        kind = billing::NoticeKind::kQuota100;
      } else if (used * 10 >= quota * 8) {
        kind = billing::NoticeKind::kQuota80;
      } else {
        continue;
      }
      billing::AccountNotice n{
          .tenant = tenant,
          .kind = kind,
          .event_id = FormatIso8601(sub->period_start),
          .plan = (*plan)->display_name.empty() ? (*plan)->name : (*plan)->display_name,
          .due_at = sub->period_end,
          .used = used,
          .quota = quota};
      auto queued = Notify(n);
      if (queued.ok() && *queued > 0) ++issued;
    }
    return issued;
  }

  // ---- lease, polling, background ----
  Result<bool> TryLease() {
    bool held = false;
    SINYAL_RETURN_IF_ERROR(d.db->WithTx([&](soci::session& sql) -> Status {
      const long long now = d.clock->Now(), until = now + o.lease_seconds * kNanosPerSecond;
      const std::string name = "lease:" + std::to_string(bot_id);
      Exec(sql,
           "INSERT INTO telegram_state (name, value, holder, expires_at) VALUES (:n, '', '', 0) "
           "ON CONFLICT DO NOTHING",
           soci::use(name, "n"));
      held = Exec(sql,
                  "UPDATE telegram_state SET holder = :h, expires_at = :u WHERE name = :n AND "
                  "(holder = :h2 OR expires_at < :now)",
                  soci::use(holder, "h"), soci::use(until, "u"), soci::use(name, "n"),
                  soci::use(holder, "h2"), soci::use(now, "now")) == 1;
      return Status::Ok();
    }));
    return held;
  }

  void ReleaseLease() {
    Status s = d.db->WithTx([&](soci::session& sql) -> Status {
      const std::string name = "lease:" + std::to_string(bot_id);
      Exec(sql, "UPDATE telegram_state SET expires_at = 0 WHERE name = :n AND holder = :h",
           soci::use(name, "n"), soci::use(holder, "h"));
      return Status::Ok();
    });
    (void)s;
  }

  Result<int64_t> LoadOffset() {
    long long offset = 0;
    SINYAL_RETURN_IF_ERROR(d.db->WithReadTx([&](soci::session& sql) -> Status {
      std::string value;
      const std::string name = "offset:" + std::to_string(bot_id);
      sql << "SELECT value FROM telegram_state WHERE name = :n", soci::use(name, "n"),
          soci::into(value);
      if (sql.got_data() && !value.empty()) offset = std::stoll(value);
      return Status::Ok();
    }));
    return offset;
  }

  Status SaveOffset(int64_t offset) {
    return d.db->WithTx([&](soci::session& sql) -> Status {
      const std::string name = "offset:" + std::to_string(bot_id), value = std::to_string(offset);
      Exec(sql,
           "INSERT INTO telegram_state (name, value) VALUES (:n, :v) ON CONFLICT (name) DO UPDATE "
           "SET value = :v2",
           soci::use(name, "n"), soci::use(value, "v"), soci::use(value, "v2"));
      return Status::Ok();
    });
  }

  void Sleep(std::chrono::milliseconds ms, const std::atomic<bool>& until_false_flag_true) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, ms, [&] { return stopping.load() || until_false_flag_true.load(); });
  }

  void PollLoop() {
    BotApiOptions api = o.api;
    api.abort = &abort_poll;
    BotClient client(api);
    auto offset = LoadOffset();
    int64_t next = offset.ok() ? *offset : 0;
    int failures = 0;
    const std::atomic<bool> never{false};
    while (!stopping.load() && is_leader.load()) {
      auto got = client.GetUpdates(next, o.poll_timeout_seconds, 100);
      if (stopping.load() || !is_leader.load()) break;
      if (!got.ok()) {
        ++failures;
        const int64_t wait_ms = std::min<int64_t>(30000, 500LL << std::min(failures, 6));
        LogEvent(spdlog::level::warn, "telegram_poll_failed",
                 {{"error", got.error().ToString()}, {"retry_ms", wait_ms}});
        Sleep(std::chrono::milliseconds(wait_ms), never);
        continue;
      }
      failures = 0;
      int64_t handled_to = next;
      bool retry = false;
      for (const auto& [id, why] : got->bad) {
        LogEvent(spdlog::level::warn, "telegram_bad_update",
                 {{"update_id", id}, {"error", why.ToString()}});
        handled_to = std::max(handled_to, id + 1);
      }
      for (const TgUpdate& u : got->updates) {
        Status s = HandleUpdate(u);
        if (!s.ok()) {  // not handled: keep the offset, deliver again
          LogEvent(spdlog::level::warn, "telegram_update_retry",
                   {{"update_id", u.update_id}, {"error", s.ToString()}});
          retry = true;
          break;
        }
        handled_to = std::max(handled_to, u.update_id + 1);
      }
      if (handled_to != next) {
        Status saved = SaveOffset(handled_to);
        if (saved.ok()) next = handled_to;
      }
      if (retry) Sleep(std::chrono::milliseconds(1000), never);
    }
  }

  void StopLeading() {
    if (!is_leader.exchange(false)) return;
    abort_poll.store(true);
    cv.notify_all();
    if (poll_thread.joinable()) poll_thread.join();
    abort_poll.store(false);
    sender->Stop();
    LogEvent(spdlog::level::info, "telegram_leader_stopped", {});
  }

  void LeaseLoop() {
    const std::atomic<bool> never{false};
    while (!stopping.load()) {
      auto held = TryLease();
      if (held.ok() && *held && !is_leader.load()) {
        Status s = sender->Start();
        if (s.ok()) {
          is_leader.store(true);
          LogEvent(spdlog::level::info, "telegram_leader",
                   {{"mode", o.mode == UpdateMode::kPolling ? "polling" : "webhook"}});
          if (o.mode == UpdateMode::kPolling) poll_thread = std::thread([this] { PollLoop(); });
        } else {
          LogEvent(spdlog::level::warn, "telegram_sender_start_failed", {{"error", s.ToString()}});
        }
      } else if ((!held.ok() || !*held) && is_leader.load()) {
        LogEvent(spdlog::level::warn, "telegram_lease_lost",
                 {{"error", held.ok() ? "taken" : held.error().ToString()}});
        StopLeading();
      }
      Sleep(std::chrono::milliseconds(o.lease_seconds * 1000 / 3), never);
    }
  }

  void FanOutLoop() {
    while (true) {
      SignalEvent e;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return stopping.load() || !fanout_queue.empty(); });
        if (fanout_queue.empty()) return;
        e = std::move(fanout_queue.front());
        fanout_queue.pop_front();
        ++fanout_busy;
      }
      for (int attempt = 0; attempt < 5; ++attempt) {
        auto r = FanOut(e.owner, *e.signal);
        if (r.ok()) break;
        LogEvent(spdlog::level::warn, "telegram_fanout_failed",
                 {{"signal_id", e.signal->id()},
                  {"attempt", attempt + 1},
                  {"error", r.error().ToString()}});
        std::this_thread::sleep_for(std::chrono::milliseconds(200 << attempt));
      }
      std::lock_guard<std::mutex> lock(mu);
      --fanout_busy;
      fanout_done.notify_all();
    }
  }

  void MaintenanceLoop() {
    const std::atomic<bool> never{false};
    int64_t last_quota = 0;
    while (!stopping.load()) {
      if (Username().empty()) {
        BotClient client(o.api);
        auto me = client.GetMe();
        if (me.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          bot_username = me->username;
        }
      }
      const int64_t now = d.clock->MonotonicNanos();
      if (is_leader.load() && o.quota_check_seconds > 0 &&
          (last_quota == 0 || now - last_quota >= o.quota_check_seconds * kNanosPerSecond)) {
        last_quota = now;
        auto issued = CheckQuotas();
        if (!issued.ok())
          LogEvent(spdlog::level::warn, "telegram_quota_check_failed",
                   {{"error", issued.error().ToString()}});
        // Handled update ids are kept a week (Telegram keeps updates 24 h).
        Status purged = d.db->WithTx([&](soci::session& sql) -> Status {
          long long before = d.clock->Now() - 7 * kNanosPerDay;
          Exec(sql, "DELETE FROM telegram_updates WHERE received_at < :b", soci::use(before, "b"));
          return Status::Ok();
        });
        (void)purged;
      }
      Sleep(std::chrono::milliseconds(Username().empty() ? 5000 : 30000), never);
    }
  }
};

// ---------------------------------------------------------------------------------------------

TelegramBot::TelegramBot(TelegramDeps deps, TelegramOptions options)
    : impl_(std::make_unique<Impl>(deps, std::move(options))) {}

TelegramBot::~TelegramBot() { Stop(); }

Status TelegramBot::ValidateOptions(const TelegramOptions& o) {
  if (BotIdFromToken(o.api.token) <= 0) {
    return Status::InvalidArgument("must be the bot token from @BotFather (<bot id>:<secret>)",
                                   "telegram.bot_token");
  }
  if (o.api.base_url.rfind("http://", 0) != 0 && o.api.base_url.rfind("https://", 0) != 0) {
    return Status::InvalidArgument("must start with http:// or https://", "telegram.api_url");
  }
  if (o.mode == UpdateMode::kWebhook &&
      (o.webhook_secret.size() < 16 || !TokenAlphabet(o.webhook_secret, kMaxWebhookSecret))) {
    return Status::InvalidArgument(
        "webhook mode needs a secret of 16-256 characters A-Z a-z 0-9 _ -",
        "telegram.webhook_secret");
  }
  if (!o.bot_username.empty() && !TokenAlphabet(o.bot_username, 64)) {
    return Status::InvalidArgument("must be the bot's username without '@'",
                                   "telegram.bot_username");
  }
  if (o.poll_timeout_seconds < 0 || o.poll_timeout_seconds > 50) {
    return Status::InvalidArgument("must be 0..50", "telegram.poll_timeout_seconds");
  }
  if (o.link_token_ttl_seconds < 60 || o.link_token_ttl_seconds > 86400) {
    return Status::InvalidArgument("must be 60..86400", "telegram.link_token_ttl_seconds");
  }
  if (!(o.send.limits.global_per_second > 0) || o.send.limits.per_chat_interval_ms < 0 ||
      o.send.limits.group_per_window < 1 || o.send.limits.group_window_ms < 1) {
    return Status::InvalidArgument("flood limits must be positive", "telegram.global_per_second");
  }
  if (o.lease_seconds < 3 || o.lease_seconds > 300) {
    return Status::InvalidArgument("must be 3..300", "telegram.lease_seconds");
  }
  return Status::Ok();
}

Status TelegramBot::Start() {
  Impl& m = *impl_;
  if (m.started.exchange(true)) return Status::Ok();
  m.stopping.store(false);
  // Series with alerts are tracked so their signals are computed as bars close.
  std::vector<long long> tenants(100000);
  std::vector<std::string> symbols(100000), tfs(100000);
  Status read = m.d.db->WithReadTx([&](soci::session& sql) -> Status {
    sql << "SELECT DISTINCT tenant_id, symbol, timeframe FROM telegram_alerts", soci::into(tenants),
        soci::into(symbols), soci::into(tfs);
    return Status::Ok();
  });
  if (!read.ok()) return read;
  for (size_t i = 0; i < tenants.size(); ++i) {
    auto key = market::ParseSeriesKey(symbols[i], tfs[i]);
    Status s = key.ok() ? m.d.signals->Track(TenantId(tenants[i]), *key) : key.error();
    if (!s.ok()) {
      LogEvent(spdlog::level::warn, "telegram_track_failed",
               {{"symbol", symbols[i]}, {"error", s.ToString()}});
    }
  }
  m.subscription =
      m.d.signals->Subscribe([impl = &m](TenantId owner, std::shared_ptr<const signals::Signal> s) {
        // Alerts follow the default horizon's model line (as /signal and POST predict without one).
        if (s->horizon() != models::kDefaultHorizon) return;
        std::lock_guard<std::mutex> lock(impl->mu);
        impl->fanout_queue.push_back({owner, std::move(s)});
        impl->cv.notify_all();
      });
  // The update transport. Webhook mode with a URL: register it; polling: make sure none is set
  // (getUpdates answers 409 while one is). Failures are logged; polling retries by itself.
  {
    BotClient client(m.o.api);
    Status s =
        m.o.mode == UpdateMode::kWebhook
            ? (m.o.webhook_url.empty() ? Status::Ok()
                                       : client.SetWebhook(m.o.webhook_url, m.o.webhook_secret))
            : client.DeleteWebhook();
    if (!s.ok())
      LogEvent(spdlog::level::warn, "telegram_transport_setup_failed", {{"error", s.ToString()}});
  }
  m.fanout_thread = std::thread([&m] { m.FanOutLoop(); });
  m.lease_thread = std::thread([&m] { m.LeaseLoop(); });
  m.maintenance_thread = std::thread([&m] { m.MaintenanceLoop(); });
  LogEvent(spdlog::level::info, "telegram_started",
           {{"mode", m.o.mode == UpdateMode::kPolling ? "polling" : "webhook"},
            {"api", m.o.api.base_url},
            {"global_per_second", m.o.send.limits.global_per_second},
            {"per_chat_interval_ms", m.o.send.limits.per_chat_interval_ms}});
  return Status::Ok();
}

void TelegramBot::Stop() {
  Impl& m = *impl_;
  if (!m.started.exchange(false)) return;
  m.subscription.Reset();
  m.stopping.store(true);
  m.abort_poll.store(true);
  m.cv.notify_all();
  if (m.lease_thread.joinable()) m.lease_thread.join();
  if (m.maintenance_thread.joinable()) m.maintenance_thread.join();
  if (m.fanout_thread.joinable()) m.fanout_thread.join();
  m.StopLeading();
  m.ReleaseLease();
  m.abort_poll.store(false);
}

void TelegramBot::DrainFanOut() {
  std::unique_lock<std::mutex> lock(impl_->mu);
  impl_->fanout_done.wait(lock,
                          [&] { return impl_->fanout_queue.empty() && impl_->fanout_busy == 0; });
}

Result<LinkToken> TelegramBot::CreateLinkToken(const accounts::Principal& p, LinkKind kind) {
  Impl& m = *impl_;
  SINYAL_RETURN_IF_ERROR(Impl::UsersOnly(p));
  const std::string username = m.Username();
  if (username.empty())
    return Status::Unavailable("the Telegram bot is not reachable yet; try again shortly");
  if (kind == LinkKind::kGroup) {
    SINYAL_ASSIGN_OR_RETURN(accounts::UserInfo me, m.Who(p.tenant, p.user));
    if (!Manager(me.role))
      return Status::PermissionDenied("only owners and admins link groups", "kind");
    SINYAL_ASSIGN_OR_RETURN(std::optional<LinkRow> own, m.OwnLink(p));
    if (!own) return Status::FailedPrecondition("link your own Telegram account first", "kind");
  }
  LinkToken t;
  t.token = RandomToken();
  t.kind = kind;
  t.bot_username = username;
  const UnixNanos now = m.d.clock->Now();
  t.expires_at = now + m.o.link_token_ttl_seconds * kNanosPerSecond;
  t.deep_link = "https://t.me/" + username +
                (kind == LinkKind::kGroup ? "?startgroup=" : "?start=") + t.token;
  const std::string hash = Sha256Hex(t.token),
                    kind_name = kind == LinkKind::kGroup ? "group" : "private";
  SINYAL_RETURN_IF_ERROR(m.d.db->WithTenantTx(p.tenant, [&](soci::session& sql) -> Status {
    long long tenant = p.tenant.value(), user = p.user.value(), n = now, exp = t.expires_at;
    // A newer link voids the user's older unused ones of the same kind.
    Exec(sql,
         "UPDATE telegram_link_tokens SET expires_at = :n WHERE tenant_id = :t AND user_id = :u "
         "AND kind = :k "
         "AND used_at IS NULL AND expires_at > :n2",
         soci::use(n, "n"), soci::use(tenant, "t"), soci::use(user, "u"), soci::use(kind_name, "k"),
         soci::use(n, "n2"));
    Exec(sql,
         "INSERT INTO telegram_link_tokens (tenant_id, user_id, token_hash, kind, created_at, "
         "expires_at) "
         "VALUES (:t, :u, :h, :k, :n, :e)",
         soci::use(tenant, "t"), soci::use(user, "u"), soci::use(hash, "h"),
         soci::use(kind_name, "k"), soci::use(n, "n"), soci::use(exp, "e"));
    return Status::Ok();
  }));
  return t;
}

Result<LinkInfo> TelegramBot::GetLink(const accounts::Principal& p) {
  Impl& m = *impl_;
  SINYAL_RETURN_IF_ERROR(Impl::UsersOnly(p));
  LinkInfo info;
  SINYAL_RETURN_IF_ERROR(m.d.db->WithTenantReadTx(p.tenant, [&](soci::session& sql) -> Status {
    if (auto l = LinkByUser(sql, p.tenant, p.user)) {
      info.linked = true;
      info.telegram_user_id = l->telegram_user_id;
      info.username = l->username;
      info.lang = std::string(LangCode(l->lang));
      info.muted = l->muted;
      info.blocked = l->blocked;
      info.linked_at = l->linked_at;
    }
    for (const GroupRow& g : ReadGroups(sql, "tenant_id = :a", p.tenant.value())) {
      info.groups.push_back({.chat_id = g.chat_id,
                             .title = g.title,
                             .lang = std::string(LangCode(g.lang)),
                             .muted = g.muted,
                             .blocked = g.blocked,
                             .linked_by = g.linked_by,
                             .linked_at = g.linked_at});
    }
    return Status::Ok();
  }));
  return info;
}

Status TelegramBot::Unlink(const accounts::Principal& p) {
  Impl& m = *impl_;
  SINYAL_RETURN_IF_ERROR(Impl::UsersOnly(p));
  std::optional<LinkRow> link;
  SINYAL_RETURN_IF_ERROR(m.d.db->WithTenantTx(p.tenant, [&](soci::session& sql) -> Status {
    link = LinkByUser(sql, p.tenant, p.user);
    if (!link) return Status::NotFound("no Telegram account is linked", "link");
    long long t = p.tenant.value(), c = link->chat_id, id = link->id;
    Exec(sql, "DELETE FROM telegram_alerts WHERE tenant_id = :t AND chat_id = :c",
         soci::use(t, "t"), soci::use(c, "c"));
    Exec(sql, "DELETE FROM telegram_links WHERE id = :i", soci::use(id, "i"));
    OutboxWriter out(sql, m.d.clock->Now());
    return out
        .Add({.tenant = p.tenant,
              .chat_id = link->chat_id,
              .dedupe_key = "x:unlink:" + std::to_string(link->id),
              .kind = MessageKind::kNotice,
              .text = texts::UnlinkedFromWeb(link->lang)})
        .status();
  }));
  LogEvent(spdlog::level::info, "telegram_unlinked", {{"tenant", p.tenant.value()}, {"by", "api"}});
  m.sender->Wake();
  return Status::Ok();
}

Status TelegramBot::UnlinkGroup(const accounts::Principal& p, int64_t chat_id) {
  Impl& m = *impl_;
  SINYAL_RETURN_IF_ERROR(Impl::UsersOnly(p));
  SINYAL_RETURN_IF_ERROR(m.AlertChat(p, chat_id).status());  // exists, and the caller may change it
  SINYAL_RETURN_IF_ERROR(m.d.db->WithTenantTx(p.tenant, [&](soci::session& sql) -> Status {
    std::optional<GroupRow> g = GroupByChat(sql, chat_id);
    if (!g || g->tenant != p.tenant)
      return Status::NotFound("no linked group with this chat id", "chat_id");
    long long t = p.tenant.value(), c = chat_id, id = g->id;
    Exec(sql, "DELETE FROM telegram_alerts WHERE tenant_id = :t AND chat_id = :c",
         soci::use(t, "t"), soci::use(c, "c"));
    Exec(sql, "DELETE FROM telegram_groups WHERE id = :i", soci::use(id, "i"));
    OutboxWriter out(sql, m.d.clock->Now());
    return out
        .Add({.tenant = p.tenant,
              .chat_id = chat_id,
              .dedupe_key = "x:unlink:g" + std::to_string(g->id),
              .kind = MessageKind::kNotice,
              .text = texts::GroupUnlinked(g->lang)})
        .status();
  }));
  m.sender->Wake();
  return Status::Ok();
}

Result<std::vector<AlertInfo>> TelegramBot::ListAlerts(const accounts::Principal& p) {
  Impl& m = *impl_;
  SINYAL_RETURN_IF_ERROR(Impl::UsersOnly(p));
  std::vector<AlertInfo> alerts;
  SINYAL_RETURN_IF_ERROR(m.d.db->WithTenantReadTx(p.tenant, [&](soci::session& sql) -> Status {
    std::optional<LinkRow> link = LinkByUser(sql, p.tenant, p.user);
    const long long own_chat = link ? link->chat_id : 0;
    alerts = ReadAlerts(
        sql,
        "tenant_id = :a AND (chat_id = :b OR chat_id IN (SELECT chat_id FROM telegram_groups "
        "WHERE tenant_id = telegram_alerts.tenant_id))",
        p.tenant.value(), own_chat);
    return Status::Ok();
  }));
  return alerts;
}

Result<AlertInfo> TelegramBot::AddAlert(const accounts::Principal& p, const AlertSpec& spec) {
  Impl& m = *impl_;
  SINYAL_RETURN_IF_ERROR(Impl::UsersOnly(p));
  // The plan first: a plan without alerts is told which plan has them before being asked to link.
  SINYAL_ASSIGN_OR_RETURN(auto plan, m.PlanOf(p.tenant, m.d.clock->Now()));
  if (!plan->Has(billing::kFeatTelegram)) return m.AlertsAllowed(*plan, market::Timeframe::kH1);
  SINYAL_ASSIGN_OR_RETURN(int64_t chat, m.AlertChat(p, spec.group_chat_id));
  return m.Add(p.tenant, p.user, chat, spec);
}

Status TelegramBot::RemoveAlert(const accounts::Principal& p, int64_t id) {
  Impl& m = *impl_;
  SINYAL_ASSIGN_OR_RETURN(std::vector<AlertInfo> visible, ListAlerts(p));
  auto it =
      std::find_if(visible.begin(), visible.end(), [id](const AlertInfo& a) { return a.id == id; });
  if (it == visible.end()) return Status::NotFound("no such alert", "id");
  if (it->group) SINYAL_RETURN_IF_ERROR(m.AlertChat(p, it->chat_id).status());
  return m.d.db->WithTenantTx(p.tenant, [&](soci::session& sql) -> Status {
    long long t = p.tenant.value(), i = id;
    Exec(sql, "DELETE FROM telegram_alerts WHERE id = :i AND tenant_id = :t", soci::use(i, "i"),
         soci::use(t, "t"));
    return Status::Ok();
  });
}

Result<AlertInfo> TelegramBot::MuteAlert(const accounts::Principal& p, int64_t id, bool muted) {
  Impl& m = *impl_;
  SINYAL_ASSIGN_OR_RETURN(std::vector<AlertInfo> visible, ListAlerts(p));
  auto it =
      std::find_if(visible.begin(), visible.end(), [id](const AlertInfo& a) { return a.id == id; });
  if (it == visible.end()) return Status::NotFound("no such alert", "id");
  if (it->group) SINYAL_RETURN_IF_ERROR(m.AlertChat(p, it->chat_id).status());
  SINYAL_RETURN_IF_ERROR(m.d.db->WithTenantTx(p.tenant, [&](soci::session& sql) -> Status {
    long long t = p.tenant.value(), i = id;
    int v = muted ? 1 : 0;
    Exec(sql, "UPDATE telegram_alerts SET muted = :m WHERE id = :i AND tenant_id = :t",
         soci::use(v, "m"), soci::use(i, "i"), soci::use(t, "t"));
    return Status::Ok();
  }));
  AlertInfo a = *it;
  a.muted = muted;
  return a;
}

Result<int> TelegramBot::FanOut(TenantId model_owner, const signals::Signal& signal) {
  return impl_->FanOut(model_owner, signal);
}

Status TelegramBot::Notify(const billing::AccountNotice& notice) {
  return impl_->Notify(notice).status();
}

Result<int> TelegramBot::CheckQuotas() { return impl_->CheckQuotas(); }

Status TelegramBot::HandleUpdate(const TgUpdate& update) { return impl_->HandleUpdate(update); }

Status TelegramBot::CheckWebhookSecret(std::string_view secret_header) const {
  if (impl_->o.webhook_secret.empty() || !SecretsEqual(secret_header, impl_->o.webhook_secret)) {
    return Status::Unauthenticated("wrong or missing X-Telegram-Bot-Api-Secret-Token");
  }
  return Status::Ok();
}

Status TelegramBot::HandleWebhook(std::string_view secret_header, std::string_view body) {
  SINYAL_RETURN_IF_ERROR(CheckWebhookSecret(secret_header));
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return Status::InvalidArgument("the body is not JSON", "body");
  auto update = ParseUpdate(j);
  if (!update.ok()) return update.error();
  return impl_->HandleUpdate(*update);
}

bool TelegramBot::leader() const { return impl_->is_leader.load(); }
SendQueue& TelegramBot::send_queue() { return *impl_->sender; }
int64_t TelegramBot::bot_id() const { return impl_->bot_id; }

}  // namespace sinyal::notify
