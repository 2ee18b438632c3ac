// Honest model selection: a search over member hyperparameters and feature sets with nested
// walk-forward evaluation.
//
// Outer loop: the rows are cut like the walk-forward evaluation (initial share, then
// `outer_folds` test blocks). For each block, everything before it (purged and embargoed against
// it) is the outer training set. Inner loop: on the outer training set ONLY, every candidate is
// scored by its own walk-forward evaluation (`inner_folds` blocks; pooled calibrated log loss);
// the candidate with the lowest inner log loss is chosen, trained on the whole outer training set
// (the production split: newest calibration_fraction held back for calibration) and scored on the
// outer block, which no choice has seen. The default configuration (`candidates[0]`) is trained
// and scored the same way beside it.
//
// Reported: the chosen candidate per outer fold, its inner log loss and its outer log loss, the
// pooled outer metrics of the selected models and of the default, the paired outer gain of
// selection over the default with a Newey-West interval (skill.h), and the optimism of the search:
// mean inner log loss of the winners minus their outer log loss. A search that overfits shows a
// winner's inner score better than what it achieves outside.
//
// Candidates differ in feature set through `dataset`: every candidate's dataset must hold the
// same rows (same prediction bars, labels and label windows) in the same order; AlignDatasets
// keeps the rows common to all.
//
// Thread safety: pure apart from XGBoost's threads.
#pragma once

#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"
#include "models/config.h"
#include "models/dataset.h"
#include "models/metrics.h"
#include "models/skill.h"

namespace sinyal::models {

struct SearchCandidate {
  std::string name;  // e.g. "core-v1 depth 3 eta 0.05"
  TrainConfig config;
  const Dataset* dataset = nullptr;  // the candidate's feature set over the common rows
};

struct NestedSearchConfig {
  int outer_folds = 5;                  // [1, 20]
  int inner_folds = 3;                  // [2, 10]
  double initial_train_fraction = 0.4;  // outer; the inner runs use max(0.4, what min rows need)
};

struct OuterFold {
  int fold = 0;
  size_t train_rows = 0, test_rows = 0;
  std::vector<double> inner_log_loss;  // per candidate (NaN when its inner run failed)
  int chosen = 0;                      // index into the candidates
  double chosen_inner_log_loss = 0;
  double chosen_outer_log_loss = 0;
  double default_outer_log_loss = 0;
};

struct NestedSearchResult {
  std::vector<std::string> candidates;
  std::vector<OuterFold> folds;
  ClassificationMetrics selected;       // pooled outer metrics of the chosen models
  ClassificationMetrics default_model;  // pooled outer metrics of candidates[0]
  MeanInterval gain_over_default;       // per-row log loss (default - selected), HAC
  double mean_inner_log_loss = 0;       // of the winners
  double mean_outer_log_loss = 0;       // of the winners (test-row weighted)
  double optimism = 0;  // mean_outer - mean_inner (> 0: the search flattered itself)
  nlohmann::json ToJson() const;
};

// Rows of every dataset whose prediction bar is in all of them, in bar order; the datasets keep
// their own features. InvalidArgument when the datasets disagree on a shared row's label.
[[nodiscard]] Result<std::vector<Dataset>> AlignDatasets(
    const std::vector<const Dataset*>& datasets);

// The dataset of rows `idx` of `ds` (features, rows, metadata).
Dataset SubsetRows(const Dataset& ds, std::span<const size_t> idx);

// Runs the search. `progress` (may be empty) gets one line per finished step.
[[nodiscard]] Result<NestedSearchResult> RunNestedSearch(
    const std::vector<SearchCandidate>& candidates, const NestedSearchConfig& config,
    const std::function<void(const std::string&)>& progress = {});

}  // namespace sinyal::models
