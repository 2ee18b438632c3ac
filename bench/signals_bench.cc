// signals/: the cost of one full signal per request, and of the per-bar updates behind it.
//
// Data: real EURUSD H1 bars ($SINYAL_DATA_DIR or ../shared/data/market; the benchmark stops with
// an error when they are missing), features/ core-v1 + regime + cross-asset columns, a default
// four-member ensemble (150 trees each) trained once at start-up on 8,000 rows.
//
// Per request (BM_FullSignal): the core-v1 row kept by the series window (the seam's
// InputStream), the regime state and cross-asset columns from their per-series caches (updated
// on bar close),
// concatenation into the model row, ensemble (flat evaluator) + isotonic calibration + spread,
// split-conformal intervals (80/95, Mondrian), expected move, Signal assembly with its id.
// BM_FullSignalWithDrivers adds the top-5 drivers (XGBoost pred_contribs over 4 members).
// Per closed bar (BM_OnBarUpdate): SeriesWindow::Push (the seam's InputStream for core-v1 +
// RegimeClassifier::Update + keeping the bar, row and state), what SignalService does per bar.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>

#include "core/clock.h"
#include "features/feature_set.h"
#include "market/csv_import.h"
#include "models/config.h"
#include "models/inputs.h"
#include "models/market_adapter.h"
#include "signals/cross_asset.h"
#include "signals/interval_calibration.h"
#include "signals/pipeline.h"
#include "signals/regime.h"
#include "signals/series_window.h"
#include "signals/signal.h"

using namespace sinyal;
using namespace sinyal::signals;

namespace {

struct World {
  std::vector<market::Bar> bars;
  std::optional<models::InputSpec> spec;
  models::FeatureFrame core;
  std::vector<RegimeState> states;
  models::FeatureFrame xasset;
  std::optional<models::Ensemble> ensemble;
  SignalModel model;
  std::string error;
};

Result<std::vector<market::Bar>> Load(const std::string& sym) {
  const std::filesystem::path dir = std::getenv("SINYAL_DATA_DIR") ? std::getenv("SINYAL_DATA_DIR")
                                                                   : SINYAL_SOURCE_DIR
                                        "/../shared/data/market";
  market::CsvImportOptions o;
  SINYAL_ASSIGN_OR_RETURN(o.source_tz, TimeZone::Parse(sym == "USDJPY" ? "EET" : "NY+7"));
  SINYAL_ASSIGN_OR_RETURN(auto r, market::ImportBarsCsvFile(dir / (sym + "_H1.csv"), o));
  return std::move(r.bars);
}

Status Build(World* w) {
  SINYAL_ASSIGN_OR_RETURN(w->bars, Load("EURUSD"));
  std::vector<SymbolSeries> comps;
  for (const std::string s : {"EURUSD", "USDJPY", "GBPUSD", "USDCAD", "USDCHF"}) {
    SINYAL_ASSIGN_OR_RETURN(auto b, Load(s));
    comps.push_back({s, std::move(b)});
  }
  SINYAL_ASSIGN_OR_RETURN(auto panel, AlignPanel(comps, market::Timeframe::kH1));
  SINYAL_ASSIGN_OR_RETURN(auto dxy, SyntheticDxy(panel, SekMode::kDropSek));
  SINYAL_ASSIGN_OR_RETURN(auto spec, models::InputSpec::FeatureSet(features::DefaultFeatureSet()));
  w->spec.emplace(std::move(spec));
  SINYAL_ASSIGN_OR_RETURN(w->core, models::ComputeInputs(*w->spec, w->bars));
  const models::FeatureFrame& core = w->core;
  SINYAL_ASSIGN_OR_RETURN(w->states, ClassifyRegimes(w->bars));
  SINYAL_ASSIGN_OR_RETURN(w->xasset,
                          CrossAssetFeatures(w->bars, market::Timeframe::kH1, panel.times, dxy));
  SINYAL_ASSIGN_OR_RETURN(auto f1, CombineFrames(core, RegimeFrame(w->states)));
  SINYAL_ASSIGN_OR_RETURN(auto frame, CombineFrames(f1, w->xasset));
  SINYAL_ASSIGN_OR_RETURN(auto cols, models::ToBarColumns("EURUSD", "H1", w->bars, 0.00001));
  models::LabelConfig lc;
  SINYAL_ASSIGN_OR_RETURN(auto ds, models::BuildDataset(cols, frame, lc, 2000));
  std::vector<size_t> fit, calib, conf;
  for (size_t i = 0; i < 8000; ++i) fit.push_back(i);
  for (size_t i = 8000; i < 10000; ++i) calib.push_back(i);
  for (size_t i = 10000; i < 13000; ++i) conf.push_back(i);
  auto cfg = models::DefaultTrainConfig("EURUSD", "H1");
  cfg.feature_set = frame.set_name;
  SINYAL_ASSIGN_OR_RETURN(auto ens, models::Ensemble::Train(ds, fit, calib, cfg));
  w->ensemble.emplace(std::move(ens));
  // Conformal rows by the production rule, over the bars of the fit and conformal segments.
  auto rows_in = [&](const std::vector<size_t>& seg, const models::Ensemble* e, double move_ratio) {
    std::vector<ConformalRow> out;
    for (size_t i = ds.rows[seg.front()].bar; i <= ds.rows[seg.back()].bar; ++i) {
      auto r = ConformalRowAt(w->bars, i, 1, w->states[i], {frame.Row(i), frame.cols()});
      if (!r) continue;
      if (e)
        r->point =
            ConformalPoint(e->Predict(frame.Row(i)).proba[models::kUp], move_ratio, r->scale);
      out.push_back(*r);
    }
    return out;
  };
  SINYAL_ASSIGN_OR_RETURN(w->model.move_ratio, FitMoveRatio(rows_in(fit, nullptr, 0)));
  SINYAL_ASSIGN_OR_RETURN(w->model.conformal, ConformalIntervals::Fit(rows_in(
                                                  conf, &*w->ensemble, w->model.move_ratio)));
  w->model.ensemble = &*w->ensemble;
  w->model.model_version = "bench";
  w->model.symbol = "EURUSD";
  w->model.timeframe = "H1";
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

struct Latencies {
  std::vector<double> ns;
  void Report(benchmark::State& state) {
    std::sort(ns.begin(), ns.end());
    if (ns.empty()) return;
    state.counters["p50_us"] = ns[ns.size() / 2] / 1000;
    state.counters["p99_us"] = ns[ns.size() * 99 / 100] / 1000;
  }
};

void RunSignals(benchmark::State& state, int top_drivers) {
  World& w = Get();
  if (!w.error.empty()) {
    state.SkipWithError(w.error.c_str());
    return;
  }
  ManualClock clock(w.bars.back().time() + kNanosPerHour);
  SignalGenerator gen(clock);
  SignalRequest req;
  req.confidence_threshold = 0.55;
  req.top_drivers = top_drivers;
  const size_t last = w.bars.size() - 1;
  const size_t ncols = w.ensemble->num_features();
  std::vector<float> row(ncols);
  Latencies lat;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    // The core-v1 row, regime and cross-asset columns from their caches, then the signal.
    size_t k = 0;
    const float* cr = w.core.Row(last);
    for (size_t j = 0; j < w.core.cols(); ++j) row[k++] = cr[j];
    const RegimeState& rs = w.states[last];
    RegimeFeatures(rs, row.data() + k);
    k += RegimeFeatureNames().size();
    const float* xr = w.xasset.Row(last);
    for (size_t j = 0; j < w.xasset.cols(); ++j) row[k++] = xr[j];
    SignalInput in;
    in.bar_time = w.bars[last].time();
    in.reference_price = w.bars[last].close();
    in.features = row;
    in.regime = rs;
    in.cross_asset = {true, xr[0], xr[1], xr[2], xr[3], false};
    auto s = gen.Generate(w.model, req, in);
    if (!s.ok()) {
      state.SkipWithError(s.error().ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(s);
    lat.ns.push_back(
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count());
  }
  lat.Report(state);
}

void BM_FullSignal(benchmark::State& state) { RunSignals(state, 0); }
BENCHMARK(BM_FullSignal)->Iterations(20000);

void BM_FullSignalWithDrivers(benchmark::State& state) { RunSignals(state, 5); }
BENCHMARK(BM_FullSignalWithDrivers)->Iterations(2000);

// Per closed bar: the series window (core-v1 inputs and the regime) takes the new bar.
void BM_OnBarUpdate(benchmark::State& state) {
  World& w = Get();
  if (!w.error.empty()) {
    state.SkipWithError(w.error.c_str());
    return;
  }
  auto fresh = [&] {
    return SeriesWindow::Create(*w.spec, models::kSeriesStart, "EURUSD", market::Timeframe::kH1)
        .value();
  };
  SeriesWindow window = fresh();
  Latencies lat;
  size_t i = 0;
  for (auto _ : state) {
    if (i == w.bars.size()) {
      state.PauseTiming();
      window = fresh();
      i = 0;
      state.ResumeTiming();
    }
    const auto t0 = std::chrono::steady_clock::now();
    auto pushed = window.Push(w.bars[i]);
    benchmark::DoNotOptimize(window.row(window.size() - 1).data());
    lat.ns.push_back(
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count());
    if (!pushed.ok() || !*pushed) {
      state.SkipWithError("update failed");
      return;
    }
    ++i;
  }
  lat.Report(state);
}
BENCHMARK(BM_OnBarUpdate)->Iterations(20000);

}  // namespace
