// Expiry of idempotency records (table idempotency_keys, written by billing/meter.h).
//
// A retried Idempotency-Key is answered with the first response only while its record exists.
// Records older than the retention window (config billing.idempotency_retention_hours, default
// 72 h; docs/billing.md "Idempotency window") are deleted; after that a call with the same key is
// a new call (new work, new charge). The usage ledger is never touched: it is append-only and
// holds the charge of every call, with its key, for invoices and audit.
//
// Deletion is in bounded batches, each its own short transaction (index idempotency_keys_created,
// migration 10), so a large backlog never holds the meter's writer lock for long. Records are
// deleted in system scope (all tenants). Same behaviour on SQLite and PostgreSQL.
//
// Thread safety: stateless; safe to run from several threads or servers at once (a record deleted
// by one is simply not found by the other).
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/clock.h"
#include "core/status.h"
#include "store/fwd.h"

namespace sinyal::billing {

struct IdempotencyRetentionOptions {
  // Records whose created_at (the call's time) is older than now - retention_hours are deleted.
  // Default: 72 h. [1, 8760]
  int64_t retention_hours = 72;
  // Rows deleted per transaction. Default: 1000. [1, 100000]
  size_t batch_rows = 1000;
  // Most batches per call; the rest waits for the next call. Default: 100 (100,000 rows).
  size_t max_batches = 100;
};

struct PurgeOutcome {
  int64_t deleted = 0;  // records deleted
  int64_t batches = 0;  // transactions run
  bool more = false;    // max_batches reached with expired records possibly left
};

// Deletes idempotency records with created_at < now - retention_hours, oldest first, at most
// batch_rows per transaction and max_batches transactions. InvalidArgument naming the option
// ("retention_hours", "batch_rows", "max_batches") when out of range; database errors as
// Database::WithTx (rows deleted by earlier batches stay deleted).
[[nodiscard]] Result<PurgeOutcome> PurgeExpiredIdempotencyKeys(
    store::Database& db, UnixNanos now, const IdempotencyRetentionOptions& options = {});

}  // namespace sinyal::billing
