#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "http/http.h"

namespace sinyal::http {

std::string_view Request::Header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return {};
}

bool Request::HasHeader(std::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return true;
  }
  return false;
}

Response Response::Json(int status, const nlohmann::json& body) {
  Response r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

Response Response::Text(int status, std::string body, std::string content_type) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  return r;
}

Response Response::WebSocket(std::shared_ptr<WebSocketHandler> handler) {
  Response r;
  r.status = 101;
  r.content_type.clear();
  r.websocket = std::move(handler);
  return r;
}

Response Response::Deferred() {
  Response r;
  r.status = 0;
  r.content_type.clear();
  r.deferred = true;
  return r;
}

std::shared_ptr<Completion> Context::Defer(std::string_view stage) {
  if (!defer_impl) return nullptr;
  return defer_impl(stage);
}

namespace {
bool ContainsTokenCi(std::string_view list, std::string_view token) {
  // Comma-separated header tokens, compared case-insensitively.
  size_t i = 0;
  while (i <= list.size()) {
    size_t j = list.find(',', i);
    if (j == std::string_view::npos) j = list.size();
    std::string_view t = list.substr(i, j - i);
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
    if (t.size() == token.size() &&
        std::equal(t.begin(), t.end(), token.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        }))
      return true;
    i = j + 1;
  }
  return false;
}
}  // namespace

bool IsWebSocketUpgrade(const Request& request) {
  return request.method == "GET" && ContainsTokenCi(request.Header("upgrade"), "websocket") &&
         ContainsTokenCi(request.Header("connection"), "upgrade") &&
         !request.Header("sec-websocket-key").empty() &&
         request.Header("sec-websocket-version") == "13";
}

}  // namespace sinyal::http
