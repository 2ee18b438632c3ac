// Models over real HTTP against the real binary, on SQLite and PostgreSQL: a tenant uploads a
// slice of real shared data, trains through the API (queued job run by serve's in-process
// worker), polls the job, lists versions, activates and rolls back, reads the report and its
// SVGs; another tenant can't see or touch any of it; bad input (missing/unknown symbol, too
// little data, out-of-bounds hyperparameters, a failing job, a corrupted stored model) gives a
// clear error naming the field and leaves the active model alone; `sinyal predict` serves the
// active model from the shell.
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "e2e/harness.h"
#include "store/database.h"
#include "store/soci.h"

namespace sinyal::e2e {
namespace {

using nlohmann::json;

// The first `lines` lines of a data/sample file (header included).
std::string Slice(const std::string& file, int lines) {
  std::ifstream in(testing::SampleDataDir() / file);
  std::string line, out;
  for (int i = 0; i < lines && std::getline(in, line); ++i) out += line + "\n";
  return out;
}

class ModelsE2E : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ServerProcess::Options options;
    if (GetParam() == "postgresql") {
      SINYAL_REQUIRE_POSTGRES();
      url_ = testing::PostgresTestUrl();
    } else {
      url_ = "sqlite://" + (dir_.path() / "models.db").string();
    }
    options.database_url = url_;
    options.env = {{"SINYAL_WORKER_POLL_INTERVAL_MS", "100"},
                   {"SINYAL_MODELS_REPORT_FOLDS", "3"},
                   {"SINYAL_WORKER_XGBOOST_THREADS", "1"}};
    server_ = std::make_unique<ServerProcess>(options);
    std::string why;
    ASSERT_TRUE(server_->Start(&why)) << why;
    client_ = std::make_unique<HttpClient>(server_->base_url());
  }

  HttpResult Post(const std::string& path, const json& body, const std::string& token) {
    return client_->PostJson(path, body, {Bearer(token)});
  }
  HttpResult Get(const std::string& path, const std::string& token) {
    return client_->Get(path, {Bearer(token)});
  }

  // Polls a job until it finishes (or ~3 minutes pass); returns the last job JSON.
  json WaitForJob(int64_t id, const std::string& token) {
    json job;
    double last_progress = -1;
    for (int i = 0; i < 1800; ++i) {
      auto r = Get("/api/v1/jobs/" + std::to_string(id), token);
      EXPECT_EQ(r.status, 200) << r.body;
      job = r.Json();
      const double p = job["progress"].get<double>();
      EXPECT_GE(p, 0.0);
      EXPECT_LE(p, 1.0);
      if (job["status"] == "running") {
        EXPECT_GE(p, last_progress) << "progress never goes back";
        last_progress = p;
      }
      if (job["status"] == "succeeded" || job["status"] == "failed") return job;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "job " << id << " did not finish: " << job.dump();
    return job;
  }

  testing::TempDir dir_;
  std::string url_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<HttpClient> client_;
};

TEST_P(ModelsE2E, TrainActivateRollbackReportsIsolationAndBadInput) {
  json a = RegisterTenant(*client_, "alpha");
  json b = RegisterTenant(*client_, "beta");
  const std::string ta = a["access_token"], tb = b["access_token"];
  const int64_t tenant_a = a["user"]["tenant"]["id"];
  const std::string sym = UniqueSymbol("EU");
  const std::string tiny = UniqueSymbol("TY");
  // Tenant A's private series: 8,000 real EURUSD H1 bars (2020-01 .. 2021-04).
  auto up = client_->Request(
      "POST", "/api/v1/market/bars/import?symbol=" + sym + "&timeframe=H1&timezone=NY%2B7",
      Slice("EURUSD_H1.csv", 8001), {Bearer(ta), "Content-Type: text/csv"});
  ASSERT_EQ(up.status, 200) << up.body;
  ASSERT_EQ(up.Json()["inserted"], 8000);
  auto up_tiny = client_->Request(
      "POST", "/api/v1/market/bars/import?symbol=" + tiny + "&timeframe=H1&timezone=NY%2B7",
      Slice("EURUSD_H1.csv", 301), {Bearer(ta), "Content-Type: text/csv"});
  ASSERT_EQ(up_tiny.status, 200) << up_tiny.body;

  // --- bad input: 4xx naming the field, nothing queued ---------------------------------------
  auto expect_problem = [](const HttpResult& r, long status, const std::string& field) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.Header("content-type"), "application/problem+json") << r.body;
    EXPECT_EQ(r.Json()["field"], field) << r.body;
  };
  expect_problem(Post("/api/v1/models/train", {{"timeframe", "H1"}}, ta), 422, "symbol");
  expect_problem(
      Post("/api/v1/models/train", {{"symbol", UniqueSymbol("NO")}, {"timeframe", "H1"}}, ta), 404,
      "symbol");
  expect_problem(Post("/api/v1/models/train", {{"symbol", tiny}, {"timeframe", "H1"}}, ta), 422,
                 "symbol");
  expect_problem(
      Post("/api/v1/models/train", {{"symbol", sym}, {"timeframe", "H1"}, {"trees", 100000}}, ta),
      422, "trees");
  expect_problem(
      Post("/api/v1/models/train",
           {{"symbol", sym},
            {"timeframe", "H1"},
            {"members",
             json::array({{{"max_depth", 50}}, json::object(), json::object(), json::object()})}},
           ta),
      422, "members[0].max_depth");
  expect_problem(Post("/api/v1/models/train", {{"symbol", sym}, {"timeframe", "M1"}}, ta), 422,
                 "timeframe");
  expect_problem(
      Post("/api/v1/models/train", {{"symbol", sym}, {"timeframe", "H1"}, {"colour", 1}}, ta), 422,
      "colour");
  EXPECT_EQ(client_
                ->Request("POST", "/api/v1/models/train", "{nope",
                          {Bearer(ta), "Content-Type: application/json"})
                .status,
            400);

  // --- configuration ---------------------------------------------------------------------
  const std::string cfg_q = "/api/v1/models/config?symbol=" + sym + "&timeframe=H1";
  auto cfg = Get(cfg_q, ta);
  ASSERT_EQ(cfg.status, 200) << cfg.body;
  EXPECT_EQ(cfg.Json()["plan"], "free");
  EXPECT_EQ(cfg.Json()["stored"], false);
  auto put_bad = client_->Request("PUT", cfg_q, json{{"eta", 5}}.dump(),
                                  {Bearer(ta), "Content-Type: application/json"});
  expect_problem(put_bad, 422, "eta");
  // Small, fast trees and a thin dead band (0.2 bp) for this test; stored for the tenant.
  auto put = client_->Request("PUT", cfg_q, json{{"trees", 20}, {"dead_band", 0.00002}}.dump(),
                              {Bearer(ta), "Content-Type: application/json"});
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.Json()["config"]["members"][0]["trees"], 20);
  EXPECT_EQ(Get(cfg_q, tb).Json()["stored"], false) << "B sees only its own configuration";

  // --- train through the queue -------------------------------------------------------------
  auto train = Post("/api/v1/models/train", {{"symbol", sym}, {"timeframe", "H1"}}, ta);
  ASSERT_EQ(train.status, 202) << train.body;
  const int64_t job1 = train.Json()["job_id"];
  EXPECT_EQ(train.Header("location"), "/api/v1/jobs/" + std::to_string(job1));
  // B can't read A's job.
  EXPECT_EQ(Get("/api/v1/jobs/" + std::to_string(job1), tb).status, 404);
  json j1 = WaitForJob(job1, ta);
  ASSERT_EQ(j1["status"], "succeeded") << j1.dump();
  EXPECT_DOUBLE_EQ(j1["progress"].get<double>(), 1.0);
  const json& m1 = j1["result"]["model"];
  EXPECT_EQ(m1["version"], 1);
  EXPECT_EQ(m1["owner"], "tenant");
  EXPECT_EQ(m1["feature_set"], "core-v1");
  EXPECT_EQ(j1["result"]["activated"], false);
  EXPECT_EQ(m1["content_hash"].get<std::string>().size(), 64u);
  const json& wf = m1["metrics"]["walk_forward"];
  EXPECT_EQ(wf["folds"], 3);
  EXPECT_GT(wf["n"].get<int>(), 1000);
  // Honest range for hourly FX direction; far above would mean leakage.
  EXPECT_GT(wf["accuracy"].get<double>(), 0.44);
  EXPECT_LT(wf["accuracy"].get<double>(), 0.56);

  // A second version, activated by the job.
  auto train2 =
      Post("/api/v1/models/train", {{"symbol", sym}, {"timeframe", "h1"}, {"activate", true}}, ta);
  ASSERT_EQ(train2.status, 202) << train2.body;
  json j2 = WaitForJob(train2.Json()["job_id"], ta);
  ASSERT_EQ(j2["status"], "succeeded") << j2.dump();
  EXPECT_EQ(j2["result"]["activated"], true);

  // A failing job (unknown feature set, found by the worker) changes no active model.
  auto train3 =
      Post("/api/v1/models/train",
           {{"symbol", sym}, {"timeframe", "H1"}, {"feature_set", "nope"}, {"activate", true}}, ta);
  ASSERT_EQ(train3.status, 202) << train3.body;
  json j3 = WaitForJob(train3.Json()["job_id"], ta);
  EXPECT_EQ(j3["status"], "failed");
  EXPECT_EQ(j3["error"]["field"], "feature_set") << j3.dump();

  // --- versions, activate, rollback ----------------------------------------------------------
  const std::string list_q = "/api/v1/models?symbol=" + sym + "&timeframe=H1";
  auto list = Get(list_q, ta);
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(list.Json()["versions"].size(), 2u);
  EXPECT_EQ(list.Json()["active_version"], 2);
  EXPECT_EQ(list.Json()["serving"], "tenant");
  EXPECT_EQ(list.Json()["versions"][1]["active"], true);
  EXPECT_EQ(list.Json()["versions"][0]["data_from"], m1["data_from"]);
  const std::string base = "/api/v1/models/" + sym + "/H1";
  auto v1 = Get(base + "/versions/1", ta);
  ASSERT_EQ(v1.status, 200) << v1.body;
  EXPECT_EQ(v1.Json()["content_hash"], m1["content_hash"]);
  EXPECT_EQ(v1.Json()["active"], false);
  auto act = Post(base + "/versions/1/activate", json::object(), ta);
  ASSERT_EQ(act.status, 200) << act.body;
  EXPECT_EQ(act.Json()["active_version"], 1);
  auto rb = Post(base + "/rollback", json::object(), ta);
  ASSERT_EQ(rb.status, 200) << rb.body;
  EXPECT_EQ(rb.Json()["active_version"], 2);
  EXPECT_EQ(Get(base + "/versions/9", ta).status, 404);
  EXPECT_EQ(Post(base + "/versions/9/activate", json::object(), ta).status, 404);

  // --- tenant isolation ----------------------------------------------------------------------
  EXPECT_EQ(Get(base + "/versions/1", tb).status, 404);
  EXPECT_EQ(Post(base + "/versions/1/activate", json::object(), tb).status, 404);
  EXPECT_EQ(Post(base + "/rollback", json::object(), tb).status,
            409);  // B has nothing to roll back
  EXPECT_EQ(Get(base + "/versions/1/report", tb).status, 404);
  EXPECT_EQ(Get(base + "/versions/1/report/reliability.svg", tb).status, 404);
  auto b_list = Get(list_q, tb);
  ASSERT_EQ(b_list.status, 200) << b_list.body;
  EXPECT_TRUE(b_list.Json()["versions"].empty());
  EXPECT_TRUE(b_list.Json()["active_version"].is_null());
  EXPECT_EQ(Get(list_q, ta).Json()["active_version"], 2) << "B's attempts changed nothing";

  // --- reports ---------------------------------------------------------------------------------
  auto rj = Get(base + "/versions/1/report", ta);
  ASSERT_EQ(rj.status, 200) << rj.body;
  EXPECT_EQ(rj.Json()["symbol"], sym);
  EXPECT_EQ(rj.Json()["folds"].size(), 3u);
  auto md = Get(base + "/versions/1/report?format=md", ta);
  ASSERT_EQ(md.status, 200);
  EXPECT_NE(md.Header("content-type").find("text/markdown"), std::string::npos);
  EXPECT_NE(md.body.find("report/reliability.svg"), std::string::npos);
  EXPECT_EQ(Get(base + "/versions/1/report?format=pdf", ta).Json()["field"], "format");
  for (const std::string fig : {"reliability", "coverage"}) {
    auto svg = Get(base + "/versions/1/report/" + fig + ".svg", ta);
    ASSERT_EQ(svg.status, 200) << fig;
    EXPECT_EQ(svg.Header("content-type"), "image/svg+xml");
    EXPECT_NE(svg.body.find("<svg"), std::string::npos);
  }

  // --- the shell: sinyal predict with the tenant's active model --------------------------------
  std::string out;
  ASSERT_EQ(RunCli({"predict", "--symbol", sym, "--timeframe", "H1", "--tenant-id",
                    std::to_string(tenant_a), "--database", url_, "--data-dir", server_->data_dir(),
                    "--log-level", "warn"},
                   "", &out),
            0)
      << out;
  EXPECT_NE(out.find("version 2 (tenant)"), std::string::npos) << out;
  EXPECT_NE(out.find("confidence"), std::string::npos) << out;

  // --- a corrupted stored model: clear error naming the version, active unchanged ------------
  // History first: activate 1 then 2, so a rollback would return to 1.
  ASSERT_EQ(Post(base + "/versions/1/activate", json::object(), ta).status, 200);
  ASSERT_EQ(Post(base + "/versions/2/activate", json::object(), ta).status, 200);
  auto db = store::Database::Open({.url = url_, .pool_size = 1});
  ASSERT_OK(db);
  const bool pg = (*db)->dialect() == store::Dialect::kPostgres;
  ASSERT_OK((*db)->WithTx([&](soci::session& sql) {
    long long t = tenant_a;
    sql << std::string("UPDATE model_files SET bytes = ") +
               (pg ? "decode('00ff00ff', 'hex')" : "CAST('corrupt' AS BLOB)") +
               " WHERE idx = 1 AND model_id = (SELECT id FROM model_versions WHERE tenant_id = :t "
               "AND symbol = :s AND version = 1)",
        soci::use(t), soci::use(sym);
    return Status::Ok();
  }));
  (*db)->Close();
  auto corrupt = Post(base + "/versions/1/activate", json::object(), ta);
  EXPECT_EQ(corrupt.status, 409) << corrupt.body;
  EXPECT_EQ(corrupt.Json()["field"], "version");
  const std::string detail = corrupt.Json()["detail"];
  EXPECT_NE(detail.find("version 1"), std::string::npos) << detail;
  EXPECT_NE(detail.find("corrupted"), std::string::npos) << detail;
  EXPECT_NE(detail.find("unchanged"), std::string::npos) << detail;
  EXPECT_EQ(Get(list_q, ta).Json()["active_version"], 2);
  // Rolling back onto it is refused the same way.
  auto rb_corrupt = Post(base + "/rollback", json::object(), ta);
  EXPECT_EQ(rb_corrupt.status, 409) << rb_corrupt.body;
  EXPECT_NE(rb_corrupt.Json()["detail"].get<std::string>().find("corrupted"), std::string::npos);
  EXPECT_EQ(Get(list_q, ta).Json()["active_version"], 2);
}

INSTANTIATE_TEST_SUITE_P(Backends, ModelsE2E, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace sinyal::e2e
