// Test data for backtest/: hourly bars of a geometric random walk, rounded to the instrument's
// digits, deterministic for a seed.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "core/clock.h"
#include "market/bar.h"

namespace sinyal::backtest::testing {

struct WalkOptions {
  UnixNanos start_time = 0;  // the first bar's open time; bars are an hour apart
  double start_price = 1.1;
  int digits = 5;           // prices rounded to 10^-digits
  double sigma = 0.001;     // standard deviation of the hourly log return
  double wick_points = 20;  // high/low this many points beyond the open/close
  double volume = 0;
  int32_t spread = 0;
};

// n bars: open = the previous close (rounded), close = open x exp(N(0, sigma)) (rounded).
inline std::vector<market::Bar> RandomWalk(int n, uint64_t seed, const WalkOptions& o) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> step(0, o.sigma);
  const double scale = std::pow(10.0, o.digits);
  const double wick = o.wick_points / scale;
  std::vector<market::Bar> bars;
  bars.reserve(static_cast<size_t>(std::max(n, 0)));
  double price = o.start_price;
  for (int i = 0; i < n; ++i) {
    const double open = std::round(price * scale) / scale;
    const double close = std::round(open * std::exp(step(rng)) * scale) / scale;
    bars.push_back(*market::Bar::Create(o.start_time + i * kNanosPerHour, open,
                                        std::max(open, close) + wick, std::min(open, close) - wick,
                                        close, o.volume, o.spread));
    price = close;
  }
  return bars;
}

}  // namespace sinyal::backtest::testing
