// sinyal_horizon_report: the per symbol x horizon figures of docs/models.md (issue 13).
//
//   sinyal_horizon_report --data-dir ../shared/data/market --symbol EURUSD --horizon 24
//       [--tz NY+7] [--folds 5] [--trees N] [--json FILE] [--row FILE]
//
// --row FILE appends this run's line of the summary table of docs/models.md (scripts/models_report.sh
// writes the header).
//
// The default ensemble (core-v1, DefaultTrainConfig, the shrunk logistic calibration), the
// walk-forward evaluation of models/walk_forward.h (5 folds after an initial 40%, purged and
// embargoed), and on the same test rows:
//   - accuracy with its Wilson interval on n rows and, for overlapping labels, the interval on the
//     effective n (Newey-West, skill.h);
//   - log loss and Brier against the training rows' base rate, with Newey-West intervals;
//   - the reliability gap (10 bins) of the calibrated and of the served probability;
//   - the three naive baselines with the exact McNemar test and the Newey-West paired test of the
//     correctness difference (McNemar assumes independent rows, which h > 1 breaks);
//   - the abstention curve of the served probability;
//   - conformal coverage at 80% and 95% with the served interval rule (RecentIntervals: the
//     resolved rows among the newest 1,024 bars at each bar, pooled, scale rv24 * sqrt(h)), per
//     fold and pooled, over every bar of the
//     test span (point forecast from the fold's model where the bar is a dataset row, else 0).
// Prints Markdown; --json writes the numbers.
#include <algorithm>
#include <boost/math/distributions/normal.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/time.h"
#include "features/feature_set.h"
#include "market/csv_import.h"
#include "models/inputs.h"
#include "models/market_adapter.h"
#include "models/metrics.h"
#include "models/skill.h"
#include "models/tools/shared_data.h"
#include "models/walk_forward.h"
#include "signals/conformal.h"
#include "signals/interval_calibration.h"
#include "signals/regime.h"

using namespace sinyal;
using namespace sinyal::models;
using nlohmann::json;

namespace {

int Fail(const std::string& m) { return models::tools::Fail("sinyal_horizon_report", m); }

double TwoSidedP(double z) {
  if (!std::isfinite(z)) return 1.0;
  return 2.0 * boost::math::cdf(boost::math::complement(boost::math::normal(), std::fabs(z)));
}

std::string Pct(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f%%", 100 * v);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  std::string command = "sinyal_horizon_report";
  auto parsed = models::tools::ParseStudyOptions(
      argc, argv, {{"folds", "5"}, {"trees", ""}, {"json", ""}, {"digits", ""}, {"row", ""}},
      &command);
  if (!parsed.ok()) return Fail(parsed.error().message());
  auto& opt = *parsed;
  auto series = models::tools::LoadStudySeries(opt);
  if (!series.ok()) return Fail(series.error().ToString());
  auto& [sym, mbars, cols, cfg] = *series;
  const int h = cfg.horizon;
  // The model's rows through the seam (models/inputs.h), as `sinyal train` computes them.
  auto frame = ComputeInputs(InputSpec::FeatureSet(features::DefaultFeatureSet()).value(), mbars);
  if (!frame.ok()) return Fail(frame.error().ToString());
  cfg.feature_set = frame->set_name;
  LabelConfig lc;
  lc.horizon = h;
  lc.dead_band = cfg.dead_band;
  auto ds = BuildDataset(cols, *frame, lc, cfg.min_train_rows);
  if (!ds.ok()) return Fail(ds.error().ToString());
  WalkForwardConfig wf;
  wf.folds = std::atoi(opt["folds"].c_str());
  auto res = RunWalkForward(*ds, cfg, wf, &SystemClock::Instance());
  if (!res.ok()) return Fail(res.error().ToString());
  const WalkForwardResult& r = *res;
  const size_t n = r.pooled_labels.size();
  // A calibrator without evidence maps every row to the base rate: then the "prediction" is a
  // tie-break (argmax of equal probabilities), not a call, and its accuracy is not the model's.
  size_t informative_folds = 0;
  for (const auto& f : r.folds) informative_folds += f.informative;
  const bool constant_p = n > 0 && informative_folds == 0;

  // Accuracy with the effective-n interval.
  std::vector<double> correct(n);
  for (size_t i = 0; i < n; ++i) correct[i] = r.pooled_pred[i] == r.pooled_labels[i] ? 1.0 : 0.0;
  const MeanInterval acc = HacMean(correct, HacLag(n, h));
  const Interval acc_eff =
      WilsonInterval(static_cast<size_t>(std::lround(acc.mean * acc.n_effective)),
                     static_cast<size_t>(std::lround(acc.n_effective)));

  // Paired Newey-West tests of correctness against each baseline.
  json baselines = json::array();
  std::string baseline_md;
  for (size_t b = 0; b < r.pooled_baselines.size(); ++b) {
    const auto& bl = r.pooled_baselines[b];
    std::vector<double> d(n);
    for (size_t i = 0; i < n; ++i) {
      d[i] = (r.pooled_pred[i] == r.pooled_labels[i] ? 1.0 : 0.0) -
             (r.pooled_baseline_preds[b][i] == r.pooled_labels[i] ? 1.0 : 0.0);
    }
    const MeanInterval md = HacMean(d, HacLag(n, h));
    const double p_hac = md.se > 0 ? TwoSidedP(md.mean / md.se) : 1.0;
    char line[300];
    std::snprintf(line, sizeof line,
                  "%s: %s [%.2f, %.2f]; model %+.2f pp, McNemar p = %.2g, Newey-West p = %.2g",
                  bl.name.c_str(), Pct(bl.metrics.accuracy).c_str(),
                  100 * bl.metrics.accuracy_ci.lo, 100 * bl.metrics.accuracy_ci.hi,
                  100 * bl.model_vs_baseline.accuracy_difference, bl.model_vs_baseline.p_value,
                  p_hac);
    baseline_md += std::string(b ? "<br>" : "") + line;
    baselines.push_back({{"name", bl.name},
                         {"accuracy", bl.metrics.accuracy},
                         {"accuracy_ci95", {bl.metrics.accuracy_ci.lo, bl.metrics.accuracy_ci.hi}},
                         {"model_minus_baseline", bl.model_vs_baseline.accuracy_difference},
                         {"mcnemar_p", bl.model_vs_baseline.p_value},
                         {"newey_west_p", p_hac}});
  }

  // Conformal coverage with the served rule over every bar of the test span.
  auto states = signals::ClassifyRegimes(mbars);
  if (!states.ok()) return Fail(states.error().ToString());
  std::vector<double> point(mbars.size(), 0.0);
  std::vector<int> fold_of(mbars.size(), -1);
  {
    size_t k = 0;
    for (size_t f = 0; f < r.folds.size(); ++f) {
      for (size_t j = 0; j < r.folds[f].test_rows; ++j, ++k) {
        const size_t bar = ds->rows[r.pooled_rows[k]].bar;
        fold_of[bar] = static_cast<int>(f);
        point[bar] = r.pooled_served_p_up[k];  // P(up); turned into a point below
      }
    }
  }
  // move_ratio as the product fits it: mean |r| / scale over rows before the test span.
  const size_t first_test_bar = ds->rows[r.pooled_rows.front()].bar;
  const size_t last_test_bar = ds->rows[r.pooled_rows.back()].bar;
  std::vector<double> score(mbars.size(), std::nan(""));  // |actual| / scale of resolved bars
  std::vector<double> scale(mbars.size(), std::nan("")), actual(mbars.size(), std::nan(""));
  double mr_sum = 0;
  size_t mr_n = 0;
  for (size_t i = 0; i + h < mbars.size(); ++i) {
    const auto& s = (*states)[i];
    if (!s.ready || !(s.rv > 0)) continue;
    scale[i] = s.rv * std::sqrt(static_cast<double>(h));
    actual[i] = std::log(mbars[i + h].close() / mbars[i].close());
    score[i] = std::fabs(actual[i]) / scale[i];
    if (i + h < first_test_bar) {
      mr_sum += score[i];
      ++mr_n;
    }
  }
  const double move_ratio = mr_n ? mr_sum / static_cast<double>(mr_n) : 0;
  const double cov[2] = {0.8, 0.95};
  std::vector<size_t> fc[2], fnn;
  fc[0].assign(r.folds.size(), 0);
  fc[1].assign(r.folds.size(), 0);
  fnn.assign(r.folds.size(), 0);
  double width[2] = {0, 0};
  size_t width_n = 0;
  {
    int cur = 0;
    for (size_t t = first_test_bar; t <= last_test_bar && t + h < mbars.size(); ++t) {
      if (fold_of[t] >= 0) cur = fold_of[t];
      if (!std::isfinite(scale[t])) continue;
      // The served rule (interval_calibration.h RecentIntervals) at bar t.
      auto recent = signals::RecentIntervals(std::span(mbars).first(t + 1),
                                             std::span(*states).first(t + 1), h);
      if (!recent.ok()) continue;
      const double p_up = fold_of[t] >= 0 ? point[t] : 0.5;
      const double pt = signals::ConformalPoint(p_up, move_ratio, scale[t]);
      const auto iv = recent->Predict(pt, scale[t], -1);
      for (int k = 0; k < 2; ++k) {
        fc[k][static_cast<size_t>(cur)] += actual[t] >= iv[k].lo && actual[t] <= iv[k].hi;
        width[k] += iv[k].hi - iv[k].lo;
      }
      ++fnn[static_cast<size_t>(cur)];
      ++width_n;
    }
  }
  json conformal = json::array();
  std::string cov_md[2];
  for (int k = 0; k < 2; ++k) {
    size_t c = 0, t = 0;
    double maxdev = 0;
    json per_fold = json::array();
    for (size_t f = 0; f < r.folds.size(); ++f) {
      c += fc[k][f];
      t += fnn[f];
      const double e = fnn[f] ? static_cast<double>(fc[k][f]) / fnn[f] : std::nan("");
      per_fold.push_back(e);
      if (fnn[f]) maxdev = std::max(maxdev, std::fabs(e - cov[k]));
    }
    const double e = t ? static_cast<double>(c) / t : std::nan("");
    char b[96];
    std::snprintf(b, sizeof b, "%.1f%% (folds within %.1f pp)", 100 * e, 100 * maxdev);
    cov_md[k] = b;
    conformal.push_back({{"nominal", cov[k]},
                         {"n", t},
                         {"empirical", e},
                         {"per_fold", per_fold},
                         {"max_fold_deviation", maxdev},
                         {"mean_width", width_n ? width[k] / width_n : 0}});
  }

  const auto& m = r.pooled;
  const auto& sv = r.served;
  const SkillEstimate& sk = r.skill;
  std::printf("### %s H1, horizon %d\n\n", sym.c_str(), h);
  std::printf(
      "`%s`: %zu bars %s .. %s UTC; test rows %s .. %s; dead band %.2f bp; %zu rows, %zu test "
      "rows, n_eff %.0f.\n\n",
      command.c_str(), mbars.size(), FormatIso8601(mbars.front().time()).substr(0, 10).c_str(),
      FormatIso8601(mbars.back().time()).substr(0, 10).c_str(),
      FormatIso8601(ds->rows[r.pooled_rows.front()].ts).substr(0, 10).c_str(),
      FormatIso8601(ds->rows[r.pooled_rows.back()].ts).substr(0, 10).c_str(), cfg.dead_band * 1e4,
      ds->size(), n, acc.n_effective);
  std::printf("| figure | value |\n|---|---|\n");
  std::printf(
      "| accuracy [95%% Wilson, n] | %s [%.2f, %.2f], n %zu%s |\n", Pct(m.accuracy).c_str(),
      100 * m.accuracy_ci.lo, 100 * m.accuracy_ci.hi, m.n,
      constant_p
          ? " (**no call**: P(up) is the base rate on every row, so the direction is a tie-break "
            "and this is the share of that class in the test rows)"
          : "");
  std::printf("| accuracy interval on n_eff | [%.2f, %.2f], n_eff %.0f |\n", 100 * acc_eff.lo,
              100 * acc_eff.hi, acc.n_effective);
  std::printf(
      "| log loss: model / base rate / coin | %.4f / %.4f / 0.6931; gain %+.4f [%+.4f, %+.4f] |\n",
      sk.model_log_loss, sk.base_log_loss, sk.log_loss_gain.mean, sk.log_loss_gain.lo,
      sk.log_loss_gain.hi);
  std::printf("| Brier: model / base rate | %.4f / %.4f; gain %+.5f [%+.5f, %+.5f] |\n",
              sk.model_brier, sk.base_brier, sk.brier_gain.mean, sk.brier_gain.lo,
              sk.brier_gain.hi);
  std::printf("| skill shown (walk-forward) | %s |\n", sk.shown ? "**yes**" : "no");
  std::printf("| reliability gap: calibrated / uncalibrated | %.1f pp / %.1f pp |\n",
              100 * m.reliability_gap, 100 * r.pooled_raw.reliability_gap);
  size_t served_folds = 0;
  for (const auto& f : r.folds) served_folds += f.served;
  std::printf(
      "| as served (folds with prior skill: %zu of %zu) | log loss %.4f, Brier %.4f, gap %.1f pp, "
      "accuracy %s |\n",
      served_folds, r.folds.size(), sv.log_loss, sv.brier, 100 * sv.reliability_gap,
      Pct(sv.accuracy).c_str());
  std::printf("| baselines | %s |\n", baseline_md.c_str());
  std::string curve;
  for (const auto& a : sv.abstention) {
    if (a.threshold > 0.651) break;
    char b[96];
    if (a.n) {
      std::snprintf(b, sizeof b, "%s>= %.2f: %.1f%%, %.1f%%", curve.empty() ? "" : "; ",
                    a.threshold, 100 * a.coverage, 100 * a.accuracy);
    } else {
      std::snprintf(b, sizeof b, "%s>= %.2f: none", curve.empty() ? "" : "; ", a.threshold);
    }
    curve += b;
  }
  std::printf("| abstention (served; coverage, accuracy) | %s |\n", curve.c_str());
  std::printf("| conformal 80%% / 95%% (served rule: newest %zu bars) | %s / %s |\n\n",
              signals::kRecentIntervalBars, cov_md[0].c_str(), cov_md[1].c_str());

  if (!opt["row"].empty()) {
    // symbol | h | n (n_eff) | accuracy [95%] | log loss model / base | gain [95%] | Brier gain [95%] |
    // skill | gap | best naive | served >= 0.55 | conformal 80 / 95 (max fold dev)
    std::string best_name = "-";
    double best_acc = -1;
    for (const auto& bl : r.pooled_baselines) {
      if (bl.metrics.accuracy > best_acc) {
        best_acc = bl.metrics.accuracy;
        best_name = bl.name;
      }
    }
    std::string ab = "none";
    for (const auto& a : sv.abstention) {
      if (std::fabs(a.threshold - 0.55) < 1e-9 && a.n) {
        char b[64];
        std::snprintf(b, sizeof b, "%.1f%%, %.1f%%", 100 * a.coverage, 100 * a.accuracy);
        ab = b;
      }
    }
    char line[900];
    std::snprintf(line, sizeof line,
                  "| %s | %d | %zu (%.0f) | %s%.2f%% [%.2f, %.2f] | %.4f / %.4f | %+.4f [%+.4f, "
                  "%+.4f] | %+.5f [%+.5f, %+.5f] | "
                  "%s | %.1f pp | %s %.2f%% | %s | %.1f%% / %.1f%% (%.1f / %.1f pp) |\n",
                  sym.c_str(), h, n, acc.n_effective,
                  constant_p ? "no call (p = base rate); tie-break class " : "", 100 * m.accuracy,
                  100 * m.accuracy_ci.lo, 100 * m.accuracy_ci.hi, sk.model_log_loss,
                  sk.base_log_loss, sk.log_loss_gain.mean, sk.log_loss_gain.lo, sk.log_loss_gain.hi,
                  sk.brier_gain.mean, sk.brier_gain.lo, sk.brier_gain.hi,
                  sk.shown ? "**yes**" : "no", 100 * m.reliability_gap, best_name.c_str(),
                  100 * best_acc, ab.c_str(), 100 * conformal[0]["empirical"].get<double>(),
                  100 * conformal[1]["empirical"].get<double>(),
                  100 * conformal[0]["max_fold_deviation"].get<double>(),
                  100 * conformal[1]["max_fold_deviation"].get<double>());
    std::ofstream(opt["row"], std::ios::app) << line;
  }
  if (!opt["json"].empty()) {
    json out = {{"symbol", sym},
                {"horizon", h},
                {"command", command},
                {"walk_forward", ToJson(r)},
                {"accuracy_effective",
                 {{"n_effective", acc.n_effective}, {"ci95", {acc_eff.lo, acc_eff.hi}}}},
                {"baselines", baselines},
                {"conformal", conformal},
                {"move_ratio", move_ratio}};
    std::ofstream(opt["json"]) << out.dump(1) << "\n";
  }
  return 0;
}
