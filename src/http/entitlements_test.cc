// A plan lists only features the code gates, checked by name: every feature of
// billing/features.h has a row below that shows, through the real routes and pipeline (or the
// one function that builds the answer), that a plan with the feature is served and a plan
// without it is refused (403 naming the field and "requires plan ...") or gets the field
// omitted. A feature without a row fails the test, and so does a seeded plan listing a name
// that is not a feature. Adding a feature: its line in billing/features.h, its gate, its row here.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "billing/features.h"
#include "core/testing/test_util.h"
#include "http/handlers/prediction_json.h"
#include "http/testing/test_api.h"
#include "store/database.h"
#include "store/testing/test_db.h"

namespace sinyal::http {
namespace {

using nlohmann::json;
using testing::HeaderOf;

class EntitlementsGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = store::testing::OpenMemoryDatabase();
    ASSERT_NE(db_, nullptr);
    api_ = std::make_unique<testing::TestApi>(*db_, clock_);
    // Two operator-made plans: everything, and nothing (no timeframe beyond H1, 1 h delay).
    auto all = billing::NewPlanFromJson("all", {{"price_idr", 10}, {"timeframes", {"H1"}}});
    ASSERT_OK(all);
    for (const billing::FeatureInfo& f : billing::AllFeatures())
      all->features.insert(std::string(f.name));
    ASSERT_OK(api_->plans().Create(*all, "test"));
    auto none =
        billing::NewPlanFromJson("none", {{"timeframes", {"H1"}}, {"data_delay_seconds", 3600}});
    ASSERT_OK(none);
    ASSERT_OK(api_->plans().Create(*none, "test"));
    with_ = api_->NewTenant("with", "all");
    without_ = api_->NewTenant("without", "none");
  }

  Response Get(const testing::TestApi::Tenant& t, const std::string& target) {
    return api_->Call("GET", target, {{"x-api-key", t.api_key}});
  }
  Response Post(const testing::TestApi::Tenant& t, const std::string& target, const json& body) {
    return api_->Call("POST", target,
                      {{"x-api-key", t.api_key}, {"content-type", "application/json"}},
                      body.dump());
  }
  // A 403 naming `field` and the plan with the feature ("all", the cheapest that has it).
  static void ExpectRefused(const Response& r, const std::string& field) {
    EXPECT_EQ(r.status, 403) << r.body;
    json j = json::parse(r.body, nullptr, false);
    EXPECT_EQ(j.value("field", ""), field) << r.body;
    EXPECT_NE(j.value("detail", "").find("requires plan all"), std::string::npos) << r.body;
  }
  static void ExpectNotRefused(const Response& r) { EXPECT_NE(r.status, 403) << r.body; }

  // The prediction answer of `plan` for a signal: a field is there, or omitted and listed in
  // "gated" with the plan that has it.
  json Answer(const std::string& plan) {
    auto p = api_->plans().Get(plan);
    EXPECT_TRUE(p.ok());
    signals::SignalFields f;
    f.id = "0123456789abcdef";
    f.symbol = "EURUSD";
    f.timeframe = "H1";
    f.horizon = 1;
    f.p_up = 0.7;
    f.confidence = 0.7;
    f.intervals = {{0.8, -0.001, 0.002}};
    f.model_version = "platform/EURUSD/H1/v1";
    return PredictionJson(api_->entitlements(), *p, signals::Signal::FromFields(std::move(f)), 0.5);
  }
  void ExpectAnswerGates(const std::string& field) {
    EXPECT_TRUE(Answer("all").contains(field)) << field;
    json thin = Answer("none");
    EXPECT_FALSE(thin.contains(field)) << thin;
    EXPECT_EQ(thin["gated"].value(field, ""), "requires plan all") << thin;
  }

  ManualClock clock_{1'700'000'000LL * kNanosPerSecond};
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<testing::TestApi> api_;
  testing::TestApi::Tenant with_, without_;
};

TEST_F(EntitlementsGateTest, EveryFeatureIsGatedByName) {
  const json predict_m5 = {{"symbol", "EURUSD"}, {"timeframe", "M5"}};
  const std::map<std::string, std::function<void()>> gates = {
      {"confidence", [&] { ExpectAnswerGates("confidence"); }},
      {"intervals", [&] { ExpectAnswerGates("interval"); }},
      {"regime", [&] { ExpectAnswerGates("model_version"); }},
      {"all_timeframes",
       [&] {
         ExpectRefused(Post(without_, "/api/v1/business/predict", predict_m5), "timeframe");
         ExpectNotRefused(Post(with_, "/api/v1/business/predict", predict_m5));  // 404: no model
       }},
      {"realtime",
       [&] {
         auto call = api_->metered().Begin({without_.id, UserId(1), std::nullopt}, clock_.Now());
         ASSERT_OK(call);
         EXPECT_EQ(call->NotAfter(), clock_.Now() - 3600 * kNanosPerSecond);
         auto rt = api_->metered().Begin({with_.id, UserId(1), std::nullopt}, clock_.Now());
         ASSERT_OK(rt);
         EXPECT_EQ(rt->NotAfter(), clock_.Now());
         // The stream is real-time only.
         Response r = Get(without_, "/api/v1/stream/signals");
         EXPECT_EQ(r.status, 403) << r.body;
       }},
      {"correlations",
       [&] {
         const std::string q = "/api/v1/market/correlations?symbols=EURUSD,GBPUSD&timeframe=H1";
         ExpectRefused(Get(without_, q), "correlations");
         ExpectNotRefused(Get(with_, q));  // 404: no bars
       }},
      {"batch",
       [&] {
         const json batch = {{"items", {{{"symbol", "EURUSD"}, {"timeframe", "H1"}}}}};
         ExpectRefused(Post(without_, "/api/v1/business/predict/batch", batch), "items");
         ExpectNotRefused(Post(with_, "/api/v1/business/predict/batch", batch));
       }},
      {"stream",
       [&] {
         ExpectRefused(Get(without_, "/api/v1/stream/signals"), "plan");
         Response ok = Get(with_, "/api/v1/stream/signals");
         EXPECT_EQ(ok.status, 426) << "entitled; not an upgrade request: " << ok.body;
       }},
      {"telegram",
       [&] {
         const json alert = {{"symbol", "EURUSD"}, {"timeframe", "H1"}, {"min_confidence", 0.6}};
         auto post = [&](const testing::TestApi::Tenant& t) {
           return api_->Call(
               "POST", "/api/v1/telegram/alerts",
               {{"authorization", "Bearer " + t.token}, {"content-type", "application/json"}},
               alert.dump());
         };
         ExpectRefused(post(without_), "plan");
         Response ok = post(with_);
         EXPECT_NE(ok.status, 403) << ok.body;  // entitled: asked to link a chat first
         EXPECT_EQ(ok.status / 100, 4) << ok.body;
       }},
      {"backtests",
       [&] {
         ExpectRefused(Post(without_, "/api/v1/backtests", json::object()), "backtests");
         ExpectNotRefused(Post(with_, "/api/v1/backtests", json::object()));  // 422: no symbols
       }},
      {"paper_trading",
       [&] {
         ExpectRefused(Post(without_, "/api/v1/paper-accounts", json::object()), "paper_trading");
         ExpectNotRefused(Post(with_, "/api/v1/paper-accounts", json::object()));  // 422: no name
       }},
  };
  for (const billing::FeatureInfo& f : billing::AllFeatures()) {
    auto it = gates.find(std::string(f.name));
    if (it == gates.end()) {
      ADD_FAILURE() << "feature '" << f.name
                    << "' has no gate check here: sell it only once it is gated";
      continue;
    }
    SCOPED_TRACE(std::string(f.name));
    it->second();
  }
  for (const auto& [name, _] : gates)
    EXPECT_TRUE(billing::IsFeature(name)) << name << " is not in features.h";
}

TEST_F(EntitlementsGateTest, SeededPlansListOnlyGatedFeatures) {
  auto plans = api_->plans().List();
  ASSERT_OK(plans);
  for (const billing::Plan& p : *plans) {
    for (const std::string& f : p.features)
      EXPECT_TRUE(billing::IsFeature(f)) << p.name << " sells " << f;
  }
  // What GET /api/v1/plans shows is the same.
  Response r = api_->Call("GET", "/api/v1/plans");
  ASSERT_EQ(r.status, 200) << r.body;
  for (const json& p : json::parse(r.body)["items"]) {
    for (const json& f : p["features"])
      EXPECT_TRUE(billing::IsFeature(f.get<std::string>())) << p.dump();
  }
}

}  // namespace
}  // namespace sinyal::http
