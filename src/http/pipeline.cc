#include "http/pipeline.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <future>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "core/log.h"
#include "http/json_body.h"
#include "http/problem.h"

namespace sinyal::http {
namespace {

std::string NewRequestId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(20, '0');
  uint64_t a = rng(), b = rng();
  for (int i = 0; i < 16; ++i) id[i] = kHex[(a >> (i * 4)) & 0xF];
  for (int i = 16; i < 20; ++i) id[i] = kHex[(b >> (i * 4)) & 0xF];
  return id;
}

// Accepts a caller's X-Request-Id only when it is short and plain, so logs can't be forged.
std::string RequestIdFor(const Request& req) {
  std::string_view given = req.Header("x-request-id");
  if (!given.empty() && given.size() <= 64) {
    bool plain = true;
    for (char c : given) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
        plain = false;
        break;
      }
    }
    if (plain) return std::string(given);
  }
  return NewRequestId();
}

std::vector<std::string_view> Split(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find('/', i);
    if (j == std::string_view::npos) j = s.size();
    parts.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  return parts;
}

// Server-Timing metric names are HTTP tokens; ours are [a-z0-9_].
std::string StageName(std::string_view stage) {
  std::string out(stage.substr(0, 32));
  for (char& c : out) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
    else if (!ok)
      c = '_';
  }
  return out.empty() ? "_" : out;
}

void AppendMillis(std::string& out, int64_t nanos) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(nanos) * 1e-6);
  out += buf;
}

std::string FormatRate(double per_second) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", per_second);
  return buf;
}

constexpr int64_t kLimiterErrorLogEvery = 10 * kNanosPerSecond;

}  // namespace

void Context::TimeNanos(std::string_view stage, int64_t nanos) {
  std::string name = StageName(stage);
  for (auto& s : stages) {
    if (s.stage == name) {
      s.nanos += nanos;
      return;
    }
  }
  stages.push_back({std::move(name), nanos});
}

void Context::Time(std::string_view stage, double ms) {
  TimeNanos(stage, static_cast<int64_t>(std::llround(ms * 1e6)));
}

int64_t Context::MonotonicNanos() const {
  if (clock != nullptr) return clock->MonotonicNanos();
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string_view BearerFromSubprotocols(const Request& request) {
  std::string_view list = request.Header("sec-websocket-protocol");
  constexpr std::string_view kPrefix = "sinyal.bearer.";
  size_t at = list.find(kPrefix);
  if (at == std::string_view::npos) return {};
  std::string_view token = list.substr(at + kPrefix.size());
  size_t end = token.find_first_of(", ");
  return token.substr(0, end);
}

bool MatchPattern(std::string_view pattern, std::string_view path,
                  std::map<std::string, std::string, std::less<>>* params) {
  auto p = Split(pattern), q = Split(path);
  if (p.size() != q.size()) return false;
  for (size_t i = 0; i < p.size(); ++i) {
    if (!p[i].empty() && p[i][0] == ':') {
      if (q[i].empty()) return false;
      if (params) (*params)[std::string(p[i].substr(1))] = std::string(q[i]);
    } else if (p[i] != q[i]) {
      return false;
    }
  }
  return true;
}

Pipeline::Pipeline(const RouteTable& routes, accounts::AccountService* accounts, Metrics& metrics,
                   Clock& clock, PipelineOptions options)
    : routes_(routes),
      accounts_(accounts),
      metrics_(metrics),
      clock_(clock),
      options_(std::move(options)),
      last_limiter_error_log_(std::numeric_limits<int64_t>::min() / 2) {
  bool any_billable = false;
  for (const Route& r : routes_.routes()) {
    route_metrics_.push_back(metrics_.RegisterRoute(r.method, r.pattern));
    any_billable = any_billable || r.billable;
  }
  unmatched_metrics_ = metrics_.RegisterRoute("ANY", "unmatched");
  if (any_billable && options_.metered == nullptr) {
    LogEvent(spdlog::level::err, "metering_off",
             {{"reason",
               "routes are billable but no metered-call flow is configured: they answer 500"}});
  }
}

std::optional<Response> Pipeline::BeginMetered(const Route& route, Context& ctx) {
  if (!route.billable || !ctx.principal) return std::nullopt;
  const accounts::Principal& p = *ctx.principal;
  if (options_.metered == nullptr || p.is_operator()) {  // operators have no plan: not billable
    return ProblemResponse(Status::Internal("billable route without a metered-call flow or tenant"),
                           ctx.request_id);
  }
  ScopedStage stage(ctx, "ratelimit");
  auto call = options_.metered->Begin(billing::Caller{p.tenant, p.user, p.api_key}, ctx.now);
  if (!call.ok()) {
    if (HttpStatusFor(call.error().code()) >= 500) {
      LogEvent(spdlog::level::err, "plan_lookup_failed",
               {{"request_id", ctx.request_id}, {"error", call.error().ToString()}});
    }
    return ProblemResponse(call.error(), ctx.request_id);
  }
  ctx.metered = std::make_shared<billing::MeteredCall>(std::move(call).value());
  const billing::RateLimit limit = billing::Entitlements::RateLimitOf(ctx.metered->plan());
  auto checked = ctx.metered->CheckRate();
  if (checked.ok() && !checked->has_value()) return std::nullopt;  // no limiter configured
  Result<billing::RateDecision> decision = checked.ok()
                                               ? Result<billing::RateDecision>(**checked)
                                               : Result<billing::RateDecision>(checked.error());
  if (!decision.ok()) {
    // Fail open (see pipeline.h): no headers, a counted and logged error, the request proceeds.
    metrics_.CountRateLimit(Metrics::RateLimitResult::kError);
    int64_t mono = clock_.MonotonicNanos();
    int64_t last = last_limiter_error_log_.load(std::memory_order_relaxed);
    if (mono - last >= kLimiterErrorLogEvery &&
        last_limiter_error_log_.compare_exchange_strong(last, mono, std::memory_order_relaxed)) {
      LogEvent(spdlog::level::err, "rate_limit_unavailable",
               {{"request_id", ctx.request_id},
                {"error", decision.error().ToString()},
                {"action", "request let through (fail open)"}});
    }
    return std::nullopt;
  }
  const billing::RateDecision& d = *decision;
  ctx.response_headers.emplace_back("ratelimit-limit", std::to_string(d.limit));
  ctx.response_headers.emplace_back("ratelimit-remaining", std::to_string(d.remaining));
  ctx.response_headers.emplace_back("ratelimit-reset", std::to_string(d.reset_seconds));
  if (d.allowed) {
    metrics_.CountRateLimit(Metrics::RateLimitResult::kAllowed);
    return std::nullopt;
  }
  metrics_.CountRateLimit(Metrics::RateLimitResult::kRefused);
  std::string who = p.api_key ? "this API key" : "this user";
  Response resp = ProblemResponse(
      429, "rate-limited",
      "rate limit exceeded for " + who + ": the plan allows " + FormatRate(limit.rate_per_second) +
          " requests per second with bursts of " + std::to_string(limit.burst) + "; retry in " +
          std::to_string(d.retry_after_seconds) + " s",
      "", ctx.request_id);
  resp.headers.emplace_back("retry-after", std::to_string(d.retry_after_seconds));
  return resp;
}

Result<accounts::Principal> Pipeline::Authenticate(const Route& route, const Request& req) {
  std::string_view authz = req.Header("authorization");
  std::string_view api_key = req.Header("x-api-key");
  std::string_view bearer;
  if (!authz.empty()) {
    constexpr std::string_view kBearer = "Bearer ";
    if (authz.size() <= kBearer.size() ||
        !std::equal(kBearer.begin(), kBearer.end(), authz.begin(),
                    [](char a, char b) { return std::tolower(a) == std::tolower(b); }))
      return Status::Unauthenticated("Authorization must be 'Bearer <token>'");
    bearer = authz.substr(kBearer.size());
  }
  if (bearer.empty() && api_key.empty() && IsWebSocketUpgrade(req))
    bearer = BearerFromSubprotocols(req);
  if (bearer.empty() && api_key.empty()) return Status::Unauthenticated("credentials required");
  if (accounts_ == nullptr) return Status::Internal("no account service configured");

  bool is_key = !api_key.empty() || bearer.rfind("sk_", 0) == 0;
  accounts::Principal principal;
  if (is_key) {
    if (!bearer.empty() && !api_key.empty())
      return Status::Unauthenticated("send one credential, not two");
    SINYAL_ASSIGN_OR_RETURN(principal,
                            accounts_->AuthenticateApiKey(api_key.empty() ? bearer : api_key));
  } else {
    SINYAL_ASSIGN_OR_RETURN(principal, accounts_->AuthenticateAccessToken(bearer));
  }

  switch (route.auth) {
    case AuthMode::kNone:
      break;
    case AuthMode::kUser:
      if (principal.api_key || principal.is_operator())
        return Status::PermissionDenied("this endpoint needs a signed-in user's access token");
      break;
    case AuthMode::kAny:
      if (principal.is_operator()) return Status::PermissionDenied("operators have no tenant here");
      break;
    case AuthMode::kOperator:
      if (!principal.is_operator()) return Status::PermissionDenied("operators only");
      break;
    case AuthMode::kAnyOrOperator:
      break;
  }
  if (principal.api_key && !route.required_scope.empty()) {
    bool has = false;
    for (const auto& s : principal.scopes) has = has || s == route.required_scope;
    if (!has)
      return Status::PermissionDenied("the API key lacks scope '" + route.required_scope + "'");
  }
  return principal;
}

Response Pipeline::Run(int route_index, const Request& req, Context& ctx) {
  if (route_index < 0) {
    if (options_.site != nullptr) {
      if (std::optional<Response> file = options_.site->Serve(req)) return std::move(*file);
    }
    std::string allow;
    for (const Route& r : routes_.routes()) {
      if (MatchPattern(r.pattern, req.path)) allow += (allow.empty() ? "" : ", ") + r.method;
    }
    if (!allow.empty()) {
      Response resp = ProblemResponse(405, "method-not-allowed",
                                      "method " + req.method.substr(0, 16) + " is not allowed here",
                                      "", ctx.request_id);
      resp.headers.emplace_back("allow", allow);
      return resp;
    }
    return ProblemResponse(404, "not-found", "no such endpoint", "", ctx.request_id);
  }
  const Route& route = routes_.routes()[route_index];
  size_t limit = route.max_body_bytes ? route.max_body_bytes : options_.max_body_bytes;
  if (req.body.size() > limit) {
    return ProblemResponse(413, "payload-too-large",
                           "request body is " + std::to_string(req.body.size()) +
                               " bytes; the limit is " + std::to_string(limit),
                           "body", ctx.request_id);
  }
  if (route.auth != AuthMode::kNone) {
    ScopedStage stage(ctx, "auth");
    auto principal = Authenticate(route, req);
    stage.Stop();
    if (!principal.ok()) return ProblemResponse(principal.error(), ctx.request_id);
    ctx.principal = std::move(principal).value();
  }
  if (std::optional<Response> refused = BeginMetered(route, ctx)) return std::move(*refused);
  Result<Response> result = route.handler(ctx);
  if (!result.ok()) return ErrorResponse(route, result.error(), ctx);
  return std::move(result).value();
}

Response Pipeline::ErrorResponse(const Route& route, const Status& s, const Context& ctx) {
  if (HttpStatusFor(s.code()) >= 500) {
    LogEvent(spdlog::level::err, "handler_error",
             {{"request_id", ctx.request_id}, {"route", route.pattern}, {"error", s.ToString()}});
  }
  if (IsMalformedJson(s)) {
    return ProblemResponse(400, "malformed-json", s.message(), s.field(), ctx.request_id);
  }
  return ProblemResponse(s, ctx.request_id);
}

// One request's state; on the heap so that a deferred response can finish on another thread.
struct Pipeline::Call : std::enable_shared_from_this<Pipeline::Call> {
  Call(Request r, int index, std::string id, UnixNanos now, const Clock* clock)
      : request(std::move(r)),
        ctx{request, std::move(id), std::nullopt, now, {}, clock, {}, {}},
        route_index(index) {}
  Request request;
  Context ctx;
  int route_index;
  int64_t start = 0;
  Responder respond;
  Executor post;
  // Deferred responses. `arrivals` counts the two events that must both happen before the
  // response can be finished: the handler returned Deferred, and the completion came.
  bool deferred = false;
  std::string defer_stage;
  int64_t defer_start = 0;
  int64_t defer_end = 0;
  uint64_t pending_id = 0;
  std::atomic<bool> completed{false};
  std::atomic<int> arrivals{0};
  std::optional<Result<Response>> result;  // set by the completion
};

class Pipeline::CompletionImpl final : public Completion {
 public:
  CompletionImpl(Pipeline* pipeline, std::shared_ptr<Call> call)
      : pipeline_(pipeline), call_(std::move(call)) {}
  ~CompletionImpl() override {
    if (!call_->completed.load(std::memory_order_acquire)) {
      pipeline_->CompleteCall(call_,
                              Status::Internal("deferred response dropped without completion"));
    }
  }
  void Complete(Result<Response> result) override {
    pipeline_->CompleteCall(call_, std::move(result));
  }

 private:
  Pipeline* pipeline_;
  std::shared_ptr<Call> call_;
};

std::shared_ptr<Completion> Pipeline::Defer(Call& call, std::string_view stage) {
  if (call.deferred) return nullptr;
  call.deferred = true;
  if (!stage.empty()) {
    call.defer_stage = StageName(stage);
    call.defer_start = call.ctx.MonotonicNanos();
  }
  std::shared_ptr<Call> self = call.shared_from_this();
  {
    std::lock_guard<std::mutex> lock(pending_mu_);
    call.pending_id = next_pending_id_++;
    pending_.emplace(call.pending_id, self);
  }
  return std::make_shared<CompletionImpl>(this, std::move(self));
}

void Pipeline::CompleteCall(const std::shared_ptr<Call>& call, Result<Response> result) {
  if (call->completed.exchange(true, std::memory_order_acq_rel)) return;  // once
  if (!call->defer_stage.empty()) call->defer_end = call->ctx.MonotonicNanos();
  call->result = std::move(result);
  {
    std::lock_guard<std::mutex> lock(pending_mu_);
    pending_.erase(call->pending_id);
  }
  if (call->arrivals.fetch_add(1, std::memory_order_acq_rel) == 1) {
    // The handler has returned: finish elsewhere so the completing thread stays free.
    if (call->post) {
      call->post([this, call] { FinishDeferred(call); });
    } else {
      FinishDeferred(call);
    }
  }
}

void Pipeline::FinishDeferred(const std::shared_ptr<Call>& call) {
  Context& ctx = call->ctx;
  if (!call->defer_stage.empty())
    ctx.TimeNanos(call->defer_stage, call->defer_end - call->defer_start);
  Response resp;
  try {
    Result<Response>& result = *call->result;
    if (!result.ok()) {
      resp = ErrorResponse(routes_.routes()[call->route_index], result.error(), ctx);
    } else if (result->deferred || result->websocket) {
      LogEvent(spdlog::level::err, "bad_completion", {{"request_id", ctx.request_id}});
      resp =
          ProblemResponse(500, "internal", "internal error; quote the request id when reporting it",
                          "", ctx.request_id);
    } else {
      resp = std::move(result).value();
    }
  } catch (const std::exception& e) {
    LogEvent(spdlog::level::err, "unhandled_exception",
             {{"request_id", ctx.request_id}, {"what", e.what()}});
    resp =
        ProblemResponse(500, "internal", "internal error; quote the request id when reporting it",
                        "", ctx.request_id);
  }
  call->result.reset();
  Finish(*call, std::move(resp));
}

size_t Pipeline::CompletePending(const Status& status) {
  std::unordered_map<uint64_t, std::shared_ptr<Call>> calls;
  {
    std::lock_guard<std::mutex> lock(pending_mu_);
    calls.swap(pending_);
  }
  for (auto& [_, call] : calls) CompleteCall(call, status);
  return calls.size();
}

size_t Pipeline::pending() const {
  std::lock_guard<std::mutex> lock(pending_mu_);
  return pending_.size();
}

Response Pipeline::Handle(int route_index, const Request& req) {
  std::promise<Response> promise;
  std::future<Response> future = promise.get_future();
  HandleAsync(route_index, req, [&promise](Response resp) { promise.set_value(std::move(resp)); });
  return future.get();
}

void Pipeline::HandleAsync(int route_index, Request request, Responder respond, Executor post) {
  int64_t start = clock_.MonotonicNanos();
  metrics_.InFlight(1);
  std::string id = RequestIdFor(request);
  auto call =
      std::make_shared<Call>(std::move(request), route_index, std::move(id), clock_.Now(), &clock_);
  call->start = start;
  call->respond = std::move(respond);
  call->post = std::move(post);
  Call* raw = call.get();
  call->ctx.defer_impl = [this, raw](std::string_view stage) { return Defer(*raw, stage); };
  Context& ctx = call->ctx;
  Response resp;
  try {
    resp = Run(route_index, call->request, ctx);
  } catch (const std::exception& e) {
    LogEvent(spdlog::level::err, "unhandled_exception",
             {{"request_id", ctx.request_id}, {"path", call->request.path}, {"what", e.what()}});
    resp =
        ProblemResponse(500, "internal", "internal error; quote the request id when reporting it",
                        "", ctx.request_id);
  } catch (...) {
    LogEvent(spdlog::level::err, "unhandled_exception", {{"request_id", ctx.request_id}});
    resp =
        ProblemResponse(500, "internal", "internal error; quote the request id when reporting it",
                        "", ctx.request_id);
  }
  ctx.defer_impl = nullptr;  // no Defer after the handler returned; breaks no cycle (raw pointer)
  if (resp.deferred && call->deferred) {
    if (call->arrivals.fetch_add(1, std::memory_order_acq_rel) == 1)
      FinishDeferred(call);  // completed already
    return;
  }
  if (call->deferred) {
    // Defer() was called but the handler answered otherwise: abandon the completion.
    if (!call->completed.exchange(true, std::memory_order_acq_rel)) {
      std::lock_guard<std::mutex> lock(pending_mu_);
      pending_.erase(call->pending_id);
    }
    call->result.reset();
  }
  if (resp.deferred) {
    LogEvent(spdlog::level::err, "deferred_without_completion", {{"request_id", ctx.request_id}});
    resp =
        ProblemResponse(500, "internal", "internal error; quote the request id when reporting it",
                        "", ctx.request_id);
  }
  Finish(*call, std::move(resp));
}

void Pipeline::Finish(Call& call, Response resp) {
  Context& ctx = call.ctx;
  const Request& req = call.request;
  const int route_index = call.route_index;
  for (auto& h : ctx.response_headers) resp.headers.push_back(std::move(h));
  ctx.response_headers.clear();
  resp.headers.emplace_back("x-request-id", ctx.request_id);
  int64_t elapsed = clock_.MonotonicNanos() - call.start;
  if (!ctx.stages.empty() && route_index >= 0) {
    std::string timing;
    for (const StageTiming& s : ctx.stages) {
      metrics_.ObserveRouteStage(route_metrics_[route_index], s.stage, s.nanos);
      if (!timing.empty()) timing += ", ";
      timing += s.stage;
      timing += ";dur=";
      AppendMillis(timing, s.nanos);
    }
    timing += ", total;dur=";
    AppendMillis(timing, elapsed);
    if (options_.server_timing) resp.headers.emplace_back("server-timing", std::move(timing));
  }
  metrics_.ObserveRequest(route_index >= 0 ? route_metrics_[route_index] : unmatched_metrics_,
                          resp.status, elapsed);
  metrics_.InFlight(-1);
  if (options_.access_log && spdlog::default_logger_raw()->should_log(spdlog::level::info)) {
    nlohmann::json fields = {
        {"request_id", ctx.request_id},
        {"method", req.method},
        {"route", route_index >= 0 ? routes_.routes()[route_index].pattern : "unmatched"},
        {"status", resp.status},
        {"duration_us", elapsed / 1000},
        {"remote", req.remote}};
    if (ctx.principal) {
      fields["tenant_id"] = ctx.principal->tenant.value();
      if (ctx.principal->api_key) fields["api_key_id"] = ctx.principal->api_key->value();
    }
    LogEvent(resp.status >= 500 ? spdlog::level::err : spdlog::level::info, "http_request",
             std::move(fields));
  }
  Responder respond = std::move(call.respond);
  if (respond) respond(std::move(resp));
}

}  // namespace sinyal::http
