// Paper trading through the real binary (issue 12): a user's paper account follows live bars made
// from ticks, with the platform model's live signals; manual orders fill at the next bar; the
// order stream is readable by polling; bad input gets problem+json naming the field; another
// tenant sees nothing. SQLite and PostgreSQL.
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "e2e/harness.h"

namespace sinyal::e2e {
namespace {

using nlohmann::json;

class TradingE2E : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    SINYAL_REQUIRE_MARKET_DATA();
    ServerProcess::Options options;
    if (GetParam() == "postgresql") {
      SINYAL_REQUIRE_POSTGRES();
      options.database_url = testing::PostgresTestUrl();
    } else {
      options.database_url = "sqlite://" + (dir_.path() / "trading.db").string();
    }
    options.env = {{"SINYAL_WORKER_POLL_INTERVAL_MS", "100"}, {"SINYAL_MODELS_REPORT_FOLDS", "2"},
                   {"SINYAL_WORKER_XGBOOST_THREADS", "1"}};
    // The platform's series (6,000 real EURUSD H1 bars, to 2020-12-17) and its default model.
    symbol_ = UniqueSymbol("PT");
    const std::string err = IngestAndTrainPlatformModel(options.database_url, dir_.path().string(),
                                                        symbol_, 20, 1);
    ASSERT_TRUE(err.empty()) << err;
    std::string error;
    op_email_ = CreateOperator(options.database_url, (dir_.path() / "data").string(), &error);
    ASSERT_FALSE(op_email_.empty()) << error;
    server_ = std::make_unique<ServerProcess>(options);
    std::string why;
    ASSERT_TRUE(server_->Start(&why)) << why;
    client_ = std::make_unique<HttpClient>(server_->base_url());
    op_token_ = OperatorLogin(*client_, op_email_, &error);
    ASSERT_FALSE(op_token_.empty()) << error;
  }

  // Ticks through hour `h` of 2020-12-17 (UTC), one a minute around `price`.
  void PushHour(int h, double price) {
    json ticks = json::array();
    for (int m = 0; m < 60; m += 5) {
      char t[32];
      std::snprintf(t, sizeof t, "2020-12-17T%02d:%02d:10Z", h, m);
      ticks.push_back({{"symbol", symbol_}, {"time", t}, {"bid", price + m * 0.00001}});
    }
    auto r = client_->PostJson("/api/v1/market/ticks", {{"ticks", ticks}}, {Bearer(op_token_)});
    ASSERT_EQ(r.status, 200) << r.body;
  }

  // Moves a tenant to a plan (the Free plan's rate limit is too low for polling in a test).
  void SetPlan(const json& registered, const std::string& plan) {
    const int64_t tenant = registered["user"]["tenant"]["id"];
    auto r = client_->Request("PUT", "/api/v1/operator/tenants/" + std::to_string(tenant) + "/plan",
                              json{{"plan", plan}}.dump(), {Bearer(op_token_), "Content-Type: application/json"});
    ASSERT_EQ(r.status, 200) << r.body;
  }

  json Strategy(double threshold = 0.5) {
    return {{"symbols", {symbol_}},
            {"timeframe", "H1"},
            {"signal", {{"threshold", threshold}}},
            // The test's unique symbol is not a 6-letter pair: one unit per lot (order.h SpecFor).
            {"sizing", {{"mode", "fixed"}, {"lots", 1000}}},
            {"costs", {{"spread_points", 10}, {"commission_per_lot", 3.5}}}};
  }

  // Waits until `pred` holds for GET `path` (up to ~30 s).
  json WaitFor(const std::string& path, const std::string& token,
               const std::function<bool(const json&)>& pred) {
    json last;
    for (int i = 0; i < 300; ++i) {
      auto r = client_->Get(path, {Bearer(token)});
      last = r.Json();
      if (r.status == 200 && pred(last)) return last;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "timed out waiting on " << path << ": " << last.dump();
    return last;
  }

  void ExpectProblem(const HttpResult& r, long status, const std::string& field) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.Header("content-type"), "application/problem+json") << r.body;
    EXPECT_EQ(r.Json()["field"], field) << r.body;
  }

  testing::TempDir dir_;
  std::string symbol_, op_email_, op_token_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<HttpClient> client_;
};

TEST_P(TradingE2E, PaperAccountFollowsLiveBarsWithManualOrdersAndTheStream) {
  json a = RegisterTenant(*client_, "trader");
  json b = RegisterTenant(*client_, "other");
  const std::string ta = a["access_token"], tb = b["access_token"];
  SetPlan(a, "enterprise");
  SetPlan(b, "enterprise");

  // Bad input: problem+json naming the field, nothing created.
  json s = Strategy(1.2);
  ExpectProblem(client_->PostJson("/api/v1/paper-accounts", {{"strategy", s}}, {Bearer(ta)}), 422,
                "strategy.signal.threshold");
  s = Strategy();
  s["costs"]["spread_points"] = -1;
  ExpectProblem(client_->PostJson("/api/v1/paper-accounts", {{"strategy", s}}, {Bearer(ta)}), 422,
                "strategy.costs.spread_points");
  s = Strategy();
  s["symbols"] = {UniqueSymbol("NO")};
  ExpectProblem(client_->PostJson("/api/v1/paper-accounts", {{"strategy", s}}, {Bearer(ta)}), 422,
                "strategy.symbols[0]");
  s = Strategy();
  s["period"] = {{"from", "2021-01-01"}, {"to", "2021-01-01"}};
  ExpectProblem(client_->PostJson("/api/v1/paper-accounts", {{"strategy", s}}, {Bearer(ta)}), 422,
                "strategy.period");
  ExpectProblem(client_->PostJson("/api/v1/paper-accounts",
                                  {{"strategy", Strategy()}, {"name", std::string(10 << 20, 'x')}},
                                  {Bearer(ta)}),
                413, "body");
  ExpectProblem(client_->PostJson("/api/v1/paper-accounts", {{"strategy", Strategy()}, {"balance", 5}},
                                  {Bearer(ta)}),
                422, "balance");
  EXPECT_TRUE(client_->Get("/api/v1/paper-accounts", {Bearer(ta)}).Json()["accounts"].empty());

  auto created = client_->PostJson("/api/v1/paper-accounts",
                                   {{"name", "demo"}, {"strategy", Strategy()}, {"initial_balance", 5000}},
                                   {Bearer(ta)});
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id = std::to_string(created.Json()["id"].get<int64_t>());
  const std::string base = "/api/v1/paper-accounts/" + id;
  EXPECT_EQ(created.Json()["equity"], 5000.0);
  EXPECT_EQ(created.Json()["trading_state"], "active");

  // A manual limit order far below the market, and malformed ones.
  auto order = client_->PostJson(base + "/orders",
                                 {{"symbol", symbol_}, {"side", "buy"}, {"type", "limit"},
                                  {"price", 0.5}, {"quantity", 10000}},
                                 {Bearer(ta)});
  ASSERT_EQ(order.status, 201) << order.body;
  EXPECT_EQ(order.Json()["status"], "working");
  EXPECT_EQ(order.Json()["role"], "manual");
  ExpectProblem(client_->PostJson(base + "/orders", {{"symbol", symbol_}, {"side", "hold"}, {"quantity", 1}},
                                  {Bearer(ta)}),
                422, "side");
  ExpectProblem(client_->PostJson(base + "/orders",
                                  {{"symbol", symbol_}, {"side", "buy"}, {"quantity", 10000}, {"type", "limit"}},
                                  {Bearer(ta)}),
                422, "price");
  ExpectProblem(client_->PostJson(base + "/orders", {{"symbol", "GBPUSD"}, {"side", "buy"}, {"quantity", 10000}},
                                  {Bearer(ta)}),
                422, "symbol");

  // Live bars: ticks through 02:00-04:59 UTC close the 02:00 and 03:00 H1 bars (the feed's timer
  // closes the 04:00 one). The platform model's signal at the 02:00 close (threshold 0.5: always a
  // direction) makes the strategy enter at the 03:00 open.
  for (int h = 2; h <= 4; ++h) PushHour(h, 1.2180 + h * 0.0005);
  json fills = WaitFor(base + "/fills", ta, [](const json& j) { return !j["fills"].empty(); });
  ASSERT_FALSE(fills["fills"].empty())
      << client_->Get(base, {Bearer(ta)}).body << "\n"
      << client_->Get(base + "/events", {Bearer(ta)}).body << "\n"
      << [&] {
           std::string out, log = server_->Log();
           size_t pos = 0;
           while ((pos = log.find("paper", pos)) != std::string::npos) {
             const size_t a = log.rfind('\n', pos), b = log.find('\n', pos);
             out += log.substr(a + 1, b - a) ;
             pos = b;
           }
           return out;
         }();
  const json& first = fills["fills"].back();  // newest first
  EXPECT_EQ(first["role"], "entry");
  EXPECT_EQ(first["time"], "2020-12-17T03:00:00Z");  // the open of the bar after the signal's
  EXPECT_EQ(first["quantity"], 1000.0);
  json account = WaitFor(base, ta, [](const json& j) { return !j["last_bar_time"].is_null(); });
  EXPECT_GE(account["positions"].size(), 0u);
  // The order carries the id of the live signal it came from.
  auto orders = client_->Get(base + "/orders?status=all&limit=10", {Bearer(ta)});
  ASSERT_EQ(orders.status, 200) << orders.body;
  bool tagged = false;
  const json listed = orders.Json();
  for (const auto& o : listed["orders"]) {
    if (o["role"] == "entry" && !o["tag"].get<std::string>().empty()) tagged = true;
  }
  EXPECT_TRUE(tagged) << orders.body;
  // The stream: the manual order first, then the strategy's entry and its fill, in sequence.
  auto events = client_->Get(base + "/events?after=0&limit=100", {Bearer(ta)});
  ASSERT_EQ(events.status, 200) << events.body;
  const json ev = events.Json()["events"];
  ASSERT_GE(ev.size(), 3u);
  for (size_t i = 0; i < ev.size(); ++i) EXPECT_EQ(ev[i]["seq"], static_cast<int64_t>(i + 1));
  EXPECT_EQ(ev[0]["type"], "order_accepted");
  EXPECT_EQ(ev[0]["order"]["role"], "manual");
  bool filled = false;
  for (const auto& e : ev) filled |= e["type"] == "order_filled";
  EXPECT_TRUE(filled);
  EXPECT_EQ(events.Json()["next_after"], ev.back()["seq"]);
  auto equity = client_->Get(base + "/equity", {Bearer(ta)});
  ASSERT_EQ(equity.status, 200);
  EXPECT_FALSE(equity.Json()["equity"].empty());
  // Cancel the manual order.
  const std::string oid = std::to_string(order.Json()["id"].get<int64_t>());
  auto cancelled = client_->Request("DELETE", base + "/orders/" + oid, "", {Bearer(ta)});
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  EXPECT_EQ(cancelled.Json()["status"], "cancelled");
  EXPECT_EQ(client_->Request("DELETE", base + "/orders/" + oid, "", {Bearer(ta)}).status, 409);

  // Another tenant sees nothing.
  EXPECT_EQ(client_->Get(base, {Bearer(tb)}).status, 404);
  EXPECT_EQ(client_->Get(base + "/events", {Bearer(tb)}).status, 404);
  EXPECT_EQ(client_->PostJson(base + "/reset", json::object(), {Bearer(tb)}).status, 404);

  // Close positions, reset, close.
  ASSERT_EQ(client_->PostJson(base + "/close-positions", json::object(), {Bearer(ta)}).status, 200);
  auto reset = client_->PostJson(base + "/reset", json::object(), {Bearer(ta)});
  ASSERT_EQ(reset.status, 200) << reset.body;
  EXPECT_EQ(reset.Json()["equity"], 5000.0);
  EXPECT_TRUE(client_->Get(base + "/fills", {Bearer(ta)}).Json()["fills"].empty());
  auto closed = client_->Request("DELETE", base, "", {Bearer(ta)});
  ASSERT_EQ(closed.status, 200) << closed.body;
  EXPECT_EQ(closed.Json()["status"], "closed");
}

INSTANTIATE_TEST_SUITE_P(Backends, TradingE2E, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace sinyal::e2e
