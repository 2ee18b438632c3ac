// signals/: SignalService::Latest, the live predict path (service.h), on a real database.
//
// Data: real EURUSD H1 bars ($SINYAL_DATA_DIR or ../shared/data/market; the benchmark stops with
// an error when they are missing): the newest 8,000, of which the first 6,000 are stored in a
// fresh SQLite database (WAL, temporary directory) before a platform model is trained through
// models::ModelService (the production trainer: "basic" features, default four-member ensemble)
// and activated; the other 2,000 close one by one during BM_NewBarThenLatest.
//
// BM_LatestCacheHit: Latest() of a series whose newest signal is computed: the predict hot path
// (no database read inside the 1 s bar-check interval; the clock is a ManualClock, so every call
// is inside it). Since issue 10 the hit takes no mutex (atomic snapshot loads); before, it took
// the cache's shared lock and the series' mutex.
// BM_NewBarThenLatest/<drivers>: one bar closes: stored (BarStore::Import, not timed), then timed:
// OnBarClosed (inline: feature row + regime update, ensemble, calibration, conformal intervals,
// drivers, appended to the DB signal log, the previous signal resolved) + Latest() returning it.
// The argument is top_drivers (5 = the default, 0 = none).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "core/clock.h"
#include "market/csv_import.h"
#include "models/db_registry.h"
#include "models/service.h"
#include "signals/db_signal_log.h"
#include "signals/service.h"
#include "store/bar_store.h"
#include "store/testing/test_db.h"

using namespace sinyal;

namespace {

constexpr UnixNanos kFar = INT64_MAX / 2;
constexpr size_t kStored = 6000, kHeldBack = 2000;
const market::SeriesKey kKey{"EURUSD", market::Timeframe::kH1};

struct World {
  std::string error;
  ManualClock clock{1'700'000'000LL * kNanosPerSecond};
  std::unique_ptr<store::testing::TestDatabase> db;
  std::unique_ptr<store::BarStore> bars;
  std::unique_ptr<models::DbModelRegistry> registry;
  std::unique_ptr<signals::IntervalCalibrationStore> calibrations;
  std::unique_ptr<models::ModelService> models;
  std::unique_ptr<signals::DbSignalLog> log;
  std::vector<market::Bar> all;
  size_t next = kStored;  // next held-back bar to close
};

Status Build(World* w) {
  const char* env = std::getenv("SINYAL_DATA_DIR");
  const std::filesystem::path dir =
      env ? env : std::filesystem::path(SINYAL_SOURCE_DIR) / "../shared/data/market";
  market::CsvImportOptions o;
  SINYAL_ASSIGN_OR_RETURN(o.source_tz, TimeZone::Parse("NY+7"));
  o.timeframe = market::Timeframe::kH1;
  SINYAL_ASSIGN_OR_RETURN(auto imported, market::ImportBarsCsvFile(dir / "EURUSD_H1.csv", o));
  if (imported.bars.size() < kStored + kHeldBack)
    return Status::FailedPrecondition("EURUSD_H1 too short");
  w->all.assign(imported.bars.end() - static_cast<ptrdiff_t>(kStored + kHeldBack),
                imported.bars.end());
  SINYAL_ASSIGN_OR_RETURN(w->db,
                          store::testing::TestDatabase::Create(store::testing::Backend::kSqlite));
  SINYAL_RETURN_IF_ERROR(w->db->db().Migrate());
  w->bars = std::make_unique<store::BarStore>(w->db->db(), w->clock);
  w->registry = std::make_unique<models::DbModelRegistry>(w->db->db(), w->clock);
  w->calibrations = std::make_unique<signals::IntervalCalibrationStore>(
      w->db->db(), *w->bars, *w->registry, nullptr, w->clock);
  models::ModelServiceOptions mo{.code_version = "bench", .report_folds = 2, .nthread = 1};
  mo.on_version_stored = [w](TenantId owner, const market::SeriesKey& series,
                             const models::ModelRecord& r) {
    (void)w->calibrations->Fit(owner, series, r.version);  // as app/ wires it: fitted when trained
  };
  w->models = std::make_unique<models::ModelService>(w->db->db(), *w->bars, nullptr, *w->registry,
                                                     nullptr, w->clock, mo);
  w->log = std::make_unique<signals::DbSignalLog>(w->db->db());
  SINYAL_RETURN_IF_ERROR(
      w->bars->Import(store::SeriesOwner::Platform(), kKey, std::span(w->all).first(kStored), {})
          .status());
  SINYAL_RETURN_IF_ERROR(
      w->models
          ->Train(
              models::kPlatformTenant,
              {.series = {"EURUSD", market::Timeframe::kH1}, .activate = true, .actor = "bench"})
          .status());
  return Status::Ok();
}

World& Get() {
  static World* w = [] {
    auto* x = new World();
    Status s = Build(x);
    if (!s.ok()) x->error = s.ToString();
    return x;
  }();
  return *w;
}

std::unique_ptr<signals::SignalService> MakeService(World& w, int top_drivers) {
  signals::SignalServiceOptions o;
  o.background_thread = false;
  o.top_drivers = top_drivers;
  return std::make_unique<signals::SignalService>(*w.bars, *w.registry, nullptr, *w.log,
                                                  *w.calibrations, w.clock, o);
}

void Report(benchmark::State& state, std::vector<double>& ns) {
  std::sort(ns.begin(), ns.end());
  if (ns.empty()) return;
  state.counters["p50_us"] = ns[ns.size() / 2] / 1000;
  state.counters["p99_us"] = ns[ns.size() * 99 / 100] / 1000;
}

void BM_LatestCacheHit(benchmark::State& state) {
  World& w = Get();
  if (!w.error.empty()) {
    state.SkipWithError(w.error.c_str());
    return;
  }
  auto svc = MakeService(w, 5);
  const TenantId tenant(1);  // no model of its own: the platform default serves it
  if (auto first = svc->Latest(tenant, kKey, kFar); !first.ok()) {
    state.SkipWithError(first.error().ToString().c_str());
    return;
  }
  std::vector<double> ns;
  ns.reserve(1 << 20);
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    auto s = svc->Latest(tenant, kKey, kFar);
    const auto t1 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(s);
    if (ns.size() < ns.capacity())
      ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
  }
  Report(state, ns);
}
BENCHMARK(BM_LatestCacheHit);

void BM_NewBarThenLatest(benchmark::State& state) {
  World& w = Get();
  if (!w.error.empty()) {
    state.SkipWithError(w.error.c_str());
    return;
  }
  auto svc = MakeService(w, static_cast<int>(state.range(0)));
  const TenantId tenant(1);
  if (auto first = svc->Latest(tenant, kKey, kFar); !first.ok()) {
    state.SkipWithError(first.error().ToString().c_str());
    return;
  }
  std::vector<double> ns;
  for (auto _ : state) {
    if (w.next >= w.all.size()) {
      state.SkipWithError("out of held-back bars");
      break;
    }
    state.PauseTiming();
    const market::Bar& bar = w.all[w.next++];
    Status st =
        w.bars->Import(store::SeriesOwner::Platform(), kKey, std::span(&bar, 1), {}).status();
    if (!st.ok()) {
      state.SkipWithError(st.ToString().c_str());
      break;
    }
    state.ResumeTiming();
    const auto t0 = std::chrono::steady_clock::now();
    svc->OnBarClosed(kKey, bar);
    auto s = svc->Latest(tenant, kKey, kFar);
    const auto t1 = std::chrono::steady_clock::now();
    if (!s.ok() || (*s)->bar_time() != bar.time()) {
      state.SkipWithError("Latest did not return the new bar's signal");
      break;
    }
    ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
  }
  state.counters["bars"] = static_cast<double>(ns.size());
  Report(state, ns);
}
// 700 + 700 iterations fit the 2,000 held-back bars (with repetitions=1).
BENCHMARK(BM_NewBarThenLatest)->Arg(5)->Arg(0)->Iterations(700)->Unit(benchmark::kMicrosecond);

}  // namespace
