// Forward declarations of backtest's services, for headers that only name them.
#pragma once

namespace sinyal::backtest {
class BacktestService;
class PaperService;
}  // namespace sinyal::backtest
