#include "app/trading.h"

#include <curl/curl.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "backtest/live_signals.h"
#include "backtest/report.h"
#include "core/log.h"
#include "core/time.h"
#include "store/bar_store.h"
#include "store/database.h"
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
    if (rc != CURLE_OK) return Status::Unavailable(std::string("no response: ") + curl_easy_strerror(rc));
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
                 const Clock& clock)
    : clock_(clock) {
  (void)config;
  (void)jobs;
  (void)models;
  (void)feature_sets;
  if (signals != nullptr) {
    provider_ = std::make_unique<backtest::LiveSignalProvider>(*signals);
  } else {
    provider_ = std::make_unique<NoSignals>();
  }
  transport_ = std::make_unique<CurlTransport>();
  paper_ = std::make_unique<backtest::PaperService>(db, bars, *provider_, clock);
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
        LogEvent(spdlog::level::warn, "paper_webhooks_failed", {{"error", delivered.error().ToString()}});
      }
    }
  }
}

int RunBacktestCommand(Config config, const BacktestArgs& args) {
  (void)config;
  (void)args;
  return 1;
}

}  // namespace sinyal::app
