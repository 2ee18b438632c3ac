#include "models/flat_forest.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

namespace sinyal::models {

namespace {

float ParseFloatString(const nlohmann::json& j) {
  if (j.is_string()) return std::stof(j.get<std::string>());
  return j.get<float>();
}

}  // namespace

Result<FlatForest> FlatForest::FromXgboostJson(std::string_view text) {
  FlatForest f;
  try {
    const nlohmann::json doc = nlohmann::json::parse(text);
    const auto& learner = doc.at("learner");
    const auto& gb = learner.at("gradient_booster");
    if (gb.at("name").get<std::string>() != "gbtree") {
      return Status::InvalidArgument("only the gbtree booster is supported", "model.booster");
    }
    const std::string objective = learner.at("objective").at("name").get<std::string>();
    const auto& lmp = learner.at("learner_model_param");
    const float base_score = ParseFloatString(lmp.at("base_score"));
    const int num_class = std::stoi(lmp.at("num_class").get<std::string>());
    f.num_features_ = std::stoi(lmp.at("num_feature").get<std::string>());
    if (objective == "binary:logistic") {
      f.num_outputs_ = 1;
      f.softmax_ = false;
      // XGBoost's ProbToMargin for logistic loss, in float as in 1.7.
      f.base_margin_ = -std::log(1.0f / base_score - 1.0f);
    } else if (objective == "multi:softprob") {
      if (num_class < 2 || num_class > 255) {
        return Status::InvalidArgument("bad num_class", "model.num_class");
      }
      f.num_outputs_ = num_class;
      f.softmax_ = true;
      f.base_margin_ = base_score;  // softmax objectives add base_score untransformed
    } else {
      return Status::InvalidArgument("unsupported objective '" + objective + "'",
                                     "model.objective");
    }
    const auto& model = gb.at("model");
    const auto tree_info = model.at("tree_info").get<std::vector<int>>();
    const auto& trees = model.at("trees");
    if (tree_info.size() != trees.size()) {
      return Status::InvalidArgument("tree_info and trees differ in length", "model.tree_info");
    }
    for (size_t t = 0; t < trees.size(); ++t) {
      const auto& tr = trees[t];
      const auto left = tr.at("left_children").get<std::vector<int32_t>>();
      const auto right = tr.at("right_children").get<std::vector<int32_t>>();
      const auto split_idx = tr.at("split_indices").get<std::vector<int64_t>>();
      const auto cond = tr.at("split_conditions").get<std::vector<float>>();
      const auto default_left = tr.at("default_left").get<std::vector<int>>();
      const size_t n = left.size();
      if (right.size() != n || split_idx.size() != n || cond.size() != n ||
          default_left.size() != n || n == 0) {
        return Status::InvalidArgument("tree " + std::to_string(t) + " has ragged arrays",
                                       "model.trees");
      }
      if (tr.contains("split_type")) {
        for (int st : tr.at("split_type").get<std::vector<int>>()) {
          if (st != 0) {
            return Status::InvalidArgument("categorical splits are not supported", "model.trees");
          }
        }
      }
      if (tree_info[t] < 0 || tree_info[t] >= f.num_outputs_) {
        return Status::InvalidArgument("tree group out of range", "model.tree_info");
      }
      // Re-lay the tree depth-first so that each node's children are adjacent.
      const uint32_t root = static_cast<uint32_t>(f.nodes_.size());
      f.roots_.push_back(root);
      f.tree_group_.push_back(static_cast<uint8_t>(tree_info[t]));
      f.nodes_.push_back({});
      std::vector<std::pair<int32_t, uint32_t>> stack = {{0, root}};  // (xgb node, flat slot)
      size_t visited = 0;
      while (!stack.empty()) {
        auto [xn, slot] = stack.back();
        stack.pop_back();
        if (xn < 0 || static_cast<size_t>(xn) >= n || ++visited > n) {
          return Status::InvalidArgument("tree " + std::to_string(t) + " is malformed",
                                         "model.trees");
        }
        Node node;
        node.value = cond[xn];
        if (left[xn] == -1) {
          node.feature = kLeaf;
          node.left = 0;
        } else {
          if (split_idx[xn] < 0 || split_idx[xn] >= f.num_features_) {
            return Status::InvalidArgument("split feature out of range", "model.trees");
          }
          node.feature =
              static_cast<uint32_t>(split_idx[xn]) | (default_left[xn] ? kDefaultLeft : 0u);
          node.left = static_cast<uint32_t>(f.nodes_.size());
          f.nodes_.push_back({});
          f.nodes_.push_back({});
          stack.push_back({right[xn], node.left + 1});
          stack.push_back({left[xn], node.left});
        }
        f.nodes_[slot] = node;
      }
    }
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("malformed XGBoost JSON model: ") + e.what(),
                                   "model");
  }
  return f;
}

void FlatForest::PredictMargin(const float* row, float* out) const {
  for (int k = 0; k < num_outputs_; ++k) out[k] = base_margin_;
  const Node* nodes = nodes_.data();
  const size_t trees = roots_.size();
  for (size_t t = 0; t < trees; ++t) {
    const Node* nd = nodes + roots_[t];
    while (!(nd->feature & kLeaf)) {
      const float x = row[nd->feature & kFeatureMask];
      const bool go_left = std::isnan(x) ? (nd->feature & kDefaultLeft) != 0 : x < nd->value;
      nd = nodes + nd->left + (go_left ? 0 : 1);
    }
    out[tree_group_[t]] += nd->value;
  }
}

void FlatForest::Predict(const float* row, float* out) const {
  PredictMargin(row, out);
  Transform(out);
}

void FlatForest::PredictMarginBlock(const float* data, size_t rows, float* out) const {
  // Rows advance through each tree in lockstep, so the traversals of different rows are
  // independent instruction streams the CPU overlaps (a single row's traversal is a chain of
  // dependent loads). Per row, trees are still summed in order: results equal PredictMargin.
  constexpr size_t kBlock = 16;
  const Node* nodes = nodes_.data();
  const size_t f = static_cast<size_t>(num_features_);
  const int k = num_outputs_;
  for (size_t i = 0; i < rows * k; ++i) out[i] = base_margin_;
  const Node* cur[kBlock];
  for (size_t b0 = 0; b0 < rows; b0 += kBlock) {
    const size_t nb = std::min(kBlock, rows - b0);
    const float* x = data + b0 * f;
    for (size_t t = 0; t < roots_.size(); ++t) {
      for (size_t r = 0; r < nb; ++r) cur[r] = nodes + roots_[t];
      bool active = true;
      while (active) {
        active = false;
        for (size_t r = 0; r < nb; ++r) {
          const Node* nd = cur[r];
          if (nd->feature & kLeaf) continue;
          const float v = x[r * f + (nd->feature & kFeatureMask)];
          const bool go_left = std::isnan(v) ? (nd->feature & kDefaultLeft) != 0 : v < nd->value;
          cur[r] = nodes + nd->left + (go_left ? 0 : 1);
          active = true;
        }
      }
      const int g = tree_group_[t];
      for (size_t r = 0; r < nb; ++r) out[(b0 + r) * k + g] += cur[r]->value;
    }
  }
}

void FlatForest::Transform(float* out) const {
  if (!softmax_) {
    out[0] = 1.0f / (1.0f + std::exp(-out[0]));
    return;
  }
  float mx = out[0];
  for (int k = 1; k < num_outputs_; ++k) mx = std::max(mx, out[k]);
  float sum = 0;
  for (int k = 0; k < num_outputs_; ++k) sum += out[k] = std::exp(out[k] - mx);
  for (int k = 0; k < num_outputs_; ++k) out[k] /= sum;
}

void FlatForest::PredictBatch(const float* data, size_t rows, float* out) const {
  PredictMarginBlock(data, rows, out);
  for (size_t i = 0; i < rows; ++i) Transform(out + i * num_outputs_);
}

}  // namespace sinyal::models
