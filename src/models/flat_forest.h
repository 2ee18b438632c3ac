// FlatForest: a flat, cache-friendly evaluator of one XGBoost gradient-boosted tree model,
// built from XGBoost's own JSON model (Debian has no Treelite).
//
// Layout: all trees' nodes in one array of 12-byte nodes; the two children of a node are
// adjacent (right = left + 1), so a step is one load and one compare. Semantics follow
// XGBoost 1.7's CPU predictor exactly: a missing value (NaN) takes the node's default
// direction; otherwise the row goes left iff float(feature) < split_condition (float32);
// leaf values are summed in float32, in tree order, starting from the base margin; the
// objective's transform (sigmoid for binary:logistic, softmax for multi:softprob) follows.
//
// Thread safety: immutable after construction; all methods are const and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace sinyal::models {

class FlatForest {
 public:
  FlatForest() = default;

  // Parses an XGBoost JSON model (XGBoosterSaveModelToBuffer with {"format":"json"}).
  // Supported: gbtree booster, objectives binary:logistic and multi:softprob, numerical splits.
  // Errors: InvalidArgument naming what is unsupported or malformed.
  [[nodiscard]] static Result<FlatForest> FromXgboostJson(std::string_view json);

  int num_features() const { return num_features_; }
  // 1 for binary:logistic (the output is P(class 1)), K for multi:softprob.
  int num_outputs() const { return num_outputs_; }
  size_t num_trees() const { return roots_.size(); }
  size_t num_nodes() const { return nodes_.size(); }

  // Raw margins of one row. REQUIRES: row has num_features() floats; out has num_outputs().
  void PredictMargin(const float* row, float* out) const;
  // Transformed outputs (probabilities) of one row; same shapes as PredictMargin.
  void Predict(const float* row, float* out) const;
  // Transformed outputs of `rows` rows (row-major), out = rows x num_outputs(). Walks blocks
  // of rows through each tree together; bit-identical to calling Predict per row.
  void PredictBatch(const float* data, size_t rows, float* out) const;
  // Raw margins of `rows` rows, blocked like PredictBatch.
  void PredictMarginBlock(const float* data, size_t rows, float* out) const;

 private:
  struct Node {
    float value;       // split condition, or the leaf value for leaves
    uint32_t feature;  // feature index | kDefaultLeft | kLeaf
    uint32_t left;     // index of the left child; the right child is left + 1
  };
  void Transform(float* out) const;

  static constexpr uint32_t kLeaf = 1u << 31;
  static constexpr uint32_t kDefaultLeft = 1u << 30;
  static constexpr uint32_t kFeatureMask = kDefaultLeft - 1;

  std::vector<Node> nodes_;
  std::vector<uint32_t> roots_;
  std::vector<uint8_t> tree_group_;  // output index each tree adds to
  float base_margin_ = 0;
  int num_features_ = 0;
  int num_outputs_ = 1;
  bool softmax_ = false;
};

}  // namespace sinyal::models
