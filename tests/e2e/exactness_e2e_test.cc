// Exact metering under crashes (issue 6, "must show"), on SQLite and PostgreSQL.
//
// 16 client threads make logical calls to POST /api/v1/business/predict, each with its own
// Idempotency-Key, retrying the SAME key on transport errors, 5xx, 409 (key in flight) and 429
// until the answer is definitive (200, or 402 at the quota). A killer thread SIGKILLs the server
// five times at random points of the run (one of them close to the quota edge) and restarts it
// on the same database. The tenant's plan has a small quota Q (no overage), so the edge is
// crossed mid-run.
//
// Properties checked at the end (billing/meter.h semantics: one ledger row per committed call;
// "remaining_quota" = units left in the period after this call, from the authoritative counter
// in the commit's transaction):
//   1. every logical call got a definitive answer; 200 for exactly Q of them and 402 for the rest
//      (a 402 leaves no trace; reserved units of killed calls are freed and re-used by retries);
//   2. the ledger (read directly from the database and through GET /api/v1/usage) holds exactly
//      one row per call any client saw succeed, and none for a call that finally failed: the
//      idempotency keys stored with the charged calls are exactly the succeeded keys;
//   3. every remaining_quota seen is >= 0, and over the succeeded calls they are all distinct and
//      form exactly {Q-1, Q-2, ..., 0}: call number p of the period (in commit order) shows
//      Q - p. Where the ledger keeps commit order (row id) and the key, that is checked per row;
//   4. replaying every succeeded key returns the first answer byte for byte, marked
//      Idempotent-Replayed, with no new ledger row; a failed (402) key stays failed.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "billing/plans.h"
#include "core/clock.h"
#include "e2e/harness.h"
#include "store/database.h"
#include "store/soci.h"

namespace sinyal::e2e {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kThreads = 16;
constexpr int kCallsPerThread = 25;  // 400 logical calls
constexpr int64_t kQuota = 300;      // crossed at call ~300 of 400
constexpr int kKills = 5;

std::string Slice(const std::string& file, int lines) {
  std::ifstream in(testing::SampleDataDir() / file);
  std::string line, out;
  for (int i = 0; i < lines && std::getline(in, line); ++i) out += line + "\n";
  return out;
}

// What one logical call ended with.
struct Outcome {
  std::string key;
  long status = 0;        // final definitive status (0: never got one)
  std::string body;       // final body
  bool replayed = false;  // the definitive answer was a replay (an earlier attempt committed)
  int attempts = 0;
  std::string last_error;  // last transport error / status seen before the definitive answer
};

class ExactnessE2E : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ServerProcess::Options options;
    if (GetParam() == "postgresql") {
      SINYAL_REQUIRE_POSTGRES();
      url_ = testing::PostgresTestUrl();
    } else {
      url_ = "sqlite://" + (dir_.path() / "exactness.db").string();
    }
    options.database_url = url_;
    options.env = {{"SINYAL_WORKER_POLL_INTERVAL_MS", "100"},
                   {"SINYAL_MODELS_REPORT_FOLDS", "3"},
                   {"SINYAL_WORKER_XGBOOST_THREADS", "1"}};
    std::string error;
    op_email_ = CreateOperator(url_, (dir_.path() / "var").string(), &error);
    ASSERT_FALSE(op_email_.empty()) << error;
    server_ = std::make_unique<ServerProcess>(options);
    std::string why;
    ASSERT_TRUE(server_->Start(&why)) << why;
    SetBase(server_->base_url());
    client_ = std::make_unique<HttpClient>(server_->base_url());
    op_token_ = OperatorLogin(*client_, op_email_, &error);
    ASSERT_FALSE(op_token_.empty()) << error;
  }

  void SetBase(const std::string& url) {
    std::lock_guard<std::mutex> lock(mu_);
    base_ = url;
  }
  std::string Base() {
    std::lock_guard<std::mutex> lock(mu_);
    return base_;
  }

  // Kills the server with SIGKILL and starts it again on the same database and data dir.
  void KillAndRestart() {
    server_->Signal(SIGKILL);
    const int rc = server_->Wait(10000);
    ASSERT_EQ(rc, 128 + SIGKILL) << "the server must die by SIGKILL";
    logs_ += server_->Log();
    std::string why;
    ASSERT_TRUE(server_->Start(&why)) << why;
    SetBase(server_->base_url());
  }

  // Polls a job until it finishes; returns the last job JSON.
  json WaitForJob(int64_t id, const std::string& token) {
    json job;
    for (int i = 0; i < 1800; ++i) {
      auto r = client_->Get("/api/v1/jobs/" + std::to_string(id), {Bearer(token)});
      job = r.Json();
      if (job.is_object() && (job["status"] == "succeeded" || job["status"] == "failed"))
        return job;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "job " << id << " did not finish: " << job.dump();
    return job;
  }

  // One logical call: retries the same Idempotency-Key until a definitive answer (or 90 s).
  Outcome Call(HttpClient*& http, std::string& http_base, const std::string& key,
               const std::string& body) {
    Outcome o;
    o.key = key;
    const auto deadline = Clock::now() + std::chrono::seconds(90);
    std::mt19937 rng(std::hash<std::string>{}(key));
    while (Clock::now() < deadline) {
      const std::string base = Base();
      if (base != http_base) {  // the server restarted on a new port
        delete http;
        http = new HttpClient(base);
        http_base = base;
      }
      ++o.attempts;
      auto r = http->Request(
          "POST", "/api/v1/business/predict", body,
          {"Content-Type: application/json", "X-API-Key: " + api_key_, "Idempotency-Key: " + key});
      const bool retry = r.status == 0 || r.status >= 500 || r.status == 409 || r.status == 429;
      if (!retry) {
        o.status = r.status;
        o.body = r.body;
        o.replayed = r.Header("idempotent-replayed") == "true";
        return o;
      }
      o.last_error = r.status == 0 ? r.error : std::to_string(r.status) + " " + r.body;
      std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 30));
    }
    return o;
  }

  // Creates plan `name` (quota kQuota, no overage, every feature, realtime, a rate limit far
  // above the test's) and moves the tenant onto it, through billing's own PlanStore and
  // Subscriptions on the server's database; then restarts the server so that its caches (5 s
  // TTL) see the change at once.
  void CreatePlanAndSubscribe(const std::string& name, int64_t tenant_id) {
    auto db = store::Database::Open({.url = url_, .pool_size = 1});
    ASSERT_OK(db);
    {
      billing::PlanStore plans(**db, SystemClock::Instance(),
                               {.cache_ttl = std::chrono::milliseconds(0)});
      billing::Subscriptions subs(**db, plans, SystemClock::Instance(),
                                  {.cache_ttl = std::chrono::milliseconds(0)});
      auto enterprise = plans.Get("enterprise");
      ASSERT_OK(enterprise);
      billing::Plan p = *enterprise;
      p.name = name;
      p.display_name = "Exactness test";
      p.price_idr =
          900000000;  // never the cheapest: 403 problems name real plans (shared PostgreSQL)
      p.monthly_quota = kQuota;
      p.overage_allowed = false;
      p.overage_price_idr = 0;
      p.rate_per_second = 100000;
      p.burst = 100000;
      p.data_delay_seconds = 0;
      ASSERT_OK(plans.Create(p, "test:exactness"));
      ASSERT_OK(subs.ChangePlan(TenantId(tenant_id), name, SystemClock::Instance().Now(),
                                "test:exactness"));
    }
    (*db)->Close();
    KillAndRestart();
  }

  // The ledger and the idempotency records of the tenant, read directly from the database (system
  // scope): one row per succeeded key, none for a failed key; rows in commit order show
  // remaining_quota = Q - position; the stored first answers equal what the clients got.
  void LedgerCheck(int64_t tenant_id, const std::map<std::string, const Outcome*>& ok,
                   const std::map<std::string, const Outcome*>& failed) {
    auto db = store::Database::Open({.url = url_, .pool_size = 1});
    ASSERT_OK(db);
    std::vector<std::pair<std::string, std::string>> rows;  // (idempotency key, endpoint) by id
    std::map<std::string, std::string> stored;              // idempotency key -> stored body
    int64_t units = 0, overage = 0;
    ASSERT_OK((*db)->WithTx([&](soci::session& sql) {
      long long t = tenant_id;
      soci::rowset<soci::row> rs =
          (sql.prepare << "SELECT idempotency_key, endpoint, units, overage_units "
                          "FROM usage_ledger WHERE tenant_id = :t ORDER BY id",
           soci::use(t));
      for (const auto& r : rs) {
        rows.emplace_back(r.get_indicator(0) == soci::i_null ? "" : r.get<std::string>(0),
                          r.get<std::string>(1));
        units += r.get<long long>(2);
        overage += r.get<long long>(3);
      }
      soci::rowset<soci::row> ks =
          (sql.prepare << "SELECT idem_key, body FROM idempotency_keys WHERE tenant_id = :t",
           soci::use(t));
      for (const auto& r : ks) stored[r.get<std::string>(0)] = r.get<std::string>(1);
      return Status::Ok();
    }));
    (*db)->Close();
    EXPECT_EQ(rows.size(), ok.size()) << "ledger rows vs calls seen to succeed";
    EXPECT_EQ(units, static_cast<int64_t>(ok.size()));
    EXPECT_EQ(overage, 0);
    std::set<std::string> seen;
    for (size_t p = 0; p < rows.size(); ++p) {
      const auto& [key, endpoint] = rows[p];
      EXPECT_EQ(endpoint, "business.predict");
      EXPECT_TRUE(seen.insert(key).second) << "two ledger rows for key " << key;
      EXPECT_EQ(failed.count(key), 0u) << "a call that finally failed was charged: " << key;
      auto it = ok.find(key);
      if (it == ok.end()) {
        ADD_FAILURE() << "ledger row " << p << " has key '" << key
                      << "' that no client saw succeed";
        continue;
      }
      // Position p+1 in commit order: remaining_quota must be Q - (p+1).
      json j = json::parse(it->second->body, nullptr, false);
      EXPECT_EQ(j.value("remaining_quota", int64_t{-1}), kQuota - static_cast<int64_t>(p + 1))
          << "key " << key << " at ledger position " << p + 1;
    }
    for (const auto& [key, o] : ok) {
      EXPECT_EQ(seen.count(key), 1u) << "a call seen to succeed has no ledger row: " << key;
      auto it = stored.find(key);
      ASSERT_NE(it, stored.end()) << "no idempotency record for " << key;
      EXPECT_EQ(it->second, o->body) << "stored first answer differs for " << key;
    }
    for (const auto& [key, o] : failed)
      EXPECT_EQ(stored.count(key), 0u) << "failed call has a record: " << key;
  }

  testing::TempDir dir_;
  std::string url_, op_email_, op_token_, api_key_, logs_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<HttpClient> client_;
  std::mutex mu_;
  std::string base_;
};

TEST_P(ExactnessE2E, EveryCallSeenToSucceedIsChargedExactlyOnceAcrossSigkills) {
  // --- a tenant with a trained model on a private series of real EURUSD H1 bars --------------
  json reg = RegisterTenant(*client_, "exact");
  const std::string jwt = reg["access_token"];
  const int64_t tenant_id = reg["user"]["tenant"]["id"];
  const std::string sym = UniqueSymbol("EX");
  auto up = client_->Request(
      "POST", "/api/v1/market/bars/import?symbol=" + sym + "&timeframe=H1&timezone=NY%2B7",
      Slice("EURUSD_H1.csv", 8001), {Bearer(jwt), "Content-Type: text/csv"});
  ASSERT_EQ(up.status, 200) << up.body;
  auto train =
      client_->PostJson("/api/v1/models/train",
                        {{"symbol", sym}, {"timeframe", "H1"}, {"activate", true}}, {Bearer(jwt)});
  ASSERT_EQ(train.status, 202) << train.body;
  json job = WaitForJob(train.Json()["job_id"], jwt);
  ASSERT_EQ(job["status"], "succeeded") << job.dump();
  auto key = client_->PostJson("/api/v1/api-keys", {{"name", "exactness"}}, {Bearer(jwt)});
  ASSERT_EQ(key.status, 201) << key.body;
  api_key_ = key.Json()["key"];

  // --- its plan: quota Q per month, no overage, a rate limit far above the test's rate --------
  const std::string plan = "exact-" + UniqueSuffix().substr(0, 8);
  ASSERT_NO_FATAL_FAILURE(CreatePlanAndSubscribe(plan, tenant_id));

  const std::string body = json{
      {"symbol", sym},
      {"timeframe", "H1"},
      {"prediction_type", "price_direction"},
      {"confidence_threshold",
       0.6}}.dump();
  // The signal is computed once (features, regime, calibration) before the clock starts: a call
  // with a key of its own, counted with the others below.
  std::vector<Outcome> outcomes;
  {
    HttpClient* http = new HttpClient(Base());
    std::string http_base = Base();
    outcomes.push_back(Call(http, http_base, "warm-" + UniqueSuffix(), body));
    delete http;
    ASSERT_EQ(outcomes[0].status, 200) << outcomes[0].body << "\n" << server_->Log();
  }

  // --- the run: 16 clients, a killer ---------------------------------------------------------
  const int total = 1 + kThreads * kCallsPerThread;
  std::atomic<int> done{1};
  std::mutex out_mu;
  std::vector<std::thread> clients;
  const std::string run = UniqueSuffix();
  for (int t = 0; t < kThreads; ++t) {
    clients.emplace_back([&, t] {
      HttpClient* http = nullptr;
      std::string http_base;
      for (int i = 0; i < kCallsPerThread; ++i) {
        Outcome o = Call(http, http_base,
                         "exact-" + run + "-" + std::to_string(t) + "-" + std::to_string(i), body);
        {
          std::lock_guard<std::mutex> lock(out_mu);
          outcomes.push_back(std::move(o));
        }
        done.fetch_add(1);
      }
      delete http;
    });
  }
  // Kill points: four random completed-call counts across the run and one near the quota edge.
  std::mt19937 rng(std::random_device{}());
  std::vector<int> kill_at;
  for (int i = 0; i < kKills - 1; ++i)
    kill_at.push_back(static_cast<int>(total * (0.05 + 0.9 * (rng() % 1000) / 1000.0)));
  kill_at.push_back(static_cast<int>(kQuota) - 12 + static_cast<int>(rng() % 8));
  std::sort(kill_at.begin(), kill_at.end());
  std::vector<int> killed_at;
  std::thread killer([&] {
    for (int at : kill_at) {
      while (done.load() < at && done.load() < total)
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      if (done.load() >= total) break;
      // A random extra moment (0-3 ms) so the kill lands anywhere in a request's life.
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
      killed_at.push_back(done.load());
      KillAndRestart();
    }
  });
  for (auto& c : clients) c.join();
  killer.join();
  ASSERT_FALSE(HasFatalFailure()) << logs_ << server_->Log();

  // --- 1. definitive answers: exactly Q successes, 402 for the rest --------------------------
  ASSERT_EQ(static_cast<int>(outcomes.size()), total);
  EXPECT_GE(static_cast<int>(killed_at.size()), kKills - 1) << "kills happened at too few points";
  std::map<std::string, const Outcome*> ok, failed;
  int retried = 0, ok_after_retry = 0, recovered_by_replay = 0;
  for (const auto& o : outcomes) {
    if (o.attempts > 1) ++retried;
    if (o.attempts > 1 && o.status == 200) ++ok_after_retry;
    if (o.replayed) ++recovered_by_replay;
    if (o.status == 200) {
      ok[o.key] = &o;
    } else if (o.status == 402) {
      failed[o.key] = &o;
      EXPECT_EQ(json::parse(o.body, nullptr, false).value("status", 0), 402) << o.body;
      EXPECT_NE(o.body.find(plan), std::string::npos) << "402 names the plan: " << o.body;
    } else {
      ADD_FAILURE() << "call " << o.key << " ended with " << o.status << " after " << o.attempts
                    << " attempts: " << o.body << " (last: " << o.last_error << ")";
    }
  }
  std::printf(
      "exactness[%s]: %d calls, %zu ok, %zu refused (402), kills at %s; %d calls retried, "
      "%d of them ok in the end, %d marked Idempotent-Replayed\n",
      GetParam().c_str(), total, ok.size(), failed.size(), json(killed_at).dump().c_str(), retried,
      ok_after_retry, recovered_by_replay);
  EXPECT_EQ(static_cast<int64_t>(ok.size()), kQuota) << "every unit of the quota is sold once";
  EXPECT_EQ(static_cast<int64_t>(failed.size()), total - kQuota);

  // --- 3. remaining_quota: >= 0, distinct, exactly {Q-1, ..., 0} ----------------------------
  std::map<int64_t, std::string> key_by_remaining;
  for (const auto& [k, o] : ok) {
    json j = json::parse(o->body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << o->body;
    ASSERT_TRUE(j["remaining_quota"].is_number_integer()) << o->body;
    const int64_t rem = j["remaining_quota"];
    EXPECT_GE(rem, 0) << o->body;
    EXPECT_LT(rem, kQuota) << o->body;
    EXPECT_EQ(j["cost_credits"], 1) << o->body;
    EXPECT_EQ(j["usage_cost"], 0) << "no overage on this plan: " << o->body;
    auto [it, fresh] = key_by_remaining.emplace(rem, k);
    EXPECT_TRUE(fresh) << "remaining_quota " << rem << " shown to two calls: " << it->second
                       << " and " << k;
  }
  EXPECT_EQ(static_cast<int64_t>(key_by_remaining.size()), kQuota);
  if (!key_by_remaining.empty()) {
    EXPECT_EQ(key_by_remaining.begin()->first, 0);
    EXPECT_EQ(key_by_remaining.rbegin()->first, kQuota - 1);
  }

  // --- 2. the ledger, read directly from the database ----------------------------------------
  LedgerCheck(tenant_id, ok, failed);

  // ... and through GET /api/v1/usage.
  HttpClient after(Base());
  auto usage = after.Get("/api/v1/usage", {Bearer(jwt)});
  ASSERT_EQ(usage.status, 200) << usage.body;
  json u = usage.Json();
  EXPECT_EQ(u["plan"], plan) << u.dump();
  EXPECT_EQ(u["quota"], kQuota) << u.dump();
  EXPECT_EQ(u["used"], kQuota) << u.dump();
  EXPECT_EQ(u["remaining"], 0) << u.dump();
  EXPECT_EQ(u["calls"], kQuota) << u.dump();
  int64_t predict_calls = -1;
  for (const auto& e : u["by_endpoint"]) {
    if (e["endpoint"] == "business.predict") predict_calls = e["calls"];
  }
  EXPECT_EQ(predict_calls, kQuota) << u.dump();

  // --- 4. replays: the first answer byte for byte, nothing new charged -----------------------
  for (const auto& [k, o] : ok) {
    auto r = after.Request(
        "POST", "/api/v1/business/predict", body,
        {"Content-Type: application/json", "X-API-Key: " + api_key_, "Idempotency-Key: " + k});
    EXPECT_EQ(r.status, 200) << k << ": " << r.body;
    EXPECT_EQ(r.body, o->body) << "replay of " << k << " differs from the first answer";
    EXPECT_EQ(r.Header("idempotent-replayed"), "true") << k;
  }
  int checked_failed = 0;
  for (const auto& [k, o] : failed) {
    if (++checked_failed > 20) break;
    auto r = after.Request(
        "POST", "/api/v1/business/predict", body,
        {"Content-Type: application/json", "X-API-Key: " + api_key_, "Idempotency-Key: " + k});
    EXPECT_EQ(r.status, 402) << k << ": " << r.body;
  }
  auto usage2 = after.Get("/api/v1/usage", {Bearer(jwt)});
  EXPECT_EQ(usage2.Json()["used"], kQuota) << "replays charged nothing: " << usage2.body;
  LedgerCheck(tenant_id, ok, failed);
  if (HasFailure())
    std::fprintf(stderr, "server logs:\n%s%s\n", logs_.c_str(), server_->Log().c_str());
}

INSTANTIATE_TEST_SUITE_P(Backends, ExactnessE2E, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace sinyal::e2e
