#include "models/config.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace sinyal::models {

const char* GrowPolicyName(GrowPolicy p) {
  return p == GrowPolicy::kLossguide ? "lossguide" : "depthwise";
}

std::vector<MemberParams> DefaultMembers() {
  std::vector<MemberParams> m(4);
  m[0].name = "xgb_depthwise_a";
  m[0].seed = 11;
  m[0].subsample = 0.8;
  m[0].colsample_bytree = 0.8;
  m[1].name = "xgb_depthwise_b";
  m[1].seed = 23;
  m[1].subsample = 0.7;
  m[1].colsample_bytree = 0.6;
  m[2].name = "xgb_shallow_c";
  m[2].seed = 37;
  m[2].max_depth = 3;
  m[2].trees = 200;
  m[2].subsample = 0.6;
  m[2].colsample_bytree = 0.7;
  // The LightGBM-style member: leaf-wise growth bounded by the number of leaves.
  m[3].name = "lightgbm_style_lossguide";
  m[3].grow_policy = GrowPolicy::kLossguide;
  m[3].seed = 53;
  m[3].max_depth = 0;
  m[3].max_leaves = 15;
  m[3].subsample = 0.8;
  m[3].colsample_bytree = 0.8;
  return m;
}

TrainConfig DefaultTrainConfig(const std::string& symbol, const std::string& timeframe) {
  TrainConfig c;
  c.symbols = {symbol};
  c.timeframe = timeframe;
  c.members = DefaultMembers();
  return c;
}

namespace {

Status OutOfBounds(const std::string& field, const std::string& what) {
  return Status::InvalidArgument(field + " " + what, field);
}

std::string Range(double lo, double hi) {
  std::ostringstream os;
  os << "must be in [" << lo << ", " << hi << "]";
  return os.str();
}

}  // namespace

Status ValidateTrainConfig(const TrainConfig& c, const PlanBounds& b) {
  if (c.symbols.empty()) return OutOfBounds("symbols", "must name at least one symbol");
  if (static_cast<int>(c.symbols.size()) > b.max_symbols) {
    return OutOfBounds("symbols", "has " + std::to_string(c.symbols.size()) +
                                      " entries; the plan allows " + std::to_string(b.max_symbols));
  }
  for (size_t i = 0; i < c.symbols.size(); ++i) {
    const std::string& s = c.symbols[i];
    const bool ok = !s.empty() && s.size() <= 16 && std::all_of(s.begin(), s.end(), [](char ch) {
      return (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.';
    });
    if (!ok) {
      return OutOfBounds("symbols[" + std::to_string(i) + "]",
                         "must be 1-16 characters of A-Z, 0-9, '_' or '.'");
    }
  }
  if (std::find(b.allowed_timeframes.begin(), b.allowed_timeframes.end(), c.timeframe) ==
      b.allowed_timeframes.end()) {
    return OutOfBounds("timeframe", "'" + c.timeframe + "' is not allowed by the plan");
  }
  if (c.horizon < 1 || c.horizon > b.max_horizon) {
    return OutOfBounds("horizon", Range(1, b.max_horizon));
  }
  if (c.feature_set.empty()) return OutOfBounds("feature_set", "must not be empty");
  if (!(c.dead_band >= 0 && c.dead_band <= b.max_dead_band)) {
    return OutOfBounds("dead_band", Range(0, b.max_dead_band));
  }
  if (c.nthread < 1 || c.nthread > 64) return OutOfBounds("nthread", Range(1, 64));
  if (!(c.calibration_fraction >= 0.05 && c.calibration_fraction <= 0.5)) {
    return OutOfBounds("calibration_fraction", Range(0.05, 0.5));
  }
  if (c.calibration_min_block < 10 || c.calibration_min_block > 100000) {
    return OutOfBounds("calibration_min_block", Range(10, 100000));
  }
  if (!(c.calibration_min_slope_t >= 0 && c.calibration_min_slope_t <= 10)) {
    return OutOfBounds("calibration_min_slope_t", Range(0, 10));
  }
  const int nm = static_cast<int>(c.members.size());
  if (nm < b.min_members || nm > b.max_members) {
    return OutOfBounds("members", "has " + std::to_string(nm) + " members; " +
                                      Range(b.min_members, b.max_members));
  }
  for (int i = 0; i < nm; ++i) {
    const MemberParams& m = c.members[i];
    const std::string p = "members[" + std::to_string(i) + "].";
    if (m.trees < 1 || m.trees > b.max_trees)
      return OutOfBounds(p + "trees", Range(1, b.max_trees));
    const int min_depth = m.grow_policy == GrowPolicy::kLossguide ? 0 : 1;
    if (m.max_depth < min_depth || m.max_depth > b.max_depth) {
      return OutOfBounds(p + "max_depth", Range(min_depth, b.max_depth));
    }
    if (m.grow_policy == GrowPolicy::kLossguide) {
      if (m.max_leaves < 2 || m.max_leaves > b.max_leaves) {
        return OutOfBounds(p + "max_leaves", Range(2, b.max_leaves) + " for a lossguide member");
      }
    } else if (m.max_leaves < 0 || m.max_leaves > b.max_leaves) {
      return OutOfBounds(p + "max_leaves", Range(0, b.max_leaves));
    }
    if (!(m.eta >= b.min_eta && m.eta <= b.max_eta))
      return OutOfBounds(p + "eta", Range(b.min_eta, b.max_eta));
    if (!(m.subsample >= b.min_sample && m.subsample <= 1)) {
      return OutOfBounds(p + "subsample", Range(b.min_sample, 1));
    }
    if (!(m.colsample_bytree >= b.min_sample && m.colsample_bytree <= 1)) {
      return OutOfBounds(p + "colsample_bytree", Range(b.min_sample, 1));
    }
    if (!(m.min_child_weight >= 0 && m.min_child_weight <= b.max_min_child_weight)) {
      return OutOfBounds(p + "min_child_weight", Range(0, b.max_min_child_weight));
    }
    if (!(m.lambda >= 0 && m.lambda <= b.max_lambda))
      return OutOfBounds(p + "lambda", Range(0, b.max_lambda));
  }
  return Status::Ok();
}

std::vector<std::pair<std::string, std::string>> XgbParams(const MemberParams& m, int num_classes,
                                                           int nthread) {
  auto d = [](double v) {
    std::ostringstream os;
    os.precision(17);
    os << v;
    return os.str();
  };
  std::vector<std::pair<std::string, std::string>> p = {
      {"tree_method", "hist"},
      {"nthread", std::to_string(nthread)},
      {"seed", std::to_string(m.seed)},
      {"max_depth", std::to_string(m.max_depth)},
      {"eta", d(m.eta)},
      {"subsample", d(m.subsample)},
      {"colsample_bytree", d(m.colsample_bytree)},
      {"min_child_weight", d(m.min_child_weight)},
      {"lambda", d(m.lambda)},
      {"grow_policy", GrowPolicyName(m.grow_policy)},
      {"verbosity", "0"},
  };
  if (m.max_leaves > 0) p.emplace_back("max_leaves", std::to_string(m.max_leaves));
  if (num_classes == 2) {
    p.emplace_back("objective", "binary:logistic");
    p.emplace_back("eval_metric", "logloss");
  } else {
    p.emplace_back("objective", "multi:softprob");
    p.emplace_back("num_class", std::to_string(num_classes));
    p.emplace_back("eval_metric", "mlogloss");
  }
  return p;
}

nlohmann::json ToJson(const MemberParams& m) {
  return {{"name", m.name},
          {"trees", m.trees},
          {"max_depth", m.max_depth},
          {"max_leaves", m.max_leaves},
          {"eta", m.eta},
          {"subsample", m.subsample},
          {"colsample_bytree", m.colsample_bytree},
          {"min_child_weight", m.min_child_weight},
          {"lambda", m.lambda},
          {"grow_policy", GrowPolicyName(m.grow_policy)},
          {"seed", m.seed}};
}

Result<MemberParams> MemberParamsFromJson(const nlohmann::json& j) {
  MemberParams m;
  try {
    m.name = j.at("name").get<std::string>();
    m.trees = j.at("trees").get<int>();
    m.max_depth = j.at("max_depth").get<int>();
    m.max_leaves = j.at("max_leaves").get<int>();
    m.eta = j.at("eta").get<double>();
    m.subsample = j.at("subsample").get<double>();
    m.colsample_bytree = j.at("colsample_bytree").get<double>();
    m.min_child_weight = j.at("min_child_weight").get<double>();
    m.lambda = j.at("lambda").get<double>();
    const std::string gp = j.at("grow_policy").get<std::string>();
    if (gp != "depthwise" && gp != "lossguide") {
      return Status::InvalidArgument("unknown grow_policy '" + gp + "'", "grow_policy");
    }
    m.grow_policy = gp == "lossguide" ? GrowPolicy::kLossguide : GrowPolicy::kDepthwise;
    m.seed = j.at("seed").get<uint64_t>();
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("bad member parameters: ") + e.what(), "members");
  }
  return m;
}

nlohmann::json ToJson(const TrainConfig& c) {
  nlohmann::json members = nlohmann::json::array();
  for (const auto& m : c.members) members.push_back(ToJson(m));
  return {{"symbols", c.symbols},
          {"timeframe", c.timeframe},
          {"horizon", c.horizon},
          {"feature_set", c.feature_set},
          {"dead_band", c.dead_band},
          {"neutral", c.neutral == NeutralMode::kThirdClass ? "third_class" : "exclude"},
          {"members", members},
          {"nthread", c.nthread},
          {"calibration_fraction", c.calibration_fraction},
          {"calibration_min_block", c.calibration_min_block},
          {"calibration", CalibrationMethodName(c.calibration)},
          {"calibration_min_slope_t", c.calibration_min_slope_t},
          {"min_train_rows", c.min_train_rows}};
}

}  // namespace sinyal::models
