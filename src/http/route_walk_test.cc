// The Free-key route walk (issue 10): every route of the OpenAPI document is called with a Free
// tenant's API key (its owner's access token where a route takes users only), against a platform
// model serving real signals on one series, with the clock half an hour after the newest bar
// closed (Free's data delay is one hour). Each route has its rule written below, and the walk
// checks it:
//   metered       returns a signal or feature values: each answer that carries data is charged
//                 (units grow by one per call) and no data in it is newer than Free's delay
//   track record  resolved signals only, each with an outcome older than Free's delay: free
//   aggregate     statistics of resolved signals (no signal, no probability): free
//   gated         refused to Free (403)
//   no data       answers no signal, probability or feature values (checked: none of their keys
//                 appears anywhere in the body): free
//   operator      operators only (the Free key is refused)
// A route of the document without a rule fails the walk. Then the Free tenant uses its whole
// quota, and the walk shows that no route gives it one more metered answer, and that the
// ledger holds exactly the quota (units can't be exceeded through any route).
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "billing/meter.h"
#include "core/testing/test_util.h"
#include "core/time.h"
#include "http/api.h"
#include "http/testing/test_api.h"
#include "market/bar.h"
#include "models/service.h"
#include "models/testing/synthetic.h"
#include "signals/db_signal_log.h"
#include "signals/service.h"
#include "store/bar_store.h"
#include "store/database.h"
#include "store/testing/test_db.h"

namespace sinyal::http {
namespace {

using nlohmann::json;

enum class Rule { kMetered, kTrackRecord, kAggregate, kGated, kNoData, kOperator };

const char* RuleName(Rule r) {
  switch (r) {
    case Rule::kMetered:
      return "metered";
    case Rule::kTrackRecord:
      return "track record";
    case Rule::kAggregate:
      return "aggregate";
    case Rule::kGated:
      return "gated";
    case Rule::kNoData:
      return "no data";
    case Rule::kOperator:
      return "operator";
  }
  return "?";
}

// One call of the walk: the route's rule and a request that reaches its handler.
struct Walk {
  Rule rule;
  std::string target;       // path and query with the route's parameters filled in
  json body;                // POST/PUT/PATCH body (null: none)
  bool user_token = false;  // the owner's access token instead of the API key
};

std::vector<market::Bar> Bars(size_t n, uint64_t seed) {
  return models::testing::SyntheticMarketBars(n, seed);
}

// Keys that carry a signal, a probability or feature values in any answer of the API.
bool HasSignalData(const json& j) {
  static const std::set<std::string> kKeys = {"p_up",        "prediction", "confidence",
                                              "probability", "intervals",  "expected_return",
                                              "vectors",     "signals"};
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      if (kKeys.count(k) || HasSignalData(v)) return true;
    }
  } else if (j.is_array()) {
    for (const auto& v : j) {
      if (HasSignalData(v)) return true;
    }
  }
  return false;
}

class FreeRouteWalkTest : public ::testing::Test {
 protected:
  static constexpr int64_t kHour = 3600 * kNanosPerSecond;
  static constexpr size_t kTrain = 6000, kLive = 30;

  void SetUp() override {
    db_ = store::testing::OpenMemoryDatabase();
    ASSERT_NE(db_, nullptr);
    api_ = std::make_unique<testing::TestApi>(*db_, clock_);
    // A platform model on EURUSD H1 (synthetic bars), then kLive bars closing one by one: the
    // live signal path issues a signal at each and resolves the earlier ones.
    all_ = Bars(kTrain + kLive, 11);
    const market::SeriesKey key{"EURUSD", market::Timeframe::kH1};
    ASSERT_OK(api_->bars().Import(store::SeriesOwner::Platform(), key,
                                  std::span(all_).first(kTrain), {}));
    auto trained =
        api_->models().Train(models::kPlatformTenant, {.series = {"EURUSD", market::Timeframe::kH1},
                                                       .overrides = {{"trees", 15}},
                                                       .activate = true,
                                                       .actor = "test"});
    ASSERT_OK(trained.status());
    clock_.Set(all_[kTrain - 1].time() + kHour);
    const TenantId early = api_->NewTenant("early", "free").id;  // loads the series' window
    ASSERT_OK(
        api_->signals().Latest(early, {"EURUSD", market::Timeframe::kH1}, clock_.Now()).status());
    for (size_t i = kTrain; i < all_.size(); ++i) {
      clock_.Set(all_[i].time() + kHour);
      ASSERT_OK(
          api_->bars().Import(store::SeriesOwner::Platform(), key, std::span(&all_[i], 1), {}));
      api_->signals().OnBarClosed(key, all_[i]);
    }
    // Half an hour after the newest bar closed: Free (one hour's delay) may see bars closed by
    // `not_after_`, i.e. up to the one before the newest.
    clock_.Set(all_.back().time() + kHour + kHour / 2);
    not_after_ = clock_.Now() - kHour;
    free_ = api_->NewTenant("walker", "free");  // signed in now (access tokens expire)
    // Signals of the log, newest first: the newest is too new for Free, the next is an open
    // forecast for Free (its outcome bar closed after not_after_), older ones are track record.
    signals::SignalListQuery q;
    q.limit = 50;
    auto list = api_->signal_log().ListVisible(free_.id, q);
    ASSERT_OK(list);
    ASSERT_GE(list->size(), kLive);
    for (const auto& s : *list) {
      const UnixNanos close = s.signal.bar_time() + kHour;
      const bool outcome_seen =
          s.resolution && s.resolution->resolved_bar_time + kHour <= not_after_;
      if (close > not_after_ && too_new_id_.empty()) too_new_id_ = s.signal.id();
      if (close <= not_after_ && !outcome_seen && open_id_.empty()) open_id_ = s.signal.id();
      if (outcome_seen && resolved_id_.empty()) resolved_id_ = s.signal.id();
    }
    ASSERT_FALSE(too_new_id_.empty());
    ASSERT_FALSE(open_id_.empty());
    ASSERT_FALSE(resolved_id_.empty());
  }

  // The rule of every route of the document, and a request that reaches its handler.
  std::map<std::string, std::vector<Walk>> Rules() const {
    const std::string series = "symbol=EURUSD&timeframe=H1";
    const std::string version = "/api/v1/models/EURUSD/H1/versions/1";
    const json predict = {{"symbol", "EURUSD"}, {"timeframe", "H1"}};
    return {
        // The system, the public plan list and signing in: no data of a plan.
        {"GET /healthz", {{Rule::kNoData, "/healthz"}}},
        {"GET /readyz", {{Rule::kNoData, "/readyz"}}},
        {"GET /metrics", {{Rule::kNoData, "/metrics"}}},
        {"GET /api/v1/openapi.json", {{Rule::kNoData, "/api/v1/openapi.json"}}},
        {"GET /docs", {{Rule::kNoData, "/docs"}}},
        {"GET /docs/redoc.standalone.js", {{Rule::kNoData, "/docs/redoc.standalone.js"}}},
        {"GET /api/v1/plans", {{Rule::kNoData, "/api/v1/plans"}}},
        {"POST /api/v1/auth/register", {{Rule::kNoData, "/api/v1/auth/register", json::object()}}},
        {"POST /api/v1/auth/login", {{Rule::kNoData, "/api/v1/auth/login", json::object()}}},
        {"POST /api/v1/auth/refresh", {{Rule::kNoData, "/api/v1/auth/refresh", json::object()}}},
        {"POST /api/v1/auth/logout", {{Rule::kNoData, "/api/v1/auth/logout", json::object()}}},
        {"POST /api/v1/operator/login",
         {{Rule::kNoData, "/api/v1/operator/login", json::object()}}},
        // The tenant's own account, keys, members, usage and invoices.
        {"GET /api/v1/me", {{Rule::kNoData, "/api/v1/me"}}},
        {"GET /api/v1/api-keys", {{Rule::kNoData, "/api/v1/api-keys"}}},
        {"POST /api/v1/api-keys", {{Rule::kNoData, "/api/v1/api-keys", json::object(), true}}},
        {"GET /api/v1/api-keys/{id}", {{Rule::kNoData, "/api/v1/api-keys/999999"}}},
        {"DELETE /api/v1/api-keys/{id}", {{Rule::kNoData, "/api/v1/api-keys/999999"}}},
        {"GET /api/v1/members", {{Rule::kNoData, "/api/v1/members"}}},
        {"POST /api/v1/members", {{Rule::kNoData, "/api/v1/members", json::object(), true}}},
        {"PATCH /api/v1/members/{id}",
         {{Rule::kNoData, "/api/v1/members/999999", json::object(), true}}},
        {"DELETE /api/v1/members/{id}", {{Rule::kNoData, "/api/v1/members/999999", json(), true}}},
        {"GET /api/v1/usage", {{Rule::kNoData, "/api/v1/usage"}}},
        {"GET /api/v1/audit", {{Rule::kNoData, "/api/v1/audit", json(), true}}},
        {"GET /api/v1/invoices", {{Rule::kNoData, "/api/v1/invoices"}}},
        // Market data: bars are the input data, not what plans sell (signals, probabilities,
        // feature values): free and not delayed (docs/billing.md). Imports are the tenant's own.
        {"GET /api/v1/market/bars",
         {{Rule::kNoData, "/api/v1/market/bars?" + series + "&limit=5"}}},
        {"GET /api/v1/market/series", {{Rule::kNoData, "/api/v1/market/series"}}},
        {"POST /api/v1/market/bars/import",
         {{Rule::kNoData, "/api/v1/market/bars/import?" + series}}},
        {"GET /api/v1/feature-sets", {{Rule::kNoData, "/api/v1/feature-sets"}}},
        {"POST /api/v1/feature-sets", {{Rule::kNoData, "/api/v1/feature-sets", json::object()}}},
        // Feature values: metered, at the plan's delay (the latest, and a range over the newest bars).
        {"GET /api/v1/business/features",
         {{Rule::kMetered, "/api/v1/business/features?" + series},
          {Rule::kMetered, "/api/v1/business/features?" + series +
                               "&from=" + FormatIso8601(all_[all_.size() - 5].time())}}},
        // Models: configuration, jobs, versions and their evaluation reports (aggregates of the
        // walk-forward test, made at training time) of the tenant's own models.
        {"GET /api/v1/models/config", {{Rule::kNoData, "/api/v1/models/config?" + series}}},
        {"PUT /api/v1/models/config", {{Rule::kNoData, "/api/v1/models/config", json::object()}}},
        {"POST /api/v1/models/train", {{Rule::kNoData, "/api/v1/models/train", json::object()}}},
        {"GET /api/v1/jobs/{id}", {{Rule::kNoData, "/api/v1/jobs/999999"}}},
        {"GET /api/v1/models", {{Rule::kNoData, "/api/v1/models?" + series}}},
        {"GET /api/v1/models/{symbol}/{timeframe}/versions/{version}", {{Rule::kNoData, version}}},
        {"POST /api/v1/models/{symbol}/{timeframe}/versions/{version}/activate",
         {{Rule::kNoData, version + "/activate", json::object()}}},
        {"POST /api/v1/models/{symbol}/{timeframe}/rollback",
         {{Rule::kNoData, "/api/v1/models/EURUSD/H1/rollback", json::object()}}},
        {"GET /api/v1/models/{symbol}/{timeframe}/versions/{version}/report",
         {{Rule::kNoData, version + "/report"}}},
        {"GET /api/v1/models/{symbol}/{timeframe}/versions/{version}/report/reliability.svg",
         {{Rule::kNoData, version + "/report/reliability.svg"}}},
        {"GET /api/v1/models/{symbol}/{timeframe}/versions/{version}/report/coverage.svg",
         {{Rule::kNoData, version + "/report/coverage.svg"}}},
        {"GET /api/v1/models/{symbol}/{timeframe}/retraining",
         {{Rule::kNoData, "/api/v1/models/EURUSD/H1/retraining"}}},
        {"POST /api/v1/models/{symbol}/{timeframe}/retraining/check",
         {{Rule::kNoData, "/api/v1/models/EURUSD/H1/retraining/check", json::object()}}},
        // Signals.
        {"GET /api/v1/signals/latest", {{Rule::kMetered, "/api/v1/signals/latest?" + series}}},
        {"GET /api/v1/signals/performance",
         {{Rule::kAggregate, "/api/v1/signals/performance?" + series}}},
        {"GET /api/v1/signals",
         {{Rule::kTrackRecord, "/api/v1/signals"},
          {Rule::kTrackRecord, "/api/v1/signals?" + series + "&limit=3"}}},
        {"GET /api/v1/signals/{id}",
         {{Rule::kGated, "/api/v1/signals/" + too_new_id_},
          {Rule::kMetered, "/api/v1/signals/" + open_id_},
          {Rule::kTrackRecord, "/api/v1/signals/" + resolved_id_}}},
        {"GET /api/v1/market/correlations",
         {{Rule::kGated, "/api/v1/market/correlations?symbols=EURUSD,GBPUSD&timeframe=H1"}}},
        {"GET /api/v1/market/indicator-odds",
         {{Rule::kGated, "/api/v1/market/indicator-odds?" + series + "&states=rsi<30"}}},
        // Telegram (issue 14): linking and alert rules of the signed-in user; alerts need the
        // plan's "telegram" feature (Free: 403). Signals reach the chat only through alerts.
        {"GET /api/v1/telegram/link", {{Rule::kNoData, "/api/v1/telegram/link", json(), true}}},
        {"POST /api/v1/telegram/link",
         {{Rule::kNoData, "/api/v1/telegram/link", json::object(), true}}},
        {"DELETE /api/v1/telegram/link", {{Rule::kNoData, "/api/v1/telegram/link", json(), true}}},
        {"DELETE /api/v1/telegram/groups/{chat_id}",
         {{Rule::kNoData, "/api/v1/telegram/groups/-100123", json(), true}}},
        {"GET /api/v1/telegram/alerts", {{Rule::kNoData, "/api/v1/telegram/alerts", json(), true}}},
        {"POST /api/v1/telegram/alerts",
         {{Rule::kGated,
           "/api/v1/telegram/alerts",
           {{"symbol", "EURUSD"}, {"timeframe", "H1"}, {"min_confidence", 0.6}},
           true}}},
        {"PATCH /api/v1/telegram/alerts/{id}",
         {{Rule::kNoData, "/api/v1/telegram/alerts/999999", {{"muted", true}}, true}}},
        {"DELETE /api/v1/telegram/alerts/{id}",
         {{Rule::kNoData, "/api/v1/telegram/alerts/999999", json(), true}}},
        {"POST /api/v1/telegram/webhook",
         {{Rule::kNoData, "/api/v1/telegram/webhook", json::object()}}},
        // Backtests and paper accounts (issue 12): creating one needs the plan's "backtests" /
        // "paper_trading" (Free: 403); the rest reads the tenant's own runs and accounts, which a
        // Free tenant can't have (404), and never a live signal.
        {"POST /api/v1/backtests", {{Rule::kGated, "/api/v1/backtests", json::object()}}},
        {"GET /api/v1/backtests", {{Rule::kNoData, "/api/v1/backtests"}}},
        {"GET /api/v1/backtests/{id}", {{Rule::kNoData, "/api/v1/backtests/999999"}}},
        {"POST /api/v1/backtests/{id}/cancel",
         {{Rule::kNoData, "/api/v1/backtests/999999/cancel", json::object()}}},
        {"GET /api/v1/backtests/{id}/report", {{Rule::kNoData, "/api/v1/backtests/999999/report"}}},
        {"POST /api/v1/paper-accounts", {{Rule::kGated, "/api/v1/paper-accounts", json::object()}}},
        {"GET /api/v1/paper-accounts", {{Rule::kNoData, "/api/v1/paper-accounts"}}},
        {"GET /api/v1/paper-accounts/{id}", {{Rule::kNoData, "/api/v1/paper-accounts/999999"}}},
        {"DELETE /api/v1/paper-accounts/{id}", {{Rule::kNoData, "/api/v1/paper-accounts/999999"}}},
        {"GET /api/v1/paper-accounts/{id}/positions",
         {{Rule::kNoData, "/api/v1/paper-accounts/999999/positions"}}},
        {"GET /api/v1/paper-accounts/{id}/orders",
         {{Rule::kNoData, "/api/v1/paper-accounts/999999/orders"}}},
        {"POST /api/v1/paper-accounts/{id}/orders",
         {{Rule::kNoData, "/api/v1/paper-accounts/999999/orders", json::object()}}},
        {"DELETE /api/v1/paper-accounts/{id}/orders/{order_id}",
         {{Rule::kNoData, "/api/v1/paper-accounts/999999/orders/999999"}}},
        {"GET /api/v1/paper-accounts/{id}/fills",
         {{Rule::kNoData, "/api/v1/paper-accounts/999999/fills"}}},
        {"GET /api/v1/paper-accounts/{id}/trades",
         {{Rule::kNoData, "/api/v1/paper-accounts/999999/trades"}}},
        {"GET /api/v1/paper-accounts/{id}/equity",
         {{Rule::kNoData, "/api/v1/paper-accounts/999999/equity"}}},
        {"GET /api/v1/paper-accounts/{id}/events",
         {{Rule::kNoData, "/api/v1/paper-accounts/999999/events"}}},
        {"POST /api/v1/paper-accounts/{id}/close-positions",
         {{Rule::kNoData, "/api/v1/paper-accounts/999999/close-positions", json::object()}}},
        {"POST /api/v1/paper-accounts/{id}/reset",
         {{Rule::kNoData, "/api/v1/paper-accounts/999999/reset", json::object()}}},
        {"POST /api/v1/business/predict", {{Rule::kMetered, "/api/v1/business/predict", predict}}},
        {"POST /api/v1/user/predict", {{Rule::kMetered, "/api/v1/user/predict", predict, true}}},
        {"POST /api/v1/business/predict/batch",
         {{Rule::kGated, "/api/v1/business/predict/batch", {{"items", {predict}}}}}},
        {"GET /api/v1/stream/signals", {{Rule::kGated, "/api/v1/stream/signals"}}},
        // Self-service subscriptions and payments (issue 11): the tenant's own billing; no data
        // of a plan. The Midtrans notification and the SIMULATED sandbox take no tenant key.
        {"GET /api/v1/billing/subscription", {{Rule::kNoData, "/api/v1/billing/subscription"}}},
        {"POST /api/v1/billing/checkout",
         {{Rule::kNoData, "/api/v1/billing/checkout", json::object(), true}}},
        {"POST /api/v1/billing/cancel",
         {{Rule::kNoData, "/api/v1/billing/cancel", json::object(), true}}},
        {"GET /api/v1/billing/orders", {{Rule::kNoData, "/api/v1/billing/orders"}}},
        {"GET /api/v1/billing/orders/{id}", {{Rule::kNoData, "/api/v1/billing/orders/999999"}}},
        {"GET /api/v1/billing/invoices", {{Rule::kNoData, "/api/v1/billing/invoices"}}},
        {"POST /api/v1/billing/invoices/{id}/pay",
         {{Rule::kNoData, "/api/v1/billing/invoices/999999/pay", json::object(), true}}},
        {"GET /api/v1/billing/events", {{Rule::kNoData, "/api/v1/billing/events"}}},
        {"POST /api/v1/payments/midtrans/notification",
         {{Rule::kNoData, "/api/v1/payments/midtrans/notification", json::object()}}},
        {"POST /sandbox/midtrans/snap/v1/transactions",
         {{Rule::kNoData, "/sandbox/midtrans/snap/v1/transactions", json::object()}}},
        {"GET /sandbox/midtrans/v2/{order_id}/status",
         {{Rule::kNoData, "/sandbox/midtrans/v2/none/status"}}},
        {"POST /sandbox/midtrans/v2/{order_id}/cancel",
         {{Rule::kNoData, "/sandbox/midtrans/v2/none/cancel", json::object()}}},
        {"POST /sandbox/midtrans/v2/{order_id}/refund",
         {{Rule::kNoData, "/sandbox/midtrans/v2/none/refund", json::object()}}},
        {"GET /sandbox/midtrans/pay/{token}", {{Rule::kNoData, "/sandbox/midtrans/pay/none"}}},
        {"POST /sandbox/midtrans/pay/{token}/{action}",
         {{Rule::kNoData, "/sandbox/midtrans/pay/none/pay", json::object()}}},
        {"GET /sandbox/midtrans/transactions", {{Rule::kNoData, "/sandbox/midtrans/transactions"}}},
        // Operators only.
        {"GET /api/v1/operator/tenants/{id}/orders",
         {{Rule::kOperator, "/api/v1/operator/tenants/1/orders"}}},
        {"GET /api/v1/operator/tenants/{id}/payments",
         {{Rule::kOperator, "/api/v1/operator/tenants/1/payments"}}},
        {"POST /api/v1/operator/orders/{id}/refund",
         {{Rule::kOperator, "/api/v1/operator/orders/1/refund", json::object()}}},
        {"GET /api/v1/operator/analytics/subscriptions",
         {{Rule::kOperator, "/api/v1/operator/analytics/subscriptions"}}},
        {"GET /api/v1/operator/me", {{Rule::kOperator, "/api/v1/operator/me"}}},
        {"GET /api/v1/operator/feed-keys", {{Rule::kOperator, "/api/v1/operator/feed-keys"}}},
        {"POST /api/v1/operator/feed-keys",
         {{Rule::kOperator, "/api/v1/operator/feed-keys", json::object()}}},
        {"DELETE /api/v1/operator/feed-keys/{id}",
         {{Rule::kOperator, "/api/v1/operator/feed-keys/1"}}},
        {"POST /api/v1/market/ticks", {{Rule::kOperator, "/api/v1/market/ticks", json::object()}}},
        {"GET /api/v1/market/feed", {{Rule::kOperator, "/api/v1/market/feed"}}},
        {"PUT /api/v1/operator/plans/{name}",
         {{Rule::kOperator, "/api/v1/operator/plans/free", json::object()}}},
        {"PATCH /api/v1/operator/plans/{name}",
         {{Rule::kOperator, "/api/v1/operator/plans/free", json::object()}}},
        {"PUT /api/v1/operator/tenants/{id}/plan",
         {{Rule::kOperator, "/api/v1/operator/tenants/1/plan", {{"plan", "enterprise"}}}}},
        {"GET /api/v1/operator/tenants", {{Rule::kOperator, "/api/v1/operator/tenants"}}},
        {"GET /api/v1/operator/models/health",
         {{Rule::kOperator, "/api/v1/operator/models/health"}}},
        {"GET /api/v1/operator/analytics/usage",
         {{Rule::kOperator, "/api/v1/operator/analytics/usage"}}},
        {"GET /api/v1/operator/analytics/top-tenants",
         {{Rule::kOperator, "/api/v1/operator/analytics/top-tenants"}}},
        {"GET /api/v1/operator/analytics/revenue",
         {{Rule::kOperator, "/api/v1/operator/analytics/revenue"}}},
        {"GET /api/v1/operator/analytics/burn-down",
         {{Rule::kOperator, "/api/v1/operator/analytics/burn-down"}}},
    };
  }

  Response Call(const std::string& method, const Walk& w) {
    Headers h;
    if (w.user_token) {
      h.emplace_back("authorization", "Bearer " + free_.token);
    } else {
      h.emplace_back("x-api-key", free_.api_key);
    }
    std::string body;
    if (!w.body.is_null()) {
      h.emplace_back("content-type", "application/json");
      body = w.body.dump();
    }
    return api_->Call(method, w.target, std::move(h), std::move(body));
  }

  int64_t Used() {
    api_->meter().Flush();
    auto u = api_->meter().Usage(free_.id, clock_.Now(), 0);
    EXPECT_TRUE(u.ok());
    return u.ok() ? (*u)["used"].get<int64_t>() : -1;
  }

  // The times of the data in a metered answer: a signal's bar close (its bar_time plus one period,
  // or a prediction's "timestamp"), each feature vector's bar close. At least one is checked.
  void ExpectNothingNewerThanTheDelay(const json& j, const std::string& what) {
    EXPECT_TRUE(j.contains("bar_time") || j.contains("timestamp") || j.contains("vectors"))
        << what << ": " << j.dump();
    if (j.contains("timestamp")) {
      auto t = ParseIso8601(j["timestamp"].get<std::string>());
      ASSERT_OK(t);
      EXPECT_LE(*t, not_after_) << what << ": " << j.dump();
    }
    if (j.contains("bar_time")) {
      auto t = ParseIso8601(j["bar_time"].get<std::string>());
      ASSERT_OK(t);
      EXPECT_LE(*t + kHour, not_after_) << what << ": " << j.dump();
    }
    if (j.contains("vectors")) {
      EXPECT_FALSE(j["vectors"].empty()) << what;
      for (const json& v : j["vectors"]) {
        auto t = ParseIso8601(v["time"].get<std::string>());
        ASSERT_OK(t);
        EXPECT_LE(*t + kHour, not_after_) << what << ": " << v.dump();
      }
    }
  }
  void ExpectTrackRecord(const json& s, const std::string& what) {
    ASSERT_TRUE(s.value("resolved", false)) << what << ": " << s.dump();
    auto t = ParseIso8601(s["resolution"]["resolved_bar_time"].get<std::string>());
    ASSERT_OK(t);
    EXPECT_LE(*t + kHour, not_after_) << what << ": outcome newer than the delay";
  }

  ManualClock clock_{1'700'000'000LL * kNanosPerSecond};
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<testing::TestApi> api_;
  std::vector<market::Bar> all_;
  UnixNanos not_after_ = 0;
  testing::TestApi::Tenant free_;
  std::string too_new_id_, open_id_, resolved_id_;
};

TEST_F(FreeRouteWalkTest, EveryRouteIsMeteredOrFreeByRuleAndNoneBeatsTheDelayOrTheQuota) {
  const auto rules = Rules();
  const json doc = json::parse(OpenApiDocument());
  std::set<std::string> documented;
  int metered_answers = 0;
  for (const auto& [path, item] : doc["paths"].items()) {
    for (const auto& [m, op] : item.items()) {
      if (m != "get" && m != "post" && m != "put" && m != "patch" && m != "delete") continue;
      std::string method = m;
      for (char& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      const std::string route = method + " " + path;
      documented.insert(route);
      auto it = rules.find(route);
      if (it == rules.end()) {
        ADD_FAILURE() << route << " has no rule in this walk: a route that returns a signal, a "
                      << "probability or feature values must be metered or free by a written rule "
                      << "(docs/billing.md), and the walk must call it";
        continue;
      }
      for (const Walk& w : it->second) {
        SCOPED_TRACE(route + " (" + RuleName(w.rule) + "): " + w.target);
        const int64_t before = Used();
        Response r = Call(method, w);
        const int64_t charged = Used() - before;
        const json j = json::parse(r.body, nullptr, false);
        switch (w.rule) {
          case Rule::kMetered:
            ASSERT_EQ(r.status, 200) << r.body;
            EXPECT_EQ(charged, 1) << r.body;
            EXPECT_EQ(j.value("cost_credits", 0), 1) << r.body;
            ExpectNothingNewerThanTheDelay(j, route);
            ++metered_answers;
            break;
          case Rule::kTrackRecord:
            ASSERT_EQ(r.status, 200) << r.body;
            EXPECT_EQ(charged, 0);
            if (j.contains("signals")) {
              EXPECT_FALSE(j["signals"].empty()) << r.body;
              for (const json& s : j["signals"]) ExpectTrackRecord(s, route);
            } else {
              ExpectTrackRecord(j, route);
            }
            break;
          case Rule::kAggregate:
            ASSERT_EQ(r.status, 200) << r.body;
            EXPECT_EQ(charged, 0);
            EXPECT_FALSE(j.contains("p_up")) << r.body;
            break;
          case Rule::kGated:
            EXPECT_EQ(r.status, 403) << r.body;
            EXPECT_NE(j.value("detail", "").find("requires plan"), std::string::npos) << r.body;
            EXPECT_EQ(charged, 0);
            break;
          case Rule::kNoData:
            EXPECT_EQ(charged, 0) << r.body;
            // (The OpenAPI document names those keys in its schemas.)
            if (!j.is_discarded() && w.target != "/api/v1/openapi.json")
              EXPECT_FALSE(HasSignalData(j)) << r.body;
            EXPECT_LT(r.status, 500) << r.body;
            break;
          case Rule::kOperator:
            EXPECT_TRUE(r.status == 401 || r.status == 403) << r.status << " " << r.body;
            EXPECT_EQ(charged, 0);
            break;
        }
      }
    }
  }
  for (const auto& [route, _] : rules)
    EXPECT_TRUE(documented.count(route)) << route << " is not in openapi.json";
  EXPECT_EQ(metered_answers, 6);

  // The whole quota, then no route gives one more metered answer, and the track record stays free.
  auto plan = api_->plans().Get("free");
  ASSERT_OK(plan);
  ASSERT_GT(plan->monthly_quota, 0);
  ASSERT_FALSE(plan->overage_allowed);
  int64_t used = Used();
  while (used < plan->monthly_quota) {
    Response r = Call("GET", {Rule::kMetered, "/api/v1/signals/latest?symbol=EURUSD&timeframe=H1"});
    ASSERT_EQ(r.status, 200) << r.body;
    ASSERT_EQ(Used(), ++used);
  }
  for (const auto& [route, walks] : rules) {
    for (const Walk& w : walks) {
      if (w.rule != Rule::kMetered) continue;
      SCOPED_TRACE(route + " at the quota: " + w.target);
      Response r = Call(route.substr(0, route.find(' ')), w);
      EXPECT_EQ(r.status, 402) << r.body;
    }
  }
  Response history =
      Call("GET", {Rule::kTrackRecord, "/api/v1/signals?symbol=EURUSD&timeframe=H1"});
  EXPECT_EQ(history.status, 200) << history.body;
  EXPECT_EQ(Used(), plan->monthly_quota);
}

}  // namespace
}  // namespace sinyal::http
