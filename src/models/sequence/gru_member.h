// GruMember: the sequence member of the seeds' ensemble, a small GRU trained with libtorch on the
// same rows as the XGBoost members, evaluated by a plain C++ forward pass (no libtorch at
// inference: the trained weights are copied out, and the hand-written pass is tested equal to
// libtorch's within 1e-5).
//
// Inputs (SequenceInputs): per bar t, from bars up to t only, scaled by the trailing realised
// volatility sigma_t (root mean square of the last 24 log returns):
//   r_t / sigma_t,  (high_t - low_t) / (close_{t-1} sigma_t),  (close_t - open_t) / (close_{t-1} sigma_t),
//   sin and cos of the UTC hour; clipped to [-6, 6]. NaN before 25 bars.
// A row's sequence is the inputs of its last `window` bars (default 48); the GRU's last hidden
// state goes through one linear unit and a sigmoid: P(up).
//
// Training: binary cross-entropy, Adam, mini-batches, a fixed number of epochs with the newest 10%
// of the fitting rows held out to pick the best epoch (early stopping); seeded. Rows whose
// window reaches before the first defined input are skipped.
//
// Thread safety: GruMember is immutable after Train; Predict is const and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "models/dataset.h"

namespace sinyal::models {

inline constexpr int kSequenceInputs = 5;

// Per-bar inputs, bars x kSequenceInputs row-major (NaN where undefined).
std::vector<float> SequenceInputs(const BarColumns& bars);

struct GruConfig {
  int window = 48;  // bars per sequence. [4, 512]
  int hidden = 16;  // GRU units. [2, 256]
  int epochs = 6;   // [1, 100]
  int batch = 256;  // [16, 4096]
  double lr = 1e-3;
  double weight_decay = 1e-4;
  uint64_t seed = 7;
  int threads = 1;  // libtorch intra-op threads
};

class GruMember {
 public:
  GruMember() = default;
  // Trains on dataset rows `fit` (their prediction bars index `inputs`, bars x 5).
  // FailedPrecondition when fewer than 200 rows have a full window. Requires libtorch (the
  // library is built only when Torch is found; see CMakeLists).
  [[nodiscard]] static Result<GruMember> Train(const Dataset& ds, std::span<const size_t> fit,
                                               std::span<const float> inputs,
                                               const GruConfig& config);
  // P(up) of the sequence ending at bar `bar`; NaN when the window is not fully defined.
  double Predict(std::span<const float> inputs, size_t bar) const;
  // The same through libtorch (reference for the tests).
  [[nodiscard]] Result<double> PredictTorch(std::span<const float> inputs, size_t bar) const;
  int window() const { return window_; }
  int hidden() const { return hidden_; }
  int best_epoch() const { return best_epoch_; }
  double validation_log_loss() const { return val_loss_; }

 private:
  int window_ = 48, hidden_ = 16;
  std::vector<float> w_ih_, w_hh_, b_ih_, b_hh_, w_out_;  // PyTorch layout: gates (r, z, n)
  float b_out_ = 0;
  int best_epoch_ = 0;
  double val_loss_ = 0;
};

}  // namespace sinyal::models
