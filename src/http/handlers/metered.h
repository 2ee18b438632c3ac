// The handler half of the metered-call flow (billing/metered_call.h) over HTTP: every billable
// route (Route::billable) runs it, so its order, errors and answers are the same everywhere.
//
// The pipeline has done steps 1 and 3 (the caller's plan, resolved once; the plan's rate limit)
// before the handler. A billable handler parses its request, then:
//   billing::MeteredCall& call = Metered(ctx);                     // this request's call
//   SINYAL_RETURN_IF_ERROR(call.Gate(billing::kFeatBatch, ...));   // step 2: 403 naming the plan
//   SINYAL_ASSIGN_OR_RETURN(Charge charge, Reserve(ctx, endpoint, units));  // step 4
//   if (charge.replay) return std::move(*charge.replay);           //   same Idempotency-Key: first body
//   ... the work (read at call.NotAfter(): the plan's data delay) ...       // step 5
//   return CommitDeferred(ctx, std::move(charge.reservation), body);        // step 6: 2xx once durable
// Internal to http/ (handlers only).
//
// Thread safety: functions of one request's Context (one thread at a time).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "billing/meter.h"
#include "billing/metered_call.h"
#include "http/http.h"

namespace sinyal::http {

// The request's metered call. REQUIRES: a Route::billable route (the pipeline set it).
billing::MeteredCall& Metered(Context& ctx);

// Hash of method, path, query and body: the request an Idempotency-Key stands for.
std::string RequestHash(const Request& request);

struct Charge {
  std::optional<Response> replay;  // set: answer it (Idempotent-Replayed), no charge
  std::unique_ptr<billing::Reservation> reservation;  // set when !replay
};
// Step 4: reserves `units` for ledger `endpoint` with the request's Idempotency-Key (timed as
// stage "quota"). Errors: 402 quota, 409 key in flight, 422 bad key / key reused with another
// request.
[[nodiscard]] Result<Charge> Reserve(Context& ctx, std::string_view endpoint, int64_t units);

// Step 6: commits through the meter's group commit without blocking this (I/O) thread: the
// response is deferred and sent once the ledger row is durable (a 2xx means durable), timed as
// stage "metering". Outside a pipeline that can defer, commits and waits.
[[nodiscard]] Result<Response> CommitDeferred(Context& ctx,
                                              std::unique_ptr<billing::Reservation> reservation,
                                              nlohmann::json body);
[[nodiscard]] Result<Response> CommitDeferred(Context& ctx,
                                              std::unique_ptr<billing::Reservation> reservation,
                                              billing::Meter::PreparedBody body);

}  // namespace sinyal::http
