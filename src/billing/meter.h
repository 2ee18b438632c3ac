// Metering (docs/billing.md): quota, usage ledger and idempotency, exact.
//
// Every billable call does, around its work:
//   auto out = meter.Reserve(call, now);        // before the work: replay, or a reservation
//   if (out->replay) return *out->replay;       // same Idempotency-Key seen: first body, no charge
//   ... work ...                                // failed work: drop the reservation (no charge)
//   auto body = meter.Commit(std::move(out->reservation), json);  // 2xx only if this is OK
//
// Reserve works in memory (steady state: no database read). It checks the Idempotency-Key
// against an in-process table of keys in flight and recently committed (a key in neither is
// read from the database only when MeterOptions::verify_keys_at_reserve is set, or when the
// quota would refuse the call). It then checks the quota against an in-memory estimate (units
// committed, as last read from the database by this process, plus units reserved) and
// reserves the units.
//
// Commit hands the call to one writer thread that batches pending commits (up to
// MeterOptions::max_batch, lingering up to MeterOptions::max_linger for more) into ONE
// transaction. Per tenant of the batch it locks the tenant's counter row for the period (table
// usage_counters; PostgreSQL SELECT ... FOR UPDATE, SQLite BEGIN IMMEDIATE holds the one
// writer lock), does the authoritative quota check, and per call: inserts the idempotency
// record (INSERT ... ON CONFLICT DO NOTHING on (tenant, key): a key committed meanwhile by
// another process turns this call into a replay of that one, uncharged), appends one
// usage_ledger row, fills "remaining_quota", "usage_cost" and "cost_credits" into the body and
// stores the body with the key. Then it commits and wakes the callers. So a 2xx answer means
// the ledger row and the idempotency record are durable (SQLite WAL synchronous=NORMAL: survives
// a killed process, not an OS crash or power loss; PostgreSQL: durable on commit), and two
// Meters (processes) on one PostgreSQL database count exactly.
//
// Ledger rows: one per committed call (table usage_ledger, append-only: UPDATE rejected by a
// trigger, PostgreSQL tenants may only SELECT and INSERT), with units, overage_units (units
// beyond the quota on plans with overage_allowed), the unit price and cost in IDR.
//
// Body fields filled by Commit:
//   "cost_credits"     number: the call's units.
//   "usage_cost"       number: IDR this call adds to the period's invoice (overage units x the
//                      plan's overage price; 0 within the quota).
//   "remaining_quota"  number: units left in the period after this call (>= 0), or null on an
//                      unlimited plan.
//
// Thread safety: Meter is thread-safe. Reservation is a move-only handle owned by one caller.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "billing/plans.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/status.h"
#include "store/fwd.h"

namespace sinyal::billing {

// Endpoint names used in the ledger.
inline constexpr std::string_view kEndpointBusinessPredict = "business.predict";
inline constexpr std::string_view kEndpointUserPredict = "user.predict";
inline constexpr std::string_view kEndpointBatch = "business.predict.batch";
inline constexpr std::string_view kEndpointStream = "stream";
inline constexpr std::string_view kEndpointSignalsLatest = "signals.latest";
inline constexpr std::string_view kEndpointSignalsGet = "signals.get";  // one open signal by id
inline constexpr std::string_view kEndpointBusinessFeatures = "business.features";

struct MeterCall {
  TenantId tenant;
  UserId user;
  std::optional<ApiKeyId> api_key;
  std::string endpoint;  // "business.predict", "user.predict", "business.predict.batch", "stream"
  int64_t units = 1;     // batch: one per item. [1, 10000] (else InvalidArgument "units")
  // Empty = none. <= 255 printable ASCII (else InvalidArgument "Idempotency-Key").
  std::string idempotency_key;
  // Hash of method+path+body; same key + different hash -> InvalidArgument (422). <= 128 bytes.
  std::string request_hash;
};

class Meter;

// Move-only handle on reserved units. Destroying it without Commit frees the units and the
// idempotency key: nothing is charged.
class Reservation {
 public:
  ~Reservation();
  Reservation(const Reservation&) = delete;
  Reservation& operator=(const Reservation&) = delete;

  TenantId tenant() const;
  int64_t units() const;
  const std::string& plan() const;
  UnixNanos period_start() const;
  UnixNanos period_end() const;

  struct State;

 private:
  friend class Meter;
  explicit Reservation(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

struct ReserveOutcome {
  // Stored response body of the first call with this key: return it, no charge.
  std::optional<std::string> replay;
  int replay_status = 200;
  std::unique_ptr<Reservation> reservation;  // set when !replay
  // Units left after this reservation, for early 402 decisions; NOT shown to clients.
  // -1 on unlimited plans.
  int64_t remaining_estimate = 0;
};

struct MeterOptions {
  // Most calls committed in one transaction. Default: 512. [1, 10000].
  int max_batch = 512;
  // How long the writer waits for more calls after the first one of a batch, while fewer than
  // max_batch are pending, when the previous batch had several calls (a lone caller is never
  // delayed). Default: 100 us ([0, 10 ms]). Fewer, larger transactions and fewer wake-ups:
  // on the 2-core box, 64 callers went from ~29k to ~38k calls/s (docs/benchmarks.md).
  std::chrono::microseconds max_linger{100};
  // Idempotency keys remembered in memory after commit (FIFO, per process). Default: 100000.
  size_t recent_keys = 100000;
  // Whether Reserve looks up, in the database, every key that is neither in flight nor among
  // the recent keys (one indexed read per fresh key), so that a retry of a call committed
  // before a restart or by another process is answered without doing the work again.
  // false (default): no read on the hot path. Such a retry does the work again, and Commit
  // meets the stored key (unique constraint): it charges nothing and returns the first
  // response (InvalidArgument for another request hash). When the quota would refuse the
  // call, the key is looked up first (Reserve and Commit), so a retry is replayed even at the
  // quota. Exactness and the answers are the same either way; the read cost 2-3x in keyed
  // throughput (docs/benchmarks.md).
  bool verify_keys_at_reserve = false;
  // How a batch is written. true: a few multi-row statements per tenant (one SELECT of the
  // stored keys, multi-row INSERTs), i.e. few round trips: the better choice on PostgreSQL.
  // false: one prepared statement re-executed per call: cheaper on SQLite (in-process, no
  // round trips; a multi-row statement must be compiled per batch). Unset (default): true on
  // PostgreSQL, false on SQLite (docs/benchmarks.md, "Metering").
  std::optional<bool> bulk_statements;
};

class Meter {
 public:
  // Starts the writer thread. REQUIRES: db and subscriptions outlive the Meter; db is migrated.
  Meter(store::Database& db, Subscriptions& subscriptions, MeterOptions options = {});
  // Stops the writer after committing what is pending.
  ~Meter();
  Meter(const Meter&) = delete;
  Meter& operator=(const Meter&) = delete;

  // Before the work. Replay, or a reservation. Errors: QuotaExceeded (402, plan without overage
  // at its quota; the message names the plan and the period end), Conflict (409, same key in
  // flight), InvalidArgument (422: key malformed "Idempotency-Key", key reused with another
  // request_hash, bad units/endpoint), errors of Subscriptions::Current.
  [[nodiscard]] Result<ReserveOutcome> Reserve(const MeterCall& call, UnixNanos now);

  // After the work succeeded. `body` must be a JSON object; Commit fills in "remaining_quota",
  // "usage_cost" and "cost_credits" from the authoritative counter in the SAME transaction that
  // appends the ledger row and stores the idempotency record, waits until that group commit is
  // durable, and returns the final body string. A 2xx may only be sent after this returns OK.
  // QuotaExceeded if another process used the quota meanwhile (then nothing is charged). If the
  // key was committed meanwhile by another process, returns that call's stored body (no charge).
  // Unavailable/Internal: the transaction failed, nothing was charged.
  // REQUIRES: r came from this Meter's Reserve.
  [[nodiscard]] Result<std::string> Commit(std::unique_ptr<Reservation> r, nlohmann::json body);

  // A response body the caller serialised itself (cheaper than a nlohmann::json object on a hot
  // route): a JSON object whose three usage fields are slots. `text` contains the keys
  // "cost_credits":, "remaining_quota": and "usage_cost": with nothing after each colon; the
  // value is inserted at the given offsets (the position just after each colon). REQUIRES:
  // cost_credits_at < remaining_quota_at < usage_cost_at <= text.size(). The result is the same
  // text Commit(json) would return when the keys are in json::dump's (sorted) order.
  struct PreparedBody {
    std::string text;
    size_t cost_credits_at = 0, remaining_quota_at = 0, usage_cost_at = 0;
  };
  // As CommitAsync below, with a PreparedBody.
  void CommitPreparedAsync(std::unique_ptr<Reservation> r, PreparedBody body,
                           std::function<void(Result<std::string>)> done);

  // As Commit, without blocking the caller: returns at once, and `done` runs with Commit's
  // result on the meter's writer thread once the group commit is durable (or failed). For
  // servers that can answer asynchronously: no thread waits per call. `done` must be quick
  // (hand the answer to an I/O thread) and must not call Commit or Flush.
  void CommitAsync(std::unique_ptr<Reservation> r, nlohmann::json body,
                   std::function<void(Result<std::string>)> done);

  // Usage (GET /api/v1/usage) of one tenant for the period `periods_back` periods before the
  // current one (0 = current): {"plan","period":{"index","start","end"},"quota" (null when
  // unlimited),"used","remaining" (null when unlimited),"overage_units","cost_idr","calls",
  // "by_day":[{"date","calls","units","overage_units","cost_idr"}],
  // "by_endpoint":[{"endpoint","calls","units","overage_units","cost_idr"}]}. Read from the
  // ledger (exact, committed rows only). InvalidArgument("period") when periods_back < 0 or
  // the period precedes the subscription.
  [[nodiscard]] Result<nlohmann::json> Usage(TenantId tenant, UnixNanos now, int periods_back);

  // Blocks until every Commit submitted before the call has finished. For tests and shutdown.
  void Flush();

  struct Stats {
    int64_t committed = 0;       // calls charged
    int64_t transactions = 0;    // group-commit transactions
    int64_t db_key_lookups = 0;  // Reserve's database reads for idempotency keys
    int64_t counter_loads = 0;   // database reads of a tenant's counter (first use per period)
  };
  Stats stats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sinyal::billing
