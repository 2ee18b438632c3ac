#include "http/pipeline.h"

#include <nlohmann/json.hpp>

#include "core/testing/test_util.h"
#include "http/json_body.h"

namespace sinyal::http {
namespace {

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    routes_.Add({.method = "GET", .pattern = "/ok", .handler = [](Context&) -> Result<Response> {
                   return Response::Json(200, {{"ok", true}});
                 }});
    routes_.Add({.method = "GET", .pattern = "/items/:id", .handler = [](Context& c) -> Result<Response> {
                   return Response::Json(200, {{"id", c.request.params.at("id")}});
                 }});
    routes_.Add({.method = "POST", .pattern = "/throw", .handler = [](Context&) -> Result<Response> {
                   throw std::runtime_error("boom: secret detail");
                 }});
    routes_.Add({.method = "POST", .pattern = "/echo", .max_body_bytes = 16,
                 .handler = [](Context& c) -> Result<Response> {
                   SINYAL_ASSIGN_OR_RETURN(auto body, JsonBody::Parse(c.request));
                   SINYAL_ASSIGN_OR_RETURN(auto v, body.String("v"));
                   SINYAL_RETURN_IF_ERROR(body.Finish());
                   return Response::Json(200, {{"v", v}});
                 }});
    routes_.Add({.method = "GET", .pattern = "/private", .auth = AuthMode::kAny,
                 .handler = [](Context&) -> Result<Response> { return Response::Json(200, {}); }});
    pipeline_ = std::make_unique<Pipeline>(routes_, nullptr, metrics_, clock_,
                                           PipelineOptions{.max_body_bytes = 1024, .access_log = false});
  }

  Response Call(int index, std::string method, std::string path, std::string body = "",
                Headers headers = {{"content-type", "application/json"}}) {
    Request r;
    r.method = std::move(method);
    r.path = std::move(path);
    r.body = std::move(body);
    r.headers = std::move(headers);
    MatchPattern(index >= 0 ? routes_.routes()[index].pattern : "", r.path, &r.params);
    return pipeline_->Handle(index, r);
  }

  static nlohmann::json Body(const Response& r) { return nlohmann::json::parse(r.body); }

  RouteTable routes_;
  Metrics metrics_;
  ManualClock clock_{1'700'000'000 * kNanosPerSecond};
  std::unique_ptr<Pipeline> pipeline_;
};

TEST_F(PipelineTest, ServesAndCountsRequests) {
  Response r = Call(0, "GET", "/ok");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Body(r)["ok"], true);
  bool has_id = false;
  for (auto& [k, v] : r.headers) has_id = has_id || (k == "x-request-id" && v.size() == 20);
  EXPECT_TRUE(has_id);
  std::string text = metrics_.RenderPrometheus();
  EXPECT_NE(text.find("sinyal_http_requests_total{method=\"GET\",route=\"/ok\",status=\"200\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("sinyal_http_request_duration_seconds_count{method=\"GET\",route=\"/ok\"} 1"),
            std::string::npos);
}

TEST_F(PipelineTest, ExceptionsBecome500WithoutLeakingDetails) {
  Response r = Call(2, "POST", "/throw", "{}", {{"content-type", "application/json"}, {"x-request-id", "abc-123"}});
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.content_type, "application/problem+json");
  auto b = Body(r);
  EXPECT_EQ(b["request_id"], "abc-123");
  EXPECT_EQ(r.body.find("secret"), std::string::npos);
}

TEST_F(PipelineTest, BodyLimitMalformedAndValidation) {
  EXPECT_EQ(Call(3, "POST", "/echo", std::string(17, ' ')).status, 413);
  Response malformed = Call(3, "POST", "/echo", "{\"v\":");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(Body(malformed)["type"], "urn:sinyal:problem:malformed-json");
  Response unknown = Call(3, "POST", "/echo", R"({"v":"a","w":1})");
  EXPECT_EQ(unknown.status, 422);
  EXPECT_EQ(Body(unknown)["field"], "w");
  EXPECT_EQ(Call(3, "POST", "/echo", R"({"v":"a"})", {{"content-type", "text/plain"}}).status, 415);
  EXPECT_EQ(Call(3, "POST", "/echo", R"({"v":"a"})").status, 200);
}

TEST_F(PipelineTest, UnmatchedGives404Or405) {
  EXPECT_EQ(Call(-1, "GET", "/nope").status, 404);
  Response r = Call(-1, "DELETE", "/ok");
  EXPECT_EQ(r.status, 405);
  bool allow = false;
  for (auto& [k, v] : r.headers) allow = allow || (k == "allow" && v == "GET");
  EXPECT_TRUE(allow);
}

TEST_F(PipelineTest, AuthRequiredWithoutCredentials) {
  Response r = Call(4, "GET", "/private");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Call(4, "GET", "/private", "", {{"authorization", "Basic abc"}}).status, 401);
}

TEST(MatchPatternTest, Params) {
  std::map<std::string, std::string, std::less<>> p;
  EXPECT_TRUE(MatchPattern("/a/:id/b", "/a/42/b", &p));
  EXPECT_EQ(p["id"], "42");
  EXPECT_FALSE(MatchPattern("/a/:id/b", "/a//b"));
  EXPECT_FALSE(MatchPattern("/a/:id", "/a/1/2"));
}

}  // namespace
}  // namespace sinyal::http
