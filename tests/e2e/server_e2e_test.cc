// The server's own behaviour over real HTTP: health, readiness, metrics, docs, errors,
// limits, and graceful shutdown on SIGTERM.
#include <signal.h>

#include <atomic>
#include <thread>

#include "e2e/harness.h"

namespace sinyal::e2e {
namespace {

class ServerE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerProcess>(ServerProcess::Options{});
    std::string why;
    ASSERT_TRUE(server_->Start(&why)) << why;
    client_ = std::make_unique<HttpClient>(server_->base_url());
  }
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<HttpClient> client_;
};

TEST_F(ServerE2E, HealthReadinessDocsAndOpenApi) {
  EXPECT_EQ(client_->Get("/healthz").Json()["status"], "ok");
  EXPECT_EQ(client_->Get("/readyz").status, 200);
  auto doc = client_->Get("/api/v1/openapi.json");
  ASSERT_EQ(doc.status, 200);
  EXPECT_EQ(doc.Json()["openapi"], "3.1.0");
  auto page = client_->Get("/docs");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("redoc"), std::string::npos);
  auto js = client_->Get("/docs/redoc.standalone.js");
  EXPECT_EQ(js.status, 200) << "run scripts/build.sh to install web assets";
  EXPECT_GT(js.body.size(), 100000u);
}

TEST_F(ServerE2E, MetricsCountRequestsByRouteAndStatus) {
  client_->Get("/healthz");
  client_->Get("/api/v1/nope");  // "/nope" is a dashboard route (the SPA answers it)
  auto m = client_->Get("/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(
      m.body.find("sinyal_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"}"),
      std::string::npos);
  EXPECT_NE(m.body.find("route=\"unmatched\",status=\"404\""), std::string::npos);
  EXPECT_NE(m.body.find("sinyal_http_request_duration_seconds_bucket{method=\"GET\",route=\"/"
                        "healthz\",le=\"0.001\"}"),
            std::string::npos);
}

TEST_F(ServerE2E, ErrorsAreProblemJsonWithRequestId) {
  auto r = client_->Get("/api/v1/nothing-here", {"X-Request-Id: trace-42"});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.Header("content-type"), "application/problem+json");
  EXPECT_EQ(r.Json()["request_id"], "trace-42");
  EXPECT_EQ(r.Header("x-request-id"), "trace-42");
  auto big = client_->Request("POST", "/api/v1/auth/login", std::string(2 << 20, 'a'),
                              {"Content-Type: application/json"});
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(big.Json()["field"], "body");
  auto wrong_type =
      client_->Request("POST", "/api/v1/auth/login", "{}", {"Content-Type: text/plain"});
  EXPECT_EQ(wrong_type.status, 415);
  auto missing = client_->PostJson("/api/v1/auth/login", {{"email", "a@b.c"}});
  EXPECT_EQ(missing.status, 422);
  EXPECT_EQ(missing.Json()["field"], "password");
  auto method = client_->Request("PUT", "/healthz");
  EXPECT_EQ(method.status, 405);
  EXPECT_EQ(method.Header("allow"), "GET");
}

TEST_F(ServerE2E, SigtermFinishesInFlightRequestsThenExitsCleanly) {
  // Registrations hash a password with argon2id (~40-60 ms each), so several are in flight
  // when SIGTERM arrives. Every one that was sent before the signal must complete with 201.
  constexpr int kClients = 6;
  std::atomic<int> created{0}, refused{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      HttpClient c(server_->base_url());
      auto r = c.PostJson("/api/v1/auth/register",
                          {{"tenant_name", "t" + std::to_string(i)},
                           {"email", "u" + std::to_string(i) + "-" + UniqueSuffix() + "@x.example"},
                           {"password", "long enough password"}});
      if (r.status == 201)
        created++;
      else if (r.status == 503 || r.status == 0)
        refused++;
      else
        other++;
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  server_->Signal(SIGTERM);
  for (auto& t : threads) t.join();
  EXPECT_EQ(server_->Wait(15000), 0) << server_->Log();
  EXPECT_EQ(other.load(), 0);
  EXPECT_GE(created.load(), 1) << "requests in flight at SIGTERM must complete";
  EXPECT_EQ(created.load() + refused.load(), kClients);
  EXPECT_NE(server_->Log().find("\"event\":\"stopped\""), std::string::npos) << server_->Log();
}

}  // namespace
}  // namespace sinyal::e2e
