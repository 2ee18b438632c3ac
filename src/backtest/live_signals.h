// Paper accounts' signals: the live signal service's (signals::SignalService), and the one mapping
// from a signals::Signal to what the strategy reads (backtests use it too: signal_sources.h).
//
// Thread safety: ToBarSignal is pure; LiveSignalProvider is thread-safe (SignalService is).
#pragma once

#include <optional>

#include "backtest/paper.h"
#include "backtest/strategy.h"
#include "signals/fwd.h"
#include "signals/signal.h"

namespace sinyal::backtest {

// direction, calibrated confidence and p_up of the signal, its id and model version.
BarSignal ToBarSignal(const signals::Signal& signal);

class LiveSignalProvider : public PaperSignalProvider {
 public:
  // REQUIRES: signals outlives the provider.
  explicit LiveSignalProvider(signals::SignalService& signals) : signals_(signals) {}
  // The live signal of the tenant's model (else the platform's) at exactly `bar`; nullopt when
  // there is none (no model, the bar is not the signal's, or the signal could not be made: the
  // account still fills and marks on that bar).
  Result<std::optional<BarSignal>> SignalAt(TenantId tenant, const StrategyConfig& config,
                                            const market::SeriesKey& key, const market::Bar& bar,
                                            UnixNanos close) override;

 private:
  signals::SignalService& signals_;
};

}  // namespace sinyal::backtest
