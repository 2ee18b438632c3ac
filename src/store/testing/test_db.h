// Fresh, migrated databases for tests, on both backends (DESIGN.md: the same suite runs on
// SQLite and PostgreSQL).
//
//   class FooTest : public sinyal::store::testing::DbTest {};
//   TEST_P(FooTest, Works) { Database& db = this->db(); ... }
//   INSTANTIATE_TEST_SUITE_P(Backends, FooTest, SINYAL_DB_BACKENDS,
//                            sinyal::store::testing::BackendName);
//
// SQLite: a file in a fresh temp dir (WAL, pooled sessions). PostgreSQL ($SINYAL_TEST_PG_URL):
// a uniquely named schema per test, dropped at the end, so tests never collide and can run in
// parallel; without the URL the test is skipped, or fails under CI (SINYAL_REQUIRE_POSTGRES).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "core/clock.h"
#include "core/testing/test_util.h"
#include "store/database.h"

namespace sinyal::store::testing {

enum class Backend { kSqlite, kPostgres };

#define SINYAL_DB_BACKENDS                                      \
  ::testing::Values(::sinyal::store::testing::Backend::kSqlite, \
                    ::sinyal::store::testing::Backend::kPostgres)

std::string BackendName(const ::testing::TestParamInfo<Backend>& info);

// One test's database. Not migrated by Create(); DbTest migrates.
class TestDatabase {
 public:
  // REQUIRES: for kPostgres, PostgresTestUrl() is not empty.
  static Result<std::unique_ptr<TestDatabase>> Create(Backend backend, int pool_size = 4);
  ~TestDatabase();  // closes the database, removes the file / drops the schema

  Database& db() { return *db_; }
  const DatabaseOptions& options() const { return options_; }
  // Opens another handle on the same database (e.g. a second "process").
  Result<std::unique_ptr<Database>> OpenAnother() const;

 private:
  TestDatabase() = default;
  Backend backend_ = Backend::kSqlite;
  DatabaseOptions options_;  // pool_size 1 for OpenAnother is enough
  std::unique_ptr<sinyal::testing::TempDir> dir_;
  std::unique_ptr<Database> db_;
};

// Parameterized fixture: a fresh migrated database per test, on the backend of the param.
class DbTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override;
  void TearDown() override { test_db_.reset(); }
  Database& db() { return test_db_->db(); }
  TestDatabase& test_db() { return *test_db_; }
  bool is_postgres() const { return GetParam() == Backend::kPostgres; }

 private:
  std::unique_ptr<TestDatabase> test_db_;
};

// A migrated in-memory SQLite database (one connection), or null after a test failure naming
// why: `db_ = OpenMemoryDatabase(); ASSERT_NE(db_, nullptr);`.
std::unique_ptr<Database> OpenMemoryDatabase();

// DbTest with two tenants, a_ ("a") and b_ ("b"), created before the test: the usual set-up of
// tenant-isolation tests. Subclasses call TwoTenantDbTest::SetUp() first.
class TwoTenantDbTest : public DbTest {
 protected:
  void SetUp() override;
  TenantId a_, b_;
};

// Inserts a tenant row named `name` (created_at as given) straight in SQL, without the account
// service's password hashing, and returns its id; the test fails if the insert does.
TenantId CreateTenant(Database& db, const std::string& name, UnixNanos created_at = 1);

}  // namespace sinyal::store::testing
