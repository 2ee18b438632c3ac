// Adapter from market/ bars to the models module's columnar input.
//
// Thread safety: pure function.
#pragma once

#include <span>
#include <string>

#include "core/status.h"
#include "market/bar.h"
#include "models/dataset.h"

namespace sinyal::models {

// Copies `bars` (ascending) into columns; the MT5 spread (points) becomes a price difference
// (points * `point`, e.g. 0.00001 for a 5-digit pair). InvalidArgument when point <= 0.
[[nodiscard]] Result<BarColumns> ToBarColumns(std::string symbol, std::string timeframe,
                                              std::span<const market::Bar> bars, double point);

// Median over bars of spread / close (0 when the source has no spreads): the "typical spread"
// a dead band should not be below.
double MedianRelativeSpread(const BarColumns& bars);

// The number of decimals of the quotes (e.g. 5 for EURUSD, at most 8): the smallest d for which
// every sampled open/high/low/close (about 500 bars, evenly spaced) is a whole number of 10^-d
// (within float noise). 10^-digits is the `point` of ToBarColumns (the MT5 spread column is in
// these points). One rule for training, serving and retraining, so all compute identical columns.
int InferDigits(std::span<const market::Bar> bars);

}  // namespace sinyal::models
