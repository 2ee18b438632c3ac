// sinyal_models_eval: walk-forward evaluation of the default ensemble on a shared-data CSV.
//
//   sinyal_models_eval --data-dir ../shared/data/market --symbol EURUSD [--horizon 1]
//       [--timeframe H1] [--dead-band auto|0.0001] [--folds 5] [--trees N] [--last-bars N]
//       [--three-class] [--tz NY+7|EET|UTC] [--digits 5] [--out DIR] [--code-version X]
//       [--features core-v1|basic]
//
// Reads <data-dir>/<SYMBOL>_<TF>.csv with market/'s importer (times converted to UTC with the
// file's documented zone: NY+7 for the nobodys-forex pairs, EET for USDJPY/XAUUSD), computes the
// feature set (default: features/' TA-Lib-exact "core-v1"; "basic": models/' small built-in
// set), proves it has no look-ahead, runs the walk-forward evaluation and prints
// a summary; with --out it writes the JSON/Markdown/SVG report. The lead's `sinyal evaluate`
// calls the same library functions.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "core/clock.h"
#include "core/time.h"
#include "features/feature_set.h"
#include "market/csv_import.h"
#include "models/inputs.h"
#include "models/market_adapter.h"
#include "models/report.h"
#include "models/tools/shared_data.h"
#include "models/walk_forward.h"

using namespace sinyal;
using namespace sinyal::models;

namespace {

int Fail(const std::string& m) { return tools::Fail("sinyal_models_eval", m); }

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> opt = {{"timeframe", "H1"},
                                            {"horizon", "1"},
                                            {"dead-band", "auto"},
                                            {"folds", "5"},
                                            {"trees", ""},
                                            {"last-bars", "0"},
                                            {"tz", ""},
                                            {"digits", ""},
                                            {"out", ""},
                                            {"code-version", "dev"},
                                            {"data-dir", ""},
                                            {"symbol", ""},
                                            {"features", "core-v1"},
                                            {"calibration", "shrunk_logistic"},
                                            {"min-slope-t", "1.96"}};
  bool three_class = false;
  std::string command = "sinyal_models_eval";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    command += " " + a;
    if (a == "--three-class") {
      three_class = true;
      continue;
    }
    if (a.rfind("--", 0) != 0 || !opt.count(a.substr(2)) || i + 1 >= argc) {
      return Fail("unknown or incomplete option '" + a +
                  "' (see the comment at the top of eval_main.cc)");
    }
    opt[a.substr(2)] = argv[++i];
    command += std::string(" ") + argv[i];
  }
  if (opt["data-dir"].empty() || opt["symbol"].empty())
    return Fail("--data-dir and --symbol are required");
  const std::string sym = opt["symbol"];
  const std::string tf = opt["timeframe"];
  const auto path = std::filesystem::path(opt["data-dir"]) / (sym + "_" + tf + ".csv");
  if (!std::filesystem::exists(path))
    return Fail("no data for symbol " + sym + ": " + path.string() + " not found");

  market::CsvImportOptions io;
  auto tz = TimeZone::Parse(opt["tz"].empty() ? tools::SharedDataTimeZone(sym) : opt["tz"]);
  if (!tz.ok()) return Fail(tz.error().ToString());
  io.source_tz = *tz;
  auto imported = market::ImportBarsCsvFile(path, io);
  if (!imported.ok()) return Fail(imported.error().ToString());
  std::vector<market::Bar>& mbars = imported->bars;
  const size_t last = std::strtoull(opt["last-bars"].c_str(), nullptr, 10);
  if (last > 0 && mbars.size() > last)
    mbars.erase(mbars.begin(), mbars.end() - static_cast<std::ptrdiff_t>(last));
  const int digits =
      opt["digits"].empty() ? tools::SharedDataDigits(sym) : std::atoi(opt["digits"].c_str());
  double point = 1;
  for (int d = 0; d < digits; ++d) point /= 10;
  auto bars = ToBarColumns(sym, tf, mbars, point);
  if (!bars.ok()) return Fail(bars.error().ToString());

  const double median_spread = MedianRelativeSpread(*bars);
  TrainConfig cfg = DefaultTrainConfig(sym, tf);
  cfg.horizon = std::atoi(opt["horizon"].c_str());
  cfg.dead_band = opt["dead-band"] == "auto" ? std::max(median_spread, 1e-5)
                                             : std::atof(opt["dead-band"].c_str());
  cfg.neutral = three_class ? NeutralMode::kThirdClass : NeutralMode::kExclude;
  if (!opt["trees"].empty()) {
    for (auto& m : cfg.members) m.trees = std::atoi(opt["trees"].c_str());
  }
  {
    auto cm = ParseCalibrationMethod(opt["calibration"]);
    if (!cm.ok()) return Fail(cm.error().ToString());
    cfg.calibration = *cm;
    cfg.calibration_min_slope_t = std::atof(opt["min-slope-t"].c_str());
  }
  if (Status s = ValidateTrainConfig(cfg, PlanBounds{}); !s.ok()) return Fail(s.ToString());

  // Features, and the proof that none of them looks ahead (on a 3000-bar slice: the check
  // recomputes the features ~28 times).
  const bool basic = opt["features"] == "basic";
  if (!basic && opt["features"] != features::DefaultFeatureSet().name) {
    return Fail("unknown --features '" + opt["features"] + "' (core-v1 or basic)");
  }
  // The model's rows through the seam (models/inputs.h), as `sinyal train` computes them.
  auto spec =
      basic ? InputSpec::Basic() : InputSpec::FeatureSet(features::DefaultFeatureSet()).value();
  auto compute = [&](size_t n) -> Result<FeatureFrame> {
    return ComputeInputs(spec, std::span<const market::Bar>(mbars.data(), n));
  };
  const size_t check_n = std::min<size_t>(bars->size(), 3000);
  Status leak = CheckNoLookahead(compute, check_n);
  if (!leak.ok()) return Fail("look-ahead check failed: " + leak.ToString());
  auto fr = compute(bars->size());
  if (!fr.ok()) return Fail(fr.error().ToString());
  cfg.feature_set = fr->set_name;
  LabelConfig lc;
  lc.horizon = cfg.horizon;
  lc.dead_band = cfg.dead_band;
  lc.neutral = cfg.neutral;
  auto ds = BuildDataset(*bars, *fr, lc, cfg.min_train_rows);
  if (!ds.ok()) return Fail(ds.error().ToString());

  WalkForwardConfig wf;
  wf.folds = std::atoi(opt["folds"].c_str());
  std::printf(
      "%s %s: %zu bars %s .. %s UTC, %zu rows (%zu neutral excluded), dead band %.2f bp "
      "(median spread %.2f bp), features %s v%d (%zu), look-ahead check passed\n",
      sym.c_str(), tf.c_str(), bars->size(), FormatIso8601(bars->ts.front()).c_str(),
      FormatIso8601(bars->ts.back()).c_str(), ds->size(), ds->neutral_dropped, cfg.dead_band * 1e4,
      median_spread * 1e4, fr->set_name.c_str(), fr->set_version, fr->cols());
  std::fflush(stdout);
  auto res = RunWalkForward(*ds, cfg, wf, &SystemClock::Instance());
  if (!res.ok()) return Fail(res.error().ToString());
  const auto& p = res->pooled;
  std::printf(
      "pooled: n=%zu accuracy %.2f%% [%.2f, %.2f] balanced %.2f%% logloss %.4f brier %.4f "
      "auc %.3f reliability gap %.4f (uncalibrated %.4f); training %.1f s for %zu folds\n",
      p.n, 100 * p.accuracy, 100 * p.accuracy_ci.lo, 100 * p.accuracy_ci.hi,
      100 * p.balanced_accuracy, p.log_loss, p.brier, p.roc_auc, p.reliability_gap,
      res->pooled_raw.reliability_gap, res->total_train_seconds, res->folds.size());
  std::printf("skill: %s; Brier gain %+.5f [%+.5f, %+.5f]; %s\n", res->skill.Describe().c_str(),
              res->skill.brier_gain.mean, res->skill.brier_gain.lo, res->skill.brier_gain.hi,
              res->skill.shown ? "SHOWN" : "not shown");
  for (const auto& f : res->folds) {
    std::printf(
        "  fold %d: n=%zu logloss %.4f base %.4f gain %+.4f [%+.4f, %+.4f] gap %.4f "
        "informative %s base_rate %.3f served %s\n",
        f.fold, f.test_rows, f.skill.model_log_loss, f.skill.base_log_loss,
        f.skill.log_loss_gain.mean, f.skill.log_loss_gain.lo, f.skill.log_loss_gain.hi,
        f.model.reliability_gap, f.informative ? "yes" : "no", f.base_rate,
        f.served ? "yes" : "no");
  }
  {
    const auto& v = res->served;
    std::printf("served: accuracy %.2f%% logloss %.4f brier %.4f gap %.4f; %s\n", 100 * v.accuracy,
                v.log_loss, v.brier, v.reliability_gap, res->served_skill.Describe().c_str());
  }
  for (const auto& b : res->pooled_baselines) {
    std::printf(
        "  baseline %-15s accuracy %.2f%% [%.2f, %.2f] logloss %.4f; model vs it: "
        "diff %+.2f pp, McNemar p=%.4g\n",
        b.name.c_str(), 100 * b.metrics.accuracy, 100 * b.metrics.accuracy_ci.lo,
        100 * b.metrics.accuracy_ci.hi, b.metrics.log_loss,
        100 * b.model_vs_baseline.accuracy_difference, b.model_vs_baseline.p_value);
  }
  for (const auto& a : p.abstention) {
    char acc[32] = "-";
    if (a.n)
      std::snprintf(acc, sizeof(acc), "%.2f%% [%.2f, %.2f]", 100 * a.accuracy,
                    100 * a.accuracy_ci.lo, 100 * a.accuracy_ci.hi);
    std::printf("  abstain < %.2f: coverage %.1f%% n=%zu accuracy %s\n", a.threshold,
                100 * a.coverage, a.n, acc);
  }
  if (!opt["out"].empty()) {
    const std::string base = sym + "_" + tf + "_h" + opt["horizon"] + (basic ? "_basic" : "") +
                             (three_class ? "_3class" : "");
    auto rep = RenderEvaluationReport(*res, base, command);
    if (Status s = WriteEvaluationReport(rep, opt["out"], base); !s.ok()) return Fail(s.ToString());
    std::printf("report: %s/%s.{json,md} + 2 SVG\n", opt["out"].c_str(), base.c_str());
  }
  return 0;
}
