// Market data over real HTTP against the real binary, on SQLite and PostgreSQL: CSV uploads of
// real sample data (data/sample) with paging, the hostile-upload table (each 422 naming its line, nothing
// written), tenant-private series, tick batches becoming bars, the operator WebSocket feed, the
// ingest and replay CLIs, and feature vectors equal to the features library's own computation.
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "e2e/harness.h"
#include "e2e/ws_client.h"
#include "features/feature_set.h"
#include "market/csv_import.h"

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

class MarketE2E : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ServerProcess::Options options;
    if (GetParam() == "postgresql") {
      SINYAL_REQUIRE_POSTGRES();
      url_ = testing::PostgresTestUrl();
    } else {
      url_ = "sqlite://" + (dir_.path() / "market.db").string();
    }
    options.database_url = url_;
    std::string error;
    op_email_ = CreateOperator(url_, (dir_.path() / "var").string(), &error);
    ASSERT_FALSE(op_email_.empty()) << error;
    server_ = std::make_unique<ServerProcess>(options);
    std::string why;
    ASSERT_TRUE(server_->Start(&why)) << why;
    client_ = std::make_unique<HttpClient>(server_->base_url());
    op_token_ = OperatorLogin(*client_, op_email_, &error);
    ASSERT_FALSE(op_token_.empty()) << error;
  }

  HttpResult Upload(const std::string& token, const std::string& query, const std::string& csv) {
    return client_->Request("POST", "/api/v1/market/bars/import?" + query, csv,
                            {Bearer(token), "Content-Type: text/csv"});
  }

  testing::TempDir dir_;
  std::string url_, op_email_, op_token_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<HttpClient> client_;
};

TEST_P(MarketE2E, UploadRealSliceThenPageThroughIt) {
  const std::string sym = UniqueSymbol("EU");
  const std::string csv = Slice("EURUSD_H1.csv", 501);  // header + 500 bars
  auto up = Upload(op_token_, "symbol=" + sym + "&timeframe=H1&timezone=NY%2B7", csv);
  ASSERT_EQ(up.status, 200) << up.body;
  json r = up.Json();
  EXPECT_EQ(r["owner"], "platform");
  EXPECT_EQ(r["rows_read"], 500);
  EXPECT_EQ(r["inserted"], 500);
  EXPECT_EQ(r["layout"], "mt5");
  EXPECT_EQ(r["first"],
            "2022-05-31T21:00:00Z");  // 2022.06.01 00:00 NY+7 (UTC+3 while US DST is on)

  // Pages of 200 cover the 500 bars exactly once, in order.
  std::vector<json> bars;
  std::string cursor;
  int pages = 0;
  do {
    auto page = client_->Get("/api/v1/market/bars?symbol=" + sym + "&timeframe=H1&limit=200" +
                                 (cursor.empty() ? "" : "&cursor=" + cursor),
                             {Bearer(op_token_)});
    ASSERT_EQ(page.status, 200) << page.body;
    json p = page.Json();
    for (auto& b : p["bars"]) bars.push_back(b);
    cursor = p["next_cursor"].is_null() ? "" : p["next_cursor"].get<std::string>();
    ++pages;
  } while (!cursor.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(bars.size(), 500u);
  EXPECT_EQ(bars.front()["time"], "2022-05-31T21:00:00Z");
  EXPECT_EQ(bars.front()["open"], 1.07318);
  for (size_t i = 1; i < bars.size(); ++i) {
    ASSERT_LT(bars[i - 1]["time"].get<std::string>(), bars[i]["time"].get<std::string>());
  }
  // A time range, inclusive.
  auto ranged = client_->Get("/api/v1/market/bars?symbol=" + sym +
                                 "&timeframe=1h&from=2022-06-01T00:00:00Z&to=2022-06-01T02:00:00Z",
                             {Bearer(op_token_)});
  ASSERT_EQ(ranged.status, 200) << ranged.body;
  EXPECT_EQ(ranged.Json()["bars"].size(), 3u);

  // Re-import: nothing duplicated; a changed bar is a conflict (409) and writes nothing.
  auto again = Upload(op_token_, "symbol=" + sym + "&timeframe=H1&timezone=NY%2B7", csv);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.Json()["identical"], 500);
  EXPECT_EQ(again.Json()["inserted"], 0);
  std::string changed = csv;
  changed.replace(changed.find("1.07318"), 7, "1.07319");
  auto conflict = Upload(op_token_, "symbol=" + sym + "&timeframe=H1&timezone=NY%2B7", changed);
  EXPECT_EQ(conflict.status, 409) << conflict.body;
  EXPECT_EQ(conflict.Json()["field"], "on_overlap");

  // Bad query parameters name the parameter.
  auto q = [&](const std::string& query) {
    return client_->Get("/api/v1/market/bars?" + query, {Bearer(op_token_)});
  };
  EXPECT_EQ(q("symbol=" + sym + "&timeframe=H2").Json()["field"], "timeframe");
  EXPECT_EQ(q("symbol=EUR/USD&timeframe=H1").Json()["field"], "symbol");
  EXPECT_EQ(q("symbol=" + sym + "&timeframe=H1&limit=5001").Json()["field"], "limit");
  EXPECT_EQ(q("symbol=" + sym + "&timeframe=H1&from=2021-01-01T00:00:00Z&to=2020-01-01T00:00:00Z")
                .Json()["field"],
            "from");
  EXPECT_EQ(q("symbol=" + sym + "&timeframe=H1&from=yesterday").Json()["field"], "from");
  EXPECT_EQ(q("symbol=" + sym + "&timeframe=H1&colour=red").Json()["field"], "colour");
  auto unknown = q("symbol=" + UniqueSymbol("ZZ") + "&timeframe=H1");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.Json()["field"], "symbol");
}

TEST_P(MarketE2E, HostileUploadsAre422WithTheirLineAndWriteNothing) {
  const std::string sym = UniqueSymbol("HX");
  const std::string h = "DATE,TIME,OPEN,HIGH,LOW,CLOSE,TICKVOL,VOL,SPREAD\n";
  const std::string r1 = "2020.01.02,00:00:00,1.12118,1.12165,1.12073,1.12142,426,0,3\n";
  const std::string r2 = "2020.01.02,01:00:00,1.12142,1.12217,1.12142,1.12189,523,0,1\n";
  struct Case {
    const char* name;
    std::string body;
    const char* field;
    const char* detail_part;
  };
  const std::vector<Case> cases = {
      {"empty", "", "line 1", "empty file"},
      {"header only", h, "line 2", "header only"},
      {"wrong columns", "DATE,TIME,OPEN,HI,LO,CLOSE\n2020.01.02,00:00,1,1,1,1\n", "line 1",
       "missing column 'high'"},
      {"text in number", h + r1 + "2020.01.02,01:00:00,1.1,abc,1.0,1.1,1,0,0\n", "line 3",
       "'abc' is not a number"},
      {"NaN", h + "2020.01.02,00:00:00,1.1,1.2,1.0,NaN,1,0,0\n", "line 2", "NaN is not allowed"},
      {"high < low", h + "2020.01.02,00:00:00,1.1,1.0,1.2,1.1,1,0,0\n", "line 2",
       "high 1 is below low 1.2"},
      {"duplicate timestamps", h + r1 + r1, "line 3", "duplicate timestamp"},
      {"unsorted", h + r2 + r1, "line 3", "out of time order"},
      {"mixed separators", h + r1 + "2020.01.02\t01:00:00\t1.1\t1.2\t1.0\t1.1\t1\t0\t0\n", "line 3",
       "mixed separators"},
      {"BOM then garbage", "\xEF\xBB\xBF" + h + "2020.01.02,00:00:00,1.1,1.2,1.0,x,1,0,0\n",
       "line 2", "'x' is not a number"},
  };
  for (const Case& c : cases) {
    auto r = Upload(op_token_, "symbol=" + sym + "&timeframe=H1", c.body);
    EXPECT_EQ(r.status, 422) << c.name << ": " << r.body;
    EXPECT_EQ(r.Header("content-type"), "application/problem+json") << c.name;
    json p = r.Json();
    EXPECT_EQ(p["field"], c.field) << c.name << ": " << r.body;
    EXPECT_NE(p["detail"].get<std::string>().find(c.detail_part), std::string::npos)
        << c.name << ": " << r.body;
  }
  // Nothing was written: the series does not exist.
  auto bars =
      client_->Get("/api/v1/market/bars?symbol=" + sym + "&timeframe=H1", {Bearer(op_token_)});
  EXPECT_EQ(bars.status, 404) << bars.body;
  // A UTF-8 BOM in front of a good file is not an error: it is stripped.
  auto bom = Upload(op_token_, "symbol=" + sym + "&timeframe=H1", "\xEF\xBB\xBF" + h + r1 + r2);
  ASSERT_EQ(bom.status, 200) << bom.body;
  EXPECT_EQ(bom.Json()["inserted"], 2);
  // Skip mode imports the good rows and reports the bad ones with their lines.
  auto skip = Upload(op_token_, "symbol=" + UniqueSymbol("SK") + "&timeframe=H1&on_bad_row=skip",
                     h + r1 + "2020.01.02,01:00:00,1.1,1.0,1.2,1.1,1,0,0\n");
  ASSERT_EQ(skip.status, 200) << skip.body;
  EXPECT_EQ(skip.Json()["inserted"], 1);
  EXPECT_EQ(skip.Json()["bad_rows"][0]["line"], 3);
  // Wrong content type, bad options, wrong timeframe for the data.
  EXPECT_EQ(client_
                ->Request("POST", "/api/v1/market/bars/import?symbol=" + sym + "&timeframe=H1",
                          h + r1, {Bearer(op_token_), "Content-Type: application/json"})
                .status,
            415);
  EXPECT_EQ(
      Upload(op_token_, "symbol=" + sym + "&timeframe=H1&timezone=Mars", h + r1).Json()["field"],
      "timezone");
  EXPECT_EQ(Upload(op_token_, "symbol=" + sym + "&timeframe=D1", h + r1 + r2).Json()["field"],
            "timeframe");
}

TEST_P(MarketE2E, TenantPrivateSeriesAndPermissions) {
  const std::string sym = UniqueSymbol("PV");
  const std::string h = "time,open,high,low,close,tick_volume,spread,real_volume\n";
  auto platform = Upload(op_token_, "symbol=" + sym + "&timeframe=M1",
                         h + "2023.01.02 10:00,1.1,1.2,1.0,1.15,5,1,0\n"
                             "2023.01.02 10:01,1.15,1.2,1.1,1.12,5,1,0\n");
  ASSERT_EQ(platform.status, 200) << platform.body;

  json a = RegisterTenant(*client_, "alpha");
  json b = RegisterTenant(*client_, "beta");
  const std::string ta = a["access_token"], tb = b["access_token"];
  auto priv = Upload(ta, "symbol=" + sym + "&timeframe=M1",
                     h + "2023.01.02 10:00,2.1,2.2,2.0,2.15,5,1,0\n");
  ASSERT_EQ(priv.status, 200) << priv.body;
  EXPECT_EQ(priv.Json()["owner"], "tenant");

  auto read = [&](const std::string& token) {
    auto r = client_->Get("/api/v1/market/bars?symbol=" + sym + "&timeframe=M1", {Bearer(token)});
    EXPECT_EQ(r.status, 200) << r.body;
    return r.Json();
  };
  json ra = read(ta), rb = read(tb), rop = read(op_token_);
  EXPECT_EQ(ra["series"]["owner"], "tenant");
  EXPECT_EQ(ra["bars"].size(), 1u);
  EXPECT_EQ(ra["bars"][0]["open"], 2.1);
  EXPECT_EQ(rb["series"]["owner"], "platform");
  EXPECT_EQ(rb["bars"].size(), 2u);
  EXPECT_EQ(rop["bars"].size(), 2u);

  // API keys: scope read may read but not import; ticks are operators only.
  auto key = client_->PostJson("/api/v1/api-keys", {{"name", "reader"}, {"scopes", {"read"}}},
                               {Bearer(tb)});
  ASSERT_EQ(key.status, 201) << key.body;
  const std::string reader = key.Json()["key"];
  EXPECT_EQ(
      client_->Get("/api/v1/market/bars?symbol=" + sym + "&timeframe=M1", {Bearer(reader)}).status,
      200);
  EXPECT_EQ(
      Upload(reader, "symbol=" + sym + "&timeframe=M1", h + "2023.01.02 11:00,1,1,1,1,1,1,0\n")
          .status,
      403);
  EXPECT_EQ(
      client_->PostJson("/api/v1/market/ticks", {{"ticks", json::array()}}, {Bearer(ta)}).status,
      403);
  EXPECT_EQ(client_->Get("/api/v1/market/bars?symbol=" + sym + "&timeframe=M1").status, 401);
}

TEST_P(MarketE2E, OperatorFeedKeysPushTicksAndNothingElse) {
  auto created = client_->PostJson("/api/v1/operator/feed-keys", {{"name", "mt5-bridge"}},
                                   {Bearer(op_token_)});
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string feed_key = created.Json()["key"];
  ASSERT_EQ(feed_key.rfind("sk_feed_", 0), 0u);
  EXPECT_EQ(created.Json()["scopes"], json::array({"feed"}));

  const std::string sym = UniqueSymbol("FK");
  json batch = {{"ticks",
                 {{{"symbol", sym}, {"time", "2023-03-01T10:00:05Z"}, {"bid", 1.1}},
                  {{"symbol", sym}, {"time", "2023-03-01T10:01:05Z"}, {"bid", 1.2}}}}};
  auto pushed = client_->PostJson("/api/v1/market/ticks", batch, {"X-API-Key: " + feed_key});
  ASSERT_EQ(pushed.status, 200) << pushed.body;
  EXPECT_EQ(pushed.Json()["accepted"], 2);
  EXPECT_EQ(client_->PostJson("/api/v1/market/ticks", batch, {Bearer(feed_key)}).status, 200);

  // A feed key can push ticks and nothing else.
  EXPECT_EQ(client_->Get("/api/v1/operator/me", {Bearer(feed_key)}).status, 403);
  EXPECT_EQ(client_->Get("/api/v1/operator/feed-keys", {Bearer(feed_key)}).status, 403);
  EXPECT_EQ(client_->Get("/api/v1/market/bars?symbol=" + sym + "&timeframe=M1", {Bearer(feed_key)})
                .status,
            403);
  EXPECT_EQ(client_->Get("/api/v1/me", {Bearer(feed_key)}).status, 403);
  // Tenant users can't create feed keys, and a tenant key can't push ticks.
  auto tenant = RegisterTenant(*client_, "feedless");
  EXPECT_EQ(client_
                ->PostJson("/api/v1/operator/feed-keys", {{"name", "x"}},
                           {Bearer(tenant["access_token"])})
                .status,
            403);

  auto listed = client_->Get("/api/v1/operator/feed-keys", {Bearer(op_token_)});
  ASSERT_EQ(listed.status, 200);
  EXPECT_EQ(listed.body.find(feed_key), std::string::npos) << "the secret is shown once";
  const std::string id = std::to_string(created.Json()["id"].get<int64_t>());
  EXPECT_EQ(client_->Request("DELETE", "/api/v1/operator/feed-keys/" + id, "", {Bearer(op_token_)})
                .status,
            204);
  EXPECT_EQ(client_->PostJson("/api/v1/market/ticks", batch, {"X-API-Key: " + feed_key}).status,
            401);
  EXPECT_EQ(
      client_->Request("DELETE", "/api/v1/operator/feed-keys/999999999", "", {Bearer(op_token_)})
          .status,
      404);
}

TEST_P(MarketE2E, TickBatchesBecomeBarsOnEveryTimeframe) {
  const std::string sym = UniqueSymbol("TK");
  json ticks = json::array();
  // 2023-03-01T10:00Z: ticks through minutes 0..6, then one at 10:16 closes M1..M15 bars.
  for (int m = 0; m <= 6; ++m) {
    for (int s : {5, 30, 55}) {
      char t[32];
      std::snprintf(t, sizeof t, "2023-03-01T10:%02d:%02dZ", m, s);
      ticks.push_back({{"symbol", sym}, {"time", t}, {"bid", 1.1 + m * 0.001 + s * 1e-6}});
    }
  }
  ticks.push_back({{"symbol", sym}, {"time", "2023-03-01T10:16:00Z"}, {"bid", 1.2}});
  auto r = client_->PostJson("/api/v1/market/ticks", {{"ticks", ticks}}, {Bearer(op_token_)});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["accepted"], 22);
  EXPECT_EQ(r.Json()["bars_closed"], 7 + 2 + 1);  // M1 x7, M5 x2 (10:00, 10:05), M15 x1
  // A late tick for a closed minute and an invalid one are counted, not applied.
  auto late =
      client_->PostJson("/api/v1/market/ticks",
                        {{"ticks",
                          {{{"symbol", sym}, {"time", "2023-03-01T10:01:00Z"}, {"bid", 9.0}},
                           {{"symbol", sym}, {"time", 1677665200000LL}, {"bid", -1.0}}}}},
                        {Bearer(op_token_)});
  ASSERT_EQ(late.status, 200) << late.body;
  EXPECT_EQ(late.Json()["late"], 1);
  EXPECT_EQ(late.Json()["rejected"], 1);

  auto m1 =
      client_->Get("/api/v1/market/bars?symbol=" + sym + "&timeframe=M1", {Bearer(op_token_)});
  ASSERT_EQ(m1.status, 200) << m1.body;
  ASSERT_EQ(m1.Json()["bars"].size(), 7u);
  EXPECT_EQ(m1.Json()["bars"][1]["open"], 1.101005);
  EXPECT_EQ(m1.Json()["bars"][1]["close"], 1.101055);
  EXPECT_EQ(m1.Json()["bars"][1]["volume"], 3);
  auto m5 =
      client_->Get("/api/v1/market/bars?symbol=" + sym + "&timeframe=M5", {Bearer(op_token_)});
  ASSERT_EQ(m5.status, 200) << m5.body;
  ASSERT_EQ(m5.Json()["bars"].size(), 2u);
  EXPECT_EQ(m5.Json()["bars"][0]["high"], 1.104055);
  // Structural errors reject the batch with the field.
  auto bad = client_->PostJson("/api/v1/market/ticks",
                               {{"ticks", {{{"symbol", sym}, {"time", "2023-03-01T10:20:00Z"}}}}},
                               {Bearer(op_token_)});
  EXPECT_EQ(bad.status, 422);
  EXPECT_EQ(bad.Json()["field"], "ticks[0].bid");
  json many = json::array();
  for (int i = 0; i < 10001; ++i)
    many.push_back({{"symbol", sym}, {"time", "2023-03-01T10:20:00Z"}, {"bid", 1.0}});
  EXPECT_EQ(client_->PostJson("/api/v1/market/ticks", {{"ticks", many}}, {Bearer(op_token_)})
                .Json()["field"],
            "ticks");
}

TEST_P(MarketE2E, WebSocketFeedRoundTrip) {
  const std::string sym = UniqueSymbol("WS");
  {
    WsClient anon;
    EXPECT_NE(anon.Connect(server_->port(), "/api/v1/market/feed", {}).find(" 401 "),
              std::string::npos);
  }
  EXPECT_EQ(client_->Get("/api/v1/market/feed", {Bearer(op_token_)}).status, 426);

  WsClient ws;
  std::string head = ws.Connect(server_->port(), "/api/v1/market/feed", {Bearer(op_token_)});
  ASSERT_NE(head.find(" 101 "), std::string::npos) << head;
  ASSERT_NE(head.find("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), std::string::npos)
      << head;  // RFC 6455 sample

  // One tick, then a batch that closes its minute.
  ws.SendFrame(0x1, json{{"symbol", sym}, {"time", "2023-05-01T08:00:01Z"}, {"bid", 1.25}}.dump());
  uint8_t op = 0;
  std::string msg;
  ASSERT_TRUE(ws.ReadFrame(&op, &msg)) << server_->Log();
  EXPECT_EQ(op, 0x1);
  json ack = json::parse(msg);
  EXPECT_EQ(ack["type"], "ack");
  EXPECT_EQ(ack["seq"], 1);
  EXPECT_EQ(ack["accepted"], 1);
  ws.SendFrame(0x1, json{{"ticks",
                          {{{"symbol", sym}, {"time", "2023-05-01T08:00:40Z"}, {"bid", 1.26}},
                           {{"symbol", sym}, {"time", "2023-05-01T08:01:05Z"}, {"bid", 1.27}}}}}
                        .dump());
  ASSERT_TRUE(ws.ReadFrame(&op, &msg)) << server_->Log();
  ack = json::parse(msg);
  EXPECT_EQ(ack["accepted"], 2);
  EXPECT_EQ(ack["bars_written"], 1);
  // Errors are JSON messages naming the field; the connection stays open.
  ws.SendFrame(0x1, "{not json");
  ASSERT_TRUE(ws.ReadFrame(&op, &msg)) << server_->Log();
  json err = json::parse(msg);
  EXPECT_EQ(err["type"], "error");
  EXPECT_EQ(err["status"], 422);
  ws.SendFrame(0x1, json{{"ticks", {{{"symbol", sym}, {"bid", 1.0}}}}}.dump());
  ASSERT_TRUE(ws.ReadFrame(&op, &msg)) << server_->Log();
  EXPECT_EQ(json::parse(msg)["field"], "ticks[0].time");
  // Ping -> pong.
  ws.SendFrame(0x9, "hi");
  ASSERT_TRUE(ws.ReadFrame(&op, &msg)) << server_->Log();
  EXPECT_EQ(op, 0xA);
  EXPECT_EQ(msg, "hi");

  auto m1 =
      client_->Get("/api/v1/market/bars?symbol=" + sym + "&timeframe=M1", {Bearer(op_token_)});
  ASSERT_EQ(m1.status, 200) << m1.body;
  ASSERT_EQ(m1.Json()["bars"].size(), 1u);
  EXPECT_EQ(m1.Json()["bars"][0]["open"], 1.25);
  EXPECT_EQ(m1.Json()["bars"][0]["close"], 1.26);

  // Abuse: a binary frame closes the connection with 1003.
  ws.SendFrame(0x2, "\x01\x02");
  ASSERT_TRUE(ws.ReadFrame(&op, &msg)) << server_->Log();
  EXPECT_EQ(op, 0x8);
  ASSERT_GE(msg.size(), 2u);
  EXPECT_EQ((static_cast<uint8_t>(msg[0]) << 8) | static_cast<uint8_t>(msg[1]), 1003);

  // Ten bad messages in a row close with 1008.
  WsClient spam;
  ASSERT_NE(spam.Connect(server_->port(), "/api/v1/market/feed", {Bearer(op_token_)}).find(" 101 "),
            std::string::npos);
  int closes = 0;
  for (int i = 0; i < 10; ++i) spam.SendFrame(0x1, "nope");
  for (int i = 0; i < 11 && spam.ReadFrame(&op, &msg); ++i) {
    if (op == 0x8) {
      ++closes;
      EXPECT_EQ((static_cast<uint8_t>(msg[0]) << 8) | static_cast<uint8_t>(msg[1]), 1008);
      break;
    }
  }
  EXPECT_EQ(closes, 1);
}

TEST_P(MarketE2E, IngestAndReplayCommandLines) {
  // ingest: a slice of a real M1 file into a platform series, through the CLI.
  const std::string sym = UniqueSymbol("IG");
  const std::string file = (dir_.path() / "m1.csv").string();
  std::ofstream(file) << Slice("EURUSD_M1.csv", 301);
  std::string out;
  ASSERT_EQ(RunCli({"ingest", "--file", file, "--symbol", sym, "--timeframe", "M1", "--timezone",
                    "+03:00", "--database", url_, "--log-level", "warn"},
                   "", &out),
            0)
      << out;
  EXPECT_NE(out.find("300 rows read"), std::string::npos) << out;
  EXPECT_NE(out.find("300 inserted"), std::string::npos) << out;
  EXPECT_NE(out.find("first 2018-05-31T21:00:00Z"), std::string::npos) << out;
  // A rejected file: exit 1, the line named, nothing written.
  const std::string bad = (dir_.path() / "bad.csv").string();
  std::ofstream(bad) << "date,time,open,high,low,close,tickvolume,volume,spread\n"
                        "2018.06.01,00:00:00,1.1,1.0,1.2,1.1,1,0,1\n";
  EXPECT_EQ(RunCli({"ingest", "--file", bad, "--symbol", UniqueSymbol("BD"), "--timeframe", "M1",
                    "--database", url_, "--log-level", "warn"},
                   "", &out),
            1);
  EXPECT_NE(out.find("line 2"), std::string::npos) << out;

  // replay: the same slice into the live feed as fast as possible; bars equal the file's.
  const std::string rsym = UniqueSymbol("RP");
  ASSERT_EQ(RunCli({"replay", "--file", file, "--symbol", rsym, "--timezone", "+03:00", "--speed",
                    "0", "--url", server_->base_url(), "--key", op_token_, "--batch", "128"},
                   "", &out),
            0)
      << out;
  EXPECT_NE(out.find("replayed 300 events"), std::string::npos) << out;
  auto original = client_->Get("/api/v1/market/bars?symbol=" + sym + "&timeframe=M1&limit=5000",
                               {Bearer(op_token_)});
  auto replayed = client_->Get("/api/v1/market/bars?symbol=" + rsym + "&timeframe=M1&limit=5000",
                               {Bearer(op_token_)});
  ASSERT_EQ(replayed.status, 200) << replayed.body;
  json ob = original.Json()["bars"], rb = replayed.Json()["bars"];
  ASSERT_EQ(rb.size(), ob.size());
  for (size_t i = 0; i < ob.size(); ++i) {
    for (const char* k : {"time", "open", "high", "low", "close"})
      ASSERT_EQ(rb[i][k], ob[i][k]) << i << k;
  }
  auto h1 =
      client_->Get("/api/v1/market/bars?symbol=" + rsym + "&timeframe=H1", {Bearer(op_token_)});
  ASSERT_EQ(h1.status, 200);
  std::set<std::string> hours;  // distinct hours of the file's minutes: one H1 bar each
  for (const auto& b : ob) hours.insert(b["time"].get<std::string>().substr(0, 13));
  EXPECT_EQ(h1.Json()["bars"].size(), hours.size());  // flushed at the end, none left open
}

TEST_P(MarketE2E, FeatureVectorsEqualTheLibrarysComputation) {
  const std::string sym = UniqueSymbol("FT");
  const std::string csv = Slice("GBPUSD_H1.csv", 401);
  ASSERT_EQ(Upload(op_token_, "symbol=" + sym + "&timeframe=H1&timezone=NY%2B7", csv).status, 200);
  json t = RegisterTenant(*client_, "gamma");
  const std::string tok = t["access_token"];

  auto sets = client_->Get("/api/v1/feature-sets", {Bearer(tok)});
  ASSERT_EQ(sets.status, 200) << sets.body;
  EXPECT_EQ(sets.Json()["items"][0]["name"], "core-v1");
  EXPECT_EQ(sets.Json()["items"][0]["owner"], "platform");

  const json def = {{"name", "fast"},
                    {"version", 1},
                    {"features",
                     {{{"indicator", "rsi"}, {"params", {{"period", 5}}}},
                      {{"indicator", "sma"}, {"params", {{"period", 10}}}, {"output", "distance"}},
                      {{"indicator", "atr"}, {"params", {{"period", 7}}}}}}};
  auto created = client_->PostJson("/api/v1/feature-sets", def, {Bearer(tok)});
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(client_->PostJson("/api/v1/feature-sets", def, {Bearer(tok)}).status, 409);
  json bad = def;
  bad["version"] = 2;
  bad["features"][0]["params"]["period"] = 1;
  auto rejected = client_->PostJson("/api/v1/feature-sets", bad, {Bearer(tok)});
  EXPECT_EQ(rejected.status, 422) << rejected.body;
  EXPECT_EQ(rejected.Json()["field"], "features[0].params.period");

  // The same computation directly with the features library on the same bars.
  market::CsvImportOptions options;
  options.source_tz = *TimeZone::Parse("NY+7");
  std::istringstream in(csv);
  auto bars = market::ImportBarsCsv(in, options);
  ASSERT_TRUE(bars.ok());
  auto config = features::FeatureSetConfig::FromJson(def.dump());
  ASSERT_TRUE(config.ok()) << config.error().ToString();
  auto computer = features::FeatureComputer::Create(*config);
  ASSERT_TRUE(computer.ok());
  std::vector<std::vector<double>> expected;
  for (const auto& b : bars->bars) {
    std::vector<double> v;
    computer->Update(b, &v);
    expected.push_back(v);
  }

  auto latest = client_->Get("/api/v1/business/features?symbol=" + sym + "&timeframe=H1&set=fast",
                             {Bearer(tok)});
  ASSERT_EQ(latest.status, 200) << latest.body;
  json l = latest.Json();
  EXPECT_EQ(l["names"], json(features::FeatureNames(*config)));
  ASSERT_EQ(l["vectors"].size(), 1u);
  EXPECT_EQ(l["vectors"][0]["time"], FormatIso8601(bars->bars.back().time()));
  for (size_t i = 0; i < expected.back().size(); ++i) {
    EXPECT_EQ(l["vectors"][0]["values"][i].get<double>(), expected.back()[i]) << i;
  }
  // A range, including the warm-up (null) values.
  auto range =
      client_->Get("/api/v1/business/features?symbol=" + sym +
                       "&timeframe=H1&set=fast@1&from=2022-05-31T00:00:00Z&to=2022-06-02T00:00:00Z",
                   {Bearer(tok)});
  ASSERT_EQ(range.status, 200) << range.body;
  json vs = range.Json()["vectors"];
  ASSERT_GT(vs.size(), 10u);
  for (size_t r = 0; r < vs.size(); ++r) {
    for (size_t i = 0; i < expected[r].size(); ++i) {
      if (std::isnan(expected[r][i])) {
        EXPECT_TRUE(vs[r]["values"][i].is_null()) << r << "," << i;
      } else {
        EXPECT_EQ(vs[r]["values"][i].get<double>(), expected[r][i]) << r << "," << i;
      }
    }
  }
  // New bars appended after the first computation are fed once and show up.
  std::string more = Slice("GBPUSD_H1.csv", 421);
  ASSERT_EQ(Upload(op_token_, "symbol=" + sym + "&timeframe=H1&timezone=NY%2B7", more).status, 200);
  auto after = client_->Get("/api/v1/business/features?symbol=" + sym + "&timeframe=H1&set=fast",
                            {Bearer(tok)});
  ASSERT_EQ(after.status, 200);
  EXPECT_NE(after.Json()["vectors"][0]["time"], l["vectors"][0]["time"]);
  // The platform default works too; another tenant can't see this tenant's set.
  EXPECT_EQ(client_->Get("/api/v1/business/features?symbol=" + sym + "&timeframe=H1", {Bearer(tok)})
                .status,
            200);
  json other = RegisterTenant(*client_, "delta");
  auto hidden = client_->Get("/api/v1/business/features?symbol=" + sym + "&timeframe=H1&set=fast",
                             {Bearer(other["access_token"].get<std::string>())});
  EXPECT_EQ(hidden.status, 404);
  EXPECT_EQ(hidden.Json()["field"], "set");
}

INSTANTIATE_TEST_SUITE_P(Backends, MarketE2E, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace sinyal::e2e
