// The HTTP layer's own request/response types and route table.
//
// RESTinio is confined to server.cc (it costs ~15 s of compile per TU; query_string.cc uses only
// its URI helpers); everything else in http/ sees only these plain types, so handlers stay thin
// and cheap to compile (STYLE.md §5).
// Handlers parse into typed structs, call a domain function, and map the result to JSON.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "accounts/accounts.h"
#include "billing/fwd.h"
#include "core/clock.h"
#include "core/status.h"

namespace sinyal::http {

// Header names are stored lower-case.
using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;                                      // "GET", "POST", ...
  std::string path;                                        // decoded path without the query string
  std::map<std::string, std::string, std::less<>> query;   // decoded query parameters
  std::map<std::string, std::string, std::less<>> params;  // route parameters (":id")
  Headers headers;
  std::string body;
  std::string remote;  // peer address, for logs

  // First header with this (lower-case) name, or empty.
  std::string_view Header(std::string_view lower_name) const;
  bool HasHeader(std::string_view lower_name) const;
};

class WebSocketHandler;

struct Response;

// The completion of a deferred response (Context::Defer). Complete() may be called from any
// thread, once; later calls are ignored. The pipeline then does everything it does after a
// handler returns (an error becomes a problem+json response; RateLimit-*, X-Request-Id and
// Server-Timing headers; metrics; access log) and the server sends the response. Destroying a
// Completion that was never completed answers the request with a 500 problem, and a server
// shutting down answers still-pending ones with 503, so a deferred request cannot hang forever.
// Keep the completing thread's work small: the pipeline hands the finishing work to the server's
// I/O threads.
class Completion {
 public:
  virtual ~Completion() = default;
  virtual void Complete(Result<Response> result) = 0;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  Headers headers;  // extra headers

  static Response Json(int status, const nlohmann::json& body);
  static Response Text(int status, std::string body,
                       std::string content_type = "text/plain; charset=utf-8");
  static Response NoContent() { return Response{204, "", "", {}}; }

  // Set (by Response::WebSocket) to switch an upgrade request to the WebSocket protocol: the
  // server answers 101 and hands every message of the connection to this handler.
  std::shared_ptr<WebSocketHandler> websocket;
  static Response WebSocket(std::shared_ptr<WebSocketHandler> handler);

  // Returned by a handler that called Context::Defer(): the real response comes later through
  // the Completion. A handler returning anything else (or an error) after Defer() abandons the
  // completion (its later Complete is ignored).
  bool deferred = false;
  static Response Deferred();
};

// WebSocket (RFC 6455), generic for any route: a GET route's handler answers a request for which
// IsWebSocketUpgrade() holds with Response::WebSocket(handler). The upgrade request goes through
// the Pipeline like any other (auth, metrics, access log), so the handler sees an authenticated
// principal; after the switch, messages bypass the pipeline.
// Server-side rules (server.cc): text messages only (binary: close 1003), no fragmented
// messages (close 1003), messages over MaxMessageBytes() close with 1009, pings are answered.
// Note: RESTinio 0.6 reads a frame's whole payload before the size check can run, so WebSocket
// routes must require authentication.
class WebSocketConnection {
 public:
  virtual ~WebSocketConnection() = default;
  // Queues a text message to the peer. Thread-safe; ignored after close.
  virtual void SendText(std::string text) = 0;
  // Sends a close frame (1000 normal, 1003 unsupported, 1008 policy violation, 1009 too big,
  // 1011 server error) and closes the connection. Thread-safe; idempotent.
  virtual void Close(uint16_t code, std::string reason) = 0;
};

// One per connection, created by the route handler. OnText runs on an I/O thread, one message
// at a time per connection; it must not block for long.
class WebSocketHandler {
 public:
  virtual ~WebSocketHandler() = default;
  virtual void OnText(WebSocketConnection& conn, std::string_view text) = 0;
  // The connection ended (peer close, error, or server shutdown). Called once.
  virtual void OnClose() {}
  // Largest accepted message in bytes. Default 1 MiB.
  virtual size_t MaxMessageBytes() const { return 1u << 20; }
};

// True for "GET" with "Upgrade: websocket", "Connection: ...upgrade...", a Sec-WebSocket-Key and
// Sec-WebSocket-Version 13.
bool IsWebSocketUpgrade(const Request& request);

// Who may call a route.
enum class AuthMode {
  kNone,           // public
  kUser,           // a signed-in user's access token (JWT) only
  kAny,            // a user's JWT or an API key
  kOperator,       // a platform operator's JWT
  kAnyOrOperator,  // a user's JWT, an API key, or an operator's JWT (market data routes)
};

// Time spent in one named stage of a request (auth, ratelimit, then handler stages such as
// quota, features, model, signal, metering).
struct StageTiming {
  std::string stage;
  int64_t nanos = 0;
};

// What a handler gets. The principal is set when the route's AuthMode is not kNone.
// Not thread-safe: one request, one thread.
struct Context {
  const Request& request;
  std::string request_id;
  std::optional<accounts::Principal> principal;
  UnixNanos now = 0;
  // Extra response headers the handler or middleware wants added (e.g. RateLimit-*).
  Headers response_headers;
  // The pipeline's clock (monotonic time for stage timers); null outside a pipeline.
  const Clock* clock = nullptr;
  // Stages in the order first recorded. The pipeline sends them as a Server-Timing header
  // ("auth;dur=0.012, ratelimit;dur=0.004, ...", milliseconds) and records each in Metrics as
  // sinyal_stage_seconds{route,stage}. Stage names: [a-z0-9_] (others are replaced by '_').
  std::vector<StageTiming> stages;
  // Route::billable routes: this request's metered call (billing/metered_call.h), begun by the
  // pipeline after auth: the caller's plan, resolved once for the whole request, already counted
  // against its rate limit. The handler gates, reserves and commits through it
  // (http/handlers/metered.h). Null on other routes.
  std::shared_ptr<billing::MeteredCall> metered;

  // Adds `ms` milliseconds to `stage` (a stage recorded twice accumulates).
  void Time(std::string_view stage, double ms);
  void TimeNanos(std::string_view stage, int64_t nanos);
  // Monotonic nanoseconds from `clock`, else from std::chrono::steady_clock.
  int64_t MonotonicNanos() const;

  // Makes this request's response deferred: the handler then returns Response::Deferred() and
  // someone (any thread) later calls Complete() on the returned object. When `stage` is not
  // empty, the time from this call until Complete() is recorded as that stage (Server-Timing
  // and sinyal_stage_seconds), e.g. "metering" for a wait on a group commit. Once per request
  // (a second call returns null); null outside a pipeline. After Defer(), the completion may
  // run before the handler returns: code completing it must not touch this Context.
  std::shared_ptr<Completion> Defer(std::string_view stage = {});
  // Set by the pipeline (implements Defer); handlers don't touch it.
  std::function<std::shared_ptr<Completion>(std::string_view)> defer_impl;
};

// Times the enclosing scope as one stage of `ctx`:  { ScopedStage t(ctx, "model"); ... }
// Stop() ends it early; the destructor does nothing after Stop().
class ScopedStage {
 public:
  ScopedStage(Context& ctx, std::string_view stage)
      : ctx_(ctx), stage_(stage), start_(ctx.MonotonicNanos()) {}
  ~ScopedStage() { Stop(); }
  ScopedStage(const ScopedStage&) = delete;
  ScopedStage& operator=(const ScopedStage&) = delete;
  void Stop() {
    if (stopped_) return;
    stopped_ = true;
    ctx_.TimeNanos(stage_, ctx_.MonotonicNanos() - start_);
  }

 private:
  Context& ctx_;
  std::string stage_;
  int64_t start_;
  bool stopped_ = false;
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
  // Serves what plans sell: the pipeline begins the metered-call flow after auth
  // (PipelineOptions::metered): it resolves the caller's plan once (Context::metered) and counts
  // the request against that plan's rate limit; every response of an authenticated caller
  // carries RateLimit-Limit/-Remaining/-Reset, and a refusal is a 429 problem with Retry-After.
  // The handler then gates, reserves and commits (http/handlers/metered.h). Needs a tenant's
  // principal (AuthMode kUser or kAny).
  bool billable = false;
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
