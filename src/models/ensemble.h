// Ensemble: >= 4 XGBoost members (differing in seed and row/column sampling; one leaf-wise
// `grow_policy=lossguide` member standing in for LightGBM) whose mean probability is
// calibrated by an isotonic map fitted on held-back rows only. The members' spread (standard
// deviation of their P(up), or of the top class for K = 3) is reported as model uncertainty.
//
// Inference runs on FlatForest (flat_forest.h); the XGBoost boosters are kept as the
// reference implementation and for per-feature contributions (pred_contribs).
//
// Thread safety: Predict/PredictBatch are const and thread-safe (no shared mutable state).
// The XGBoost-backed methods (PredictXgboost, Contributions) serialise on an internal mutex.
#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "models/calibration.h"
#include "models/config.h"
#include "models/dataset.h"
#include "models/flat_forest.h"

namespace sinyal::models {

// What a model expects as input and predicts; stored with it.
struct ModelSchema {
  std::string feature_set;
  int feature_set_version = 0;
  // The anchor of the model's input rows (inputs.h): open time of the first bar its training
  // streamed. kSeriesStart for models stored before anchors were recorded (their rows are
  // computed from the first stored bar). Stored as "inputs_from" (UTC ns), omitted then.
  UnixNanos inputs_from = kSeriesStart;
  std::vector<std::string> feature_names;
  int num_classes = 2;
  int horizon = 1;
  double dead_band = 0;
  nlohmann::json ToJson() const;
  [[nodiscard]] static Result<ModelSchema> FromJson(const nlohmann::json& j);
};

struct Prediction {
  std::array<float, 3> proba{};      // calibrated probabilities, num_classes used
  std::array<float, 3> raw_proba{};  // members' mean before calibration
  float uncertainty = 0;             // std of the members' P(up) (K = 2) / top-class prob (K = 3)
  int direction = 0;                 // argmax class: kDown, kUp or kNeutral
  float confidence = 0;              // calibrated probability of `direction`
  // False when the calibrator found no skill on the held-back rows: proba is the base rate and
  // must not be sold as a directional call (calibration.h).
  bool informative = true;
};

struct FeatureContribution {
  std::string feature;
  float value = 0;         // the row's feature value
  float contribution = 0;  // members' mean SHAP value in margin (log-odds) space, class up
};

class Ensemble {
 public:
  Ensemble(Ensemble&&) noexcept;
  Ensemble& operator=(Ensemble&&) noexcept;
  ~Ensemble();

  // Trains every member on rows `fit` of `ds` and fits the calibrator on the members' mean
  // predictions for rows `calib` (which must not be used for fitting; the caller purges).
  // Errors: InvalidArgument for a bad config (see ValidateTrainConfig with default bounds is
  // the caller's job), FailedPrecondition "too little data" when fit < config.min_train_rows
  // or calib is too small for the calibrator, Internal for XGBoost failures.
  // `progress` (may be empty) is called after each member with (members done, members).
  [[nodiscard]] static Result<Ensemble> Train(
      const Dataset& ds, std::span<const size_t> fit, std::span<const size_t> calib,
      const TrainConfig& config, const std::function<void(size_t, size_t)>& progress = {});

  // Rebuilds an ensemble from saved parts (as written by SerializeMembers / calibrator JSON).
  // Errors: InvalidArgument when any member is not a valid XGBoost model or disagrees with the
  // schema.
  [[nodiscard]] static Result<Ensemble> FromParts(ModelSchema schema,
                                                  std::vector<MemberParams> params,
                                                  const std::vector<std::string>& member_ubj,
                                                  const nlohmann::json& calibration);

  const ModelSchema& schema() const { return schema_; }
  int num_features() const { return static_cast<int>(schema_.feature_names.size()); }
  int num_classes() const { return schema_.num_classes; }
  size_t num_members() const { return members_.size(); }
  const std::vector<MemberParams>& member_params() const { return params_; }
  const FlatForest& member_forest(size_t i) const;
  const Calibrator& calibrator() const { return calibrator_; }

  // Fast path: one row. REQUIRES: row has num_features() floats (NaN = missing).
  Prediction Predict(const float* row) const;
  // Calibrated probabilities (rows x num_classes) and uncertainties (rows) for a batch.
  // `uncertainty` may be null.
  void PredictBatch(const float* rows, size_t n, float* proba, float* uncertainty) const;
  // Uncalibrated members' mean (rows x num_classes) from the fast path.
  void PredictRawBatch(const float* rows, size_t n, float* proba) const;

  // Reference path: member `member`'s own XGBoost prediction (rows x outputs, outputs = 1 for
  // binary P(up), K for softprob). Serialised on the internal mutex.
  [[nodiscard]] Result<std::vector<float>> PredictMemberXgboost(size_t member, const float* rows,
                                                                size_t n) const;
  // XGBoost's in-place dense predict of member `member` (benchmark reference).
  [[nodiscard]] Result<std::vector<float>> PredictMemberXgboostDense(size_t member,
                                                                     const float* rows,
                                                                     size_t n) const;

  // Per-feature contributions for one row (XGBoost pred_contribs averaged over members),
  // class "up" for K = 2 and the predicted class for K = 3, plus the bias term last
  // (feature "(bias)"). Sum = members' mean margin.
  [[nodiscard]] Result<std::vector<FeatureContribution>> Contributions(const float* row) const;

  // Each member as XGBoost UBJ bytes (the stored form; reloads bit-identically).
  const std::vector<std::string>& member_ubj() const { return member_ubj_; }
  // Asks XGBoost to save each loaded booster again in `format` ("ubj" or "json"); used to
  // prove that save -> load -> save is bit-identical, and to export JSON.
  [[nodiscard]] Result<std::vector<std::string>> ResaveMembers(const std::string& format) const;

 private:
  struct Member;
  Ensemble();
  [[nodiscard]] Status AddMember(MemberParams params, std::string ubj);

  ModelSchema schema_;
  std::vector<MemberParams> params_;
  std::vector<std::unique_ptr<Member>> members_;
  std::vector<std::string> member_ubj_;
  Calibrator calibrator_;
  std::unique_ptr<std::mutex> xgb_mu_;
};

}  // namespace sinyal::models
