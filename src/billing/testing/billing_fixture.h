// Test helpers for billing/: tenants created directly in SQL (no password hashing), times.
#pragma once

#include <memory>
#include <string>

#include "billing/meter.h"
#include "billing/plans.h"
#include "core/clock.h"
#include "core/status.h"
#include "core/testing/test_util.h"
#include "core/time.h"
#include "store/database.h"
#include "store/soci.h"
#include "store/testing/test_db.h"

namespace sinyal::billing::testing {

// Inserts a tenant row (created_at 0) and returns its id.
inline TenantId CreateTenant(store::Database& db, const std::string& name) {
  return store::testing::CreateTenant(db, name, 0);
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

// A fresh migrated database (DbTest, both backends) with the plan store, subscriptions and meter
// over it on a manual clock that starts at 2024-03-01; subclasses set their tenants up after
// `BillingTest::SetUp()` and tear their own services down before `BillingTest::TearDown()`.
class BillingTest : public store::testing::DbTest {
 protected:
  void SetUp() override {
    DbTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    plans_ = std::make_unique<PlanStore>(db(), clock_);
    subs_ = std::make_unique<Subscriptions>(db(), *plans_, clock_);
    meter_ = std::make_unique<Meter>(db(), *subs_);
  }
  void TearDown() override {
    meter_.reset();
    subs_.reset();
    plans_.reset();
    DbTest::TearDown();
  }

  // A new tenant whose subscription (Free) starts at `anchor`.
  TenantId Subscribed(const std::string& name, UnixNanos anchor) {
    const TenantId t = CreateTenant(db(), name);
    EXPECT_TRUE(subs_->Current(t, anchor).ok()) << name;
    return t;
  }
  // One business.predict unit of `t` by user 1 (keyed when `key` is not empty, request hash "h").
  static MeterCall PredictCall(TenantId t, const std::string& key = "") {
    MeterCall c;
    c.tenant = t;
    c.user = UserId(1);
    c.endpoint = "business.predict";
    c.idempotency_key = key;
    if (!key.empty()) c.request_hash = "h";
    return c;
  }

  ManualClock clock_{T("2024-03-01T00:00:00Z")};
  std::unique_ptr<PlanStore> plans_;
  std::unique_ptr<Subscriptions> subs_;
  std::unique_ptr<Meter> meter_;
};

}  // namespace sinyal::billing::testing
