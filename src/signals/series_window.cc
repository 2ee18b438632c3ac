#include "signals/series_window.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/time.h"
#include "signals/cross_asset.h"
#include "signals/interval_calibration.h"

namespace sinyal::signals {

CrossAssetContext CrossAssetContextAt(std::span<const market::Bar> bars, market::Timeframe tf,
                                      const std::string& symbol, const CrossAssetReference& ref) {
  CrossAssetContext ctx;
  if (bars.empty() || ref.name.empty() || ref.times.empty() || symbol == ref.name) return ctx;
  if (symbol == "DXY") return ctx;  // the stored index is never compared with itself
  const size_t n = std::min(bars.size(), kCrossAssetContextBars);
  auto frame = CrossAssetFeatures(bars.subspan(bars.size() - n), tf, ref.times, ref.values);
  if (!frame.ok() || frame->rows == 0) return ctx;
  const float* row = frame->Row(frame->rows - 1);
  auto col = [&](const std::string& name) -> double {
    for (size_t i = 0; i < frame->cols(); ++i) {
      if (frame->names[i] == name) return row[i];
    }
    return std::numeric_limits<double>::quiet_NaN();
  };
  ctx.ref_return_1 = col("xasset.ref_ret_1");
  ctx.ref_return_long = col("xasset.ref_ret_long");
  ctx.corr_to_ref = col("xasset.corr_ref");
  ctx.corr_break_z = col("xasset.corr_ref_z");
  ctx.available = std::isfinite(ctx.corr_to_ref);
  if (!std::isfinite(ctx.corr_break_z)) ctx.corr_break_z = 0;
  return ctx;
}

SeriesWindow::SeriesWindow(std::string symbol, market::Timeframe tf, SeriesWindowOptions options,
                           models::InputStream inputs, RegimeClassifier regime)
    : symbol_(std::move(symbol)),
      timeframe_(tf),
      options_(std::move(options)),
      inputs_(std::move(inputs)),
      regime_(std::move(regime)) {}
SeriesWindow::SeriesWindow(SeriesWindow&&) noexcept = default;
SeriesWindow& SeriesWindow::operator=(SeriesWindow&&) noexcept = default;
SeriesWindow::~SeriesWindow() = default;

Result<SeriesWindow> SeriesWindow::Create(const models::InputSpec& spec, UnixNanos anchor,
                                          std::string symbol, market::Timeframe tf,
                                          SeriesWindowOptions options) {
  options.keep = std::max(options.keep, kCrossAssetContextBars);
  SINYAL_ASSIGN_OR_RETURN(models::InputStream inputs, models::InputStream::Create(spec, anchor));
  SINYAL_ASSIGN_OR_RETURN(RegimeClassifier regime, RegimeClassifier::Create(options.regime));
  return SeriesWindow(std::move(symbol), tf, std::move(options), std::move(inputs),
                      std::move(regime));
}

const models::InputSpec& SeriesWindow::spec() const { return inputs_.spec(); }

Result<bool> SeriesWindow::Push(const market::Bar& bar) {
  if (!bars_.empty() && bar.time() <= bars_.back().time()) return false;
  if (bar.time() < inputs_.anchor()) return false;
  SINYAL_RETURN_IF_ERROR(regime_.Update(bar));
  SINYAL_RETURN_IF_ERROR(inputs_.Push(bar));
  bars_.push_back(bar);
  rows_.emplace_back(inputs_.row().begin(), inputs_.row().end());
  states_.push_back(regime_.Current());
  ++pushed_;
  if (bars_.size() > options_.keep) {
    bars_.pop_front();
    rows_.pop_front();
    states_.pop_front();
  }
  return true;
}

size_t SeriesWindow::first_signal_index() const {
  return pushed_ > bars_.size() ? kCrossAssetContextBars - 1 : 0;
}

std::optional<size_t> SeriesWindow::NewestClosedBy(UnixNanos not_after) const {
  const int64_t period = market::TimeframeNanos(timeframe_);
  size_t i = bars_.size();
  while (i > first_signal_index() && bars_[i - 1].time() + period > not_after) --i;
  if (i == first_signal_index()) return std::nullopt;
  return i - 1;
}

std::optional<UnixNanos> SeriesWindow::last_time() const {
  if (bars_.empty()) return std::nullopt;
  return bars_.back().time();
}

Result<SignalInput> SeriesWindow::InputAt(size_t i, const CrossAssetReference* ref) const {
  const UnixNanos t = bars_[i].time();
  if (i < first_signal_index()) {
    return Status::NotFound("the bar of " + FormatIso8601(t) + " is no longer kept", "symbol");
  }
  const std::vector<float>& row = rows_[i];
  for (size_t k = 0; k < row.size(); ++k) {
    if (!std::isfinite(row[k])) {
      return Status::FailedPrecondition("too little history: feature " + spec().names()[k] +
                                            " is not defined at the bar of " + FormatIso8601(t),
                                        "symbol");
    }
  }
  if (!states_[i].ready) {
    return Status::FailedPrecondition(
        "too little history: the regime is still warming up at the "
        "bar of " +
            FormatIso8601(t) + " (about 525 bars are needed)",
        "symbol");
  }
  SignalInput in;
  in.bar_time = t;
  in.reference_price = bars_[i].close();
  in.features = row;
  in.regime = states_[i];
  if (ref != nullptr) {
    // The context's bars: the newest kCrossAssetContextBars up to i.
    const size_t first = i + 1 > kCrossAssetContextBars ? i + 1 - kCrossAssetContextBars : 0;
    std::vector<market::Bar> bars(bars_.begin() + static_cast<std::ptrdiff_t>(first),
                                  bars_.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    in.cross_asset = CrossAssetContextAt(bars, timeframe_, symbol_, *ref);
  }
  return in;
}

Result<Signal> SignalAt(const SeriesWindow& window, size_t i, const SignalModel& model,
                        const SignalGenerator& generator, const SignalRequest& request,
                        const CrossAssetReference* ref) {
  SINYAL_ASSIGN_OR_RETURN(SignalInput in, window.InputAt(i, ref));
  // The served intervals: the resolved rows among the newest kRecentIntervalBars bars up to i
  // (every signalable bar has them: kRecentIntervalBars <= kCrossAssetContextBars).
  static_assert(kRecentIntervalBars <= kCrossAssetContextBars);
  if (model.ensemble != nullptr) {
    const size_t first = i + 1 > kRecentIntervalBars ? i + 1 - kRecentIntervalBars : 0;
    std::vector<market::Bar> bars;
    std::vector<RegimeState> states;
    bars.reserve(i + 1 - first);
    states.reserve(i + 1 - first);
    for (size_t j = first; j <= i; ++j) {
      bars.push_back(window.bar(j));
      states.push_back(window.state(j));
    }
    auto recent = RecentIntervals(bars, states, model.ensemble->schema().horizon);
    if (recent.ok()) {
      in.recent_intervals = std::move(recent).value();
    } else if (recent.error().code() != StatusCode::kFailedPrecondition) {
      return recent.error();
    }  // too few resolved rows (a short series): the version's held-out quantiles
  }
  auto sig = generator.Generate(model, request, in);
  if (!sig.ok() && sig.error().code() == StatusCode::kFailedPrecondition) {
    return sig.error().WithField("symbol");
  }
  return sig;
}

}  // namespace sinyal::signals
