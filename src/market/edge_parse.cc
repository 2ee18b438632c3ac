#include "market/edge_parse.h"

#include <string>
#include <utility>

#include "market/timeframe.h"

namespace sinyal::market {

Result<std::string> ParseSymbolText(std::string_view symbol) {
  if (symbol.empty()) return Status::InvalidArgument("symbol is required", "symbol");
  return NormalizeSymbol(symbol);
}

Result<Timeframe> ParseTimeframeText(std::string_view timeframe) {
  if (timeframe.empty()) return Status::InvalidArgument("timeframe is required", "timeframe");
  auto tf = ParseTimeframe(timeframe);
  if (!tf.ok()) return tf.error().WithField("timeframe");
  return *tf;
}

Result<SeriesKey> ParseSeriesKey(std::string_view symbol, std::string_view timeframe) {
  // The missing field first (symbol, then timeframe), then what is wrong with the text.
  if (!symbol.empty() && timeframe.empty()) return ParseTimeframeText(timeframe).status();
  SINYAL_ASSIGN_OR_RETURN(std::string s, ParseSymbolText(symbol));
  SINYAL_ASSIGN_OR_RETURN(Timeframe tf, ParseTimeframeText(timeframe));
  return SeriesKey{std::move(s), tf};
}

}  // namespace sinyal::market
