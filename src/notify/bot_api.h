// BotClient: the Telegram Bot API over HTTPS + JSON (libcurl), and the update types Sinyal reads.
//
// Every method is a POST of a JSON object to <base_url>/bot<token>/<method>; Telegram answers
// {"ok":true,"result":...} or {"ok":false,"error_code":N,"description":"...",
// "parameters":{"retry_after":S,"migrate_to_chat_id":C}} (https://core.telegram.org/bots/api,
// "Making requests"). The base URL is configurable so that tests and G's browser tests talk to
// the FAKE Bot API server (notify/testing/fake_bot_api.h) instead of api.telegram.org.
//
// The outcome of a call is classified once, here (ApiOutcome::kind), because the send queue's
// rules hang on it: a 429 is retried after `retry_after`; a chat that blocked the bot is marked
// and skipped; a transport failure BEFORE the request left (DNS, connect) is safe to retry; a
// failure AFTER it may have reached Telegram (timeout waiting for the answer, connection cut) is
// "uncertain": Telegram has no idempotency key for sendMessage, so the queue never resends it.
//
// The bot token is part of every URL; it is never logged (errors carry the method name only).
//
// Thread safety: a BotClient is NOT thread-safe (it owns one libcurl easy handle, kept alive so
// that connections are reused). Use one per thread; they are cheap.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace sinyal::notify {

// Telegram's limits that the code relies on (research-tranche2.md section B.2).
inline constexpr size_t kMaxMessageChars = 4096;  // sendMessage text, in characters
inline constexpr size_t kMaxStartPayload = 64;    // deep-link /start payload, A-Z a-z 0-9 _ -
inline constexpr size_t kMaxWebhookSecret = 256;  // setWebhook secret_token, A-Z a-z 0-9 _ -

struct BotApiOptions {
  // Where the Bot API lives. Default: https://api.telegram.org. Tests: the fake's URL.
  std::string base_url = "https://api.telegram.org";
  std::string token;  // "123456:ABC..." from @BotFather. Never logged.
  // Whole-request timeout of ordinary calls. Default: 10 s. getUpdates adds its long-poll timeout.
  std::chrono::milliseconds timeout{10000};
  std::chrono::milliseconds connect_timeout{5000};  // Default: 5 s.
  // When set and true, a call in flight is abandoned (outcome kNotSent or kUncertain): lets a
  // long poll stop at once. Not owned; must outlive the client.
  const std::atomic<bool>* abort = nullptr;
};

enum class ApiResult {
  kOk,
  kRateLimited,   // 429: retry after `retry_after` seconds
  kBlocked,       // 403 blocked / kicked / deactivated, or 400 chat not found: skip the chat
  kMigrated,      // 400 with migrate_to_chat_id: the group became a supergroup
  kBadRequest,    // other 400s: the request itself is wrong; retrying won't help
  kUnauthorized,  // 401 / 404: bad bot token (configuration)
  kConflict,      // 409: another getUpdates consumer, or a webhook is set
  kServerError,   // 5xx from Telegram: not delivered; retry later
  kNotSent,       // transport failure before the request was sent (DNS, connect): retry
  kUncertain,     // transport failure after the request may have arrived: never resend
};
std::string_view ApiResultName(ApiResult r);

struct ApiOutcome {
  ApiResult kind = ApiResult::kOk;
  nlohmann::json result;           // "result" when kOk
  int http_status = 0;             // 0 for transport failures
  int error_code = 0;              // Telegram's error_code
  std::string description;         // Telegram's description or the transport error
  int retry_after = 0;             // seconds (kRateLimited)
  int64_t migrate_to_chat_id = 0;  // kMigrated
  bool ok() const { return kind == ApiResult::kOk; }
  // Status for callers that do not branch on the kind (setWebhook, getMe, ...).
  Status ToStatus(std::string_view method) const;
};

// Classifies an HTTP answer (status and body) of the Bot API. Exposed for tests.
ApiOutcome ClassifyAnswer(int http_status, std::string_view body);

// ---- What Sinyal reads from updates (everything else is ignored) ----
struct TgUser {
  int64_t id = 0;
  bool is_bot = false;
  std::string username, first_name, language_code;
};
struct TgChat {
  int64_t id = 0;
  std::string type;  // "private", "group", "supergroup", "channel"
  std::string title;
  bool is_group() const { return type == "group" || type == "supergroup"; }
};
struct TgMessage {
  int64_t message_id = 0;
  std::optional<TgUser> from;  // absent for channel posts
  TgChat chat;
  std::string text;                // empty for non-text messages
  int64_t migrate_to_chat_id = 0;  // service message: the group became a supergroup
};
// my_chat_member: the bot's own membership changed in a chat (blocked/unblocked by a user,
// added to / removed from a group).
struct TgMemberChange {
  TgChat chat;
  TgUser from;
  std::string new_status;  // "member", "administrator", "kicked", "left", ...
};
struct TgUpdate {
  int64_t update_id = 0;
  std::optional<TgMessage> message;  // message or edited_message is not read
  std::optional<TgMemberChange> my_chat_member;
};
// Parses one Update object. InvalidArgument naming the field for a malformed update (a missing
// update_id, a message without chat.id, wrong types); unknown fields are ignored.
[[nodiscard]] Result<TgUpdate> ParseUpdate(const nlohmann::json& j);

struct OutgoingMessage {
  int64_t chat_id = 0;
  std::string text;                   // 1..4096 characters (the send queue splits longer texts)
  bool disable_notification = false;  // "silent" messages
  bool disable_link_preview = true;
};

struct BotIdentity {
  int64_t id = 0;
  std::string username;  // without '@'
};

class BotClient {
 public:
  explicit BotClient(BotApiOptions options);
  ~BotClient();
  BotClient(const BotClient&) = delete;
  BotClient& operator=(const BotClient&) = delete;

  // Calls `method` with `params` (a JSON object). `extra_timeout` is added to the options'
  // timeout (long polling). Never throws; the outcome says what happened.
  ApiOutcome Call(std::string_view method, const nlohmann::json& params,
                  std::chrono::milliseconds extra_timeout = std::chrono::milliseconds(0));

  // sendMessage. On kOk, result holds the sent Message (its message_id).
  ApiOutcome SendMessage(const OutgoingMessage& message);

  // getUpdates(offset, timeout, limit, allowed_updates=[message, my_chat_member]). Updates that
  // fail to parse are returned as errors in `bad` (with their update_id when it could be read)
  // so that the caller can still confirm them; the offset logic is the caller's.
  struct Updates {
    std::vector<TgUpdate> updates;
    std::vector<std::pair<int64_t, Status>> bad;  // (update_id or 0, why)
  };
  [[nodiscard]] Result<Updates> GetUpdates(int64_t offset, int timeout_seconds, int limit);

  // setWebhook(url, secret_token, allowed_updates); deleteWebhook(drop_pending_updates=false).
  [[nodiscard]] Status SetWebhook(const std::string& url, const std::string& secret);
  [[nodiscard]] Status DeleteWebhook();
  [[nodiscard]] Result<BotIdentity> GetMe();
  // getChatMember: the member's status ("creator", "administrator", "member", "left", ...).
  [[nodiscard]] Result<std::string> GetChatMemberStatus(int64_t chat_id, int64_t user_id);

  // Requests made and the latest outcome kind (diagnostics).
  int64_t calls() const { return calls_; }

 private:
  BotApiOptions options_;
  void* curl_ = nullptr;  // CURL*
  int64_t calls_ = 0;
};

// Characters (Unicode code points) of UTF-8 text; invalid bytes count as one each.
size_t Utf8Length(std::string_view text);
// Splits text into parts of at most `max_chars` characters, preferring line breaks, never
// cutting a UTF-8 sequence. Empty text gives no parts.
std::vector<std::string> SplitMessage(std::string_view text, size_t max_chars = kMaxMessageChars);

}  // namespace sinyal::notify
