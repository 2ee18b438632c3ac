#include "billing/retention.h"

#include <gtest/gtest.h>

#include "billing/meter.h"
#include "billing/testing/billing_fixture.h"
#include "store/testing/test_db.h"

namespace sinyal::billing {
namespace {

using testing::CountRows;
using testing::T;

class RetentionTest : public testing::BillingTest {
 protected:
  void SetUp() override {
    BillingTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    a_ = Subscribed("alpha", T("2024-03-01T00:00:00Z"));
    b_ = Subscribed("beta", T("2024-03-01T00:00:00Z"));
  }

  // Charges one keyed call at `at`; returns true when it was a replay (no charge).
  bool Charge(TenantId t, const std::string& key, UnixNanos at) {
    auto out = meter_->Reserve(PredictCall(t, key), at);
    EXPECT_OK(out);
    if (!out.ok()) return false;
    if (out->replay) return true;
    EXPECT_OK(meter_->Commit(std::move(out->reservation), {{"prediction", key}}));
    return false;
  }
  bool HasKey(TenantId t, const std::string& key) {
    long long n = -1;
    EXPECT_OK(db().WithTx([&](soci::session& sql) -> Status {
      long long tid = t.value();
      sql << "SELECT COUNT(*) FROM idempotency_keys WHERE tenant_id = :t AND idem_key = :k",
          soci::use(tid, "t"), soci::use(key, "k"), soci::into(n);
      return Status::Ok();
    }));
    return n == 1;
  }

  TenantId a_, b_;
};

TEST_P(RetentionTest, DeletesOnlyRecordsOlderThanTheWindowInBatchesAndKeepsTheLedger) {
  const UnixNanos now = T("2024-03-10T12:00:00Z");
  // 7 old keys (a: 4, b: 3), one exactly at the cut-off (kept: strictly older is deleted), and
  // 2 recent ones.
  for (int i = 0; i < 4; ++i)
    Charge(a_, "old-a" + std::to_string(i), T("2024-03-02T00:00:00Z") + i);
  for (int i = 0; i < 3; ++i)
    Charge(b_, "old-b" + std::to_string(i), T("2024-03-05T00:00:00Z") + i);
  Charge(a_, "edge", now - 72 * kNanosPerHour);
  Charge(a_, "new-a", T("2024-03-10T00:00:00Z"));
  Charge(b_, "new-b", T("2024-03-10T11:00:00Z"));
  meter_->Flush();
  ASSERT_EQ(CountRows(db(), "idempotency_keys", a_), 6);
  ASSERT_EQ(CountRows(db(), "idempotency_keys", b_), 4);
  const int64_t ledger_a = CountRows(db(), "usage_ledger", a_);
  const int64_t ledger_b = CountRows(db(), "usage_ledger", b_);
  ASSERT_EQ(ledger_a, 6);
  ASSERT_EQ(ledger_b, 4);

  // Batches of 3, at most 2 per call: the first call deletes 6 and says there may be more.
  IdempotencyRetentionOptions o;
  o.batch_rows = 3;
  o.max_batches = 2;
  auto first = PurgeExpiredIdempotencyKeys(db(), now, o);
  ASSERT_OK(first);
  EXPECT_EQ(first->deleted, 6);
  EXPECT_EQ(first->batches, 2);
  EXPECT_TRUE(first->more);
  // Oldest first: all of a's (2024-03-02) went before b's (2024-03-05).
  EXPECT_FALSE(HasKey(a_, "old-a3"));
  EXPECT_TRUE(HasKey(b_, "old-b2"));
  auto second = PurgeExpiredIdempotencyKeys(db(), now, o);
  ASSERT_OK(second);
  EXPECT_EQ(second->deleted, 1);
  EXPECT_EQ(second->batches, 1);
  EXPECT_FALSE(second->more);
  auto third = PurgeExpiredIdempotencyKeys(db(), now, o);
  ASSERT_OK(third);
  EXPECT_EQ(third->deleted, 0);

  EXPECT_FALSE(HasKey(b_, "old-b2"));
  EXPECT_TRUE(HasKey(a_, "edge"));
  EXPECT_TRUE(HasKey(a_, "new-a"));
  EXPECT_TRUE(HasKey(b_, "new-b"));
  EXPECT_EQ(CountRows(db(), "idempotency_keys", a_), 2);
  EXPECT_EQ(CountRows(db(), "idempotency_keys", b_), 1);
  // The append-only ledger keeps every charged call.
  EXPECT_EQ(CountRows(db(), "usage_ledger", a_), ledger_a);
  EXPECT_EQ(CountRows(db(), "usage_ledger", b_), ledger_b);
}

TEST_P(RetentionTest, AnExpiredKeyIsANewCallOnceNoMeterRemembersIt) {
  const UnixNanos first = T("2024-03-02T00:00:00Z");
  const UnixNanos later = first + 80 * kNanosPerHour;  // beyond the default 72 h
  EXPECT_FALSE(Charge(a_, "k1", first));
  meter_->Flush();
  ASSERT_OK(PurgeExpiredIdempotencyKeys(db(), later));
  EXPECT_FALSE(HasKey(a_, "k1"));
  // The same Meter still holds k1 among its recent keys (memory, FIFO of MeterOptions::recent_keys):
  // it replays the first answer, no charge.
  EXPECT_TRUE(Charge(a_, "k1", later));
  EXPECT_EQ(CountRows(db(), "usage_ledger", a_), 1);
  // A Meter without it in memory (restart, another server) finds no record: a new call, charged.
  meter_.reset();
  meter_ = std::make_unique<Meter>(db(), *subs_);
  EXPECT_FALSE(Charge(a_, "k1", later));
  meter_->Flush();
  EXPECT_EQ(CountRows(db(), "usage_ledger", a_), 2);
  EXPECT_TRUE(HasKey(a_, "k1"));
}

TEST_P(RetentionTest, BadOptionsNameTheOption) {
  IdempotencyRetentionOptions o;
  o.retention_hours = 0;
  EXPECT_EQ(PurgeExpiredIdempotencyKeys(db(), T("2024-03-10T00:00:00Z"), o).status().field(),
            "retention_hours");
  o = {};
  o.batch_rows = 0;
  EXPECT_EQ(PurgeExpiredIdempotencyKeys(db(), T("2024-03-10T00:00:00Z"), o).status().field(),
            "batch_rows");
  o = {};
  o.max_batches = 0;
  EXPECT_EQ(PurgeExpiredIdempotencyKeys(db(), T("2024-03-10T00:00:00Z"), o).status().field(),
            "max_batches");
}

INSTANTIATE_TEST_SUITE_P(Backends, RetentionTest, SINYAL_DB_BACKENDS, store::testing::BackendName);

}  // namespace
}  // namespace sinyal::billing
