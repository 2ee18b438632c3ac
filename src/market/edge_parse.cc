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
  if (symbol.empty()) return Status::InvalidArgument("symbol is required", "symbol");
  if (timeframe.empty()) return Status::InvalidArgument("timeframe is required", "timeframe");
  SINYAL_ASSIGN_OR_RETURN(std::string s, NormalizeSymbol(symbol));
  auto tf = ParseTimeframe(timeframe);
  if (!tf.ok()) return tf.error().WithField("timeframe");
  return SeriesKey{std::move(s), *tf};
}

}  // namespace sinyal::market
