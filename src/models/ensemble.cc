#include "models/ensemble.h"

#include <algorithm>
#include <cmath>

#include "models/skill.h"
#include "models/xgb.h"

namespace sinyal::models {

struct Ensemble::Member {
  xgb::BoosterPtr booster;
  FlatForest forest;
};

nlohmann::json ModelSchema::ToJson() const {
  nlohmann::json j = {{"feature_set", feature_set},
                      {"feature_set_version", feature_set_version},
                      {"feature_names", feature_names},
                      {"num_classes", num_classes},
                      {"horizon", horizon},
                      {"dead_band", dead_band}};
  if (inputs_from != kSeriesStart) j["inputs_from"] = inputs_from;
  return j;
}

Result<ModelSchema> ModelSchema::FromJson(const nlohmann::json& j) {
  ModelSchema s;
  try {
    s.feature_set = j.at("feature_set").get<std::string>();
    s.feature_set_version = j.at("feature_set_version").get<int>();
    s.feature_names = j.at("feature_names").get<std::vector<std::string>>();
    s.num_classes = j.at("num_classes").get<int>();
    s.horizon = j.at("horizon").get<int>();
    s.dead_band = j.at("dead_band").get<double>();
    if (j.contains("inputs_from")) s.inputs_from = j.at("inputs_from").get<int64_t>();
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("bad model schema: ") + e.what(), "schema");
  }
  if (s.num_classes != 2 && s.num_classes != 3) {
    return Status::InvalidArgument("num_classes must be 2 or 3", "schema.num_classes");
  }
  if (s.feature_names.empty())
    return Status::InvalidArgument("no features", "schema.feature_names");
  return s;
}

Ensemble::Ensemble() : xgb_mu_(std::make_unique<std::mutex>()) {}
Ensemble::Ensemble(Ensemble&&) noexcept = default;
Ensemble& Ensemble::operator=(Ensemble&&) noexcept = default;
Ensemble::~Ensemble() = default;

const FlatForest& Ensemble::member_forest(size_t i) const { return members_.at(i)->forest; }

Status Ensemble::AddMember(MemberParams params, std::string ubj) {
  const std::string field = "members[" + std::to_string(members_.size()) + "]";
  if (members_.size() >= 16) return Status::InvalidArgument("at most 16 members", "members");
  auto booster = xgb::LoadModel(ubj, 1);
  if (!booster.ok()) return booster.error().WithField(field);
  SINYAL_ASSIGN_OR_RETURN(std::string json, xgb::SaveModel(booster->get(), "json"));
  auto forest = FlatForest::FromXgboostJson(json);
  if (!forest.ok()) return forest.error().WithField(field);
  if (forest->num_features() != num_features()) {
    return Status::InvalidArgument("member has " + std::to_string(forest->num_features()) +
                                       " features, schema has " + std::to_string(num_features()),
                                   field);
  }
  const int want_outputs = schema_.num_classes == 2 ? 1 : schema_.num_classes;
  if (forest->num_outputs() != want_outputs) {
    return Status::InvalidArgument("member output count disagrees with the schema", field);
  }
  auto m = std::make_unique<Member>();
  m->booster = std::move(booster).value();
  m->forest = std::move(forest).value();
  members_.push_back(std::move(m));
  params_.push_back(std::move(params));
  member_ubj_.push_back(std::move(ubj));
  return Status::Ok();
}

Result<Ensemble> Ensemble::Train(const Dataset& ds, std::span<const size_t> fit,
                                 std::span<const size_t> calib, const TrainConfig& config,
                                 const std::function<void(size_t, size_t)>& progress) {
  if (config.members.empty()) return Status::InvalidArgument("no members configured", "members");
  if (fit.size() < config.min_train_rows) {
    return Status::FailedPrecondition("too little data: " + std::to_string(fit.size()) +
                                          " training rows, need at least " +
                                          std::to_string(config.min_train_rows),
                                      "data");
  }
  if (calib.size() < (config.calibration == CalibrationMethod::kIsotonic
                          ? 2 * config.calibration_min_block
                          : size_t{50})) {
    return Status::FailedPrecondition(
        "too little data: " + std::to_string(calib.size()) + " calibration rows, need at least " +
            std::to_string(config.calibration == CalibrationMethod::kIsotonic
                               ? 2 * config.calibration_min_block
                               : size_t{50}),
        "data");
  }
  Ensemble e;
  e.schema_.feature_set = ds.feature_set;
  e.schema_.feature_set_version = ds.feature_set_version;
  e.schema_.inputs_from = ds.inputs_from;
  e.schema_.feature_names = ds.feature_names;
  e.schema_.num_classes = ds.num_classes;
  e.schema_.horizon = ds.horizon;
  e.schema_.dead_band = ds.dead_band;

  std::vector<float> x, y;
  ds.Gather(fit, &x, &y);
  // Every class must be present or XGBoost's softprob/logistic is meaningless.
  std::vector<size_t> counts(ds.num_classes, 0);
  for (float v : y) counts[static_cast<size_t>(v)]++;
  for (int c = 0; c < ds.num_classes; ++c) {
    if (counts[c] == 0) {
      return Status::FailedPrecondition("class " + std::to_string(c) + " absent from training rows",
                                        "data");
    }
  }
  SINYAL_ASSIGN_OR_RETURN(auto dtrain, xgb::MakeDMatrix(x.data(), fit.size(), ds.num_features(),
                                                        y.data(), config.nthread));
  for (size_t i = 0; i < config.members.size(); ++i) {
    const MemberParams& mp = config.members[i];
    auto booster =
        xgb::Train(dtrain.get(), XgbParams(mp, ds.num_classes, config.nthread), mp.trees);
    if (!booster.ok()) return booster.error().WithField("members[" + std::to_string(i) + "]");
    SINYAL_ASSIGN_OR_RETURN(std::string ubj, xgb::SaveModel(booster->get(), "ubj"));
    SINYAL_RETURN_IF_ERROR(e.AddMember(mp, std::move(ubj)));
    if (progress) progress(i + 1, config.members.size());
  }
  // Calibrate on held-back rows only.
  std::vector<float> xc;
  ds.Gather(calib, &xc, nullptr);
  std::vector<float> raw(calib.size() * ds.num_classes);
  e.PredictRawBatch(xc.data(), calib.size(), raw.data());
  std::vector<int8_t> yc(calib.size());
  for (size_t k = 0; k < calib.size(); ++k) yc[k] = ds.rows[calib[k]].label;
  CalibrationOptions co;
  co.method = config.calibration;
  co.min_block = config.calibration_min_block;
  co.horizon = ds.horizon;
  co.min_slope_t = config.calibration_min_slope_t;
  if (ds.num_classes == 2) {
    std::vector<int8_t> train_labels;
    train_labels.reserve(fit.size() + calib.size());
    for (size_t i : fit) train_labels.push_back(ds.rows[i].label);
    for (size_t i : calib) train_labels.push_back(ds.rows[i].label);
    co.prior_up = BaseRateForecast(train_labels, 2, ds.horizon)[kUp];
  }
  auto cal = Calibrator::Fit(raw, yc, ds.num_classes, co);
  if (!cal.ok()) return cal.error();
  e.calibrator_ = std::move(cal).value();
  return e;
}

Result<Ensemble> Ensemble::FromParts(ModelSchema schema, std::vector<MemberParams> params,
                                     const std::vector<std::string>& member_ubj,
                                     const nlohmann::json& calibration) {
  if (params.size() != member_ubj.size() || member_ubj.empty()) {
    return Status::InvalidArgument("member parameters and member models differ in count",
                                   "members");
  }
  Ensemble e;
  e.schema_ = std::move(schema);
  for (size_t i = 0; i < member_ubj.size(); ++i) {
    SINYAL_RETURN_IF_ERROR(e.AddMember(params[i], member_ubj[i]));
  }
  SINYAL_ASSIGN_OR_RETURN(e.calibrator_, Calibrator::FromJson(calibration));
  if (e.calibrator_.num_classes() != e.schema_.num_classes) {
    return Status::InvalidArgument("calibration class count disagrees with the schema",
                                   "calibration");
  }
  return e;
}

namespace {
// Members' mean (into `mean`, K values) and spread of one row.
template <typename Members>
float MeanAndSpread(const Members& members, int k, const float* row, float* mean) {
  float tmp[3];
  float up_vals[16];
  const size_t m = members.size();
  for (int c = 0; c < k; ++c) mean[c] = 0;
  for (size_t i = 0; i < m; ++i) {
    const FlatForest& f = members[i]->forest;
    f.Predict(row, tmp);
    if (k == 2) {
      mean[1] += tmp[0];
      up_vals[i & 15] = tmp[0];
    } else {
      for (int c = 0; c < k; ++c) mean[c] += tmp[c];
    }
  }
  const float inv = 1.0f / static_cast<float>(m);
  if (k == 2) {
    mean[1] *= inv;
    mean[0] = 1.0f - mean[1];
    double var = 0;
    for (size_t i = 0; i < m && i < 16; ++i) var += (up_vals[i] - mean[1]) * (up_vals[i] - mean[1]);
    return static_cast<float>(std::sqrt(var / static_cast<double>(m)));
  }
  for (int c = 0; c < k; ++c) mean[c] *= inv;
  // K = 3: spread of the members' probability of the mean's top class.
  const int top = static_cast<int>(std::max_element(mean, mean + k) - mean);
  double var = 0;
  for (size_t i = 0; i < m; ++i) {
    members[i]->forest.Predict(row, tmp);
    var += (tmp[top] - mean[top]) * (tmp[top] - mean[top]);
  }
  return static_cast<float>(std::sqrt(var / static_cast<double>(m)));
}
}  // namespace

Prediction Ensemble::Predict(const float* row) const {
  Prediction p;
  const int k = schema_.num_classes;
  p.uncertainty = MeanAndSpread(members_, k, row, p.raw_proba.data());
  p.proba = p.raw_proba;
  calibrator_.Apply(p.proba.data());
  p.direction =
      static_cast<int>(std::max_element(p.proba.begin(), p.proba.begin() + k) - p.proba.begin());
  p.confidence = p.proba[p.direction];
  p.informative = calibrator_.informative();
  return p;
}

namespace {
// Blocked batch: members' outputs for a block of rows, then the same per-row arithmetic as
// MeanAndSpread (same order of additions), so batch and single-row results are identical.
template <typename Members>
void BatchMeanAndSpread(const Members& members, int k, size_t f, const float* rows, size_t n,
                        float* mean_out, float* spread_out) {
  constexpr size_t kBlock = 256;
  const size_t m = members.size();
  const int outs = k == 2 ? 1 : k;
  std::vector<float> tmp(m * kBlock * outs);
  for (size_t b0 = 0; b0 < n; b0 += kBlock) {
    const size_t nb = std::min(kBlock, n - b0);
    for (size_t i = 0; i < m; ++i) {
      members[i]->forest.PredictBatch(rows + b0 * f, nb, tmp.data() + i * kBlock * outs);
    }
    for (size_t r = 0; r < nb; ++r) {
      float* mean = mean_out + (b0 + r) * k;
      for (int c = 0; c < k; ++c) mean[c] = 0;
      const float inv = 1.0f / static_cast<float>(m);
      double var = 0;
      if (k == 2) {
        for (size_t i = 0; i < m; ++i) mean[1] += tmp[i * kBlock + r];
        mean[1] *= inv;
        mean[0] = 1.0f - mean[1];
        for (size_t i = 0; i < m; ++i) {
          const float v = tmp[i * kBlock + r];
          var += (v - mean[1]) * (v - mean[1]);
        }
      } else {
        for (size_t i = 0; i < m; ++i) {
          for (int c = 0; c < k; ++c) mean[c] += tmp[(i * kBlock + r) * outs + c];
        }
        for (int c = 0; c < k; ++c) mean[c] *= inv;
        const int top = static_cast<int>(std::max_element(mean, mean + k) - mean);
        for (size_t i = 0; i < m; ++i) {
          const float v = tmp[(i * kBlock + r) * outs + top];
          var += (v - mean[top]) * (v - mean[top]);
        }
      }
      if (spread_out != nullptr) {
        spread_out[b0 + r] = static_cast<float>(std::sqrt(var / static_cast<double>(m)));
      }
    }
  }
}
}  // namespace

void Ensemble::PredictBatch(const float* rows, size_t n, float* proba, float* uncertainty) const {
  const int k = schema_.num_classes;
  BatchMeanAndSpread(members_, k, static_cast<size_t>(num_features()), rows, n, proba, uncertainty);
  for (size_t i = 0; i < n; ++i) calibrator_.Apply(proba + i * k);
}

void Ensemble::PredictRawBatch(const float* rows, size_t n, float* proba) const {
  BatchMeanAndSpread(members_, schema_.num_classes, static_cast<size_t>(num_features()), rows, n,
                     proba, nullptr);
}

Result<std::vector<float>> Ensemble::PredictMemberXgboost(size_t member, const float* rows,
                                                          size_t n) const {
  if (member >= members_.size()) return Status::InvalidArgument("no such member", "member");
  std::lock_guard<std::mutex> lock(*xgb_mu_);
  SINYAL_ASSIGN_OR_RETURN(auto dm, xgb::MakeDMatrix(rows, n, num_features()));
  return xgb::Predict(members_[member]->booster.get(), dm.get(), xgb::PredictType::kValue);
}

Result<std::vector<float>> Ensemble::PredictMemberXgboostDense(size_t member, const float* rows,
                                                               size_t n) const {
  if (member >= members_.size()) return Status::InvalidArgument("no such member", "member");
  std::lock_guard<std::mutex> lock(*xgb_mu_);
  return xgb::PredictDense(members_[member]->booster.get(), rows, n, num_features());
}

Result<std::vector<std::string>> Ensemble::ResaveMembers(const std::string& format) const {
  std::lock_guard<std::mutex> lock(*xgb_mu_);
  std::vector<std::string> out;
  for (const auto& m : members_) {
    SINYAL_ASSIGN_OR_RETURN(std::string bytes, xgb::SaveModel(m->booster.get(), format));
    out.push_back(std::move(bytes));
  }
  return out;
}

Result<std::vector<FeatureContribution>> Ensemble::Contributions(const float* row) const {
  const int k = schema_.num_classes;
  const size_t f = static_cast<size_t>(num_features());
  int cls = kUp;
  if (k == 3) cls = Predict(row).direction;
  std::vector<double> sum(f + 1, 0);
  {
    std::lock_guard<std::mutex> lock(*xgb_mu_);
    SINYAL_ASSIGN_OR_RETURN(auto dm, xgb::MakeDMatrix(row, 1, f));
    for (const auto& m : members_) {
      SINYAL_ASSIGN_OR_RETURN(
          auto c, xgb::Predict(m->booster.get(), dm.get(), xgb::PredictType::kContribs));
      // Binary: (F+1) values; softprob: K x (F+1).
      const size_t offset = k == 2 ? 0 : static_cast<size_t>(cls) * (f + 1);
      if (c.size() < offset + f + 1) return Status::Internal("unexpected contribution shape");
      for (size_t j = 0; j <= f; ++j) sum[j] += c[offset + j];
    }
  }
  std::vector<FeatureContribution> out(f + 1);
  for (size_t j = 0; j < f; ++j) {
    out[j].feature = schema_.feature_names[j];
    out[j].value = row[j];
    out[j].contribution = static_cast<float>(sum[j] / members_.size());
  }
  out[f].feature = "(bias)";
  out[f].value = 0;
  out[f].contribution = static_cast<float>(sum[f] / members_.size());
  return out;
}

}  // namespace sinyal::models
