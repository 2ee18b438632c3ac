// Signals and correlations over real HTTP against the real binary, on SQLite and PostgreSQL: a
// tenant uploads real EURUSD and GBPUSD H1 bars (private series), trains a model through the API,
// reads the latest signal (every field, its threshold, the cache giving the same signal), sees it
// in its history, gets a new signal when a new bar is stored and the old one resolved against
// it; another tenant sees none of it; the correlations route answers good input with both
// matrices and clear 4xx problems naming the field for bad input.
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "e2e/harness.h"

namespace sinyal::e2e {
namespace {

using nlohmann::json;

// Header plus lines [from, to) (1-based data lines) of a data/sample file.
std::string Lines(const std::string& file, int from, int to) {
  std::ifstream in(testing::SampleDataDir() / file);
  std::string line, out;
  std::getline(in, line);
  out = line + "\n";
  for (int i = 1; i < to && std::getline(in, line); ++i) {
    if (i >= from) out += line + "\n";
  }
  return out;
}

// Header plus the last `n` data lines.
std::string Tail(const std::string& file, int n) {
  std::ifstream in(testing::SampleDataDir() / file);
  std::string header, line;
  std::getline(in, header);
  std::vector<std::string> all;
  while (std::getline(in, line)) all.push_back(line);
  std::string out = header + "\n";
  for (size_t i = all.size() - std::min<size_t>(all.size(), n); i < all.size(); ++i)
    out += all[i] + "\n";
  return out;
}

class SignalsE2E : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ServerProcess::Options options;
    if (GetParam() == "postgresql") {
      SINYAL_REQUIRE_POSTGRES();
      options.database_url = testing::PostgresTestUrl();
    } else {
      options.database_url = "sqlite://" + (dir_.path() / "signals.db").string();
    }
    // Bar checks on every call: a newly uploaded bar is seen at once (no sleeping through the
    // default 1 s interval).
    options.env = {{"SINYAL_WORKER_POLL_INTERVAL_MS", "100"},
                   {"SINYAL_MODELS_REPORT_FOLDS", "2"},
                   {"SINYAL_WORKER_XGBOOST_THREADS", "1"},
                   {"SINYAL_SIGNALS_BAR_CHECK_INTERVAL_MS", "0"}};
    // An operator, to move tenants between plans (signal fields are gated by plan).
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
  void SetPlan(const json& registered, const std::string& plan) {
    const int64_t tenant = registered["user"]["tenant"]["id"];
    auto r = client_->Request("PUT", "/api/v1/operator/tenants/" + std::to_string(tenant) + "/plan",
                              json{{"plan", plan}}.dump(),
                              {Bearer(op_token_), "Content-Type: application/json"});
    ASSERT_EQ(r.status, 200) << r.body;
  }
  HttpResult Get(const std::string& path, const std::string& token) {
    return client_->Get(path, {Bearer(token)});
  }
  HttpResult Upload(const std::string& symbol, const std::string& csv, const std::string& token) {
    return client_->Request(
        "POST", "/api/v1/market/bars/import?symbol=" + symbol + "&timeframe=H1&timezone=NY%2B7",
        csv, {Bearer(token), "Content-Type: text/csv"});
  }
  json WaitForJob(int64_t id, const std::string& token) {
    json job;
    for (int i = 0; i < 1800; ++i) {
      auto r = Get("/api/v1/jobs/" + std::to_string(id), token);
      job = r.Json();
      if (job["status"] == "succeeded" || job["status"] == "failed") return job;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "job " << id << " did not finish: " << job.dump();
    return job;
  }
  void ExpectProblem(const HttpResult& r, long status, const std::string& field,
                     const std::string& detail_part = "") {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.Header("content-type"), "application/problem+json") << r.body;
    EXPECT_EQ(r.Json()["field"], field) << r.body;
    if (!detail_part.empty()) {
      EXPECT_NE(r.Json()["detail"].get<std::string>().find(detail_part), std::string::npos)
          << r.body;
    }
  }

  testing::TempDir dir_;
  std::string op_email_, op_token_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<HttpClient> client_;
};

TEST_P(SignalsE2E, LatestHistoryNewBarResolutionAndCorrelations) {
  json a = RegisterTenant(*client_, "alpha");
  json b = RegisterTenant(*client_, "beta");
  const std::string ta = a["access_token"], tb = b["access_token"];
  SetPlan(a, "enterprise");  // every signal field (Free's gating is checked at the end)
  SetPlan(b, "pro");
  const std::string eu = UniqueSymbol("EU"), gb = UniqueSymbol("GB"), late = UniqueSymbol("LT");
  // 6,000 real H1 bars of EURUSD and GBPUSD (2020-01 ..), held back: line 6,001 of EURUSD.
  ASSERT_EQ(Upload(eu, Lines("EURUSD_H1.csv", 1, 6001), ta).status, 200);
  ASSERT_EQ(Upload(gb, Lines("GBPUSD_H1.csv", 1, 6001), ta).status, 200);
  // 300 bars from the end of the data (2023): no overlap with the two above.
  ASSERT_EQ(Upload(late, Tail("GBPUSD_H1.csv", 300), ta).status, 200);

  // --- correlations: good input -----------------------------------------------------------------
  auto corr =
      Get("/api/v1/market/correlations?symbols=" + eu + "," + gb + "&timeframe=h1&window=200", ta);
  ASSERT_EQ(corr.status, 200) << corr.body;
  json c = corr.Json();
  EXPECT_EQ(c["window"], 200);
  EXPECT_EQ(c["symbols"].size(), 2u);
  EXPECT_EQ(c["common_bars"].get<int>(), 5000);  // the newest 5,000 bars of each are read
  const double rho = c["pearson"]["matrix"][0][1];
  EXPECT_GT(rho, 0.3) << "EURUSD and GBPUSD returns move together";  // real data: about 0.6-0.8
  EXPECT_EQ(c["pearson"]["matrix"][0][0], 1.0);
  EXPECT_EQ(c["spearman"]["matrix"][1][0], c["spearman"]["matrix"][0][1]);
  EXPECT_EQ(c["lead_lag"][0]["lags"].size(), 7u);  // -3..3
  EXPECT_EQ(c["breaks"].size(), 1u);

  // --- indicator odds (issue 13): the up rate after an indicator state, with Wilson interval and n --
  auto odds = Get("/api/v1/market/indicator-odds?symbol=" + eu +
                      "&timeframe=H1&states=rsi%3C30,macd(12,26,9)_cross_up&horizons=1,24",
                  ta);
  ASSERT_EQ(odds.status, 200) << odds.body;
  json od = odds.Json();
  ASSERT_EQ(od["odds"].size(), 4u) << od.dump();  // 2 states x 2 horizons
  EXPECT_EQ(od["odds"][0]["state"], "rsi(14)<30");
  EXPECT_EQ(od["odds"][3]["state"], "macd(12,26,9)_cross_up");
  EXPECT_EQ(od["odds"][1]["horizon"], 24);
  for (const auto& item : od["odds"]) {
    const auto& rate = item["rate"];
    ASSERT_GT(rate["n"].get<int>(), 10)
        << item.dump();  // 6,000 real bars: RSI < 30 and MACD crosses occur
    EXPECT_LE(rate["n"].get<int>(), item["occurrences"].get<int>()) << item.dump();
    EXPECT_LE(rate["ci95"][0].get<double>(), rate["p_up"].get<double>()) << item.dump();
    EXPECT_GE(rate["ci95"][1].get<double>(), rate["p_up"].get<double>()) << item.dump();
    EXPECT_GT(item["base_rate"]["n"].get<int>(), rate["n"].get<int>()) << item.dump();
  }
  ExpectProblem(
      Get("/api/v1/market/indicator-odds?symbol=" + eu + "&timeframe=H1&states=rsi%3C0", ta), 422,
      "states[0]");
  ExpectProblem(
      Get("/api/v1/market/indicator-odds?symbol=" + eu + "&timeframe=H1&states=rsi%3C30&horizons=0",
          ta),
      422, "horizons[0]");
  ExpectProblem(Get("/api/v1/market/indicator-odds?symbol=" + eu + "&timeframe=H1", ta), 422,
                "states");
  // Another tenant does not see this tenant's series.
  ExpectProblem(
      Get("/api/v1/market/indicator-odds?symbol=" + eu + "&timeframe=H1&states=rsi%3C30", tb), 404,
      "symbol");

  // --- correlations: bad input names the field --------------------------------------------------
  ExpectProblem(Get("/api/v1/market/correlations?symbols=" + eu + "&timeframe=H1", ta), 422,
                "symbols", "at least 2");
  ExpectProblem(
      Get("/api/v1/market/correlations?symbols=" + eu + "," + UniqueSymbol("NO") + "&timeframe=H1",
          ta),
      404, "symbols", "unknown symbol");
  ExpectProblem(
      Get("/api/v1/market/correlations?symbols=" + eu + "," + gb + "&timeframe=H1&window=5", ta),
      422, "window", "20");
  ExpectProblem(
      Get("/api/v1/market/correlations?symbols=" + eu + "," + gb + "&timeframe=H1&window=abc", ta),
      422, "window");
  ExpectProblem(Get("/api/v1/market/correlations?symbols=" + eu + "," + gb + "&timeframe=H7", ta),
                422, "timeframe");
  ExpectProblem(Get("/api/v1/market/correlations?symbols=" + eu + "," + late + "&timeframe=H1", ta),
                422, "symbols", "share only");
  std::string many = eu;
  for (int i = 0; i < 11; ++i) many += ",S" + std::to_string(i) + "X";
  ExpectProblem(Get("/api/v1/market/correlations?symbols=" + many + "&timeframe=H1", ta), 422,
                "symbols", "at most");
  ExpectProblem(
      Get("/api/v1/market/correlations?symbols=" + eu + "," + gb + "&timeframe=H1&colour=1", ta),
      422, "colour");
  // Another tenant cannot read A's private series.
  ExpectProblem(Get("/api/v1/market/correlations?symbols=" + eu + "," + gb + "&timeframe=H1", tb),
                404, "symbols");

  // --- no model yet -----------------------------------------------------------------------------
  ExpectProblem(Get("/api/v1/signals/latest?symbol=" + eu + "&timeframe=H1", ta), 404, "model");

  // --- train and activate -----------------------------------------------------------------------
  auto train = client_->PostJson(
      "/api/v1/models/train",
      {{"symbol", eu}, {"timeframe", "H1"}, {"trees", 30}, {"activate", true}}, {Bearer(ta)});
  ASSERT_EQ(train.status, 202) << train.body;
  json job = WaitForJob(train.Json()["job_id"], ta);
  ASSERT_EQ(job["status"], "succeeded") << job.dump() << server_->Log();

  // --- the latest signal ------------------------------------------------------------------------
  auto latest = Get("/api/v1/signals/latest?symbol=" + eu + "&timeframe=1h&threshold=0.5", ta);
  ASSERT_EQ(latest.status, 200) << latest.body << server_->Log();
  json s = latest.Json();
  EXPECT_EQ(s["symbol"], eu);
  EXPECT_EQ(s["timeframe"], "H1");
  EXPECT_EQ(s["horizon"], 1);
  // At threshold 0.5 a model with walk-forward skill always calls; one without abstains and says why.
  if (s["skill_shown"] == false) {
    EXPECT_EQ(s["prediction"], "neutral") << s.dump();
    EXPECT_EQ(s["abstain_reason"].get<std::string>().rfind("no skill", 0), 0u) << s.dump();
  } else {
    EXPECT_TRUE(s["prediction"] == "bullish" || s["prediction"] == "bearish") << s.dump();
  }
  const double p_up = s["p_up"];
  EXPECT_DOUBLE_EQ(s["confidence"].get<double>(), std::max(p_up, 1 - p_up));
  ASSERT_EQ(s["intervals"].size(), 2u);
  EXPECT_LT(s["intervals"][1]["lo"].get<double>(), s["intervals"][0]["lo"].get<double>());
  EXPECT_GE(s["regime"]["code"].get<int>(), 0);
  EXPECT_EQ(s["drivers"].size(), 5u);
  EXPECT_EQ(s["model_version"].get<std::string>().substr(0, 1), "t");
  EXPECT_EQ(s["model_version"].get<std::string>().substr(
                s["model_version"].get<std::string>().size() - 2),
            "v1");
  const std::string bar_time = s["bar_time"];
  // Cached: the same signal again; a strict threshold abstains with the same id.
  auto again = Get("/api/v1/signals/latest?symbol=" + eu + "&timeframe=H1", ta);
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.Json()["id"], s["id"]);
  EXPECT_EQ(again.Json()["timestamp"], s["timestamp"]);
  auto strict = Get("/api/v1/signals/latest?symbol=" + eu + "&timeframe=H1&threshold=0.999", ta);
  ASSERT_EQ(strict.status, 200);
  EXPECT_EQ(strict.Json()["prediction"], "neutral");
  EXPECT_EQ(strict.Json()["abstained"], true);
  EXPECT_EQ(strict.Json()["id"], s["id"]);
  ExpectProblem(Get("/api/v1/signals/latest?symbol=" + eu + "&timeframe=H1&threshold=2", ta), 422,
                "threshold");
  ExpectProblem(Get("/api/v1/signals/latest?symbol=" + eu + "&timeframe=H1&threshold=x", ta), 422,
                "threshold");
  ExpectProblem(Get("/api/v1/signals/latest?symbol=" + eu + "&timeframe=H9", ta), 422, "timeframe");
  ExpectProblem(Get("/api/v1/signals/latest?symbol=" + UniqueSymbol("NO") + "&timeframe=H1", ta),
                404, "symbol");
  ExpectProblem(Get("/api/v1/signals/latest?timeframe=H1", ta), 422, "symbol");
  // Tenant B cannot see A's series or signals.
  ExpectProblem(Get("/api/v1/signals/latest?symbol=" + eu + "&timeframe=H1", tb), 404, "symbol");

  // --- history and one signal -------------------------------------------------------------------
  // The history is the track record (docs/billing.md, "What is metered"): the open signal is not in
  // it; by id it is served and metered (one unit), as /signals/latest.
  auto hist = Get("/api/v1/signals?symbol=" + eu + "&timeframe=H1", ta);
  ASSERT_EQ(hist.status, 200) << hist.body;
  ASSERT_EQ(hist.Json()["signals"].size(), 0u) << hist.body;
  const std::string id = s["id"];
  auto by_id = Get("/api/v1/signals/" + id, ta);
  ASSERT_EQ(by_id.status, 200) << by_id.body;
  EXPECT_EQ(by_id.Json()["resolved"], false);
  EXPECT_EQ(by_id.Json()["owner"], "tenant");
  EXPECT_EQ(by_id.Json()["cost_credits"], 1) << by_id.body;
  ExpectProblem(Get("/api/v1/signals/" + id, tb), 404, "id");
  EXPECT_EQ(Get("/api/v1/signals?symbol=" + eu, tb).Json()["signals"].size(), 0u);
  ExpectProblem(Get("/api/v1/signals?limit=0", ta), 422, "limit");
  ExpectProblem(Get("/api/v1/signals?before=yesterday", ta), 422, "before");

  auto perf = Get("/api/v1/signals/performance?symbol=" + eu + "&timeframe=H1", ta);
  ASSERT_EQ(perf.status, 200) << perf.body;
  EXPECT_EQ(perf.Json()["live"]["resolved"], 0);
  EXPECT_TRUE(perf.Json()["validation"].contains("walk_forward")) << perf.body;

  // --- a new bar: a new signal, the previous one resolved ---------------------------------------
  ASSERT_EQ(Upload(eu, Lines("EURUSD_H1.csv", 6001, 6002), ta).status, 200);
  auto next = Get("/api/v1/signals/latest?symbol=" + eu + "&timeframe=H1", ta);
  ASSERT_EQ(next.status, 200) << next.body;
  EXPECT_NE(next.Json()["bar_time"], bar_time);
  EXPECT_NE(next.Json()["id"], s["id"]);
  auto perf2 = Get("/api/v1/signals/performance?symbol=" + eu + "&timeframe=H1", ta);
  ASSERT_EQ(perf2.status, 200) << perf2.body;
  EXPECT_EQ(perf2.Json()["live"]["resolved"], 1) << perf2.body;
  auto old = Get("/api/v1/signals/" + id, ta);
  ASSERT_EQ(old.status, 200);
  EXPECT_EQ(old.Json()["resolved"], true) << old.body;
  EXPECT_EQ(old.Json()["resolution"]["resolved_bar_time"], next.Json()["bar_time"]);
  // Resolved: now in the track record, free; the new open signal is not.
  EXPECT_FALSE(old.Json().contains("cost_credits")) << old.body;
  auto hist2 = Get("/api/v1/signals?symbol=" + eu + "&timeframe=H1", ta).Json();
  ASSERT_EQ(hist2["signals"].size(), 1u) << hist2.dump();
  EXPECT_EQ(hist2["signals"][0]["id"], id);
  EXPECT_EQ(hist2["signals"][0]["owner"], "tenant");

  // --- the same tenant on Free: direction only, the rest listed as gated; no correlations --------
  SetPlan(a, "free");
  auto free_latest = Get("/api/v1/signals/latest?symbol=" + eu + "&timeframe=H1", ta);
  ASSERT_EQ(free_latest.status, 200) << free_latest.body;
  json f = free_latest.Json();
  EXPECT_TRUE(f.contains("prediction"));
  for (const char* k : {"p_up", "confidence", "uncertainty", "intervals", "expected_return",
                        "regime", "drivers", "model_version", "cross_asset"}) {
    EXPECT_FALSE(f.contains(k)) << k << " leaked to Free: " << f.dump();
  }
  for (const char* g : {"confidence", "intervals", "regime", "correlations"}) {
    ASSERT_TRUE(f["gated"].contains(g)) << f.dump();
    EXPECT_NE(f["gated"][g].get<std::string>().find("requires plan"), std::string::npos)
        << f.dump();
  }
  json old_free = Get("/api/v1/signals/" + id, ta).Json();
  EXPECT_FALSE(old_free.contains("confidence")) << old_free.dump();
  EXPECT_FALSE(old_free["resolution"].contains("brier")) << old_free.dump();  // a function of p_up
  EXPECT_FALSE(old_free["resolution"].contains("covered")) << old_free.dump();
  for (const auto& item : Get("/api/v1/signals?symbol=" + eu, ta).Json()["signals"]) {
    EXPECT_FALSE(item.contains("p_up")) << item.dump();
  }
  ExpectProblem(Get("/api/v1/market/correlations?symbols=" + eu + "," + gb + "&timeframe=H1", ta),
                403, "correlations", "requires plan");
  // Every signal route counts against Free's rate limit (1/s, burst 5), refused calls included.
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  ExpectProblem(
      Get("/api/v1/market/indicator-odds?symbol=" + eu + "&timeframe=H1&states=rsi%3C30", ta), 403,
      "confidence", "requires plan");
  ExpectProblem(Get("/api/v1/signals/latest?symbol=" + eu + "&timeframe=M5", ta), 403, "timeframe",
                "requires plan");
}

INSTANTIATE_TEST_SUITE_P(Backends, SignalsE2E, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace sinyal::e2e
