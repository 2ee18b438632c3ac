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

}  // namespace sinyal::models
