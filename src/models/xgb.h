// Internal to models/: the only place that includes <xgboost/c_api.h>.
//
// RAII handles for XGBoost boosters and DMatrix objects, every C call checked through
// XgbCheck (reads XGBGetLastError, never exits), and prediction buffers copied out at once
// (XGBoost owns them only until the next call on the same booster).
//
// Thread safety: a Booster must not be used by two threads at once (XGBoost 1.7 keeps
// per-booster prediction caches); callers serialise access (Ensemble holds a mutex).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace sinyal::models::xgb {

// Maps an XGBoost return code to a Status; `what` names the call for the message.
Status XgbCheck(int rc, std::string_view what);

struct BoosterDeleter {
  void operator()(void* handle) const;
};
struct DMatrixDeleter {
  void operator()(void* handle) const;
};
using BoosterPtr = std::unique_ptr<void, BoosterDeleter>;
using DMatrixPtr = std::unique_ptr<void, DMatrixDeleter>;

// A dense row-major float matrix (NaN = missing), optionally with labels (0..K-1 as float).
// REQUIRES: data.size() == rows * cols; labels empty or labels.size() == rows.
[[nodiscard]] Result<DMatrixPtr> MakeDMatrix(const float* data, size_t rows, size_t cols,
                                             const float* labels = nullptr, int nthread = 1);

// Trains a booster with the given string parameters for `rounds` boosting rounds.
[[nodiscard]] Result<BoosterPtr> Train(
    void* dtrain, const std::vector<std::pair<std::string, std::string>>& params, int rounds);

// Serialises the model (not the training configuration) as "ubj" or "json".
[[nodiscard]] Result<std::string> SaveModel(void* booster, std::string_view format);

// Loads a model saved by SaveModel (either format). Returns InvalidArgument with XGBoost's
// message when the bytes are not a valid model.
[[nodiscard]] Result<BoosterPtr> LoadModel(std::string_view bytes, int nthread = 1);

// Prediction types of XGBoosterPredictFromDMatrix.
enum class PredictType { kValue = 0, kMargin = 1, kContribs = 2 };

// Predicts on `dmat`; returns the flat output (rows x K for softprob, rows x (F+1)[xK] for
// contributions). The buffer is copied before returning.
[[nodiscard]] Result<std::vector<float>> Predict(void* booster, void* dmat, PredictType type);

// In-place prediction from a dense row-major matrix (no DMatrix); used by the benchmark as
// XGBoost's fastest single-row path.
[[nodiscard]] Result<std::vector<float>> PredictDense(void* booster, const float* data, size_t rows,
                                                      size_t cols);

// "major.minor.patch" of the linked libxgboost.
std::string Version();

}  // namespace sinyal::models::xgb
