#include "models/selection.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <unordered_map>

#include "models/ensemble.h"
#include "models/walk_forward.h"

namespace sinyal::models {

namespace {

double RowLogLoss(const float* p, int label) {
  return -std::log(std::clamp(static_cast<double>(p[label]), 1e-15, 1.0));
}

nlohmann::json Summary(const ClassificationMetrics& m) {
  return {{"n", m.n},
          {"accuracy", m.accuracy},
          {"accuracy_ci95", {m.accuracy_ci.lo, m.accuracy_ci.hi}},
          {"log_loss", m.log_loss},
          {"brier", m.brier},
          {"reliability_gap", m.reliability_gap}};
}

// Inner walk-forward splits whose first window holds min_train_rows fitting rows (as the service
// does for a version's report).
Result<WalkForwardConfig> InnerConfig(const Dataset& ds, const TrainConfig& c, int folds) {
  WalkForwardConfig wf;
  wf.folds = folds;
  const double need = 1.1 * static_cast<double>(c.min_train_rows) / (1.0 - c.calibration_fraction);
  wf.initial_train_fraction =
      std::max(0.4, need / static_cast<double>(std::max<size_t>(1, ds.size())));
  if (wf.initial_train_fraction > 0.8) {
    return Status::FailedPrecondition(
        "too little data for the inner walk-forward: " + std::to_string(ds.size()) + " rows",
        "data");
  }
  return wf;
}

}  // namespace

Dataset SubsetRows(const Dataset& ds, std::span<const size_t> idx) {
  Dataset out;
  out.symbol = ds.symbol;
  out.timeframe = ds.timeframe;
  out.feature_set = ds.feature_set;
  out.feature_set_version = ds.feature_set_version;
  out.feature_names = ds.feature_names;
  out.num_classes = ds.num_classes;
  out.horizon = ds.horizon;
  out.dead_band = ds.dead_band;
  ds.Gather(idx, &out.x, nullptr);
  out.rows.reserve(idx.size());
  for (size_t i : idx) out.rows.push_back(ds.rows[i]);
  return out;
}

Result<std::vector<Dataset>> AlignDatasets(const std::vector<const Dataset*>& datasets) {
  if (datasets.empty()) return Status::InvalidArgument("no datasets", "datasets");
  std::unordered_map<uint32_t, size_t> count;
  for (const Dataset* d : datasets) {
    for (const auto& r : d->rows) count[r.bar]++;
  }
  std::vector<Dataset> out;
  const Dataset& first = *datasets[0];
  std::unordered_map<uint32_t, int8_t> label_of;
  for (const auto& r : first.rows) label_of[r.bar] = r.label;
  for (size_t k = 0; k < datasets.size(); ++k) {
    const Dataset& d = *datasets[k];
    if (d.horizon != first.horizon || d.num_classes != first.num_classes) {
      return Status::InvalidArgument("datasets differ in horizon or classes", "datasets");
    }
    std::vector<size_t> keep;
    for (size_t i = 0; i < d.rows.size(); ++i) {
      const auto& r = d.rows[i];
      if (count[r.bar] != datasets.size()) continue;
      if (label_of[r.bar] != r.label) {
        return Status::InvalidArgument(
            "datasets disagree on the label of bar " + std::to_string(r.bar), "datasets");
      }
      keep.push_back(i);
    }
    out.push_back(SubsetRows(d, keep));
  }
  return out;
}

Result<NestedSearchResult> RunNestedSearch(
    const std::vector<SearchCandidate>& cands, const NestedSearchConfig& cfg,
    const std::function<void(const std::string&)>& progress) {
  if (cands.empty()) return Status::InvalidArgument("no candidates", "candidates");
  if (cfg.outer_folds < 1 || cfg.outer_folds > 20) {
    return Status::InvalidArgument("outer_folds must be in [1, 20]", "outer_folds");
  }
  if (cfg.inner_folds < 2 || cfg.inner_folds > 10) {
    return Status::InvalidArgument("inner_folds must be in [2, 10]", "inner_folds");
  }
  const Dataset& ds0 = *cands[0].dataset;
  for (size_t c = 0; c < cands.size(); ++c) {
    const Dataset* d = cands[c].dataset;
    if (d == nullptr) return Status::InvalidArgument("candidate without a dataset", "candidates");
    if (d->size() != ds0.size()) {
      return Status::InvalidArgument(
          "candidate '" + cands[c].name + "' has other rows (AlignDatasets)", "candidates");
    }
    for (size_t i = 0; i < d->size(); i += 97) {
      if (d->rows[i].bar != ds0.rows[i].bar) {
        return Status::InvalidArgument("candidate '" + cands[c].name + "' has other rows",
                                       "candidates");
      }
    }
  }
  auto say = [&](const std::string& s) {
    if (progress) progress(s);
  };
  WalkForwardConfig outer;
  outer.folds = cfg.outer_folds;
  outer.initial_train_fraction = cfg.initial_train_fraction;
  SINYAL_ASSIGN_OR_RETURN(std::vector<FoldSplit> splits,
                          MakeWalkForwardSplits(ds0, outer, cands[0].config.calibration_fraction));
  const int k = ds0.num_classes;
  NestedSearchResult res;
  for (const auto& c : cands) res.candidates.push_back(c.name);
  std::vector<float> sel_p, def_p;
  std::vector<int8_t> labels;
  std::vector<double> gain;
  double inner_sum = 0, outer_sum = 0;
  size_t outer_n = 0;
  for (size_t f = 0; f < splits.size(); ++f) {
    const FoldSplit& s = splits[f];
    std::vector<size_t> train(s.fit);
    train.insert(train.end(), s.calib.begin(), s.calib.end());
    std::sort(train.begin(), train.end());
    OuterFold of;
    of.fold = static_cast<int>(f);
    of.train_rows = train.size();
    of.test_rows = s.test.size();
    double best = std::numeric_limits<double>::infinity();
    for (size_t c = 0; c < cands.size(); ++c) {
      const Dataset sub = SubsetRows(*cands[c].dataset, train);
      double ll = std::nan("");
      auto wf = InnerConfig(sub, cands[c].config, cfg.inner_folds);
      if (wf.ok()) {
        auto r = RunWalkForward(sub, cands[c].config, *wf);
        if (r.ok()) ll = r->pooled.log_loss;
      }
      of.inner_log_loss.push_back(ll);
      if (std::isfinite(ll) && ll < best) {
        best = ll;
        of.chosen = static_cast<int>(c);
      }
      char b[200];
      std::snprintf(b, sizeof b, "outer fold %zu: candidate %zu/%zu '%s' inner log loss %.5f",
                    f + 1, c + 1, cands.size(), cands[c].name.c_str(), ll);
      say(b);
    }
    if (!std::isfinite(best)) {
      return Status::FailedPrecondition(
          "no candidate could be evaluated in outer fold " + std::to_string(f), "data");
    }
    of.chosen_inner_log_loss = best;
    // Outer scores of the chosen candidate and of the default on the untouched block.
    auto outer_probs = [&](size_t c) -> Result<std::vector<float>> {
      const Dataset& d = *cands[c].dataset;
      SINYAL_ASSIGN_OR_RETURN(Ensemble ens, Ensemble::Train(d, s.fit, s.calib, cands[c].config));
      std::vector<float> x;
      d.Gather(s.test, &x, nullptr);
      std::vector<float> p(s.test.size() * k);
      ens.PredictBatch(x.data(), s.test.size(), p.data(), nullptr);
      return p;
    };
    SINYAL_ASSIGN_OR_RETURN(std::vector<float> pc, outer_probs(static_cast<size_t>(of.chosen)));
    std::vector<float> pd;
    if (of.chosen == 0) {
      pd = pc;
    } else {
      SINYAL_ASSIGN_OR_RETURN(pd, outer_probs(0));
    }
    double lc = 0, ld = 0;
    for (size_t i = 0; i < s.test.size(); ++i) {
      const int8_t y = ds0.rows[s.test[i]].label;
      const double a = RowLogLoss(pc.data() + i * k, y), b = RowLogLoss(pd.data() + i * k, y);
      lc += a;
      ld += b;
      gain.push_back(b - a);
      labels.push_back(y);
    }
    of.chosen_outer_log_loss = lc / static_cast<double>(s.test.size());
    of.default_outer_log_loss = ld / static_cast<double>(s.test.size());
    sel_p.insert(sel_p.end(), pc.begin(), pc.end());
    def_p.insert(def_p.end(), pd.begin(), pd.end());
    inner_sum += of.chosen_inner_log_loss * static_cast<double>(s.test.size());
    outer_sum += lc;
    outer_n += s.test.size();
    char b[240];
    std::snprintf(b, sizeof b,
                  "outer fold %zu: chose '%s' (inner %.5f) -> outer %.5f; default outer %.5f",
                  f + 1, cands[static_cast<size_t>(of.chosen)].name.c_str(),
                  of.chosen_inner_log_loss, of.chosen_outer_log_loss, of.default_outer_log_loss);
    say(b);
    res.folds.push_back(std::move(of));
  }
  res.selected = ComputeMetrics(sel_p, labels, k);
  res.default_model = ComputeMetrics(def_p, labels, k);
  res.gain_over_default = HacMean(gain, HacLag(gain.size(), ds0.horizon));
  res.mean_inner_log_loss = inner_sum / static_cast<double>(outer_n);
  res.mean_outer_log_loss = outer_sum / static_cast<double>(outer_n);
  res.optimism = res.mean_outer_log_loss - res.mean_inner_log_loss;
  return res;
}

nlohmann::json NestedSearchResult::ToJson() const {
  nlohmann::json folds_j = nlohmann::json::array();
  for (const auto& f : folds) {
    nlohmann::json inner = nlohmann::json::array();
    for (double v : f.inner_log_loss)
      inner.push_back(std::isfinite(v) ? nlohmann::json(v) : nlohmann::json());
    folds_j.push_back({{"fold", f.fold},
                       {"train_rows", f.train_rows},
                       {"test_rows", f.test_rows},
                       {"inner_log_loss", inner},
                       {"chosen", candidates[static_cast<size_t>(f.chosen)]},
                       {"chosen_inner_log_loss", f.chosen_inner_log_loss},
                       {"chosen_outer_log_loss", f.chosen_outer_log_loss},
                       {"default_outer_log_loss", f.default_outer_log_loss}});
  }
  return {{"candidates", candidates},
          {"folds", folds_j},
          {"selected", Summary(selected)},
          {"default", Summary(default_model)},
          {"gain_over_default",
           {{"mean", gain_over_default.mean},
            {"ci95", {gain_over_default.lo, gain_over_default.hi}},
            {"n_effective", gain_over_default.n_effective}}},
          {"mean_inner_log_loss", mean_inner_log_loss},
          {"mean_outer_log_loss", mean_outer_log_loss},
          {"optimism", optimism}};
}

}  // namespace sinyal::models
