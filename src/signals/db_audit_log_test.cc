// DbAuditLog on SQLite and PostgreSQL: round trip of every field, seq per (owner, series),
// tenant isolation, platform rows, paging, and the append-only guarantee (UPDATE rejected on both
// backends; on PostgreSQL a tenant transaction cannot delete either).
#include "signals/db_audit_log.h"

#include <cmath>

#include "models/registry.h"
#include "store/soci.h"
#include "store/testing/test_db.h"

namespace sinyal::signals {
namespace {

using ::sinyal::store::testing::CreateTenant;

AuditRecord Rec(TenantId t, AuditAction a, const std::string& symbol = "EURUSD") {
  AuditRecord r;
  r.tenant = t;
  r.symbol = symbol;
  r.timeframe = "H1";
  r.action = a;
  r.time = 1'700'000'000LL * kNanosPerSecond;
  return r;
}

class DbAuditLogTest : public store::testing::TwoTenantDbTest {
 protected:
  void SetUp() override {
    TwoTenantDbTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    log_ = std::make_unique<DbAuditLog>(db());
  }
  std::unique_ptr<DbAuditLog> log_;
};

TEST_P(DbAuditLogTest, RoundTripsEveryFieldInOrderPerOwnerAndSeries) {
  AuditRecord r = Rec(a_, AuditAction::kChallengerEvaluated);
  r.champion_version = 3;
  r.challenger_version = 4;
  r.decision = true;
  r.reasons = {"challenger log loss 0.61 < 0.70", "window: 500 rows, \"quoted\""};
  r.figures = {{"champion.log_loss", 0.7012345678901234},
               {"n", 500},
               {"paired.p", 1e-12},
               {"bad", std::nan("")}};
  ASSERT_EQ(*log_->Append(r), 1);
  ASSERT_EQ(*log_->Append(Rec(a_, AuditAction::kPromoted)), 2);
  ASSERT_EQ(*log_->Append(Rec(a_, AuditAction::kDriftCheck, "GBPUSD")), 1);  // own seq per series
  ASSERT_EQ(*log_->Append(Rec(b_, AuditAction::kDriftCheck)), 1);            // and per tenant

  auto got = log_->List(a_, {"EURUSD", market::Timeframe::kH1});
  ASSERT_OK(got);
  ASSERT_EQ(got->size(), 2u);
  const AuditRecord& g = (*got)[0];
  EXPECT_EQ(g.seq, 1);
  EXPECT_EQ(g.tenant, a_);
  EXPECT_EQ(g.time, r.time);
  EXPECT_EQ(g.action, AuditAction::kChallengerEvaluated);
  EXPECT_EQ(g.champion_version, 3);
  EXPECT_EQ(g.challenger_version, 4);
  EXPECT_TRUE(g.decision);
  EXPECT_EQ(g.reasons, r.reasons);
  EXPECT_EQ(g.figures.at("champion.log_loss"), 0.7012345678901234);  // exact round trip
  EXPECT_EQ(g.figures.at("n"), 500);
  EXPECT_EQ(g.figures.at("paired.p"), 1e-12);
  EXPECT_TRUE(std::isnan(g.figures.at("bad")));
  EXPECT_EQ((*got)[1].action, AuditAction::kPromoted);
  EXPECT_FALSE((*got)[1].decision);
  EXPECT_EQ(g.ToJson()["action"], "challenger_evaluated");

  // Tenant isolation: b sees only its own record; an unknown series is empty.
  auto b = log_->List(b_, {"EURUSD", market::Timeframe::kH1});
  ASSERT_OK(b);
  ASSERT_EQ(b->size(), 1u);
  EXPECT_EQ((*b)[0].action, AuditAction::kDriftCheck);
  EXPECT_TRUE(log_->List(b_, {"GBPUSD", market::Timeframe::kH1})->empty());
}

TEST_P(DbAuditLogTest, PlatformRecordsAndPaging) {
  for (int i = 0; i < 5; ++i)
    ASSERT_OK(log_->Append(Rec(models::kPlatformTenant, AuditAction::kDriftCheck)));
  ASSERT_OK(log_->Append(Rec(a_, AuditAction::kDriftCheck)));
  auto platform = log_->List(models::kPlatformTenant, {"EURUSD", market::Timeframe::kH1});
  ASSERT_OK(platform);
  EXPECT_EQ(platform->size(), 5u);
  EXPECT_EQ(log_->List(a_, {"EURUSD", market::Timeframe::kH1})->size(),
            1u);  // the tenant's own only

  auto page = log_->Page(models::kPlatformTenant, {"EURUSD", market::Timeframe::kH1}, 0, 2);
  ASSERT_OK(page);
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].seq, 5);
  EXPECT_EQ((*page)[1].seq, 4);
  auto next =
      log_->Page(models::kPlatformTenant, {"EURUSD", market::Timeframe::kH1}, (*page)[1].seq, 10);
  ASSERT_OK(next);
  ASSERT_EQ(next->size(), 3u);
  EXPECT_EQ((*next)[0].seq, 3);
  EXPECT_EQ((*next)[2].seq, 1);
  EXPECT_EQ(log_->Page(a_, {"EURUSD", market::Timeframe::kH1}, 0, 0).status().field(), "limit");
  EXPECT_EQ(log_->Page(a_, {"EURUSD", market::Timeframe::kH1}, -1, 5).status().field(), "before");
}

TEST_P(DbAuditLogTest, BadKeysNameTheField) {
  EXPECT_EQ(log_->Append(Rec(a_, AuditAction::kDriftCheck, "EUR USD")).status().field(), "symbol");
  AuditRecord r = Rec(a_, AuditAction::kDriftCheck);
  r.timeframe = "";
  EXPECT_EQ(log_->Append(r).status().field(), "timeframe");
  EXPECT_EQ(log_->List(TenantId(-3), {"EURUSD", market::Timeframe::kH1}).status().field(),
            "tenant");
  EXPECT_TRUE(log_->List(a_, {"EURUSD", market::Timeframe::kH1})->empty());  // nothing was stored
}

TEST_P(DbAuditLogTest, AppendOnly) {
  ASSERT_OK(log_->Append(Rec(a_, AuditAction::kPromoted)));
  // UPDATE is rejected by a trigger, even in system scope.
  Status upd = db().WithTx([&](soci::session& sql) {
    sql << "UPDATE retraining_audit SET decision = 1";
    return Status::Ok();
  });
  EXPECT_FALSE(upd.ok());
  if (is_postgres()) {
    // The app role (tenant scope) holds no DELETE privilege on an append-only table.
    EXPECT_FALSE(db().WithTenantTx(a_,
                                   [&](soci::session& sql) {
                                     sql << "DELETE FROM retraining_audit WHERE tenant_id = " +
                                                std::to_string(a_.value());
                                     return Status::Ok();
                                   })
                     .ok());
    // And it cannot append a record for another tenant.
    Status other = db().WithTenantTx(a_, [&](soci::session& sql) {
      long long b = b_.value();
      sql << "INSERT INTO retraining_audit (tenant_id, symbol, timeframe, seq, at, action, "
             "champion_version, challenger_version, decision, reasons, figures) VALUES "
             "(:t, 'EURUSD', 'H1', 9, 1, 'promoted', 0, 0, 1, '[]', '{}')",
          soci::use(b, "t");
      return Status::Ok();
    });
    EXPECT_FALSE(other.ok());
  }
  auto got = log_->List(a_, {"EURUSD", market::Timeframe::kH1});
  ASSERT_OK(got);
  ASSERT_EQ(got->size(), 1u);
  EXPECT_FALSE((*got)[0].decision);
  EXPECT_TRUE(log_->List(b_, {"EURUSD", market::Timeframe::kH1})->empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, DbAuditLogTest, SINYAL_DB_BACKENDS, store::testing::BackendName);

}  // namespace
}  // namespace sinyal::signals
