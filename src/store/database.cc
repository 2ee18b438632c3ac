#include "store/database.h"

#include <soci/postgresql/soci-postgresql.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/log.h"
#include "store/migrations.h"
#include "store/soci.h"  // first: configures SOCI
#include "store/system_path.h"

namespace sinyal::store {

namespace {

constexpr int kMaxTxAttempts = 5;
constexpr int kMaxUnavailableAttempts = 8;  // ~4.4 s of back-off: 100, 200, 400, 800, 1000 ms ...
// Serializes migrators of one PostgreSQL schema until the transaction ends.
constexpr const char* kSchemaLock =
    "SELECT pg_advisory_xact_lock(hashtext('sinyal_migrate:' || current_schema()))";

bool IsSqlIdentifier(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

thread_local SystemPath current_system_path = SystemPath::kGeneral;

constexpr SystemPath kNarrowPaths[] = {SystemPath::kMeterWriter, SystemPath::kJobQueue,
                                       SystemPath::kAnalytics, SystemPath::kInvoicing};

std::string QuoteIdent(std::string_view s) {  // REQUIRES: IsSqlIdentifier(s)
  return "\"" + std::string(s) + "\"";
}

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

bool Contains(std::string_view s, std::string_view p) {
  return s.find(p) != std::string_view::npos;
}

// SOCI 4.0.3 parses the PostgreSQL connect string itself (for its "singlerows" option) and
// mangles libpq URIs, so the URL is converted to libpq's keyword='value' form with libpq's own
// parser. Error messages never include the URL (it may hold a password).
// Removes Sinyal's own `schema=<name>` query parameter from a PostgreSQL URL (libpq does not
// know it) and returns it; the rest of the URL is passed to libpq as it was.
std::string TakeSchemaParam(std::string& url) {
  const size_t q = url.find('?');
  if (q == std::string::npos) return "";
  std::string kept;
  std::string schema;
  size_t pos = q + 1;
  while (pos <= url.size()) {
    size_t amp = url.find('&', pos);
    if (amp == std::string::npos) amp = url.size();
    const std::string param = url.substr(pos, amp - pos);
    if (param.rfind("schema=", 0) == 0) {
      schema = param.substr(7);
    } else if (!param.empty()) {
      kept += (kept.empty() ? "" : "&") + param;
    }
    pos = amp + 1;
  }
  url = url.substr(0, q) + (kept.empty() ? "" : "?" + kept);
  return schema;
}

Result<std::string> PostgresConninfo(const std::string& url) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
  if (opts == nullptr) {
    std::string msg = err != nullptr ? err : "unparseable";
    PQfreemem(err);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    return Status::InvalidArgument("invalid PostgreSQL URL: " + msg, "url");
  }
  std::string out;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    out += o->keyword;
    out += "='";
    for (const char* c = o->val; *c != '\0'; ++c) {
      if (*c == '\'' || *c == '\\') out += '\\';
      out += *c;
    }
    out += "' ";
  }
  PQconninfoFree(opts);
  return out;
}

// SOCI error texts end with the bound values (" with :e=\"...\"") and PostgreSQL adds a DETAIL
// line with key values; both may hold personal data or hashes, so logs keep neither.
std::string SanitizeForLog(std::string_view what) {
  std::string s(what);
  if (size_t pos = s.find(" with :"); pos != std::string::npos) s.erase(pos);
  if (size_t pos = s.find("DETAIL:"); pos != std::string::npos) {
    size_t end = s.find('\n', pos);
    s.erase(pos, end == std::string::npos ? std::string::npos : end - pos + 1);
  }
  return s;
}

}  // namespace

DbErrorKind ClassifyDbError(const std::exception& e) {
  if (const auto* pg = dynamic_cast<const soci::postgresql_soci_error*>(&e)) {
    const std::string state = pg->sqlstate();
    if (state == "23505") return DbErrorKind::kUniqueViolation;
    if (state == "23503") return DbErrorKind::kForeignKeyViolation;
    if (state == "40001" || state == "40P01") return DbErrorKind::kRetryable;
    if (state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" || state == "57P03") {
      return DbErrorKind::kUnavailable;
    }
    return DbErrorKind::kOther;
  }
  const std::string_view what = e.what();
  if (const auto* lite = dynamic_cast<const soci::sqlite3_soci_error*>(&e)) {
    const int primary = lite->result() & 0xff;
    if (primary == 5 /*SQLITE_BUSY*/ || primary == 6 /*SQLITE_LOCKED*/) {
      return DbErrorKind::kRetryable;
    }
  }
  // SOCI's SQLite backend does not always carry the extended result code; its message does.
  if (Contains(what, "UNIQUE constraint failed")) return DbErrorKind::kUniqueViolation;
  if (Contains(what, "FOREIGN KEY constraint failed")) return DbErrorKind::kForeignKeyViolation;
  if (Contains(what, "database is locked") || Contains(what, "database table is locked")) {
    return DbErrorKind::kRetryable;
  }
  return DbErrorKind::kOther;
}

struct Database::Impl {
  DatabaseOptions options;
  Dialect dialect = Dialect::kSqlite;
  std::string sqlite_path;    // ":memory:" or a file path
  std::string app_role_q;     // quoted identifier
  std::string system_role_q;  // quoted identifier
  // Quoted role of each SystemPath (kGeneral: system_role_q), indexed by the enum's value.
  std::array<std::string, 5> path_role_q;
  std::string pg_conninfo;  // libpq keyword='value' string (holds the password: never log)

  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::unique_ptr<soci::session>> sessions;  // GUARDED_BY(mu) (the vector)
  std::vector<soci::session*> idle;                      // GUARDED_BY(mu)
  int in_use = 0;                                        // GUARDED_BY(mu)
  // SQLite: whether PRAGMA query_only is on for a session (read transactions turn it on so a
  // stray write fails instead of bypassing the writer mutex). Filled at Open, then each entry
  // is touched only by the thread holding that session.
  std::unordered_map<soci::session*, bool> sqlite_query_only;
  bool closed = false;  // GUARDED_BY(mu)

  // SQLite has one writer; serializing transactions in-process avoids busy-waiting between
  // this process's own pooled connections (busy_timeout still covers other processes).
  std::mutex sqlite_tx_mu;

  std::unique_ptr<soci::session> Connect() {
    auto s = std::make_unique<soci::session>();
    if (dialect == Dialect::kSqlite) {
      s->open(soci::sqlite3, "db=\"" + sqlite_path + "\"");
      std::string mode;
      *s << "PRAGMA journal_mode=WAL", soci::into(mode);
      *s << "PRAGMA synchronous=NORMAL";
      *s << "PRAGMA foreign_keys=ON";
      int timeout = 0;
      *s << "PRAGMA busy_timeout=" + std::to_string(options.sqlite_busy_timeout_ms),
          soci::into(timeout);
    } else {
      s->open(soci::postgresql, pg_conninfo);
      ConfigurePostgres(*s);
    }
    return s;
  }

  void ConfigurePostgres(soci::session& s) {
    s << "SET client_min_messages = warning";
    s << "SET statement_timeout = '60s'";
    s << "SET idle_in_transaction_session_timeout = '120s'";
    if (!options.schema.empty()) s << "SET search_path TO " + QuoteIdent(options.schema);
  }

  // Borrows a session; nullptr after Close().
  soci::session* Acquire() {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return closed || !idle.empty(); });
    if (closed) return nullptr;
    soci::session* s = idle.back();
    idle.pop_back();
    ++in_use;
    return s;
  }

  void Release(soci::session* s) {
    // A session whose connection dropped (server restart) is reconnected before reuse.
    if (dialect == Dialect::kPostgres && !s->is_connected()) {
      try {
        s->reconnect();
        ConfigurePostgres(*s);
      } catch (const std::exception& e) {
        LogEvent(spdlog::level::warn, "db_reconnect_failed", {{"error", e.what()}});
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    idle.push_back(s);
    --in_use;
    cv.notify_all();
  }

  // Runs `fn` in a transaction. `tenant` set: tenant scope; otherwise system scope, or with
  // `owner` the connecting role itself (PostgreSQL; SQLite has one scope).
  Status RunTx(std::optional<TenantId> tenant, bool read_only,
               const std::function<Status(soci::session&)>& fn, bool owner = false) {
    for (int attempt = 1;; ++attempt) {
      soci::session* s = Acquire();
      if (s == nullptr) return Status::Unavailable("database is closed");
      struct Releaser {
        Impl* impl;
        soci::session* s;
        ~Releaser() { impl->Release(s); }
      } releaser{this, s};
      std::unique_lock<std::mutex> write_lock;
      if (dialect == Dialect::kSqlite && !read_only) {
        write_lock = std::unique_lock<std::mutex>(sqlite_tx_mu);
      }

      soci::session& sql = *s;
      bool in_tx = false;
      bool committing = false;  // after COMMIT was sent, a lost connection = unknown outcome
      auto rollback = [&] {
        if (!in_tx) return;
        in_tx = false;
        try {
          sql << "ROLLBACK";
        } catch (...) {
          // The connection may be gone; Release() reconnects it.
        }
      };
      try {
        Status st;
        if (dialect == Dialect::kSqlite) {
          bool& query_only = sqlite_query_only[s];
          if (query_only != read_only) {
            sql << (read_only ? "PRAGMA query_only = 1" : "PRAGMA query_only = 0");
            query_only = read_only;
          }
          sql << (read_only ? "BEGIN" : "BEGIN IMMEDIATE");
          in_tx = true;
        } else {
          sql << (read_only ? "BEGIN READ ONLY" : "BEGIN");
          in_tx = true;
          if (tenant) {
            st = EnterTenant(sql, *tenant);
          } else {
            std::string ignored;
            sql << "SELECT set_config('app.system', 'on', true)", soci::into(ignored);
            if (!owner)
              sql << "SET LOCAL ROLE " + path_role_q[static_cast<size_t>(current_system_path)];
          }
        }
        if (st.ok()) st = fn(sql);
        if (!st.ok()) {
          rollback();
          return st;
        }
        committing = true;
        sql << "COMMIT";
        in_tx = false;
        return st;
      } catch (const std::exception& e) {
        rollback();
        const DbErrorKind kind = ClassifyDbError(e);
        // PostgreSQL connection lost (server restart, killed backend): Release() reconnects.
        // Safe to re-run only if COMMIT was never sent.
        const bool lost = dialect == Dialect::kPostgres && !s->is_connected();
        // A COMMIT answered by a shutdown or connection error may have been applied: never re-run.
        if (committing && (lost || kind == DbErrorKind::kUnavailable)) {
          LogEvent(spdlog::level::err, "db_commit_outcome_unknown",
                   {{"error", SanitizeForLog(e.what())}});
          return Status::Unavailable("database connection lost during commit");
        }
        // The server restarting or failing over: wait for it (Release() reconnects), then 503.
        const bool unavailable = lost || kind == DbErrorKind::kUnavailable;
        if (unavailable && attempt < kMaxUnavailableAttempts) {
          if (write_lock.owns_lock()) write_lock.unlock();
          std::this_thread::sleep_for(std::chrono::milliseconds(std::min(1000, 50 << attempt)));
          continue;
        }
        if (kind == DbErrorKind::kRetryable && attempt < kMaxTxAttempts) {
          if (write_lock.owns_lock()) write_lock.unlock();
          thread_local std::minstd_rand rng(std::random_device{}());
          std::this_thread::sleep_for(
              std::chrono::microseconds((rng() % 1000) + 1000 * attempt * attempt));
          continue;
        }
        if (unavailable) {
          LogEvent(spdlog::level::warn, "db_unavailable",
                   {{"error", SanitizeForLog(e.what())}, {"attempts", attempt}});
          return Status::Unavailable("the database is unavailable; try again shortly");
        }
        LogEvent(spdlog::level::warn, "db_tx_failed",
                 {{"error", SanitizeForLog(e.what())}, {"attempt", attempt}});
        switch (kind) {
          case DbErrorKind::kUniqueViolation:
            return Status::AlreadyExists("already exists");
          case DbErrorKind::kForeignKeyViolation:
            return Status::FailedPrecondition("a referenced object does not exist");
          case DbErrorKind::kRetryable:
            return Status::Unavailable("database busy, try again");
          case DbErrorKind::kUnavailable:  // handled above
          case DbErrorKind::kOther:
            break;
        }
        return Status::Internal("database error");
      } catch (...) {
        rollback();
        LogEvent(spdlog::level::err, "db_tx_failed", {{"error", "non-standard exception"}});
        return Status::Internal("database error");
      }
    }
  }

  Status EnterTenant(soci::session& sql, TenantId tenant) {
    if (!tenant.valid()) return Status::InvalidArgument("invalid tenant id", "tenant_id");
    if (dialect != Dialect::kPostgres) return Status::Ok();
    std::string ignored;
    const std::string id = std::to_string(tenant.value());
    sql << "SELECT set_config('app.system', '', true) || set_config('app.tenant_id', :t, true)",
        soci::use(id), soci::into(ignored);
    sql << "SET LOCAL ROLE " + app_role_q;
    return Status::Ok();
  }

  // Executes a multi-statement script with the native driver (SOCI prepares one statement only).
  void ExecScript(soci::session& sql, const std::string& script) {
    if (dialect == Dialect::kSqlite) {
      auto* be = static_cast<soci::sqlite3_session_backend*>(sql.get_backend());
      char* err = nullptr;
      int rc = sqlite_api::sqlite3_exec(be->conn_, script.c_str(), nullptr, nullptr, &err);
      if (rc != 0) {
        std::string msg = err != nullptr ? err : "unknown error";
        sqlite_api::sqlite3_free(err);
        throw soci::sqlite3_soci_error("migration failed: " + msg, rc);
      }
    } else {
      auto* be = static_cast<soci::postgresql_session_backend*>(sql.get_backend());
      PGresult* res = PQexec(be->conn_, script.c_str());
      const ExecStatusType st = PQresultStatus(res);
      if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        std::string msg = PQresultErrorMessage(res);
        const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        std::string sqlstate = state != nullptr ? state : "XX000";
        PQclear(res);
        throw soci::postgresql_soci_error("migration failed: " + msg, sqlstate.c_str());
      }
      PQclear(res);
    }
  }
};

Database::Database(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Database::~Database() { Close(); }

Result<std::unique_ptr<Database>> Database::Open(const DatabaseOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->options.pool_size = std::clamp(options.pool_size, 1, 64);
  const std::string_view url = options.url;
  if (url == "sqlite::memory:" || url == "sqlite://:memory:") {
    impl->dialect = Dialect::kSqlite;
    impl->sqlite_path = ":memory:";
    impl->options.pool_size = 1;  // each connection would be a separate in-memory database
  } else if (StartsWith(url, "sqlite:") || StartsWith(url, "sqlite3:")) {
    std::string_view rest = url.substr(url.find(':') + 1);
    if (StartsWith(rest, "//")) rest.remove_prefix(2);
    if (rest.empty() || Contains(rest, "\"") || Contains(rest, "?")) {
      return Status::InvalidArgument("SQLite URL needs a file path, e.g. sqlite://var/sinyal.db",
                                     "url");
    }
    impl->dialect = Dialect::kSqlite;
    impl->sqlite_path = std::string(rest);
    std::error_code ec;
    const std::filesystem::path parent = std::filesystem::path(impl->sqlite_path).parent_path();
    if (!parent.empty()) {
      std::filesystem::create_directories(parent, ec);
      if (ec) {
        return Status::Unavailable("cannot create directory " + parent.string() + ": " +
                                   ec.message());
      }
    }
  } else if (StartsWith(url, "postgresql://") || StartsWith(url, "postgres://")) {
    impl->dialect = Dialect::kPostgres;
    std::string pg_url = options.url;
    const std::string url_schema = TakeSchemaParam(pg_url);
    if (impl->options.schema.empty()) impl->options.schema = url_schema;
    if (!IsSqlIdentifier(options.app_role)) {
      return Status::InvalidArgument("app role must be a plain SQL identifier", "app_role");
    }
    if (!IsSqlIdentifier(options.system_role) || options.system_role == options.app_role) {
      return Status::InvalidArgument(
          "system role must be a plain SQL identifier other than the app role", "system_role");
    }
    if (options.system_role.size() + 10 >
        63) {  // room for the longest path suffix ("_analytics", "_invoicing")
      return Status::InvalidArgument("system role must be at most 53 characters", "system_role");
    }
    impl->system_role_q = QuoteIdent(options.system_role);
    impl->path_role_q[static_cast<size_t>(SystemPath::kGeneral)] = impl->system_role_q;
    for (SystemPath p : kNarrowPaths) {
      impl->path_role_q[static_cast<size_t>(p)] =
          QuoteIdent(options.system_role + std::string(SystemPathRoleSuffix(p)));
    }
    if (!impl->options.schema.empty() && !IsSqlIdentifier(impl->options.schema)) {
      return Status::InvalidArgument("schema must be a plain SQL identifier", "schema");
    }
    impl->app_role_q = QuoteIdent(options.app_role);
    auto conninfo = PostgresConninfo(pg_url);
    if (!conninfo.ok()) return conninfo.error();
    impl->pg_conninfo = std::move(conninfo).value();
  } else {
    return Status::InvalidArgument(
        "database URL must start with sqlite: or postgresql:// (got a different scheme)", "url");
  }

  for (int i = 0; i < impl->options.pool_size; ++i) {
    try {
      impl->sessions.push_back(impl->Connect());
    } catch (const std::exception& e) {
      // libpq messages name host/user, never the password.
      LogEvent(spdlog::level::err, "db_connect_failed", {{"error", e.what()}});
      return Status::Unavailable(std::string("cannot open database: ") + e.what());
    }
    impl->idle.push_back(impl->sessions.back().get());
    impl->sqlite_query_only[impl->sessions.back().get()] = false;
  }
  return std::unique_ptr<Database>(new Database(std::move(impl)));
}

Dialect Database::dialect() const { return impl_->dialect; }

Status Database::WithTx(const std::function<Status(soci::session&)>& fn) {
  return impl_->RunTx(std::nullopt, /*read_only=*/false, fn);
}

Status Database::WithOwnerTx(const std::function<Status(soci::session&)>& fn) {
  return impl_->RunTx(std::nullopt, /*read_only=*/false, fn, /*owner=*/true);
}

Status Database::WithReadTx(const std::function<Status(soci::session&)>& fn) {
  return impl_->RunTx(std::nullopt, /*read_only=*/true, fn);
}

Status Database::WithTenantReadTx(TenantId tenant,
                                  const std::function<Status(soci::session&)>& fn) {
  if (!tenant.valid()) return Status::InvalidArgument("invalid tenant id", "tenant_id");
  return impl_->RunTx(tenant, /*read_only=*/true, fn);
}

Status Database::WithTenantTx(TenantId tenant, const std::function<Status(soci::session&)>& fn) {
  if (!tenant.valid()) return Status::InvalidArgument("invalid tenant id", "tenant_id");
  return impl_->RunTx(tenant, /*read_only=*/false, fn);
}

Status Database::EnterTenantScope(soci::session& tx, TenantId tenant) {
  return impl_->EnterTenant(tx, tenant);
}

Status Database::Ping() {
  return WithReadTx([](soci::session& sql) {
    int one = 0;
    sql << "SELECT 1", soci::into(one);
    return one == 1 ? Status::Ok() : Status::Unavailable("database did not answer");
  });
}

Result<int> Database::SchemaVersion() {
  int version = 0;
  // The connecting role itself: before the first migration the system role may not exist yet.
  Status st = impl_->RunTx(
      std::nullopt, /*read_only=*/true,
      [&](soci::session& sql) {
        int exists = 0;
        if (impl_->dialect == Dialect::kSqlite) {
          sql << "SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND "
                 "name='schema_migrations'",
              soci::into(exists);
        } else {
          sql << "SELECT COUNT(*) FROM information_schema.tables "
                 "WHERE table_schema = current_schema() AND table_name = 'schema_migrations'",
              soci::into(exists);
        }
        if (exists == 0) return Status::Ok();
        soci::indicator ind = soci::i_ok;
        sql << "SELECT MAX(version) FROM schema_migrations", soci::into(version, ind);
        if (ind == soci::i_null) version = 0;
        return Status::Ok();
      },
      /*owner=*/true);
  if (!st.ok()) return st;
  return version;
}

namespace {

// Creates `role` NOLOGIN if missing and makes the connecting role a member (to SET ROLE to it).
std::string EnsureRoleSql(const std::string& role) {
  return "DO $$ BEGIN\n"
         "  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '" +
         role +
         "') THEN\n"
         "    CREATE ROLE " +
         QuoteIdent(role) +
         " NOLOGIN;\n"
         "  END IF;\n"
         "  IF NOT pg_has_role(current_user, '" +
         role +
         "', 'MEMBER') THEN\n"
         "    EXECUTE format('GRANT %I TO %I', '" +
         role +
         "', current_user);\n"
         "  END IF;\n"
         "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;\n"
         "END $$;";
}

// The grants of the app and system roles (see database.h, "Least privilege"), re-applied after
// every migration run so that new tables get them.
std::string GrantsSql(const std::string& app_q, const std::string& system_q,
                      const std::array<std::string, 5>& path_q) {
  const std::string both = app_q + ", " + system_q;
  const std::string& meter_q = path_q[static_cast<size_t>(SystemPath::kMeterWriter)];
  const std::string& jobs_q = path_q[static_cast<size_t>(SystemPath::kJobQueue)];
  const std::string& analytics_q = path_q[static_cast<size_t>(SystemPath::kAnalytics)];
  const std::string& invoicing_q = path_q[static_cast<size_t>(SystemPath::kInvoicing)];
  const std::string narrow = meter_q + ", " + jobs_q + ", " + analytics_q + ", " + invoicing_q;
  std::string sql =
      "DO $$ BEGIN\n"
      "  EXECUTE format('GRANT USAGE ON SCHEMA %I TO " +
      both +
      "', current_schema());\n"
      "  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO " +
      both +
      "', current_schema());\n"
      "  EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO " +
      both +
      "', current_schema());\n"
      "END $$;\n"
      "REVOKE ALL ON schema_migrations FROM " +
      both +
      ";\n"
      "GRANT SELECT ON schema_migrations TO " +
      system_q +
      ";\n"
      // The narrow system paths (store/system_path.h): exactly their tables, nothing else.
      "DO $$ BEGIN\n"
      "  EXECUTE format('GRANT USAGE ON SCHEMA %I TO " +
      narrow +
      "', current_schema());\n"
      "  EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM " +
      narrow +
      "', current_schema());\n"
      "  EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM " +
      narrow +
      "', current_schema());\n"
      "END $$;\n"
      "GRANT INSERT ON usage_ledger TO " +
      meter_q +
      ";\n"
      "GRANT SELECT, INSERT ON idempotency_keys TO " +
      meter_q +
      ";\n"
      "GRANT SELECT, INSERT, UPDATE ON usage_counters TO " +
      meter_q +
      ";\n"
      "GRANT SELECT, INSERT, UPDATE ON jobs TO " +
      jobs_q +
      ";\n"
      "GRANT SELECT ON usage_ledger, usage_counters, invoices, subscriptions, tenants, plans TO " +
      analytics_q +
      ";\n"
      "GRANT SELECT ON subscriptions, invoices TO " +
      invoicing_q + ";\n";
  for (std::string_view t : kAppendOnlyTables) {
    sql += "REVOKE UPDATE, DELETE, TRUNCATE ON " + std::string(t) + " FROM " + both + ";\n";
  }
  // System scope's policy: the system role (and the owner, for migrations' own statements).
  sql +=
      "DO $$ DECLARE p record; BEGIN\n"
      "  FOR p IN SELECT tablename FROM pg_policies WHERE schemaname = current_schema()\n"
      "      AND policyname = 'system_access' LOOP\n"
      "    EXECUTE format('ALTER POLICY system_access ON %I TO CURRENT_USER, " +
      system_q + ", " + narrow +
      "', p.tablename);\n"
      "  END LOOP;\n"
      "END $$;";
  return sql;
}

}  // namespace

Status Database::Migrate() {
  Impl& im = *impl_;
  const bool pg = im.dialect == Dialect::kPostgres;
  if (pg) {
    // A login role that owns nothing (serve/worker in a least-privilege deployment) changes
    // nothing: it checks that the owner has migrated the schema to this binary's version.
    std::string owner;
    SINYAL_RETURN_IF_ERROR(im.RunTx(
        std::nullopt, /*read_only=*/true,
        [&](soci::session& sql) {
          soci::indicator ind = soci::i_ok;
          sql << "SELECT tableowner FROM pg_tables WHERE schemaname = current_schema() "
                 "AND tablename = 'schema_migrations'",
              soci::into(owner, ind);
          if (!sql.got_data() || ind == soci::i_null) owner.clear();
          std::string me;
          sql << "SELECT current_user", soci::into(me);
          if (owner == me) owner.clear();
          return Status::Ok();
        },
        /*owner=*/true));
    if (!owner.empty()) {
      SINYAL_ASSIGN_OR_RETURN(int have, SchemaVersion());
      const int want = AllMigrations().back().version;
      if (have != want) {
        return Status::FailedPrecondition(
            "the database schema is at migration " + std::to_string(have) +
                " and this binary needs " + std::to_string(want) +
                "; run `sinyal migrate` with the owner role's database URL",
            "database");
      }
      return Status::Ok();
    }
    // Schema, the app and system roles (NOLOGIN) and membership: cluster-wide objects, created if
    // missing.
    SINYAL_RETURN_IF_ERROR(WithOwnerTx([&](soci::session& sql) {
      // Concurrent CREATE ROLE / GRANT fail with "tuple concurrently updated": serialize.
      im.ExecScript(sql, "SELECT pg_advisory_xact_lock(hashtext('sinyal_migrate_roles'))");
      if (!im.options.schema.empty()) {
        im.ExecScript(sql, "CREATE SCHEMA IF NOT EXISTS " + QuoteIdent(im.options.schema));
      }
      im.ExecScript(sql, EnsureRoleSql(im.options.app_role));
      im.ExecScript(sql, EnsureRoleSql(im.options.system_role));
      for (SystemPath p : kNarrowPaths) {
        im.ExecScript(sql,
                      EnsureRoleSql(im.options.system_role + std::string(SystemPathRoleSuffix(p))));
      }
      return Status::Ok();
    }));
  }
  // The bookkeeping table itself.
  SINYAL_RETURN_IF_ERROR(WithOwnerTx([&](soci::session& sql) {
    im.ExecScript(sql,
                  "CREATE TABLE IF NOT EXISTS schema_migrations ("
                  " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)");
    return Status::Ok();
  }));

  for (const Migration& m : AllMigrations()) {
    Status st = WithOwnerTx([&](soci::session& sql) {
      if (pg) {
        // Serializes concurrent migrators of the same schema until this transaction ends.
        im.ExecScript(sql, kSchemaLock);
      }
      int applied = 0;
      sql << "SELECT COUNT(*) FROM schema_migrations WHERE version = :v", soci::use(m.version),
          soci::into(applied);
      if (applied > 0) return Status::Ok();
      im.ExecScript(sql, MigrationSql(m, im.dialect));
      const std::string name(m.name);
      sql << "INSERT INTO schema_migrations(version, name, applied_at) VALUES (:v, :n, " +
                 std::string(pg ? "CAST(EXTRACT(EPOCH FROM now()) AS BIGINT)"
                                : "CAST(strftime('%s','now') AS INTEGER)") +
                 ")",
          soci::use(m.version), soci::use(name);
      LogEvent(spdlog::level::info, "db_migrated", {{"version", m.version}, {"name", name}});
      return Status::Ok();
    });
    if (!st.ok()) return st.WithContext("migration " + std::to_string(m.version));
  }

  if (pg) {
    return WithOwnerTx([&](soci::session& sql) {
      im.ExecScript(sql, kSchemaLock);
      im.ExecScript(sql, GrantsSql(im.app_role_q, im.system_role_q, im.path_role_q));
      // Every tenant table must have RLS enabled and forced.
      std::string missing;
      soci::rowset<std::string> rs =
          (sql.prepare
           << "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
              "WHERE n.nspname = current_schema() AND c.relkind = 'r' "
              "AND (NOT c.relrowsecurity OR NOT c.relforcerowsecurity) "
              "AND (c.relname = 'tenants' OR EXISTS (SELECT 1 FROM pg_attribute a WHERE "
              "a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)) "
              "ORDER BY c.relname");
      for (const std::string& t : rs) missing += (missing.empty() ? "" : ", ") + t;
      if (!missing.empty()) {
        return Status::FailedPrecondition(
            "tenant tables without row-level security (call sinyal_enable_tenant_rls): " + missing);
      }
      return Status::Ok();
    });
  }
  return Status::Ok();
}

void Database::Close() {
  if (!impl_) return;
  Impl& im = *impl_;
  std::unique_lock<std::mutex> lock(im.mu);
  if (im.closed && im.sessions.empty()) return;
  im.closed = true;
  im.cv.notify_all();
  im.cv.wait(lock, [&] { return im.in_use == 0; });
  im.idle.clear();
  for (auto& s : im.sessions) {
    try {
      s->close();
    } catch (...) {
    }
  }
  im.sessions.clear();
}

std::string_view SystemPathRoleSuffix(SystemPath path) {
  switch (path) {
    case SystemPath::kGeneral:
      return "";
    case SystemPath::kMeterWriter:
      return "_meter";
    case SystemPath::kJobQueue:
      return "_jobs";
    case SystemPath::kAnalytics:
      return "_analytics";
    case SystemPath::kInvoicing:
      return "_invoicing";
  }
  return "";
}

ScopedSystemPath::ScopedSystemPath(SystemPath path) : previous_(current_system_path) {
  current_system_path = path;
}
ScopedSystemPath::~ScopedSystemPath() { current_system_path = previous_; }

SystemPath CurrentSystemPath() { return current_system_path; }

}  // namespace sinyal::store
