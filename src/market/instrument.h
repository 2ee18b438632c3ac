// Instrument: a validated symbol with its price precision.
//
// Symbols are 3..12 characters of A-Z and 0-9 ("EURUSD", "XAUUSD", "US500", "DXY"); nothing
// else is accepted, so a symbol is always safe to put in a file name, a URL path or a log line.
// `digits` is the number of decimals of a quote (5 for EURUSD, 3 for USDJPY, 2 for XAUUSD) and
// `point` = 10^-digits is the instrument's price quantum (the unit of an MT5 spread).
//
// Thread safety: values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "market/timeframe.h"

namespace sinyal::market {

// OK when `symbol` is 3..12 chars of [A-Z0-9]; InvalidArgument (field "symbol") otherwise,
// saying which character or which length is wrong. Lower case is rejected, not folded: callers
// that accept user text upper-case it themselves (NormalizeSymbol).
[[nodiscard]] Status ValidateSymbol(std::string_view symbol);
// Upper-cases ASCII letters and validates. "eurusd" -> "EURUSD".
[[nodiscard]] Result<std::string> NormalizeSymbol(std::string_view text);

class Instrument {
 public:
  // REQUIRES nothing; returns InvalidArgument for a bad symbol or digits outside 0..10.
  [[nodiscard]] static Result<Instrument> Create(std::string_view symbol, int digits);

  const std::string& symbol() const { return symbol_; }
  int digits() const { return digits_; }
  // 10^-digits, e.g. 0.00001 for 5 digits.
  double point() const { return point_; }
  // The price as a whole number of points (rounded to nearest): exact fixed-point view of a
  // quote, e.g. 1.12345 -> 112345 for 5 digits. For money and spread arithmetic.
  int64_t ToPoints(double price) const;
  double FromPoints(int64_t points) const;

  friend bool operator==(const Instrument& a, const Instrument& b) {
    return a.symbol_ == b.symbol_ && a.digits_ == b.digits_;
  }

 private:
  Instrument(std::string symbol, int digits);
  std::string symbol_;
  int digits_ = 0;
  double point_ = 1.0;
};

// The identity of a bar series: symbol x timeframe. Cheap to copy; usable as a map key.
struct SeriesKey {
  std::string symbol;
  Timeframe timeframe = Timeframe::kH1;

  // "EURUSD:H1".
  std::string ToString() const;
  friend bool operator==(const SeriesKey&, const SeriesKey&) = default;
  friend auto operator<=>(const SeriesKey&, const SeriesKey&) = default;
};

struct SeriesKeyHash {
  size_t operator()(const SeriesKey& k) const;
};

}  // namespace sinyal::market
