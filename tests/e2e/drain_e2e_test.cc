// SIGTERM drain of deferred (asynchronously completed) responses, on SQLite and PostgreSQL.
//
// POST /api/v1/business/predict answers once the meter's group commit is durable
// (docs/ARCHITECTURE.md "Request path"): the response is deferred and sent later from an I/O
// thread. server_e2e_test.cc drains blocking routes; this drains the deferred ones.
//
// 8 client threads call predict continuously, each call with its own Idempotency-Key. Once the
// run is well under way the server gets SIGTERM. Checked:
//   1. the process exits 0 and logs "stopped";
//   2. every call got a 2xx or a 503 (shutting down), or was refused at connect time after the
//      listener closed; no call was cut off (reset / empty reply) after being accepted, and no
//      other status appears;
//   3. the usage ledger, read directly from the database, holds exactly one row per key a client
//      saw answered 2xx and none for a 503 or a refused call; GET /api/v1/usage on a server
//      restarted on the same database counts the same number of calls.
// Clients retry at once after a 503 (the harshest client): Server::Drain stops accepting first,
// so a reconnect is refused rather than accepted and then cut off by Stop.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "e2e/harness.h"
#include "store/database.h"
#include "store/soci.h"

namespace sinyal::e2e {
namespace {

using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

constexpr int kThreads = 8;

class DrainE2E : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgresql") {
      SINYAL_REQUIRE_POSTGRES();
      url_ = testing::PostgresTestUrl();
    } else {
      url_ = "sqlite://" + (dir_.path() / "drain.db").string();
    }
    // A platform series and its default model (small trees: the test is about shutdown).
    sym_ = UniqueSymbol("DR");
    const std::string failed =
        IngestAndTrainPlatformModel(url_, dir_.path().string(), sym_, /*trees=*/10,
                                    /*horizons=*/{1});
    ASSERT_EQ(failed, "");
    std::string error;
    const std::string op_email = CreateOperator(url_, (dir_.path() / "cli").string(), &error);
    ASSERT_FALSE(op_email.empty()) << error;
    ServerProcess::Options options;
    options.database_url = url_;
    server_ = std::make_unique<ServerProcess>(options);
    std::string why;
    ASSERT_TRUE(server_->Start(&why)) << why;
    HttpClient client(server_->base_url());
    const std::string op_token = OperatorLogin(client, op_email, &error);
    ASSERT_FALSE(op_token.empty()) << error;
    // A plan whose quota and rate limit are far above the run's: every refusal is the drain's.
    const std::string plan = "tdrain" + UniqueSuffix().substr(0, 8);
    auto created = client.Request("PUT", "/api/v1/operator/plans/" + plan,
                                  json{{"price_idr", 900000000},
                                       {"monthly_quota", 1000000},
                                       {"rate_per_second", 100000},
                                       {"burst", 100000},
                                       {"timeframes", {"H1"}},
                                       {"features", {"realtime", "batch", "confidence"}}}
                                      .dump(),
                                  {Bearer(op_token), "Content-Type: application/json"});
    ASSERT_EQ(created.status, 201) << created.body;
    json reg = RegisterTenant(client, "drain-co");
    tenant_id_ = reg["user"]["tenant"]["id"];
    owner_token_ = reg["access_token"];
    auto key = client.PostJson("/api/v1/api-keys", {{"name", "drain e2e"}}, {Bearer(owner_token_)});
    ASSERT_EQ(key.status, 201) << key.body;
    api_key_ = key.Json()["key"];
    auto set = client.Request(
        "PUT", "/api/v1/operator/tenants/" + std::to_string(tenant_id_) + "/plan",
        json{{"plan", plan}}.dump(), {Bearer(op_token), "Content-Type: application/json"});
    ASSERT_EQ(set.status, 200) << set.body;
  }

  // The idempotency keys of the tenant's ledger rows, read directly from the database.
  std::vector<std::string> LedgerKeys() {
    std::vector<std::string> keys;
    auto db = store::Database::Open({.url = url_, .pool_size = 1});
    EXPECT_OK(db);
    if (!db.ok()) return keys;
    EXPECT_OK((*db)->WithTx([&](soci::session& sql) {
      long long t = tenant_id_;
      soci::rowset<soci::row> rs = (sql.prepare << "SELECT idempotency_key, endpoint FROM "
                                                   "usage_ledger WHERE tenant_id = :t ORDER BY id",
                                    soci::use(t));
      for (const auto& r : rs) {
        keys.push_back(r.get_indicator(0) == soci::i_null ? "" : r.get<std::string>(0));
        EXPECT_EQ(r.get<std::string>(1), "business.predict");
      }
      return Status::Ok();
    }));
    (*db)->Close();
    return keys;
  }

  testing::TempDir dir_;
  std::string url_, sym_, owner_token_, api_key_;
  int64_t tenant_id_ = 0;
  std::unique_ptr<ServerProcess> server_;
};

TEST_P(DrainE2E, SigtermDrainsDeferredPredictionsWithoutLosingOrOverchargingAny) {
  struct Outcome {
    std::string key;
    long status = 0;
    std::string error;
  };
  std::mutex mu;
  std::vector<Outcome> outcomes;
  std::atomic<int> ok_before_signal{0};
  std::atomic<bool> signalled{false};
  const std::string body = json{{"symbol", sym_}, {"timeframe", "H1"}}.dump();
  const std::string base = server_->base_url();
  const std::string run = UniqueSuffix();
  const auto deadline = SteadyClock::now() + std::chrono::seconds(60);

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      HttpClient http(base);
      std::vector<Outcome> mine;
      for (int i = 0; SteadyClock::now() < deadline; ++i) {
        Outcome o;
        o.key = "drain-" + run + "-" + std::to_string(t) + "-" + std::to_string(i);
        auto r = http.Request("POST", "/api/v1/business/predict", body,
                              {"Content-Type: application/json", "X-API-Key: " + api_key_,
                               "Idempotency-Key: " + o.key});
        o.status = r.status;
        o.error = r.error;
        mine.push_back(o);
        if (r.status >= 200 && r.status < 300 && !signalled.load()) ok_before_signal++;
        if (r.status == 0) break;  // the listener is gone (classified below)
        if (r.status == 503) {
          continue;  // retry at once, the harshest client: the listener must be closed by now
        } else if (r.status < 200 || r.status >= 300) {
          break;  // unexpected: reported below
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      outcomes.insert(outcomes.end(), mine.begin(), mine.end());
    });
  }
  // Mid-run: after a few hundred calls have been answered, while every thread is busy.
  const auto wait_until = SteadyClock::now() + std::chrono::seconds(30);
  while (ok_before_signal.load() < 300 && SteadyClock::now() < wait_until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  signalled.store(true);
  server_->Signal(SIGTERM);
  const int rc = server_->Wait(20000);
  for (auto& th : threads) th.join();
  const std::string log = server_->Log();
  ASSERT_EQ(rc, 0) << log.substr(log.size() > 4000 ? log.size() - 4000 : 0);
  EXPECT_NE(log.find("\"event\":\"stopped\""), std::string::npos);
  EXPECT_GE(ok_before_signal.load(), 300) << "the run must be under way at SIGTERM";

  std::set<std::string> ok_keys, unavailable_keys, refused_keys;
  for (const auto& o : outcomes) {
    if (o.status >= 200 && o.status < 300) {
      ok_keys.insert(o.key);
    } else if (o.status == 503) {
      unavailable_keys.insert(o.key);
    } else if (o.status == 0 && o.error == "Couldn't connect to server") {
      refused_keys.insert(o.key);  // CURLE_COULDNT_CONNECT: never accepted
    } else {
      ADD_FAILURE() << "call " << o.key << ": status " << o.status << " transport error '"
                    << o.error
                    << "' (only 2xx, 503 or a refused connection are acceptable during a drain)";
    }
  }
  std::printf("drain: %zu calls: %zu 2xx (%d before SIGTERM), %zu 503, %zu refused\n",
              outcomes.size(), ok_keys.size(), ok_before_signal.load(), unavailable_keys.size(),
              refused_keys.size());
  // Each thread stops at its first refused connection: at most one each.
  EXPECT_LE(refused_keys.size(), static_cast<size_t>(kThreads));
  EXPECT_GT(ok_keys.size(), 300u);

  // The ledger: exactly the keys answered 2xx, once each.
  const std::vector<std::string> ledger = LedgerKeys();
  std::set<std::string> ledger_set(ledger.begin(), ledger.end());
  EXPECT_EQ(ledger.size(), ledger_set.size()) << "a key was charged twice";
  EXPECT_EQ(ledger.size(), ok_keys.size()) << "ledger rows vs 2xx answers seen";
  for (const auto& k : ok_keys)
    EXPECT_EQ(ledger_set.count(k), 1u) << "answered 2xx but not charged: " << k;
  for (const auto& k : ledger_set) {
    EXPECT_EQ(ok_keys.count(k), 1u)
        << "charged without a 2xx answer (503: " << unavailable_keys.count(k)
        << ", refused: " << refused_keys.count(k) << "): " << k;
  }

  // The same through the API on a server restarted on the database.
  std::string why;
  ASSERT_TRUE(server_->Start(&why)) << why;
  HttpClient client(server_->base_url());
  auto usage = client.Get("/api/v1/usage", {Bearer(owner_token_)});
  ASSERT_EQ(usage.status, 200) << usage.body;
  EXPECT_EQ(usage.Json()["calls"], ok_keys.size()) << usage.body;
  EXPECT_EQ(usage.Json()["used"], ok_keys.size()) << usage.body;
}

INSTANTIATE_TEST_SUITE_P(Backends, DrainE2E, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace sinyal::e2e
