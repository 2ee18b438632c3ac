// TelegramBot: every user's signals, alerts and account notices in their own Telegram chat.
//
// Multi-user from the start, default deny:
//   - Linking. A signed-in user asks the API for a one-time deep link (CreateLinkToken):
//     https://t.me/<bot>?start=<token>, token = 32 random bytes in base64url (43 characters,
//     within Telegram's 64), stored as SHA-256, expiring (link_token_ttl_seconds, default 10 min),
//     single use, and the user's newer token voids the older ones. The bot receives
//     "/start <token>" and binds the SENDER's Telegram user id (message.from.id) to that Sinyal
//     user. One Telegram account per Sinyal user and one Sinyal user per Telegram account: a
//     Telegram account linked elsewhere is refused until it sends /stop. Unlinking: /stop in the
//     chat, or DELETE /api/v1/telegram/link (the chat is told).
//   - Authorisation is by the sender's Telegram user id on every command, never by the chat.
//   - Groups. A linked user who is owner or admin of their organisation asks for a group link
//     (kind group): https://t.me/<bot>?startgroup=<token>. Telegram posts "/start@bot <token>" in
//     the group; it links the group to the organisation only if the sender is the token's user
//     AND the group's creator on Telegram (getChatMember). Rules in a linked group (texts::HelpGroup):
//     every member reads the alerts posted there; commands are answered only for members linked
//     to the same organisation (anyone else is ignored, so strangers can't make the bot flood
//     the group); /signal is charged to the sender's own account; changing group alerts, /lang,
//     /usage, /plan and /stop need the organisation's owner/admin role or to be the linker.
//   - Updates arrive by long polling (getUpdates; the offset is stored after each batch) or by
//     webhook (HandleWebhook checks X-Telegram-Bot-Api-Secret-Token in constant time). Each
//     update is handled once: its id is recorded in the same transaction as its effects and its
//     replies (telegram_updates), so a redelivery (restart, webhook retry) changes nothing.
//   - Alerts. Subscribed to SignalService: when a closed bar produces a signal, every alert on
//     that series whose organisation is served by that signal's model, whose plan has
//     "telegram_alerts", and whose rule matches (direction at the alert's minimum confidence, the
//     optional direction filter) gets ONE message per chat, queued with key a:<signal id>
//     (send_queue.h): never twice, however often the signal is delivered.
//   - Notices (billing::AccountNotices): quota at 80% / 100% (checked every
//     quota_check_seconds), renewal due, payment settled / failed, to the organisation's linked
//     owners and admins, once per event.
//   - One process at a time polls and sends: a lease in telegram_state (lease_seconds), renewed by
//     the holder; every process may take webhooks and queue messages.
//
// Thread safety: thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "accounts/accounts.h"
#include "backtest/fwd.h"
#include "billing/account_notices.h"
#include "billing/fwd.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/status.h"
#include "notify/bot_api.h"
#include "notify/send_queue.h"
#include "signals/fwd.h"
#include "store/fwd.h"

namespace sinyal::notify {

enum class UpdateMode { kPolling, kWebhook };

struct TelegramOptions {
  BotApiOptions api;  // base URL (the FAKE server's in tests) and the bot token
  // The bot's @username for deep links, without '@'. Empty: asked with getMe at Start.
  std::string bot_username;
  UpdateMode mode = UpdateMode::kPolling;  // Default: long polling.
  // Webhook mode: when set, Start calls setWebhook(webhook_url, webhook_secret).
  std::string webhook_url;
  // Webhook mode: required, 16..256 of A-Z a-z 0-9 _ - (Telegram's alphabet).
  std::string webhook_secret;
  int poll_timeout_seconds = 25;         // getUpdates long-poll timeout. [0, 50]
  int64_t link_token_ttl_seconds = 600;  // Default: 10 min. [60, 86400]
  // Link to a series' chart in alerts; "{symbol}" and "{timeframe}" are replaced. Empty: none.
  std::string chart_url_template;
  size_t max_alerts_per_chat = 20;    // Default: 20.
  SendQueueOptions send;              // flood limits, threads (its api is set from `api`)
  int64_t quota_check_seconds = 300;  // quota notices; 0 = off. Default: 5 min.
  int64_t lease_seconds = 15;         // poller/sender lease. [3, 300]
};

enum class LinkKind { kPrivate, kGroup };

struct LinkToken {
  std::string token;      // the /start payload (base64url, 43 characters)
  std::string deep_link;  // https://t.me/<bot>?start=<token> (startgroup=... for groups)
  LinkKind kind = LinkKind::kPrivate;
  UnixNanos expires_at = 0;
  std::string bot_username;
  nlohmann::json ToJson() const;
};

struct LinkedGroup {
  int64_t chat_id = 0;
  std::string title, lang;
  bool muted = false, blocked = false;
  UserId linked_by;
  UnixNanos linked_at = 0;
};

struct LinkInfo {
  bool linked = false;
  int64_t telegram_user_id = 0;
  std::string username, lang;
  bool muted = false, blocked = false;
  UnixNanos linked_at = 0;
  std::vector<LinkedGroup> groups;  // the organisation's linked groups
  nlohmann::json ToJson() const;
};

struct AlertSpec {
  std::string symbol, timeframe;         // as typed; validated
  double min_confidence = 0.6;           // [0.5, 0.99]
  std::string direction = "any";         // any | bullish | bearish
  std::optional<int64_t> group_chat_id;  // a linked group of the organisation; else the user's chat
};

struct AlertInfo {
  int64_t id = 0;
  int64_t chat_id = 0;
  bool group = false;
  std::string symbol, timeframe, direction;
  double min_confidence = 0;
  bool muted = false;
  UserId created_by;
  UnixNanos created_at = 0;
  nlohmann::json ToJson() const;
};

struct TelegramDeps {
  store::Database* db = nullptr;                    // required
  const Clock* clock = nullptr;                     // required
  accounts::AccountService* accounts = nullptr;     // required: roles, names
  billing::PlanStore* plans = nullptr;              // required
  billing::Subscriptions* subscriptions = nullptr;  // required
  billing::Meter* meter = nullptr;                  // required: /usage, quota notices
  signals::SignalService* signals = nullptr;        // required: alerts
  backtest::PaperService* paper = nullptr;          // optional: /paper (paper trading accounts)
  billing::MeteredCalls* metered = nullptr;         // optional: /signal, metered like an API call
};

class TelegramBot final : public billing::AccountNotices {
 public:
  // REQUIRES: every dependency outlives the bot; options pass ValidateOptions.
  TelegramBot(TelegramDeps deps, TelegramOptions options);
  ~TelegramBot() override;
  TelegramBot(const TelegramBot&) = delete;
  TelegramBot& operator=(const TelegramBot&) = delete;

  // InvalidArgument naming the option (token, webhook secret, timeouts, limits).
  [[nodiscard]] static Status ValidateOptions(const TelegramOptions& options);

  // Subscribes to signals, tracks the alerted series, starts the lease loop (whoever holds the
  // lease polls and sends), the alert fan-out thread and the quota watcher; in webhook mode with
  // webhook_url set, calls setWebhook; in polling mode, deleteWebhook. Network failures at start
  // are retried in the background (logged), never fatal.
  [[nodiscard]] Status Start();
  // Stops the threads; the send queue finishes the requests in flight. Idempotent.
  void Stop();

  // ---- the API side (http/handlers/telegram_api.cc) ----
  // Errors: PermissionDenied for API keys and operators; kind group needs role owner/admin and
  // the user's own link (FailedPrecondition "link your own Telegram first"); Unavailable while
  // the bot's username is unknown.
  [[nodiscard]] Result<LinkToken> CreateLinkToken(const accounts::Principal& p, LinkKind kind);
  [[nodiscard]] Result<LinkInfo> GetLink(const accounts::Principal& p);
  // Removes the caller's link and its chat's alerts, and tells the chat. NotFound when unlinked.
  [[nodiscard]] Status Unlink(const accounts::Principal& p);
  // Owner/admin (or the linker): removes a group link and its alerts, and tells the group.
  [[nodiscard]] Status UnlinkGroup(const accounts::Principal& p, int64_t chat_id);
  // The alerts of the caller's chat and of the organisation's groups.
  [[nodiscard]] Result<std::vector<AlertInfo>> ListAlerts(const accounts::Principal& p);
  // InvalidArgument naming the field; PermissionDenied (403) when the plan lacks telegram_alerts
  // or the timeframe; FailedPrecondition when not linked; NotFound("symbol") when no model serves
  // the series; Conflict when the chat has max_alerts_per_chat alerts.
  [[nodiscard]] Result<AlertInfo> AddAlert(const accounts::Principal& p, const AlertSpec& spec);
  [[nodiscard]] Status RemoveAlert(const accounts::Principal& p, int64_t id);
  [[nodiscard]] Result<AlertInfo> MuteAlert(const accounts::Principal& p, int64_t id, bool muted);

  // ---- updates ----
  // Webhook: Unauthenticated when the secret header is wrong or missing (compared in constant
  // time; nothing is read); InvalidArgument for a body that is not an update (Telegram would not
  // retry); Unavailable when handling failed and Telegram should retry.
  [[nodiscard]] Status HandleWebhook(std::string_view secret_header, std::string_view body);
  // The secret check alone (the route runs it before reading the body).
  [[nodiscard]] Status CheckWebhookSecret(std::string_view secret_header) const;
  // One update (polling and webhook). OK for updates handled before (nothing happens) and for
  // updates the bot ignores. Unavailable: not handled, deliver again.
  [[nodiscard]] Status HandleUpdate(const TgUpdate& update);

  // ---- alerts and notices ----
  // The fan-out of one newly computed signal: queues one message per matching chat. Returns the
  // messages queued (0 when they were queued before). The SignalService listener calls it from
  // the bot's fan-out thread.
  [[nodiscard]] Result<int> FanOut(TenantId model_owner, const signals::Signal& signal);
  [[nodiscard]] Status Notify(const billing::AccountNotice& notice) override;
  // One round of the quota watcher: notices for organisations at >= 80% / 100% of their quota.
  // Returns the notices issued.
  [[nodiscard]] Result<int> CheckQuotas();

  // Whether this process holds the poller/sender lease.
  bool leader() const;
  SendQueue& send_queue();
  // Queued signals not yet fanned out, and polling progress (tests).
  void DrainFanOut();
  int64_t bot_id() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sinyal::notify
