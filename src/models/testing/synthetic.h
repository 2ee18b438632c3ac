// Seeded synthetic bars for models/ tests and benchmarks (xgboost RandomDataGenerator style).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "core/clock.h"
#include "market/bar.h"
#include "models/basic_features.h"
#include "models/dataset.h"
#include "models/ensemble.h"

namespace sinyal::models::testing {

// Hourly bars whose log returns follow r_t = phi * r_{t-1} + noise (phi < 0: mean reversion,
// a signal the "basic" features can learn; phi = 0: a pure random walk with no signal).
inline BarColumns SyntheticBars(size_t n, uint64_t seed, double phi = -0.3, double vol = 0.001) {
  BarColumns b;
  b.symbol = "SYN";
  b.timeframe = "H1";
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, vol);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  double price = 1.1, prev_r = 0;
  const UnixNanos start = 1'577'836'800LL * kNanosPerSecond;  // 2020-01-01T00:00Z
  for (size_t i = 0; i < n; ++i) {
    const double r = phi * prev_r + noise(rng);
    const double open = price;
    const double close = price * std::exp(r);
    const double wig = std::fabs(noise(rng)) * 0.5;
    b.ts.push_back(start + static_cast<int64_t>(i) * kNanosPerHour);
    b.open.push_back(open);
    b.close.push_back(close);
    b.high.push_back(std::max(open, close) * (1 + wig));
    b.low.push_back(std::min(open, close) * (1 - wig));
    b.volume.push_back(100 + 1000 * u(rng));
    b.spread.push_back(0.00008);
    price = close;
    prev_r = r;
  }
  return b;
}

// Columns as market::Bar values, unrounded (digits unset).
inline std::vector<market::Bar> ToMarketBars(const BarColumns& c) {
  std::vector<market::Bar> bars;
  bars.reserve(c.size());
  for (size_t i = 0; i < c.size(); ++i) {
    bars.push_back(
        market::Bar::Create(c.ts[i], c.open[i], c.high[i], c.low[i], c.close[i], c.volume[i])
            .value());
  }
  return bars;
}

// SyntheticBars as market::Bar values, prices rounded to 5 decimals (digits 8) with high/low
// widened to cover the rounded open and close, as a broker's feed would store them.
inline std::vector<market::Bar> SyntheticMarketBars(size_t n, uint64_t seed, double phi = -0.3) {
  const BarColumns c = SyntheticBars(n, seed, phi);
  std::vector<market::Bar> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    auto r = [](double x) { return std::round(x * 1e5) / 1e5; };
    const double o = r(c.open[i]), cl = r(c.close[i]);
    const double h = std::max({r(c.high[i]), o, cl}), l = std::min({r(c.low[i]), o, cl});
    out.push_back(market::Bar::Create(c.ts[i], o, h, l, cl, c.volume[i], 8).value());
  }
  return out;
}

// A small trained ensemble (4 members, 30 trees each) on synthetic bars, with its dataset and
// the row indices it did not see (test rows).
struct SmallModel {
  Dataset ds;
  std::vector<size_t> test;
  Result<Ensemble> ensemble = Status::Internal("not trained");
};

inline SmallModel TrainSmallModel(uint64_t seed, size_t bars = 6000, int horizon = 1) {
  SmallModel m;
  BarColumns b = SyntheticBars(bars, seed);
  auto fr = ComputeBasicFeatures(b);
  LabelConfig lc;
  lc.dead_band = 0;
  lc.horizon = horizon;
  m.ds = BuildDataset(b, fr.value(), lc).value();
  TrainConfig cfg = DefaultTrainConfig("SYN");
  for (auto& mp : cfg.members) mp.trees = 30;
  cfg.min_train_rows = 500;
  cfg.nthread = 1;
  std::vector<size_t> fit, calib;
  const size_t n = m.ds.size();
  for (size_t i = 0; i < n; ++i) (i < n / 2 ? fit : i < 3 * n / 4 ? calib : m.test).push_back(i);
  m.ensemble = Ensemble::Train(m.ds, fit, calib, cfg);
  return m;
}

}  // namespace sinyal::models::testing
