#include "market/timeframe.h"

#include <algorithm>
#include <cctype>
#include <string>

namespace sinyal::market {

std::string_view TimeframeName(Timeframe tf) {
  switch (tf) {
    case Timeframe::kM1:
      return "M1";
    case Timeframe::kM5:
      return "M5";
    case Timeframe::kM15:
      return "M15";
    case Timeframe::kM30:
      return "M30";
    case Timeframe::kH1:
      return "H1";
    case Timeframe::kH4:
      return "H4";
    case Timeframe::kD1:
      return "D1";
  }
  return "M1";
}

Result<Timeframe> ParseTimeframe(std::string_view text) {
  std::string s(text.substr(0, 32));
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  struct Alias {
    std::string_view name;
    Timeframe tf;
  };
  static constexpr Alias kAliases[] = {
      {"m1", Timeframe::kM1},    {"1m", Timeframe::kM1},      {"1min", Timeframe::kM1},
      {"m5", Timeframe::kM5},    {"5m", Timeframe::kM5},      {"5min", Timeframe::kM5},
      {"m15", Timeframe::kM15},  {"15m", Timeframe::kM15},    {"15min", Timeframe::kM15},
      {"m30", Timeframe::kM30},  {"30m", Timeframe::kM30},    {"30min", Timeframe::kM30},
      {"h1", Timeframe::kH1},    {"1h", Timeframe::kH1},      {"60m", Timeframe::kH1},
      {"60min", Timeframe::kH1}, {"h4", Timeframe::kH4},      {"4h", Timeframe::kH4},
      {"240m", Timeframe::kH4},  {"240min", Timeframe::kH4},  {"d1", Timeframe::kD1},
      {"1d", Timeframe::kD1},    {"d", Timeframe::kD1},       {"24h", Timeframe::kD1},
      {"1440m", Timeframe::kD1}, {"1440min", Timeframe::kD1}, {"daily", Timeframe::kD1},
  };
  for (const Alias& a : kAliases) {
    if (a.name == s) return a.tf;
  }
  return Status::InvalidArgument(
      "unknown timeframe '" + std::string(text.substr(0, 32)) +
          "' (use M1, M5, M15, M30, H1, H4, D1 or 1m, 5m, 15m, 30m, 1h, 4h, 1d)",
      "timeframe");
}

}  // namespace sinyal::market
