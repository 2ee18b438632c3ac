// Test helpers for billing/: tenants created directly in SQL (no password hashing), times.
#pragma once

#include <string>

#include "core/status.h"
#include "core/testing/test_util.h"
#include "core/time.h"
#include "store/database.h"
#include "store/soci.h"

namespace sinyal::billing::testing {

// Inserts a tenant row and returns its id.
inline TenantId CreateTenant(store::Database& db, const std::string& name) {
  long long id = 0;
  Status st = db.WithTx([&](soci::session& sql) -> Status {
    sql << "INSERT INTO tenants (name, created_at) VALUES (:n, 0)", soci::use(name, "n");
    sql << "SELECT MAX(id) FROM tenants WHERE name = :n", soci::use(name, "n"), soci::into(id);
    return Status::Ok();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  return TenantId(id);
}

// "2024-01-31T10:00:00Z" -> UnixNanos (the test fails on a bad literal).
inline UnixNanos T(const std::string& iso) {
  auto r = ParseIso8601(iso);
  EXPECT_TRUE(r.ok()) << iso;
  return r.ok() ? *r : 0;
}

// COUNT(*) of `table` rows of `tenant` (system scope).
inline int64_t CountRows(store::Database& db, const std::string& table, TenantId tenant) {
  long long n = -1;
  Status st = db.WithTx([&](soci::session& sql) -> Status {
    long long t = tenant.value();
    sql << "SELECT COUNT(*) FROM " + table + " WHERE tenant_id = :t", soci::use(t, "t"),
        soci::into(n);
    return Status::Ok();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  return n;
}

}  // namespace sinyal::billing::testing
