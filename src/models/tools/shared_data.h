// What the command-line study tools (models/tools, models/sequence, signals/tools) share: their
// "--name value" options and the conventions of the shared market data set
// (shared/data/market/README.md), written once.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "market/bar.h"
#include "models/config.h"
#include "models/market_adapter.h"

namespace sinyal::models::tools {

// "--name value" pairs over `defaults`: every name must be one of its keys. An unknown name or a
// missing value is InvalidArgument naming the option. `command`, when given, receives the options
// as typed (for a report's "reproduce" line).
[[nodiscard]] Result<std::map<std::string, std::string>> ParseOptions(
    int argc, char** argv, std::map<std::string, std::string> defaults,
    std::string* command = nullptr);

// ParseOptions over the options every study takes, "data-dir" and "symbol" (both required),
// "horizon" (1) and "tz" (empty: the symbol's own), and `extra`.
[[nodiscard]] Result<std::map<std::string, std::string>> ParseStudyOptions(
    int argc, char** argv, std::map<std::string, std::string> extra,
    std::string* command = nullptr);

// Prints "<tool>: <message>" on stderr and returns 2, the tools' exit status for bad input.
int Fail(const char* tool, const std::string& message);

// The shared set's exports: USDJPY and XAUUSD in EET server time, the others in NY+7 (MetaTrader
// New York + 7 h); prices with 3 digits for JPY pairs, 2 for gold, else 5.
[[nodiscard]] std::string SharedDataTimeZone(const std::string& symbol);
[[nodiscard]] int SharedDataDigits(const std::string& symbol);
[[nodiscard]] double SharedDataPoint(const std::string& symbol);  // 10^-digits

// <data_dir>/<SYMBOL>_H1.csv imported as H1 bars in its time zone (`tz` instead when not empty),
// keeping only the newest `last_bars` when that is above 0.
[[nodiscard]] Result<std::vector<market::Bar>> LoadSharedH1(const std::string& data_dir,
                                                            const std::string& symbol,
                                                            const std::string& tz = "",
                                                            size_t last_bars = 0);

// A study's series as its options name it: LoadSharedH1 of "data-dir", "symbol", "tz" (and
// "last-bars" when the tool has it), the bars' columns (point 10^-"digits" when the tool has that
// option and it is set, else the set's own), and the training configuration every study starts
// from: DefaultTrainConfig at "horizon", dead band max(median relative spread, 1e-5), members'
// trees from "trees" when the tool has it and it is set.
struct StudySeries {
  std::string symbol;
  std::vector<market::Bar> bars;
  BarColumns columns;
  TrainConfig config;
};
[[nodiscard]] Result<StudySeries> LoadStudySeries(const std::map<std::string, std::string>& opt);

}  // namespace sinyal::models::tools
