// The metered-call flow: the ONE order of work of every billable call, whatever its door (the
// HTTP routes, the WebSocket stream's pushes, chat commands, jobs):
//
//   1. Begin(caller, now)  resolves the caller's plan ONCE (Entitlements::Resolve); every later
//                          step of the call uses that plan
//   2. Gate(...)           the features and timeframe the call needs: 403 naming the field and
//                          the cheapest plan that has it (Entitlements::Gate)
//   3. CheckRate()         the plan's rate limit per API key / per user (429 with Retry-After)
//   4. Reserve(...)        quota (402) and Idempotency-Key replay (Meter::Reserve): a replay
//                          answers the first call's body, charged nothing
//   5. the work            fails -> the reservation is dropped: nothing is charged
//   6. Commit(...)         ledger row + idempotency record in one durable group commit
//                          (Meter::Commit*); answer only after it returned OK
//
// Run() does the six steps synchronously, for callers that may wait on the commit (chat
// commands, jobs, the CLI). The HTTP routes do the same steps through http/handlers/metered.h
// (steps 1 and 3 in the pipeline, before the handler, so a refused call costs no work; the
// commit is awaited without blocking an I/O thread). The WebSocket stream runs steps 1, 2, 4 and
// 6 for each pushed signal (its pushes are paced by closing bars, not by the client; the upgrade
// request itself is rate-limited).
//
// Thread safety: MeteredCalls is thread-safe. A MeteredCall belongs to one call (one thread at a
// time).
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "billing/entitlements.h"
#include "billing/meter.h"
#include "billing/rate_limiter.h"
#include "core/ids.h"
#include "core/status.h"
#include "market/timeframe.h"

namespace sinyal::billing {

// Who calls: a tenant's user, through their access token or one of the tenant's API keys.
struct Caller {
  TenantId tenant;
  UserId user;
  std::optional<ApiKeyId> api_key;
  // The rate-limit key: "key:<api_key_id>" for API keys, else "user:<user_id>".
  std::string RateKey() const;
};

class MeteredCalls;

// One billable call, from its resolved plan to its commit.
class MeteredCall {
 public:
  const Caller& caller() const { return caller_; }
  const Plan& plan() const { return *resolved_.plan; }
  const CallerPlan& resolved() const { return resolved_; }
  UnixNanos now() const { return now_; }

  // Step 2 (Entitlements::Gate with this call's plan).
  [[nodiscard]] Status Gate(std::string_view feature, std::string_view field = {},
                            std::string_view what = {});
  [[nodiscard]] Status Gate(market::Timeframe tf, std::string_view field = "timeframe");
  // "requires plan pro" (Entitlements::PlanNeeded), for the "gated" lists of answers.
  std::string PlanNeeded(std::string_view feature);
  // The plan's data delay: the newest data this call may see, and the delay in seconds.
  UnixNanos NotAfter() const { return Entitlements::NotAfter(plan(), now_); }
  int64_t DataDelaySeconds() const { return Entitlements::DataDelaySeconds(plan()); }

  // Step 3: counts the call against the plan's rate limit of Caller::RateKey. nullopt when no
  // limiter is configured (no limits). A refusal is a decision with allowed = false, not an
  // error; an error means the limiter failed (the caller decides: HTTP fails open, pipeline.h).
  [[nodiscard]] Result<std::optional<RateDecision>> CheckRate();
  // Step 4: Meter::Reserve of `units` for ledger endpoint `endpoint`.
  [[nodiscard]] Result<ReserveOutcome> Reserve(std::string endpoint, int64_t units,
                                               std::string idempotency_key = {},
                                               std::string request_hash = {});
  // Step 6 (synchronous): Meter::Commit. The asynchronous forms are meter().CommitAsync /
  // CommitPreparedAsync.
  [[nodiscard]] Result<std::string> Commit(std::unique_ptr<Reservation> reservation,
                                           nlohmann::json body);
  Meter& meter();
  Entitlements& entitlements();

 private:
  friend class MeteredCalls;
  MeteredCall(MeteredCalls& flow, Caller caller, CallerPlan resolved, UnixNanos now)
      : flow_(&flow), caller_(std::move(caller)), resolved_(std::move(resolved)), now_(now) {}

  MeteredCalls* flow_;
  Caller caller_;
  CallerPlan resolved_;
  UnixNanos now_;
};

class MeteredCalls {
 public:
  // `limiter` may be null (no rate limits). REQUIRES: the references outlive this.
  MeteredCalls(Entitlements& entitlements, Meter& meter, RateLimiter* limiter)
      : entitlements_(entitlements), meter_(meter), limiter_(limiter) {}

  // Step 1. Errors: those of Entitlements::Resolve.
  [[nodiscard]] Result<MeteredCall> Begin(const Caller& caller, UnixNanos now);

  // What Run needs to know about a call before its work.
  struct Spec {
    std::string endpoint;                        // ledger endpoint, e.g. "telegram.signal"
    int64_t units = 1;                           // Meter units (>= 1)
    std::vector<std::string_view> features;      // step 2: each must be in the plan
    std::optional<market::Timeframe> timeframe;  // step 2: must be served by the plan
    bool rate_limited = true;                    // step 3
    std::string idempotency_key, request_hash;   // step 4 (optional)
  };
  // Steps 1-6 synchronously. `work` gets the call (its plan, NotAfter, further gates) and returns
  // the answer's JSON object; the result is the committed body (with the meter's usage fields),
  // or a replayed body. Errors: 403 gates, RateLimited ("retry in N s"), QuotaExceeded, Meter's
  // and the work's errors (nothing charged).
  [[nodiscard]] Result<std::string> Run(
      const Caller& caller, UnixNanos now, const Spec& spec,
      const std::function<Result<nlohmann::json>(MeteredCall&)>& work);

  Entitlements& entitlements() { return entitlements_; }
  Meter& meter() { return meter_; }
  RateLimiter* limiter() { return limiter_; }

 private:
  Entitlements& entitlements_;
  Meter& meter_;
  RateLimiter* limiter_;
};

}  // namespace sinyal::billing
