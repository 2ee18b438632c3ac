// Fuzzes the backtest / paper-account strategy document (backtest::ParseStrategy: the CLI's file
// and the API's body).
//
// Input: the strategy JSON. Properties: never crashes (no exception escapes); an error names a
// field; a parsed strategy round-trips: StrategyFromJson(ToJson()) succeeds and gives the same JSON.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "backtest/strategy.h"
#include "fuzz_check.h"

using namespace sinyal;
using namespace sinyal::backtest;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = ParseStrategy(text);
  if (!config.ok()) {
    FUZZ_CHECK(!config.error().field().empty(), "an error names a field");
    return 0;
  }
  const nlohmann::json once = config->ToJson();
  auto again = StrategyFromJson(once);
  FUZZ_CHECK(again.ok(), "a parsed strategy's JSON parses again");
  FUZZ_CHECK(again->ToJson() == once, "the strategy round-trips through its JSON");
  return 0;
}
