// The security audit trail's table and its two functions, on SQLite and PostgreSQL: rows are
// appended and listed newest first per tenant, never updated or deleted (for any role), and on
// PostgreSQL a tenant's scope sees and writes only its own rows.
#include "store/security_audit.h"

#include "core/testing/test_util.h"
#include "store/database.h"
#include "store/soci.h"
#include "store/testing/test_db.h"

namespace sinyal::store {
namespace {

using testing::DbTest;

class SecurityAuditTest : public DbTest {
 protected:
  TenantId NewTenant(const std::string& name) { return testing::CreateTenant(db(), name); }
  void Append(TenantId t, std::string_view kind, const std::string& subject, UnixNanos at) {
    ASSERT_OK(db().WithTenantTx(t, [&](soci::session& sql) {
      AppendSecurityEvent(sql, t,
                          {.kind = std::string(kind),
                           .actor = "user:1",
                           .subject = subject,
                           .data = R"({"ip":"203.0.113.9"})"},
                          at);
      return Status::Ok();
    }));
  }
};

TEST_P(SecurityAuditTest, AppendsListsNewestFirstPerTenantAndPages) {
  const TenantId a = NewTenant("a"), b = NewTenant("b");
  Append(a, kAuditSignIn, "user:1", 10);
  Append(b, kAuditSignInFailed, "user:2", 11);
  Append(a, kAuditApiKeyCreated, "api_key:5", 12);
  Append(a, kAuditApiKeyRevoked, "api_key:5", 13);

  auto mine = ListSecurityEvents(db(), {.tenant = a});
  ASSERT_OK(mine);
  ASSERT_EQ(mine->size(), 3u);
  EXPECT_EQ((*mine)[0].kind, kAuditApiKeyRevoked);
  EXPECT_EQ((*mine)[0].subject, "api_key:5");
  EXPECT_EQ((*mine)[0].at, 13);
  EXPECT_EQ((*mine)[0].tenant, a);
  EXPECT_EQ((*mine)[0].data, R"({"ip":"203.0.113.9"})");
  EXPECT_EQ((*mine)[2].kind, kAuditSignIn);
  for (const SecurityEvent& e : *mine) EXPECT_EQ(e.tenant, a);

  auto page = ListSecurityEvents(db(), {.tenant = a, .before_id = (*mine)[0].id, .limit = 1});
  ASSERT_OK(page);
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].kind, kAuditApiKeyCreated);
  auto kind = ListSecurityEvents(db(), {.tenant = a, .kind = std::string(kAuditSignIn)});
  ASSERT_OK(kind);
  ASSERT_EQ(kind->size(), 1u);

  auto all = ListSecurityEvents(db(), {});  // operators: every tenant
  ASSERT_OK(all);
  EXPECT_EQ(all->size(), 4u);
  auto theirs = ListSecurityEvents(db(), {.tenant = b});
  ASSERT_OK(theirs);
  ASSERT_EQ(theirs->size(), 1u);
  EXPECT_EQ((*theirs)[0].kind, kAuditSignInFailed);
}

TEST_P(SecurityAuditTest, RowsCanNeverBeChangedOrDeleted) {
  const TenantId a = NewTenant("a");
  Append(a, kAuditSignIn, "user:1", 10);
  // System scope (the table owner on PostgreSQL) and the tenant's scope alike.
  EXPECT_FALSE(db().WithTx([](soci::session& sql) {
                     sql << "UPDATE security_audit SET kind = 'nothing'";
                     return Status::Ok();
                   })
                   .ok());
  EXPECT_FALSE(db().WithTx([](soci::session& sql) {
                     sql << "DELETE FROM security_audit";
                     return Status::Ok();
                   })
                   .ok());
  // In the tenant's scope: SQLite's trigger refuses; on PostgreSQL the app role holds no DELETE
  // privilege. Either way the row stays (below).
  Status tenant_delete = db().WithTenantTx(a, [](soci::session& sql) {
    sql << "DELETE FROM security_audit";
    return Status::Ok();
  });
  EXPECT_FALSE(tenant_delete.ok());
  auto rows = ListSecurityEvents(db(), {.tenant = a});
  ASSERT_OK(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].kind, kAuditSignIn);
}

TEST_P(SecurityAuditTest, TenantScopeSeesAndWritesOnlyItsOwnRowsUnderRls) {
  if (!is_postgres()) GTEST_SKIP() << "row-level security is PostgreSQL's";
  const TenantId a = NewTenant("a"), b = NewTenant("b");
  Append(a, kAuditSignIn, "user:1", 10);
  Append(b, kAuditSignIn, "user:2", 11);
  long long seen = 0;
  ASSERT_OK(db().WithTenantReadTx(a, [&](soci::session& sql) {
    sql << "SELECT COUNT(*) FROM security_audit", soci::into(seen);  // no filter: RLS decides
    return Status::Ok();
  }));
  EXPECT_EQ(seen, 1);
  // Writing another tenant's row from tenant a's scope is refused.
  EXPECT_FALSE(db().WithTenantTx(a,
                                 [&](soci::session& sql) {
                                   AppendSecurityEvent(
                                       sql, b,
                                       {.kind = "sign_in", .actor = "user:1", .subject = "user:2"},
                                       12);
                                   return Status::Ok();
                                 })
                   .ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, SecurityAuditTest, SINYAL_DB_BACKENDS, testing::BackendName);

}  // namespace
}  // namespace sinyal::store
