// Retraining over real HTTP against the real binary, on SQLite and PostgreSQL: the real database,
// job queue and in-process worker. A tenant replays a synthetic H1 stream (AR(1) log returns)
// whose relationship changes mid-way: phase A trends (phi = +0.5), phase B reverts (phi = -0.5)
// with doubled volatility, then phase A's relationship returns. After each batch of bars the
// tenant asks for a check (POST .../retraining/check -> job) and reads the trail (GET
// .../retraining):
//   A only -> no drift; + B -> drift -> challenger trained, not active; + more B -> champion and
//   challenger scored on the same unseen rows -> promoted; + A again -> promoted model degrades
//   -> automatic rollback. The trail shows each step with its figures; another tenant sees none
// of it and can't queue checks of a model it doesn't have; bad input names the parameter.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "core/time.h"
#include "e2e/harness.h"

namespace sinyal::e2e {
namespace {

using nlohmann::json;

// AR(1) H1 bars as an MT5 export (UTC), continuing from the previous call.
class Stream {
 public:
  std::string Csv(size_t n, double phi, double sigma) {
    std::normal_distribution<double> z(0, 1);
    std::string out = "DATE,TIME,OPEN,HIGH,LOW,CLOSE,TICKVOL,VOL,SPREAD\n";
    char line[160];
    for (size_t i = 0; i < n; ++i) {
      const double r = phi * last_r_ + sigma * z(rng_);
      const double o = price_, c = price_ * std::exp(r);
      const double wick = std::fabs(z(rng_)) * sigma * 0.3 * price_;
      const double h = std::max(o, c) + wick, l = std::min(o, c) - wick;
      const CivilTime ct = NanosToCivil(t_);
      std::snprintf(line, sizeof line, "%04d.%02d.%02d,%02d:00:00,%.5f,%.5f,%.5f,%.5f,%d,0,8\n",
                    ct.year, ct.month, ct.day, ct.hour, o, h, l, c, 100 + static_cast<int>(i % 7));
      out += line;
      // The next bar opens at this bar's close as written (5 decimals).
      price_ = std::round(c * 1e5) / 1e5;
      last_r_ = r;
      t_ += kNanosPerHour;
    }
    return out;
  }

 private:
  std::mt19937_64 rng_{11};
  double price_ = 1.1, last_r_ = 0;
  UnixNanos t_ = 1'577'836'800LL * kNanosPerSecond;  // 2020-01-01 00:00 UTC
};

class RetrainingE2E : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ServerProcess::Options options;
    if (GetParam() == "postgresql") {
      SINYAL_REQUIRE_POSTGRES();
      options.database_url = testing::PostgresTestUrl();
    } else {
      options.database_url = "sqlite://" + (dir_.path() / "retraining.db").string();
    }
    options.env = {{"SINYAL_WORKER_POLL_INTERVAL_MS", "100"},
                   {"SINYAL_MODELS_REPORT_FOLDS", "2"},
                   {"SINYAL_WORKER_XGBOOST_THREADS", "1"},
                   {"SINYAL_WORKER_RETRAIN_WINDOW_BARS", "4000"}};
    server_ = std::make_unique<ServerProcess>(options);
    std::string why;
    ASSERT_TRUE(server_->Start(&why)) << why;
    client_ = std::make_unique<HttpClient>(server_->base_url());
  }

  HttpResult Get(const std::string& path, const std::string& token) {
    return client_->Get(path, {Bearer(token)});
  }
  HttpResult Post(const std::string& path, const json& body, const std::string& token) {
    return client_->PostJson(path, body, {Bearer(token)});
  }

  void Upload(const std::string& csv, const std::string& token) {
    auto r = client_->Request(
        "POST", "/api/v1/market/bars/import?symbol=" + sym_ + "&timeframe=H1&timezone=UTC", csv,
        {Bearer(token), "Content-Type: text/csv"});
    ASSERT_EQ(r.status, 200) << r.body;
  }

  json WaitForJob(int64_t id, const std::string& token) {
    json job;
    for (int i = 0; i < 3000; ++i) {
      auto r = Get("/api/v1/jobs/" + std::to_string(id), token);
      EXPECT_EQ(r.status, 200) << r.body;
      job = r.Json();
      if (job["status"] == "succeeded" || job["status"] == "failed") return job;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "job " << id << " did not finish: " << job.dump() << "\n" << server_->Log();
    return job;
  }

  // Queues a check, waits for it, returns the job's result (outcome, versions, audit seqs).
  json Check(const std::string& token) {
    auto r = Post("/api/v1/models/" + sym_ + "/H1/retraining/check", json::object(), token);
    EXPECT_EQ(r.status, 202) << r.body;
    EXPECT_EQ(r.Header("location"), "/api/v1/jobs/" + std::to_string(r.Json().value("job_id", 0)));
    json job = WaitForJob(r.Json()["job_id"].get<int64_t>(), token);
    EXPECT_EQ(job["kind"], "retrain_check");
    EXPECT_EQ(job["status"], "succeeded") << job.dump();
    return job["result"];
  }

  int64_t Active(const std::string& token) {
    auto r = Get("/api/v1/models?symbol=" + sym_ + "&timeframe=H1", token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.Json().value("active_version", json(0)).is_number()
               ? r.Json()["active_version"].get<int64_t>()
               : 0;
  }

  testing::TempDir dir_;
  std::string sym_ = UniqueSymbol("RT");
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<HttpClient> client_;
};

TEST_P(RetrainingE2E, DriftChallengerPromotionRollbackAndTheAuditTrail) {
  json a = RegisterTenant(*client_, "retrain-a");
  json b = RegisterTenant(*client_, "retrain-b");
  const std::string ta = a["access_token"], tb = b["access_token"];
  Stream stream;

  // The champion: trained on phase A through the API and activated.
  Upload(stream.Csv(4000, +0.5, 0.001), ta);
  auto put = client_->Request("PUT", "/api/v1/models/config?symbol=" + sym_ + "&timeframe=H1",
                              json{{"trees", 30}, {"feature_set", "basic"}}.dump(),
                              {Bearer(ta), "Content-Type: application/json"});
  ASSERT_EQ(put.status, 200) << put.body;
  auto train =
      Post("/api/v1/models/train", {{"symbol", sym_}, {"timeframe", "H1"}, {"activate", true}}, ta);
  ASSERT_EQ(train.status, 202) << train.body;
  ASSERT_EQ(WaitForJob(train.Json()["job_id"], ta)["status"], "succeeded");
  ASSERT_EQ(Active(ta), 1);
  auto empty = Get("/api/v1/models/" + sym_ + "/H1/retraining", ta);
  ASSERT_EQ(empty.status, 200) << empty.body;
  EXPECT_TRUE(empty.Json()["records"].empty());

  // 1. Same regime. PSI over a 500-bar window of persistent features (RSI, 24-bar return) can
  // flag drift in a trending stream by chance: a false alarm may train a challenger, but it must
  // not be promoted (it is scored against the champion on new bars of the same regime).
  std::vector<std::string> expected = {"drift_check"};
  json c1 = Check(ta);
  if (c1["outcome"] == "challenger_trained") {
    Upload(stream.Csv(600, +0.5, 0.001), ta);
    json r1 = Check(ta);
    EXPECT_EQ(r1["outcome"], "rejected") << r1.dump();
    expected.insert(expected.end(), {"challenger_trained", "challenger_evaluated", "rejected"});
  } else {
    EXPECT_EQ(c1["outcome"], "drift_checked") << c1.dump();
  }
  EXPECT_EQ(Active(ta), 1);
  const int64_t v2 = c1["outcome"] == "challenger_trained" ? 3 : 2;
  // 2. The relationship flips and volatility doubles: drift -> challenger v2, not active.
  Upload(stream.Csv(4000, -0.5, 0.002), ta);
  json c2 = Check(ta);
  EXPECT_EQ(c2["outcome"], "challenger_trained") << c2.dump();
  EXPECT_EQ(c2["challenger_version"], v2);
  EXPECT_EQ(Active(ta), 1);
  // 3. Nothing after both models' data yet.
  EXPECT_EQ(Check(ta)["outcome"], "waiting");
  // 4. New bars of the new regime: both scored on the same unseen rows -> promoted.
  Upload(stream.Csv(600, -0.5, 0.002), ta);
  json c4 = Check(ta);
  EXPECT_EQ(c4["outcome"], "promoted") << c4.dump();
  EXPECT_EQ(Active(ta), v2);
  // 5. The old relationship returns: the promoted model degrades -> rolled back to v1.
  Upload(stream.Csv(600, +0.5, 0.002), ta);
  json c5 = Check(ta);
  EXPECT_EQ(c5["outcome"], "rolled_back") << c5.dump();
  EXPECT_EQ(Active(ta), 1);

  // The trail, newest first, every step with its figures.
  auto trail = Get("/api/v1/models/" + sym_ + "/H1/retraining", ta);
  ASSERT_EQ(trail.status, 200) << trail.body;
  json recs = trail.Json()["records"];
  std::vector<std::string> actions;
  for (auto it = recs.rbegin(); it != recs.rend(); ++it) actions.push_back((*it)["action"]);
  expected.insert(expected.end(), {"drift_check", "challenger_trained", "challenger_evaluated",
                                   "promoted", "post_promotion_check", "rolled_back"});
  EXPECT_EQ(actions, expected) << recs.back().dump();
  ASSERT_EQ(recs.size(), expected.size());
  EXPECT_EQ(recs[0]["seq"], static_cast<int64_t>(expected.size()));
  EXPECT_TRUE(recs[5]["decision"]);  // the drift check after the change
  bool significant = false;
  for (auto& [k, v] : recs[5]["figures"].items()) {
    if (k.rfind("psi.", 0) == 0 && v.is_number() && v.get<double>() >= 0.25) significant = true;
  }
  EXPECT_TRUE(significant) << recs[5].dump();
  const json& ev = recs[3];
  EXPECT_EQ(ev["action"], "challenger_evaluated");
  EXPECT_GT(ev["figures"]["champion.log_loss"].get<double>(),
            ev["figures"]["challenger.log_loss"].get<double>());
  EXPECT_LT(ev["figures"]["paired.p"].get<double>(), 0.05);
  EXPECT_GE(ev["figures"]["n"].get<double>(), 300);
  EXPECT_EQ(recs[2]["champion_version"], 1);
  EXPECT_EQ(recs[2]["challenger_version"], v2);
  EXPECT_TRUE(recs[1]["decision"]);
  EXPECT_EQ(recs[0]["champion_version"], 1);
  EXPECT_FALSE(recs[0]["reasons"].empty());
  // Paging.
  auto page = Get("/api/v1/models/" + sym_ + "/H1/retraining?limit=3", ta);
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.Json()["records"].size(), 3u);
  const int64_t n = static_cast<int64_t>(expected.size());
  EXPECT_EQ(page.Json()["next_before"], n - 2);
  auto older =
      Get("/api/v1/models/" + sym_ + "/H1/retraining?limit=3&before=" + std::to_string(n - 2), ta);
  ASSERT_EQ(older.status, 200);
  EXPECT_EQ(older.Json()["records"][0]["seq"], n - 3);

  // Tenant isolation, permissions and bad input.
  auto other = Get("/api/v1/models/" + sym_ + "/H1/retraining", tb);
  ASSERT_EQ(other.status, 200);
  EXPECT_TRUE(other.Json()["records"].empty());
  auto nomodel = Post("/api/v1/models/" + sym_ + "/H1/retraining/check", json::object(), tb);
  EXPECT_EQ(nomodel.status, 404) << nomodel.body;
  EXPECT_EQ(nomodel.Json()["field"], "model");
  auto bad = Get("/api/v1/models/" + sym_ + "/H1/retraining?limit=0", ta);
  EXPECT_EQ(bad.status, 422);
  EXPECT_EQ(bad.Json()["field"], "limit");
  EXPECT_EQ(Get("/api/v1/models/" + sym_ + "/H1/retraining?owner=me", ta).Json()["field"], "owner");
  EXPECT_EQ(Get("/api/v1/models/" + sym_ + "/H1/retraining?colour=red", ta).status, 422);
  EXPECT_EQ(client_->Get("/api/v1/models/" + sym_ + "/H1/retraining").status, 401);
  EXPECT_EQ(Get("/api/v1/models/" + sym_ + "/H7/retraining", ta).status, 404);
}

INSTANTIATE_TEST_SUITE_P(Backends, RetrainingE2E, ::testing::Values("sqlite", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

}  // namespace
}  // namespace sinyal::e2e
