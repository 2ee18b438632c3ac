#include "app/trading.h"

#include <curl/curl.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "app/models_cli.h"
#include "backtest/live_signals.h"
#include "backtest/report.h"
#include "backtest/walk_forward_signals.h"
#include "billing/entitlements.h"
#include "billing/plans.h"
#include "core/log.h"
#include "core/time.h"
#include "models/db_registry.h"
#include "models/service.h"
#include "store/bar_store.h"
#include "store/database.h"
#include "store/feature_set_store.h"
#include "store/job_queue.h"

namespace sinyal::app {
namespace {

size_t Discard(char*, size_t size, size_t n, void*) { return size * n; }

// POSTs webhooks with libcurl: 5 s to connect, 10 s in all, no redirects, TLS verified.
class CurlTransport : public backtest::WebhookTransport {
 public:
  Result<int> Post(const std::string& url,
                   const std::vector<std::pair<std::string, std::string>>& headers,
                   const std::string& body) override {
    CURL* curl = curl_easy_init();
    if (!curl) return Status::Unavailable("curl_easy_init failed");
    curl_slist* list = nullptr;
    for (const auto& [k, v] : headers) list = curl_slist_append(list, (k + ": " + v).c_str());
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Discard);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    const CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    if (rc == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK)
      return Status::Unavailable(std::string("no response: ") + curl_easy_strerror(rc));
    return static_cast<int>(status);
  }
};

// No live signal service (worker, CLI): paper accounts get no signals there.
class NoSignals : public backtest::PaperSignalProvider {
 public:
  Result<std::optional<backtest::BarSignal>> SignalAt(TenantId, const backtest::StrategyConfig&,
                                                      const market::SeriesKey&, const market::Bar&,
                                                      UnixNanos) override {
    return std::optional<backtest::BarSignal>();
  }
};

}  // namespace

Trading::Trading(const Config& config, store::Database& db, store::BarStore& bars,
                 store::JobQueue& jobs, models::ModelService& models,
                 store::FeatureSetStore* feature_sets, signals::SignalService* signals,
                 const Clock& clock, std::function<int(TenantId)> active_backtests_of)
    : clock_(clock) {
  (void)feature_sets;  // the model service resolves tenants' feature sets
  factory_ = std::make_unique<backtest::WalkForwardSignalFactory>(
      models, clock, backtest::WalkForwardOptions{.code_version = "backtest"});
  // Queued + running backtests per tenant: the plan's limit when given, else 2.
  backtest::BacktestServiceOptions backtest_options;
  backtest_options.max_active_of = std::move(active_backtests_of);
  backtests_ = std::make_unique<backtest::BacktestService>(db, bars, jobs, *factory_, clock,
                                                           backtest_options);
  if (signals != nullptr) {
    provider_ = std::make_unique<backtest::LiveSignalProvider>(*signals);
  } else {
    provider_ = std::make_unique<NoSignals>();
  }
  transport_ = std::make_unique<CurlTransport>();
  paper_ = std::make_unique<backtest::PaperService>(
      db, bars, *provider_, clock,
      backtest::PaperOptions{.allow_private_webhooks = config.trading.allow_private_webhooks});
}

void Trading::RegisterJobs(store::JobWorker& worker) {
  if (!backtests_) return;
  worker.Register(backtest::kBacktestJobKind,
                  [this](const store::Job& job, const store::JobWorker::ProgressFn& progress) {
                    return backtests_->RunJob(job, progress);
                  });
}

void Trading::OnBarClosed(const market::SeriesKey& key, const market::Bar& bar) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() > 100000) queue_.pop_front();  // never grow without bound
    queue_.emplace_back(key, bar);
  }
  cv_.notify_one();
}

void Trading::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void Trading::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Trading::~Trading() { Stop(); }

void Trading::Loop() {
  auto last_delivery = std::chrono::steady_clock::now() - std::chrono::seconds(10);
  for (;;) {
    std::pair<market::SeriesKey, market::Bar> item{{}, *market::Bar::Create(0, 1, 1, 1, 1)};
    bool have = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_ || !queue_.empty(); });
      if (!queue_.empty()) {
        item = std::move(queue_.front());
        queue_.pop_front();
        have = true;
      } else if (stop_) {
        return;
      }
    }
    if (have) {
      auto n = paper_->OnBarClosed(item.first, item.second);
      if (!n.ok()) {
        LogEvent(spdlog::level::warn, "paper_bars_failed",
                 {{"series", item.first.ToString()}, {"error", n.error().ToString()}});
      }
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - last_delivery >= std::chrono::seconds(1)) {
      last_delivery = now;
      auto delivered = paper_->DeliverWebhooks(*transport_);
      if (!delivered.ok()) {
        LogEvent(spdlog::level::warn, "paper_webhooks_failed",
                 {{"error", delivered.error().ToString()}});
      }
    }
  }
}

namespace {

int Fail(const Status& s) {
  std::fprintf(stderr, "sinyal: %s\n", s.ToString().c_str());
  const StatusCode c = s.code();
  return c == StatusCode::kInvalidArgument || c == StatusCode::kPayloadTooLarge ? 2 : 1;
}

std::string Pct(double x) {
  char b[32];
  std::snprintf(b, sizeof b, "%+.2f%%", 100 * x);
  return b;
}

}  // namespace

CLI::App* AddBacktestCommand(CLI::App& app, BacktestArgs& args,
                             const std::function<void(CLI::App*)>& add_common) {
  CLI::App* cmd = app.add_subcommand(
      "backtest",
      "backtest a strategy (JSON) on the stored bars with walk-forward models; writes a report");
  add_common(cmd);
  cmd->add_option("--strategy", args.strategy, "strategy JSON file (docs/backtests.md)")
      ->required();
  cmd->add_option("--out", args.out_dir, "report directory (default reports/backtests)");
  cmd->add_option("--name", args.name, "report basename (default: the strategy file's stem)");
  cmd->add_option("--tenant-id", args.tenant_id,
                  "run as this tenant (its series and model configuration; default: the platform)");
  return cmd;
}

int RunBacktestCommand(const Config& config, const BacktestArgs& args) {
  if (args.tenant_id < 0)
    return Fail(Status::InvalidArgument("tenant ids are positive", "--tenant-id"));
  std::ifstream in(args.strategy, std::ios::binary);
  if (!in) return Fail(Status::NotFound("cannot read " + args.strategy, "--strategy"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > backtest::kMaxStrategyBytes) {
    return Fail(Status::PayloadTooLarge("the strategy is " + std::to_string(text.size()) +
                                        " bytes; at most " +
                                        std::to_string(backtest::kMaxStrategyBytes)));
  }
  auto strategy = backtest::ParseStrategy(text);
  if (!strategy.ok()) return Fail(strategy.error());

  store::DatabaseOptions options;
  options.url = config.database.url;
  options.pool_size = static_cast<int>(config.database.pool_size);
  auto db = store::Database::Open(options);
  if (!db.ok()) return Fail(db.error());
  if (Status s = (*db)->Migrate(); !s.ok()) return Fail(s);
  Clock& clock = SystemClock::Instance();
  store::BarStore bars(**db, clock);
  store::FeatureSetStore feature_sets(**db, clock);
  models::DbModelRegistry registry(**db, clock);
  store::JobQueue jobs(**db, clock);
  // The tenant's plan bounds its own models' training (as in serve and worker).
  billing::PlanStore plans(**db, clock);
  billing::Subscriptions subscriptions(**db, plans, clock);
  billing::Entitlements entitlements(plans, subscriptions);
  models::ModelService models(**db, bars, &feature_sets, registry, &jobs, clock,
                              ModelServiceOptionsFrom(config, entitlements, clock));
  backtest::WalkForwardSignalFactory factory(
      models, clock,
      {.code_version = "backtest",
       .on_trained = [](const std::string& symbol, UnixNanos at, size_t rows, double seconds) {
         std::fprintf(stderr, "  trained %s at %s on %zu rows in %.1f s\n", symbol.c_str(),
                      FormatIso8601(at).c_str(), rows, seconds);
       }});
  backtest::BacktestService service(**db, bars, jobs, factory, clock);
  const TenantId owner = args.tenant_id > 0 ? TenantId(args.tenant_id) : models::kPlatformTenant;
  backtest::RunControl control;
  control.progress = [](double f) { std::fprintf(stderr, "  %.0f%% of the bars\n", 100 * f); };
  auto result = service.RunNow(owner, *strategy, control);
  if (!result.ok()) return Fail(result.error());

  const std::string name =
      args.name.empty() ? std::filesystem::path(args.strategy).stem().string() : args.name;
  std::ostringstream command;
  command << "sinyal backtest --strategy " << args.strategy;
  if (args.tenant_id > 0) command << " --tenant-id " << args.tenant_id;
  const backtest::BacktestReport report =
      backtest::RenderBacktestReport(*result, name, command.str());
  if (Status s = backtest::WriteBacktestReport(report, args.out_dir, name); !s.ok()) return Fail(s);

  const auto& m = result->strategy.metrics;
  std::printf("backtest %s: %s .. %s, %lld bars, %lld trades\n", name.c_str(),
              FormatIso8601(result->from).c_str(), FormatIso8601(result->to).c_str(),
              static_cast<long long>(result->bars), static_cast<long long>(m.trades));
  std::printf("  strategy          total return %s, Sharpe %.2f, max drawdown %s\n",
              Pct(m.total_return).c_str(), m.sharpe, Pct(-m.max_drawdown).c_str());
  std::printf("  buy and hold      total return %s\n",
              Pct(result->buy_and_hold.metrics.total_return).c_str());
  std::printf("  reverse last move total return %s\n",
              Pct(result->reverse_last_move.metrics.total_return).c_str());
  if (result->random_entry.seeds > 0) {
    std::printf(
        "  random entry      median %s (p05 %s, p95 %s) over %d seeds; strategy above %.0f%% of "
        "them\n",
        Pct(result->random_entry.median_return).c_str(),
        Pct(result->random_entry.p05_return).c_str(), Pct(result->random_entry.p95_return).c_str(),
        result->random_entry.seeds, 100 * result->random_entry.strategy_return_rank);
  }
  std::printf("  report: %s/%s.md (%.1f s)\n", args.out_dir.c_str(), name.c_str(), result->seconds);
  return 0;
}

}  // namespace sinyal::app
