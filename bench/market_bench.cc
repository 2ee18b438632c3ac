// market/ throughput: tick aggregation (ticks/s), CSV import (rows/s), merge plan, gap listing.
//   SINYAL_DATA_DIR=... build/bench/market_bench
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "core/time.h"
#include "market/bar_series.h"
#include "market/csv_import.h"
#include "market/merge.h"
#include "market/replay.h"
#include "market/tick_aggregator.h"

namespace sinyal::market {
namespace {

std::filesystem::path DataDir() {
  const char* env = std::getenv("SINYAL_DATA_DIR");
  return env ? std::filesystem::path(env)
             : std::filesystem::path(SINYAL_SOURCE_DIR) / ".." / "shared" / "data" / "market";
}

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  if (ss.str().empty()) {
    std::fprintf(stderr, "cannot read %s\n", p.c_str());
    std::exit(1);
  }
  return ss.str();
}

// 2,000,000 synthetic EURUSD-like ticks, ~10 per second, a random walk in bid.
const std::vector<Tick>& Ticks(bool shuffled) {
  static const std::vector<Tick> ordered = [] {
    std::vector<Tick> t;
    std::mt19937_64 rng(1);
    std::normal_distribution<double> step(0, 0.00002);
    std::exponential_distribution<double> gap(10.0);
    double bid = 1.1;
    double time = CivilToNanos(CivilTime{2024, 3, 4, 0, 0, 0}) / 1e9;
    for (int i = 0; i < 2'000'000; ++i) {
      time += gap(rng);
      bid = std::max(0.5, bid + step(rng));
      t.push_back(Tick{static_cast<UnixNanos>(time * 1e9), bid, bid + 0.00012, 0, 1});
    }
    return t;
  }();
  static const std::vector<Tick> mixed = [] {
    std::vector<Tick> t = ordered;
    std::mt19937_64 rng(2);
    for (size_t b = 0; b + 8 <= t.size(); b += 8)
      std::shuffle(t.begin() + b, t.begin() + b + 8, rng);
    return t;
  }();
  return shuffled ? mixed : ordered;
}

void RunAggregator(benchmark::State& state, bool shuffled, std::vector<Timeframe> rollups) {
  const auto& ticks = Ticks(shuffled);
  int64_t bars = 0;
  for (auto _ : state) {
    AggregatorOptions o;
    o.rollups = rollups;
    TickAggregator agg(o, [&](Timeframe, const Bar&) { ++bars; });
    for (const Tick& t : ticks) benchmark::DoNotOptimize(agg.Add(t).ok());
    agg.Flush();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(ticks.size()));
  state.counters["bars"] = static_cast<double>(bars) / state.iterations();
}

void BM_TickAggregator_M1Only(benchmark::State& state) { RunAggregator(state, false, {}); }
void BM_TickAggregator_AllTimeframes(benchmark::State& state) {
  RunAggregator(state, false, AggregatorOptions{}.rollups);
}
void BM_TickAggregator_AllTimeframes_OutOfOrder(benchmark::State& state) {
  RunAggregator(state, true, AggregatorOptions{}.rollups);
}
BENCHMARK(BM_TickAggregator_M1Only)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TickAggregator_AllTimeframes)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TickAggregator_AllTimeframes_OutOfOrder)->Unit(benchmark::kMillisecond);

void ImportBench(benchmark::State& state, const char* file, const char* tz) {
  const std::string text = ReadFile(DataDir() / file);
  CsvImportOptions o;
  o.source_tz = *TimeZone::Parse(tz);
  int64_t rows = 0;
  for (auto _ : state) {
    std::istringstream in(text);
    auto r = ImportBarsCsv(in, o);
    if (!r.ok()) state.SkipWithError(r.error().ToString().c_str());
    rows = r.ok() ? static_cast<int64_t>(r->bars.size()) : 0;
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations() * rows);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(text.size()));
}
void BM_Import_EURUSD_H1_Mt5(benchmark::State& s) { ImportBench(s, "EURUSD_H1.csv", "NY+7"); }
void BM_Import_USDJPY_H1_DateTime(benchmark::State& s) { ImportBench(s, "USDJPY_H1.csv", "EET"); }
void BM_Import_EURUSD_M1(benchmark::State& s) { ImportBench(s, "EURUSD_M1.csv", "+03:00"); }
void BM_Import_DXY_H1_UnixSeconds(benchmark::State& s) { ImportBench(s, "DXY_H1.csv", "NY+7"); }
BENCHMARK(BM_Import_EURUSD_H1_Mt5)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Import_USDJPY_H1_DateTime)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Import_EURUSD_M1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Import_DXY_H1_UnixSeconds)->Unit(benchmark::kMillisecond);

const std::vector<Bar>& EurusdH1() {
  static const std::vector<Bar> bars = [] {
    CsvImportOptions o;
    o.source_tz = *TimeZone::Parse("NY+7");
    return ImportBarsCsvFile(DataDir() / "EURUSD_H1.csv", o)->bars;
  }();
  return bars;
}

void BM_PlanMerge_FullOverlap(benchmark::State& state) {
  const auto& bars = EurusdH1();
  for (auto _ : state) benchmark::DoNotOptimize(PlanMerge(bars, bars));
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(bars.size()));
}
BENCHMARK(BM_PlanMerge_FullOverlap);

void BM_BarSeries_Append(benchmark::State& state) {
  const auto& bars = EurusdH1();
  for (auto _ : state) {
    BarSeries s(Timeframe::kH1, 5000);
    for (const Bar& b : bars) benchmark::DoNotOptimize(s.Append(b).ok());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(bars.size()));
}
BENCHMARK(BM_BarSeries_Append);

void BM_FindGaps_H1(benchmark::State& state) {
  const auto& bars = EurusdH1();
  for (auto _ : state) benchmark::DoNotOptimize(FindGaps(bars, Timeframe::kH1));
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(bars.size()));
}
BENCHMARK(BM_FindGaps_H1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace sinyal::market
