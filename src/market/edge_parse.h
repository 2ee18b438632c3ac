// The one parse of a series named in user text, at the HTTP and CLI edges. Inside, a series is a
// typed market::SeriesKey and a timeframe a market::Timeframe; nothing below the edge parses
// strings again.
//
// Thread safety: pure functions.
#pragma once

#include <string_view>

#include "core/status.h"
#include "market/instrument.h"

namespace sinyal::market {

// NormalizeSymbol (field "symbol"; "eurusd" -> "EURUSD") and ParseTimeframe (field "timeframe";
// "1h" -> kH1). Empty text: InvalidArgument "<field> is required".
[[nodiscard]] Result<SeriesKey> ParseSeriesKey(std::string_view symbol, std::string_view timeframe);

// The halves of ParseSeriesKey, for edges that take one without the other (e.g. list filters):
// the same rules and messages.
[[nodiscard]] Result<std::string> ParseSymbolText(std::string_view symbol);
[[nodiscard]] Result<Timeframe> ParseTimeframeText(std::string_view timeframe);

}  // namespace sinyal::market
