// sinyal_sequence_eval: does the GRU sequence member (gru_member.h) improve the ensemble's
// walk-forward log loss? Same rows, folds, purging and calibration as the walk-forward
// evaluation (walk_forward.h, the default ensemble on core-v1): per fold the four XGBoost members
// and the GRU are trained on the fitting rows; "with" averages the GRU's P(up) with the members'
// (one fifth each) before the shrunk logistic calibration on the held-back rows; "without" is the
// ensemble as served. Prints both pooled log losses, the paired gain with its Newey-West
// interval, the GRU alone, and the GRU's single-row inference latency.
//
//   sinyal_sequence_eval --data-dir ../shared/data/market --symbol EURUSD [--horizon 1]
//       [--folds 5] [--epochs 6] [--hidden 16] [--window 48] [--last-bars N]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "features/feature_set.h"
#include "market/csv_import.h"
#include "models/calibration.h"
#include "models/ensemble.h"
#include "models/inputs.h"
#include "models/market_adapter.h"
#include "models/metrics.h"
#include "models/sequence/gru_member.h"
#include "models/skill.h"
#include "models/tools/shared_data.h"
#include "models/walk_forward.h"

using namespace sinyal;
using namespace sinyal::models;

namespace {
int Fail(const std::string& m) { return tools::Fail("sinyal_sequence_eval", m); }
}  // namespace

int main(int argc, char** argv) {
  auto parsed = tools::ParseStudyOptions(
      argc, argv,
      {{"folds", "5"}, {"epochs", "6"}, {"hidden", "16"}, {"window", "48"}, {"last-bars", "0"}});
  if (!parsed.ok()) return Fail(parsed.error().message());
  auto& opt = *parsed;
  auto series = tools::LoadStudySeries(opt);
  if (!series.ok()) return Fail(series.error().ToString());
  auto& [sym, mbars, cols, cfg] = *series;
  const int h = cfg.horizon;
  // The model's rows through the seam (models/inputs.h), as `sinyal train` computes them.
  auto frame = ComputeInputs(InputSpec::FeatureSet(features::DefaultFeatureSet()).value(), mbars);
  if (!frame.ok()) return Fail(frame.error().ToString());
  LabelConfig lc;
  lc.horizon = h;
  lc.dead_band = cfg.dead_band;
  auto ds = BuildDataset(cols, *frame, lc, cfg.min_train_rows);
  if (!ds.ok()) return Fail(ds.error().ToString());
  const std::vector<float> inputs = SequenceInputs(cols);
  GruConfig gc;
  gc.epochs = std::atoi(opt["epochs"].c_str());
  gc.hidden = std::atoi(opt["hidden"].c_str());
  gc.window = std::atoi(opt["window"].c_str());
  WalkForwardConfig wf;
  wf.folds = std::atoi(opt["folds"].c_str());
  auto splits = MakeWalkForwardSplits(*ds, wf, cfg.calibration_fraction);
  if (!splits.ok()) return Fail(splits.error().ToString());
  CalibrationOptions co;
  co.horizon = h;
  std::vector<float> p_without, p_with, p_gru, base_p;
  std::vector<int8_t> labels;
  double gru_seconds = 0;
  std::vector<double> latency_ns;
  for (size_t f = 0; f < splits->size(); ++f) {
    const FoldSplit& s = (*splits)[f];
    auto ens = Ensemble::Train(*ds, s.fit, s.calib, cfg);
    if (!ens.ok()) return Fail(ens.error().ToString());
    const auto t0 = std::chrono::steady_clock::now();
    auto gru = GruMember::Train(*ds, s.fit, inputs, gc);
    gru_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!gru.ok()) return Fail(gru.error().ToString());
    const double m = static_cast<double>(ens->num_members());
    auto raw_of = [&](std::span<const size_t> rows, std::vector<float>* xgb,
                      std::vector<float>* mix, std::vector<float>* g, bool time_it) {
      std::vector<float> x;
      ds->Gather(rows, &x, nullptr);
      xgb->resize(rows.size() * 2);
      ens->PredictRawBatch(x.data(), rows.size(), xgb->data());
      mix->resize(rows.size() * 2);
      g->resize(rows.size() * 2);
      for (size_t i = 0; i < rows.size(); ++i) {
        const auto a = std::chrono::steady_clock::now();
        double q = gru->Predict(inputs, ds->rows[rows[i]].bar);
        if (time_it && i % 10 == 0) {
          latency_ns.push_back(
              std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - a)
                  .count());
        }
        const double up = (*xgb)[i * 2 + 1];
        if (!std::isfinite(q)) q = up;
        const double mixed = (m * up + q) / (m + 1);
        (*mix)[i * 2 + 1] = static_cast<float>(mixed);
        (*mix)[i * 2] = static_cast<float>(1 - mixed);
        (*g)[i * 2 + 1] = static_cast<float>(q);
        (*g)[i * 2] = static_cast<float>(1 - q);
      }
    };
    std::vector<float> cx, cm, cg, tx, tm, tg;
    raw_of(s.calib, &cx, &cm, &cg, false);
    raw_of(s.test, &tx, &tm, &tg, true);
    std::vector<int8_t> yc, yt;
    for (size_t i : s.calib) yc.push_back(ds->rows[i].label);
    for (size_t i : s.test) yt.push_back(ds->rows[i].label);
    auto cal_x = Calibrator::Fit(cx, yc, 2, co);
    auto cal_m = Calibrator::Fit(cm, yc, 2, co);
    auto cal_g = Calibrator::Fit(cg, yc, 2, co);
    if (!cal_x.ok() || !cal_m.ok() || !cal_g.ok()) return Fail("calibration failed");
    std::vector<size_t> trained(s.fit);
    trained.insert(trained.end(), s.calib.begin(), s.calib.end());
    std::vector<int8_t> ytrain;
    for (size_t i : trained) ytrain.push_back(ds->rows[i].label);
    const auto base_row = BaseRateForecast(ytrain, 2, h);
    for (size_t i = 0; i < s.test.size(); ++i) {
      cal_x->Apply(&tx[i * 2]);
      cal_m->Apply(&tm[i * 2]);
      cal_g->Apply(&tg[i * 2]);
      p_without.insert(p_without.end(), {tx[i * 2], tx[i * 2 + 1]});
      p_with.insert(p_with.end(), {tm[i * 2], tm[i * 2 + 1]});
      p_gru.insert(p_gru.end(), {tg[i * 2], tg[i * 2 + 1]});
      base_p.insert(base_p.end(), base_row.begin(), base_row.end());
      labels.push_back(yt[i]);
    }
    std::printf("fold %zu: GRU best epoch %d, validation log loss %.4f\n", f + 1, gru->best_epoch(),
                gru->validation_log_loss());
    std::fflush(stdout);
  }
  const SkillEstimate with_vs_without = EstimateSkill(p_with, p_without, labels, 2, h);
  const SkillEstimate without = EstimateSkill(p_without, base_p, labels, 2, h);
  const SkillEstimate with = EstimateSkill(p_with, base_p, labels, 2, h);
  const SkillEstimate gru_alone = EstimateSkill(p_gru, base_p, labels, 2, h);
  std::sort(latency_ns.begin(), latency_ns.end());
  auto pct = [&](double q) {
    return latency_ns.empty() ? 0.0 : latency_ns[static_cast<size_t>(q * (latency_ns.size() - 1))];
  };
  std::printf(
      "%s h%d, n %zu: log loss without the GRU %.5f, with %.5f, GRU alone %.5f, base rate %.5f\n",
      sym.c_str(), h, labels.size(), without.model_log_loss, with.model_log_loss,
      gru_alone.model_log_loss, without.base_log_loss);
  std::printf("gain of adding the GRU: %+.5f [%+.5f, %+.5f] nats/row -> %s\n",
              with_vs_without.log_loss_gain.mean, with_vs_without.log_loss_gain.lo,
              with_vs_without.log_loss_gain.hi, with_vs_without.shown ? "KEEP" : "not kept");
  std::printf("skill over the base rate: without %s; with %s; GRU alone %s\n",
              without.shown ? "shown" : "not shown", with.shown ? "shown" : "not shown",
              gru_alone.shown ? "shown" : "not shown");
  std::printf(
      "GRU training %.1f s for %zu folds; single-row inference (hand-written pass, %d x %d): "
      "p50 %.1f us, p99 %.1f us (n %zu)\n",
      gru_seconds, splits->size(), gc.window, gc.hidden, pct(0.5) / 1e3, pct(0.99) / 1e3,
      latency_ns.size());
  return 0;
}
