// SeriesWindow: one series as one model version sees it, bar by bar. It is the streaming half of
// the signal path, the same code live (SignalService feeds it stored bars as they close) and in
// backtests (an engine pushes bars one at a time in time order on a core::ManualClock).
//
// Per pushed bar (closed, strictly later than the last, at or after the model's anchor):
//   - the model's input row (models::InputStream from ModelSchema::inputs_from: the seam),
//   - the regime (RegimeClassifier, streamed from the same anchor),
// and the newest `keep` bars are kept with their rows and states. SignalAt turns kept bar i
// into a Signal with the model, its interval calibration and the cross-asset context.
//
// Contract:
//   - No look-ahead: everything at bar i comes from bars anchor..i and, for the cross-asset
//     context, reference values with time <= bar i's time.
//   - Train/serve identity: the rows are bit-identical to models::ComputeInputs over the same
//     bars and anchor (the training and calibration path), the states to ClassifyRegimes over
//     them, and the cross-asset context at i depends only on the last kCrossAssetContextBars
//     bars up to i; so a signal computed here equals the one computed in batch from the same
//     bars (series_window_test.cc; signals/service_test.cc for the live service).
//
// Thread safety: not synchronised (one owner; SignalService guards each window with a mutex).
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "market/bar.h"
#include "market/timeframe.h"
#include "models/inputs.h"
#include "signals/regime.h"
#include "signals/signal.h"

namespace sinyal::signals {

// The cross-asset reference of a timeframe: the US dollar index, stored ("DXY") or rebuilt
// from five components ("synthetic_dxy_5"); empty name = none.
struct CrossAssetReference {
  std::string name;
  std::vector<UnixNanos> times;  // ascending UTC open times
  std::vector<double> values;
};

// Bars read for the cross-asset context of one bar (its correlation and break z).
inline constexpr size_t kCrossAssetContextBars = 1024;

// The cross-asset context at the last of `bars` (ascending; only the newest
// kCrossAssetContextBars are read) against `ref`. Not available (available = false) for the
// reference's own symbol, without a reference, or while the correlation is undefined.
CrossAssetContext CrossAssetContextAt(std::span<const market::Bar> bars,
                                      market::Timeframe timeframe, const std::string& symbol,
                                      const CrossAssetReference& ref);

struct SeriesWindowOptions {
  size_t keep = 1280;   // bars kept with rows and states. Default 1280: the context's 1024 plus
                        // 256 older bars for delayed plans. At least kCrossAssetContextBars.
  RegimeConfig regime;  // Default rules (regime.h).
};

class SeriesWindow {
 public:
  // Errors: the regime configuration's; those of InputStream::Create.
  [[nodiscard]] static Result<SeriesWindow> Create(const models::InputSpec& spec, UnixNanos anchor,
                                                   std::string symbol, market::Timeframe timeframe,
                                                   SeriesWindowOptions options = {});
  SeriesWindow(SeriesWindow&&) noexcept;
  SeriesWindow& operator=(SeriesWindow&&) noexcept;
  ~SeriesWindow();

  // Feeds the next closed bar. Returns false, changing nothing, for a bar not after the newest
  // one pushed or before the anchor (the rows start at the anchor).
  [[nodiscard]] Result<bool> Push(const market::Bar& bar);

  size_t size() const { return bars_.size(); }
  bool empty() const { return bars_.empty(); }
  // Kept bar i (0 = oldest kept), its input row and its regime. REQUIRES: i < size().
  const market::Bar& bar(size_t i) const { return bars_[i]; }
  std::span<const float> row(size_t i) const { return rows_[i]; }
  const RegimeState& state(size_t i) const { return states_[i]; }
  // The oldest kept bar a signal can be made at: 0 until bars are dropped, then the first with
  // kCrossAssetContextBars kept bars up to it (so its context is the batch one).
  size_t first_signal_index() const;
  // Index of the newest kept bar whose close (open + one period) is at or before `not_after`;
  // nullopt when there is none at or after first_signal_index().
  std::optional<size_t> NewestClosedBy(UnixNanos not_after) const;
  std::optional<UnixNanos> last_time() const;
  const std::string& symbol() const { return symbol_; }
  market::Timeframe timeframe() const { return timeframe_; }
  const models::InputSpec& spec() const;
  // Bars pushed since creation (kept or not).
  size_t pushed() const { return pushed_; }

  // What the generator needs at kept bar i: its row, regime and cross-asset context (ref may be
  // null: none). The features span points into the window (valid until the next Push).
  // FailedPrecondition (field "symbol") when a feature is undefined at i or the regime is
  // still warming up ("too little history"); NotFound ("symbol") when i < first_signal_index().
  [[nodiscard]] Result<SignalInput> InputAt(size_t i, const CrossAssetReference* ref) const;

 private:
  SeriesWindow(std::string symbol, market::Timeframe tf, SeriesWindowOptions options,
               models::InputStream inputs, RegimeClassifier regime);
  std::string symbol_;
  market::Timeframe timeframe_;
  SeriesWindowOptions options_;
  models::InputStream inputs_;
  RegimeClassifier regime_;
  std::deque<market::Bar> bars_;
  std::deque<std::vector<float>> rows_;
  std::deque<RegimeState> states_;
  size_t pushed_ = 0;
};

// The signal at kept bar i of `window`: InputAt, the served intervals at i (RecentIntervals over
// the kept bars up to i; the version's held-out quantiles while fewer rows are resolved) and
// SignalGenerator::Generate. Errors as those (a FailedPrecondition names "symbol").
[[nodiscard]] Result<Signal> SignalAt(const SeriesWindow& window, size_t i,
                                      const SignalModel& model, const SignalGenerator& generator,
                                      const SignalRequest& request, const CrossAssetReference* ref);

}  // namespace sinyal::signals
