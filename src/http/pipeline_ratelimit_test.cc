// The plan + rate-limit stage of billable routes (the metered-call flow's steps 1 and 3) and
// Server-Timing of the Pipeline, with real authentication and billing (an in-memory SQLite
// database: a registered user's access token and one of their API keys, the seeded Free plan
// with a rate of 1/s and a burst of 3).
#include <atomic>
#include <nlohmann/json.hpp>

#include "accounts/accounts.h"
#include "billing/entitlements.h"
#include "billing/meter.h"
#include "billing/metered_call.h"
#include "billing/rate_limiter.h"
#include "core/testing/test_util.h"
#include "http/pipeline.h"
#include "store/database.h"
#include "store/soci.h"
#include "store/testing/test_db.h"

namespace sinyal::http {
namespace {

constexpr UnixNanos kStart = 1'700'000'000LL * kNanosPerSecond;

// A limiter whose store is down.
class DownLimiter final : public billing::RateLimiter {
 public:
  Result<billing::RateDecision> Check(std::string_view, const billing::RateLimit&,
                                      UnixNanos) override {
    return Status::Unavailable("redis unreachable (test)");
  }
};

class PipelineRateLimitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = store::testing::OpenMemoryDatabase();
    ASSERT_NE(db_, nullptr);
    accounts::AuthConfig config;
    config.jwt_secret = "test-secret-0123456789-abcdefghijklmnop";
    accounts_ = std::make_unique<accounts::AccountService>(*db_, clock_, config);
    auto reg = accounts_->Register({.tenant_name = "Acme",
                                    .email = "owner@acme.test",
                                    .password = "correct horse battery",
                                    .display_name = "Owner"});
    ASSERT_OK(reg);
    token_ = reg->second.access_token;
    auto principal = accounts_->AuthenticateAccessToken(token_);
    ASSERT_OK(principal);
    auto key = accounts_->CreateApiKey(*principal, "ci", {}, std::nullopt);
    ASSERT_OK(key);
    api_key_ = key->secret;
    api_key_id_ = key->info.id.value();
    user_id_ = principal->user.value();

    routes_.Add({.method = "POST",
                 .pattern = "/limited",
                 .auth = AuthMode::kAny,
                 .billable = true,
                 .handler = [this](Context& ctx) -> Result<Response> {
                   ++handler_calls_;
                   {
                     ScopedStage model(ctx, "model");
                     clock_.Set(clock_.Now() + 2 * 1'000'000);  // the "model" takes 2 ms
                   }
                   ctx.Time("quota", 1.5);
                   if (ctx.request.body == "bad")
                     return Status::InvalidArgument("bad body", "body");
                   return Response::Json(200, {{"ok", true}});
                 }});
    routes_.Add({.method = "GET",
                 .pattern = "/free",
                 .auth = AuthMode::kAny,
                 .handler = [](Context&) -> Result<Response> { return Response::Json(200, {}); }});
    {
      billing::PlanStore plans(*db_, clock_);
      ASSERT_OK(plans.Update("free", {{"rate_per_second", 1}, {"burst", 3}}, "test"));
    }
    limiter_ = billing::MakeLocalRateLimiter();
    Build(limiter_.get());
  }
  void TearDown() override {
    pipeline_.reset();
    flow_.reset();
    meter_.reset();
  }

  // The billing objects and the pipeline, with `limiter` in the flow.
  void Build(billing::RateLimiter* limiter) {
    pipeline_.reset();
    flow_.reset();
    meter_.reset();
    plans_ = std::make_unique<billing::PlanStore>(*db_, clock_);
    subs_ = std::make_unique<billing::Subscriptions>(*db_, *plans_, clock_);
    entitlements_ = std::make_unique<billing::Entitlements>(*plans_, *subs_);
    meter_ = std::make_unique<billing::Meter>(*db_, *subs_);
    flow_ = std::make_unique<billing::MeteredCalls>(*entitlements_, *meter_, limiter);
    PipelineOptions options{.access_log = false};
    options.metered = flow_.get();
    pipeline_ = std::make_unique<Pipeline>(routes_, accounts_.get(), metrics_, clock_, options);
  }

  Response Call(int index, Headers headers, std::string body = "{}") {
    Request r;
    r.method = routes_.routes()[index].method;
    r.path = routes_.routes()[index].pattern;
    r.body = std::move(body);
    headers.emplace_back("content-type", "application/json");
    r.headers = std::move(headers);
    return pipeline_->Handle(index, r);
  }
  Response WithKey(std::string body = "{}") {
    return Call(0, {{"x-api-key", api_key_}}, std::move(body));
  }
  Response WithToken() { return Call(0, {{"authorization", "Bearer " + token_}}); }

  static std::string HeaderOf(const Response& r, std::string_view name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "<none>";
  }

  ManualClock clock_{kStart};
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<accounts::AccountService> accounts_;
  std::string token_, api_key_;
  int64_t api_key_id_ = 0, user_id_ = 0;
  RouteTable routes_;
  Metrics metrics_;
  std::unique_ptr<billing::RateLimiter> limiter_;
  std::unique_ptr<billing::PlanStore> plans_;
  std::unique_ptr<billing::Subscriptions> subs_;
  std::unique_ptr<billing::Entitlements> entitlements_;
  std::unique_ptr<billing::Meter> meter_;
  std::unique_ptr<billing::MeteredCalls> flow_;
  std::unique_ptr<Pipeline> pipeline_;
  std::atomic<int> handler_calls_{0};
};

TEST_F(PipelineRateLimitTest, HeadersOnEveryResponseThen429WithRetryAfter) {
  for (int i = 0; i < 3; ++i) {
    Response r = WithKey();
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(HeaderOf(r, "ratelimit-limit"), "3");
    EXPECT_EQ(HeaderOf(r, "ratelimit-remaining"), std::to_string(2 - i));
    EXPECT_EQ(HeaderOf(r, "ratelimit-reset"), std::to_string(i + 1));
    EXPECT_EQ(HeaderOf(r, "retry-after"), "<none>");
  }
  Response refused = WithKey();
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(refused.content_type, "application/problem+json");
  EXPECT_EQ(HeaderOf(refused, "retry-after"), "1");
  EXPECT_EQ(HeaderOf(refused, "ratelimit-remaining"), "0");
  EXPECT_EQ(HeaderOf(refused, "ratelimit-limit"), "3");
  auto body = nlohmann::json::parse(refused.body);
  EXPECT_EQ(body["type"], "urn:sinyal:problem:rate-limited");
  EXPECT_EQ(body["status"], 429);
  std::string detail = body["detail"];
  EXPECT_NE(detail.find("API key"), std::string::npos) << detail;
  EXPECT_NE(detail.find("1 requests per second with bursts of 3"), std::string::npos) << detail;
  EXPECT_EQ(handler_calls_.load(), 3);  // a refused call does no work
  clock_.Set(clock_.Now() + kNanosPerSecond);
  EXPECT_EQ(WithKey().status, 200);
  std::string text = metrics_.RenderPrometheus();
  EXPECT_NE(text.find("sinyal_ratelimit_decisions_total{result=\"refused\"} 1"), std::string::npos);
  EXPECT_NE(text.find("sinyal_ratelimit_decisions_total{result=\"allowed\"} 4"), std::string::npos);
}

TEST_F(PipelineRateLimitTest, ApiKeyAndUserTokenHaveSeparateBuckets) {
  for (int i = 0; i < 3; ++i) ASSERT_EQ(WithKey().status, 200);
  EXPECT_EQ(WithKey().status, 429);
  Response user = WithToken();
  EXPECT_EQ(user.status, 200);
  EXPECT_EQ(HeaderOf(user, "ratelimit-remaining"), "2");
  // The keys the pipeline uses are the contract's: "key:<id>" and "user:<id>".
  EXPECT_FALSE(
      limiter_->Check("key:" + std::to_string(api_key_id_), {1, 3}, clock_.Now())->allowed);
  auto u = limiter_->Check("user:" + std::to_string(user_id_), {1, 3}, clock_.Now());
  ASSERT_OK(u);
  EXPECT_EQ(u->remaining, 1);  // 2 left after the call above; this check took one more
}

TEST_F(PipelineRateLimitTest, ErrorResponsesOfLimitedRoutesCarryTheHeaders) {
  Response r = WithKey("bad");
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(HeaderOf(r, "ratelimit-remaining"), "2");
}

TEST_F(PipelineRateLimitTest, RoutesNotMarkedAreNotLimited) {
  for (int i = 0; i < 10; ++i) {
    Response r = Call(1, {{"x-api-key", api_key_}});
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(HeaderOf(r, "ratelimit-limit"), "<none>");
  }
}

TEST_F(PipelineRateLimitTest, UnauthenticatedCallsAreRejectedBeforeTheLimiter) {
  Response r = Call(0, {{"x-api-key", "sk_live_nope"}});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(HeaderOf(r, "ratelimit-limit"), "<none>");
  EXPECT_EQ(handler_calls_.load(), 0);
}

TEST_F(PipelineRateLimitTest, LimiterOutageFailsOpenAndIsCounted) {
  DownLimiter down;
  Build(&down);
  for (int i = 0; i < 5; ++i) {
    Response r = WithKey();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(HeaderOf(r, "ratelimit-limit"), "<none>");
  }
  EXPECT_NE(
      metrics_.RenderPrometheus().find("sinyal_ratelimit_decisions_total{result=\"error\"} 5"),
      std::string::npos);
}

TEST_F(PipelineRateLimitTest, PlanLookupErrorIsAnswered) {
  // A plans table the store can't read (a fresh store: no earlier snapshot to fall back on).
  ASSERT_OK(db_->WithTx([](soci::session& sql) -> Status {
    sql << "UPDATE plans SET features = 'not json'";
    return Status::Ok();
  }));
  Build(limiter_.get());
  Response r = WithKey();
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(handler_calls_.load(), 0);
  EXPECT_EQ(r.body.find("not a JSON array"), std::string::npos);  // server errors stay generic
}

TEST_F(PipelineRateLimitTest, ServerTimingHeaderAndPerRouteStageMetrics) {
  Response r = WithKey();
  ASSERT_EQ(r.status, 200);
  std::string timing = HeaderOf(r, "server-timing");
  // ManualClock: auth and ratelimit take 0 ms here; the handler's model stage 2 ms, quota 1.5 ms.
  EXPECT_EQ(
      timing,
      "auth;dur=0.000, ratelimit;dur=0.000, model;dur=2.000, quota;dur=1.500, total;dur=2.000")
      << timing;
  std::string text = metrics_.RenderPrometheus();
  for (const char* stage : {"auth", "ratelimit", "model", "quota"}) {
    EXPECT_NE(
        text.find(
            std::string("sinyal_stage_seconds_count{method=\"POST\",route=\"/limited\",stage=\"") +
            stage + "\"} 1"),
        std::string::npos)
        << stage << "\n"
        << text;
  }
  EXPECT_NE(text.find("sinyal_stage_seconds_sum{method=\"POST\",route=\"/"
                      "limited\",stage=\"model\"} 0.002000000"),
            std::string::npos);
  EXPECT_NE(text.find("sinyal_stage_seconds_bucket{method=\"POST\",route=\"/"
                      "limited\",stage=\"model\",le=\"0.0025\"} 1"),
            std::string::npos);
}

TEST(ContextTest, StagesAccumulateAndNamesAreTokens) {
  Request req;
  Context ctx{req, "id", std::nullopt, 0, {}};
  ctx.Time("model", 1);
  ctx.Time("model", 0.5);
  ctx.TimeNanos("Bad Name;x", 7);
  ASSERT_EQ(ctx.stages.size(), 2u);
  EXPECT_EQ(ctx.stages[0].stage, "model");
  EXPECT_EQ(ctx.stages[0].nanos, 1'500'000);
  EXPECT_EQ(ctx.stages[1].stage, "bad_name_x");
}

TEST(MetricsStageTest, ManyStageNamesFoldIntoOther) {
  Metrics m;
  size_t r = m.RegisterRoute("GET", "/x");
  for (int i = 0; i < 40; ++i) m.ObserveRouteStage(r, "s" + std::to_string(i), 1000);
  std::string text = m.RenderPrometheus();
  EXPECT_NE(text.find("stage=\"s14\"} 1"), std::string::npos);
  EXPECT_EQ(text.find("stage=\"s15\""), std::string::npos);
  EXPECT_NE(text.find("sinyal_stage_seconds_count{method=\"GET\",route=\"/x\",stage=\"other\"} 25"),
            std::string::npos);
}

}  // namespace
}  // namespace sinyal::http
