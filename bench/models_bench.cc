// Models benchmarks: the flat tree evaluator vs XGBoost's own predict (same run, same model,
// same rows), and the training time of the default 4-member ensemble.
//
//   ninja -C build-models models_bench && ./build-models/bench/models_bench
//
// Data: the last 31,000 USDJPY H1 bars (about 5 years, 2019-2023) from the shared data
// ($SINYAL_DATA_DIR or ../shared/data/market), "basic" features; synthetic bars of the same
// size when the data is missing (the output says which). The model is trained once on the
// first 80% of rows; inference runs on the remaining rows, which it has not seen.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "market/csv_import.h"
#include "models/basic_features.h"
#include "models/ensemble.h"
#include "models/market_adapter.h"
#include "models/testing/synthetic.h"

namespace {

using namespace sinyal;
using namespace sinyal::models;

struct Data {
  Dataset ds;
  std::vector<size_t> fit, calib, test;
  std::vector<float> test_x;
  std::string source;
};

const Data& GetData() {
  static const Data* d = [] {
    auto* out = new Data;
    std::filesystem::path dir = std::getenv("SINYAL_DATA_DIR") ? std::getenv("SINYAL_DATA_DIR")
                                                               : SINYAL_SOURCE_DIR
                                    "/../shared/data/market";
    BarColumns bars;
    market::CsvImportOptions io;
    io.source_tz = TimeZone::Parse("EET").value();
    auto imp = market::ImportBarsCsvFile(dir / "USDJPY_H1.csv", io);
    if (imp.ok()) {
      auto& b = imp->bars;
      if (b.size() > 31000) b.erase(b.begin(), b.end() - 31000);
      bars = ToBarColumns("USDJPY", "H1", b, 0.001).value();
      out->source = "USDJPY_H1.csv, last 31000 bars";
    } else {
      bars = testing::SyntheticBars(31000, 7);
      out->source = "synthetic (shared data missing)";
    }
    LabelConfig lc;
    lc.dead_band = std::max(MedianRelativeSpread(bars), 1e-5);
    out->ds = BuildDataset(bars, ComputeBasicFeatures(bars).value(), lc).value();
    const size_t n = out->ds.size();
    for (size_t i = 0; i < n; ++i) {
      (i < n * 64 / 100 ? out->fit : i < n * 80 / 100 ? out->calib : out->test).push_back(i);
    }
    out->ds.Gather(out->test, &out->test_x, nullptr);
    std::fprintf(stderr, "models_bench data: %s -> %zu rows (%zu fit, %zu calib, %zu test)\n",
                 out->source.c_str(), n, out->fit.size(), out->calib.size(), out->test.size());
    return out;
  }();
  return *d;
}

const Ensemble& GetEnsemble() {
  static const Ensemble* e = [] {
    const Data& d = GetData();
    auto r = Ensemble::Train(d.ds, d.fit, d.calib, DefaultTrainConfig("USDJPY"));
    if (!r.ok()) {
      std::fprintf(stderr, "training failed: %s\n", r.error().ToString().c_str());
      std::abort();
    }
    size_t trees = 0, nodes = 0;
    for (size_t m = 0; m < r->num_members(); ++m) {
      trees += r->member_forest(m).num_trees();
      nodes += r->member_forest(m).num_nodes();
    }
    std::fprintf(stderr, "ensemble: %zu members, %zu trees, %zu nodes\n", r->num_members(), trees,
                 nodes);
    return new Ensemble(std::move(r).value());
  }();
  return *e;
}

// Per-call latencies over the benchmark's iterations -> p50/p99 counters.
struct Latencies {
  std::vector<double> ns;
  void Report(benchmark::State& state) {
    std::sort(ns.begin(), ns.end());
    if (ns.empty()) return;
    state.counters["p50_us"] = ns[ns.size() / 2] / 1000;
    state.counters["p99_us"] = ns[ns.size() * 99 / 100] / 1000;
  }
};

// Training: 4 members (150-200 trees, hist, nthread=2) + isotonic calibration, on all rows
// (64% fit + 16% calibration of ~31k rows = ~25k rows).
// Arg = XGBoost nthread (2 = the default config; 1 for comparison on a busy machine).
void BM_TrainEnsemble(benchmark::State& state) {
  const Data& d = GetData();
  TrainConfig cfg = DefaultTrainConfig("USDJPY");
  cfg.nthread = static_cast<int>(state.range(0));
  std::vector<size_t> fit(d.fit), calib(d.calib);
  fit.insert(fit.end(), d.test.begin(),
             d.test.begin() + static_cast<std::ptrdiff_t>(d.test.size() * 8 / 10));
  calib.insert(calib.end(), d.test.begin() + static_cast<std::ptrdiff_t>(d.test.size() * 8 / 10),
               d.test.end());
  for (auto _ : state) {
    auto r = Ensemble::Train(d.ds, fit, calib, cfg);
    if (!r.ok()) state.SkipWithError(r.error().ToString().c_str());
    benchmark::DoNotOptimize(r);
  }
  state.counters["rows"] = static_cast<double>(fit.size() + calib.size());
}
BENCHMARK(BM_TrainEnsemble)->Arg(2)->Arg(1)->Unit(benchmark::kSecond)->Iterations(3)->UseRealTime();

// Times `predict(row)` once per iteration, over the test rows in turn, and reports p50/p99.
template <typename Predict>
void TimeSingleRows(benchmark::State& state, Predict predict) {
  const Data& d = GetData();
  const size_t f = d.ds.num_features(), rows = d.test.size();
  Latencies lat;
  size_t i = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    auto p = predict(d.test_x.data() + (i % rows) * f);
    benchmark::DoNotOptimize(p);
    lat.ns.push_back(
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count());
    ++i;
  }
  lat.Report(state);
}

// The ensemble's probabilities from one XGBoost prediction path per member: the members' mean
// P(up), then the same calibration as Ensemble::Predict.
template <typename MemberPredict>
std::array<float, 2> XgboostEnsembleRow(const Ensemble& e, const float* x, MemberPredict member) {
  std::array<float, 2> p = {0, 0};
  for (size_t m = 0; m < e.num_members(); ++m) p[1] += member(m, x);
  p[1] /= static_cast<float>(e.num_members());
  p[0] = 1 - p[1];
  e.calibrator().Apply(p.data());
  return p;
}

// Fast path, one row: 4 flat forests + mean + spread + isotonic calibration.
void BM_FastEnsemble_SingleRow(benchmark::State& state) {
  const Ensemble& e = GetEnsemble();
  TimeSingleRows(state, [&](const float* x) { return e.Predict(x); });
}
BENCHMARK(BM_FastEnsemble_SingleRow)->Iterations(20000);

// XGBoost, one row: for each member XGDMatrixCreateFromMat + XGBoosterPredict (the reference
// path), then the same mean + calibration.
void BM_XgboostEnsemble_SingleRow_DMatrix(benchmark::State& state) {
  const Ensemble& e = GetEnsemble();
  TimeSingleRows(state, [&](const float* x) {
    return XgboostEnsembleRow(e, x, [&](size_t m, const float* row) {
      return e.PredictMemberXgboost(m, row, 1).value()[0];
    });
  });
}
BENCHMARK(BM_XgboostEnsemble_SingleRow_DMatrix)->Iterations(5000);

// XGBoost, one row, in-place XGBoosterPredictFromDense per member.
void BM_XgboostEnsemble_SingleRow_InplaceDense(benchmark::State& state) {
  const Ensemble& e = GetEnsemble();
  TimeSingleRows(state, [&](const float* x) {
    return XgboostEnsembleRow(e, x, [&](size_t m, const float* row) {
      return e.PredictMemberXgboostDense(m, row, 1).value()[0];
    });
  });
}
BENCHMARK(BM_XgboostEnsemble_SingleRow_InplaceDense)->Iterations(5000);

// Batch throughput over all test rows, single thread on both sides (XGBoost boosters are
// loaded with nthread=1).
void BM_FastEnsemble_Batch(benchmark::State& state) {
  const Data& d = GetData();
  const Ensemble& e = GetEnsemble();
  const size_t rows = d.test.size();
  std::vector<float> out(rows * 2), unc(rows);
  for (auto _ : state) {
    e.PredictBatch(d.test_x.data(), rows, out.data(), unc.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * rows));
}
BENCHMARK(BM_FastEnsemble_Batch)->Unit(benchmark::kMillisecond);

void BM_XgboostEnsemble_Batch(benchmark::State& state) {
  const Data& d = GetData();
  const Ensemble& e = GetEnsemble();
  const size_t rows = d.test.size();
  std::vector<float> mean(rows);
  for (auto _ : state) {
    std::fill(mean.begin(), mean.end(), 0.0f);
    for (size_t m = 0; m < e.num_members(); ++m) {
      auto r = e.PredictMemberXgboost(m, d.test_x.data(), rows).value();
      for (size_t i = 0; i < rows; ++i) mean[i] += r[i];
    }
    for (size_t i = 0; i < rows; ++i) {
      float p[2] = {1 - mean[i] / e.num_members(), mean[i] / e.num_members()};
      e.calibrator().Apply(p);
      mean[i] = p[1];
    }
    benchmark::DoNotOptimize(mean.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * rows));
}
BENCHMARK(BM_XgboostEnsemble_Batch)->Unit(benchmark::kMillisecond);

}  // namespace
