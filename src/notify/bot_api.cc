#include "notify/bot_api.h"

#include <curl/curl.h>

#include <mutex>

namespace sinyal::notify {
namespace {

using nlohmann::json;

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t WriteBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

int AbortCheck(void* flag, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(flag)->load() ? 1 : 0;
}

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// Field readers that never throw (hostile or malformed updates).
int64_t Int(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}
std::string Text(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<TgUser> ParseUser(const json& j, const std::string& field) {
  if (!j.is_object()) return Status::InvalidArgument("must be an object", field);
  TgUser u;
  u.id = Int(j, "id");
  if (u.id == 0) return Status::InvalidArgument("id is missing", field + ".id");
  auto bot = j.find("is_bot");
  u.is_bot = bot != j.end() && bot->is_boolean() && bot->get<bool>();
  u.username = Text(j, "username");
  u.first_name = Text(j, "first_name");
  u.language_code = Text(j, "language_code");
  return u;
}

Result<TgChat> ParseChat(const json& j, const std::string& field) {
  if (!j.is_object()) return Status::InvalidArgument("must be an object", field);
  TgChat c;
  c.id = Int(j, "id");
  if (c.id == 0) return Status::InvalidArgument("id is missing", field + ".id");
  c.type = Text(j, "type");
  c.title = Text(j, "title");
  return c;
}

}  // namespace

std::string_view ApiResultName(ApiResult r) {
  switch (r) {
    case ApiResult::kOk:
      return "ok";
    case ApiResult::kRateLimited:
      return "rate_limited";
    case ApiResult::kBlocked:
      return "blocked";
    case ApiResult::kMigrated:
      return "migrated";
    case ApiResult::kBadRequest:
      return "bad_request";
    case ApiResult::kUnauthorized:
      return "unauthorized";
    case ApiResult::kConflict:
      return "conflict";
    case ApiResult::kServerError:
      return "server_error";
    case ApiResult::kNotSent:
      return "not_sent";
    case ApiResult::kUncertain:
      return "uncertain";
  }
  return "unknown";
}

Status ApiOutcome::ToStatus(std::string_view method) const {
  if (ok()) return Status::Ok();
  std::string what = "telegram " + std::string(method) + ": " + std::string(ApiResultName(kind)) +
                     (description.empty() ? "" : " (" + description.substr(0, 200) + ")");
  switch (kind) {
    case ApiResult::kBadRequest:
      return Status::InvalidArgument(what);
    case ApiResult::kUnauthorized:
      return Status::FailedPrecondition(what);
    case ApiResult::kConflict:
      return Status::Conflict(what);
    case ApiResult::kRateLimited:
      return Status(StatusCode::kRateLimited, what);
    case ApiResult::kBlocked:
      return Status::PermissionDenied(what);
    default:
      return Status::Unavailable(what);
  }
}

ApiOutcome ClassifyAnswer(int http_status, std::string_view body) {
  ApiOutcome out;
  out.http_status = http_status;
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("ok") || !j["ok"].is_boolean()) {
    if (http_status >= 500 || http_status == 0) {
      out.kind = ApiResult::kServerError;
    } else if (http_status >= 200 && http_status < 300) {
      // A 2xx we can't read: the call may well have been carried out.
      out.kind = ApiResult::kUncertain;
    } else if (http_status == 401 || http_status == 404) {
      out.kind = ApiResult::kUnauthorized;
    } else {
      out.kind = ApiResult::kBadRequest;
    }
    out.description = "unreadable answer (HTTP " + std::to_string(http_status) + ")";
    return out;
  }
  if (j["ok"].get<bool>()) {
    out.kind = ApiResult::kOk;
    if (auto it = j.find("result"); it != j.end()) out.result = *it;
    return out;
  }
  out.error_code = static_cast<int>(Int(j, "error_code"));
  out.description = Text(j, "description");
  const int code = out.error_code != 0 ? out.error_code : http_status;
  const json params = j.value("parameters", json::object());
  if (params.is_object()) {
    out.retry_after = static_cast<int>(Int(params, "retry_after"));
    out.migrate_to_chat_id = Int(params, "migrate_to_chat_id");
  }
  if (code == 429) {
    out.kind = ApiResult::kRateLimited;
    if (out.retry_after <= 0) out.retry_after = 1;
  } else if (out.migrate_to_chat_id != 0) {
    out.kind = ApiResult::kMigrated;
  } else if (code == 403 || (code == 400 && Contains(out.description, "chat not found"))) {
    out.kind = ApiResult::kBlocked;
  } else if (code == 401 || code == 404) {
    out.kind = ApiResult::kUnauthorized;
  } else if (code == 409) {
    out.kind = ApiResult::kConflict;
  } else if (code >= 500) {
    out.kind = ApiResult::kServerError;
  } else {
    out.kind = ApiResult::kBadRequest;
  }
  return out;
}

Result<TgUpdate> ParseUpdate(const json& j) {
  if (!j.is_object()) return Status::InvalidArgument("must be an object", "update");
  TgUpdate u;
  u.update_id = Int(j, "update_id");
  if (u.update_id <= 0) return Status::InvalidArgument("must be a positive integer", "update_id");
  if (auto it = j.find("message"); it != j.end()) {
    if (!it->is_object()) return Status::InvalidArgument("must be an object", "message");
    TgMessage m;
    m.message_id = Int(*it, "message_id");
    if (auto from = it->find("from"); from != it->end()) {
      SINYAL_ASSIGN_OR_RETURN(TgUser user, ParseUser(*from, "message.from"));
      m.from = std::move(user);
    }
    auto chat = it->find("chat");
    if (chat == it->end()) return Status::InvalidArgument("is missing", "message.chat");
    SINYAL_ASSIGN_OR_RETURN(m.chat, ParseChat(*chat, "message.chat"));
    m.text = Text(*it, "text");
    m.migrate_to_chat_id = Int(*it, "migrate_to_chat_id");
    u.message = std::move(m);
  }
  if (auto it = j.find("my_chat_member"); it != j.end()) {
    if (!it->is_object()) return Status::InvalidArgument("must be an object", "my_chat_member");
    TgMemberChange c;
    auto chat = it->find("chat");
    auto from = it->find("from");
    if (chat == it->end()) return Status::InvalidArgument("is missing", "my_chat_member.chat");
    if (from == it->end()) return Status::InvalidArgument("is missing", "my_chat_member.from");
    SINYAL_ASSIGN_OR_RETURN(c.chat, ParseChat(*chat, "my_chat_member.chat"));
    SINYAL_ASSIGN_OR_RETURN(c.from, ParseUser(*from, "my_chat_member.from"));
    auto member = it->find("new_chat_member");
    if (member != it->end() && member->is_object()) c.new_status = Text(*member, "status");
    u.my_chat_member = std::move(c);
  }
  return u;
}

BotClient::BotClient(BotApiOptions options) : options_(std::move(options)) {
  GlobalInitOnce();
  curl_ = curl_easy_init();
  while (!options_.base_url.empty() && options_.base_url.back() == '/')
    options_.base_url.pop_back();
}

BotClient::~BotClient() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

ApiOutcome BotClient::Call(std::string_view method, const json& params,
                           std::chrono::milliseconds extra_timeout) {
  ++calls_;
  ApiOutcome out;
  CURL* curl = static_cast<CURL*>(curl_);
  if (curl == nullptr) {
    out.kind = ApiResult::kNotSent;
    out.description = "libcurl failed to initialise";
    return out;
  }
  const std::string url = options_.base_url + "/bot" + options_.token + "/" + std::string(method);
  const std::string body = params.dump(-1, ' ', false, json::error_handler_t::replace);
  std::string answer;
  curl_easy_reset(curl);
  struct curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                   static_cast<long>((options_.timeout + extra_timeout).count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  if (options_.abort != nullptr) {
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &AbortCheck);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(options_.abort));
  }
  CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    long request_size = 0;
    curl_easy_getinfo(curl, CURLINFO_REQUEST_SIZE, &request_size);
    const bool before_sending = rc == CURLE_COULDNT_RESOLVE_HOST ||
                                rc == CURLE_COULDNT_RESOLVE_PROXY || rc == CURLE_COULDNT_CONNECT ||
                                rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_URL_MALFORMAT ||
                                rc == CURLE_UNSUPPORTED_PROTOCOL || request_size == 0;
    out.kind = before_sending ? ApiResult::kNotSent : ApiResult::kUncertain;
    // curl_easy_strerror never includes the URL (which holds the token).
    out.description = curl_easy_strerror(rc);
    return out;
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  return ClassifyAnswer(static_cast<int>(status), answer);
}

ApiOutcome BotClient::SendMessage(const OutgoingMessage& m) {
  json params = {{"chat_id", m.chat_id}, {"text", m.text}};
  if (m.disable_notification) params["disable_notification"] = true;
  if (m.disable_link_preview) params["link_preview_options"] = {{"is_disabled", true}};
  return Call("sendMessage", params);
}

Result<BotClient::Updates> BotClient::GetUpdates(int64_t offset, int timeout_seconds, int limit) {
  json params = {{"offset", offset},
                 {"timeout", timeout_seconds},
                 {"limit", limit},
                 {"allowed_updates", json::array({"message", "my_chat_member"})}};
  ApiOutcome out = Call("getUpdates", params, std::chrono::seconds(timeout_seconds));
  if (!out.ok()) return out.ToStatus("getUpdates");
  if (!out.result.is_array())
    return Status::Unavailable("telegram getUpdates: result is not an array");
  Updates u;
  for (const json& item : out.result) {
    auto parsed = ParseUpdate(item);
    if (parsed.ok()) {
      u.updates.push_back(std::move(parsed).value());
    } else {
      u.bad.emplace_back(item.is_object() ? Int(item, "update_id") : 0, parsed.error());
    }
  }
  return u;
}

Status BotClient::SetWebhook(const std::string& url, const std::string& secret) {
  json params = {{"url", url},
                 {"secret_token", secret},
                 {"allowed_updates", json::array({"message", "my_chat_member"})}};
  return Call("setWebhook", params).ToStatus("setWebhook");
}

Status BotClient::DeleteWebhook() {
  return Call("deleteWebhook", {{"drop_pending_updates", false}}).ToStatus("deleteWebhook");
}

Result<BotIdentity> BotClient::GetMe() {
  ApiOutcome out = Call("getMe", json::object());
  if (!out.ok()) return out.ToStatus("getMe");
  BotIdentity id;
  id.id = Int(out.result, "id");
  id.username = Text(out.result, "username");
  if (id.id == 0 || id.username.empty())
    return Status::Unavailable("telegram getMe: no id or username");
  return id;
}

Result<std::string> BotClient::GetChatMemberStatus(int64_t chat_id, int64_t user_id) {
  ApiOutcome out = Call("getChatMember", {{"chat_id", chat_id}, {"user_id", user_id}});
  if (!out.ok()) return out.ToStatus("getChatMember");
  std::string status = Text(out.result, "status");
  if (status.empty()) return Status::Unavailable("telegram getChatMember: no status");
  return status;
}

size_t Utf8Length(std::string_view text) {
  size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

std::vector<std::string> SplitMessage(std::string_view text, size_t max_chars) {
  std::vector<std::string> parts;
  if (max_chars == 0) max_chars = 1;
  while (!text.empty()) {
    // Byte index just past `max_chars` characters (or the end).
    size_t chars = 0, end = 0;
    while (end < text.size() && chars < max_chars) {
      ++end;
      while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
      ++chars;
    }
    size_t cut = end;
    if (end < text.size()) {
      size_t nl = text.rfind('\n', end - 1);
      if (nl != std::string_view::npos && nl > 0 && nl >= end / 2) cut = nl + 1;
    }
    std::string part(text.substr(0, cut));
    while (!part.empty() && part.back() == '\n') part.pop_back();
    if (!part.empty()) parts.push_back(std::move(part));
    text.remove_prefix(cut);
  }
  return parts;
}

}  // namespace sinyal::notify
