#include "models/xgb.h"

#include <xgboost/c_api.h>

#include <cmath>
#include <cstdio>
#include <mutex>

namespace sinyal::models::xgb {

Status XgbCheck(int rc, std::string_view what) {
  if (rc == 0) return Status::Ok();
  const char* err = XGBGetLastError();
  return Status::Internal("xgboost " + std::string(what) + " failed: " + (err ? err : "?"));
}

void BoosterDeleter::operator()(void* handle) const {
  if (handle != nullptr) XGBoosterFree(handle);
}
void DMatrixDeleter::operator()(void* handle) const {
  if (handle != nullptr) XGDMatrixFree(handle);
}

namespace {
// XGBoost logs warnings to stderr by default; keep them quiet (verbosity 0 = silent).
void SilenceOnce() {
  static std::once_flag once;
  std::call_once(once, [] { XGBSetGlobalConfig(R"({"verbosity":0})"); });
}
}  // namespace

Result<DMatrixPtr> MakeDMatrix(const float* data, size_t rows, size_t cols, const float* labels,
                               int nthread) {
  SilenceOnce();
  if (rows == 0 || cols == 0) return Status::InvalidArgument("empty matrix", "dataset");
  DMatrixHandle h = nullptr;
  SINYAL_RETURN_IF_ERROR(
      XgbCheck(XGDMatrixCreateFromMat_omp(data, rows, cols, std::nanf(""), &h, nthread),
               "XGDMatrixCreateFromMat"));
  DMatrixPtr m(h);
  if (labels != nullptr) {
    SINYAL_RETURN_IF_ERROR(
        XgbCheck(XGDMatrixSetFloatInfo(h, "label", labels, rows), "XGDMatrixSetFloatInfo"));
  }
  return m;
}

Result<BoosterPtr> Train(void* dtrain,
                         const std::vector<std::pair<std::string, std::string>>& params,
                         int rounds) {
  SilenceOnce();
  BoosterHandle h = nullptr;
  DMatrixHandle mats[1] = {dtrain};
  SINYAL_RETURN_IF_ERROR(XgbCheck(XGBoosterCreate(mats, 1, &h), "XGBoosterCreate"));
  BoosterPtr b(h);
  for (const auto& [k, v] : params) {
    SINYAL_RETURN_IF_ERROR(
        XgbCheck(XGBoosterSetParam(h, k.c_str(), v.c_str()), "XGBoosterSetParam(" + k + ")"));
  }
  for (int i = 0; i < rounds; ++i) {
    SINYAL_RETURN_IF_ERROR(
        XgbCheck(XGBoosterUpdateOneIter(h, i, dtrain), "XGBoosterUpdateOneIter"));
  }
  return b;
}

Result<std::string> SaveModel(void* booster, std::string_view format) {
  std::string cfg = std::string(R"({"format":")") + std::string(format) + "\"}";
  bst_ulong len = 0;
  const char* out = nullptr;
  SINYAL_RETURN_IF_ERROR(XgbCheck(XGBoosterSaveModelToBuffer(booster, cfg.c_str(), &len, &out),
                                  "XGBoosterSaveModelToBuffer"));
  return std::string(out, len);
}

Result<BoosterPtr> LoadModel(std::string_view bytes, int nthread) {
  SilenceOnce();
  if (bytes.empty()) return Status::InvalidArgument("model bytes are empty", "model");
  BoosterHandle h = nullptr;
  SINYAL_RETURN_IF_ERROR(XgbCheck(XGBoosterCreate(nullptr, 0, &h), "XGBoosterCreate"));
  BoosterPtr b(h);
  int rc = XGBoosterLoadModelFromBuffer(h, bytes.data(), bytes.size());
  if (rc != 0) {
    const char* err = XGBGetLastError();
    // XGBoost's messages for bad bytes are long parser traces; keep the first line.
    std::string msg = err ? err : "?";
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
    return Status::InvalidArgument("not a valid XGBoost model: " + msg, "model");
  }
  SINYAL_RETURN_IF_ERROR(
      XgbCheck(XGBoosterSetParam(h, "nthread", std::to_string(nthread).c_str()), "nthread"));
  return b;
}

Result<std::vector<float>> Predict(void* booster, void* dmat, PredictType type) {
  std::string cfg =
      R"({"type":)" + std::to_string(static_cast<int>(type)) +
      R"(,"training":false,"iteration_begin":0,"iteration_end":0,"strict_shape":false})";
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* out = nullptr;
  SINYAL_RETURN_IF_ERROR(
      XgbCheck(XGBoosterPredictFromDMatrix(booster, dmat, cfg.c_str(), &shape, &dim, &out),
               "XGBoosterPredictFromDMatrix"));
  size_t n = 1;
  for (bst_ulong i = 0; i < dim; ++i) n *= shape[i];
  return std::vector<float>(out, out + n);
}

Result<std::vector<float>> PredictDense(void* booster, const float* data, size_t rows,
                                        size_t cols) {
  char arr[256];
  std::snprintf(arr, sizeof(arr),
                R"({"data":[%llu,true],"shape":[%zu,%zu],"typestr":"<f4","version":3})",
                static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(data)), rows, cols);
  static const char* kCfg =
      R"({"type":0,"cache_id":0,"training":false,"iteration_begin":0,"iteration_end":0,"strict_shape":false,"missing":NaN})";
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* out = nullptr;
  SINYAL_RETURN_IF_ERROR(
      XgbCheck(XGBoosterPredictFromDense(booster, arr, kCfg, nullptr, &shape, &dim, &out),
               "XGBoosterPredictFromDense"));
  size_t n = 1;
  for (bst_ulong i = 0; i < dim; ++i) n *= shape[i];
  return std::vector<float>(out, out + n);
}

std::string Version() {
  int major = 0, minor = 0, patch = 0;
  XGBoostVersion(&major, &minor, &patch);
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

}  // namespace sinyal::models::xgb
