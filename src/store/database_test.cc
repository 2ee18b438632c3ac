#include "store/database.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

#include "core/testing/test_util.h"
#include "store/migrations.h"
#include "store/soci.h"
#include "store/system_path.h"
#include "store/testing/test_db.h"

namespace sinyal::store {
namespace {

using testing::Backend;
using testing::DbTest;

int64_t InsertTenant(soci::session& sql, const std::string& name) {
  long long id = 0;
  sql << "INSERT INTO tenants(name, created_at) VALUES (:n, 1) RETURNING id", soci::use(name),
      soci::into(id);
  return id;
}

int64_t InsertUser(soci::session& sql, int64_t tenant, const std::string& email) {
  long long id = 0;
  long long t = tenant;
  sql << "INSERT INTO users(tenant_id, email, password_hash, display_name, role, created_at) "
         "VALUES (:t, :e, 'x', 'n', 'member', 1) RETURNING id",
      soci::use(t), soci::use(email), soci::into(id);
  return id;
}

int CountRows(Database& db, const std::string& table) {
  int n = -1;
  Status st = db.WithTx([&](soci::session& sql) {
    sql << "SELECT COUNT(*) FROM " + table, soci::into(n);
    return Status::Ok();
  });
  EXPECT_OK(st);
  return n;
}

TEST(DatabaseOpenTest, RejectsUnknownScheme) {
  auto db = Database::Open({.url = "mysql://x"});
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(db.error().field(), "url");
}

TEST(DatabaseOpenTest, RejectsEmptySqlitePath) {
  auto db = Database::Open({.url = "sqlite://"});
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().field(), "url");
}

TEST(DatabaseOpenTest, CreatesParentDirectoryOfSqliteFile) {
  sinyal::testing::TempDir dir;
  auto path = dir.path() / "a" / "b" / "x.db";
  auto db = Database::Open({.url = "sqlite://" + path.string()});
  ASSERT_OK(db);
  EXPECT_EQ((*db)->dialect(), Dialect::kSqlite);
  ASSERT_OK((*db)->Migrate());
  EXPECT_TRUE(std::filesystem::exists(path));
}

TEST(DatabaseOpenTest, InMemorySqliteWorks) {
  auto db = Database::Open({.url = "sqlite::memory:"});
  ASSERT_OK(db);
  ASSERT_OK((*db)->Migrate());
  auto v = (*db)->SchemaVersion();
  ASSERT_OK(v);
  EXPECT_EQ(*v, AllMigrations().back().version);
}

TEST(DatabaseOpenTest, UnreachablePostgresIsUnavailableWithoutPassword) {
  auto db = Database::Open({.url = "postgresql://u:s3cretpw@127.0.0.1:1/x?connect_timeout=2"});
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code(), StatusCode::kUnavailable);
  EXPECT_EQ(db.error().message().find("s3cretpw"), std::string::npos);
}

TEST(MigrationsTest, VersionsIncreaseFromOne) {
  int previous = 0;
  for (const Migration& m : AllMigrations()) {
    EXPECT_GT(m.version, previous) << m.name;
    if (previous == 0) EXPECT_EQ(m.version, 1);
    previous = m.version;
    EXPECT_FALSE(m.name.empty());
  }
}

TEST(MigrationsTest, PlaceholdersAreSubstituted) {
  for (const Migration& m : AllMigrations()) {
    for (Dialect d : {Dialect::kSqlite, Dialect::kPostgres}) {
      EXPECT_EQ(MigrationSql(m, d).find("{{"), std::string::npos) << m.name;
    }
  }
}

class DatabaseTest : public DbTest {};

TEST_P(DatabaseTest, MigrateIsIdempotent) {
  const int n = AllMigrations().back().version;
  auto v = db().SchemaVersion();
  ASSERT_OK(v);
  EXPECT_EQ(*v, n);
  ASSERT_OK(db().Migrate());
  ASSERT_OK(db().Migrate());
  v = db().SchemaVersion();
  ASSERT_OK(v);
  EXPECT_EQ(*v, n);
  EXPECT_EQ(CountRows(db(), "schema_migrations"), static_cast<int>(AllMigrations().size()));
}

TEST_P(DatabaseTest, ConcurrentMigrateFromTwoHandles) {
  auto other = test_db().OpenAnother();
  ASSERT_OK(other);
  Status a, b;
  std::thread t1([&] { a = db().Migrate(); });
  std::thread t2([&] { b = (*other)->Migrate(); });
  t1.join();
  t2.join();
  EXPECT_OK(a);
  EXPECT_OK(b);
  EXPECT_EQ(CountRows(db(), "schema_migrations"), static_cast<int>(AllMigrations().size()));
}

TEST_P(DatabaseTest, PingAnswers) { EXPECT_OK(db().Ping()); }

TEST_P(DatabaseTest, CommitsOnOkAndRollsBackOnError) {
  ASSERT_OK(db().WithTx([](soci::session& sql) {
    InsertTenant(sql, "kept");
    return Status::Ok();
  }));
  Status st = db().WithTx([](soci::session& sql) {
    InsertTenant(sql, "dropped");
    return Status::InvalidArgument("nope", "name");
  });
  EXPECT_EQ(st, Status::InvalidArgument("nope", "name"));
  EXPECT_EQ(CountRows(db(), "tenants"), 1);
}

TEST_P(DatabaseTest, ExceptionRollsBackAndDoesNotLeakSql) {
  Status st = db().WithTx([](soci::session& sql) {
    InsertTenant(sql, "dropped");
    sql << "SELECT secret_column FROM no_such_table";
    return Status::Ok();
  });
  EXPECT_EQ(st.code(), StatusCode::kInternal);
  EXPECT_EQ(st.message().find("no_such_table"), std::string::npos);
  EXPECT_EQ(CountRows(db(), "tenants"), 0);
  // The pooled session is usable afterwards (the transaction was rolled back).
  EXPECT_OK(db().Ping());
}

TEST_P(DatabaseTest, UniqueViolationIsAlreadyExists) {
  Status st = db().WithTx([](soci::session& sql) {
    int64_t t = InsertTenant(sql, "a");
    InsertUser(sql, t, "dup@example.com");
    InsertUser(sql, t, "dup@example.com");
    return Status::Ok();
  });
  EXPECT_EQ(st.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(CountRows(db(), "users"), 0);
}

TEST_P(DatabaseTest, ClassifyDbErrorRecognisesUniqueViolation) {
  DbErrorKind kind = DbErrorKind::kOther;
  Status st = db().WithTx([&](soci::session& sql) {
    int64_t t = InsertTenant(sql, "a");
    InsertUser(sql, t, "dup@example.com");
    try {
      InsertUser(sql, t, "dup@example.com");
    } catch (const soci::soci_error& e) {
      kind = ClassifyDbError(e);
    }
    return Status::Conflict("stop");
  });
  EXPECT_EQ(st.code(), StatusCode::kConflict);
  EXPECT_EQ(kind, DbErrorKind::kUniqueViolation);
}

TEST_P(DatabaseTest, ReadTransactionsCannotWrite) {
  Status st = db().WithReadTx([](soci::session& sql) {
    InsertTenant(sql, "sneaky");
    return Status::Ok();
  });
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(CountRows(db(), "tenants"), 0);
  // The same pooled sessions still write in ordinary transactions afterwards.
  for (int i = 0; i < 6; ++i) {
    ASSERT_OK(db().WithTx([&](soci::session& sql) {
      InsertTenant(sql, "t" + std::to_string(i));
      return Status::Ok();
    }));
  }
  int n = 0;
  ASSERT_OK(db().WithTenantReadTx(TenantId(1), [&](soci::session& sql) {
    sql << "SELECT COUNT(*) FROM tenants WHERE id = 1", soci::into(n);
    return Status::Ok();
  }));
  EXPECT_EQ(n, 1);
}

TEST_P(DatabaseTest, ForeignKeysAreEnforced) {
  Status st = db().WithTx([](soci::session& sql) {
    InsertUser(sql, 424242, "orphan@example.com");
    return Status::Ok();
  });
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
}

TEST_P(DatabaseTest, ConcurrentWritersAllCommit) {
  constexpr int kThreads = 4, kPerThread = 40;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < kPerThread; ++j) {
        Status st = db().WithTx([&](soci::session& sql) {
          InsertTenant(sql, "t" + std::to_string(i) + "_" + std::to_string(j));
          return Status::Ok();
        });
        if (!st.ok()) failures++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(CountRows(db(), "tenants"), kThreads * kPerThread);
}

TEST_P(DatabaseTest, TwoHandlesOnOneDatabaseBothWrite) {
  // Two Database objects stand in for two processes sharing the file / server.
  auto other = test_db().OpenAnother();
  ASSERT_OK(other);
  std::atomic<int> failures{0};
  auto writer = [&](Database& d, const std::string& prefix) {
    for (int j = 0; j < 30; ++j) {
      if (!d.WithTx([&](soci::session& sql) {
              InsertTenant(sql, prefix + std::to_string(j));
              return Status::Ok();
            }).ok()) {
        failures++;
      }
    }
  };
  std::thread t1([&] { writer(db(), "a"); });
  std::thread t2([&] { writer(**other, "b"); });
  t1.join();
  t2.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(CountRows(db(), "tenants"), 60);
}

TEST_P(DatabaseTest, CloseIsIdempotentAndLaterCallsAreUnavailable) {
  db().Close();
  db().Close();
  EXPECT_EQ(db().Ping().code(), StatusCode::kUnavailable);
  EXPECT_EQ(db().WithTenantTx(TenantId(1), [](soci::session&) { return Status::Ok(); }).code(),
            StatusCode::kUnavailable);
}

TEST_P(DatabaseTest, WithTenantTxRejectsInvalidTenant) {
  EXPECT_EQ(db().WithTenantTx(TenantId(), [](soci::session&) { return Status::Ok(); }).code(),
            StatusCode::kInvalidArgument);
}

// PostgreSQL-only: roles and row-level security (SQLite has neither; its isolation rests on the
// explicit tenant filters, tested on both backends in tests/isolation).
class PostgresRlsTest : public DbTest {};

// The point of PostgreSQL row-level security: a query that forgets `WHERE tenant_id = ...`
// still sees only the current tenant's rows, and can't write rows of another tenant.
TEST_P(PostgresRlsTest, RowLevelSecurityScopesUnfilteredQueries) {
  int64_t a = 0, b = 0;
  ASSERT_OK(db().WithTx([&](soci::session& sql) {
    a = InsertTenant(sql, "A");
    b = InsertTenant(sql, "B");
    InsertUser(sql, a, "a1@example.com");
    InsertUser(sql, a, "a2@example.com");
    InsertUser(sql, b, "b1@example.com");
    return Status::Ok();
  }));
  ASSERT_OK(db().WithTenantTx(TenantId(a), [&](soci::session& sql) {
    std::string role;
    sql << "SELECT current_user", soci::into(role);
    EXPECT_EQ(role, "sinyal_app");
    int users = 0, tenants = 0, others = 0;
    sql << "SELECT COUNT(*) FROM users", soci::into(users);  // no tenant filter on purpose
    sql << "SELECT COUNT(*) FROM tenants", soci::into(tenants);
    long long bb = b;
    sql << "SELECT COUNT(*) FROM users WHERE tenant_id = :b", soci::use(bb), soci::into(others);
    EXPECT_EQ(users, 2);
    EXPECT_EQ(tenants, 1);
    EXPECT_EQ(others, 0);
    // An unfiltered UPDATE and DELETE touch only this tenant's rows.
    soci::statement up = (sql.prepare << "UPDATE users SET display_name = 'changed'");
    up.execute(true);
    EXPECT_EQ(up.get_affected_rows(), 2);
    return Status::Ok();
  }));
  // Writing a row for another tenant is refused by the policy's WITH CHECK.
  Status st = db().WithTenantTx(TenantId(a), [&](soci::session& sql) {
    InsertUser(sql, b, "sneaky@example.com");
    return Status::Ok();
  });
  EXPECT_FALSE(st.ok());
  // Deleting everything from tenant A's scope leaves tenant B intact.
  ASSERT_OK(db().WithTenantTx(TenantId(a), [&](soci::session& sql) {
    sql << "DELETE FROM users";
    return Status::Ok();
  }));
  int b_users = 0;
  std::string b_name;
  ASSERT_OK(db().WithTx([&](soci::session& sql) {
    long long bb = b;
    sql << "SELECT COUNT(*) FROM users WHERE tenant_id = :b", soci::use(bb), soci::into(b_users);
    sql << "SELECT display_name FROM users WHERE tenant_id = :b", soci::use(bb), soci::into(b_name);
    return Status::Ok();
  }));
  EXPECT_EQ(b_users, 1);
  EXPECT_EQ(b_name, "n");
  EXPECT_EQ(CountRows(db(), "users"), 1);
}

TEST_P(PostgresRlsTest, AppRoleCannotEscalateToSystemScope) {
  int64_t a = 0;
  ASSERT_OK(db().WithTx([&](soci::session& sql) {
    a = InsertTenant(sql, "A");
    int64_t b = InsertTenant(sql, "B");
    InsertUser(sql, b, "b1@example.com");
    return Status::Ok();
  }));
  ASSERT_OK(db().WithTenantTx(TenantId(a), [&](soci::session& sql) {
    // Even turning the system flag on does nothing for the app role.
    std::string ignored;
    sql << "SELECT set_config('app.system', 'on', true)", soci::into(ignored);
    int users = -1;
    sql << "SELECT COUNT(*) FROM users", soci::into(users);
    EXPECT_EQ(users, 0);
    // Clearing the tenant setting hides everything (fail closed), rather than erroring open.
    sql << "SELECT set_config('app.tenant_id', '', true)", soci::into(ignored);
    int tenants = -1;
    sql << "SELECT COUNT(*) FROM tenants", soci::into(tenants);
    EXPECT_EQ(tenants, 0);
    return Status::Ok();
  }));
}

// Least privilege: system scope runs as the system role, which like the app role owns no table,
// may not change or delete append-only rows, may not touch schema_migrations, and may not create
// tables.
TEST_P(PostgresRlsTest, SystemScopeRunsAsTheSystemRoleWithOnlyItsGrants) {
  ASSERT_OK(db().WithTx([&](soci::session& sql) {
    std::string role;
    sql << "SELECT current_user", soci::into(role);
    EXPECT_EQ(role, "sinyal_system");
    int owned = -1;
    sql << "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() AND tableowner IN "
           "('sinyal_app', 'sinyal_system')",
        soci::into(owned);
    EXPECT_EQ(owned, 0);
    for (const char* role_name : {"sinyal_app", "sinyal_system"}) {
      const std::string r = role_name;
      for (std::string_view table : kAppendOnlyTables) {
        const std::string t(table);
        auto has = [&](const char* priv) {
          int yes = -1;
          sql << "SELECT CASE WHEN has_table_privilege(:r, :t, :p) THEN 1 ELSE 0 END", soci::use(r),
              soci::use(t), soci::use(std::string(priv)), soci::into(yes);
          return yes == 1;
        };
        EXPECT_TRUE(has("SELECT")) << r << " " << t;
        EXPECT_TRUE(has("INSERT")) << r << " " << t;
        EXPECT_FALSE(has("UPDATE")) << r << " " << t;
        EXPECT_FALSE(has("DELETE")) << r << " " << t;
        EXPECT_FALSE(has("TRUNCATE")) << r << " " << t;
      }
      int write_migrations = -1;
      sql << "SELECT CASE WHEN has_table_privilege(:r, 'schema_migrations', 'INSERT') OR "
             "has_table_privilege(:r2, 'schema_migrations', 'UPDATE') OR "
             "has_table_privilege(:r3, 'schema_migrations', 'DELETE') THEN 1 ELSE 0 END",
          soci::use(r), soci::use(r), soci::use(r), soci::into(write_migrations);
      EXPECT_EQ(write_migrations, 0) << r;
    }
    return Status::Ok();
  }));
  // Refusals, each in its own transaction (an error aborts the transaction).
  for (const char* stmt :
       {"DELETE FROM usage_ledger", "UPDATE payments SET amount_idr = 0",
        "DELETE FROM security_audit", "INSERT INTO schema_migrations VALUES (9999, 'x', 0)",
        "CREATE TABLE sneaky (id BIGINT)", "TRUNCATE billing_events"}) {
    Status st = db().WithTx([&](soci::session& sql) {
      sql << stmt;
      return Status::Ok();
    });
    EXPECT_FALSE(st.ok()) << "system scope must not run: " << stmt;
  }
}

// The narrow system paths (store/system_path.h) run as their own roles, each granted only its
// tables: the meter writer may append to the ledger but not read, change or delete it; none of
// them reads users or API keys.
TEST_P(PostgresRlsTest, NarrowSystemPathsRunAsTheirOwnRolesWithOnlyTheirGrants) {
  struct Expect {
    SystemPath path;
    std::string role;
    std::vector<std::pair<std::string, std::string>> granted;  // (table, privilege)
  };
  const std::vector<Expect> expects = {
      {SystemPath::kMeterWriter,
       "sinyal_system_meter",
       {{"usage_ledger", "INSERT"},
        {"idempotency_keys", "SELECT"},
        {"idempotency_keys", "INSERT"},
        {"usage_counters", "SELECT"},
        {"usage_counters", "INSERT"},
        {"usage_counters", "UPDATE"}}},
      {SystemPath::kJobQueue,
       "sinyal_system_jobs",
       {{"jobs", "SELECT"}, {"jobs", "INSERT"}, {"jobs", "UPDATE"}}},
      {SystemPath::kAnalytics,
       "sinyal_system_analytics",
       {{"usage_ledger", "SELECT"},
        {"usage_counters", "SELECT"},
        {"invoices", "SELECT"},
        {"subscriptions", "SELECT"},
        {"tenants", "SELECT"},
        {"plans", "SELECT"}}},
      {SystemPath::kInvoicing,
       "sinyal_system_invoicing",
       {{"subscriptions", "SELECT"}, {"invoices", "SELECT"}}},
  };
  const std::vector<std::string> tables = {
      "usage_ledger", "idempotency_keys", "usage_counters", "jobs",
      "invoices",     "subscriptions",    "tenants",        "plans",
      "users",        "api_keys",         "payments",       "schema_migrations"};
  for (const Expect& e : expects) {
    ASSERT_OK(WithSystemTx(db(), e.path, [&](soci::session& sql) {
      std::string role;
      sql << "SELECT current_user", soci::into(role);
      EXPECT_EQ(role, e.role);
      for (const std::string& t : tables) {
        for (const char* priv : {"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE"}) {
          const std::string p = priv;
          int yes = -1;
          sql << "SELECT CASE WHEN has_table_privilege(:r, :t, :p) THEN 1 ELSE 0 END",
              soci::use(e.role), soci::use(t), soci::use(p), soci::into(yes);
          const bool want = std::find(e.granted.begin(), e.granted.end(), std::make_pair(t, p)) !=
                            e.granted.end();
          EXPECT_EQ(yes == 1, want) << e.role << " " << p << " on " << t;
        }
      }
      return Status::Ok();
    }));
  }
  // Refused in practice, each in its own transaction (an error aborts it).
  const std::vector<std::pair<SystemPath, std::string>> refused = {
      {SystemPath::kMeterWriter, "SELECT COUNT(*) FROM usage_ledger"},
      {SystemPath::kMeterWriter, "DELETE FROM usage_counters"},
      {SystemPath::kMeterWriter, "SELECT COUNT(*) FROM users"},
      {SystemPath::kJobQueue, "SELECT COUNT(*) FROM api_keys"},
      {SystemPath::kJobQueue, "DELETE FROM jobs"},
      {SystemPath::kAnalytics, "INSERT INTO tenants(name, created_at) VALUES ('x', 1)"},
      {SystemPath::kAnalytics, "SELECT COUNT(*) FROM users"},
      {SystemPath::kInvoicing, "SELECT COUNT(*) FROM usage_ledger"},
      {SystemPath::kInvoicing, "UPDATE invoices SET total_idr = 0"},
  };
  for (const auto& [path, stmt] : refused) {
    Status st = WithSystemTx(db(), path, [&](soci::session& sql) {
      sql << stmt;
      return Status::Ok();
    });
    EXPECT_FALSE(st.ok()) << SystemPathRoleSuffix(path) << " must not run: " << stmt;
  }
  // The meter writer appends a ledger row (RLS's system policy lets its role in).
  int64_t a = 0;
  ASSERT_OK(db().WithTx([&](soci::session& sql) {
    a = InsertTenant(sql, "A");
    return Status::Ok();
  }));
  EXPECT_OK(WithSystemTx(db(), SystemPath::kMeterWriter, [&](soci::session& sql) {
    long long t = a;
    sql << "INSERT INTO usage_ledger (tenant_id, period_start, at, endpoint, plan, units, "
           "overage_units, "
           "unit_price_idr, cost_idr) VALUES (:t, 0, 1, 'predict', 'free', 1, 0, 0, 0)",
        soci::use(t);
    return Status::Ok();
  }));
  // Scopes nest and end: outside them system scope is the general system role again.
  {
    ScopedSystemPath outer(SystemPath::kJobQueue);
    {
      ScopedSystemPath inner(SystemPath::kAnalytics);
      EXPECT_EQ(CurrentSystemPath(), SystemPath::kAnalytics);
    }
    EXPECT_EQ(CurrentSystemPath(), SystemPath::kJobQueue);
  }
  ASSERT_OK(db().WithTx([&](soci::session& sql) {
    std::string role;
    sql << "SELECT current_user", soci::into(role);
    EXPECT_EQ(role, "sinyal_system");
    return Status::Ok();
  }));
}

// serve / worker connecting as a login role that owns nothing (a member of the app and system
// roles only): every scope works, nothing can be created, and Migrate only checks the version.
TEST_P(PostgresRlsTest, ServerLoginRoleOwnsNothingAndMigrateOnlyChecksTheVersion) {
  const char* url = std::getenv("SINYAL_TEST_PG_SERVER_URL");
  if (url == nullptr || *url == '\0') {
    GTEST_SKIP() << "SINYAL_TEST_PG_SERVER_URL is not set (scripts/services.sh sets it)";
  }
  DatabaseOptions opts = test_db().options();
  opts.url = url;
  opts.pool_size = 2;
  auto server = Database::Open(opts);
  ASSERT_OK(server);
  Database& srv = **server;
  ASSERT_OK(srv.Migrate());  // the schema is current: nothing to do, nothing tried
  int64_t a = 0;
  ASSERT_OK(srv.WithTx([&](soci::session& sql) {
    std::string role, login;
    sql << "SELECT current_user, session_user", soci::into(role), soci::into(login);
    EXPECT_EQ(role, "sinyal_system");
    EXPECT_NE(login, "sinyal_system");
    a = InsertTenant(sql, "A");
    InsertUser(sql, a, "a1@example.com");
    return Status::Ok();
  }));
  ASSERT_OK(srv.WithTenantTx(TenantId(a), [&](soci::session& sql) {
    int users = 0;
    sql << "SELECT COUNT(*) FROM users", soci::into(users);
    EXPECT_EQ(users, 1);
    return Status::Ok();
  }));
  ASSERT_OK(srv.WithOwnerTx([&](soci::session& sql) {
    int owned = -1;
    sql << "SELECT COUNT(*) FROM pg_tables WHERE tableowner = session_user", soci::into(owned);
    EXPECT_EQ(owned, 0);
    return Status::Ok();
  }));
  for (const char* stmt : {"CREATE TABLE sneaky (id BIGINT)", "ALTER TABLE users ADD COLUMN x INT",
                           "DROP TABLE usage_ledger", "DELETE FROM usage_ledger"}) {
    EXPECT_FALSE(srv.WithOwnerTx([&](soci::session& sql) {
                      sql << stmt;
                      return Status::Ok();
                    })
                     .ok())
        << "the server role must not run: " << stmt;
  }
  // A schema newer (or older) than the binary: the server role refuses to start on it.
  ASSERT_OK(db().WithOwnerTx([](soci::session& sql) {
    sql << "INSERT INTO schema_migrations(version, name, applied_at) VALUES (9999, 'future', 0)";
    return Status::Ok();
  }));
  Status st = srv.Migrate();
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("sinyal migrate"), std::string::npos) << st.ToString();
  ASSERT_OK(db().WithOwnerTx([](soci::session& sql) {
    sql << "DELETE FROM schema_migrations WHERE version = 9999";
    return Status::Ok();
  }));
  srv.Close();
}

TEST_P(PostgresRlsTest, EveryTenantTableHasForcedRowLevelSecurity) {
  int tenant_tables = 0, protected_tables = 0;
  ASSERT_OK(db().WithTx([&](soci::session& sql) {
    sql << "SELECT COUNT(*), COALESCE(SUM(CASE WHEN c.relrowsecurity AND c.relforcerowsecurity "
           "THEN 1 ELSE 0 END), 0) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
           "WHERE n.nspname = current_schema() AND c.relkind = 'r' AND EXISTS (SELECT 1 FROM "
           "pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id')",
        soci::into(tenant_tables), soci::into(protected_tables);
    return Status::Ok();
  }));
  EXPECT_GE(tenant_tables, 3);  // users, refresh_tokens, api_keys (+ later modules' tables)
  EXPECT_EQ(protected_tables, tenant_tables);
}

TEST_P(PostgresRlsTest, MigrateRefusesTenantTableWithoutRls) {
  ASSERT_OK(db().WithOwnerTx([](soci::session& sql) {
    sql << "CREATE TABLE forgotten (id BIGINT, tenant_id BIGINT)";
    return Status::Ok();
  }));
  Status st = db().Migrate();
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("forgotten"), std::string::npos) << st.ToString();
}

TEST_P(PostgresRlsTest, ReconnectsAfterTheServerDropsTheConnection) {
  DatabaseOptions opts = test_db().options();
  opts.pool_size = 1;
  auto one = Database::Open(opts);
  ASSERT_OK(one);
  int pid = 0;
  ASSERT_OK((*one)->WithTx([&](soci::session& sql) {
    sql << "SELECT pg_backend_pid()", soci::into(pid);
    return Status::Ok();
  }));
  ASSERT_GT(pid, 0);
  ASSERT_OK(db().WithOwnerTx([&](soci::session& sql) {  // the backend's own role may end it
    int ok = 0;
    sql << "SELECT CASE WHEN pg_terminate_backend(:p) THEN 1 ELSE 0 END", soci::use(pid),
        soci::into(ok);
    EXPECT_EQ(ok, 1);
    return Status::Ok();
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // The first attempt hits the dead connection; the transaction is re-run on a new one.
  int new_pid = 0;
  ASSERT_OK((*one)->WithTx([&](soci::session& sql) {
    sql << "SELECT pg_backend_pid()", soci::into(new_pid);
    return Status::Ok();
  }));
  EXPECT_NE(new_pid, pid);
  EXPECT_EQ(CountRows(**one, "schema_migrations"), static_cast<int>(AllMigrations().size()));
}

INSTANTIATE_TEST_SUITE_P(Backends, DatabaseTest, SINYAL_DB_BACKENDS, testing::BackendName);
INSTANTIATE_TEST_SUITE_P(PostgresOnly, PostgresRlsTest, ::testing::Values(Backend::kPostgres),
                         testing::BackendName);

}  // namespace
}  // namespace sinyal::store
