#include "models/market_adapter.h"

#include <algorithm>
#include <cmath>

namespace sinyal::models {

Result<BarColumns> ToBarColumns(std::string symbol, std::string timeframe,
                                std::span<const market::Bar> bars, double point) {
  if (!(point > 0)) return Status::InvalidArgument("point must be > 0", "point");
  BarColumns c;
  c.symbol = std::move(symbol);
  c.timeframe = std::move(timeframe);
  const size_t n = bars.size();
  c.ts.reserve(n);
  for (auto* v : {&c.open, &c.high, &c.low, &c.close, &c.volume, &c.spread}) v->reserve(n);
  for (const market::Bar& b : bars) {
    c.ts.push_back(b.time());
    c.open.push_back(b.open());
    c.high.push_back(b.high());
    c.low.push_back(b.low());
    c.close.push_back(b.close());
    c.volume.push_back(b.volume());
    c.spread.push_back(b.spread() * point);
  }
  SINYAL_RETURN_IF_ERROR(c.Validate());
  return c;
}

double MedianRelativeSpread(const BarColumns& bars) {
  if (bars.spread.empty()) return 0;
  std::vector<double> rel;
  rel.reserve(bars.size());
  for (size_t i = 0; i < bars.size(); ++i) rel.push_back(bars.spread[i] / bars.close[i]);
  auto mid = rel.begin() + static_cast<std::ptrdiff_t>(rel.size() / 2);
  std::nth_element(rel.begin(), mid, rel.end());
  return *mid;
}

int InferDigits(std::span<const market::Bar> bars) {
  int digits = 0;
  const size_t step = std::max<size_t>(1, bars.size() / 500);
  for (size_t i = 0; i < bars.size(); i += step) {
    for (const double p : {bars[i].open(), bars[i].high(), bars[i].low(), bars[i].close()}) {
      int d = digits;
      for (; d < 8; ++d) {
        const double scaled = p * std::pow(10.0, d);
        if (std::fabs(scaled - std::round(scaled)) < 1e-6 * std::max(1.0, std::fabs(scaled)) + 1e-9)
          break;
      }
      digits = std::max(digits, d);
    }
  }
  return digits;
}

}  // namespace sinyal::models
