// The ordered middleware list every request goes through (userver's DefaultPipeline).
// Each stage, in order, and why it is where it is:
//   1. request id      — first, so every later log line and error can quote it
//   2. metrics/timing  — wraps everything below, errors included
//   3. catch-all       — an exception anywhere below becomes a 500 problem with the request id
//   4. body limit      — reject oversized bodies (413) before any parsing or auth work
//   5. auth            — resolves the principal (and so the tenant) or answers 401/403
//   6. plan + rate limit — Route::billable only: begins the metered-call flow
//                        (billing/metered_call.h): resolves the caller's plan ONCE (kept in
//                        Context::metered for the handler) and counts the request against that
//                        plan's rate limit. After auth, because plan and limits are per tenant
//                        and per API key / user; before the handler, so a refused call costs no
//                        work and no quota (and malformed or gated calls are counted too: a
//                        client can't hammer with them). Answers 429 with Retry-After.
//   7. handler         — thin: parse, gate, reserve, work, commit (http/handlers/metered.h)
//   8. Server-Timing   — the stages the request went through (Context::stages), in a header
//                        and in sinyal_stage_seconds{route,stage}
//   9. access log      — one JSON line per request, after the status is known (no secrets)
//
// Deferred responses (Context::Defer, Response::Deferred): stages 1-7 run on the calling thread;
// stages 8-9 (and the mapping of an error to problem+json) run once the Completion is completed
// and the handler has returned, on the executor given to HandleAsync (the server's I/O threads).
//
// Rate limit policy when the limiter fails (e.g. Redis unreachable and no failover configured):
// FAIL OPEN. The request proceeds without RateLimit-* headers, the failure is logged (at most
// every 10 s) and counted in sinyal_ratelimit_decisions_total{result="error"}. Reason: rate
// limits protect capacity; quota and metering (exact, in the database) protect revenue, so a
// limiter outage must not stop paid traffic. serve wraps Redis in MakeFailoverRateLimiter, so
// in practice a Redis outage degrades to per-process limits rather than none.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "accounts/accounts.h"
#include "billing/metered_call.h"
#include "billing/rate_limiter.h"
#include "core/clock.h"
#include "http/http.h"
#include "http/metrics.h"
#include "http/static_site.h"

namespace sinyal::http {

struct PipelineOptions {
  size_t max_body_bytes = 1 << 20;  // Default: 1 MiB. Routes may set their own (uploads).
  bool access_log = true;           // Default: on.
  // The metered-call flow of Route::billable routes (plan resolution, rate limits by plan,
  // gates, quota, ledger). Required when a route is billable (else such routes answer 500 and
  // the Pipeline logs an error at construction). Rate-limit keys: billing::Caller::RateKey; no
  // limiter in the flow means no limits. An error resolving the plan is answered as that
  // error's problem. Must outlive the Pipeline.
  billing::MeteredCalls* metered = nullptr;
  // Send the Server-Timing header. Default: on (stage names and durations only; they reveal no
  // data, and the issue asks for per-request visibility).
  bool server_timing = true;
  // The dashboard's static files, answered for GET requests no route matches (else 404 as
  // before). Must outlive the Pipeline. Null: none.
  const StaticSite* site = nullptr;
};

// Thread-safe after construction.
class Pipeline {
 public:
  // `accounts` may be null only when no route requires auth.
  Pipeline(const RouteTable& routes, accounts::AccountService* accounts, Metrics& metrics,
           Clock& clock, PipelineOptions options);

  // Runs the pipeline for routes()[route_index], or for an unmatched request when
  // route_index < 0 (answers 404, or 405 with Allow when another method matches the path).
  // Never throws. A deferred response is waited for (tests; the server uses HandleAsync).
  Response Handle(int route_index, const Request& request);

  // Sends one request's response; called exactly once.
  using Responder = std::function<void(Response)>;
  // Runs a task on another thread (the server's I/O threads).
  using Executor = std::function<void(std::function<void()>)>;
  // As Handle, without waiting: `respond` runs on the calling thread for ordinary responses; for
  // a deferred one it runs after Completion::Complete, through `post` when given (else on the
  // completing thread, or on the calling thread when the completion came before the handler
  // returned). Never throws.
  void HandleAsync(int route_index, Request request, Responder respond, Executor post = nullptr);

  // Completes every deferred response not yet completed with `status` (shutdown: Unavailable,
  // answered 503). Returns how many. Their later Complete() calls are ignored.
  size_t CompletePending(const Status& status);
  // Deferred responses not yet completed.
  size_t pending() const;

  const RouteTable& routes() const { return routes_; }

 private:
  struct Call;
  class CompletionImpl;
  Response Run(int route_index, const Request& request, Context& ctx);
  // The handler's error as a problem response (logged when 5xx).
  Response ErrorResponse(const Route& route, const Status& s, const Context& ctx);
  std::shared_ptr<Completion> Defer(Call& call, std::string_view stage);
  void CompleteCall(const std::shared_ptr<Call>& call, Result<Response> result);
  void FinishDeferred(const std::shared_ptr<Call>& call);
  // Stages 8-9 and the response.
  void Finish(Call& call, Response resp);
  Result<accounts::Principal> Authenticate(const Route& route, const Request& request);
  // Stage 6: nullopt: proceed (Context::metered set on billable routes); else the 429 (or the
  // error resolving the plan) to send.
  std::optional<Response> BeginMetered(const Route& route, Context& ctx);

  const RouteTable& routes_;
  accounts::AccountService* accounts_;
  Metrics& metrics_;
  Clock& clock_;
  PipelineOptions options_;
  std::vector<size_t> route_metrics_;
  size_t unmatched_metrics_;
  std::atomic<int64_t> last_limiter_error_log_;
  mutable std::mutex pending_mu_;
  uint64_t next_pending_id_ = 1;                                 // GUARDED_BY(pending_mu_)
  std::unordered_map<uint64_t, std::shared_ptr<Call>> pending_;  // GUARDED_BY(pending_mu_)
};

// The WebSocket subprotocol the dashboard offers beside "sinyal.bearer.<access token>": a browser
// cannot send Authorization on a WebSocket, so an upgrade request without Authorization or
// X-API-Key is authenticated by that token (Pipeline), and the server answers "sinyal.v1".
inline constexpr std::string_view kDashboardSubprotocol = "sinyal.v1";
// The token of a "sinyal.bearer.<token>" item of Sec-WebSocket-Protocol, or empty.
std::string_view BearerFromSubprotocols(const Request& request);

// True when the express-style pattern ("/a/:id/b") matches `path`; fills params when given.
bool MatchPattern(std::string_view pattern, std::string_view path,
                  std::map<std::string, std::string, std::less<>>* params = nullptr);

}  // namespace sinyal::http
