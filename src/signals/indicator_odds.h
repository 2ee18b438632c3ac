// Indicator probability scoring (the seeds' "Layer 1"): for an indicator state a trader cares
// about ("RSI < 30", "MACD crossed above its signal", "close above the upper Bollinger band"),
// how often did price go up over the next h bars after the state held, with a Wilson interval
// and its sample size, out of sample?
//
// Definitions.
//   - A state is evaluated at the close of each bar from TA-Lib-exact indicators (features/
//     indicators.h) of the bars up to that one only.
//   - An occurrence is a bar where the state holds. Its outcome over horizon h is "up" when the
//     close h bars later is above the occurrence's close (equal closes count as not up).
//   - Out of sample: the estimate served at an as-of bar uses only occurrences whose outcome was
//     known by then (occurrence bar + h <= as-of bar). Nothing after the as-of bar is read.
//   - Independence: a state usually holds for several bars in a row and neighbouring outcomes
//     share h - 1 bars, so counting every bar would make the interval far too narrow. The counted
//     occurrences are thinned: scanning forward, an occurrence counts only when it is at least h
//     bars after the last counted one (no two counted outcome windows overlap). `n` is that count;
//     `occurrences` is every bar in the state.
//   - The base rate is the same statistic for every bar (thinned every h bars): the state matters
//     only if its rate differs from that.
//   - Holdout: the counted occurrences are split at the middle of the history; the rate before
//     and after are both reported, so a reader sees whether an edge persisted.
//
// State grammar (ParseIndicatorState; case-insensitive, spaces ignored):
//   rsi<30  rsi>70  rsi(9)<25            RSI(period, default 14) below/above a level in (0, 100)
//   stoch<20  stoch>80  stoch(14,3,3)<20  slow %K of Stoch(fastk, slowk, slowd; default 14,3,3)
//   macd_cross_up  macd_cross_down  macd(12,26,9)_cross_up   MACD line crossed its signal line
//                                        on this bar (histogram changed sign)
//   close>bb_upper  close<bb_lower  close>bb_upper(20,2)     close beyond Bollinger(period, k)
//   close>sma(200)  close<sma(50)         close above/below a simple moving average
//
// Thread safety: pure functions; IndicatorState is a value.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "market/bar.h"
#include "models/metrics.h"

namespace sinyal::signals {

struct IndicatorState {
  enum class Kind { kRsi, kStoch, kMacdCross, kBollinger, kSma };
  Kind kind = Kind::kRsi;
  bool above = false;          // > level / cross up / close above
  double level = 0;            // rsi, stoch
  int p1 = 0, p2 = 0, p3 = 0;  // periods
  double k = 0;                // Bollinger width
  std::string name;            // canonical text, e.g. "rsi(14)<30"
  int Warmup() const;          // bars before the state is defined
};

// Errors: InvalidArgument naming `field` with what was expected.
[[nodiscard]] Result<IndicatorState> ParseIndicatorState(std::string_view text,
                                                         const std::string& field = "states");

// Whether the state holds at each bar (false before it is defined). bars ascending.
[[nodiscard]] Result<std::vector<bool>> EvaluateIndicatorState(const IndicatorState& state,
                                                               std::span<const market::Bar> bars);

struct UpRate {
  size_t n = 0;  // counted (non-overlapping) outcomes
  size_t up = 0;
  double p_up = 0;      // up / n (NaN when n == 0)
  models::Interval ci;  // 95% Wilson
};

struct IndicatorOdds {
  std::string state;
  int horizon = 1;
  bool active = false;         // the state holds at the as-of bar
  size_t occurrences = 0;      // bars in the state with a known outcome
  UpRate rate;                 // the state's (thinned) up rate
  UpRate base;                 // every bar's (thinned) up rate over the same bars
  UpRate before, after;        // the state's rate in the older and newer half of the history
  UnixNanos split = 0;         // the bar time the halves are split at
  UnixNanos from = 0, to = 0;  // first bar and as-of bar
  nlohmann::json ToJson() const;
};

// The odds of every state at every horizon, as of bar `as_of` (an index into bars; outcomes must
// be known by it). InvalidArgument ("horizons") for a horizon outside [1, 500], ("as_of") when
// out of range.
[[nodiscard]] Result<std::vector<IndicatorOdds>> ComputeIndicatorOdds(
    std::span<const market::Bar> bars, std::span<const IndicatorState> states,
    std::span<const int> horizons, size_t as_of);

}  // namespace sinyal::signals
