// SignalLog: where every issued signal is stored and later resolved, so live accuracy is
// measured, not assumed. The lead adds a database implementation behind the same interface
// (tables: signals keyed by (tenant, id) holding Signal::ToJson, and resolutions keyed by the
// same id); InMemorySignalLog serves tests, backtests and a single process.
//
// Live performance (rolling Brier score, hit rate, interval coverage of the last N resolved
// signals) is computed from the log and compared with the model's validation figures.
//
// Thread safety: implementations must be thread-safe; InMemorySignalLog uses one mutex.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/ids.h"
#include "core/status.h"
#include "market/instrument.h"
#include "signals/signal.h"

namespace sinyal::signals {

// The model_version string of signals (SignalFields::model_version): "platform/EURUSD/H1/v3" for
// the platform's models, "t7/EURUSD/H1/v3" for tenant 7's. Written by the signal service, read
// back by retraining's live-performance check.
std::string ModelVersionName(TenantId owner, const market::SeriesKey& series, int64_t version);

struct StoredSignal {
  TenantId tenant;
  Signal signal;
  std::optional<Resolution> resolution;
};

class SignalLog {
 public:
  virtual ~SignalLog() = default;
  // Stores a new signal. AlreadyExists (field "id") when the tenant already has this id (the
  // id is deterministic, so a replayed request is detected; the stored one is kept).
  [[nodiscard]] virtual Status Append(TenantId tenant, const Signal& signal) = 0;
  // NotFound (field "id") when the tenant has no such signal.
  [[nodiscard]] virtual Result<StoredSignal> Get(TenantId tenant, const std::string& id) const = 0;
  // Unresolved signals of (symbol, timeframe), oldest bar first. Empty is not an error.
  [[nodiscard]] virtual Result<std::vector<Signal>> Unresolved(
      TenantId tenant, const market::SeriesKey& series) const = 0;
  // Attaches the resolution once. NotFound as Get; FailedPrecondition when already resolved.
  [[nodiscard]] virtual Status Resolve(TenantId tenant, const std::string& id,
                                       const Resolution& resolution) = 0;
  // The newest `limit` resolved signals of (symbol, timeframe) made by `model_version` (empty =
  // any), newest bar first.
  [[nodiscard]] virtual Result<std::vector<StoredSignal>> RecentResolved(
      TenantId tenant, const market::SeriesKey& series, const std::string& model_version,
      size_t limit) const = 0;
};

class InMemorySignalLog final : public SignalLog {
 public:
  Status Append(TenantId tenant, const Signal& signal) override;
  Result<StoredSignal> Get(TenantId tenant, const std::string& id) const override;
  Result<std::vector<Signal>> Unresolved(TenantId tenant,
                                         const market::SeriesKey& series) const override;
  Status Resolve(TenantId tenant, const std::string& id, const Resolution& resolution) override;
  Result<std::vector<StoredSignal>> RecentResolved(TenantId tenant, const market::SeriesKey& series,
                                                   const std::string& model_version,
                                                   size_t limit) const override;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<int64_t, std::string>, StoredSignal> rows_;  // GUARDED_BY(mu_)
};

// Resolves every unresolved signal of (symbol, timeframe) that `bars` (ascending, covering the
// bars after the signals) can resolve. Returns how many were resolved; signals whose horizon
// has not passed stay unresolved.
[[nodiscard]] Result<size_t> ResolvePending(SignalLog& log, TenantId tenant,
                                            const market::SeriesKey& series,
                                            std::span<const market::Bar> bars);

struct LivePerformance {
  size_t n = 0;      // resolved signals used
  double brier = 0;  // mean (p_up - up)^2 over all of them (abstentions included)
  double log_loss = 0;
  size_t directional = 0;  // non-neutral ones
  size_t hits = 0;
  double hit_rate = 0;  // hits / directional (NaN when 0)
  models::Interval hit_rate_ci;
  std::vector<std::pair<double, double>> coverage;  // (nominal, empirical)
};
LivePerformance ComputeLivePerformance(std::span<const StoredSignal> resolved);

}  // namespace sinyal::signals
