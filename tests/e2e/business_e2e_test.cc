// The business API over real HTTP against the real binary, on SQLite and PostgreSQL: a platform
// model is trained on a slice of real EURUSD H1 data (sinyal train --platform), then tenants on
// Free, Pro, Enterprise and operator-made plans call the seeds' prediction contract:
//   - the seeds' example request works and answers the seeds' fields;
//   - gating per plan: fields (omitted and listed in "gated"; 403 when insisted on through
//     "include"), timeframes (403 naming "timeframe" and the plan needed), batch (403 on Free);
//   - quota per plan: 402 at the quota without overage, overage charged at the plan's price with it;
//   - Idempotency-Key replays the first response without a second charge;
//   - hostile input: 4xx problem+json naming the field, never charged;
//   - GET /api/v1/usage equals the number of 2xx calls; GET /api/v1/plans lists IDR integers.
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "e2e/harness.h"

namespace sinyal::e2e {
namespace {

using nlohmann::json;

class BusinessE2E : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgresql") {
      SINYAL_REQUIRE_POSTGRES();
      url_ = testing::PostgresTestUrl();
    } else {
      url_ = "sqlite://" + (dir_.path() / "business.db").string();
    }
    // A platform series (a unique symbol: PostgreSQL runs share one database) and its default
    // models at horizons 1 (requests without prediction_horizon) and 24 bars (the seeds'
    // example); small trees to keep the test quick.
    sym_ = UniqueSymbol("EU");
    const std::string failed =
        IngestAndTrainPlatformModel(url_, dir_.path().string(), sym_, /*trees=*/20,
                                    /*horizons=*/{1, 24});
    ASSERT_EQ(failed, "");
    std::string error;
    op_email_ = CreateOperator(url_, (dir_.path() / "cli").string(), &error);
    ASSERT_FALSE(op_email_.empty()) << error;
    ServerProcess::Options options;
    options.database_url = url_;
    server_ = std::make_unique<ServerProcess>(options);
    std::string why;
    ASSERT_TRUE(server_->Start(&why)) << why;
    client_ = std::make_unique<HttpClient>(server_->base_url());
    op_token_ = OperatorLogin(*client_, op_email_, &error);
    ASSERT_FALSE(op_token_.empty()) << error;
  }

  struct Tenant {
    int64_t id = 0;
    std::string token;  // owner's access token
    std::string key;    // API key (scopes predict, read)
  };

  // A new tenant on `plan` with an API key.
  Tenant NewTenant(const std::string& name, const std::string& plan) {
    Tenant t;
    json reg = RegisterTenant(*client_, name);
    t.id = reg["user"]["tenant"]["id"];
    t.token = reg["access_token"];
    auto key = client_->PostJson("/api/v1/api-keys", {{"name", "business e2e"}}, {Bearer(t.token)});
    EXPECT_EQ(key.status, 201) << key.body;
    t.key = key.Json()["key"];
    if (plan != "free") SetPlan(t, plan);
    return t;
  }

  void SetPlan(const Tenant& t, const std::string& plan) {
    auto r = client_->Request("PUT", "/api/v1/operator/tenants/" + std::to_string(t.id) + "/plan",
                              json{{"plan", plan}}.dump(),
                              {Bearer(op_token_), "Content-Type: application/json"});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.Json()["plan"], plan);
  }

  // Operator: creates (PUT) or changes (PATCH) a plan.
  HttpResult EditPlan(const std::string& method, const std::string& name, const json& body) {
    return client_->Request(method, "/api/v1/operator/plans/" + name, body.dump(),
                            {Bearer(op_token_), "Content-Type: application/json"});
  }

  // A POST that waits out 429s (Free allows one call a second after a burst of 5): the test is
  // about gating and metering, not the rate limit (tests/e2e/ratelimit_e2e_test.cc).
  HttpResult Post(const std::string& path, const std::string& body,
                  std::vector<std::string> headers,
                  const std::string& content_type = "application/json") {
    headers.push_back("Content-Type: " + content_type);
    HttpResult r;
    for (int attempt = 0; attempt < 20; ++attempt) {
      r = client_->Request("POST", path, body, headers);
      if (r.status != 429) return r;
      int wait = std::max(1, std::atoi(r.Header("retry-after").c_str()));
      std::this_thread::sleep_for(std::chrono::seconds(wait));
    }
    return r;
  }
  HttpResult Predict(const std::string& credential, const json& body,
                     std::vector<std::string> extra = {}) {
    extra.push_back(Bearer(credential));
    return Post("/api/v1/business/predict", body.dump(), extra);
  }

  json Seeds() const {
    return {{"symbol", sym_},
            {"timeframe", "1h"},
            {"prediction_type", "price_direction"},
            {"confidence_threshold", 0.7},
            {"prediction_horizon", 24}};
  }

  json PlanNamed(const std::string& name) {
    auto r = client_->Get("/api/v1/plans");
    EXPECT_EQ(r.status, 200) << r.body;
    const json doc = r.Json();
    for (const auto& p : doc["items"]) {
      if (p["name"] == name) return p;
    }
    ADD_FAILURE() << "no plan " << name << " in " << r.body;
    return json::object();
  }

  json Usage(const std::string& credential) {
    auto r = client_->Get("/api/v1/usage", {Bearer(credential)});
    EXPECT_EQ(r.status, 200) << r.body;
    return r.Json();
  }

  static void ExpectProblem(const HttpResult& r, long status, const std::string& field) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.Header("content-type"), "application/problem+json") << r.body;
    EXPECT_EQ(r.Json().value("field", ""), field) << r.body;
  }

  testing::TempDir dir_;
  std::string url_, sym_, op_email_, op_token_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<HttpClient> client_;
};

TEST_P(BusinessE2E, SeedsContractGatingIdempotencyAndUsage) {
  // --- plans: public, IDR integers ------------------------------------------------------------
  auto plans = client_->Get("/api/v1/plans");
  ASSERT_EQ(plans.status, 200) << plans.body;
  EXPECT_EQ(plans.Json()["currency"], "IDR");
  std::set<std::string> names;
  const json plan_list = plans.Json();
  for (const auto& p : plan_list["items"]) {
    names.insert(p["name"].get<std::string>());
    EXPECT_TRUE(p["price_idr"].is_number_integer()) << p.dump();
  }
  EXPECT_TRUE(names.count("free") && names.count("pro") && names.count("enterprise")) << plans.body;
  const json pro_plan = PlanNamed("pro");
  const json free_plan = PlanNamed("free");

  // --- Pro: the seeds' example request, with an API key ------------------------------------
  Tenant pro = NewTenant("pro-co", "pro");
  auto r = Predict(pro.key, Seeds());
  ASSERT_EQ(r.status, 200) << r.body << server_->Log();
  json j = r.Json();
  EXPECT_TRUE(j["prediction"] == "bullish" || j["prediction"] == "bearish" ||
              j["prediction"] == "neutral")
      << j;
  ASSERT_TRUE(j["confidence"].is_number()) << j;
  EXPECT_GE(j["confidence"].get<double>(), 0.5);
  EXPECT_LE(j["confidence"].get<double>(), 1.0);
  // Below the caller's threshold the answer abstains.
  if (j["confidence"].get<double>() < 0.7) EXPECT_EQ(j["prediction"], "neutral") << j;
  const std::string ts = j["timestamp"];
  ASSERT_EQ(ts.size(), 20u) << ts;  // 2023-01-26T10:00:00Z
  EXPECT_EQ(ts.back(), 'Z');
  EXPECT_EQ(ts.substr(14, 5), "00:00") << "an H1 bar closes on the hour: " << ts;
  EXPECT_TRUE(ts.rfind("2022-", 0) == 0 || ts.rfind("2023-", 0) == 0) << ts;
  EXPECT_TRUE(j["usage_cost"].is_number()) << j;
  EXPECT_EQ(j["usage_cost"].get<double>(), 0.0) << "within the quota";
  EXPECT_EQ(j["cost_credits"].get<double>(), 1.0);
  EXPECT_EQ(j["remaining_quota"].get<int64_t>(), pro_plan["monthly_quota"].get<int64_t>() - 1);
  EXPECT_EQ(j["prediction_horizon"], 24);
  EXPECT_EQ(j["symbol"], sym_);
  EXPECT_EQ(j["timeframe"], "H1");
  ASSERT_TRUE(j.contains("interval")) << j;
  for (const char* cov : {"80", "95"}) {
    ASSERT_TRUE(j["interval"].contains(cov)) << j;
    EXPECT_LT(j["interval"][cov]["low"].get<double>(), j["interval"][cov]["high"].get<double>());
  }
  EXPECT_LE(j["interval"]["95"]["low"].get<double>(), j["interval"]["80"]["low"].get<double>());
  EXPECT_TRUE(j.contains("expected_move"));
  EXPECT_TRUE(j["regime"]["name"].is_string()) << j;
  EXPECT_TRUE(j["drivers"].is_array());
  EXPECT_FALSE(j["model_version"].get<std::string>().empty());
  EXPECT_EQ(j["signal_id"].get<std::string>().size(), 16u);
  EXPECT_FALSE(j.contains("gated")) << "Pro has every prediction field";
  EXPECT_EQ(j["data_delay_seconds"], 0);
  // Per-stage timing of the prediction.
  const std::string timing = r.Header("server-timing");
  for (const char* stage : {"auth", "quota", "signal", "metering"}) {
    EXPECT_NE(timing.find(stage), std::string::npos) << timing;
  }
  EXPECT_FALSE(r.Header("ratelimit-limit").empty());
  int pro_ok = 1;

  // The users' route (JWT), with the default threshold and no horizon: the horizon chooses the
  // model, so the horizon-1 model answers for the same bar (another signal than the 24-bar one).
  auto ru = Post("/api/v1/user/predict", json{{"symbol", sym_}, {"timeframe", "H1"}}.dump(),
                 {Bearer(pro.token)});
  ASSERT_EQ(ru.status, 200) << ru.body;
  EXPECT_EQ(ru.Json()["prediction_horizon"], 1);
  EXPECT_NE(ru.Json()["signal_id"], j["signal_id"]);
  EXPECT_NE(ru.Json()["model_version"], j["model_version"]);
  EXPECT_EQ(ru.Json()["timestamp"], j["timestamp"]);
  EXPECT_EQ(ru.Json()["remaining_quota"].get<int64_t>(),
            pro_plan["monthly_quota"].get<int64_t>() - 2);
  ++pro_ok;
  // The signal routes choose the model by ?horizon= too (metered like predict).
  auto rl = client_->Get("/api/v1/signals/latest?symbol=" + sym_ + "&timeframe=H1&horizon=24",
                         {Bearer(pro.key)});
  ASSERT_EQ(rl.status, 200) << rl.body;
  EXPECT_EQ(rl.Json()["horizon"], 24) << rl.body;
  EXPECT_EQ(rl.Json()["id"], j["signal_id"]) << "the 24-bar model's signal of the same bar";
  ++pro_ok;
  ExpectProblem(client_->Get("/api/v1/signals/latest?symbol=" + sym_ + "&timeframe=H1&horizon=12",
                             {Bearer(pro.key)}),
                422, "horizon");
  // API keys can't use the users' route.
  ExpectProblem(Post("/api/v1/user/predict", Seeds().dump(), {Bearer(pro.key)}), 403, "");

  // --- idempotency: a replay returns the first response and charges nothing ----------------
  const std::string idem = "Idempotency-Key: order-" + UniqueSuffix();
  auto first = Predict(pro.key, Seeds(), {idem});
  ASSERT_EQ(first.status, 200) << first.body;
  ++pro_ok;
  auto again = Predict(pro.key, Seeds(), {idem});
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(again.Header("idempotent-replayed"), "true");
  EXPECT_TRUE(first.Header("idempotent-replayed").empty());
  // The same key with another request is refused.
  json other = Seeds();
  other["confidence_threshold"] = 0.6;
  ExpectProblem(Predict(pro.key, other, {idem}), 422, "Idempotency-Key");

  // --- failed calls are not charged ------------------------------------------------------
  json unknown = Seeds();
  unknown["symbol"] = UniqueSymbol("ZZ");
  ExpectProblem(Predict(pro.key, unknown), 404, "symbol");
  json wrong_horizon = Seeds();
  wrong_horizon["prediction_horizon"] = 5;
  auto wh = Predict(pro.key, wrong_horizon);
  ExpectProblem(wh, 422, "prediction_horizon");
  EXPECT_NE(wh.Json()["detail"].get<std::string>().find("available horizons: 1, 24"),
            std::string::npos)
      << wh.body;

  // --- batch (Pro has it): all-or-nothing, one unit per item -------------------------------
  json batch = {{"items", json::array({Seeds(), {{"symbol", sym_}, {"timeframe", "H1"}}})}};
  auto rb = Post("/api/v1/business/predict/batch", batch.dump(), {Bearer(pro.key)});
  ASSERT_EQ(rb.status, 200) << rb.body;
  EXPECT_EQ(rb.Json()["count"], 2);
  EXPECT_EQ(rb.Json()["cost_credits"].get<double>(), 2.0);
  ASSERT_EQ(rb.Json()["items"].size(), 2u);
  EXPECT_EQ(rb.Json()["items"][0]["signal_id"], j["signal_id"]);
  const int pro_batch_units = 2;
  json bad_batch = {{"items", json::array({Seeds(), unknown})}};
  ExpectProblem(Post("/api/v1/business/predict/batch", bad_batch.dump(), {Bearer(pro.key)}), 404,
                "items[1].symbol");

  // --- usage: exactly the 2xx calls ---------------------------------------------------------
  json usage = Usage(pro.key);
  EXPECT_EQ(usage["plan"], "pro");
  EXPECT_EQ(usage["used"], pro_ok + pro_batch_units) << usage;
  EXPECT_EQ(usage["calls"], pro_ok + 1) << usage;
  int64_t by_endpoint_units = 0;
  for (const auto& e : usage["by_endpoint"]) {
    by_endpoint_units += e["units"].get<int64_t>();
    if (e["endpoint"] == "business.predict") EXPECT_EQ(e["calls"], 2) << usage;
    if (e["endpoint"] == "user.predict") EXPECT_EQ(e["calls"], 1) << usage;
    if (e["endpoint"] == "business.predict.batch") EXPECT_EQ(e["units"], 2) << usage;
  }
  EXPECT_EQ(by_endpoint_units, pro_ok + pro_batch_units);
  int64_t by_day_units = 0;
  for (const auto& d : usage["by_day"]) by_day_units += d["units"].get<int64_t>();
  EXPECT_EQ(by_day_units, pro_ok + pro_batch_units);
  EXPECT_EQ(usage["remaining"],
            pro_plan["monthly_quota"].get<int64_t>() - pro_ok - pro_batch_units);
  ExpectProblem(client_->Get("/api/v1/usage?period=next", {Bearer(pro.key)}), 422, "period");

  // --- Free: direction only, delayed, H1/D1 only, no batch ----------------------------------
  Tenant free = NewTenant("free-co", "free");
  auto rf = Predict(free.key, Seeds());
  ASSERT_EQ(rf.status, 200) << rf.body;
  json fj = rf.Json();
  EXPECT_TRUE(fj["prediction"].is_string());
  EXPECT_FALSE(fj.contains("confidence")) << fj;
  EXPECT_FALSE(fj.contains("interval")) << fj;
  EXPECT_FALSE(fj.contains("regime")) << fj;
  EXPECT_FALSE(fj.contains("model_version")) << fj;
  EXPECT_EQ(fj["gated"]["confidence"], "requires plan pro") << fj;
  EXPECT_EQ(fj["gated"]["interval"], "requires plan pro") << fj;
  EXPECT_EQ(fj["data_delay_seconds"], free_plan["data_delay_seconds"]);
  EXPECT_EQ(fj["remaining_quota"].get<int64_t>(), free_plan["monthly_quota"].get<int64_t>() - 1);
  json insist = Seeds();
  insist["include"] = {"intervals"};
  auto ri = Predict(free.key, insist);
  ExpectProblem(ri, 403, "include[0]");
  EXPECT_NE(ri.Json()["detail"].get<std::string>().find("requires plan pro"), std::string::npos)
      << ri.body;
  json m15 = Seeds();
  m15["timeframe"] = "M15";
  auto rt = Predict(free.key, m15);
  ExpectProblem(rt, 403, "timeframe");
  EXPECT_NE(rt.Json()["detail"].get<std::string>().find("requires plan pro"), std::string::npos)
      << rt.body;
  // Pro may ask for M15 (no model for it here: 404, not 403).
  EXPECT_NE(Predict(pro.key, m15).status, 403);
  auto rfb = Post("/api/v1/business/predict/batch", batch.dump(), {Bearer(free.key)});
  ExpectProblem(rfb, 403, "items");
  EXPECT_NE(rfb.Json()["detail"].get<std::string>().find("requires plan pro"), std::string::npos)
      << rfb.body;
  // Correlations (entitlement correlations): Free is refused naming the plan; Pro gets past the gate.
  const std::string corr =
      "/api/v1/market/correlations?symbols=" + sym_ + "," + sym_.substr(0, 11) + "X&timeframe=H1";
  auto rc = client_->Get(corr, {Bearer(free.key)});
  ExpectProblem(rc, 403, "correlations");
  EXPECT_NE(rc.Json()["detail"].get<std::string>().find("requires plan pro"), std::string::npos)
      << rc.body;
  EXPECT_NE(client_->Get(corr, {Bearer(pro.key)}).status, 403);
  EXPECT_EQ(Usage(free.token)["used"], 1);

  // --- Enterprise: everything, unlimited ------------------------------------------------
  Tenant ent = NewTenant("ent-co", "enterprise");
  auto re = Predict(ent.key, Seeds());
  ASSERT_EQ(re.status, 200) << re.body;
  EXPECT_TRUE(re.Json()["remaining_quota"].is_null()) << re.body;
  EXPECT_TRUE(re.Json().contains("interval"));
  auto reb = Post("/api/v1/business/predict/batch", batch.dump(), {Bearer(ent.key)});
  ASSERT_EQ(reb.status, 200) << reb.body;
  EXPECT_EQ(Usage(ent.key)["used"], 3);
}

TEST_P(BusinessE2E, QuotaStopsOrChargesOverage) {
  const std::string stop = "tstop" + UniqueSuffix().substr(0, 8);
  const std::string over = "tover" + UniqueSuffix().substr(0, 8);
  // Test plans are priced above every real plan: on a shared PostgreSQL database the 403 problems
  // name the cheapest plan with a feature, which must stay a real one.
  const json base = {{"price_idr", 900000000}, {"monthly_quota", 2},
                     {"rate_per_second", 50},  {"burst", 50},
                     {"timeframes", {"H1"}},   {"features", {"realtime"}}};
  json stop_body = base;
  stop_body["overage_allowed"] = false;
  auto created = EditPlan("PUT", stop, stop_body);
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.Json()["monthly_quota"], 2);
  json over_body = base;
  over_body["overage_allowed"] = true;
  over_body["overage_price_idr"] = 700;
  ASSERT_EQ(EditPlan("PUT", over, over_body).status, 201);
  // Only operators edit plans; bad fields are named.
  Tenant a = NewTenant("quota-stop", stop);
  Tenant b = NewTenant("quota-over", over);
  auto denied =
      client_->Request("PATCH", "/api/v1/operator/plans/" + stop, json{{"price_idr", 1}}.dump(),
                       {Bearer(a.token), "Content-Type: application/json"});
  EXPECT_EQ(denied.status, 403) << denied.body;
  ExpectProblem(EditPlan("PATCH", stop, {{"monthly_quota", "lots"}}), 422, "monthly_quota");
  ExpectProblem(EditPlan("PATCH", "nosuchplan" + UniqueSuffix().substr(0, 6), {{"price_idr", 1}}),
                404, "plan");

  json req = {{"symbol", sym_}, {"timeframe", "H1"}};
  for (int i = 0; i < 2; ++i) {
    auto r = Predict(a.key, req);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.Json()["remaining_quota"], 1 - i);
    auto rb = Predict(b.key, req);
    ASSERT_EQ(rb.status, 200) << rb.body;
    EXPECT_EQ(rb.Json()["usage_cost"].get<double>(), 0.0);
  }
  // At the quota: the plan without overage stops with 402 naming the period end...
  auto stopped = Predict(a.key, req);
  ExpectProblem(stopped, 402, "quota");
  EXPECT_EQ(stopped.Json()["type"], "urn:sinyal:problem:quota-exceeded") << stopped.body;
  // ...and the one with overage charges its price per unit.
  auto charged = Predict(b.key, req);
  ASSERT_EQ(charged.status, 200) << charged.body;
  EXPECT_EQ(charged.Json()["usage_cost"].get<double>(), 700.0);
  EXPECT_EQ(charged.Json()["remaining_quota"], 0);
  EXPECT_EQ(Usage(a.key)["used"], 2);
  json ub = Usage(b.key);
  EXPECT_EQ(ub["used"], 3);
  EXPECT_EQ(ub["overage_units"], 1);
  EXPECT_EQ(ub["cost_idr"], 700);

  // Invoices in whole rupiah: no closed period yet; the running one is base + overage so far.
  auto inv = client_->Get("/api/v1/invoices", {Bearer(b.key)});
  ASSERT_EQ(inv.status, 200) << inv.body;
  const json invoices = inv.Json();
  EXPECT_EQ(invoices["currency"], "IDR");
  EXPECT_TRUE(invoices["items"].empty()) << inv.body;
  EXPECT_TRUE(invoices["current"]["total_idr"].is_number_integer()) << inv.body;
  EXPECT_EQ(invoices["current"]["base_idr"], 900000000);
  EXPECT_EQ(invoices["current"]["overage_idr"], 700);
  EXPECT_EQ(invoices["current"]["total_idr"], 900000700);
  EXPECT_EQ(invoices["current"]["units"], 3);

  // Operators' analytics see these tenants.
  auto top = client_->Get("/api/v1/operator/analytics/top-tenants?limit=1000", {Bearer(op_token_)});
  ASSERT_EQ(top.status, 200) << top.body;
  bool saw_b = false;
  const json top_json = top.Json();
  for (const auto& row : top_json["items"]) {
    if (row["tenant_id"] == b.id) {
      saw_b = true;
      EXPECT_EQ(row["units"], 3) << row;
      EXPECT_EQ(row["cost_idr"], 700) << row;
    }
  }
  EXPECT_TRUE(saw_b) << top.body;
  auto by_day = client_->Get("/api/v1/operator/analytics/usage", {Bearer(op_token_)});
  ASSERT_EQ(by_day.status, 200) << by_day.body;
  int64_t over_units = 0;
  const json by_day_json = by_day.Json();
  for (const auto& row : by_day_json["items"]) {
    if (row["plan"] == over) over_units += row["units"].get<int64_t>();
  }
  EXPECT_EQ(over_units, 3) << by_day.body;
  auto burn = client_->Get("/api/v1/operator/analytics/burn-down?tenant_id=" + std::to_string(b.id),
                           {Bearer(op_token_)});
  ASSERT_EQ(burn.status, 200) << burn.body;
  ASSERT_EQ(burn.Json()["items"].size(), 1u) << burn.body;
  EXPECT_EQ(burn.Json()["items"][0]["used"], 3) << burn.body;
  EXPECT_GE(burn.Json()["items"][0]["forecast_month_end"].get<double>(), 3.0) << burn.body;
  auto revenue = client_->Get("/api/v1/operator/analytics/revenue", {Bearer(op_token_)});
  ASSERT_EQ(revenue.status, 200) << revenue.body;
  EXPECT_TRUE(revenue.Json()["run_rate_mrr_idr"].is_number_integer()) << revenue.body;
  EXPECT_GE(revenue.Json()["run_rate_mrr_idr"].get<int64_t>(), 1800000000)
      << "two tenants at 900,000,000 each: " << revenue.body;
  EXPECT_EQ(client_->Get("/api/v1/operator/analytics/revenue", {Bearer(b.token)}).status, 403);
  ExpectProblem(client_->Get("/api/v1/operator/analytics/usage?from=2024-02-01&to=2024-01-01",
                             {Bearer(op_token_)}),
                422, "from");
  ExpectProblem(client_->Get("/api/v1/operator/analytics/top-tenants?limit=0", {Bearer(op_token_)}),
                422, "limit");

  // The operator raises the quota: the stopped tenant may call again.
  auto raised = EditPlan("PATCH", stop, {{"monthly_quota", 3}});
  ASSERT_EQ(raised.status, 200) << raised.body;
  auto resumed = Predict(a.key, req);
  ASSERT_EQ(resumed.status, 200) << resumed.body;
  EXPECT_EQ(resumed.Json()["remaining_quota"], 0);

  if (GetParam() == "sqlite") {
    // Free itself (this database is the test's own): at its quota, 402.
    ASSERT_EQ(EditPlan("PATCH", "free", {{"monthly_quota", 1}}).status, 200);
    Tenant f = NewTenant("quota-free", "free");
    ASSERT_EQ(Predict(f.key, req).status, 200);
    ExpectProblem(Predict(f.key, req), 402, "quota");
    EXPECT_EQ(Usage(f.key)["used"], 1);
  }
}

TEST_P(BusinessE2E, HostileInputIsRefusedNamingTheFieldAndNotCharged) {
  const std::string plan = "thost" + UniqueSuffix().substr(0, 8);
  ASSERT_EQ(EditPlan("PUT", plan,
                     {{"price_idr", 900000000},
                      {"monthly_quota", 1000},
                      {"rate_per_second", 500},
                      {"burst", 500},
                      {"timeframes", {"H1"}},
                      {"features", {"realtime", "batch", "confidence"}}})
                .status,
            201);
  Tenant t = NewTenant("hostile", plan);
  const std::string path = "/api/v1/business/predict";
  auto with = [&](const std::string& field, const json& value) {
    json b = {{"symbol", sym_}, {"timeframe", "H1"}};
    if (value.is_null())
      b.erase(field);
    else
      b[field] = value;
    return Predict(t.key, b);
  };
  ExpectProblem(with("symbol", nullptr), 422, "symbol");
  ExpectProblem(with("symbol", 42), 422, "symbol");
  ExpectProblem(with("symbol", "EU R/../"), 422, "symbol");
  ExpectProblem(with("symbol", UniqueSymbol("QQ")), 404, "symbol");
  ExpectProblem(with("timeframe", "7h"), 422, "timeframe");
  ExpectProblem(with("confidence_threshold", 1.5), 422, "confidence_threshold");
  ExpectProblem(with("confidence_threshold", -0.1), 422, "confidence_threshold");
  ExpectProblem(with("confidence_threshold", "high"), 422, "confidence_threshold");
  ExpectProblem(with("prediction_horizon", -24), 422, "prediction_horizon");
  ExpectProblem(with("prediction_horizon", 0), 422, "prediction_horizon");
  ExpectProblem(with("prediction_horizon", 2.5), 422, "prediction_horizon");
  ExpectProblem(with("prediction_type", "volatility"), 422, "prediction_type");
  ExpectProblem(with("colour", "blue"), 422, "colour");
  ExpectProblem(with("include", {"everything"}), 422, "include[0]");
  ExpectProblem(Post(path, "{\"symbol\": ", {Bearer(t.key)}), 400, "body");
  ExpectProblem(Post(path, "[1,2]", {Bearer(t.key)}), 422, "body");
  ExpectProblem(Post(path, "symbol=EURUSD", {Bearer(t.key)}, "application/x-www-form-urlencoded"),
                415, "content-type");
  ExpectProblem(Post(path, json{{"symbol", std::string(20000, 'A')}}.dump(), {Bearer(t.key)}), 413,
                "body");
  // The one good call of this test, then a malformed Idempotency-Key (too long).
  ASSERT_EQ(with("symbol", sym_).status, 200);
  ExpectProblem(Predict(t.key, {{"symbol", sym_}, {"timeframe", "H1"}},
                        {"Idempotency-Key: " + std::string(300, 'k')}),
                422, "Idempotency-Key");
  // Batches: over the cap, far over the cap (body limit), empty, an item's bad field.
  json items = json::array();
  for (int i = 0; i < 101; ++i) items.push_back({{"symbol", sym_}, {"timeframe", "H1"}});
  ExpectProblem(
      Post("/api/v1/business/predict/batch", json{{"items", items}}.dump(), {Bearer(t.key)}), 413,
      "items");
  for (int i = 0; i < 20000; ++i) items.push_back({{"symbol", sym_}, {"timeframe", "H1"}});
  ExpectProblem(
      Post("/api/v1/business/predict/batch", json{{"items", items}}.dump(), {Bearer(t.key)}), 413,
      "body");
  ExpectProblem(Post("/api/v1/business/predict/batch", json{{"items", json::array()}}.dump(),
                     {Bearer(t.key)}),
                422, "items");
  ExpectProblem(Post("/api/v1/business/predict/batch",
                     json{{"items",
                           {{{"symbol", sym_}, {"timeframe", "H1"}},
                            {{"symbol", sym_}, {"timeframe", "H1"}, {"confidence_threshold", 7}}}}}
                         .dump(),
                     {Bearer(t.key)}),
                422, "items[1].confidence_threshold");
  // No credentials: 401.
  EXPECT_EQ(client_->PostJson(path, {{"symbol", sym_}, {"timeframe", "H1"}}).status, 401);
  // Only the one good call above was charged.
  EXPECT_EQ(Usage(t.key)["used"], 1);
}

TEST_P(BusinessE2E, FreeSeesDelayedDataRealtimePlansDoNot) {
  // Three fresh H1 bars appended to the platform series, the newest closing at the top of this
  // hour: realtime plans get the signal of the newest bar, Free (1 h delay) the one before.
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  const int64_t hour = now - now % 3600;
  std::string csv = "DATE,TIME,OPEN,HIGH,LOW,CLOSE,TICKVOL,VOL,SPREAD\n";
  for (int k = 3; k >= 1; --k) {
    const std::time_t open = static_cast<std::time_t>(hour - k * 3600);
    std::tm tm{};
    gmtime_r(&open, &tm);
    char line[128];
    std::snprintf(line, sizeof line,
                  "%04d.%02d.%02d,%02d:00:00,1.18%d00,1.18%d90,1.17%d10,1.18%d50,500,0,1\n",
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, k, k, k, k);
    csv += line;
  }
  auto up = client_->Request(
      "POST", "/api/v1/market/bars/import?symbol=" + sym_ + "&timeframe=H1&timezone=UTC", csv,
      {Bearer(op_token_), "Content-Type: text/csv"});
  ASSERT_EQ(up.status, 200) << up.body;
  auto iso = [](int64_t t) {
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char b[32];
    std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return std::string(b);
  };
  Tenant pro = NewTenant("rt-co", "pro");
  Tenant free = NewTenant("delayed-co", "free");
  const json req = {{"symbol", sym_}, {"timeframe", "H1"}};
  auto rp = Predict(pro.key, req);
  ASSERT_EQ(rp.status, 200) << rp.body << server_->Log();
  auto rf = Predict(free.key, req);
  ASSERT_EQ(rf.status, 200) << rf.body;
  // A bar could close between the two calls only at an hour boundary; the newest bar closes at `hour`.
  EXPECT_EQ(rp.Json()["timestamp"], iso(hour)) << rp.body;
  EXPECT_EQ(rp.Json()["data_delay_seconds"], 0);
  EXPECT_EQ(rf.Json()["timestamp"], iso(hour - 3600)) << rf.body;
  EXPECT_EQ(rf.Json()["data_delay_seconds"], 3600);
  EXPECT_NE(rp.Json()["signal_id"], rf.Json()["signal_id"]);
}

INSTANTIATE_TEST_SUITE_P(Backends, BusinessE2E, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace sinyal::e2e
