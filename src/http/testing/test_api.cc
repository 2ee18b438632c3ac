#include "http/testing/test_api.h"

#include <gtest/gtest.h>

#include "backtest/paper.h"
#include "backtest/service.h"
#include "billing/analytics.h"
#include "billing/invoices.h"
#include "billing/meter.h"
#include "billing/rate_limiter.h"
#include "billing/subscription_service.h"
#include "http/api.h"
#include "http/metrics.h"
#include "models/db_registry.h"
#include "models/feature_service.h"
#include "models/service.h"
#include "notify/telegram.h"
#include "payments/payment_service.h"
#include "payments/sandbox.h"
#include "signals/db_audit_log.h"
#include "signals/db_signal_log.h"
#include "signals/interval_calibration_store.h"
#include "signals/retraining_job.h"
#include "signals/service.h"
#include "store/bar_store.h"
#include "store/database.h"
#include "store/feature_set_store.h"
#include "store/job_queue.h"
#include "store/live_feed.h"

namespace sinyal::http::testing {

// In serve's order (app/serve.cc); members are destroyed in reverse.
struct TestApi::Parts {
  Parts(store::Database& db_in, Clock& clock_in, bool rate_limits)
      : db(db_in),
        clock(clock_in),
        accounts(db, clock, {.jwt_secret = std::string(32, 'k')}),
        bars(db, clock),
        feed(bars, clock, {}),
        sets(db, clock),
        features(std::make_unique<models::FeatureService>(bars, sets)),
        registry(db, clock),
        calibrations(db, bars, registry, &sets, clock),
        jobs(db, clock),
        plans(db, clock),
        subscriptions(db, plans, clock),
        meter(db, subscriptions),
        entitlements(plans, subscriptions),
        limiter(rate_limits ? billing::MakeLocalRateLimiter() : nullptr),
        metered(entitlements, meter, limiter.get()),
        models(db, bars, &sets, registry, &jobs, clock, ModelOptions()),
        signal_log(db),
        signal_service(bars, registry, &sets, signal_log, calibrations, clock,
                       {.background_thread = false}),
        invoices(db, subscriptions),
        analytics(db, subscriptions),
        audit(db),
        retraining(db, bars, &sets, registry, &jobs, nullptr, audit, clock, {}),
        billing_accounts(db, subscriptions),
        sandbox({"SB-Mid-server-TEST", "http://127.0.0.1:1/sandbox/midtrans", "", 1.0}, clock),
        gateway(payments::MakeInProcessSandboxClient(sandbox)),
        payment_service(db, billing_accounts, *gateway, clock),
        paper(db, bars, no_signals, clock),
        backtests(db, bars, jobs, no_signals, clock) {
    AddAccountRoutes(routes, accounts);
    AddAuditRoutes(routes, db);
    AddModelRoutes(routes, models, jobs);
    AddSignalRoutes(routes, {.signals = &signal_service, .log = &signal_log, .bars = &bars});
    AddBusinessRoutes(routes, {.signals = &signal_service});
    AddBillingRoutes(routes, {.plans = &plans,
                              .subscriptions = &subscriptions,
                              .meter = &meter,
                              .invoices = &invoices,
                              .analytics = &analytics});
    stream = AddStreamRoutes(
        routes,
        {.signals = &signal_service, .metered = &metered, .clock = &clock, .log = &signal_log});
    AddRetrainingRoutes(routes, retraining, audit);
    AddOperatorRoutes(routes, {.accounts = &accounts,
                               .subscriptions = &subscriptions,
                               .bars = &bars,
                               .signals = &signal_service,
                               .log = &signal_log,
                               .audit = &audit});
    AddMarketRoutes(routes, {.bars = &bars, .feed = &feed, .features = features.get()});
    AddPaymentRoutes(routes, {.payments = &payment_service,
                              .subscriptions = &billing_accounts,
                              .accounts = &accounts,
                              .db = &db});
    AddMidtransSandboxRoutes(routes, sandbox, "/sandbox/midtrans");
    // The bot is built but never started: no Bot API is called (no FAKE server needed).
    notify::TelegramOptions telegram_options;
    telegram_options.api.token = "123456:test-token-never-used";
    telegram_options.api.base_url = "http://127.0.0.1:1";
    telegram_options.bot_username = "sinyal_test_bot";
    telegram =
        std::make_unique<notify::TelegramBot>(notify::TelegramDeps{.db = &db,
                                                                   .clock = &clock,
                                                                   .accounts = &accounts,
                                                                   .plans = &plans,
                                                                   .subscriptions = &subscriptions,
                                                                   .meter = &meter,
                                                                   .signals = &signal_service},
                                              std::move(telegram_options));
    AddTelegramRoutes(routes, telegram.get());
    // Backtests and paper accounts on a signal source that has none (trading_e2e_test runs them on
    // the live signal path).
    AddTradingRoutes(routes, {.backtests = &backtests, .paper = &paper});
    AddSystemRoutes(routes, {});
    pipeline =
        std::make_unique<Pipeline>(routes, &accounts, metrics, clock,
                                   PipelineOptions{.access_log = false, .metered = &metered});
  }
  // As serve: a version's interval calibration is fitted when it is trained.
  models::ModelServiceOptions ModelOptions() {
    return {.code_version = "test",
            .report_folds = 2,
            .nthread = 1,
            .on_version_stored = [this](TenantId owner, const market::SeriesKey& series,
                                        const models::ModelRecord& r) {
              EXPECT_TRUE(calibrations.Fit(owner, series, r.version).ok());
            }};
  }
  ~Parts() {
    pipeline.reset();
    telegram.reset();
    stream.reset();
    meter.Flush();
  }

  store::Database& db;
  Clock& clock;
  accounts::AccountService accounts;
  store::BarStore bars;
  store::LiveFeed feed;
  store::FeatureSetStore sets;
  std::unique_ptr<models::FeatureService> features;
  models::DbModelRegistry registry;
  signals::IntervalCalibrationStore calibrations;
  store::JobQueue jobs;
  billing::PlanStore plans;
  billing::Subscriptions subscriptions;
  billing::Meter meter;
  billing::Entitlements entitlements;
  std::unique_ptr<billing::RateLimiter> limiter;
  billing::MeteredCalls metered;
  models::ModelService models;
  signals::DbSignalLog signal_log;
  signals::SignalService signal_service;
  billing::Invoices invoices;
  billing::Analytics analytics;
  signals::DbAuditLog audit;
  signals::RetrainingService retraining;
  billing::SubscriptionService billing_accounts;
  payments::MidtransSandbox sandbox;
  std::unique_ptr<payments::MidtransClient> gateway;
  payments::PaymentService payment_service;
  struct NoSignals : backtest::SignalSourceFactory, backtest::PaperSignalProvider {
    Status Validate(TenantId, const backtest::StrategyConfig&) override { return Status::Ok(); }
    Result<std::unique_ptr<backtest::SignalSource>> Create(
        TenantId, const backtest::StrategyConfig&, const std::vector<backtest::SeriesInput>&,
        const backtest::SignalSourceFactory::Progress&) override {
      return Status::Unavailable("no signal source in TestApi");
    }
    Result<std::optional<backtest::BarSignal>> SignalAt(TenantId, const backtest::StrategyConfig&,
                                                        const market::SeriesKey&,
                                                        const market::Bar&, UnixNanos) override {
      return std::optional<backtest::BarSignal>();
    }
  } no_signals;
  backtest::PaperService paper;
  backtest::BacktestService backtests;
  std::unique_ptr<notify::TelegramBot> telegram;
  Metrics metrics;
  RouteTable routes;
  StreamHubPtr stream;
  std::unique_ptr<Pipeline> pipeline;
};

TestApi::TestApi(store::Database& db, Clock& clock, bool rate_limits)
    : p_(std::make_unique<Parts>(db, clock, rate_limits)) {}
TestApi::~TestApi() = default;

const RouteTable& TestApi::routes() const { return p_->routes; }
accounts::AccountService& TestApi::accounts() { return p_->accounts; }
billing::PlanStore& TestApi::plans() { return p_->plans; }
billing::Subscriptions& TestApi::subscriptions() { return p_->subscriptions; }
billing::Entitlements& TestApi::entitlements() { return p_->entitlements; }
billing::MeteredCalls& TestApi::metered() { return p_->metered; }
billing::Meter& TestApi::meter() { return p_->meter; }
store::BarStore& TestApi::bars() { return p_->bars; }
models::ModelService& TestApi::models() { return p_->models; }
signals::SignalService& TestApi::signals() { return p_->signal_service; }
signals::DbSignalLog& TestApi::signal_log() { return p_->signal_log; }

TestApi::Tenant TestApi::NewTenant(const std::string& name, const std::string& plan) {
  Tenant t;
  auto reg = p_->accounts.Register({.tenant_name = name,
                                    .email = name + "@tenants.test",
                                    .password = "correct horse battery",
                                    .display_name = "Owner"});
  EXPECT_TRUE(reg.ok()) << reg.error().ToString();
  if (!reg.ok()) return t;
  t.id = reg->first.tenant;
  t.token = reg->second.access_token;
  auto principal = p_->accounts.AuthenticateAccessToken(t.token);
  EXPECT_TRUE(principal.ok());
  auto key = p_->accounts.CreateApiKey(*principal, "test", {}, std::nullopt);
  EXPECT_TRUE(key.ok()) << key.error().ToString();
  if (key.ok()) t.api_key = key->secret;
  Status changed = p_->subscriptions.ChangePlan(t.id, plan, p_->clock.Now(), "test");
  EXPECT_TRUE(changed.ok()) << changed.ToString();
  return t;
}

Response TestApi::Call(const std::string& method, const std::string& target, Headers headers,
                       std::string body) {
  Request r;
  r.method = method;
  const size_t q = target.find('?');
  r.path = target.substr(0, q);
  if (q != std::string::npos) {
    std::string rest = target.substr(q + 1);
    size_t start = 0;
    while (start < rest.size()) {
      size_t amp = rest.find('&', start);
      if (amp == std::string::npos) amp = rest.size();
      const std::string item = rest.substr(start, amp - start);
      const size_t eq = item.find('=');
      r.query[item.substr(0, eq)] = eq == std::string::npos ? "" : item.substr(eq + 1);
      start = amp + 1;
    }
  }
  r.headers = std::move(headers);
  r.body = std::move(body);
  int index = -1;
  const auto& all = p_->routes.routes();
  for (size_t i = 0; i < all.size(); ++i) {
    std::map<std::string, std::string, std::less<>> params;
    if (all[i].method == method && MatchPattern(all[i].pattern, r.path, &params)) {
      index = static_cast<int>(i);
      r.params = std::move(params);
      break;
    }
  }
  return p_->pipeline->Handle(index, r);
}

std::string HeaderOf(const Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

}  // namespace sinyal::http::testing
