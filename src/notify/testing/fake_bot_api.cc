// The FAKE Telegram Bot API server (see fake_bot_api.h). RESTinio on its own io_context; the
// state is one mutex-guarded struct; slow answers and long polls wait on asio timers; webhook
// delivery runs on its own thread with libcurl.
#include "notify/testing/fake_bot_api.h"

#include <curl/curl.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <restinio/all.hpp>
#include <set>
#include <thread>

#include "notify/bot_api.h"

namespace sinyal::notify::testing {
namespace {

using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now().time_since_epoch())
      .count();
}

std::string ToStd(restinio::string_view_t s) { return std::string(s.data(), s.size()); }

json Error(int code, const std::string& description, json parameters = nullptr) {
  json j = {{"ok", false}, {"error_code", code}, {"description", description}};
  if (!parameters.is_null()) j["parameters"] = std::move(parameters);
  return j;
}
json Ok(json result) { return {{"ok", true}, {"result", std::move(result)}}; }

// A parameter as int64 (JSON number or numeric string, as Telegram accepts both).
std::optional<int64_t> IntParam(const json& p, const char* key) {
  auto it = p.find(key);
  if (it == p.end()) return std::nullopt;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_string()) {
    try {
      size_t used = 0;
      int64_t v = std::stoll(it->get<std::string>(), &used);
      if (used == it->get<std::string>().size()) return v;
    } catch (...) {
    }
  }
  return std::nullopt;
}

struct Answer {
  int status = 200;
  json body;
  int delay_ms = 0;
};

struct WaitingPoll {
  restinio::request_handle_t req;
  int64_t offset = 0;
  int limit = 100;
  std::shared_ptr<asio::steady_timer> timer;
  uint64_t id = 0;
};

}  // namespace

struct FakeBotApi::Impl {
  Options options;
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  using Server = restinio::http_server_t<restinio::default_traits_t>;
  std::unique_ptr<Server> server;
  std::atomic<uint16_t> port{0};
  std::once_flag stop_once;

  mutable std::mutex mu;
  mutable std::condition_variable sent_cv;
  std::vector<FakeSentMessage> sent;                    // GUARDED_BY(mu)
  std::deque<json> updates;                             // GUARDED_BY(mu), ordered by update_id
  int64_t next_update_id = 1000;                        // GUARDED_BY(mu)
  int64_t confirmed_offset = 0;                         // GUARDED_BY(mu)
  int64_t next_message_id = 1;                          // GUARDED_BY(mu)
  std::vector<Fault> faults;                            // GUARDED_BY(mu)
  int64_t storm_until = 0;                              // GUARDED_BY(mu), steady nanos
  int storm_retry_after = 1;                            // GUARDED_BY(mu)
  FakeLimits limits;                                    // GUARDED_BY(mu)
  int latency_ms = 0;                                   // GUARDED_BY(mu)
  std::deque<int64_t> recent_global;                    // GUARDED_BY(mu), accepted send times
  std::map<int64_t, int64_t> last_per_chat;             // GUARDED_BY(mu)
  std::map<int64_t, std::deque<int64_t>> group_window;  // GUARDED_BY(mu)
  std::set<int64_t> blocked;                            // GUARDED_BY(mu)
  std::map<std::pair<int64_t, int64_t>, std::string> members;  // GUARDED_BY(mu)
  std::optional<std::string> webhook_url;                      // GUARDED_BY(mu)
  std::string webhook_secret;                                  // GUARDED_BY(mu)
  std::optional<WaitingPoll> waiting;                          // GUARDED_BY(mu)
  uint64_t next_poll_id = 1;                                   // GUARDED_BY(mu)
  json commands = json::object();  // GUARDED_BY(mu): setMyCommands per language
  Stats stats;                     // GUARDED_BY(mu)

  std::thread webhook_thread;
  std::condition_variable webhook_cv;
  bool stopping = false;  // GUARDED_BY(mu)

  // ---- responses ----
  void Respond(const restinio::request_handle_t& req, int status, const json& body) {
    auto builder = req->create_response(restinio::http_status_line_t(
        restinio::http_status_code_t{static_cast<std::uint16_t>(status)},
        status == 200 ? "OK" : "Error"));
    builder.append_header(restinio::http_field::content_type, "application/json");
    builder.set_body(body.dump());
    builder.done();
  }
  void RespondLater(const restinio::request_handle_t& req, Answer a) {
    if (a.delay_ms <= 0) {
      Respond(req, a.status, a.body);
      return;
    }
    auto timer = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(a.delay_ms));
    timer->async_wait(
        [this, req, a, timer](const asio::error_code&) { Respond(req, a.status, a.body); });
  }

  // ---- parameters: JSON body, else the query string ----
  static json Params(const restinio::request_handle_t& req) {
    json p = json::object();
    const std::string body = req->body();
    if (!body.empty()) {
      json j = json::parse(body, nullptr, false);
      if (j.is_object()) p = std::move(j);
    }
    auto query =
        restinio::try_parse_query<restinio::parse_query_traits::relaxed>(req->header().query());
    if (query) {
      for (const auto& [k, v] : *query) {
        std::string key = ToStd(k);
        if (!p.contains(key)) p[key] = ToStd(v);
      }
    }
    return p;
  }

  // Takes the first matching fault for (method, chat). REQUIRES: mu held.
  std::optional<Fault> TakeFault(const std::string& method, int64_t chat_id) {
    for (auto it = faults.begin(); it != faults.end(); ++it) {
      if (it->method != method) continue;
      if (it->chat_id != 0 && it->chat_id != chat_id) continue;
      Fault f = *it;
      if (--it->count <= 0) faults.erase(it);
      return f;
    }
    return std::nullopt;
  }

  // The flood limits; true when this send breaches them. REQUIRES: mu held.
  bool Breaches(int64_t chat_id, int64_t now) {
    const int64_t slack = limits.slack_ms * 1'000'000;
    if (limits.global_per_second > 0) {
      while (!recent_global.empty() && recent_global.front() <= now - 1'000'000'000 + slack)
        recent_global.pop_front();
      if (static_cast<double>(recent_global.size()) >= limits.global_per_second) return true;
    }
    if (limits.per_chat_interval_ms > 0) {
      auto it = last_per_chat.find(chat_id);
      if (it != last_per_chat.end() &&
          now - it->second < limits.per_chat_interval_ms * 1'000'000 - slack)
        return true;
    }
    if (limits.group_per_minute > 0 && chat_id < 0) {
      auto& w = group_window[chat_id];
      while (!w.empty() && w.front() <= now - 60'000'000'000LL + slack) w.pop_front();
      if (static_cast<int>(w.size()) >= limits.group_per_minute) return true;
    }
    return false;
  }

  Answer SendMessage(const json& p) {
    const int64_t now = NowNanos();
    auto chat = IntParam(p, "chat_id");
    std::string text =
        p.contains("text") && p["text"].is_string() ? p["text"].get<std::string>() : "";
    std::lock_guard<std::mutex> lock(mu);
    if (!chat) {
      ++stats.send_errors;
      return {400, Error(400, "Bad Request: chat not found")};
    }
    if (std::optional<Fault> f = TakeFault("sendMessage", *chat)) {
      if (f->kind == FaultKind::kRateLimit) {
        ++stats.send_rate_limited;
        return {429, Error(429, "Too Many Requests: retry after " + std::to_string(f->retry_after),
                           {{"retry_after", f->retry_after}})};
      }
      if (f->kind == FaultKind::kServerError) {
        ++stats.send_errors;
        return {f->http_status, Error(f->http_status, "Internal Server Error (FAKE fault)")};
      }
      Answer a = AcceptMessage(*chat, text, p, now);
      a.delay_ms = f->delay_ms;
      return a;
    }
    if (now < storm_until) {
      ++stats.send_rate_limited;
      return {429, Error(429, "Too Many Requests: retry after " + std::to_string(storm_retry_after),
                         {{"retry_after", storm_retry_after}})};
    }
    return AcceptMessage(*chat, text, p, now);
  }

  // REQUIRES: mu held.
  Answer AcceptMessage(int64_t chat, const std::string& text, const json& p, int64_t now) {
    if (blocked.count(chat)) {
      ++stats.send_blocked;
      return {403, Error(403, chat > 0 ? "Forbidden: bot was blocked by the user"
                                       : "Forbidden: bot was kicked from the group chat")};
    }
    if (text.empty()) {
      ++stats.send_errors;
      return {400, Error(400, "Bad Request: message text is empty")};
    }
    if (Utf8Length(text) > kMaxMessageChars) {
      ++stats.send_errors;
      return {400, Error(400, "Bad Request: message is too long")};
    }
    if (Breaches(chat, now)) {
      ++stats.limit_breaches;
      ++stats.send_rate_limited;
      return {429,
              Error(429, "Too Many Requests: retry after " + std::to_string(limits.retry_after),
                    {{"retry_after", limits.retry_after}})};
    }
    recent_global.push_back(now);
    last_per_chat[chat] = now;
    if (chat < 0) group_window[chat].push_back(now);
    FakeSentMessage m;
    m.message_id = next_message_id++;
    m.chat_id = chat;
    m.text = text;
    m.silent = p.contains("disable_notification") && p["disable_notification"].is_boolean() &&
               p["disable_notification"].get<bool>();
    m.at_nanos = now;
    sent.push_back(m);
    ++stats.send_ok;
    sent_cv.notify_all();
    json result = {{"message_id", m.message_id},
                   {"date", std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count()},
                   {"chat", {{"id", chat}, {"type", chat > 0 ? "private" : "supergroup"}}},
                   {"text", text}};
    return {200, Ok(std::move(result))};
  }

  // Updates with id >= offset, up to limit. REQUIRES: mu held. Confirms ids < offset.
  json TakeUpdates(int64_t offset, int limit) {
    if (offset > 0) {
      while (!updates.empty() && updates.front()["update_id"].get<int64_t>() < offset)
        updates.pop_front();
      confirmed_offset = std::max(confirmed_offset, offset);
    }
    json out = json::array();
    for (const json& u : updates) {
      if (static_cast<int>(out.size()) >= limit) break;
      if (u["update_id"].get<int64_t>() >= offset) out.push_back(u);
    }
    return out;
  }

  void GetUpdates(const restinio::request_handle_t& req, const json& p) {
    std::unique_lock<std::mutex> lock(mu);
    ++stats.get_updates;
    if (webhook_url) {
      lock.unlock();
      Respond(req, 409,
              Error(409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first"));
      return;
    }
    int64_t offset = IntParam(p, "offset").value_or(0);
    int limit = static_cast<int>(std::clamp<int64_t>(IntParam(p, "limit").value_or(100), 1, 100));
    int64_t timeout = std::clamp<int64_t>(IntParam(p, "timeout").value_or(0), 0, 50);
    // A second poller terminates the first, as on Telegram.
    if (waiting) {
      WaitingPoll old = std::move(*waiting);
      waiting.reset();
      old.timer->cancel();
      Respond(old.req, 409,
              Error(409,
                    "Conflict: terminated by other getUpdates request; make sure that "
                    "only one bot instance is running"));
    }
    json found = TakeUpdates(offset, limit);
    if (!found.empty() || timeout == 0) {
      lock.unlock();
      Respond(req, 200, Ok(std::move(found)));
      return;
    }
    WaitingPoll w;
    w.req = req;
    w.offset = offset;
    w.limit = limit;
    w.id = next_poll_id++;
    w.timer = std::make_shared<asio::steady_timer>(io, std::chrono::seconds(timeout));
    uint64_t id = w.id;
    w.timer->async_wait([this, id](const asio::error_code& ec) {
      if (ec) return;  // cancelled: answered elsewhere
      std::unique_lock<std::mutex> l(mu);
      if (!waiting || waiting->id != id) return;
      WaitingPoll done = std::move(*waiting);
      waiting.reset();
      json found = TakeUpdates(done.offset, done.limit);
      l.unlock();
      Respond(done.req, 200, Ok(std::move(found)));
    });
    waiting = std::move(w);
  }

  // Answers a waiting poll if updates arrived. REQUIRES: mu held (released before responding).
  void WakePoll(std::unique_lock<std::mutex>& lock) {
    if (!waiting) return;
    json found = TakeUpdates(waiting->offset, waiting->limit);
    if (found.empty()) return;
    WaitingPoll done = std::move(*waiting);
    waiting.reset();
    done.timer->cancel();
    lock.unlock();
    Respond(done.req, 200, Ok(std::move(found)));
  }

  void HandleBotApi(const restinio::request_handle_t& req, const std::string& method) {
    json p = Params(req);
    if (method == "getUpdates") {
      GetUpdates(req, p);
      return;
    }
    Answer a;
    if (method == "sendMessage") {
      a = SendMessage(p);
      std::lock_guard<std::mutex> lock(mu);
      if (a.delay_ms == 0) a.delay_ms = latency_ms;
    } else if (method == "getMe") {
      a = {200, Ok({{"id", options.bot_id},
                    {"is_bot", true},
                    {"first_name", "Sinyal FAKE bot"},
                    {"username", options.bot_username}})};
    } else if (method == "setWebhook") {
      std::lock_guard<std::mutex> lock(mu);
      std::string url = p.value("url", "");
      if (url.empty()) {
        webhook_url.reset();
      } else {
        webhook_url = url;
        webhook_secret = p.contains("secret_token") && p["secret_token"].is_string()
                             ? p["secret_token"].get<std::string>()
                             : "";
      }
      webhook_cv.notify_all();
      a = {200, Ok(true)};
    } else if (method == "deleteWebhook") {
      std::lock_guard<std::mutex> lock(mu);
      webhook_url.reset();
      if (p.contains("drop_pending_updates") && p["drop_pending_updates"] == true) updates.clear();
      a = {200, Ok(true)};
    } else if (method == "getWebhookInfo") {
      std::lock_guard<std::mutex> lock(mu);
      a = {200, Ok({{"url", webhook_url.value_or("")}, {"pending_update_count", updates.size()}})};
    } else if (method == "getChatMember") {
      std::lock_guard<std::mutex> lock(mu);
      auto chat = IntParam(p, "chat_id");
      auto user = IntParam(p, "user_id");
      if (!chat || !user) {
        a = {400, Error(400, "Bad Request: chat not found")};
      } else {
        auto it = members.find({*chat, *user});
        std::string status =
            it != members.end() ? it->second : (*chat == *user ? "member" : "left");
        a = {200, Ok({{"status", status}, {"user", {{"id", *user}, {"is_bot", false}}}})};
      }
    } else if (method == "setMyCommands") {
      std::lock_guard<std::mutex> lock(mu);
      commands[p.value("language_code", "")] = p.value("commands", json::array());
      a = {200, Ok(true)};
    } else {
      a = {404, Error(404, "Not Found: method not found")};
    }
    RespondLater(req, std::move(a));
  }

  // ---- control API (/fake/...) ----
  void HandleControl(const restinio::request_handle_t& req, const std::string& what) {
    json p = Params(req);
    json out = {{"ok", true}};
    if (what == "updates") {
      if (p.contains("update")) {
        out["update_id"] = Inject(p["update"]);
      } else {
        int64_t from = IntParam(p, "from_id").value_or(0);
        int64_t chat = IntParam(p, "chat_id").value_or(from);
        out["update_id"] =
            InjectTextUpdate(from, chat, p.value("text", ""), p.value("username", ""),
                             p.value("language_code", ""), p.value("chat_type", ""));
      }
    } else if (what == "sent") {
      auto chat = IntParam(p, "chat_id");
      json list = json::array();
      std::lock_guard<std::mutex> lock(mu);
      for (const auto& m : sent) {
        if (chat && m.chat_id != *chat) continue;
        list.push_back({{"message_id", m.message_id},
                        {"chat_id", m.chat_id},
                        {"text", m.text},
                        {"silent", m.silent},
                        {"at_ms", m.at_nanos / 1'000'000}});
      }
      out["messages"] = std::move(list);
    } else if (what == "faults") {
      Fault f;
      std::string kind = p.value("kind", "rate_limit");
      f.kind = kind == "server_error" ? FaultKind::kServerError
               : kind == "slow"       ? FaultKind::kSlow
                                      : FaultKind::kRateLimit;
      f.method = p.value("method", "sendMessage");
      f.count = static_cast<int>(IntParam(p, "count").value_or(1));
      f.retry_after = static_cast<int>(IntParam(p, "retry_after").value_or(1));
      f.http_status = static_cast<int>(IntParam(p, "status").value_or(500));
      f.delay_ms = static_cast<int>(IntParam(p, "delay_ms").value_or(0));
      f.chat_id = IntParam(p, "chat_id").value_or(0);
      std::lock_guard<std::mutex> lock(mu);
      faults.push_back(f);
    } else if (what == "block" || what == "unblock") {
      std::lock_guard<std::mutex> lock(mu);
      int64_t chat = IntParam(p, "chat_id").value_or(0);
      if (what == "block")
        blocked.insert(chat);
      else
        blocked.erase(chat);
    } else if (what == "chat_member") {
      std::lock_guard<std::mutex> lock(mu);
      members[{IntParam(p, "chat_id").value_or(0), IntParam(p, "user_id").value_or(0)}] =
          p.value("status", "member");
    } else if (what == "limits") {
      FakeLimits l;
      l.global_per_second = p.value("global_per_second", 0.0);
      l.per_chat_interval_ms = IntParam(p, "per_chat_interval_ms").value_or(0);
      l.group_per_minute = static_cast<int>(IntParam(p, "group_per_minute").value_or(0));
      l.slack_ms = IntParam(p, "slack_ms").value_or(0);
      l.retry_after = static_cast<int>(IntParam(p, "retry_after").value_or(1));
      std::lock_guard<std::mutex> lock(mu);
      limits = l;
    } else if (what == "reset") {
      ResetState();
    } else if (what == "stats") {
      std::lock_guard<std::mutex> lock(mu);
      out["stats"] = {{"requests", stats.requests},
                      {"send_ok", stats.send_ok},
                      {"send_rate_limited", stats.send_rate_limited},
                      {"send_blocked", stats.send_blocked},
                      {"send_errors", stats.send_errors},
                      {"limit_breaches", stats.limit_breaches},
                      {"get_updates", stats.get_updates},
                      {"webhook_posts", stats.webhook_posts},
                      {"webhook_failures", stats.webhook_failures},
                      {"pending_updates", updates.size()},
                      {"webhook_url", webhook_url.value_or("")},
                      {"commands", commands}};
    } else {
      Respond(req, 404, Error(404, "unknown FAKE control endpoint"));
      return;
    }
    Respond(req, 200, out);
  }

  restinio::request_handling_status_t Handle(const restinio::request_handle_t& req) {
    {
      std::lock_guard<std::mutex> lock(mu);
      ++stats.requests;
    }
    const std::string path = ToStd(req->header().path());
    if (path.rfind("/fake/", 0) == 0) {
      HandleControl(req, path.substr(6));
      return restinio::request_accepted();
    }
    // /bot<token>/<method>
    const std::string prefix = "/bot" + options.token + "/";
    if (path.rfind("/bot", 0) != 0) {
      Respond(req, 404, Error(404, "Not Found"));
      return restinio::request_accepted();
    }
    if (path.rfind(prefix, 0) != 0) {
      Respond(req, 401, Error(401, "Unauthorized"));
      return restinio::request_accepted();
    }
    HandleBotApi(req, path.substr(prefix.size()));
    return restinio::request_accepted();
  }

  // ---- injection ----
  int64_t Inject(json update) {
    std::unique_lock<std::mutex> lock(mu);
    int64_t id = next_update_id++;
    if (!update.is_object()) update = json::object();
    update["update_id"] = id;
    updates.push_back(std::move(update));
    webhook_cv.notify_all();
    WakePoll(lock);
    return id;
  }

  int64_t InjectTextUpdate(int64_t from, int64_t chat, const std::string& text,
                           const std::string& username, const std::string& lang,
                           std::string chat_type) {
    if (chat_type.empty())
      chat_type = chat == from ? "private" : (chat < 0 ? "supergroup" : "private");
    json user = {{"id", from}, {"is_bot", false}, {"first_name", "User" + std::to_string(from)}};
    if (!username.empty()) user["username"] = username;
    if (!lang.empty()) user["language_code"] = lang;
    json chat_j = {{"id", chat}, {"type", chat_type}};
    if (chat_type != "private") chat_j["title"] = "Group " + std::to_string(chat);
    static std::atomic<int64_t> message_ids{1};
    json message = {{"message_id", message_ids.fetch_add(1)},
                    {"from", user},
                    {"chat", chat_j},
                    {"date", std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count()},
                    {"text", text}};
    return Inject({{"message", std::move(message)}});
  }

  void ResetState() {
    std::lock_guard<std::mutex> lock(mu);
    sent.clear();
    updates.clear();
    faults.clear();
    storm_until = 0;
    latency_ms = 0;
    limits = FakeLimits{};
    recent_global.clear();
    last_per_chat.clear();
    group_window.clear();
    blocked.clear();
    members.clear();
    webhook_url.reset();
    webhook_secret.clear();
    commands = json::object();
    stats = Stats{};
  }

  // ---- webhook delivery ----
  void WebhookLoop() {
    CURL* curl = curl_easy_init();
    std::unique_lock<std::mutex> lock(mu);
    while (!stopping) {
      if (!webhook_url || updates.empty()) {
        webhook_cv.wait_for(lock, std::chrono::milliseconds(200));
        continue;
      }
      const std::string url = *webhook_url;
      const std::string secret = webhook_secret;
      const json update = updates.front();
      lock.unlock();
      std::string body = update.dump();
      std::string answer;
      struct curl_slist* headers = nullptr;
      headers = curl_slist_append(headers, "Content-Type: application/json");
      if (!secret.empty())
        headers =
            curl_slist_append(headers, ("X-Telegram-Bot-Api-Secret-Token: " + secret).c_str());
      curl_easy_reset(curl);
      curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
      curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
      curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
      curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(
          curl, CURLOPT_WRITEFUNCTION, +[](char* d, size_t s, size_t n, void* out) {
            static_cast<std::string*>(out)->append(d, s * n);
            return s * n;
          });
      curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
      CURLcode rc = curl_easy_perform(curl);
      long status = 0;
      if (rc == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
      curl_slist_free_all(headers);
      lock.lock();
      ++stats.webhook_posts;
      if (status >= 200 && status < 300) {
        if (!updates.empty() && updates.front()["update_id"] == update["update_id"])
          updates.pop_front();
      } else {
        ++stats.webhook_failures;
        webhook_cv.wait_for(lock, std::chrono::milliseconds(100));  // Telegram retries later
      }
    }
    lock.unlock();
    curl_easy_cleanup(curl);
  }

  void Stop() {
    std::call_once(stop_once, [this] {
      {
        std::lock_guard<std::mutex> lock(mu);
        stopping = true;
        if (waiting) {
          waiting->timer->cancel();
          waiting.reset();
        }
      }
      webhook_cv.notify_all();
      if (webhook_thread.joinable()) webhook_thread.join();
      if (server) {
        std::promise<void> closed;
        auto done = closed.get_future();
        server->close_async([&closed] { closed.set_value(); },
                            [&closed](std::exception_ptr) { closed.set_value(); });
        done.wait_for(std::chrono::seconds(5));
      }
      work.reset();
      io.stop();
      for (auto& t : threads) {
        if (t.joinable()) t.join();
      }
    });
  }
};

FakeBotApi::FakeBotApi(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FakeBotApi::~FakeBotApi() { Stop(); }

Result<std::unique_ptr<FakeBotApi>> FakeBotApi::Start(Options options) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  Impl* raw = impl.get();
  impl->work.emplace(asio::make_work_guard(impl->io));
  try {
    impl->server = std::make_unique<Impl::Server>(
        restinio::external_io_context(impl->io),
        restinio::server_settings_t<restinio::default_traits_t>{}
            .address(impl->options.host)
            .port(impl->options.port)
            .request_handler([raw](auto req) { return raw->Handle(req); })
            .acceptor_post_bind_hook([raw](asio::ip::tcp::acceptor& acceptor) {
              raw->port.store(acceptor.local_endpoint().port());
            })
            .read_next_http_message_timelimit(std::chrono::seconds(120))
            .handle_request_timeout(std::chrono::seconds(120))
            .max_pipelined_requests(1));
  } catch (const std::exception& e) {
    return Status::Unavailable(std::string("FAKE Bot API: ") + e.what());
  }
  std::promise<Status> opened;
  auto opened_future = opened.get_future();
  impl->server->open_async(
      [&opened] { opened.set_value(Status::Ok()); },
      [&opened](std::exception_ptr ex) {
        try {
          std::rethrow_exception(ex);
        } catch (const std::exception& e) {
          opened.set_value(Status::Unavailable(std::string("FAKE Bot API: ") + e.what()));
        }
      });
  for (size_t i = 0; i < std::max<size_t>(1, impl->options.io_threads); ++i) {
    impl->threads.emplace_back([raw] { raw->io.run(); });
  }
  Status s = opened_future.get();
  if (!s.ok()) {
    impl->Stop();
    return s;
  }
  impl->webhook_thread = std::thread([raw] { raw->WebhookLoop(); });
  return std::unique_ptr<FakeBotApi>(new FakeBotApi(std::move(impl)));
}

std::string FakeBotApi::base_url() const {
  return "http://" + impl_->options.host + ":" + std::to_string(impl_->port.load());
}
uint16_t FakeBotApi::port() const { return impl_->port.load(); }
const FakeBotApi::Options& FakeBotApi::options() const { return impl_->options; }

int64_t FakeBotApi::InjectUpdate(nlohmann::json update) { return impl_->Inject(std::move(update)); }

int64_t FakeBotApi::InjectText(int64_t from_id, int64_t chat_id, const std::string& text,
                               const std::string& username, const std::string& language_code,
                               const std::string& chat_type) {
  return impl_->InjectTextUpdate(from_id, chat_id, text, username, language_code, chat_type);
}

int64_t FakeBotApi::InjectMemberChange(int64_t chat_id, int64_t from_id,
                                       const std::string& status) {
  nlohmann::json chat = {{"id", chat_id}, {"type", chat_id > 0 ? "private" : "supergroup"}};
  nlohmann::json change = {
      {"chat", chat},
      {"from",
       {{"id", from_id}, {"is_bot", false}, {"first_name", "User" + std::to_string(from_id)}}},
      {"date", 0},
      {"old_chat_member",
       {{"status", "member"}, {"user", {{"id", impl_->options.bot_id}, {"is_bot", true}}}}},
      {"new_chat_member",
       {{"status", status}, {"user", {{"id", impl_->options.bot_id}, {"is_bot", true}}}}}};
  return impl_->Inject({{"my_chat_member", std::move(change)}});
}

size_t FakeBotApi::PendingUpdates() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->updates.size();
}

int64_t FakeBotApi::ConfirmedOffset() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->confirmed_offset;
}

std::vector<FakeSentMessage> FakeBotApi::Sent() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->sent;
}

std::vector<FakeSentMessage> FakeBotApi::SentTo(int64_t chat_id) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<FakeSentMessage> out;
  for (const auto& m : impl_->sent) {
    if (m.chat_id == chat_id) out.push_back(m);
  }
  return out;
}

size_t FakeBotApi::SentCount() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->sent.size();
}

bool FakeBotApi::WaitForSent(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(impl_->mu);
  return impl_->sent_cv.wait_for(lock, timeout, [&] { return impl_->sent.size() >= n; });
}

std::optional<FakeSentMessage> FakeBotApi::WaitForMessage(int64_t chat_id,
                                                          const std::string& needle,
                                                          std::chrono::milliseconds timeout,
                                                          size_t after) const {
  std::unique_lock<std::mutex> lock(impl_->mu);
  std::optional<FakeSentMessage> found;
  impl_->sent_cv.wait_for(lock, timeout, [&] {
    size_t seen = 0;
    for (const auto& m : impl_->sent) {
      if (m.chat_id != chat_id) continue;
      if (seen++ < after) continue;
      if (m.text.find(needle) != std::string::npos) {
        found = m;
        return true;
      }
    }
    return false;
  });
  return found;
}

void FakeBotApi::AddFault(Fault fault) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->faults.push_back(std::move(fault));
}

void FakeBotApi::RateLimitFor(std::chrono::milliseconds duration, int retry_after) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->storm_until =
      NowNanos() + std::chrono::duration_cast<std::chrono::nanoseconds>(duration).count();
  impl_->storm_retry_after = retry_after;
}

void FakeBotApi::SetLimits(FakeLimits limits) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->limits = limits;
}

void FakeBotApi::SetLatency(std::chrono::milliseconds latency) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->latency_ms = static_cast<int>(latency.count());
}

void FakeBotApi::Block(int64_t chat_id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->blocked.insert(chat_id);
}

void FakeBotApi::Unblock(int64_t chat_id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->blocked.erase(chat_id);
}

void FakeBotApi::SetChatMember(int64_t chat_id, int64_t user_id, const std::string& status) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->members[{chat_id, user_id}] = status;
}

std::optional<std::string> FakeBotApi::WebhookUrl() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->webhook_url;
}

void FakeBotApi::Reset() { impl_->ResetState(); }

FakeBotApi::Stats FakeBotApi::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->stats;
}

void FakeBotApi::Stop() { impl_->Stop(); }

}  // namespace sinyal::notify::testing
