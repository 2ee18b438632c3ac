// The OpenAPI document must describe every route the server registers (and nothing stale).
#include <set>

#include <nlohmann/json.hpp>

#include "accounts/accounts.h"
#include "backtest/paper.h"
#include "backtest/service.h"
#include "core/testing/test_util.h"
#include "billing/analytics.h"
#include "billing/invoices.h"
#include "billing/meter.h"
#include "billing/plans.h"
#include "billing/subscription_service.h"
#include "http/api.h"
#include "models/db_registry.h"
#include "models/service.h"
#include "payments/payment_service.h"
#include "payments/sandbox.h"
#include "signals/db_signal_log.h"
#include "signals/service.h"
#include "signals/db_audit_log.h"
#include "signals/retraining_job.h"
#include "store/bar_store.h"
#include "store/database.h"
#include "store/feature_set_store.h"
#include "store/job_queue.h"
#include "store/live_feed.h"

namespace sinyal::http {
namespace {

std::string ToOpenApiPath(const std::string& pattern) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == ':') {
      size_t j = pattern.find('/', i);
      if (j == std::string::npos) j = pattern.size();
      out += "{" + pattern.substr(i + 1, j - i - 1) + "}";
      i = j - 1;
    } else {
      out += pattern[i];
    }
  }
  return out;
}

TEST(OpenApiTest, DocumentsEveryRouteAndNoStaleOnes) {
  auto db = store::Database::Open({.url = "sqlite::memory:"});
  ASSERT_OK(db);
  ASSERT_OK((*db)->Migrate());
  ManualClock clock(1'700'000'000 * kNanosPerSecond);
  accounts::AccountService accounts(**db, clock, {.jwt_secret = std::string(32, 'k')});
  RouteTable routes;
  AddAccountRoutes(routes, accounts);
  store::BarStore bars(**db, clock);
  store::LiveFeed feed(bars, clock, {});
  store::FeatureSetStore sets(**db, clock);
  FeatureServicePtr features = MakeFeatureService(bars, sets);
  AddMarketRoutes(routes, {.bars = &bars, .feed = &feed, .features = features.get()});
  models::DbModelRegistry registry(**db, clock);
  store::JobQueue jobs(**db, clock);
  models::ModelService models(**db, bars, &sets, registry, &jobs, clock, {});
  AddModelRoutes(routes, models, jobs);
  signals::DbAuditLog audit(**db);
  signals::RetrainingService retraining(**db, bars, &sets, registry, &jobs, nullptr, audit, clock, {});
  AddRetrainingRoutes(routes, retraining, audit);
  signals::DbSignalLog signal_log(**db);
  signals::IntervalCalibrationStore calibrations(**db, bars, registry, &sets, clock);
  signals::SignalService signal_service(bars, registry, &sets, signal_log, calibrations, clock);
  AddSignalRoutes(routes, {.signals = &signal_service, .log = &signal_log, .bars = &bars});
  billing::PlanStore plans(**db, clock);
  billing::Subscriptions subscriptions(**db, plans, clock);
  billing::Meter meter(**db, subscriptions);
  AddBusinessRoutes(routes, {.plans = &plans, .subscriptions = &subscriptions, .meter = &meter,
                             .signals = &signal_service});
  billing::Invoices invoices(**db, subscriptions);
  billing::Analytics analytics(**db, subscriptions);
  AddBillingRoutes(routes, {.plans = &plans, .subscriptions = &subscriptions, .meter = &meter,
                            .invoices = &invoices, .analytics = &analytics});
  AddOperatorRoutes(routes, {.accounts = &accounts, .subscriptions = &subscriptions, .bars = &bars,
                             .signals = &signal_service, .log = &signal_log, .audit = &audit});
  StreamHubPtr stream = AddStreamRoutes(routes, {.signals = &signal_service, .meter = &meter,
                                                .subscriptions = &subscriptions, .plans = &plans, .clock = &clock});
  struct NoSignals : backtest::SignalSourceFactory, backtest::PaperSignalProvider {
    Status Validate(TenantId, const backtest::StrategyConfig&) override { return Status::Ok(); }
    Result<std::unique_ptr<backtest::SignalSource>> Create(
        TenantId, const backtest::StrategyConfig&, const std::vector<backtest::SeriesInput>&,
        const Progress&) override {
      return Status::Unavailable("none");
    }
    Result<std::optional<backtest::BarSignal>> SignalAt(TenantId, const backtest::StrategyConfig&,
                                                        const market::SeriesKey&,
                                                        const market::Bar&, UnixNanos) override {
      return std::optional<backtest::BarSignal>();
    }
  } no_signals;
  backtest::PaperService paper(**db, bars, no_signals, clock);
  backtest::BacktestService backtests(**db, bars, jobs, no_signals, clock);
  AddTradingRoutes(routes, {.backtests = &backtests, .paper = &paper});
  billing::SubscriptionService billing_accounts(**db, subscriptions);
  payments::MidtransSandbox sandbox({"SB-Mid-server-TEST", "http://127.0.0.1:1/sandbox/midtrans", "", 1.0}, clock);
  auto gateway = payments::MakeInProcessSandboxClient(sandbox);
  payments::PaymentService payment_service(**db, billing_accounts, *gateway, clock);
  AddPaymentRoutes(routes, {.payments = &payment_service, .subscriptions = &billing_accounts,
                            .accounts = &accounts, .db = db->get()});
  AddMidtransSandboxRoutes(routes, sandbox, "/sandbox/midtrans");
  AddSystemRoutes(routes, {});

  auto doc = nlohmann::json::parse(OpenApiDocument());
  EXPECT_EQ(doc["openapi"], "3.1.0");
  std::set<std::pair<std::string, std::string>> served;
  for (const Route& r : routes.routes()) {
    std::string path = ToOpenApiPath(r.pattern);
    std::string method = r.method;
    for (char& c : method) c = static_cast<char>(std::tolower(c));
    served.insert({path, method});
    ASSERT_TRUE(doc["paths"].contains(path)) << "route missing from openapi.json: " << r.method << " " << path;
    EXPECT_TRUE(doc["paths"][path].contains(method)) << "method missing from openapi.json: " << r.method << " " << path;
  }
  for (auto& [path, item] : doc["paths"].items()) {
    for (auto& [method, op] : item.items()) {
      EXPECT_TRUE(served.count({path, method})) << "openapi.json documents a route the server lacks: " << method << " " << path;
      EXPECT_TRUE(op.contains("responses")) << path;
    }
  }
}

}  // namespace
}  // namespace sinyal::http
