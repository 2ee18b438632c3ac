// The HTTP layer's own request/response types and route table.
//
// RESTinio is confined to server.cc (it costs ~15 s of compile per TU); everything else in http/
// sees only these plain types, so handlers stay thin and cheap to compile (STYLE.md §5).
// Handlers parse into typed structs, call a domain function, and map the result to JSON.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "accounts/accounts.h"
#include "core/clock.h"
#include "core/status.h"

namespace sinyal::http {

// Header names are stored lower-case.
using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // decoded path without the query string
  std::map<std::string, std::string, std::less<>> query;   // decoded query parameters
  std::map<std::string, std::string, std::less<>> params;  // route parameters (":id")
  Headers headers;
  std::string body;
  std::string remote;  // peer address, for logs

  // First header with this (lower-case) name, or empty.
  std::string_view Header(std::string_view lower_name) const;
  bool HasHeader(std::string_view lower_name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  Headers headers;  // extra headers

  static Response Json(int status, const nlohmann::json& body);
  static Response Text(int status, std::string body, std::string content_type = "text/plain; charset=utf-8");
  static Response NoContent() { return Response{204, "", "", {}}; }
};

// Who may call a route.
enum class AuthMode {
  kNone,      // public
  kUser,      // a signed-in user's access token (JWT) only
  kAny,       // a user's JWT or an API key
  kOperator,  // a platform operator's JWT
};

// What a handler gets. The principal is set when the route's AuthMode is not kNone.
struct Context {
  const Request& request;
  std::string request_id;
  std::optional<accounts::Principal> principal;
  UnixNanos now = 0;
  // Extra response headers the handler or middleware wants added (e.g. RateLimit-*).
  Headers response_headers;
};

using Handler = std::function<Result<Response>(Context&)>;

struct Route {
  std::string method;   // "GET", "POST", "PUT", "PATCH", "DELETE"
  std::string pattern;  // express-style: "/api/v1/keys/:id"
  AuthMode auth = AuthMode::kNone;
  // Runs on the blocking pool rather than an I/O thread (password hashing, training...).
  bool blocking = false;
  // Largest accepted body in bytes; 0 = the server default.
  size_t max_body_bytes = 0;
  // Scope an API key must hold (empty = any key; JWT users always pass).
  std::string required_scope;
  Handler handler;
};

// The routes of the whole API, in registration order. Not thread-safe to mutate; built once at start.
class RouteTable {
 public:
  void Add(Route route) { routes_.push_back(std::move(route)); }
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace sinyal::http
