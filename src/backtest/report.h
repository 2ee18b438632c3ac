// Backtest report: JSON (backtest.h ToJson), Markdown, and three SVG charts drawn by hand: the
// equity curves of the strategy and its baselines, the strategy's drawdown (bar-by-bar marked
// equity), and the distribution of the random-entry baseline's returns with the strategy's,
// buy-and-hold's and the reverse rule's returns marked on it.
//
// Thread safety: pure functions; WriteBacktestReport writes only under `dir`.
#pragma once

#include <filesystem>
#include <string>

#include "backtest/backtest.h"
#include "core/status.h"

namespace sinyal::backtest {

struct BacktestReport {
  std::string json;
  std::string markdown;  // refers to the SVGs by the names below
  std::string equity_svg, drawdown_svg, random_svg;
  std::string equity_svg_name, drawdown_svg_name, random_svg_name;
};

// `command` (may be empty) is printed as the command that reproduces the report.
BacktestReport RenderBacktestReport(const BacktestResult& result, const std::string& basename,
                                    const std::string& command);

// Writes <basename>.json, <basename>.md and the SVGs into `dir` (created if missing).
[[nodiscard]] Status WriteBacktestReport(const BacktestReport& report,
                                         const std::filesystem::path& dir,
                                         const std::string& basename);

std::string EquitySvg(const BacktestResult& result, const std::string& title);
std::string DrawdownSvg(const BacktestResult& result, const std::string& title);
std::string RandomBaselineSvg(const BacktestResult& result, const std::string& title);

}  // namespace sinyal::backtest
