// Training configuration of a per-tenant ensemble, validated against the plan's bounds.
//
// app/ parses tenant config (stored in the database) into TrainConfig, takes PlanBounds from the
// tenant's plan, and calls ValidateTrainConfig once; every error names the offending field
// (e.g. "members[2].max_depth").
//
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"
#include "models/calibration.h"
#include "models/dataset.h"

namespace sinyal::models {

enum class GrowPolicy {
  kDepthwise,  // XGBoost's default level-wise growth
  kLossguide,  // leaf-wise growth: the LightGBM-style member (LightGBM is not in Debian)
};

// Hyperparameters of one XGBoost member (tree_method = hist always).
struct MemberParams {
  std::string name = "xgb";       // shown in reports, e.g. "xgb_depthwise_a", "lightgbm_style"
  int trees = 150;                // boosting rounds. Default 150.
  int max_depth = 4;              // Default 4. With kLossguide, 0 = unlimited (max_leaves bounds).
  int max_leaves = 0;             // kLossguide only; 0 = unlimited. Default 0.
  double eta = 0.05;              // learning rate. Default 0.05.
  double subsample = 0.8;         // row sampling per tree. Default 0.8.
  double colsample_bytree = 0.8;  // column sampling per tree. Default 0.8.
  double min_child_weight = 20;   // Default 20 (noisy labels want large leaves).
  double lambda = 1.0;            // L2 on leaf weights. Default 1.
  GrowPolicy grow_policy = GrowPolicy::kDepthwise;
  uint64_t seed = 0;
};

// Bounds set by the tenant's plan (and the platform's hard limits in the defaults).
struct PlanBounds {
  int max_symbols = 50;
  std::vector<std::string> allowed_timeframes = {"M1", "M5", "M15", "M30", "H1", "H4", "D1"};
  int max_horizon = 48;
  int min_members = 4;
  int max_members = 8;
  int max_trees = 1000;
  int max_depth = 10;
  int max_leaves = 256;
  double min_eta = 0.001, max_eta = 1.0;
  double min_sample = 0.1;  // lower bound for subsample and colsample_bytree
  double max_min_child_weight = 1000;
  double max_lambda = 1000;
  double max_dead_band = 0.01;
};

struct TrainConfig {
  std::vector<std::string> symbols;  // e.g. {"EURUSD"}; at least one
  std::string timeframe = "H1";
  int horizon = 1;                    // bars ahead. Default 1.
  std::string feature_set = "basic";  // a feature set name known to the caller
  double dead_band = 1e-4;  // fraction of price; >= typical relative spread. Default 1 bp.
  NeutralMode neutral = NeutralMode::kExclude;
  std::vector<MemberParams> members;  // >= PlanBounds::min_members; one should be kLossguide
  int nthread = 2;                    // XGBoost threads. Default 2 (this machine has 2 cores).
  double calibration_fraction = 0.2;  // newest share of the training rows held back for calibration
  size_t calibration_min_block = 100;  // isotonic safeguard (calibration.h)
  // How held-back rows calibrate the members' mean (calibration.h): the shrunk logistic map by
  // default; isotonic as before.
  CalibrationMethod calibration = CalibrationMethod::kShrunkLogistic;
  // Shrunk logistic: the slope's HAC t statistic needed to keep any slope (skill shown on the
  // held-back rows). Default 1.96. Bounds [0, 10].
  double calibration_min_slope_t = 1.96;
  size_t min_train_rows = 2000;  // fewer labelled rows -> FailedPrecondition "too little data"
};

// The default four members: two depth-wise boosters with different seeds and sampling, a
// shallower heavily-subsampled one, and the leaf-wise (lossguide) LightGBM-style stand-in.
std::vector<MemberParams> DefaultMembers();
// A TrainConfig for one symbol with DefaultMembers().
TrainConfig DefaultTrainConfig(const std::string& symbol, const std::string& timeframe = "H1");

// Checks every field against `bounds`; InvalidArgument naming the first bad field.
[[nodiscard]] Status ValidateTrainConfig(const TrainConfig& config, const PlanBounds& bounds);

// XGBoost string parameters of a member (objective set from num_classes).
std::vector<std::pair<std::string, std::string>> XgbParams(const MemberParams& m, int num_classes,
                                                           int nthread);

nlohmann::json ToJson(const MemberParams& m);
[[nodiscard]] Result<MemberParams> MemberParamsFromJson(const nlohmann::json& j);
nlohmann::json ToJson(const TrainConfig& c);
const char* GrowPolicyName(GrowPolicy p);

}  // namespace sinyal::models
