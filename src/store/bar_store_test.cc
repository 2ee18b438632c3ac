#include "store/bar_store.h"

#include <chrono>

#include "core/testing/test_util.h"
#include "core/time.h"
#include "market/csv_import.h"
#include "store/database.h"
#include "store/soci.h"
#include "store/testing/test_db.h"

namespace sinyal::store {
namespace {

using market::Bar;
using market::OverlapPolicy;
using market::SeriesKey;
using market::Timeframe;
using testing::DbTest;

constexpr UnixNanos kT0 = 1'600'000'000LL * kNanosPerSecond / kNanosPerHour * kNanosPerHour;

// Hourly bars at hour offsets `hours` from kT0, prices derived from the hour and `salt`.
std::vector<Bar> Hourly(const std::vector<int>& hours, double salt = 0) {
  std::vector<Bar> out;
  for (int h : hours) {
    const double base = 1.1 + h * 1e-4 + salt;
    out.push_back(*Bar::Create(kT0 + h * kNanosPerHour, base, base + 0.0007, base - 0.0003,
                               base + 0.00011, 100 + h, h % 7, 0.5 * h));
  }
  return out;
}
std::vector<int> Range(int from, int to) {  // [from, to)
  std::vector<int> v;
  for (int i = from; i < to; ++i) v.push_back(i);
  return v;
}

using ::sinyal::store::testing::CreateTenant;

int64_t CountBars(Database& db) {
  long long n = -1;
  EXPECT_OK(db.WithTx([&](soci::session& sql) {
    sql << "SELECT COUNT(*) FROM market_bars", soci::into(n);
    return Status::Ok();
  }));
  return n;
}
int64_t CountSeries(Database& db) {
  long long n = -1;
  EXPECT_OK(db.WithTx([&](soci::session& sql) {
    sql << "SELECT COUNT(*) FROM market_series", soci::into(n);
    return Status::Ok();
  }));
  return n;
}

class BarStoreTest : public DbTest {
 protected:
  void SetUp() override {
    DbTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    store_ = std::make_unique<BarStore>(db(), clock_, BarStoreOptions{.hot_window_bars = 16});
  }
  void TearDown() override {
    store_.reset();
    DbTest::TearDown();
  }
  ManualClock clock_{kT0};
  std::unique_ptr<BarStore> store_;
  const SeriesKey key_{"EURUSD", Timeframe::kH1};
};

TEST_P(BarStoreTest, ImportRoundTripsBarsExactlyAndKeepsGaps) {
  // A gap (hours 5..9 missing) and full-precision doubles that must survive both backends.
  std::vector<Bar> bars = Hourly({0, 1, 2, 3, 4, 10, 11});
  bars.push_back(*Bar::Create(kT0 + 12 * kNanosPerHour, 24.380447387695312, 24.5,
                              1.2911000000000001, 1.2911000000000001, 0.1, 3, 1e-300));
  auto report = store_->Import(SeriesOwner::Platform(), key_, bars, {.source = "test UTC"});
  ASSERT_OK(report);
  EXPECT_TRUE(report->series_created);
  EXPECT_EQ(report->received, 8);
  EXPECT_EQ(report->inserted, 8);
  EXPECT_EQ(report->identical, 0);
  EXPECT_EQ(*report->first, kT0);
  EXPECT_EQ(*report->last, kT0 + 12 * kNanosPerHour);

  auto page = store_->Query(std::nullopt, {.key = key_});
  ASSERT_OK(page);
  ASSERT_EQ(page->bars.size(), bars.size());
  for (size_t i = 0; i < bars.size(); ++i) EXPECT_EQ(page->bars[i], bars[i]) << i;
  EXPECT_FALSE(page->next_cursor.has_value());
  EXPECT_EQ(page->series.source, "test UTC");
  // Gaps stay gaps: nothing between hour 4 and hour 10.
  auto gap = store_->Query(
      std::nullopt, {.key = key_, .from = kT0 + 5 * kNanosPerHour, .to = kT0 + 9 * kNanosPerHour});
  ASSERT_OK(gap);
  EXPECT_TRUE(gap->bars.empty());
  EXPECT_EQ(CountBars(db()), 8);
}

TEST_P(BarStoreTest, ReimportOfIdenticalOverlapSkipsWithoutDuplicates) {
  ASSERT_OK(store_->Import(SeriesOwner::Platform(), key_, Hourly(Range(0, 10)), {}));
  // Overlapping file: hours 5..14, the first five identical.
  auto report = store_->Import(SeriesOwner::Platform(), key_, Hourly(Range(5, 15)), {});
  ASSERT_OK(report);
  EXPECT_FALSE(report->series_created);
  EXPECT_EQ(report->identical, 5);
  EXPECT_EQ(report->inserted, 5);
  EXPECT_EQ(report->conflicts, 0);
  EXPECT_EQ(CountBars(db()), 15);
}

TEST_P(BarStoreTest, ConflictingOverlapIsRejectedAndWritesNothing) {
  ASSERT_OK(store_->Import(SeriesOwner::Platform(), key_, Hourly(Range(0, 10)), {}));
  auto before = store_->Resolve(std::nullopt, key_);
  ASSERT_OK(before);
  // Hours 8..11 with different prices: 8 and 9 conflict, 10 and 11 are new.
  auto report = store_->Import(SeriesOwner::Platform(), key_, Hourly(Range(8, 12), 0.01), {});
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().code(), StatusCode::kConflict);
  EXPECT_EQ(report.error().field(), "on_overlap");
  EXPECT_NE(report.error().message().find("2 imported bar(s) differ"), std::string::npos)
      << report.error().message();
  EXPECT_EQ(CountBars(db()), 10);  // the two new bars were not written either
  auto after = store_->Resolve(std::nullopt, key_);
  ASSERT_OK(after);
  EXPECT_EQ(after->revision, before->revision);  // rolled back
  auto page = store_->Query(std::nullopt, {.key = key_});
  ASSERT_OK(page);
  EXPECT_EQ(page->bars, Hourly(Range(0, 10)));
}

TEST_P(BarStoreTest, KeepExistingAndOverwritePolicies) {
  ASSERT_OK(store_->Import(SeriesOwner::Platform(), key_, Hourly(Range(0, 10)), {}));
  auto keep = store_->Import(SeriesOwner::Platform(), key_, Hourly(Range(8, 12), 0.01),
                             {.overlap = OverlapPolicy::kKeepExisting});
  ASSERT_OK(keep);
  EXPECT_EQ(keep->conflicts, 2);
  EXPECT_EQ(keep->inserted, 2);
  EXPECT_EQ(keep->replaced, 0);
  ASSERT_EQ(keep->first_conflicts.size(), 2u);
  EXPECT_EQ(keep->first_conflicts[0].existing, Hourly({8})[0]);
  EXPECT_EQ(keep->first_conflicts[0].incoming, Hourly({8}, 0.01)[0]);
  auto page = store_->Query(std::nullopt, {.key = key_});
  ASSERT_OK(page);
  ASSERT_EQ(page->bars.size(), 12u);
  EXPECT_EQ(page->bars[8], Hourly({8})[0]);          // kept
  EXPECT_EQ(page->bars[10], Hourly({10}, 0.01)[0]);  // new

  auto over = store_->Import(SeriesOwner::Platform(), key_, Hourly(Range(0, 3), 0.02),
                             {.overlap = OverlapPolicy::kOverwrite, .max_reported_conflicts = 1});
  ASSERT_OK(over);
  EXPECT_EQ(over->replaced, 3);
  EXPECT_EQ(over->conflicts, 3);
  EXPECT_EQ(over->first_conflicts.size(), 1u);  // capped, count exact
  page = store_->Query(std::nullopt, {.key = key_});
  ASSERT_OK(page);
  EXPECT_EQ(page->bars[0], Hourly({0}, 0.02)[0]);
  EXPECT_EQ(page->bars[3], Hourly({3})[0]);
  EXPECT_EQ(CountBars(db()), 12);
}

TEST_P(BarStoreTest, DatabaseFailureMidImportWritesNothing) {
  // A trigger makes the 7th row's INSERT fail after two chunks of 3 rows went in.
  const long long bad_ts = kT0 + 6 * kNanosPerHour;
  ASSERT_OK(db().WithOwnerTx([&](soci::session& sql) {  // DDL: the owner's
    if (is_postgres()) {
      sql << "CREATE FUNCTION fail_bar() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
             "IF NEW.ts = " +
                 std::to_string(bad_ts) +
                 " THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$";
      sql << "CREATE TRIGGER fail_bar BEFORE INSERT ON market_bars FOR EACH ROW "
             "EXECUTE FUNCTION fail_bar()";
    } else {
      sql << "CREATE TRIGGER fail_bar BEFORE INSERT ON market_bars WHEN NEW.ts = " +
                 std::to_string(bad_ts) + " BEGIN SELECT RAISE(ABORT, 'injected failure'); END";
    }
    return Status::Ok();
  }));
  BarStore store(db(), clock_, {.insert_chunk = 3});
  auto report = store.Import(SeriesOwner::Platform(), key_, Hourly(Range(0, 10)), {});
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().code(), StatusCode::kInternal);
  EXPECT_EQ(CountBars(db()), 0);
  EXPECT_EQ(CountSeries(db()), 0);  // the series created in the same transaction is gone too
  auto resolved = store.Resolve(std::nullopt, key_);
  ASSERT_FALSE(resolved.ok());
  EXPECT_EQ(resolved.error().code(), StatusCode::kNotFound);
}

TEST_P(BarStoreTest, RejectsBadBatches) {
  auto empty = store_->Import(SeriesOwner::Platform(), key_, {}, {});
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().field(), "bars");
  auto unsorted = store_->Import(SeriesOwner::Platform(), key_, Hourly({0, 2, 1}), {});
  ASSERT_FALSE(unsorted.ok());
  EXPECT_EQ(unsorted.error().field(), "bars");
  auto dup = store_->Import(SeriesOwner::Platform(), key_, Hourly({0, 1, 1}), {});
  ASSERT_FALSE(dup.ok());
  auto bad_symbol =
      store_->Import(SeriesOwner::Platform(), {"eur/usd", Timeframe::kH1}, Hourly({0}), {});
  ASSERT_FALSE(bad_symbol.ok());
  EXPECT_EQ(bad_symbol.error().field(), "symbol");
  auto wrong_tf =
      store_->Import(SeriesOwner::Platform(), {"EURUSD", Timeframe::kD1}, Hourly({0, 1}), {});
  ASSERT_FALSE(wrong_tf.ok());
  EXPECT_EQ(wrong_tf.error().field(), "timeframe");
  EXPECT_EQ(CountSeries(db()), 0);
}

TEST_P(BarStoreTest, PagesThroughARangeWithCursor) {
  ASSERT_OK(store_->Import(SeriesOwner::Platform(), key_, Hourly(Range(0, 25)), {}));
  BarStore cold(db(), clock_, {.hot_window_bars = 4});  // too small: pages come from SQL
  for (BarStore* s : {store_.get(), &cold}) {
    std::vector<Bar> all;
    std::optional<UnixNanos> cursor;
    int pages = 0;
    do {
      auto page = s->Query(std::nullopt, {.key = key_,
                                          .from = kT0 + 2 * kNanosPerHour,
                                          .to = kT0 + 22 * kNanosPerHour,
                                          .limit = 7,
                                          .cursor = cursor});
      ASSERT_OK(page);
      ++pages;
      if (s == &cold) EXPECT_FALSE(page->from_hot_window);
      all.insert(all.end(), page->bars.begin(), page->bars.end());
      cursor = page->next_cursor;
      if (cursor) EXPECT_EQ(*cursor, page->bars.back().time());
    } while (cursor && pages < 10);
    EXPECT_EQ(pages, 3);  // 21 bars (hours 2..22 inclusive) in pages of 7
    EXPECT_EQ(all, Hourly(Range(2, 23)));
  }
  auto bad_limit = store_->Query(std::nullopt, {.key = key_, .limit = kMaxBarPage + 1});
  ASSERT_FALSE(bad_limit.ok());
  EXPECT_EQ(bad_limit.error().field(), "limit");
  auto zero = store_->Query(std::nullopt, {.key = key_, .limit = 0});
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.error().field(), "limit");
  auto inverted = store_->Query(std::nullopt, {.key = key_, .from = kT0 + 1, .to = kT0});
  ASSERT_FALSE(inverted.ok());
  EXPECT_EQ(inverted.error().field(), "from");
  auto unknown = store_->Query(std::nullopt, {.key = {"GBPUSD", Timeframe::kH1}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code(), StatusCode::kNotFound);
}

// ReadBars: the one paging loop, across pages of kMaxBarPage, with every range option.
TEST_P(BarStoreTest, ReadBarsPagesThroughEveryOption) {
  const std::vector<Bar> bars = Hourly(Range(0, 12001));
  ASSERT_OK(store_->Import(SeriesOwner::Platform(), key_, bars, {}));
  auto all = store_->ReadBars(std::nullopt, key_);
  ASSERT_OK(all);
  EXPECT_EQ(*all, bars);
  auto range =
      store_->ReadBars(std::nullopt, key_, {.from = bars[100].time(), .to = bars[11000].time()});
  ASSERT_OK(range);
  EXPECT_EQ(*range, std::vector<Bar>(bars.begin() + 100, bars.begin() + 11001));
  auto after = store_->ReadBars(std::nullopt, key_, {.after = bars[11990].time()});
  ASSERT_OK(after);
  EXPECT_EQ(*after, std::vector<Bar>(bars.begin() + 11991, bars.end()));
  auto newest = store_->ReadBars(std::nullopt, key_, {.newest = 6000});  // trimmed while paging
  ASSERT_OK(newest);
  EXPECT_EQ(*newest, std::vector<Bar>(bars.end() - 6000, bars.end()));
  auto oldest = store_->ReadBars(std::nullopt, key_, {.from = bars[10].time(), .oldest = 7000});
  ASSERT_OK(oldest);
  EXPECT_EQ(*oldest, std::vector<Bar>(bars.begin() + 10, bars.begin() + 7010));
  auto none = store_->ReadBars(std::nullopt, key_, {.after = bars.back().time()});
  ASSERT_OK(none);
  EXPECT_TRUE(none->empty());
  auto unknown = store_->ReadBars(std::nullopt, {"GBPUSD", Timeframe::kH1});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code(), StatusCode::kNotFound);
}

TEST_P(BarStoreTest, HotWindowServesLatestAndStaysCoherentWithWrites) {
  ASSERT_OK(store_->Import(SeriesOwner::Platform(), key_, Hourly(Range(0, 40)), {}));
  auto latest = store_->Latest(std::nullopt, key_, 5);
  ASSERT_OK(latest);
  EXPECT_EQ(latest->bars, Hourly(Range(35, 40)));
  latest = store_->Latest(std::nullopt, key_, 5);
  ASSERT_OK(latest);
  EXPECT_TRUE(latest->from_hot_window);
  const HotWindowStats s1 = store_->hot_window_stats();
  EXPECT_EQ(s1.loads, 1);
  EXPECT_GE(s1.hits, 1);

  // An append through this store updates the window in place.
  ASSERT_OK(store_->Import(SeriesOwner::Platform(), key_, Hourly({40, 41}), {}));
  latest = store_->Latest(std::nullopt, key_, 3);
  ASSERT_OK(latest);
  EXPECT_TRUE(latest->from_hot_window);
  EXPECT_EQ(latest->bars, Hourly({39, 40, 41}));
  EXPECT_EQ(store_->hot_window_stats().loads, 1);
  EXPECT_EQ(store_->hot_window_stats().appends, 1);

  // More than the window holds: read from SQL.
  latest = store_->Latest(std::nullopt, key_, 30);
  ASSERT_OK(latest);
  EXPECT_FALSE(latest->from_hot_window);
  EXPECT_EQ(latest->bars, Hourly(Range(12, 42)));

  // An overwrite through this store invalidates the window.
  ASSERT_OK(store_->Import(SeriesOwner::Platform(), key_, Hourly({41}, 0.5),
                           {.overlap = OverlapPolicy::kOverwrite}));
  latest = store_->Latest(std::nullopt, key_, 1);
  ASSERT_OK(latest);
  EXPECT_EQ(latest->bars, Hourly({41}, 0.5));

  // A write by another process (another Database handle and store) is seen: the revision moved.
  auto other_db = test_db().OpenAnother();
  ASSERT_OK(other_db);
  BarStore other(**other_db, clock_);
  ASSERT_OK(other.Import(SeriesOwner::Platform(), key_, Hourly({42}), {}));
  latest = store_->Latest(std::nullopt, key_, 2);
  ASSERT_OK(latest);
  EXPECT_EQ(latest->bars, (std::vector<Bar>{Hourly({41}, 0.5)[0], Hourly({42})[0]}));
  // And a query of the window's range after it reloads.
  auto page = store_->Query(std::nullopt, {.key = key_, .from = kT0 + 40 * kNanosPerHour});
  ASSERT_OK(page);
  EXPECT_TRUE(page->from_hot_window);
  EXPECT_EQ(page->bars.size(), 3u);
}

TEST_P(BarStoreTest, TenantPrivateSeriesAreIsolated) {
  TenantId a = CreateTenant(db(), "a"), b = CreateTenant(db(), "b");
  ASSERT_OK(store_->Import(SeriesOwner::Platform(), key_, Hourly(Range(0, 10)), {}));
  auto priv = store_->Import(SeriesOwner::Tenant(a), key_, Hourly(Range(0, 3), 0.3),
                             {.source = "a's broker"});
  ASSERT_OK(priv);
  EXPECT_TRUE(priv->series_created);  // a separate series, no conflict with the platform one
  ASSERT_OK(store_->Import(SeriesOwner::Tenant(a), {"XAUUSD", Timeframe::kD1}, Hourly({0}), {}));

  // A reads its private series; B and operators read the platform series.
  auto pa = store_->Query(a, {.key = key_});
  ASSERT_OK(pa);
  EXPECT_EQ(pa->series.tenant, a);
  EXPECT_EQ(pa->bars, Hourly(Range(0, 3), 0.3));
  auto pb = store_->Query(b, {.key = key_});
  ASSERT_OK(pb);
  EXPECT_FALSE(pb->series.tenant.has_value());
  EXPECT_EQ(pb->bars, Hourly(Range(0, 10)));
  auto pop = store_->Latest(std::nullopt, key_, 10);
  ASSERT_OK(pop);
  EXPECT_EQ(pop->bars, Hourly(Range(0, 10)));

  // A's XAUUSD exists only for A.
  auto xb = store_->Query(b, {.key = {"XAUUSD", Timeframe::kD1}});
  ASSERT_FALSE(xb.ok());
  EXPECT_EQ(xb.error().code(), StatusCode::kNotFound);
  EXPECT_FALSE(store_->Query(std::nullopt, {.key = {"XAUUSD", Timeframe::kD1}}).ok());
  auto listed_b = store_->ListSeries(b);
  ASSERT_OK(listed_b);
  ASSERT_EQ(listed_b->size(), 1u);
  EXPECT_FALSE((*listed_b)[0].tenant.has_value());
  auto listed_a = store_->ListSeries(a);
  ASSERT_OK(listed_a);
  EXPECT_EQ(listed_a->size(), 3u);

  // B importing the same symbol gets its own series; A's is untouched.
  ASSERT_OK(store_->Import(SeriesOwner::Tenant(b), key_, Hourly(Range(0, 3), 0.7), {}));
  pa = store_->Query(a, {.key = key_});
  ASSERT_OK(pa);
  EXPECT_EQ(pa->bars, Hourly(Range(0, 3), 0.3));
  EXPECT_EQ(CountBars(db()), 10 + 3 + 1 + 3);
}

TEST_P(BarStoreTest, RowLevelSecurityScopesUnfilteredQueries) {
  if (!is_postgres()) GTEST_SKIP() << "row-level security exists on PostgreSQL only";
  TenantId a = CreateTenant(db(), "a"), b = CreateTenant(db(), "b");
  ASSERT_OK(store_->Import(SeriesOwner::Platform(), key_, Hourly(Range(0, 10)), {}));
  ASSERT_OK(store_->Import(SeriesOwner::Tenant(a), key_, Hourly(Range(0, 4)), {}));
  long long platform_series = 0, a_series = 0;
  ASSERT_OK(db().WithTx([&](soci::session& sql) {
    sql << "SELECT id FROM market_series WHERE tenant_id IS NULL", soci::into(platform_series);
    sql << "SELECT id FROM market_series WHERE tenant_id = " + std::to_string(a.value()),
        soci::into(a_series);
    return Status::Ok();
  }));

  // Queries WITHOUT the application's filter still see only platform + own rows.
  auto count = [&](TenantId t, const std::string& q) {
    long long n = -1;
    EXPECT_OK(db().WithTenantTx(t, [&](soci::session& sql) {
      sql << q, soci::into(n);
      return Status::Ok();
    }));
    return n;
  };
  EXPECT_EQ(count(b, "SELECT COUNT(*) FROM market_bars"), 10);
  EXPECT_EQ(count(b, "SELECT COUNT(*) FROM market_series"), 1);
  EXPECT_EQ(count(a, "SELECT COUNT(*) FROM market_bars"), 14);
  EXPECT_EQ(count(a, "SELECT COUNT(*) FROM market_series"), 2);

  // B cannot write into the platform series, nor into A's, nor claim A's tenant id.
  auto try_write = [&](TenantId as, const std::string& q) {
    return db().WithTenantTx(as, [&](soci::session& sql) {
      sql << q;
      return Status::Ok();
    });
  };
  const std::string values = ", 1, 1, 1, 1, 1, 0, 0)";
  const std::string far = std::to_string(kT0 + 1000 * kNanosPerHour);
  EXPECT_FALSE(try_write(b, "INSERT INTO market_bars VALUES (" + std::to_string(platform_series) +
                                ", NULL, " + far + values)
                   .ok());
  EXPECT_FALSE(try_write(b, "INSERT INTO market_bars VALUES (" + std::to_string(platform_series) +
                                ", " + std::to_string(b.value()) + ", " + far + values)
                   .ok());
  EXPECT_FALSE(try_write(b, "INSERT INTO market_bars VALUES (" + std::to_string(a_series) + ", " +
                                std::to_string(a.value()) + ", " + far + values)
                   .ok());
  EXPECT_FALSE(try_write(b,
                         "INSERT INTO market_series(tenant_id, symbol, timeframe, source, "
                         "created_at) VALUES (NULL, 'GBPUSD', 'H1', 'x', 1)")
                   .ok());
  // Updates/deletes of rows B can read but doesn't own touch nothing.
  ASSERT_OK(try_write(
      b, "UPDATE market_bars SET open = 9 WHERE series_id = " + std::to_string(platform_series)));
  ASSERT_OK(try_write(b, "DELETE FROM market_bars"));
  ASSERT_OK(try_write(b, "UPDATE market_series SET revision = 99"));
  EXPECT_EQ(CountBars(db()), 14);
  auto page = store_->Query(b, {.key = key_});
  ASSERT_OK(page);
  EXPECT_EQ(page->bars, Hourly(Range(0, 10)));
  EXPECT_NE(page->series.revision, 99);
}

TEST_P(BarStoreTest, ImportsARealMt5FileTwice) {
  market::CsvImportOptions options;
  options.source_tz = *TimeZone::Parse("NY+7");
  auto csv = market::ImportBarsCsvFile(sinyal::testing::SampleDataDir() / "EURUSD_H1.csv", options);
  ASSERT_OK(csv);
  const auto& bars = csv->bars;
  ASSERT_GT(bars.size(), 8000u);
  // PostgreSQL: both bulk paths (arrays through unnest, and SOCI vector binds).
  std::vector<bool> modes = {true};
  if (is_postgres()) modes.push_back(false);
  int64_t total = 0;
  for (bool arrays : modes) {
    BarStore store(db(), clock_, {.pg_array_binds = arrays});
    const SeriesKey key{arrays ? "EURUSD" : "EURUSDVB", Timeframe::kH1};
    auto start = std::chrono::steady_clock::now();
    auto first = store.Import(SeriesOwner::Platform(), key, bars, {.source = "mt5 NY+7"});
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_OK(first);
    EXPECT_EQ(first->inserted, static_cast<int64_t>(bars.size()));
    total += first->inserted;
    std::printf("[ info ] imported %zu bars in %.3f s (%.0f rows/s) on %s%s\n", bars.size(), secs,
                bars.size() / secs, is_postgres() ? "PostgreSQL" : "SQLite",
                is_postgres() ? (arrays ? " (arrays)" : " (vector binds)") : "");
    // Re-import: every bar identical (exact doubles through the database), nothing written.
    auto again = store.Import(SeriesOwner::Platform(), key, bars, {});
    ASSERT_OK(again);
    EXPECT_EQ(again->identical, static_cast<int64_t>(bars.size()));
    EXPECT_EQ(again->inserted, 0);
    auto latest = store.Latest(std::nullopt, key, kMaxBarPage);
    ASSERT_OK(latest);
    EXPECT_TRUE(std::equal(latest->bars.begin(), latest->bars.end(), bars.end() - kMaxBarPage));
  }
  EXPECT_EQ(CountBars(db()), total);
}

INSTANTIATE_TEST_SUITE_P(Backends, BarStoreTest, SINYAL_DB_BACKENDS, testing::BackendName);

}  // namespace
}  // namespace sinyal::store
