#include "app/serve.h"

#include <signal.h>
#include <sodium.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <thread>
#include <vector>

#include "accounts/accounts.h"
#include "app/first_run.h"
#include "app/models_cli.h"
#include "app/trading.h"
#include "billing/analytics.h"
#include "billing/entitlements.h"
#include "billing/invoices.h"
#include "billing/meter.h"
#include "billing/metered_call.h"
#include "billing/plans.h"
#include "billing/rate_limiter.h"
#include "billing/retention.h"
#include "billing/subscription_service.h"
#include "core/log.h"
#include "http/api.h"
#include "http/pipeline.h"
#include "http/server.h"
#include "http/static_site.h"
#include "models/db_registry.h"
#include "models/feature_service.h"
#include "models/service.h"
#include "notify/telegram.h"
#include "payments/midtrans.h"
#include "payments/payment_service.h"
#include "payments/sandbox.h"
#include "signals/db_audit_log.h"
#include "signals/db_signal_log.h"
#include "signals/retraining_job.h"
#include "signals/service.h"
#include "store/bar_store.h"
#include "store/database.h"
#include "store/feature_set_store.h"
#include "store/job_queue.h"
#include "store/live_feed.h"

namespace sinyal::app {
namespace {

constexpr const char* kVersion = "0.1.0";

Result<std::unique_ptr<store::Database>> OpenDatabase(const Config& config) {
  store::DatabaseOptions options;
  options.url = config.database.url;
  options.pool_size = static_cast<int>(config.database.pool_size);
  SINYAL_ASSIGN_OR_RETURN(auto db, store::Database::Open(options));
  SINYAL_RETURN_IF_ERROR(db->Migrate());
  return db;
}

accounts::AuthConfig AuthConfigFrom(const Config& config) {
  accounts::AuthConfig auth;
  auth.jwt_secret = config.auth.jwt_secret;
  auth.issuer = config.auth.issuer;
  auth.audience = config.auth.audience;
  auth.access_ttl_seconds = config.auth.access_ttl_seconds;
  auth.refresh_ttl_seconds = config.auth.refresh_ttl_seconds;
  auth.api_key_cache_ttl_seconds = config.auth.api_key_cache_ttl_seconds;
  return auth;
}

// Never print the password or the URL's credentials.
std::string RedactUrl(const std::string& url) {
  auto scheme = url.find("://");
  auto at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos || at < scheme) return url;
  return url.substr(0, scheme + 3) + "***@" + url.substr(at + 1);
}

// [telegram] -> the bot's options (notify/telegram.h). The token is never logged.
notify::TelegramOptions TelegramOptionsFrom(const Config& config) {
  const Config::Telegram& c = config.telegram;
  notify::TelegramOptions o;
  o.api.base_url = c.api_url;
  o.api.token = c.bot_token;
  o.bot_username = c.bot_username;
  o.mode = c.mode == "webhook" ? notify::UpdateMode::kWebhook : notify::UpdateMode::kPolling;
  o.webhook_url = c.webhook_url;
  o.webhook_secret = c.webhook_secret;
  o.poll_timeout_seconds = static_cast<int>(c.poll_timeout_seconds);
  o.link_token_ttl_seconds = c.link_token_ttl_seconds;
  o.chart_url_template = c.chart_url;
  o.quota_check_seconds = c.quota_check_seconds;
  o.send.limits.global_per_second = static_cast<double>(c.global_per_second);
  o.send.limits.per_chat_interval_ms = c.per_chat_interval_ms;
  o.send.limits.group_per_window = static_cast<int>(c.group_per_minute);
  o.send.limits.group_window_ms = c.group_window_ms;
  o.send.sender_threads = static_cast<int>(c.sender_threads);
  return o;
}

payments::MidtransConfig MidtransConfigFrom(const Config& config) {
  payments::MidtransConfig m;
  const bool production = config.midtrans.environment == "production";
  m.server_key = config.midtrans.server_key;
  m.snap_base_url = !config.midtrans.snap_base_url.empty() ? config.midtrans.snap_base_url
                    : production ? std::string(payments::kSnapProductionUrl)
                                 : std::string(payments::kSnapSandboxUrl);
  m.core_base_url = !config.midtrans.core_base_url.empty() ? config.midtrans.core_base_url
                    : production ? std::string(payments::kCoreProductionUrl)
                                 : std::string(payments::kCoreSandboxUrl);
  if (!config.midtrans.enabled_payments.empty()) {
    m.enabled_payments.clear();
    std::string item;
    for (char c : config.midtrans.enabled_payments + ",") {
      if (c == ',') {
        if (!item.empty()) m.enabled_payments.push_back(item);
        item.clear();
      } else if (c != ' ') {
        item += c;
      }
    }
  }
  m.finish_url = config.midtrans.finish_url;
  m.timeout_ms = config.midtrans.timeout_ms;
  // A standalone `sinyal midtrans-sandbox` is served under /sandbox/midtrans: SIMULATED too.
  m.simulated = m.core_base_url.find("/sandbox/midtrans") != std::string::npos;
  return m;
}

int Fail(const Status& s) {
  LogEvent(spdlog::level::critical, "startup_failed", {{"error", s.ToString()}});
  std::fprintf(stderr, "sinyal: %s\n", s.ToString().c_str());
  return 1;
}

}  // namespace

Status ResolveJwtSecret(Config& config) {
  if (!config.auth.jwt_secret.empty()) return Status::Ok();
  std::filesystem::path path = std::filesystem::path(config.server.data_dir) / "jwt_secret";
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (std::filesystem::exists(path)) {
    std::ifstream in(path);
    std::getline(in, config.auth.jwt_secret);
    if (config.auth.jwt_secret.size() < 32)
      return Status::InvalidArgument("secret in " + path.string() + " is shorter than 32 bytes",
                                     "auth.jwt_secret");
    return Status::Ok();
  }
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  unsigned char raw[48];
  randombytes_buf(raw, sizeof raw);
  char b64[sodium_base64_ENCODED_LEN(48, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  {
    std::ofstream out(path);
    if (!out) return Status::Unavailable("cannot write " + path.string());
    out << b64 << "\n";
  }
  ::chmod(path.c_str(), 0600);
  config.auth.jwt_secret = b64;
  LogEvent(spdlog::level::info, "jwt_secret_generated", {{"path", path.string()}});
  return Status::Ok();
}

int RunMigrate(Config config) {
  auto db = OpenDatabase(config);
  if (!db.ok()) return Fail(db.error());
  auto version = (*db)->SchemaVersion();
  if (!version.ok()) return Fail(version.error());
  std::printf("database %s is at schema version %d\n", RedactUrl(config.database.url).c_str(),
              *version);
  (*db)->Close();
  return 0;
}

int RunCreateOperator(Config config, const std::string& email, const std::string& password) {
  if (Status s = ResolveJwtSecret(config); !s.ok()) return Fail(s);
  auto db = OpenDatabase(config);
  if (!db.ok()) return Fail(db.error());
  accounts::AccountService accounts(**db, SystemClock::Instance(), AuthConfigFrom(config));
  auto op = accounts.CreateOperator(email, password);
  if (!op.ok()) return Fail(op.error());
  std::printf("operator %s created (id %lld)\n", op->email.c_str(),
              static_cast<long long>(op->id.value()));
  (*db)->Close();
  return 0;
}

// Fails fast on a bad auth configuration (AccountService itself can't fail in its constructor).
Status CheckAuthConfig(const Config& config) { return AuthConfigFrom(config).Validate(); }

// Blocks SIGTERM/SIGINT in every thread (started after this call) and ignores SIGPIPE; the
// main thread then waits for the returned set with sigwait.
sigset_t BlockShutdownSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  return signals;
}

int RunMidtransSandbox(const SandboxArgs& args) {
  sigset_t signals = BlockShutdownSignals();
  if (args.server_key.empty())
    return Fail(Status::InvalidArgument("--server-key is required", "server_key"));
  Clock& clock = SystemClock::Instance();
  const std::string base =
      "http://" + args.host + ":" + std::to_string(args.port) + "/sandbox/midtrans";
  payments::MidtransSandbox sandbox({args.server_key, base, args.notification_url,
                                     static_cast<double>(args.retry_scale_permille) / 1000.0},
                                    clock);
  http::Metrics metrics;
  http::RouteTable routes;
  http::AddMidtransSandboxRoutes(routes, sandbox, "/sandbox/midtrans");
  http::Pipeline pipeline(routes, nullptr, metrics, clock, {});
  http::Server server(pipeline, {.host = args.host,
                                 .port = static_cast<uint16_t>(args.port),
                                 .io_threads = 1,
                                 .blocking_threads = 2});
  if (Status s = server.Start(); !s.ok()) return Fail(s);
  LogEvent(spdlog::level::warn, "midtrans_sandbox_started",
           {{"url", base}, {"simulated", true}, {"notification_url", args.notification_url}});
  std::printf("SIMULATED Midtrans sandbox at %s (no money moves); notifications to %s\n",
              base.c_str(), args.notification_url.c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  server.Drain(std::chrono::milliseconds(2000));
  server.Stop();
  return 0;
}

int RunServe(Config config) {
  // Block the shutdown signals in every thread; the main thread waits for them below.
  sigset_t signals = BlockShutdownSignals();

  if (Status s = ResolveJwtSecret(config); !s.ok()) return Fail(s);
  if (Status s = CheckAuthConfig(config); !s.ok()) return Fail(s);
  auto db_or = OpenDatabase(config);
  if (!db_or.ok()) return Fail(db_or.error());
  std::unique_ptr<store::Database> db = std::move(db_or).value();

  Clock& clock = SystemClock::Instance();
  accounts::AccountService accounts(*db, clock, AuthConfigFrom(config));

  // Market data: bar store with hot windows, the live feed, feature sets and vectors.
  store::BarStore bar_store(*db, clock);
  // Bars closed by the live feed go to the signal service (set below, cleared before it ends).
  std::atomic<signals::SignalService*> bar_sink{nullptr};
  std::atomic<Trading*> paper_sink{nullptr};  // paper accounts follow the same bars (app/trading.h)
  store::LiveFeed live_feed(
      bar_store, clock, {},
      [&bar_sink, &paper_sink](const market::SeriesKey& key, const market::Bar& bar) {
        if (signals::SignalService* s = bar_sink.load()) s->OnBarClosed(key, bar);
        if (Trading* t = paper_sink.load()) t->OnBarClosed(key, bar);
      });
  store::FeatureSetStore feature_sets(*db, clock);
  auto feature_service = std::make_unique<models::FeatureService>(bar_store, feature_sets);

  http::Metrics metrics;
  http::RouteTable routes;
  http::AddAccountRoutes(routes, accounts);
  http::AddAuditRoutes(routes, *db);  // the security audit trail (store/security_audit.h)
  // Models: DB registry, job queue, per-tenant configuration and training (models/service.h).
  models::DbModelRegistry model_registry(*db, clock);
  store::JobQueue jobs(*db, clock, {.lease_ns = config.worker.lease_seconds * kNanosPerSecond});
  // Billing: plans and subscriptions (cached in memory: no database read per request in steady
  // state), the meter (quota, ledger and idempotency with one group-commit writer thread), the
  // entitlements (billing/entitlements.h: the one gate) and the metered-call flow every billable
  // route, the stream and other doors use (billing/metered_call.h). Rate limits per API key /
  // per user, by plan (billing/rate_limiter.h): in process, or shared by every server through
  // Redis with --redis (redis.url), failing over to in-process limits while Redis is unreachable.
  // A malformed or unreachable URL stops startup.
  billing::PlanStore plans(*db, clock);
  billing::Subscriptions subscriptions(*db, plans, clock);
  billing::Meter meter(*db, subscriptions);
  billing::Entitlements entitlements(plans, subscriptions);
  auto made_limiter = billing::MakeRateLimiter(config.redis.url);
  if (!made_limiter.ok()) return Fail(made_limiter.error());
  std::unique_ptr<billing::RateLimiter> limiter = std::move(made_limiter).value();
  LogEvent(spdlog::level::info, "rate_limiter",
           {{"backend", config.redis.url.empty() ? "local" : "redis"},
            {"url", config.redis.url.empty() ? std::string()
                                             : billing::RedactRedisUrl(config.redis.url)}});
  billing::MeteredCalls metered(entitlements, meter, limiter.get());
  // Tenants train within their plan's training bounds.
  models::ModelServiceOptions model_options = ModelServiceOptionsFrom(config, entitlements, clock);
  // Interval calibrations are fitted when a version is trained or activated, not on a request.
  signals::IntervalCalibrationStore calibrations(*db, bar_store, model_registry, &feature_sets,
                                                 clock);
  FitIntervalCalibrationsOnTrainAndActivate(model_options, model_registry, calibrations);
  models::ModelService model_service(*db, bar_store, &feature_sets, model_registry, &jobs, clock,
                                     model_options);
  http::AddModelRoutes(routes, model_service, jobs);
  // Signals: the live signal of each (model, series), computed once per closed bar.
  signals::DbSignalLog signal_log(*db);
  signals::SignalService signal_service(
      bar_store, model_registry, &feature_sets, signal_log, calibrations, clock,
      {.bar_check_interval_nanos =
           config.signals.bar_check_interval_ms * (kNanosPerSecond / 1000)});
  bar_sink.store(&signal_service);
  http::AddSignalRoutes(routes,
                        {.signals = &signal_service, .log = &signal_log, .bars = &bar_store});
  http::AddBusinessRoutes(routes, {.signals = &signal_service});
  // Paper trading accounts (backtest/paper.h) follow the live bars with the live signals; their
  // thread also sends the accounts' signed webhooks.
  Trading trading(config, *db, bar_store, jobs, model_service, &feature_sets, &signal_service,
                  clock, [&entitlements, &clock](TenantId t) {
                    auto caller = entitlements.Resolve(t, clock.Now());
                    return caller.ok() ? billing::Entitlements::ActiveBacktests(*caller->plan) : 2;
                  });
  // Submitting backtests needs the plan's "backtests", opening paper accounts its "paper_trading"
  // (migration 43): billing's one gate, in the handlers.
  http::AddTradingRoutes(routes, {.backtests = trading.backtests(), .paper = &trading.paper()});
  billing::Invoices invoices(*db, subscriptions);
  billing::Analytics analytics(*db, subscriptions);
  http::AddBillingRoutes(routes, {.plans = &plans,
                                  .subscriptions = &subscriptions,
                                  .meter = &meter,
                                  .invoices = &invoices,
                                  .analytics = &analytics});
  // Payments (issue 11, docs/payments.md): self-service subscriptions (billing) paid through
  // Midtrans. Without a server key, the local Midtrans sandbox (SIMULATED) stands in for it,
  // served by this server under /sandbox/midtrans and said so in the log and checkout answers.
  billing::SubscriptionService billing_accounts(
      *db, subscriptions,
      {.renewal_notice = config.payments.renewal_notice_days * kNanosPerDay,
       .grace = config.payments.grace_days * kNanosPerDay});
  const std::string self_url =
      "http://" +
      (config.server.host == "0.0.0.0" ? std::string("127.0.0.1") : config.server.host) + ":" +
      std::to_string(config.server.port);
  std::unique_ptr<payments::MidtransSandbox> midtrans_sandbox;
  payments::MidtransConfig midtrans_config = MidtransConfigFrom(config);
  if (config.midtrans.server_key.empty()) {
    midtrans_config.server_key = "SB-Mid-server-SIMULATED-" + payments::RandomHex(12);
    midtrans_config.snap_base_url = self_url + "/sandbox/midtrans/snap/v1";
    midtrans_config.core_base_url = self_url + "/sandbox/midtrans";
    midtrans_config.simulated = true;
    midtrans_sandbox = std::make_unique<payments::MidtransSandbox>(
        payments::SandboxOptions{
            midtrans_config.server_key, self_url + "/sandbox/midtrans",
            self_url + "/api/v1/payments/midtrans/notification",
            static_cast<double>(config.payments.sandbox_retry_scale_permille) / 1000.0},
        clock);
    http::AddMidtransSandboxRoutes(routes, *midtrans_sandbox, "/sandbox/midtrans");
    LogEvent(spdlog::level::warn, "midtrans_simulated",
             {{"reason", "no midtrans.server_key configured"},
              {"gateway", "local Midtrans sandbox (SIMULATED: no money moves)"},
              {"pay_pages", self_url + "/sandbox/midtrans/pay/<token>"}});
  }
  auto made_gateway = payments::MakeMidtransClient(midtrans_config);
  if (!made_gateway.ok()) return Fail(made_gateway.error());
  std::unique_ptr<payments::MidtransClient> gateway = std::move(made_gateway).value();
  if (!midtrans_config.simulated) {
    LogEvent(spdlog::level::info, "midtrans",
             {{"environment", config.midtrans.environment},
              {"snap", midtrans_config.snap_base_url},
              {"core", midtrans_config.core_base_url}});
  }
  payments::PaymentService payment_service(
      *db, billing_accounts, *gateway, clock,
      {.order_expiry_minutes = config.payments.order_expiry_minutes,
       .reconcile_after = config.payments.reconcile_after_seconds * kNanosPerSecond,
       .reconcile_every = config.payments.reconcile_after_seconds * kNanosPerSecond});
  if (const char* fault = std::getenv("SINYAL_TEST_PAYMENTS_FAULT")) {
    // Crash-safety tests only (tests/e2e/payments_e2e_test.cc).
    const std::string f = fault;
    payment_service.TEST_SetFault(
        f == "kill_before_commit"  ? payments::PaymentService::Fault::kKillBeforeCommit
        : f == "kill_after_commit" ? payments::PaymentService::Fault::kKillAfterCommit
                                   : payments::PaymentService::Fault::kNone);
    LogEvent(spdlog::level::critical, "test_fault_armed", {{"fault", f}});
  }
  http::AddPaymentRoutes(routes, {.payments = &payment_service,
                                  .subscriptions = &billing_accounts,
                                  .accounts = &accounts,
                                  .db = db.get()});
  // The WebSocket signal stream (one metered unit per pushed signal); the hub's thread meters and
  // sends, and it unsubscribes from the signal service before that is destroyed.
  http::StreamHubPtr stream_hub = http::AddStreamRoutes(routes, {.signals = &signal_service,
                                                                 .metered = &metered,
                                                                 .clock = &clock,
                                                                 .metrics = &metrics,
                                                                 .log = &signal_log});
  // Retraining (signals/retraining_job.h): the audit trail, retrain_check jobs, their routes.
  signals::DbSignalLog retraining_signals(*db);
  signals::DbAuditLog retraining_audit(*db);
  signals::RetrainingService retraining(*db, bar_store, &feature_sets, model_registry, &jobs,
                                        &retraining_signals, retraining_audit, clock, model_options,
                                        RetrainingOptionsFrom(config));
  http::AddRetrainingRoutes(routes, retraining, retraining_audit);
  // Read-only operator views for the dashboard (tenants, model health).
  http::AddOperatorRoutes(routes, {.accounts = &accounts,
                                   .subscriptions = &subscriptions,
                                   .bars = &bar_store,
                                   .signals = &signal_service,
                                   .log = &signal_log,
                                   .audit = &retraining_audit});
  // One in-process worker so a single node trains without a separate `sinyal worker`.
  std::unique_ptr<store::JobWorker> worker;
  std::unique_ptr<signals::RetrainScheduler> retrain_scheduler;
  if (config.worker.in_process) {
    worker = MakeJobWorker(config, jobs, model_service, "serve", &retraining);
    trading.RegisterJobs(*worker);
    payments::RegisterPaymentJobs(*worker, payment_service, clock);
    worker->Start();
    if (config.worker.retrain_check_seconds > 0) {
      retrain_scheduler = std::make_unique<signals::RetrainScheduler>(
          retraining, std::chrono::seconds(config.worker.retrain_check_seconds),
          [w = worker.get()] { w->Wake(); });
      retrain_scheduler->Start();
    }
  }
  http::AddMarketRoutes(
      routes, {.bars = &bar_store, .feed = &live_feed, .features = feature_service.get()});
  // Telegram (notify/telegram.h): on when telegram.bot_token is set; the routes exist either way
  // (503 naming the setting without a bot). It reads signals as bars close and sends through its
  // own persistent queue; billing and payments reach it through billing::AccountNotices.
  std::unique_ptr<notify::TelegramBot> telegram;
  if (!config.telegram.bot_token.empty()) {
    notify::TelegramOptions options = TelegramOptionsFrom(config);
    if (Status s = notify::TelegramBot::ValidateOptions(options); !s.ok()) return Fail(s);
    telegram =
        std::make_unique<notify::TelegramBot>(notify::TelegramDeps{.db = db.get(),
                                                                   .clock = &clock,
                                                                   .accounts = &accounts,
                                                                   .plans = &plans,
                                                                   .subscriptions = &subscriptions,
                                                                   .meter = &meter,
                                                                   .signals = &signal_service,
                                                                   .paper = &trading.paper(),
                                                                   .metered = &metered},
                                              std::move(options));
    // Payment settled or failed, renewal due: billing's events become the owners' notices
    // (billing::NoticeForEvent, the one rule), queued durably by the bot after the event's commit.
    billing_accounts.Subscribe([bot = telegram.get()](const billing::StoredEvent& e) {
      if (auto notice = billing::NoticeForEvent(e)) {
        if (Status s = bot->Notify(*notice); !s.ok()) {
          LogEvent(spdlog::level::warn, "account_notice_failed",
                   {{"tenant_id", e.tenant.value()}, {"kind", e.kind}, {"error", s.message()}});
        }
      }
    });
  }
  http::AddTelegramRoutes(routes, telegram.get());
  http::Server* server_ptr = nullptr;
  http::AddSystemRoutes(routes, {.ready = [&db, &server_ptr]() -> Status {
                                   if (server_ptr != nullptr && server_ptr->draining())
                                     return Status::Unavailable("shutting down");
                                   return db->Ping();
                                 },
                                 .metrics = &metrics,
                                 .docs_assets_dir = config.server.docs_assets_dir,
                                 .version = kVersion});
  // The dashboard's built files, served from memory for GETs no API route matches.
  auto site_or = http::StaticSite::Load(config.server.web_dir);
  if (!site_or.ok()) return Fail(site_or.error());
  std::unique_ptr<http::StaticSite> site = std::move(site_or).value();
  LogEvent(spdlog::level::info, "dashboard",
           {{"web_dir", config.server.web_dir},
            {"files", site->file_count()},
            {"built", site->has_index()}});
  http::Pipeline pipeline(routes, &accounts, metrics, clock,
                          {.max_body_bytes = static_cast<size_t>(config.server.max_body_bytes),
                           .access_log = config.log.access_log,
                           .metered = &metered,
                           .site = site.get()});
  http::Server server(
      pipeline, {.host = config.server.host,
                 .port = static_cast<uint16_t>(config.server.port),
                 .io_threads = static_cast<size_t>(config.server.io_threads),
                 .blocking_threads = static_cast<size_t>(config.server.blocking_threads),
                 .accept_concurrency = static_cast<size_t>(config.server.accept_concurrency)});
  server_ptr = &server;
  if (Status s = server.Start(); !s.ok()) return Fail(s);
  if (telegram) {
    if (Status s = telegram->Start(); !s.ok()) return Fail(s);
  }
  trading.Start();
  paper_sink.store(&trading);

  // Closes live bars of quiet markets once a second (LiveFeed::AdvanceLive).
  std::atomic<bool> stop_feed_timer{false};
  std::thread feed_timer([&live_feed, &stop_feed_timer] {
    while (!stop_feed_timer.load()) {
      for (int i = 0; i < 10 && !stop_feed_timer.load(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (stop_feed_timer.load()) break;
      auto r = live_feed.AdvanceLive();
      if (!r.ok())
        LogEvent(spdlog::level::warn, "live_feed_advance_failed",
                 {{"error", r.error().ToString()}});
    }
  });

  // Invoices every closed subscription period: at start, then every 10 minutes (idempotent; with
  // several servers each may run it, the unique (tenant, period) key keeps one invoice).
  // The same round deletes idempotency records older than billing.idempotency_retention_hours
  // (billing/retention.h; bounded batches, the ledger is kept).
  billing::IdempotencyRetentionOptions retention;
  retention.retention_hours = config.billing.idempotency_retention_hours;
  store::Database& billing_db = *db;
  std::atomic<bool> stop_invoicer{false};
  std::thread invoicer([&invoices, &clock, &stop_invoicer, &billing_db, retention] {
    while (!stop_invoicer.load()) {
      auto made = invoices.GenerateClosed(clock.Now());
      if (!made.ok())
        LogEvent(spdlog::level::warn, "invoices_failed", {{"error", made.error().ToString()}});
      else if (*made > 0)
        LogEvent(spdlog::level::info, "invoices_generated", {{"count", *made}});
      auto purged = billing::PurgeExpiredIdempotencyKeys(billing_db, clock.Now(), retention);
      if (!purged.ok())
        LogEvent(spdlog::level::warn, "idempotency_purge_failed",
                 {{"error", purged.error().ToString()}});
      else if (purged->deleted > 0)
        LogEvent(spdlog::level::info, "idempotency_keys_expired",
                 {{"count", purged->deleted}, {"more", purged->more}});
      for (int i = 0; i < 6000 && !stop_invoicer.load(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });

  // Payments round (renewal invoices and their payment links, grace ends, the status poll of
  // open orders): the payments_reconcile job every payments.reconcile_interval_seconds, run by
  // the in-process worker (or here, without one).
  std::atomic<bool> stop_reconciler{false};
  std::thread reconciler([&] {
    while (!stop_reconciler.load()) {
      if (worker) {
        auto queued = jobs.Enqueue({.kind = std::string(payments::kReconcileJobKind),
                                    .payload = "{}",
                                    .dedupe_key = "payments_reconcile",
                                    .max_attempts = 1});
        if (queued.ok()) worker->Wake();
      } else {
        auto r = payment_service.Reconcile(clock.Now());
        if (!r.ok())
          LogEvent(spdlog::level::warn, "payments_reconcile_failed",
                   {{"error", r.error().ToString()}});
      }
      for (int64_t i = 0;
           i < config.payments.reconcile_interval_seconds * 10 && !stop_reconciler.load(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });

  // First run: a database without market data gets the repository's sample, the platform default
  // models and real signals, in the background (app/first_run.h; progress in the log).
  std::unique_ptr<FirstRun> first_run;
  auto platform_series = bar_store.ListSeries(std::nullopt);
  const bool fresh = platform_series.ok() && platform_series->empty();
  if (config.first_run.enabled && fresh) {
    auto horizons = ParseHorizonList(config.first_run.horizons, "first_run.horizons");
    if (!horizons.ok()) return Fail(horizons.error());
    first_run = std::make_unique<FirstRun>(
        bar_store, model_service, signal_service,
        FirstRunOptions{.sample_dir = config.first_run.sample_dir,
                        .replay_bars = static_cast<size_t>(config.first_run.replay_bars),
                        .horizons = std::move(*horizons)});
    first_run->Start();
  }

  std::string base = "http://" + config.server.host + ":" + std::to_string(config.server.port);
  LogEvent(spdlog::level::info, "started",
           {{"url", base}, {"database", RedactUrl(config.database.url)}, {"version", kVersion}});
  std::printf(
      "\nSinyal %s is running at %s  (database: %s)\n"
      "  Dashboard:       %s/\n"
      "  API reference:   %s/docs\n"
      "  Health:          %s/readyz\n"
      "  Sign up (creates your organisation and its owner):\n"
      "    curl -s -X POST %s/api/v1/auth/register -H 'Content-Type: application/json' \\\n"
      "      -d '{\"tenant_name\":\"My "
      "Company\",\"email\":\"you@example.com\",\"password\":\"a-long-passphrase\"}'\n"
      "  Sign in:  POST %s/api/v1/auth/login {\"email\",\"password\"} -> use access_token as "
      "'Authorization: Bearer ...'\n"
      "  Payments:  %s\n"
      "  Stop with Ctrl-C (or SIGTERM): in-flight requests finish first.\n\n",
      kVersion, base.c_str(), RedactUrl(config.database.url).c_str(), base.c_str(), base.c_str(),
      base.c_str(), base.c_str(), base.c_str(),
      midtrans_config.simulated ? ("SIMULATED - no Midtrans keys; local Midtrans sandbox at " +
                                   base + "/sandbox/midtrans (no money moves)")
                                      .c_str()
                                : ("Midtrans " + config.midtrans.environment).c_str());
  if (first_run) {
    std::printf(
        "  First run: importing the sample market data in %s and training the platform models in "
        "the\n"
        "  background; signals appear as each model is trained (log events \"first_run\").\n\n",
        config.first_run.sample_dir.c_str());
  }
  std::fflush(stdout);

  int sig = 0;
  sigwait(&signals, &sig);
  LogEvent(spdlog::level::info, "shutdown_requested",
           {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  if (first_run) first_run->Stop();  // waits for a model being trained
  server.Drain(std::chrono::milliseconds(config.server.shutdown_grace_ms));
  server.Stop();
  if (telegram) telegram->Stop();  // the send queue finishes the requests in flight
  stop_feed_timer.store(true);
  feed_timer.join();
  if (retrain_scheduler) retrain_scheduler->Stop();
  if (worker) worker->Stop();  // finishes a running job first
  stop_invoicer.store(true);
  invoicer.join();
  stop_reconciler.store(true);
  reconciler.join();
  bar_sink.store(nullptr);
  paper_sink.store(nullptr);
  trading.Stop();  // applies the bars already queued
  signal_service.Drain();
  meter.Flush();  // no request is left to commit; the writer stops with the meter
  db->Close();
  LogEvent(spdlog::level::info, "stopped", {});
  return 0;
}

}  // namespace sinyal::app
