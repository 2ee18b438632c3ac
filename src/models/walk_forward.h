// Walk-forward evaluation with purging and an embargo.
//
// The rows (in time order) are cut into an initial training period and `folds` consecutive
// test blocks. For each block, training rows come only from before it; the newest
// `calibration_fraction` of them are held back to fit the calibrator. Purging removes every
// training row whose label window [bar+1, bar+h] reaches the span of a later evaluation set
// (test block, or the calibration rows for the fitting rows), and the embargo removes rows whose
// prediction bar lies within `embargo_bars` after that span (relevant when training rows follow
// an evaluation set; with pure walk-forward it is a guard).
//
// Every fold and the pooled test set get the model's metrics (calibrated and raw), its skill over
// the base rate of its training rows (skill.h: log loss and Brier gains with Newey-West
// intervals), and the naive baselines' metrics (majority class of the training rows; last direction; and its
// reverse, since hourly FX mean-reverts) with an exact
// McNemar test of model vs baseline on the same rows.
//
// "As served": the product sells a model version's probability only where its walk-forward skill
// is shown (signals abstain otherwise, serving the base rate). The evaluation replays that rule
// prequentially: fold k is served only when the pooled skill of folds 0..k-1 (rows before it,
// predicted by models trained before them) is shown; fold 0 has no such evidence and abstains.
// Abstaining rows get the model's base rate (Calibrator::base_rate). `served` holds the metrics of
// those served probabilities over all test rows.
//
// Thread safety: functions are pure apart from XGBoost's internal threads (config.nthread).
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "models/config.h"
#include "models/dataset.h"
#include "models/metrics.h"
#include "models/skill.h"

namespace sinyal::models {

struct WalkForwardConfig {
  int folds = 5;                        // test blocks. Bounds [1, 50].
  double initial_train_fraction = 0.4;  // rows before the first test block. Bounds [0.1, 0.9].
  int embargo_bars = -1;                // -1 = the label horizon. Bounds [-1, 10000].
  size_t max_train_rows = 0;            // 0 = expanding window; else rolling, newest rows only
};

struct FoldSplit {
  std::vector<size_t> fit;    // rows the members are trained on
  std::vector<size_t> calib;  // held-back rows the calibrator is fitted on
  std::vector<size_t> test;   // evaluation rows
  size_t purged = 0;          // rows removed by purging/embargo
};

// Rows of `train` that survive purging against `eval` (see the header comment).
std::vector<size_t> Purge(const Dataset& ds, std::span<const size_t> train,
                          std::span<const size_t> eval, int embargo_bars);

// The reusable check: OK iff no row of `train` has a label window overlapping the span of
// `eval` ([first eval bar, last eval label bar]) nor a prediction bar within `embargo_bars`
// after it. FailedPrecondition names the first offending row otherwise.
[[nodiscard]] Status CheckPurged(const Dataset& ds, std::span<const size_t> train,
                                 std::span<const size_t> eval, int embargo_bars);

// The splits of a walk-forward run. Errors: InvalidArgument for config out of bounds.
[[nodiscard]] Result<std::vector<FoldSplit>> MakeWalkForwardSplits(const Dataset& ds,
                                                                   const WalkForwardConfig& config,
                                                                   double calibration_fraction);

struct BaselineResult {
  // "majority_class", "last_direction", "last_direction_reversed"
  std::string name;
  ClassificationMetrics metrics;
  PairedComparison model_vs_baseline;
};

struct FoldResult {
  int fold = 0;
  UnixNanos fit_from = 0, fit_to = 0, test_from = 0, test_to = 0;
  size_t fit_rows = 0, calib_rows = 0, test_rows = 0, purged_rows = 0;
  ClassificationMetrics model;      // calibrated
  ClassificationMetrics model_raw;  // members' mean before calibration
  double mean_uncertainty = 0;      // mean member spread on the test rows
  std::vector<BaselineResult> baselines;
  double train_seconds = 0;
  SkillEstimate skill;      // calibrated model vs the training rows' base rate
  bool informative = true;  // the fold model's calibrator kept a slope (calibration.h)
  double base_rate = 0.5;   // the fold model's base rate (served when abstaining)
  bool served = false;      // folds before this one showed skill (see header)
};

struct WalkForwardResult {
  std::string symbol, timeframe, feature_set;
  int feature_set_version = 0;
  int horizon = 1;
  double dead_band = 0;
  int num_classes = 2;
  size_t rows = 0, neutral_dropped = 0;
  UnixNanos data_from = 0, data_to = 0;
  nlohmann::json train_config;
  nlohmann::json walk_forward_config;
  std::vector<FoldResult> folds;
  ClassificationMetrics pooled;
  ClassificationMetrics pooled_raw;
  double pooled_mean_uncertainty = 0;
  std::vector<BaselineResult> pooled_baselines;
  double total_train_seconds = 0;
  SkillEstimate skill;           // pooled calibrated model vs base rate: the version's skill
  ClassificationMetrics served;  // pooled, as served (abstaining folds at their base rate)
  SkillEstimate served_skill;    // the same vs base rate
  // Pooled per-row values (time order), for reports that need more than the metrics above:
  // the dataset row of each test row, P(up) calibrated and as served, the label, the model's
  // hard call and each baseline's (same order as pooled_baselines).
  std::vector<size_t> pooled_rows;
  std::vector<float> pooled_p_up, pooled_served_p_up;
  std::vector<int8_t> pooled_labels, pooled_pred;
  std::vector<std::vector<int8_t>> pooled_baseline_preds;
};

// Runs the whole evaluation. `clock` (may be null) only times training.
[[nodiscard]] Result<WalkForwardResult> RunWalkForward(const Dataset& ds, const TrainConfig& train,
                                                       const WalkForwardConfig& wf,
                                                       const Clock* clock = nullptr);

nlohmann::json ToJson(const ClassificationMetrics& m);
nlohmann::json ToJson(const WalkForwardResult& r);

}  // namespace sinyal::models
