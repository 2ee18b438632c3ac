#include "store/testing/test_db.h"

#include <unistd.h>

#include <atomic>
#include <random>

#include "store/soci.h"

namespace sinyal::store::testing {

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

Result<std::unique_ptr<TestDatabase>> TestDatabase::Create(Backend backend, int pool_size) {
  std::unique_ptr<TestDatabase> t(new TestDatabase());
  t->backend_ = backend;
  t->options_.pool_size = pool_size;
  if (backend == Backend::kSqlite) {
    t->dir_ = std::make_unique<sinyal::testing::TempDir>();
    t->options_.url = "sqlite://" + (t->dir_->path() / "db" / "test.db").string();
  } else {
    static std::atomic<int> counter{0};
    std::random_device rd;
    t->options_.url = sinyal::testing::PostgresTestUrl();
    t->options_.schema = "t_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" +
                         std::to_string(rd() % 1000000);
  }
  auto db = Database::Open(t->options_);
  if (!db.ok()) return db.error();
  t->db_ = std::move(db).value();
  return t;
}

Result<std::unique_ptr<Database>> TestDatabase::OpenAnother() const {
  return Database::Open(options_);
}

TestDatabase::~TestDatabase() {
  if (db_) db_->Close();
  db_.reset();
  if (backend_ == Backend::kPostgres && !options_.schema.empty()) {
    try {
      auto other = OpenAnother();
      if (!other.ok()) throw std::runtime_error(other.error().ToString());
      Status st = (*other)->WithOwnerTx([&](soci::session& sql) {
        sql << "DROP SCHEMA IF EXISTS \"" + options_.schema + "\" CASCADE";
        return Status::Ok();
      });
      if (!st.ok()) throw std::runtime_error(st.ToString());
    } catch (const std::exception& e) {
      ADD_FAILURE() << "could not drop test schema " << options_.schema << ": " << e.what();
    }
  }
}

void DbTest::SetUp() {
  if (GetParam() == Backend::kPostgres) SINYAL_REQUIRE_POSTGRES();
  auto t = TestDatabase::Create(GetParam());
  ASSERT_TRUE(t.ok()) << t.error().ToString();
  test_db_ = std::move(t).value();
  ASSERT_OK(test_db_->db().Migrate());
}

std::unique_ptr<Database> OpenMemoryDatabase() {
  auto db = Database::Open({.url = "sqlite::memory:"});
  if (!db.ok()) {
    ADD_FAILURE() << db.error().ToString();
    return nullptr;
  }
  if (Status st = (*db)->Migrate(); !st.ok()) {
    ADD_FAILURE() << st.ToString();
    return nullptr;
  }
  return std::move(db).value();
}

void TwoTenantDbTest::SetUp() {
  DbTest::SetUp();
  if (IsSkipped() || HasFatalFailure()) return;
  a_ = CreateTenant(db(), "a");
  b_ = CreateTenant(db(), "b");
}

TenantId CreateTenant(Database& db, const std::string& name, UnixNanos created_at) {
  long long id = 0;
  long long at = created_at;
  Status st = db.WithTx([&](soci::session& sql) {
    sql << "INSERT INTO tenants(name, created_at) VALUES (:n, :at) RETURNING id", soci::use(name),
        soci::use(at), soci::into(id);
    return Status::Ok();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  return TenantId(id);
}

}  // namespace sinyal::store::testing
