// The model-inputs seam: the one place that turns bars into a model's input rows. Training,
// walk-forward evaluation, retraining, calibration fitting, `sinyal predict`, the live
// SignalService, the features API and backtests all compute rows through it; nothing else
// streams a feature set over bars.
//
// What a row is. InputSpec names a feature set: the "basic" set of models/ (basic_features.h) or
// a features::FeatureSetConfig (core-v1 or a tenant's set). Rows are made by streaming the bars,
// oldest first, through the set's computation from an ANCHOR: the first bar whose open time is
// at or after `anchor`. Row t is what is known at the close of bar t; bars before the anchor
// give all-NaN rows, as do warm-up bars.
//
// Contract.
//   - No look-ahead: row t is a function of the bars anchor..t only (each computation is a
//     streaming object fed one bar at a time; dataset.h's CheckNoLookahead probes it again
//     in every training).
//   - Train/serve identity: ComputeInputs is InputStream::Push in a loop, so for the same spec,
//     anchor and bars a batch frame and a stream pushed bar by bar give bit-identical rows
//     (and bit-identical double values()). A row depends on the anchor (EMA-type features are
//     seeded by the first bars; a running sum carries its rounding), so whoever computes a
//     model's rows uses the model's anchor, ModelSchema::inputs_from, recorded at training
//     from the first bar streamed (input_resolver.h reads the stored bars from there).
//   - Precision: the feature set computes in double (values()); the row the model sees is
//     each value cast to float, non-finite values as NaN (the one conversion rule).
//
// Thread safety: InputSpec is a value; InputStream is not synchronised (one per series);
// ComputeInputs is a pure function.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "features/feature_set.h"
#include "market/bar.h"
#include "models/dataset.h"

namespace sinyal::models {

struct ModelSchema;

class InputSpec {
 public:
  // models/' built-in "basic" set (version 1).
  static InputSpec Basic();
  // A feature set of features/. InvalidArgument (features::Validate's fields) when invalid.
  [[nodiscard]] static Result<InputSpec> FeatureSet(features::FeatureSetConfig config);

  bool basic() const { return !config_.has_value(); }
  const std::string& set_name() const { return set_name_; }
  int set_version() const { return set_version_; }
  const std::vector<std::string>& names() const { return names_; }
  size_t cols() const { return names_.size(); }
  // REQUIRES: !basic().
  const features::FeatureSetConfig& config() const { return *config_; }
  // Bars after the anchor before every feature can be defined (an upper bound for "basic").
  int WarmupBars() const;
  // FailedPrecondition (field "model") when the schema's feature names differ from this set's:
  // the model was trained on features that are no longer computed this way.
  [[nodiscard]] Status CheckSchema(const ModelSchema& schema) const;

 private:
  InputSpec() = default;
  std::string set_name_;
  int set_version_ = 0;
  std::vector<std::string> names_;
  std::optional<features::FeatureSetConfig> config_;  // nullopt: basic
};

// The streaming form: push closed bars in time order, read the row of the last one.
class InputStream {
 public:
  [[nodiscard]] static Result<InputStream> Create(const InputSpec& spec,
                                                  UnixNanos anchor = kSeriesStart);
  InputStream(InputStream&&) noexcept;
  InputStream& operator=(InputStream&&) noexcept;
  ~InputStream();

  // Feeds the next closed bar. InvalidArgument (field "time") when it is not after the previous
  // bar; nothing changes then. A bar before the anchor is accepted and gives an all-NaN row.
  [[nodiscard]] Status Push(const market::Bar& bar);
  // The model's input row at the last pushed bar (cols() floats; NaN = not defined).
  std::span<const float> row() const { return row_; }
  // The same values at double precision, as the feature set computed them.
  std::span<const double> values() const { return values_; }
  // Every value of the row is finite.
  bool complete() const { return complete_; }
  const InputSpec& spec() const { return spec_; }
  UnixNanos anchor() const { return anchor_; }
  // Time of the first bar at or after the anchor (nullopt before it arrives).
  std::optional<UnixNanos> first_time() const { return first_; }
  std::optional<UnixNanos> last_time() const { return last_; }

 private:
  struct Computer;
  InputStream(InputSpec spec, UnixNanos anchor, std::unique_ptr<Computer> c);
  InputSpec spec_;
  UnixNanos anchor_ = kSeriesStart;
  std::unique_ptr<Computer> computer_;
  std::vector<double> values_;
  std::vector<float> row_;
  bool complete_ = false;
  std::optional<UnixNanos> first_, last_;
};

// The batch form: one row per bar of `bars` (ascending), exactly InputStream::Push in a loop.
// The frame's inputs_from is the first bar at or after the anchor (kSeriesStart when none).
// InvalidArgument ("bars[i].time") when bars are out of order.
[[nodiscard]] Result<FeatureFrame> ComputeInputs(const InputSpec& spec,
                                                 std::span<const market::Bar> bars,
                                                 UnixNanos anchor = kSeriesStart);

}  // namespace sinyal::models
