#include "store/live_feed.h"

#include <cmath>

#include "core/testing/test_util.h"
#include "store/database.h"
#include "store/testing/test_db.h"

namespace sinyal::store {
namespace {

using market::Bar;
using market::SeriesKey;
using market::Tick;
using market::Timeframe;
using testing::DbTest;

constexpr UnixNanos kT0 = 1'710'496'800LL * kNanosPerSecond;  // 2024-03-15T10:00:00Z
constexpr int64_t kSec = kNanosPerSecond;

FeedEvent T(const std::string& sym, UnixNanos t, double bid) {
  return {sym, Tick{.time = t, .bid = bid}};
}

class LiveFeedTest : public DbTest {
 protected:
  void SetUp() override {
    DbTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    store_ = std::make_unique<BarStore>(db(), clock_);
    feed_ = std::make_unique<LiveFeed>(
        *store_, clock_, LiveFeedOptions{.aggregator = {.grace_nanos = 2 * kSec}},
        [this](const SeriesKey& k, const Bar& b) { heard_.emplace_back(k, b); });
  }
  void TearDown() override {
    feed_.reset();
    store_.reset();
    DbTest::TearDown();
  }
  ManualClock clock_{kT0 + kNanosPerDay};  // the ticks below are in the past
  std::unique_ptr<BarStore> store_;
  std::unique_ptr<LiveFeed> feed_;
  std::vector<std::pair<SeriesKey, Bar>> heard_;
};

TEST_P(LiveFeedTest, TicksBecomeStoredBarsOnEveryTimeframe) {
  // Ticks in minutes 0, 1, 3 (minute 2 silent: no bar) and one an hour later.
  std::vector<FeedEvent> batch = {
      T("EURUSD", kT0 + 1 * kSec, 1.1000), T("EURUSD", kT0 + 30 * kSec, 1.1010),
      T("EURUSD", kT0 + 61 * kSec, 1.0990), T("EURUSD", kT0 + 185 * kSec, 1.1020),
      T("EURUSD", kT0 + 3605 * kSec, 1.1100)};
  auto r = feed_->Add(batch);
  ASSERT_OK(r);
  EXPECT_EQ(r->accepted, 5);
  EXPECT_EQ(r->late, 0);
  // Final: M1 at 0, 1, 3; M5 at 0; M15, M30 at 0; H1 at 0 (bucket ends at 3600 <= 3603).
  EXPECT_EQ(r->bars_closed, 3 + 1 + 1 + 1 + 1);
  EXPECT_EQ(r->bars_written, r->bars_closed);

  auto m1 = store_->Query(std::nullopt, {.key = {"EURUSD", Timeframe::kM1}});
  ASSERT_OK(m1);
  ASSERT_EQ(m1->bars.size(), 3u);
  EXPECT_EQ(m1->bars[0].time(), kT0);
  EXPECT_EQ(m1->bars[0].open(), 1.1000);
  EXPECT_EQ(m1->bars[0].close(), 1.1010);
  EXPECT_EQ(m1->bars[2].time(), kT0 + 3 * 60 * kSec);  // the gap stays a gap
  auto h1 = store_->Latest(std::nullopt, {"EURUSD", Timeframe::kH1}, 1);
  ASSERT_OK(h1);
  ASSERT_EQ(h1->bars.size(), 1u);
  EXPECT_EQ(h1->bars[0].high(), 1.1020);
  EXPECT_EQ(h1->bars[0].low(), 1.0990);
  EXPECT_EQ(h1->bars[0].volume(), 4);
  EXPECT_FALSE(store_->Resolve(std::nullopt, {"EURUSD", Timeframe::kD1}).ok());  // still open
  EXPECT_EQ(heard_.size(), 7u);
}

TEST_P(LiveFeedTest, LateAndInvalidTicksAreCountedAndDropped) {
  ASSERT_OK(feed_->Add(std::vector<FeedEvent>{T("EURUSD", kT0 + 10 * kSec, 1.10),
                                              T("EURUSD", kT0 + 65 * kSec, 1.11)}));
  // Minute 0 is final (watermark 63 s). A tick for it is late; NaN and a bad symbol rejected.
  std::vector<FeedEvent> batch = {
      T("EURUSD", kT0 + 20 * kSec, 1.50), T("EURUSD", kT0 + 66 * kSec, std::nan("")),
      T("eur-usd", kT0 + 66 * kSec, 1.1), T("EURUSD", kT0 + 67 * kSec, 1.12),
      T("EURUSD", kT0 + 2 * kNanosPerDay, 1.12)};  // future: rejected
  auto r = feed_->Add(batch);
  ASSERT_OK(r);
  EXPECT_EQ(r->accepted, 1);
  EXPECT_EQ(r->late, 1);
  EXPECT_EQ(r->rejected, 3);
  ASSERT_EQ(r->errors.size(), 4u);
  EXPECT_EQ(r->errors[0].index, 2u);  // symbol errors are found first
  bool saw_late = false;
  for (const auto& e : r->errors) saw_late = saw_late || (e.late && e.index == 0);
  EXPECT_TRUE(saw_late);
  auto m1 = store_->Query(std::nullopt, {.key = {"EURUSD", Timeframe::kM1}});
  ASSERT_OK(m1);
  ASSERT_EQ(m1->bars.size(), 1u);
  EXPECT_EQ(m1->bars[0].high(), 1.10) << "a late tick never changes a closed bar";
}

TEST_P(LiveFeedTest, AdvanceLiveClosesQuietMinutesButNotOldReplays) {
  ASSERT_OK(feed_->Add(std::vector<FeedEvent>{T("EURUSD", kT0 + 5 * kSec, 1.10)}));
  // A replay of 2018 data: far from the wall clock.
  const UnixNanos old = kT0 - 2000LL * 86400 * kSec;
  ASSERT_OK(feed_->Add(std::vector<FeedEvent>{T("GBPUSD", old + 5 * kSec, 1.30)}));
  clock_.Set(kT0 + 90 * kSec);
  auto r = feed_->AdvanceLive();
  ASSERT_OK(r);
  EXPECT_EQ(r->bars_closed, 1);  // EURUSD minute 0 only
  EXPECT_TRUE(store_->Resolve(std::nullopt, {"EURUSD", Timeframe::kM1}).ok());
  EXPECT_FALSE(store_->Resolve(std::nullopt, {"GBPUSD", Timeframe::kM1}).ok());
  // Flush ends the replay: its bars close on every timeframe.
  auto f = feed_->Flush("GBPUSD");
  ASSERT_OK(f);
  EXPECT_EQ(f->bars_closed, 7);
  EXPECT_EQ(feed_->Flush("USDJPY").status().code(), StatusCode::kNotFound);
}

TEST_P(LiveFeedTest, LiveBarsNeverOverwriteImportedOnes) {
  auto imported = *Bar::Create(kT0, 1.2, 1.3, 1.1, 1.25, 10);
  ASSERT_OK(store_->Import(SeriesOwner::Platform(), {"EURUSD", Timeframe::kM1},
                           std::vector<Bar>{imported}, {}));
  auto r = feed_->Add(std::vector<FeedEvent>{T("EURUSD", kT0 + 5 * kSec, 1.10),
                                             T("EURUSD", kT0 + 65 * kSec, 1.11)});
  ASSERT_OK(r);
  EXPECT_EQ(r->bars_conflicting, 1);
  auto m1 = store_->Latest(std::nullopt, {"EURUSD", Timeframe::kM1}, 5);
  ASSERT_OK(m1);
  ASSERT_EQ(m1->bars.size(), 1u);
  EXPECT_EQ(m1->bars[0], imported);
  EXPECT_TRUE(heard_.empty());  // the conflicting bar was not stored, so not announced
}

TEST_P(LiveFeedTest, ReplayedM1BarsAggregateLikeTheirSource) {
  std::vector<FeedEvent> batch;
  for (int m = 0; m < 10; ++m) {
    const double p = 1.1 + m * 1e-4;
    batch.push_back(
        {"EURUSD", *Bar::Create(kT0 + m * 60 * kSec, p, p + 2e-4, p - 1e-4, p + 1e-4, 5)});
  }
  ASSERT_OK(feed_->Add(batch));
  ASSERT_OK(feed_->Flush("EURUSD"));
  auto m5 = store_->Query(std::nullopt, {.key = {"EURUSD", Timeframe::kM5}});
  ASSERT_OK(m5);
  ASSERT_EQ(m5->bars.size(), 2u);
  EXPECT_EQ(m5->bars[0].open(), 1.1);
  EXPECT_DOUBLE_EQ(m5->bars[0].close(), 1.1 + 4e-4 + 1e-4);
  EXPECT_DOUBLE_EQ(m5->bars[1].high(), 1.1 + 9e-4 + 2e-4);
}

INSTANTIATE_TEST_SUITE_P(Backends, LiveFeedTest, SINYAL_DB_BACKENDS, testing::BackendName);

}  // namespace
}  // namespace sinyal::store
