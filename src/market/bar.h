// Bar: one validated OHLCV bar. A Bar that exists is consistent: prices are finite and > 0,
// high >= max(open, close), low <= min(open, close) (hence high >= low), volume finite and >= 0.
// Time is the bar's open time in UTC (UnixNanos). Ordering in time is a property of a series,
// enforced by the importers (market/csv_import.h) and BarSeries::Append (market/bar_series.h).
//
// Why prices are doubles here and not int64 fixed-point (STYLE.md asks to consider it):
//  1. Indicators must equal TA-Lib's, which computes in double from the same decimal text.
//     Prices are parsed with std::from_chars, which is correctly rounded (the same double as
//     strtod/JavaScript parseFloat), so every bar holds exactly the double TA-Lib would see.
//  2. Real sources carry up to 17 significant digits (Yahoo's adjusted "24.380447387695312",
//     EA-Trader's "1.2911000000000001"). No single int64 scale holds those exactly and still
//     covers 5-digit FX and 5-figure indices; a lossy scale would change indicator values.
//  3. Where exact decimal arithmetic matters (spreads, P&L in points), Instrument::ToPoints
//     gives the fixed-point view of a quote at the instrument's precision.
// Equality of bars (re-import merge) compares these doubles exactly, which is exact equality
// of the decimal source values up to double precision.
//
// Thread safety: value type.
#pragma once

#include <cstdint>

#include "core/clock.h"
#include "core/status.h"

namespace sinyal::market {

class Bar {
 public:
  // Validates and builds a bar. Errors are InvalidArgument with the field at fault
  // ("open", "high", "low", "close", "volume", "spread") and a message giving the values, e.g.
  // "high 1.1 is below low 1.2". `volume` is the tick volume (MT5 TICKVOL) or the exchange
  // volume when the source has only that; `real_volume` the exchange volume (0 if unknown);
  // `spread` in points (0 if unknown).
  [[nodiscard]] static Result<Bar> Create(UnixNanos time, double open, double high, double low,
                                          double close, double volume = 0, int32_t spread = 0,
                                          double real_volume = 0);

  UnixNanos time() const { return time_; }
  double open() const { return open_; }
  double high() const { return high_; }
  double low() const { return low_; }
  double close() const { return close_; }
  double volume() const { return volume_; }
  double real_volume() const { return real_volume_; }
  int32_t spread() const { return spread_; }

  // Exact equality of every field.
  friend bool operator==(const Bar&, const Bar&) = default;

 private:
  Bar() = default;
  friend class BarBuilder;
  UnixNanos time_ = 0;
  double open_ = 0, high_ = 0, low_ = 0, close_ = 0;
  double volume_ = 0, real_volume_ = 0;
  int32_t spread_ = 0;
};

// Builds bars from trusted pieces (tick aggregation, roll-ups) without re-validating each
// update. Only market/ code uses it; Build() still validates once.
class BarBuilder {
 public:
  // Starts a bar at `time` with a first trade/quote at `price`.
  void Start(UnixNanos time, double price, double volume);
  void Add(double price, double volume);
  // Starts a coarser bar at `bucket` from its first finer bar (roll-up).
  void StartFrom(UnixNanos bucket, const Bar& finer);
  // Merges a complete finer bar (roll-up); the finer bar must be later than what was added.
  void Merge(const Bar& finer);
  [[nodiscard]] Result<Bar> Build() const;
  UnixNanos time() const { return b_.time_; }
  Bar& TEST_bar() { return b_; }

 private:
  friend class TickAggregator;
  Bar b_;
};

}  // namespace sinyal::market
