// BacktestService: backtests as a product. A tenant submits a strategy (JSON); it is validated
// at once (field-named errors), stored (table backtests, migration 40) and queued as a job
// (store/job_queue.h, kind "backtest"); a worker runs it (RunJob) through RunBacktest with the
// signal source the factory makes (the live signal path, walk-forward); the result (metrics,
// baselines, trades, curves) is stored with the row. Progress is the job's; cancel sets a flag the
// running job reads between bars (a queued backtest is cancelled at once).
//
// Limits: at most `max_active` queued or running backtests per tenant (RateLimited beyond, with
// the limit in the message); the strategy at most kMaxStrategyBytes; the plan's gate and the
// per-plan `max_active` come from the caller (app/ wires the plan).
//
// Tenancy: every read and write runs in the tenant's scope; another tenant's backtest id is
// NotFound. The worker claims jobs in system scope and then works in the job's tenant scope.
//
// Thread safety: thread-safe (state lives in the database).
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backtest/backtest.h"
#include "backtest/engine.h"
#include "backtest/strategy.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/status.h"
#include "store/fwd.h"
#include "store/job_queue.h"

namespace sinyal::backtest {

inline constexpr const char* kBacktestJobKind = "backtest";

// Makes the signal source of a backtest: the live signal path for the owner's model
// configuration (walk-forward retraining on earlier bars only). app/ wires the implementation.
class SignalSourceFactory {
 public:
  using Progress = std::function<void(double, std::string_view)>;
  virtual ~SignalSourceFactory() = default;
  // Cheap checks at submission (the model configuration against the owner's plan): errors name
  // the field ("model.config.trees").
  [[nodiscard]] virtual Status Validate(TenantId owner, const StrategyConfig& config) = 0;
  // The source for one run over `series` (the strategy's symbols, every stored bar up to the end
  // of the period: earlier bars are training data). The source may keep references to `series`.
  [[nodiscard]] virtual Result<std::unique_ptr<SignalSource>> Create(
      TenantId owner, const StrategyConfig& config, const std::vector<SeriesInput>& series,
      const Progress& progress) = 0;
};

struct BacktestRecord {
  int64_t id = 0;
  TenantId tenant;
  std::optional<UserId> user;
  int64_t job_id = 0;
  std::string status;  // "queued", "running", "succeeded", "failed", "cancelled"
  nlohmann::json strategy;
  double progress = 0;
  std::string stage;
  bool cancel_requested = false;
  nlohmann::json result;  // null until succeeded (and when not asked for)
  nlohmann::json error;   // {"code","message","field"} when failed
  UnixNanos created_at = 0, finished_at = 0;
  // The API's JSON: id, status, progress, stage, strategy, timestamps, error, result (if kept).
  nlohmann::json ToJson() const;
};

struct BacktestServiceOptions {
  int max_active = 2;  // queued + running per tenant. Default 2. >= 1.
  // Per-tenant override of max_active (the plan's limit); may be empty.
  std::function<int(TenantId)> max_active_of;
  size_t max_bars_per_symbol = 200000;  // newest stored bars read per symbol. Default 200,000.
  bool baselines = true;
};

class BacktestService {
 public:
  // REQUIRES: every reference outlives the service.
  BacktestService(store::Database& db, store::BarStore& bars, store::JobQueue& jobs,
                  SignalSourceFactory& signals, const Clock& clock,
                  BacktestServiceOptions options = {});

  // Validates and queues. Errors: PayloadTooLarge / InvalidArgument from ParseStrategy;
  // InvalidArgument "symbols[i]" for a symbol without bars of the timeframe visible to the
  // tenant, "period" when the period holds none of them; the factory's Validate errors;
  // RateLimited when max_active backtests are already queued or running.
  [[nodiscard]] Result<BacktestRecord> Submit(TenantId tenant, std::optional<UserId> user,
                                              std::string_view strategy_json);

  // One backtest (with its result when `with_result`); NotFound("id") for another tenant's.
  [[nodiscard]] Result<BacktestRecord> Get(TenantId tenant, int64_t id, bool with_result);
  // A part of a succeeded backtest's report, rendered when it finished (report.h): "markdown"
  // (refers to the charts as backtest-<id>_equity.svg etc.), "equity.svg", "drawdown.svg", "random.svg".
  // InvalidArgument("format") for another part; NotFound("id") for another tenant's;
  // FailedPrecondition("status") before it has succeeded.
  [[nodiscard]] Result<std::string> Report(TenantId tenant, int64_t id, std::string_view part);
  // The newest `limit` (1..100) backtests of the tenant, without results.
  [[nodiscard]] Result<std::vector<BacktestRecord>> List(TenantId tenant, size_t limit);
  // Cancels a queued or running backtest. FailedPrecondition("status") once finished.
  [[nodiscard]] Result<BacktestRecord> Cancel(TenantId tenant, int64_t id);

  // The worker's handler for kBacktestJobKind.
  [[nodiscard]] Result<std::string> RunJob(const store::Job& job,
                                           const store::JobWorker::ProgressFn& progress);

  // Loads the owner's bars for the strategy (platform owner: platform series) and runs it now
  // (CLI). Validation errors as Submit.
  [[nodiscard]] Result<BacktestResult> RunNow(TenantId owner, const StrategyConfig& config,
                                              const RunControl& control = {});

  // The strategy's series as the owner sees them (all stored bars up to the period's end, at
  // most max_bars_per_symbol). InvalidArgument "symbols[i]" when a symbol has no such bars.
  [[nodiscard]] Result<std::vector<SeriesInput>> LoadSeries(TenantId owner,
                                                            const StrategyConfig& config);

 private:
  Status CheckPeriod(const StrategyConfig& config, const std::vector<SeriesInput>& series);
  Status Finish(TenantId tenant, int64_t id, const std::string& status, const std::string& result,
                const std::string& error);

  store::Database& db_;
  store::BarStore& bars_;
  store::JobQueue& jobs_;
  SignalSourceFactory& signals_;
  const Clock& clock_;
  BacktestServiceOptions options_;
};

}  // namespace sinyal::backtest
