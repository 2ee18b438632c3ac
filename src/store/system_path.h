// System-scope paths with roles of their own (PostgreSQL least privilege, issue 16).
//
// Database::WithTx / WithReadTx ("system" scope, see database.h) run as the system role, which
// may read and write every table but the append-only ones' UPDATE/DELETE. The cross-tenant paths
// that need much less run as narrower NOLOGIN roles, named after the system role
// (DatabaseOptions::system_role, default "sinyal_system") plus a suffix, created and granted by
// Migrate:
//   kMeterWriter  "<system>_meter"      the meter's group commit (billing/meter.cc): INSERT only on
//                                        usage_ledger; SELECT, INSERT on idempotency_keys; SELECT,
//                                        INSERT, UPDATE on usage_counters. Nothing else.
//   kJobQueue     "<system>_jobs"       the job queue's worker operations (store/job_queue.cc):
//                                        SELECT, INSERT, UPDATE on jobs.
//   kAnalytics    "<system>_analytics"  operator analytics (billing/analytics.cc): SELECT on
//                                        usage_ledger, usage_counters, invoices, subscriptions,
//                                        tenants, plans.
//   kInvoicing    "<system>_invoicing"  the closed-period invoicing round's cross-tenant read
//                                        (billing/invoices.cc GenerateClosed): SELECT on
//                                        subscriptions, invoices (each invoice is then written in
//                                        its tenant's scope).
// A transaction runs as a path's role when it starts inside WithSystemTx/WithSystemReadTx (or a
// ScopedSystemPath on its thread). SQLite has no roles and ignores all of this.
#pragma once

#include <string_view>
#include <utility>

#include "core/status.h"
#include "store/database.h"

namespace sinyal::store {

enum class SystemPath { kGeneral, kMeterWriter, kJobQueue, kAnalytics, kInvoicing };

// The role-name suffix of a path ("" for kGeneral).
std::string_view SystemPathRoleSuffix(SystemPath path);

// While it lives, system-scope transactions started on this thread run as `path`'s role.
// Nestable (restores the previous path). Not copyable.
class ScopedSystemPath {
 public:
  explicit ScopedSystemPath(SystemPath path);
  ~ScopedSystemPath();
  ScopedSystemPath(const ScopedSystemPath&) = delete;
  ScopedSystemPath& operator=(const ScopedSystemPath&) = delete;

 private:
  SystemPath previous_;
};

// The path of this thread's system-scope transactions (kGeneral outside any ScopedSystemPath).
SystemPath CurrentSystemPath();

// Database::WithTx / WithReadTx as `path`'s role.
template <typename Fn>
[[nodiscard]] Status WithSystemTx(Database& db, SystemPath path, Fn&& fn) {
  ScopedSystemPath scope(path);
  return db.WithTx(std::forward<Fn>(fn));
}
template <typename Fn>
[[nodiscard]] Status WithSystemReadTx(Database& db, SystemPath path, Fn&& fn) {
  ScopedSystemPath scope(path);
  return db.WithReadTx(std::forward<Fn>(fn));
}

}  // namespace sinyal::store
