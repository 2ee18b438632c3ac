#include "http/pipeline.h"

#include <condition_variable>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

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
    routes_.Add(
        {.method = "GET", .pattern = "/items/:id", .handler = [](Context& c) -> Result<Response> {
           return Response::Json(200, {{"id", c.request.params.at("id")}});
         }});
    routes_.Add(
        {.method = "POST", .pattern = "/throw", .handler = [](Context&) -> Result<Response> {
           throw std::runtime_error("boom: secret detail");
         }});
    routes_.Add({.method = "POST",
                 .pattern = "/echo",
                 .max_body_bytes = 16,
                 .handler = [](Context& c) -> Result<Response> {
                   SINYAL_ASSIGN_OR_RETURN(auto body, JsonBody::Parse(c.request));
                   SINYAL_ASSIGN_OR_RETURN(auto v, body.String("v"));
                   SINYAL_RETURN_IF_ERROR(body.Finish());
                   return Response::Json(200, {{"v", v}});
                 }});
    routes_.Add({.method = "GET",
                 .pattern = "/private",
                 .auth = AuthMode::kAny,
                 .handler = [](Context&) -> Result<Response> { return Response::Json(200, {}); }});
    pipeline_ =
        std::make_unique<Pipeline>(routes_, nullptr, metrics_, clock_,
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
  Response r = Call(2, "POST", "/throw", "{}",
                    {{"content-type", "application/json"}, {"x-request-id", "abc-123"}});
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

// Deferred responses (Context::Defer): the handler returns Response::Deferred() and another
// thread completes it; the pipeline then adds headers, Server-Timing, metrics and sends it.
class DeferredPipelineTest : public ::testing::Test {
 protected:
  // Each route records its Completion in `completion_` (or completes it as told).
  void SetUp() override {
    // 0: defers, times "metering", adds a header, hands the completion to the test.
    routes_.Add(
        {.method = "POST", .pattern = "/later", .handler = [this](Context& c) -> Result<Response> {
           ScopedStage signal(c, "signal");
           clock_.Advance(1'000'000);
           signal.Stop();
           c.response_headers.emplace_back("ratelimit-limit", "7");
           std::lock_guard<std::mutex> lock(mu_);
           completion_ = c.Defer("metering");
           cv_.notify_all();
           return Response::Deferred();
         }});
    // 1: completes before the handler returns (a commit that is durable at once).
    routes_.Add(
        {.method = "POST", .pattern = "/now", .handler = [](Context& c) -> Result<Response> {
           auto done = c.Defer("metering");
           done->Complete(Response::Json(201, {{"fast", true}}));
           return Response::Deferred();
         }});
    // 2: returns Deferred without calling Defer (a bug): 500.
    routes_.Add({.method = "POST",
                 .pattern = "/broken",
                 .handler = [](Context&) -> Result<Response> { return Response::Deferred(); }});
    // 3: defers, then fails before handing the completion on: the error is sent, the
    // completion is abandoned (its Complete is ignored).
    routes_.Add({.method = "POST",
                 .pattern = "/abandon",
                 .handler = [this](Context& c) -> Result<Response> {
                   std::lock_guard<std::mutex> lock(mu_);
                   completion_ = c.Defer("metering");
                   return Status::InvalidArgument("bad thing", "field");
                 }});
    pipeline_ = std::make_unique<Pipeline>(routes_, nullptr, metrics_, clock_,
                                           PipelineOptions{.access_log = false});
  }

  // Runs route `index` asynchronously; the future gets the response. Completions finish
  // through an executor that counts its tasks and runs them on a thread of its own.
  std::future<Response> Start(int index, std::string path) {
    Request r;
    r.method = "POST";
    r.path = std::move(path);
    r.headers = {{"x-request-id", "req-42"}};
    auto promise = std::make_shared<std::promise<Response>>();
    auto future = promise->get_future();
    pipeline_->HandleAsync(
        index, std::move(r), [promise](Response resp) { promise->set_value(std::move(resp)); },
        [this](std::function<void()> task) {
          posted_.fetch_add(1);
          std::thread(std::move(task)).detach();
        });
    return future;
  }

  std::shared_ptr<Completion> WaitForCompletion() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return completion_ != nullptr; });
    return std::exchange(completion_, nullptr);
  }

  static std::string HeaderOf(const Response& r, std::string_view name) {
    for (const auto& [k, v] : r.headers)
      if (k == name) return v;
    return "";
  }

  RouteTable routes_;
  Metrics metrics_;
  ManualClock clock_{1'700'000'000 * kNanosPerSecond};
  std::unique_ptr<Pipeline> pipeline_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<Completion> completion_;
  std::atomic<int> posted_{0};
};

TEST_F(DeferredPipelineTest, CompletedFromAnotherThreadGetsHeadersTimingAndMetrics) {
  auto future = Start(0, "/later");
  auto completion = WaitForCompletion();
  EXPECT_EQ(pipeline_->pending(), 1u);
  EXPECT_EQ(future.wait_for(std::chrono::milliseconds(20)),
            std::future_status::timeout);  // not sent yet
  std::thread completer([&] {
    clock_.Advance(3 * 1'000'000);  // the wait for the group commit
    completion->Complete(Response::Json(200, {{"ok", 1}}));
    completion->Complete(Response::Json(500, {{"second", 1}}));  // ignored: once only
  });
  completer.join();
  Response r = future.get();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(nlohmann::json::parse(r.body)["ok"], 1);
  EXPECT_EQ(HeaderOf(r, "x-request-id"), "req-42");
  EXPECT_EQ(HeaderOf(r, "ratelimit-limit"), "7");
  EXPECT_EQ(HeaderOf(r, "server-timing"), "signal;dur=1.000, metering;dur=3.000, total;dur=4.000");
  EXPECT_EQ(posted_.load(), 1);  // finished through the executor, not on the completing thread
  EXPECT_EQ(pipeline_->pending(), 0u);
  std::string text = metrics_.RenderPrometheus();
  EXPECT_NE(
      text.find("sinyal_http_requests_total{method=\"POST\",route=\"/later\",status=\"200\"} 1"),
      std::string::npos);
  EXPECT_NE(text.find("sinyal_stage_seconds_sum{method=\"POST\",route=\"/"
                      "later\",stage=\"metering\"} 0.003000000"),
            std::string::npos)
      << text;
}

TEST_F(DeferredPipelineTest, ErrorCompletionBecomesProblemJson) {
  auto future = Start(0, "/later");
  auto completion = WaitForCompletion();
  std::thread([completion] {
    completion->Complete(Status(StatusCode::kQuotaExceeded, "quota of plan free used up", ""));
  }).join();
  Response r = future.get();
  EXPECT_EQ(r.status, 402);
  EXPECT_EQ(r.content_type, "application/problem+json");
  auto b = nlohmann::json::parse(r.body);
  EXPECT_EQ(b["request_id"], "req-42");
  EXPECT_NE(b["detail"].get<std::string>().find("quota of plan free"), std::string::npos);
  EXPECT_EQ(HeaderOf(r, "ratelimit-limit"), "7");
  EXPECT_NE(HeaderOf(r, "server-timing").find("metering;dur="), std::string::npos);
  EXPECT_NE(metrics_.RenderPrometheus().find(
                "sinyal_http_requests_total{method=\"POST\",route=\"/later\",status=\"402\"} 1"),
            std::string::npos);
}

TEST_F(DeferredPipelineTest, CompletionBeforeTheHandlerReturnsFinishesInline) {
  Response r = Start(1, "/now").get();
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(nlohmann::json::parse(r.body)["fast"], true);
  EXPECT_NE(HeaderOf(r, "server-timing").find("metering;dur=0.000"), std::string::npos);
  EXPECT_EQ(posted_.load(), 0);
  // The synchronous Handle works for deferred routes too.
  Request req;
  req.method = "POST";
  req.path = "/now";
  EXPECT_EQ(pipeline_->Handle(1, req).status, 201);
}

TEST_F(DeferredPipelineTest, DeferredWithoutDeferIs500AndAbandonedCompletionIsIgnored) {
  Response broken = Start(2, "/broken").get();
  EXPECT_EQ(broken.status, 500);
  EXPECT_EQ(broken.content_type, "application/problem+json");

  Response abandoned = Start(3, "/abandon").get();
  EXPECT_EQ(abandoned.status, 422);
  EXPECT_EQ(nlohmann::json::parse(abandoned.body)["field"], "field");
  EXPECT_EQ(pipeline_->pending(), 0u);
  std::shared_ptr<Completion> late;
  {
    std::lock_guard<std::mutex> lock(mu_);
    late = std::exchange(completion_, nullptr);
  }
  ASSERT_NE(late, nullptr);
  late->Complete(Response::Json(200, {}));  // ignored: nothing more is sent
  EXPECT_EQ(metrics_.RenderPrometheus().find("route=\"/abandon\",status=\"200\""),
            std::string::npos);
}

TEST_F(DeferredPipelineTest, DroppedCompletionIs500AndShutdownCompletesPendingWith503) {
  auto dropped = Start(0, "/later");
  WaitForCompletion();  // the only reference is dropped here
  EXPECT_EQ(dropped.get().status, 500);

  auto a = Start(0, "/later");
  auto ca = WaitForCompletion();
  auto b = Start(0, "/later");
  auto cb = WaitForCompletion();
  EXPECT_EQ(pipeline_->pending(), 2u);
  EXPECT_EQ(pipeline_->CompletePending(Status::Unavailable("the server is shutting down")), 2u);
  Response ra = a.get(), rb = b.get();
  EXPECT_EQ(ra.status, 503);
  EXPECT_EQ(rb.status, 503);
  EXPECT_EQ(ra.content_type, "application/problem+json");
  EXPECT_EQ(pipeline_->pending(), 0u);
  ca->Complete(Response::Json(200, {}));  // too late: ignored
  EXPECT_EQ(metrics_.RenderPrometheus().find("route=\"/later\",status=\"200\""), std::string::npos);
}

}  // namespace
}  // namespace sinyal::http
