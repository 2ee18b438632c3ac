#include "backtest/live_signals.h"

#include <string>

#include "core/log.h"
#include "core/time.h"
#include "signals/service.h"

namespace sinyal::backtest {

BarSignal ToBarSignal(const signals::Signal& s) {
  BarSignal b;
  b.direction = static_cast<int>(s.direction());
  b.confidence = s.confidence();
  b.p_up = s.p_up();
  b.id = s.id();
  b.model_version = s.fields().model_version;
  return b;
}

Result<std::optional<BarSignal>> LiveSignalProvider::SignalAt(TenantId tenant,
                                                              const StrategyConfig& config,
                                                              const market::SeriesKey& key,
                                                              const market::Bar& bar,
                                                              UnixNanos close) {
  // The bar reached the signal service first (app/ wires it ahead of paper accounts): wait
  // until it has processed it, so Latest() sees this bar.
  signals_.Drain();
  // The live model line of the strategy's horizon (model.horizon): the model that predicts it.
  auto s = signals_.Latest(tenant, key, config.model.horizon, close);
  if (!s.ok()) {
    LogEvent(spdlog::level::warn, "paper_no_signal",
             {{"tenant", tenant.value()},
              {"series", key.ToString()},
              {"bar", FormatIso8601(bar.time())},
              {"reason", s.error().ToString()}});
    return std::optional<BarSignal>();
  }
  if ((*s)->bar_time() != bar.time()) {
    LogEvent(spdlog::level::warn, "paper_no_signal",
             {{"tenant", tenant.value()},
              {"series", key.ToString()},
              {"bar", FormatIso8601(bar.time())},
              {"reason", "the latest signal is of bar " + FormatIso8601((*s)->bar_time())}});
    return std::optional<BarSignal>();
  }
  return std::optional<BarSignal>(ToBarSignal(**s));
}

}  // namespace sinyal::backtest
