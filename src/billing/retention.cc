#include "billing/retention.h"

#include "store/database.h"
#include "store/soci.h"

namespace sinyal::billing {

Result<PurgeOutcome> PurgeExpiredIdempotencyKeys(store::Database& db, UnixNanos now,
                                                 const IdempotencyRetentionOptions& options) {
  if (options.retention_hours < 1 || options.retention_hours > 8760)
    return Status::InvalidArgument("must be between 1 and 8760 hours", "retention_hours");
  if (options.batch_rows < 1 || options.batch_rows > 100000)
    return Status::InvalidArgument("must be between 1 and 100000", "batch_rows");
  if (options.max_batches < 1) return Status::InvalidArgument("must be at least 1", "max_batches");

  long long cutoff = now - options.retention_hours * kNanosPerHour;
  long long limit = static_cast<long long>(options.batch_rows);
  PurgeOutcome out;
  for (size_t b = 0; b < options.max_batches; ++b) {
    long long deleted = 0;
    // Row-value IN: portable (SQLite >= 3.15, PostgreSQL); the inner SELECT walks the created_at
    // index, the outer DELETE finds each row by its primary key.
    SINYAL_RETURN_IF_ERROR(db.WithTx([&](soci::session& sql) -> Status {
      soci::statement st =
          (sql.prepare << "DELETE FROM idempotency_keys WHERE (tenant_id, idem_key) IN "
                          "(SELECT tenant_id, idem_key FROM idempotency_keys WHERE created_at < :c "
                          "ORDER BY created_at LIMIT :n)",
           soci::use(cutoff, "c"), soci::use(limit, "n"));
      st.execute(true);
      deleted = st.get_affected_rows();
      return Status::Ok();
    }));
    ++out.batches;
    out.deleted += deleted;
    if (deleted < limit) return out;
  }
  out.more = true;
  return out;
}

}  // namespace sinyal::billing
