#include "models/tools/shared_data.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "core/time.h"
#include "market/csv_import.h"

namespace sinyal::models::tools {

Result<std::map<std::string, std::string>> ParseOptions(int argc, char** argv,
                                                        std::map<std::string, std::string> defaults,
                                                        std::string* command) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--", 0) != 0 || !defaults.count(a.substr(2)) || i + 1 >= argc) {
      return Status::InvalidArgument("unknown or incomplete option '" + a + "'", a);
    }
    defaults[a.substr(2)] = argv[++i];
    if (command) *command += " " + a + " " + defaults[a.substr(2)];
  }
  return defaults;
}

Result<std::map<std::string, std::string>> ParseStudyOptions(
    int argc, char** argv, std::map<std::string, std::string> extra, std::string* command) {
  extra.insert({{"data-dir", ""}, {"symbol", ""}, {"horizon", "1"}, {"tz", ""}});
  SINYAL_ASSIGN_OR_RETURN(auto opt, ParseOptions(argc, argv, std::move(extra), command));
  if (opt["data-dir"].empty() || opt["symbol"].empty()) {
    return Status::InvalidArgument("--data-dir and --symbol are required", "--symbol");
  }
  return opt;
}

int Fail(const char* tool, const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", tool, message.c_str());
  return 2;
}

std::string SharedDataTimeZone(const std::string& symbol) {
  return (symbol == "USDJPY" || symbol == "XAUUSD") ? "EET" : "NY+7";
}

int SharedDataDigits(const std::string& symbol) {
  if (symbol.find("JPY") != std::string::npos) return 3;
  if (symbol == "XAUUSD") return 2;
  return 5;
}

double SharedDataPoint(const std::string& symbol) {
  return std::pow(10.0, -SharedDataDigits(symbol));
}

Result<std::vector<market::Bar>> LoadSharedH1(const std::string& data_dir,
                                              const std::string& symbol, const std::string& tz,
                                              size_t last_bars) {
  market::CsvImportOptions io;
  io.timeframe = market::Timeframe::kH1;
  SINYAL_ASSIGN_OR_RETURN(io.source_tz,
                          TimeZone::Parse(tz.empty() ? SharedDataTimeZone(symbol) : tz));
  SINYAL_ASSIGN_OR_RETURN(
      auto imported,
      market::ImportBarsCsvFile(std::filesystem::path(data_dir) / (symbol + "_H1.csv"), io));
  std::vector<market::Bar> bars = std::move(imported.bars);
  if (last_bars > 0 && bars.size() > last_bars) {
    bars.erase(bars.begin(), bars.end() - static_cast<std::ptrdiff_t>(last_bars));
  }
  return bars;
}

Result<StudySeries> LoadStudySeries(const std::map<std::string, std::string>& opt) {
  auto option = [&opt](const char* name) {
    auto it = opt.find(name);
    return it == opt.end() ? std::string() : it->second;
  };
  StudySeries s;
  s.symbol = option("symbol");
  SINYAL_ASSIGN_OR_RETURN(s.bars,
                          LoadSharedH1(option("data-dir"), s.symbol, option("tz"),
                                       std::strtoull(option("last-bars").c_str(), nullptr, 10)));
  const std::string digits = option("digits");
  const double point =
      digits.empty() ? SharedDataPoint(s.symbol) : std::pow(10.0, -std::atoi(digits.c_str()));
  SINYAL_ASSIGN_OR_RETURN(s.columns, ToBarColumns(s.symbol, "H1", s.bars, point));
  s.config = DefaultTrainConfig(s.symbol, "H1");
  s.config.horizon = std::atoi(option("horizon").c_str());
  s.config.dead_band = std::max(MedianRelativeSpread(s.columns), 1e-5);
  if (const std::string trees = option("trees"); !trees.empty()) {
    for (auto& m : s.config.members) m.trees = std::atoi(trees.c_str());
  }
  return s;
}

}  // namespace sinyal::models::tools
