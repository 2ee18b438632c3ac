// sinyal_model_search: honest model selection (nested walk-forward, selection.h) over member
// hyperparameters and feature sets on a shared-data CSV.
//
//   sinyal_model_search --data-dir ../shared/data/market --symbol EURUSD [--horizon 1]
//       [--outer 5] [--inner 3] [--last-bars N] [--grid full|smoke] [--out FILE.json]
//
// Candidates (fixed before any result was seen; candidate 0 is the production default):
//   feature set {core-v1, basic} x members' shared settings
//   {default: 150 trees, depth 4, eta 0.05, min_child_weight 20;
//    regularised: 300 trees, depth 2, eta 0.03, min_child_weight 100;
//    deeper: 150 trees, depth 6, eta 0.05, min_child_weight 50;
//    short: 60 trees, depth 3, eta 0.1, min_child_weight 20}
// (depth applies to the depth-wise members; the lossguide member keeps its leaves). The smoke
// grid (CI) is 2 candidates with 20 trees on the newest bars.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>

#include "features/feature_set.h"
#include "market/csv_import.h"
#include "models/basic_features.h"
#include "models/inputs.h"
#include "models/market_adapter.h"
#include "models/selection.h"
#include "models/tools/shared_data.h"

using namespace sinyal;
using namespace sinyal::models;

namespace {
int Fail(const std::string& m) { return tools::Fail("sinyal_model_search", m); }
}  // namespace

int main(int argc, char** argv) {
  auto parsed = tools::ParseStudyOptions(
      argc, argv,
      {{"outer", "5"}, {"inner", "3"}, {"last-bars", "0"}, {"grid", "full"}, {"out", ""}});
  if (!parsed.ok()) return Fail(parsed.error().message());
  auto& opt = *parsed;
  auto series = tools::LoadStudySeries(opt);
  if (!series.ok()) return Fail(series.error().ToString());
  auto& [sym, mbars, cols, base] = *series;
  const bool smoke = opt["grid"] == "smoke";
  if (!smoke && opt["grid"] != "full") return Fail("--grid must be full or smoke");

  LabelConfig lc;
  lc.horizon = base.horizon;
  lc.dead_band = base.dead_band;
  // Each candidate feature set's rows through the seam (models/inputs.h).
  auto core = ComputeInputs(InputSpec::FeatureSet(features::DefaultFeatureSet()).value(), mbars);
  auto basic = ComputeInputs(InputSpec::Basic(), mbars);
  if (!core.ok()) return Fail(core.error().ToString());
  if (!basic.ok()) return Fail(basic.error().ToString());
  auto ds_core = BuildDataset(cols, *core, lc, 1000);
  auto ds_basic = BuildDataset(cols, *basic, lc, 1000);
  if (!ds_core.ok()) return Fail(ds_core.error().ToString());
  if (!ds_basic.ok()) return Fail(ds_basic.error().ToString());
  auto aligned = AlignDatasets({&*ds_core, &*ds_basic});
  if (!aligned.ok()) return Fail(aligned.error().ToString());

  struct Shape {
    const char* name;
    int trees, depth;
    double eta, mcw;
  };
  std::vector<Shape> shapes = {{"default", 150, 4, 0.05, 20},
                               {"regularised", 300, 2, 0.03, 100},
                               {"deeper", 150, 6, 0.05, 50},
                               {"short", 60, 3, 0.1, 20}};
  if (smoke) shapes = {{"default-20", 20, 4, 0.05, 20}, {"short-20", 20, 2, 0.1, 20}};
  std::vector<SearchCandidate> cands;
  const char* fs_names[2] = {"core-v1", "basic"};
  for (int f = 0; f < (smoke ? 1 : 2); ++f) {
    for (const Shape& s : shapes) {
      TrainConfig c = DefaultTrainConfig(sym, "H1");
      c.horizon = lc.horizon;
      c.dead_band = lc.dead_band;
      c.feature_set = fs_names[f];
      for (auto& m : c.members) {
        m.trees = s.trees;
        m.eta = s.eta;
        m.min_child_weight = s.mcw;
        if (m.grow_policy == GrowPolicy::kDepthwise) m.max_depth = s.depth;
      }
      if (smoke) c.min_train_rows = 500;
      cands.push_back(
          {std::string(fs_names[f]) + " " + s.name, c, &(*aligned)[static_cast<size_t>(f)]});
    }
  }
  NestedSearchConfig cfg;
  cfg.outer_folds = std::atoi(opt["outer"].c_str());
  cfg.inner_folds = std::atoi(opt["inner"].c_str());
  std::printf("%s H1 h%d: %zu common rows, %zu candidates, %d outer x %d inner folds\n",
              sym.c_str(), lc.horizon, (*aligned)[0].size(), cands.size(), cfg.outer_folds,
              cfg.inner_folds);
  std::fflush(stdout);
  auto res = RunNestedSearch(cands, cfg, [](const std::string& s) {
    std::printf("  %s\n", s.c_str());
    std::fflush(stdout);
  });
  if (!res.ok()) return Fail(res.error().ToString());
  std::printf("selected (outer, pooled): n=%zu accuracy %.2f%% log loss %.5f brier %.5f gap %.4f\n",
              res->selected.n, 100 * res->selected.accuracy, res->selected.log_loss,
              res->selected.brier, res->selected.reliability_gap);
  std::printf("default  (outer, pooled): n=%zu accuracy %.2f%% log loss %.5f brier %.5f gap %.4f\n",
              res->default_model.n, 100 * res->default_model.accuracy, res->default_model.log_loss,
              res->default_model.brier, res->default_model.reliability_gap);
  std::printf("gain of selection over the default: %+.5f [%+.5f, %+.5f] nats/row (n_eff %.0f)\n",
              res->gain_over_default.mean, res->gain_over_default.lo, res->gain_over_default.hi,
              res->gain_over_default.n_effective);
  std::printf("search optimism: winners' inner log loss %.5f, outer %.5f: %+.5f\n",
              res->mean_inner_log_loss, res->mean_outer_log_loss, res->optimism);
  if (!opt["out"].empty()) {
    std::ofstream(opt["out"]) << res->ToJson().dump(1) << "\n";
  }
  return 0;
}
