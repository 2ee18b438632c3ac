// Wiring of backtest/ for `serve`, `worker` and the CLI: the signal sources (the live signal path
// for paper accounts, walk-forward training for backtests), the backtest job handler, the paper
// accounts' live-bar thread and their webhook sender (libcurl), and `sinyal backtest`.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "app/config.h"
#include "backtest/paper.h"
#include "backtest/service.h"
#include "core/clock.h"
#include "market/bar.h"
#include "market/instrument.h"
#include "models/fwd.h"
#include "signals/fwd.h"
#include "store/fwd.h"

namespace CLI {
class App;
}  // namespace CLI

namespace sinyal::app {

// Backtests and paper trading of one process. Thread-safe.
class Trading {
 public:
  // `signals` may be null (the worker and the CLI have no live signal service: paper accounts
  // then get no signals). REQUIRES: every reference outlives this object.
  // `active_backtests_of`: the tenant's limit of queued + running backtests (its plan's,
  // billing::Entitlements::ActiveBacktests); unset: 2 for everyone.
  Trading(const Config& config, store::Database& db, store::BarStore& bars, store::JobQueue& jobs,
          models::ModelService& models, store::FeatureSetStore* feature_sets,
          signals::SignalService* signals, const Clock& clock,
          std::function<int(TenantId)> active_backtests_of = nullptr);
  ~Trading();  // Stop()s

  // The service of /api/v1/backtests and of the "backtest" jobs (walk-forward on the live signal
  // path: backtest/walk_forward_signals.h).
  backtest::BacktestService* backtests() { return backtests_.get(); }
  backtest::PaperService& paper() { return *paper_; }

  // Registers the backtest job kind. REQUIRES: before the worker starts.
  void RegisterJobs(store::JobWorker& worker);
  // The live bar hook: queues the bar for the paper thread (never blocks the caller).
  void OnBarClosed(const market::SeriesKey& key, const market::Bar& bar);
  // Starts the paper thread (live bars, then webhook delivery every second). Idempotent.
  void Start();
  // Processes what is queued, then stops the thread. Idempotent.
  void Stop();

 private:
  void Loop();

  const Clock& clock_;
  std::unique_ptr<backtest::SignalSourceFactory> factory_;  // walk-forward (backtests)
  std::unique_ptr<backtest::PaperSignalProvider> provider_;
  std::unique_ptr<backtest::WebhookTransport> transport_;
  std::unique_ptr<backtest::BacktestService> backtests_;
  std::unique_ptr<backtest::PaperService> paper_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<market::SeriesKey, market::Bar>> queue_;  // GUARDED_BY(mu_)
  bool stop_ = false;                                            // GUARDED_BY(mu_)
  std::thread thread_;
};

struct BacktestArgs {
  std::string strategy;                       // path of the strategy JSON
  std::string out_dir = "reports/backtests";  // report directory
  std::string name;                           // report basename (default: the file's stem)
  int64_t tenant_id = 0;                      // 0: the platform's series and model configuration
};

// Adds `sinyal backtest` to `app` (add_common: --database, --log-level, --data-dir).
CLI::App* AddBacktestCommand(CLI::App& app, BacktestArgs& args,
                             const std::function<void(CLI::App*)>& add_common);

// `sinyal backtest`: runs the strategy over the stored bars (the platform's, or a tenant's view
// with --tenant-id) with walk-forward training on the live signal path, prints a summary and
// writes the report (JSON, Markdown, SVG charts). Exit 0 ok, 1 failure, 2 bad input (the
// strategy's field-named error is printed).
int RunBacktestCommand(const Config& config, const BacktestArgs& args);

}  // namespace sinyal::app
