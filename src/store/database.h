// Database: one handle over SQLite or PostgreSQL (SOCI), chosen at runtime from a URL.
//
// Transactions are the only way to touch data: WithTx / WithTenantTx borrow a pooled SOCI
// session, open a transaction, run a callback, and commit when the callback returns OK.
//
// Tenant isolation has two layers:
//   1. Every tenant-scoped query filters on tenant_id explicitly (the application's filter).
//   2. PostgreSQL only: every table with a tenant_id column has ROW LEVEL SECURITY enabled and
//      FORCEd, with policy `tenant_id = current_setting('app.tenant_id')`. WithTenantTx sets that
//      setting for the transaction (set_config(..., true)) and SET LOCAL ROLE to the app role
//      (default "sinyal_app"), which is not the table owner. A query that forgets the filter
//      still only sees the current tenant's rows. SQLite has no RLS: layer 1 only.
//
// Least privilege (PostgreSQL). Three roles: the owner (the role migrations connect as; owns
// every table), the app role (tenant scope) and the system role (default "sinyal_system"; system
// scope), both NOLOGIN and owning nothing. Migrate grants both DML on the schema's tables, except
// UPDATE and DELETE on the append-only tables (kAppendOnlyTables: ledgers, payments, billing
// events, notifications, audits) and anything on schema_migrations (the system role may read
// it). `serve` and `worker` may connect as a login role that owns no table and is only a member
// of the two (docs/security.md): then Migrate() does not change anything and checks instead that
// the schema is current (FailedPrecondition naming `sinyal migrate` otherwise).
//
// Scopes of a transaction:
//   WithTenantTx(tenant, fn)  the normal case: RLS applies (PostgreSQL), as the app role.
//   WithTx(fn)                "system" scope: SET LOCAL ROLE to the system role with the setting
//                             app.system = 'on', which a second policy (restricted to the system
//                             and owner roles) honours, so it sees every tenant. Use it only for
//                             credential lookups that precede knowing the tenant (login by email,
//                             API key / refresh token by hash), for platform-wide tables
//                             (operators, market data), for creating a tenant, and for the
//                             cross-tenant workers (meter writer, job queue, invoicing, analytics).
//   WithOwnerTx(fn)           the connecting role itself, nothing switched: migrations and
//                             maintenance (tests' schema teardown). The application never uses it.
//
// SQL code includes "store/soci.h" (not <soci/soci.h> directly: see there).
//
// Thread safety: Database is thread-safe. A soci::session passed to a callback belongs to that
// callback for its duration only; never keep it or use it from another thread.
//
// Durability (SQLite): journal_mode=WAL, synchronous=NORMAL. A committed transaction survives a
// process crash or kill; an OS crash or power loss may lose the last transactions committed
// before it (the database stays consistent). FULL costs ~15x in commit throughput here
// (stack-check §2). The usage ledger's guarantee ("2xx means recorded") is about the process;
// deployments that must survive power loss on one box should use PostgreSQL (fsync per commit).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/ids.h"
#include "core/status.h"
#include "store/fwd.h"

namespace sinyal::store {

enum class Dialect { kSqlite, kPostgres };

struct DatabaseOptions {
  // Which database. Accepted forms:
  //   "sqlite::memory:"                  private in-memory database (pool_size forced to 1)
  //   "sqlite:///abs/path/x.db"          absolute path /abs/path/x.db
  //   "sqlite://rel/path/x.db"           path relative to the working directory
  //   "sqlite:rel/path/x.db"             same
  //   "postgresql://user:pw@host:port/db[?params]"  (also "postgres://"), passed to libpq as is,
  //   except Sinyal's own `schema=<name>` parameter, which sets `schema` below when it is empty
  // The parent directory of a SQLite file is created if missing.
  std::string url;
  // Number of pooled sessions. Default: 8. Clamped to [1, 64].
  // SQLite: writes are serialized in-process (one writer) and across processes by
  // busy_timeout + BEGIN IMMEDIATE.
  int pool_size = 8;
  // PostgreSQL: role that WithTenantTx switches to (SET LOCAL ROLE) so RLS applies.
  // Created NOLOGIN by Migrate if missing and granted to the connecting user. Default: sinyal_app.
  std::string app_role = "sinyal_app";
  // PostgreSQL: role that WithTx switches to (system scope). Created like app_role.
  // Default: sinyal_system.
  std::string system_role = "sinyal_system";
  // PostgreSQL: schema to use (search_path) instead of the server default. Migrate creates it
  // if missing. Empty: server default ("public"). Tests use a unique schema each.
  std::string schema;
  // SQLite busy_timeout in milliseconds (waits for another process's writer). Default: 5000.
  int sqlite_busy_timeout_ms = 5000;
};

// Kind of a database error thrown inside a transaction callback (see ClassifyDbError).
// kUnavailable: the server is gone or refusing connections for now (PostgreSQL SQLSTATE class 08,
// 57P01-57P03: a restart or failover).
enum class DbErrorKind { kOther, kUniqueViolation, kForeignKeyViolation, kRetryable, kUnavailable };

class Database {
 public:
  // Opens the pool (connects every session eagerly so a bad URL fails here). Does NOT migrate.
  // Errors: InvalidArgument("url") for an unknown scheme; Unavailable when the server can't
  // be reached. The message never contains the password.
  [[nodiscard]] static Result<std::unique_ptr<Database>> Open(const DatabaseOptions& options);

  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  Dialect dialect() const;

  // Applies every migration of migrations.cc not yet recorded in schema_migrations, in order,
  // each in its own transaction. Idempotent; safe to run concurrently from several processes
  // (PostgreSQL: advisory lock; SQLite: BEGIN IMMEDIATE). PostgreSQL: also (re)grants DML on
  // all tables of the schema to the app role and verifies that every table with a tenant_id
  // column has RLS enabled and forced (FailedPrecondition naming the table otherwise).
  [[nodiscard]] Status Migrate();

  // Highest applied migration version; 0 on an empty database.
  [[nodiscard]] Result<int> SchemaVersion();

  // Cheap round trip for readiness probes. Unavailable when the database can't answer.
  [[nodiscard]] Status Ping();

  // Runs fn inside a transaction on a pooled session, in system scope (see above).
  // Commits if fn returns OK; rolls back otherwise and returns fn's Status. An exception
  // thrown by fn is caught, logged, and returned as: AlreadyExists for a unique violation,
  // FailedPrecondition for a foreign key violation, Internal("database error") otherwise;
  // never with SQL text. SQLITE_BUSY/LOCKED and PostgreSQL serialization failures/deadlocks
  // re-run fn (up to 5 attempts), so fn must have no side effects outside the database. A lost
  // or refused PostgreSQL connection (a restart) is retried for about 4 s, reconnecting, and
  // then returned as Unavailable (HTTP 503), never Internal.
  // Blocks while every pooled session is in use. Unavailable after Close().
  [[nodiscard]] Status WithTx(const std::function<Status(soci::session&)>& fn);

  // Like WithTx as the connecting role itself (owner scope; see above). Not for application code.
  [[nodiscard]] Status WithOwnerTx(const std::function<Status(soci::session&)>& fn);

  // Like WithTx, in tenant scope: PostgreSQL sets app.tenant_id for the transaction and
  // SET LOCAL ROLE app_role, so row-level security applies. Queries must still filter on
  // tenant_id themselves (SQLite relies on it).
  // REQUIRES: tenant.valid() (else InvalidArgument).
  [[nodiscard]] Status WithTenantTx(TenantId tenant,
                                    const std::function<Status(soci::session&)>& fn);

  // Read-only variants, for hot read paths. SQLite: a deferred transaction that does not take
  // the writer lock, so reads run concurrently with each other and with the one writer (WAL).
  // PostgreSQL: BEGIN READ ONLY (a write inside fails). Otherwise as WithTx / WithTenantTx.
  [[nodiscard]] Status WithReadTx(const std::function<Status(soci::session&)>& fn);
  [[nodiscard]] Status WithTenantReadTx(TenantId tenant,
                                        const std::function<Status(soci::session&)>& fn);

  // Inside a WithTx callback: switches the rest of the transaction to tenant scope, as
  // WithTenantTx would have. For transactions that first create the tenant (registration).
  // No-op on SQLite.
  [[nodiscard]] Status EnterTenantScope(soci::session& tx, TenantId tenant);

  // Closes every pooled session; later calls return Unavailable. Waits for transactions in
  // flight to finish. Idempotent.
  void Close();

  struct Impl;

 private:
  explicit Database(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Classifies an exception thrown by SOCI inside a transaction callback. Callbacks that want a
// field-specific error (e.g. AlreadyExists("email")) catch soci::soci_error, classify it, and
// return a Status. On PostgreSQL the transaction is aborted after any error: return, don't
// continue querying.
DbErrorKind ClassifyDbError(const std::exception& e);

}  // namespace sinyal::store
