// Paper accounts on SQLite and PostgreSQL: the live path (bars through OnBarClosed, state in the
// database between bars) against a backtest of the same bars and signals, manual orders, close
// and reset, isolation, the event stream and its signed webhooks.
#include "backtest/paper.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "backtest/backtest.h"
#include "backtest/testing/bar_store_test.h"
#include "backtest/testing/random_walk.h"
#include "store/bar_store.h"
#include "store/soci.h"
#include "store/testing/test_db.h"

namespace sinyal::backtest {
namespace {

using nlohmann::json;

constexpr int kBars = 400;
constexpr UnixNanos kT0 = 1'650'000'000LL * kNanosPerSecond / kNanosPerHour * kNanosPerHour;

using ::sinyal::store::testing::CreateTenant;

std::vector<market::Bar> Walk(int n, uint64_t seed, double start, int digits) {
  return testing::RandomWalk(n, seed,
                             {.start_time = kT0,
                              .start_price = start,
                              .digits = digits,
                              .wick_points = 3,
                              .volume = 100,
                              .spread = 7});
}

// The same deterministic signals for the paper provider and the backtest source: a function of
// (symbol, bar time) only.
BarSignal ScriptSignal(const std::string& symbol, UnixNanos t) {
  const uint64_t h = std::hash<std::string>()(symbol) ^
                     static_cast<uint64_t>(t / kNanosPerHour) * 0x9E3779B97F4A7C15ULL;
  BarSignal s;
  s.direction = static_cast<int>(h % 3) - 1;
  s.confidence = 0.5 + static_cast<double>((h >> 8) % 50) / 100;  // 0.50 .. 0.99
  s.p_up = s.direction >= 0 ? s.confidence : 1 - s.confidence;
  s.id = symbol + ":" + std::to_string(t / kNanosPerHour);
  return s;
}

class ScriptProvider : public PaperSignalProvider {
 public:
  int calls = 0;
  Result<std::optional<BarSignal>> SignalAt(TenantId, const StrategyConfig&,
                                            const market::SeriesKey& key, const market::Bar& bar,
                                            UnixNanos close) override {
    ++calls;
    EXPECT_EQ(close, bar.time() + kNanosPerHour);
    return std::optional<BarSignal>(ScriptSignal(key.symbol, bar.time()));
  }
};

class ScriptSource : public SignalSource {
 public:
  Result<std::optional<BarSignal>> OnBarClosed(int, const market::SeriesKey& key,
                                               const market::Bar& bar, UnixNanos) override {
    return std::optional<BarSignal>(ScriptSignal(key.symbol, bar.time()));
  }
};

class FakeTransport : public WebhookTransport {
 public:
  struct Call {
    std::string url, body;
    std::map<std::string, std::string> headers;
  };
  std::vector<Call> calls;
  std::vector<int> codes;  // returned in order; 200 when exhausted
  Result<int> Post(const std::string& url,
                   const std::vector<std::pair<std::string, std::string>>& headers,
                   const std::string& body) override {
    Call c{url, body, {}};
    for (const auto& [k, v] : headers) c.headers[k] = v;
    calls.push_back(c);
    if (calls.size() <= codes.size()) return codes[calls.size() - 1];
    return 200;
  }
};

json StrategyJson() {
  return json::parse(R"({
    "symbols": ["EURUSD", "XAUUSD"], "timeframe": "H1", "initial_balance": 20000,
    "signal": {"threshold": 0.6},
    "sizing": {"mode": "risk", "risk_fraction": 0.005},
    "stops": {"mode": "atr", "stop_loss": 1.5, "take_profit": 2.5, "trailing": 1, "atr_period": 14},
    "costs": {"spread_points": 10, "commission_per_lot": 3.5, "slippage_points": 1},
    "costs_by_symbol": {"XAUUSD": {"spread_points": 25, "commission_per_lot": 5}},
    "risk": {"max_open_positions": 2, "max_daily_loss": 0.05}
  })");
}

class PaperTest : public testing::BarStoreTest {
 protected:
  void SetUp() override {
    SetUpBars(kT0);
    if (HasFatalFailure() || IsSkipped()) return;
    eur_ = Walk(kBars, 1, 1.10, 5);
    xau_ = Walk(kBars, 2, 1900.0, 2);
    ASSERT_OK(bars_->Import(store::SeriesOwner::Platform(), {"EURUSD", market::Timeframe::kH1},
                            eur_, {}));
    ASSERT_OK(bars_->Import(store::SeriesOwner::Platform(), {"XAUUSD", market::Timeframe::kH1},
                            xau_, {}));
    tenant_ = CreateTenant(db(), "acme");
    PaperOptions opt;
    opt.allow_private_webhooks = true;
    paper_ = std::make_unique<PaperService>(db(), *bars_, provider_, clock_, opt);
  }

  // Feeds bars [from, to) of both symbols as a live feed would: in close-time order.
  void Feed(size_t from, size_t to) {
    for (size_t i = from; i < to; ++i) {
      clock_.Set(eur_[i].time() + kNanosPerHour);
      ASSERT_OK(paper_->OnBarClosed({"EURUSD", market::Timeframe::kH1}, eur_[i]));
      ASSERT_OK(paper_->OnBarClosed({"XAUUSD", market::Timeframe::kH1}, xau_[i]));
    }
  }

  std::vector<market::Bar> eur_, xau_;
  TenantId tenant_;
  ScriptProvider provider_;
  std::unique_ptr<PaperService> paper_;
};

TEST_P(PaperTest, LivePaperAccountAndBacktestMakeIdenticalOrdersAndFills) {
  PaperCreateRequest req;
  req.strategy = StrategyJson();
  auto created = paper_->Create(tenant_, UserId(7), req);
  ASSERT_OK(created);
  const int64_t id = created->account.id;
  Feed(0, kBars);
  // The same bars and signals through a backtest.
  auto config = StrategyFromJson(StrategyJson());
  ASSERT_OK(config);
  std::vector<SeriesInput> series = {{"EURUSD", 5, eur_, {}}, {"XAUUSD", 2, xau_, {}}};
  ScriptSource source;
  auto bt = RunStrategy(*config, series, source, {}, {});
  ASSERT_OK(bt);

  // The API lists newest first, 1,000 at most: page back with `before`.
  auto all_fills = [&] {
    std::vector<Fill> out;
    int64_t before = 0;
    for (;;) {
      auto page = paper_->Fills(tenant_, UserId(7), id, 1000, before);
      EXPECT_TRUE(page.ok());
      if (!page.ok() || page->empty()) break;
      out.insert(out.end(), page->begin(), page->end());
      before = page->back().id;
    }
    std::reverse(out.begin(), out.end());
    return out;
  };
  auto fills = std::optional<std::vector<Fill>>(all_fills());
  // The backtest settles what is open at its last close (end-of-test closes, and the exits its
  // last decision ordered); the paper account keeps those open and working.
  const UnixNanos end = eur_.back().time() + kNanosPerHour;
  std::vector<Fill> bt_fills;
  for (const Fill& f : bt->fills) {
    if (f.time < end) bt_fills.push_back(f);
  }
  ASSERT_GT(bt_fills.size(), 40u);
  ASSERT_EQ(fills->size(), bt_fills.size());
  for (size_t i = 0; i < bt_fills.size(); ++i) EXPECT_EQ((*fills)[i], bt_fills[i]) << "fill " << i;

  std::map<OrderId, Order> paper_orders;
  for (int64_t before = 0;;) {
    auto page = paper_->Orders(tenant_, UserId(7), id, false, 1000, before);
    ASSERT_OK(page);
    if (page->empty()) break;
    for (const Order& o : *page) paper_orders[o.id] = o;
    before = page->back().id;
  }
  size_t compared = 0;
  for (const Order& o : bt->orders) {
    if (o.request.role == OrderRole::kEndOfTest) continue;
    ASSERT_TRUE(paper_orders.count(o.id)) << "order " << o.id;
    const Order& p = paper_orders[o.id];
    // Orders still working in the paper account were closed by the backtest's end.
    if (p.status == OrderStatus::kWorking) continue;
    EXPECT_EQ(ToJson(p), ToJson(o)) << "order " << o.id;
    ++compared;
  }
  EXPECT_GT(compared, 40u);
  // Equity: the paper account's last point equals the backtest's marked equity at that close.
  auto eq = paper_->Equity(tenant_, UserId(7), id, 10000);
  ASSERT_OK(eq);
  ASSERT_EQ(eq->size(), static_cast<size_t>(kBars));
  EXPECT_EQ(eq->at(300).equity, bt->equity.at(300).equity);

  // A replayed bar changes nothing.
  auto before = paper_->Get(tenant_, UserId(7), id);
  ASSERT_OK(before);
  ASSERT_OK(paper_->OnBarClosed({"EURUSD", market::Timeframe::kH1}, eur_[kBars - 1]));
  auto after = paper_->Get(tenant_, UserId(7), id);
  ASSERT_OK(after);
  EXPECT_EQ(after->revision, before->revision);
}

TEST_P(PaperTest, CreationErrorsNameTheFieldAndAccountsAreIsolated) {
  auto field_of = [&](json strategy, std::string url = "") {
    PaperCreateRequest r;
    r.strategy = std::move(strategy);
    r.webhook_url = url;
    auto c = paper_->Create(tenant_, UserId(7), r);
    return c.ok() ? std::string("ok") : c.error().field();
  };
  json s = StrategyJson();
  s["signal"]["threshold"] = 1.5;
  EXPECT_EQ(field_of(s), "strategy.signal.threshold");
  s = StrategyJson();
  s["symbols"] = {"EURUSD", "GBPUSD"};
  s.erase("costs_by_symbol");
  EXPECT_EQ(field_of(s), "strategy.symbols[1]");
  s = StrategyJson();
  s["costs"]["spread_points"] = -2;
  EXPECT_EQ(field_of(s), "strategy.costs.spread_points");
  EXPECT_EQ(field_of(StrategyJson(), "ftp://x"), "webhook_url");
  PaperOptions strict;
  PaperService strict_paper(db(), *bars_, provider_, clock_, strict);
  PaperCreateRequest r;
  r.strategy = StrategyJson();
  r.webhook_url = "https://127.0.0.1/hook";
  EXPECT_EQ(strict_paper.Create(tenant_, UserId(7), r).error().field(), "webhook_url");

  PaperCreateRequest ok;
  ok.strategy = StrategyJson();
  auto a = paper_->Create(tenant_, UserId(7), ok);
  ASSERT_OK(a);
  // Another user of the tenant, and another tenant, see nothing.
  EXPECT_TRUE(paper_->Get(tenant_, UserId(8), a->account.id).error().IsNotFound());
  const TenantId other = CreateTenant(db(), "other");
  EXPECT_TRUE(paper_->Get(other, UserId(7), a->account.id).error().IsNotFound());
  EXPECT_TRUE(paper_->Orders(other, UserId(7), a->account.id, false, 10).error().IsNotFound());
  auto list = paper_->List(tenant_, UserId(8));
  ASSERT_OK(list);
  EXPECT_TRUE(list->empty());
  // The per-user limit.
  for (int i = 0; i < 4; ++i) ASSERT_OK(paper_->Create(tenant_, UserId(7), ok));
  EXPECT_EQ(paper_->Create(tenant_, UserId(7), ok).error().field(), "accounts");
}

TEST_P(PaperTest, ManualOrdersCloseResetAndTheEventStream) {
  PaperCreateRequest req;
  req.strategy = StrategyJson();
  req.strategy["signal"]["threshold"] = 1.0;  // the script never reaches it: manual trading only
  auto created = paper_->Create(tenant_, UserId(7), req);
  ASSERT_OK(created);
  const int64_t id = created->account.id;
  Feed(0, 20);
  clock_.Set(eur_[20].time());
  OrderRequest buy;
  buy.symbol = "EURUSD";
  buy.side = Side::kBuy;
  buy.quantity = 10000;
  buy.stop_loss_distance = 0.003;
  auto order = paper_->SubmitOrder(tenant_, UserId(7), id, buy);
  ASSERT_OK(order);
  EXPECT_EQ(order->status, OrderStatus::kWorking);
  OrderRequest limit = buy;
  limit.type = OrderType::kLimit;
  limit.price = 0.5;
  limit.stop_loss_distance = 0;
  auto resting = paper_->SubmitOrder(tenant_, UserId(7), id, limit);
  ASSERT_OK(resting);
  OrderRequest bad = buy;
  bad.quantity = -1;
  EXPECT_EQ(paper_->SubmitOrder(tenant_, UserId(7), id, bad).error().field(), "quantity");
  Feed(20, 21);  // the market order fills at bar 20's ask open
  auto pos = paper_->Positions(tenant_, UserId(7), id);
  ASSERT_OK(pos);
  ASSERT_EQ(pos->size(), 1u);
  EXPECT_EQ(pos->at(0).quantity, 10000);
  // Ask open (the bars' spread column: 7 points) + 1 point of slippage.
  EXPECT_NEAR(pos->at(0).avg_price, eur_[20].open() + 0.00007 + 0.00001, 1e-9);
  auto cancelled = paper_->CancelOrder(tenant_, UserId(7), id, resting->id);
  ASSERT_OK(cancelled);
  EXPECT_EQ(cancelled->status, OrderStatus::kCancelled);
  ASSERT_OK(paper_->ClosePositions(tenant_, UserId(7), id));
  Feed(21, 22);
  pos = paper_->Positions(tenant_, UserId(7), id);
  ASSERT_OK(pos);
  EXPECT_TRUE(pos->empty());
  auto trades = paper_->Trades(tenant_, UserId(7), id, 10);
  ASSERT_OK(trades);
  ASSERT_EQ(trades->size(), 1u);

  auto reset = paper_->Reset(tenant_, UserId(7), id);
  ASSERT_OK(reset);
  EXPECT_EQ(reset->equity, 20000);
  EXPECT_TRUE(paper_->Fills(tenant_, UserId(7), id, 10)->empty());
  // The stream: consecutive sequence numbers, the reset at the end.
  auto events = paper_->Events(tenant_, UserId(7), id, 0, 1000);
  ASSERT_OK(events);
  ASSERT_GE(events->size(), 8u);
  for (size_t i = 0; i < events->size(); ++i)
    EXPECT_EQ((*events)[i]["seq"], static_cast<int64_t>(i + 1));
  EXPECT_EQ(events->back()["type"], "account_reset");
  auto later = paper_->Events(tenant_, UserId(7), id, 5, 2);
  ASSERT_OK(later);
  ASSERT_EQ(later->size(), 2u);
  EXPECT_EQ((*later)[0]["seq"], 6);
  // A closed account stops following bars.
  ASSERT_OK(paper_->CloseAccount(tenant_, UserId(7), id));
  const int calls = provider_.calls;
  Feed(22, 23);
  EXPECT_EQ(provider_.calls, calls);
  EXPECT_EQ(paper_->SubmitOrder(tenant_, UserId(7), id, buy).error().field(), "status");
}

TEST_P(PaperTest, WebhooksAreSignedOrderedAndRetried) {
  PaperCreateRequest req;
  req.strategy = StrategyJson();
  req.webhook_url = "http://127.0.0.1:9/hook";
  auto created = paper_->Create(tenant_, UserId(7), req);
  ASSERT_OK(created);
  ASSERT_FALSE(created->webhook_secret.empty());
  const int64_t id = created->account.id;
  Feed(0, 120);
  FakeTransport transport;
  transport.codes = {500};
  auto n = paper_->DeliverWebhooks(transport);
  ASSERT_OK(n);
  EXPECT_EQ(*n, 0);
  auto acc = paper_->Get(tenant_, UserId(7), id);
  ASSERT_OK(acc);
  EXPECT_EQ(acc->webhook_attempts, 1);
  EXPECT_EQ(acc->webhook_last_error, "HTTP 500");
  // Not due again before the backoff.
  ASSERT_OK(paper_->DeliverWebhooks(transport));
  EXPECT_EQ(transport.calls.size(), 1u);
  clock_.Set(clock_.Now() + 3 * kNanosPerSecond);
  int64_t total = 0;
  for (int round = 0; round < 50; ++round) {
    auto d = paper_->DeliverWebhooks(transport);
    ASSERT_OK(d);
    if (*d == 0) break;
    total += *d;
  }
  acc = paper_->Get(tenant_, UserId(7), id);
  ASSERT_OK(acc);
  EXPECT_EQ(total, acc->last_event_seq);
  EXPECT_EQ(acc->webhook_delivered_seq, acc->last_event_seq);
  // Every delivered batch continues the previous one and carries a valid signature.
  int64_t next = 1;
  for (size_t i = 1; i < transport.calls.size(); ++i) {
    const auto& c = transport.calls[i];
    const json body = json::parse(c.body);
    for (const auto& e : body["events"]) EXPECT_EQ(e["seq"].get<int64_t>(), next++);
    const std::string sig = c.headers.at("Sinyal-Signature");
    const int64_t ts = std::stoll(sig.substr(2, sig.find(',') - 2));
    EXPECT_EQ(sig, PaperService::SignWebhook(created->webhook_secret, ts, c.body));
  }
  EXPECT_EQ(next - 1, acc->last_event_seq);
}

INSTANTIATE_TEST_SUITE_P(Backends, PaperTest, SINYAL_DB_BACKENDS, store::testing::BackendName);

}  // namespace
}  // namespace sinyal::backtest
