// Route registration for each area of the API. Handlers are thin: parse the request into a
// typed struct, call a domain function, map the result to JSON.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "accounts/accounts.h"
#include "backtest/fwd.h"
#include "billing/fwd.h"
#include "http/http.h"
#include "http/metrics.h"
#include "models/fwd.h"
#include "signals/fwd.h"
#include "store/fwd.h"

namespace sinyal::payments {
class PaymentService;
class MidtransSandbox;
}  // namespace sinyal::payments

namespace sinyal::notify {
class TelegramBot;
}  // namespace sinyal::notify

namespace sinyal::http {

// /api/v1/auth/*, /api/v1/operator/login, /api/v1/me, /api/v1/api-keys*, /api/v1/members*.
void AddAccountRoutes(RouteTable& routes, accounts::AccountService& accounts);

// GET /api/v1/audit: the security audit trail (store/security_audit.h; http/handlers/audit_api.cc).
// Owners read their organisation's, operators every organisation's. REQUIRES: db outlives the routes.
void AddAuditRoutes(RouteTable& routes, store::Database& db);

struct SystemDeps {
  std::function<Status()> ready;     // /readyz: OK when the database answers and not draining
  const Metrics* metrics = nullptr;  // /metrics
  std::string docs_assets_dir;       // directory holding redoc.standalone.js for /docs
  std::string version;               // build version for /healthz
};
// /healthz, /readyz, /metrics, /api/v1/openapi.json, /docs.
// REQUIRES: called last, after every other Add*Routes, so the OpenAPI check sees all routes.
void AddSystemRoutes(RouteTable& routes, SystemDeps deps);

// The OpenAPI 3.1 document served at /api/v1/openapi.json.
const std::string& OpenApiDocument();

// Positive integer id from a route parameter; NotFound(what) otherwise.
Result<int64_t> ParseIdParam(const Context& ctx, const std::string& name, const std::string& what);

struct BusinessDeps {
  signals::SignalService* signals = nullptr;  // required
  size_t max_batch_items = 100;               // Default: 100 items per batch call.
};
// POST /api/v1/business/predict, /api/v1/business/predict/batch and /api/v1/user/predict:
// http/handlers/business_api.cc (the seeds' prediction contract through the metered-call flow:
// plan gating, quota, idempotency; docs/api.md). Billable routes: the Pipeline needs
// PipelineOptions::metered. REQUIRES: every dependency outlives the routes.
void AddBusinessRoutes(RouteTable& routes, BusinessDeps deps);

struct BillingDeps {
  billing::PlanStore* plans = nullptr;              // required
  billing::Subscriptions* subscriptions = nullptr;  // required
  billing::Meter* meter = nullptr;                  // required
  billing::Invoices* invoices = nullptr;            // required: GET /api/v1/invoices
  billing::Analytics* analytics = nullptr;          // required: operator analytics
};
// GET /api/v1/plans, /api/v1/usage, /api/v1/invoices; operators: /api/v1/operator/plans/:name
// (PUT, PATCH), /api/v1/operator/tenants/:id/plan (PUT), /api/v1/operator/analytics/*:
// http/handlers/billing_api.cc. REQUIRES: every dependency outlives the routes.
void AddBillingRoutes(RouteTable& routes, BillingDeps deps);

struct PaymentDeps {
  payments::PaymentService* payments = nullptr;           // required
  billing::SubscriptionService* subscriptions = nullptr;  // required
  accounts::AccountService* accounts = nullptr;           // required: the customer's name/email
  store::Database* db = nullptr;                          // required: revenue figures
};
// Self-service subscriptions, payment orders, the Midtrans notification and the operators'
// payment routes: http/handlers/payments_api.cc (list in its file comment; docs/payments.md).
// REQUIRES: every dependency outlives the routes.
void AddPaymentRoutes(RouteTable& routes, PaymentDeps deps);

// The local Midtrans sandbox (SIMULATED) under `prefix` (e.g. "/sandbox/midtrans"): Snap and
// Core API endpoints, the pay page and its actions (http/handlers/midtrans_sandbox_api.cc,
// docs/payments.md "The sandbox"). REQUIRES: sandbox outlives the routes.
void AddMidtransSandboxRoutes(RouteTable& routes, payments::MidtransSandbox& sandbox,
                              const std::string& prefix);

class StreamHub;  // http/handlers/stream_api.cc
struct StreamHubDeleter {
  void operator()(StreamHub* hub) const;
};
using StreamHubPtr = std::unique_ptr<StreamHub, StreamHubDeleter>;
struct StreamDeps {
  signals::SignalService* signals = nullptr;  // required
  billing::MeteredCalls* metered = nullptr;   // required: one unit per pushed signal
  const Clock* clock = nullptr;               // required
  Metrics* metrics =
      nullptr;  // optional: sinyal_stream_undelivered_total; outlives the meter's callbacks
  // Optional: where a subscription's "resume_after" replays the signals a client missed; without
  // it "resume_after" is refused (422).
  const signals::DbSignalLog* log = nullptr;
};
// GET /api/v1/stream/signals: the WebSocket signal stream (http/handlers/stream_api.cc; protocol
// in its file comment and openapi.json). The returned hub owns the SignalService subscription and
// the thread that meters and pushes signals. REQUIRES: the hub outlives the server's use of the
// routes and is destroyed before the deps.
StreamHubPtr AddStreamRoutes(RouteTable& routes, StreamDeps deps);

struct MarketDeps {
  store::BarStore* bars = nullptr;             // required
  store::LiveFeed* feed = nullptr;             // required for ticks and the feed WebSocket
  models::FeatureService* features = nullptr;  // optional: feature-set and feature routes
  size_t max_import_bytes = 32u << 20;         // Default 32 MiB CSV upload.
  size_t max_ticks_per_batch = 10000;  // Default 10,000 ticks per POST or WebSocket message.
};
// /api/v1/market/bars/import, /api/v1/market/bars, /api/v1/market/ticks, /api/v1/market/feed
// (WebSocket) and, when deps.features is set, /api/v1/feature-sets and /api/v1/business/features.
void AddMarketRoutes(RouteTable& routes, MarketDeps deps);

// /api/v1/models/config, /api/v1/models/train, /api/v1/jobs/:id, /api/v1/models and
// /api/v1/models/:symbol/:timeframe/... (versions, activate, rollback, reports):
// http/handlers/models_api.cc. REQUIRES: service and jobs outlive the routes.
void AddModelRoutes(RouteTable& routes, models::ModelService& service, store::JobQueue& jobs);

// GET /api/v1/models/:symbol/:timeframe/retraining (the audit trail, tenant-scoped; ?owner=platform
// for the platform model's) and POST .../retraining/check (owners/admins: queue a retrain_check
// job): http/handlers/retraining_api.cc. REQUIRES: service and audit outlive the routes.
void AddRetrainingRoutes(RouteTable& routes, signals::RetrainingService& service,
                         signals::DbAuditLog& audit);

// The signal views (latest, history, one signal) omit what the caller's plan lacks, as the
// predict routes do: without "confidence" p_up, confidence, uncertainty and the Brier/log-loss of
// resolutions; without "intervals" the intervals, expected move and coverage; without "regime"
// the regime, drivers and model version; without "correlations" the cross-asset context. Each
// omitted part is listed in "gated" with the plan that has it. /signals/latest serves the plan's
// timeframes at its data delay; correlations need "correlations". They are billable routes (the
// metered-call flow: the Pipeline needs PipelineOptions::metered).
struct SignalsDeps {
  signals::SignalService* signals = nullptr;              // required
  signals::DbSignalLog* log = nullptr;                    // required: history and single signals
  store::BarStore* bars = nullptr;                        // required: correlations
  static constexpr size_t kMaxCorrelationSymbols = 10;    // symbols per correlations request
  static constexpr int64_t kMaxCorrelationWindow = 4000;  // returns (bars read: 5,000 per series)
  static constexpr size_t kMaxIndicatorStates = 8;        // states per indicator-odds request
  static constexpr size_t kMaxIndicatorHorizons = 5;      // horizons per indicator-odds request
  static constexpr size_t kIndicatorOddsBars = 30000;     // newest bars read (about 5 years of H1)
};
// GET /api/v1/signals/latest, /api/v1/signals (history with resolutions), /api/v1/signals/:id,
// /api/v1/signals/performance, /api/v1/market/correlations and /api/v1/market/indicator-odds
// (gated by "confidence"): http/handlers/signals_api.cc.
// REQUIRES: every dependency outlives the routes.
void AddSignalRoutes(RouteTable& routes, SignalsDeps deps);

struct OperatorDeps {
  accounts::AccountService* accounts = nullptr;     // required
  billing::Subscriptions* subscriptions = nullptr;  // required
  store::BarStore* bars = nullptr;                  // required
  signals::SignalService* signals = nullptr;        // required
  signals::DbSignalLog* log = nullptr;              // required
  signals::DbAuditLog* audit = nullptr;             // required
};
// GET /api/v1/operator/tenants and /api/v1/operator/models/health (read-only, operators' access
// tokens): http/handlers/operator_api.cc. REQUIRES: every dependency outlives the routes.
void AddOperatorRoutes(RouteTable& routes, OperatorDeps deps);

// /api/v1/telegram/link, /api/v1/telegram/groups/:chat_id, /api/v1/telegram/alerts[/:id] and the
// webhook POST /api/v1/telegram/webhook: http/handlers/telegram_api.cc. `bot` may be null (Telegram
// not configured): the routes then answer 503. REQUIRES: the bot outlives the routes.
void AddTelegramRoutes(RouteTable& routes, notify::TelegramBot* bot);
struct TradingDeps {
  backtest::BacktestService* backtests = nullptr;  // null: no /backtests routes
  backtest::PaperService* paper = nullptr;         // null: no /paper-accounts routes
};
// /api/v1/backtests* and /api/v1/paper-accounts*: http/handlers/trading_api.cc (docs/api.md
// "Backtests" and "Paper trading"). REQUIRES: every dependency outlives the routes.
void AddTradingRoutes(RouteTable& routes, TradingDeps deps);

}  // namespace sinyal::http
