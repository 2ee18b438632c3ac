// DbAuditLog: the retraining audit trail (signals/retraining.h AuditLog) in the database
// (store::Database, SQLite or PostgreSQL; migration 9, table retraining_audit).
//
// Append-only: the class has no update or delete, the table rejects UPDATE with a trigger on both
// backends, and on PostgreSQL the app role may only SELECT and INSERT (row-level security).
//
// Owners. AuditRecord::tenant is a tenant, or models::kPlatformTenant (0) for the decisions about
// the platform's default models (stored as tenant_id NULL, written in system scope). A tenant's
// rows are written and read in tenant scope (RLS) and every query also filters on the owner.
//
// seq numbers the records of one (owner, symbol, timeframe) 1, 2, ... in append order (a unique
// index; a concurrent Append of the same key retries with the next number).
//
// Thread safety: thread-safe (all state is in the database).
#pragma once

#include <string>
#include <vector>

#include "signals/retraining.h"

namespace sinyal::store {
class Database;
}

namespace sinyal::signals {

class DbAuditLog final : public AuditLog {
 public:
  // REQUIRES: db outlives the log and is migrated (schema version >= 9).
  explicit DbAuditLog(store::Database& db);

  // Stores the record (its time, action, versions, decision, reasons and figures) and returns the
  // seq assigned. InvalidArgument ("tenant", "symbol", "timeframe") for a bad key; non-finite
  // figures are stored as null and read back as NaN.
  Result<int64_t> Append(AuditRecord record) override;
  // The owner's records for the series in append order (seq ascending). Empty is not an error.
  Result<std::vector<AuditRecord>> List(TenantId tenant,
                                        const market::SeriesKey& series) const override;
  // The newest `limit` records with seq < before_seq (0 = from the newest), newest first: the
  // page shown by GET /api/v1/models/:symbol/:timeframe/retraining.
  [[nodiscard]] Result<std::vector<AuditRecord>> Page(TenantId tenant,
                                                      const market::SeriesKey& series,
                                                      int64_t before_seq, size_t limit) const;

 private:
  Result<std::vector<AuditRecord>> Query(TenantId tenant, const market::SeriesKey& series,
                                         int64_t before_seq, size_t limit, bool newest_first) const;
  store::Database& db_;
};

}  // namespace sinyal::signals
