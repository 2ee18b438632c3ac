// Conformal coverage and the worked signal, on real data (see signals_report.cc for usage).
//
// Pipeline: bars (UTC) -> features/ core-v1 (TA-Lib exact) + regime columns + cross-asset
// columns (reference: the five-component synthetic DXY) -> models::BuildDataset (horizon h,
// dead band = max(median relative spread, 1e-5)) -> chronological split with an h-row purge gap
// between segments: fit 55% | isotonic calibration 10% | conformal calibration 15% | test 20%.
// The ensemble (models::Ensemble, default four members) is trained on "fit" and calibrated on
// the isotonic rows; move_ratio comes from the fit rows; conformal scores from the conformal
// window only; coverage is measured on the test window, which nothing was fitted on.
#include "signals/tools/report_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/clock.h"
#include "core/time.h"
#include "features/feature_set.h"
#include "market/csv_import.h"
#include "models/config.h"
#include "models/inputs.h"
#include "models/market_adapter.h"
#include "models/metrics.h"
#include "models/tools/shared_data.h"
#include "signals/cross_asset.h"
#include "signals/interval_calibration.h"
#include "signals/pipeline.h"
#include "signals/regime.h"
#include "signals/series_window.h"
#include "signals/signal.h"

namespace sinyal::signals {

namespace {

int Fail(const std::string& m) { return models::tools::Fail("sinyal_signals_report", m); }

}  // namespace

int RunModelSections(const ReportModelOptions& o, const std::string& section) {
  const bool want_conformal = section == "conformal" || section == "all";
  const bool want_signal = section == "signal" || section == "all";
  auto bars = models::tools::LoadSharedH1(o.data_dir, o.symbol);
  if (!bars.ok()) return Fail(o.symbol + ": " + bars.error().ToString());
  // Cross-asset reference: the five-component DXY on the UTC-aligned panel.
  std::vector<SymbolSeries> comps;
  for (const std::string s : {"EURUSD", "USDJPY", "GBPUSD", "USDCAD", "USDCHF"}) {
    auto b = models::tools::LoadSharedH1(o.data_dir, s);
    if (!b.ok()) return Fail(s + ": " + b.error().ToString());
    comps.push_back({s, std::move(*b)});
  }
  auto panel = AlignPanel(comps, market::Timeframe::kH1);
  if (!panel.ok()) return Fail(panel.error().ToString());
  auto dxy = SyntheticDxy(*panel, SekMode::kDropSek);
  if (!dxy.ok()) return Fail(dxy.error().ToString());
  // The model's data: the symbol's bars within the panel's span (the cross-asset columns are
  // NaN outside it and such rows would be dropped anyway).
  std::vector<market::Bar> mb;
  for (const auto& b : *bars) {
    if (b.time() >= panel->times.front() && b.time() <= panel->times.back()) mb.push_back(b);
  }
  auto spec = models::InputSpec::FeatureSet(features::DefaultFeatureSet());
  if (!spec.ok()) return Fail(spec.error().ToString());
  auto core = models::ComputeInputs(*spec, mb);
  if (!core.ok()) return Fail(core.error().ToString());
  auto states = ClassifyRegimes(mb);
  if (!states.ok()) return Fail(states.error().ToString());
  auto xa = CrossAssetFeatures(mb, market::Timeframe::kH1, panel->times, *dxy);
  if (!xa.ok()) return Fail(xa.error().ToString());
  auto f1 = CombineFrames(*core, RegimeFrame(*states));
  if (!f1.ok()) return Fail(f1.error().ToString());
  auto frame = CombineFrames(*f1, *xa);
  if (!frame.ok()) return Fail(frame.error().ToString());
  auto cols = models::ToBarColumns(o.symbol, "H1", mb, models::tools::SharedDataPoint(o.symbol));
  if (!cols.ok()) return Fail(cols.error().ToString());
  models::LabelConfig lc;
  lc.horizon = o.horizon;
  lc.dead_band = std::max(models::MedianRelativeSpread(*cols), 1e-5);
  auto ds = models::BuildDataset(*cols, *frame, lc, 2000);
  if (!ds.ok()) return Fail(ds.error().ToString());

  const size_t n = ds->size();
  const size_t gap = static_cast<size_t>(o.horizon);
  auto seg = [&](double a, double b) {
    std::vector<size_t> v;
    const size_t lo = static_cast<size_t>(a * n) + (a > 0 ? gap : 0);
    const size_t hi = static_cast<size_t>(b * n);
    for (size_t i = lo; i < hi; ++i) v.push_back(i);
    return v;
  };
  const auto fit = seg(0, 0.55), calib = seg(0.55, 0.65), conf = seg(0.65, 0.80),
             test = seg(0.80, 1.0);
  models::TrainConfig cfg = models::DefaultTrainConfig(o.symbol, "H1");
  cfg.horizon = o.horizon;
  cfg.dead_band = lc.dead_band;
  cfg.feature_set = frame->set_name;
  for (auto& m : cfg.members) m.trees = o.trees;
  const int64_t t0 = SystemClock::Instance().MonotonicNanos();
  auto ens = models::Ensemble::Train(*ds, fit, calib, cfg);
  if (!ens.ok()) return Fail(ens.error().ToString());
  const double train_s = static_cast<double>(SystemClock::Instance().MonotonicNanos() - t0) / 1e9;

  // Conformal rows by the production rule (interval_calibration.h): every bar of a segment's span
  // with a ready regime and complete inputs, dead-band moves included.
  auto rows_in = [&](const std::vector<size_t>& seg, const models::Ensemble* e, double move_ratio) {
    std::vector<ConformalRow> out;
    for (size_t i = ds->rows[seg.front()].bar; i <= ds->rows[seg.back()].bar; ++i) {
      auto r = ConformalRowAt(mb, i, o.horizon, (*states)[i],
                              std::span<const float>(frame->Row(i), frame->cols()));
      if (!r) continue;
      if (e != nullptr) {
        r->point =
            ConformalPoint(e->Predict(frame->Row(i)).proba[models::kUp], move_ratio, r->scale);
      }
      out.push_back(*r);
    }
    return out;
  };
  const std::vector<ConformalRow> base_rows = rows_in(fit, nullptr, 0);
  auto move_ratio = FitMoveRatio(base_rows);
  if (!move_ratio.ok()) return Fail(move_ratio.error().ToString());
  const std::vector<ConformalRow> conf_rows_v = rows_in(conf, &*ens, *move_ratio);
  const std::vector<ConformalRow> test_rows_v = rows_in(test, &*ens, *move_ratio);
  const std::vector<ConformalRow>* conf_rows = &conf_rows_v;
  const std::vector<ConformalRow>* test_rows = &test_rows_v;
  auto mondrian = ConformalIntervals::Fit(*conf_rows);
  ConformalConfig pooled_cfg;
  pooled_cfg.mondrian = false;
  auto pooled = ConformalIntervals::Fit(*conf_rows, pooled_cfg);
  if (!mondrian.ok() || !pooled.ok()) return Fail("conformal fit failed");

  auto span_of = [&](const std::vector<size_t>& v) {
    return FormatIso8601(ds->rows[v.front()].ts).substr(0, 16) + " .. " +
           FormatIso8601(ds->rows[v.back()].ts).substr(0, 16);
  };
  if (want_conformal) {
    std::printf("## Conformal coverage: %s H1, horizon %d bar(s)\n\n", o.symbol.c_str(), o.horizon);
    std::printf(
        "Dataset: %zu rows (%zu neutral excluded, dead band %.2f bp), %zu features (%s). "
        "Ensemble: %zu members x %d trees, trained in %.1f s.\n\n",
        n, ds->neutral_dropped, lc.dead_band * 1e4, ds->num_features(), frame->set_name.c_str(),
        ens->num_members(), o.trees, train_s);
    std::printf("| segment | rows | UTC span |\n|---|---:|---|\n");
    std::printf("| fit (members) | %zu | %s |\n| isotonic calibration | %zu | %s |\n", fit.size(),
                span_of(fit).c_str(), calib.size(), span_of(calib).c_str());
    std::printf(
        "| conformal calibration | %zu (%zu conformal rows) | %s |\n| test | %zu (%zu) | %s |\n\n",
        conf.size(), conf_rows->size(), span_of(conf).c_str(), test.size(), test_rows->size(),
        span_of(test).c_str());
    std::printf(
        "move_ratio (mean |r| / (rv sqrt(h)) on the fit rows) = %.3f. Conformity score quantiles "
        "(in units of rv sqrt(h)): pooled 80%% %.3f, 95%% %.3f.\n\n",
        *move_ratio, pooled->Quantile(0, -1), pooled->Quantile(1, -1));
    const char* gname[] = {"low_vol", "normal_vol", "high_vol"};
    auto table = [&](const char* title, const ConformalIntervals& ci,
                     std::span<const ConformalRow> rows) {
      std::printf(
          "%s\n\n| rows | nominal | n | covered | empirical | 95%% Wilson interval | mean width "
          "(bp) |\n"
          "|---|---:|---:|---:|---:|---|---:|\n",
          title);
      for (const auto& l : EvaluateCoverage(ci, rows)) {
        std::printf("| %s | %.0f%% | %zu | %zu | %.2f%% | [%.2f%%, %.2f%%] | %.1f |\n",
                    l.group < 0 ? "all" : gname[l.group], 100 * l.nominal, l.n, l.covered,
                    100 * l.empirical, 100 * l.ci.lo, 100 * l.ci.hi, 1e4 * l.mean_width);
      }
      std::printf("\n");
    };
    table("Mondrian (per vol state; the version's held-out quantiles, served before issue 13):",
          *mondrian, *test_rows);
    table("Pooled (one quantile for all rows), for comparison:", *pooled, *test_rows);
    {
      // The served rule since issue 13 (interval_calibration.h RecentIntervals): at each test bar,
      // the quantiles of the resolved rows among the newest 1,024 bars up to it.
      size_t nn = 0, cov[2] = {0, 0};
      double width[2] = {0, 0};
      for (size_t i = ds->rows[test.front()].bar; i <= ds->rows[test.back()].bar; ++i) {
        auto r = ConformalRowAt(mb, i, o.horizon, (*states)[i],
                                std::span<const float>(frame->Row(i), frame->cols()));
        if (!r) continue;
        auto recent =
            RecentIntervals(std::span(mb).first(i + 1), std::span(*states).first(i + 1), o.horizon);
        if (!recent.ok()) continue;
        const double pt =
            ConformalPoint(ens->Predict(frame->Row(i)).proba[models::kUp], *move_ratio, r->scale);
        const auto iv = recent->Predict(pt, r->scale, -1);
        for (int k = 0; k < 2; ++k) {
          cov[k] += r->actual >= iv[k].lo && r->actual <= iv[k].hi;
          width[k] += iv[k].hi - iv[k].lo;
        }
        ++nn;
      }
      std::printf(
          "Served rule (the newest resolved rows at each bar, pooled; issue 13):\n\n| rows | "
          "nominal | n | "
          "covered | empirical | 95%% Wilson interval | mean width (bp) "
          "|\n|---|---:|---:|---:|---:|---|---:|\n");
      const double nominal[2] = {0.8, 0.95};
      for (int k = 0; k < 2; ++k) {
        const auto ci = models::WilsonInterval(cov[k], nn);
        std::printf("| all | %.0f%% | %zu | %zu | %.2f%% | [%.2f%%, %.2f%%] | %.1f |\n",
                    100 * nominal[k], nn, cov[k], nn ? 100.0 * cov[k] / nn : 0.0, 100 * ci.lo,
                    100 * ci.hi, nn ? 1e4 * width[k] / nn : 0.0);
      }
      std::printf("\n");
    }
    if (o.horizon > 1) {
      std::vector<ConformalRow> sub;
      for (size_t i = 0; i < test_rows->size(); i += o.horizon) sub.push_back((*test_rows)[i]);
      table("Mondrian, every h-th test row only (non-overlapping forward windows):", *mondrian,
            sub);
    }
    // Direction quality on the same test rows, next to the naive baseline.
    std::vector<float> probs;
    std::vector<int8_t> labels;
    for (size_t r : test) {
      const auto p = ens->Predict(ds->Row(r));
      probs.push_back(p.proba[0]);
      probs.push_back(p.proba[1]);
      labels.push_back(ds->rows[r].label);
    }
    auto m = models::ComputeMetrics(probs, labels, 2);
    size_t up = 0;
    for (auto l : labels) up += l == models::kUp;
    std::printf(
        "Direction on the test rows: accuracy %.2f%% [%.2f, %.2f] (n %zu; share of up %.2f%%), "
        "log loss %.4f, Brier %.4f, reliability gap %.4f.\n\n",
        100 * m.accuracy, 100 * m.accuracy_ci.lo, 100 * m.accuracy_ci.hi, m.n,
        100.0 * up / labels.size(), m.log_loss, m.brier, m.reliability_gap);
  }
  if (want_signal) {
    // The worked signal at the last bar of the data (its features exist; its label does not).
    const size_t last = mb.size() - 1;
    std::vector<float> x(frame->Row(last), frame->Row(last) + frame->cols());
    SignalModel model;
    model.ensemble = &*ens;
    model.conformal = *mondrian;
    model.move_ratio = *move_ratio;
    model.model_version =
        "report/" + o.symbol + "/H1/h" + std::to_string(o.horizon) + " (in-process)";
    model.symbol = o.symbol;
    model.timeframe = "H1";
    SignalInput in;
    in.bar_time = mb[last].time();
    in.reference_price = mb[last].close();
    in.features = x;
    in.regime = (*states)[last];
    // The context by the live rule (series_window.h): the newest 1024 bars against the reference.
    const CrossAssetReference ref{"synthetic_dxy_5", panel->times, *dxy};
    in.cross_asset = CrossAssetContextAt(mb, market::Timeframe::kH1, o.symbol, ref);
    // The served intervals at that bar (RecentIntervals), as SeriesWindow's SignalAt computes them.
    if (auto recent = RecentIntervals(mb, *states, o.horizon); recent.ok())
      in.recent_intervals = *recent;
    // Issued at the bar's close (its open + 1 h): a ManualClock makes the output reproducible.
    ManualClock clock(mb[last].time() + kNanosPerHour);
    SignalGenerator gen(clock);
    SignalRequest req;
    req.confidence_threshold = 0.55;
    req.top_drivers = 5;
    auto sig = gen.Generate(model, req, in);
    if (!sig.ok()) return Fail(sig.error().ToString());
    std::printf("## Worked signal: %s H1 at the last bar of the shared data\n\n", o.symbol.c_str());
    std::printf(
        "Request: confidence_threshold %.2f, top_drivers %d. Model trained as in the conformal "
        "section (%zu members x %d trees, horizon %d).\n\n```json\n%s\n```\n\n",
        req.confidence_threshold, req.top_drivers, ens->num_members(), o.trees, o.horizon,
        sig->ToJson().dump(2).c_str());
  }
  return 0;
}

}  // namespace sinyal::signals
