// Hand-checked scenarios: constructed price paths where every fill, cost and P&L is worked out
// in the comments before the assertions. EURUSD, 5 digits (point 0.00001), 1 lot = 100,000 EUR,
// P&L in USD = price difference x units. Unless a test says otherwise: bars carry no spread, so
// the configured spread of 10 points (0.00010) applies; commission 5 USD per lot per side.
#include "backtest/broker.h"

#include <gtest/gtest.h>

#include <vector>

#include "core/testing/test_util.h"

namespace sinyal::backtest {
namespace {

constexpr UnixNanos kT0 = 1'700'000'000LL * kNanosPerSecond / kNanosPerHour * kNanosPerHour;
constexpr double kLot = 100000;

UnixNanos H(int i) { return kT0 + i * kNanosPerHour; }

market::Bar B(int i, double o, double h, double l, double c, int spread = 0) {
  return *market::Bar::Create(H(i), o, h, l, c, 100, spread);
}

InstrumentSpec Eurusd() {
  InstrumentSpec s = *SpecFor("EURUSD", 5, "USD");
  s.spread_points = 10;
  s.commission_per_lot = 5;
  return s;
}

SimulatedBroker MakeBroker(InstrumentSpec spec = Eurusd(), BrokerOptions opt = {}) {
  auto b = SimulatedBroker::Create(std::move(opt));
  EXPECT_TRUE(b.ok());
  EXPECT_OK(b->AddInstrument(spec, market::Timeframe::kH1));
  return std::move(*b);
}

OrderRequest Market(Side side, double lots) {
  OrderRequest r;
  r.symbol = "EURUSD";
  r.side = side;
  r.type = OrderType::kMarket;
  r.quantity = lots * kLot;
  return r;
}

// A market order with a stop-loss and a take-profit at these distances from the entry.
OrderRequest Market(Side side, double lots, double stop_distance, double target_distance) {
  OrderRequest r = Market(side, lots);
  r.stop_loss_distance = stop_distance;
  r.take_profit_distance = target_distance;
  return r;
}

// Feeds bar i (closing at H(i+1)).
void Feed(SimulatedBroker& b, const market::Bar& bar) {
  b.OnBar(0, bar, bar.time() + kNanosPerHour);
}

TEST(BrokerTest, MarketRoundTripAtNextOpensWithSpreadAndCommission) {
  SimulatedBroker b = MakeBroker();
  // Submitted at H(1) (the close of bar 0): fills at bar 1's open on the ask.
  auto id = b.Submit(Market(Side::kBuy, 1), H(1));
  ASSERT_OK(id);
  Feed(b, B(1, 1.10000, 1.10200, 1.09900, 1.10100));
  // Ask open = 1.10000 + 0.00010 = 1.10010; commission 1 lot x 5 = 5.
  ASSERT_EQ(b.fills().size(), 1u);
  EXPECT_DOUBLE_EQ(b.fills()[0].price, 1.10010);
  EXPECT_EQ(b.fills()[0].kind, FillKind::kOpen);
  EXPECT_DOUBLE_EQ(b.fills()[0].commission, 5);
  EXPECT_NEAR(b.fills()[0].spread_cost, 5, 1e-9);  // half the spread x 100,000
  // Marked at the bid close: (1.10100 - 1.10010) x 100,000 = 90.
  EXPECT_NEAR(b.balance(), 9995, 1e-9);
  EXPECT_NEAR(b.equity(), 10085, 1e-6);

  auto close = Market(Side::kSell, 1);
  close.reduce_only = true;
  close.role = OrderRole::kExit;
  ASSERT_OK(b.Submit(close, H(2)));
  Feed(b, B(2, 1.10200, 1.10250, 1.10150, 1.10180));
  // Sells at the bid open 1.10200: gross (1.10200 - 1.10010) x 100,000 = 190, costs 5 + 5.
  ASSERT_EQ(b.trades().size(), 1u);
  const Trade& t = b.trades()[0];
  EXPECT_DOUBLE_EQ(t.entry_price, 1.10010);
  EXPECT_DOUBLE_EQ(t.exit_price, 1.10200);
  EXPECT_NEAR(t.gross_pnl, 190, 1e-6);
  EXPECT_NEAR(t.commission, 10, 1e-9);
  EXPECT_NEAR(t.net_pnl, 180, 1e-6);
  EXPECT_EQ(t.exit_role, OrderRole::kExit);
  EXPECT_EQ(t.bars_held, 1);
  EXPECT_NEAR(b.balance(), 10180, 1e-6);
  EXPECT_NEAR(b.equity(), 10180, 1e-6);
  EXPECT_EQ(b.open_positions(), 0);
}

TEST(BrokerTest, OrderNeverFillsInABarThatOpenedBeforeItWasSubmitted) {
  SimulatedBroker b = MakeBroker();
  ASSERT_OK(b.Submit(Market(Side::kBuy, 1), H(1) + 1));  // one nanosecond after bar 1 opened
  Feed(b, B(1, 1.10000, 1.10200, 1.09900, 1.10100));
  EXPECT_TRUE(b.fills().empty());
  Feed(b, B(2, 1.10300, 1.10400, 1.10200, 1.10350));
  ASSERT_EQ(b.fills().size(), 1u);
  EXPECT_DOUBLE_EQ(b.fills()[0].price, 1.10310);
  EXPECT_EQ(b.fills()[0].time, H(2));
}

TEST(BrokerTest, StopLossFirstWhenStopAndTargetAreBothTouchedInOneBar) {
  SimulatedBroker b = MakeBroker();
  auto r = Market(Side::kBuy, 1, 0.00100, 0.00200);
  ASSERT_OK(b.Submit(r, H(1)));
  // Entry at the ask open 1.10010 -> stop 1.09910, target 1.10210. The bar's range
  // [1.09800, 1.10300] touches both: the stop-loss is assumed first.
  Feed(b, B(1, 1.10000, 1.10300, 1.09800, 1.10000));
  ASSERT_EQ(b.fills().size(), 2u);
  EXPECT_EQ(b.fills()[1].role, OrderRole::kStopLoss);
  EXPECT_DOUBLE_EQ(b.fills()[1].price, 1.09910);
  EXPECT_EQ(b.fills()[1].kind, FillKind::kTouch);
  ASSERT_EQ(b.trades().size(), 1u);
  // (1.09910 - 1.10010) x 100,000 = -100; commission 10.
  EXPECT_NEAR(b.trades()[0].net_pnl, -110, 1e-6);
  EXPECT_NEAR(b.trades()[0].r_multiple, -1.1, 1e-9);  // risk at the stop was 100
  EXPECT_EQ(b.trades()[0].exit_role, OrderRole::kStopLoss);
  // The take-profit was cancelled as the other side of the OCO.
  int tp_cancelled = 0;
  for (const auto& [id, o] : b.orders()) {
    if (o.request.role == OrderRole::kTakeProfit) {
      EXPECT_EQ(o.status, OrderStatus::kCancelled);
      EXPECT_EQ(o.reason, "oco: stop_loss filled");
      ++tp_cancelled;
    }
  }
  EXPECT_EQ(tp_cancelled, 1);
  EXPECT_NEAR(b.balance(), 9890, 1e-6);
}

TEST(BrokerTest, MinuteReplayDecidesStopVersusTargetFromThePath) {
  // Same hour as above, but the minutes show the high came first: the target fills.
  std::vector<market::Bar> minutes = {
      *market::Bar::Create(H(1), 1.10000, 1.10250, 1.09990, 1.10200),
      *market::Bar::Create(H(1) + kNanosPerMinute, 1.10200, 1.10300, 1.10100, 1.10150),
      *market::Bar::Create(H(1) + 2 * kNanosPerMinute, 1.10150, 1.10160, 1.09800, 1.10000)};
  BrokerOptions opt;
  opt.minute_bars = [&](std::string_view, UnixNanos from, UnixNanos to) {
    EXPECT_EQ(from, H(1));
    EXPECT_EQ(to, H(2));
    return std::span<const market::Bar>(minutes);
  };
  SimulatedBroker b = MakeBroker(Eurusd(), opt);
  auto r = Market(Side::kBuy, 1, 0.00100, 0.00200);
  ASSERT_OK(b.Submit(r, H(1)));
  Feed(b, B(1, 1.10000, 1.10300, 1.09800, 1.10000));
  ASSERT_EQ(b.fills().size(), 2u);
  EXPECT_EQ(b.fills()[1].role, OrderRole::kTakeProfit);
  EXPECT_DOUBLE_EQ(b.fills()[1].price, 1.10210);
  EXPECT_EQ(b.fills()[1].time, H(1));  // the first minute
  // (1.10210 - 1.10010) x 100,000 = 200; commission 10.
  EXPECT_NEAR(b.trades()[0].net_pnl, 190, 1e-6);
}

TEST(BrokerTest, GapThroughAStopFillsAtTheOpenNotAtTheStop) {
  SimulatedBroker b = MakeBroker();
  auto r = Market(Side::kBuy, 1);
  r.stop_loss_distance = 0.00100;
  ASSERT_OK(b.Submit(r, H(1)));
  Feed(b, B(1, 1.10000, 1.10100, 1.09950, 1.10050));  // entry 1.10010, stop 1.09910 untouched
  ASSERT_EQ(b.fills().size(), 1u);
  // Bar 2 opens at 1.09500 (a weekend gap) below the stop: sells at the bid open.
  Feed(b, B(2, 1.09500, 1.09600, 1.09400, 1.09550));
  ASSERT_EQ(b.fills().size(), 2u);
  EXPECT_DOUBLE_EQ(b.fills()[1].price, 1.09500);
  EXPECT_EQ(b.fills()[1].kind, FillKind::kOpen);
  // (1.09500 - 1.10010) x 100,000 = -510; commission 10.
  EXPECT_NEAR(b.trades()[0].net_pnl, -520, 1e-6);
  EXPECT_NEAR(b.equity(), 9480, 1e-6);
}

TEST(BrokerTest, PartialCloseSplitsCommissionAndLeavesTheRestUnderItsStop) {
  SimulatedBroker b = MakeBroker();
  auto r = Market(Side::kBuy, 2);
  r.stop_loss_distance = 0.00100;
  ASSERT_OK(b.Submit(r, H(1)));
  Feed(b, B(1, 1.10000, 1.10100, 1.09950, 1.10050));  // 2 lots at 1.10010, commission 10
  auto part = Market(Side::kSell, 0.5);
  part.reduce_only = true;
  part.role = OrderRole::kManual;
  ASSERT_OK(b.Submit(part, H(2)));
  Feed(b, B(2, 1.10300, 1.10350, 1.10250, 1.10300));
  // 0.5 lot sold at 1.10300: gross (1.10300 - 1.10010) x 50,000 = 145; commission = a quarter of
  // the entry's 10 + the exit's 2.5 = 5; net 140.
  ASSERT_EQ(b.trades().size(), 1u);
  EXPECT_NEAR(b.trades()[0].quantity, 50000, 1e-9);
  EXPECT_NEAR(b.trades()[0].gross_pnl, 145, 1e-6);
  EXPECT_NEAR(b.trades()[0].commission, 5, 1e-9);
  EXPECT_NEAR(b.trades()[0].net_pnl, 140, 1e-6);
  EXPECT_NEAR(b.position(0).quantity, 150000, 1e-9);
  EXPECT_DOUBLE_EQ(b.position(0).avg_price, 1.10010);
  // The stop (for 2 lots) hits: clipped to the 1.5 lots left at 1.09910.
  Feed(b, B(3, 1.10000, 1.10050, 1.09800, 1.09850));
  ASSERT_EQ(b.trades().size(), 2u);
  EXPECT_NEAR(b.trades()[1].quantity, 150000, 1e-9);
  // (1.09910 - 1.10010) x 150,000 = -150; commission 7.5 (entry share) + 7.5 (exit) = 15.
  EXPECT_NEAR(b.trades()[1].net_pnl, -165, 1e-6);
  EXPECT_EQ(b.open_positions(), 0);
  EXPECT_NEAR(b.balance(), 10000 + 140 - 165, 1e-6);
  const Order* sl = nullptr;
  for (const auto& [id, o] : b.orders()) {
    if (o.request.role == OrderRole::kStopLoss) sl = &o;
  }
  ASSERT_NE(sl, nullptr);
  EXPECT_EQ(sl->reason, "reduce_only: clipped to the position");
}

TEST(BrokerTest, ShortUsesTheBidToEnterAndTheAskToMarkAndExit) {
  SimulatedBroker b = MakeBroker();
  ASSERT_OK(b.Submit(Market(Side::kSell, 1), H(1)));
  // The bar has its own spread column (20 points), which wins over the configured 10.
  Feed(b, B(1, 1.10000, 1.10050, 1.09800, 1.09900, 20));
  EXPECT_DOUBLE_EQ(b.fills()[0].price, 1.10000);
  // Marked at the ask close 1.09900 + 0.00020 = 1.09920: (1.10000 - 1.09920) x 100,000 = 80.
  EXPECT_NEAR(b.equity(), 10000 - 5 + 80, 1e-6);
  auto close = Market(Side::kBuy, 1);
  close.reduce_only = true;
  ASSERT_OK(b.Submit(close, H(2)));
  Feed(b, B(2, 1.09800, 1.09850, 1.09700, 1.09750));  // configured spread: ask 1.09810
  EXPECT_DOUBLE_EQ(b.fills()[1].price, 1.09810);
  EXPECT_NEAR(b.trades()[0].net_pnl, 190 - 10, 1e-6);
}

TEST(BrokerTest, LimitsFillAtTheirPriceOrBetterOnAGap) {
  SimulatedBroker b = MakeBroker();
  OrderRequest lim = Market(Side::kBuy, 1);
  lim.type = OrderType::kLimit;
  lim.price = 1.09950;
  ASSERT_OK(b.Submit(lim, H(1)));
  // Ask open 1.10010 is above the limit; the ask low 1.09900 + 0.00010 = 1.09910 reaches it.
  Feed(b, B(1, 1.10000, 1.10100, 1.09900, 1.10000));
  ASSERT_EQ(b.fills().size(), 1u);
  EXPECT_DOUBLE_EQ(b.fills()[0].price, 1.09950);
  EXPECT_EQ(b.fills()[0].kind, FillKind::kTouch);
  // A sell limit above the market that the next open gaps through fills at that (better) open.
  OrderRequest sell = Market(Side::kSell, 1);
  sell.type = OrderType::kLimit;
  sell.price = 1.10100;
  sell.reduce_only = true;
  ASSERT_OK(b.Submit(sell, H(2)));
  Feed(b, B(2, 1.10400, 1.10500, 1.10300, 1.10450));
  EXPECT_DOUBLE_EQ(b.fills()[1].price, 1.10400);
  EXPECT_EQ(b.fills()[1].kind, FillKind::kOpen);
  EXPECT_NEAR(b.trades()[0].gross_pnl, (1.10400 - 1.09950) * kLot, 1e-6);
}

TEST(BrokerTest, EntryStopTriggeredInsideABarGetsItsStopLossCheckedButNotItsTarget) {
  SimulatedBroker b = MakeBroker();
  OrderRequest r = Market(Side::kBuy, 1);
  r.type = OrderType::kStop;
  r.price = 1.10100;
  r.stop_loss_distance = 0.00050;
  r.take_profit_distance = 0.00050;
  ASSERT_OK(b.Submit(r, H(1)));
  // The ask high 1.10310 reaches 1.10100: filled there. Its stop 1.10050 is inside the rest of
  // the bar (low 1.09900) and fills; its target 1.10150 (also inside) may not: we can't know the
  // high came after the entry.
  Feed(b, B(1, 1.10000, 1.10300, 1.09900, 1.10000));
  ASSERT_EQ(b.fills().size(), 2u);
  EXPECT_DOUBLE_EQ(b.fills()[0].price, 1.10100);
  EXPECT_EQ(b.fills()[1].role, OrderRole::kStopLoss);
  EXPECT_DOUBLE_EQ(b.fills()[1].price, 1.10050);
  EXPECT_NEAR(b.trades()[0].gross_pnl, -50, 1e-6);
}

TEST(BrokerTest, TrailingStopFollowsTheHighAndLocksTheGain) {
  SimulatedBroker b = MakeBroker();
  OrderRequest r = Market(Side::kBuy, 1);
  r.stop_loss_distance = 0.00100;
  r.trailing_distance = 0.00100;
  ASSERT_OK(b.Submit(r, H(1)));
  // Entry 1.10010, stop 1.09910; the bar's high 1.10300 moves the stop to 1.10200 at its end.
  Feed(b, B(1, 1.10000, 1.10300, 1.09950, 1.10250));
  const Order* sl = nullptr;
  for (const auto& [id, o] : b.orders()) {
    if (o.request.role == OrderRole::kStopLoss) sl = &o;
  }
  ASSERT_NE(sl, nullptr);
  EXPECT_DOUBLE_EQ(sl->stop_price, 1.10200);
  Feed(b, B(2, 1.10250, 1.10260, 1.10150, 1.10160));
  ASSERT_EQ(b.trades().size(), 1u);
  EXPECT_DOUBLE_EQ(b.trades()[0].exit_price, 1.10200);
  EXPECT_NEAR(b.trades()[0].net_pnl, 190 - 10, 1e-6);
}

TEST(BrokerTest, SlippageIsAdverseAndCappedAtTheBar) {
  InstrumentSpec spec = Eurusd();
  spec.slippage_points = 2;
  SimulatedBroker b = MakeBroker(spec);
  OrderRequest r = Market(Side::kBuy, 1);
  r.stop_loss_distance = 0.00100;
  ASSERT_OK(b.Submit(r, H(1)));
  Feed(b, B(1, 1.10000, 1.10100, 1.09909, 1.10000));
  // Entry 1.10010 + 0.00002 = 1.10012; stop 1.09912; hit: 1.09912 - 0.00002 = 1.09910, above
  // the bid low 1.09909 so not capped.
  EXPECT_DOUBLE_EQ(b.fills()[0].price, 1.10012);
  EXPECT_NEAR(b.fills()[0].slippage_cost, 2, 1e-9);
  EXPECT_DOUBLE_EQ(b.fills()[1].price, 1.09910);
  EXPECT_NEAR(b.costs().slippage, 4, 1e-9);
}

TEST(BrokerTest, TimeInForceAndReduceOnly) {
  SimulatedBroker b = MakeBroker();
  OrderRequest ioc = Market(Side::kBuy, 1);
  ioc.type = OrderType::kLimit;
  ioc.price = 1.09000;
  ioc.tif = TimeInForce::kIoc;
  auto ioc_id = b.Submit(ioc, H(1));
  OrderRequest gtd = ioc;
  gtd.tif = TimeInForce::kGtd;
  gtd.expire_at = H(2);
  auto gtd_id = b.Submit(gtd, H(1));
  OrderRequest ro = Market(Side::kSell, 1);
  ro.reduce_only = true;
  auto ro_id = b.Submit(ro, H(1));
  ASSERT_OK(ioc_id);
  ASSERT_OK(gtd_id);
  ASSERT_OK(ro_id);
  // reduce_only with no position: refused at submission, with the reason.
  EXPECT_EQ(b.order(*ro_id)->status, OrderStatus::kRejected);
  EXPECT_NE(b.order(*ro_id)->reason.find("no long position"), std::string::npos);
  Feed(b, B(1, 1.10000, 1.10100, 1.09900, 1.10000));
  EXPECT_EQ(b.order(*ioc_id)->status, OrderStatus::kCancelled);
  EXPECT_EQ(b.order(*gtd_id)->status, OrderStatus::kWorking);
  Feed(b, B(2, 1.10000, 1.10100, 1.08000, 1.10000));  // would fill it, but it expired at H(2)
  EXPECT_EQ(b.order(*gtd_id)->status, OrderStatus::kExpired);
  EXPECT_TRUE(b.fills().empty());
}

TEST(BrokerTest, MalformedOrdersNameTheField) {
  SimulatedBroker b = MakeBroker();
  auto field_of = [&](OrderRequest r) {
    auto id = b.Submit(r, H(1));
    return id.ok() ? std::string("ok") : id.error().field();
  };
  OrderRequest r = Market(Side::kBuy, 1);
  r.symbol = "GBPUSD";
  EXPECT_EQ(field_of(r), "symbol");
  r = Market(Side::kBuy, 0.001);  // below the 0.01-lot step
  EXPECT_EQ(field_of(r), "quantity");
  r = Market(Side::kBuy, 1);
  r.price = 1.1;
  EXPECT_EQ(field_of(r), "price");
  r.type = OrderType::kLimit;
  r.price = -1;
  EXPECT_EQ(field_of(r), "price");
  r = Market(Side::kBuy, 1);
  r.tif = TimeInForce::kGtd;
  r.expire_at = H(0);
  EXPECT_EQ(field_of(r), "expire_at");
  r = Market(Side::kBuy, 1);
  r.type = OrderType::kLimit;
  r.price = 1.1;
  r.stop_loss = 1.2;  // above a buy's entry
  EXPECT_EQ(field_of(r), "stop_loss");
  r = Market(Side::kBuy, 1);
  r.trailing_distance = 0.001;
  EXPECT_EQ(field_of(r), "trailing_distance");
  EXPECT_TRUE(b.orders().empty());  // nothing recorded for malformed requests
}

TEST(BrokerTest, DailyLossGoesReducingFlattensAndResetsNextDay) {
  BrokerOptions opt;
  opt.risk.max_daily_loss = 0.01;  // 1% of 10,000 = 100
  SimulatedBroker b = MakeBroker(Eurusd(), opt);
  ASSERT_OK(b.Submit(Market(Side::kBuy, 1), H(1)));
  Feed(b, B(1, 1.10000, 1.10050, 1.09800, 1.09850));
  // Equity 10,000 - 5 + (1.09850 - 1.10010) x 100,000 = 9,835: more than 1% down.
  EXPECT_EQ(b.state(), TradingState::kReducing);
  ASSERT_EQ(b.risk_events().size(), 1u);
  EXPECT_NE(b.risk_events()[0].reason.find("max_daily_loss"), std::string::npos);
  // A new entry is refused with the reason; the liquidation order closes at the next open.
  auto id = b.Submit(Market(Side::kBuy, 1), H(2));
  ASSERT_OK(id);
  EXPECT_EQ(b.order(*id)->status, OrderStatus::kRejected);
  EXPECT_NE(b.order(*id)->reason.find("reducing-only"), std::string::npos);
  Feed(b, B(2, 1.09900, 1.09950, 1.09850, 1.09900));
  EXPECT_EQ(b.open_positions(), 0);
  EXPECT_EQ(b.trades().back().exit_role, OrderRole::kLiquidation);
  // The next UTC day the account is active again.
  const int next_day = static_cast<int>((kNanosPerDay - (H(3) % kNanosPerDay)) / kNanosPerHour) + 3;
  Feed(b, B(next_day, 1.09900, 1.09950, 1.09850, 1.09900));
  EXPECT_EQ(b.state(), TradingState::kActive);
}

TEST(BrokerTest, MaxDrawdownReducesThenHaltsOnceFlat) {
  BrokerOptions opt;
  opt.risk.max_drawdown = 0.02;
  SimulatedBroker b = MakeBroker(Eurusd(), opt);
  ASSERT_OK(b.Submit(Market(Side::kBuy, 1), H(1)));
  Feed(b, B(1, 1.10000, 1.10050, 1.09700, 1.09750));  // equity 9,735: 2.65% below the peak
  EXPECT_EQ(b.state(), TradingState::kReducing);
  Feed(b, B(2, 1.09800, 1.09850, 1.09750, 1.09800));  // liquidated at the open, then flat
  EXPECT_EQ(b.state(), TradingState::kHalted);
  ASSERT_EQ(b.risk_events().size(), 2u);
  EXPECT_EQ(b.risk_events()[1].to, TradingState::kHalted);
  auto id = b.Submit(Market(Side::kBuy, 1), H(3));
  ASSERT_OK(id);
  EXPECT_EQ(b.order(*id)->status, OrderStatus::kRejected);
  EXPECT_NE(b.order(*id)->reason.find("halted"), std::string::npos);
}

TEST(BrokerTest, PreTradeLimits) {
  BrokerOptions opt;
  opt.risk.max_position_units = 150000;
  opt.risk.max_notional = 200000;
  SimulatedBroker b = MakeBroker(Eurusd(), opt);
  Feed(b, B(0, 1.10000, 1.10050, 1.09950, 1.10000));
  auto too_big = b.Submit(Market(Side::kBuy, 2), H(1));
  ASSERT_OK(too_big);
  EXPECT_EQ(b.order(*too_big)->status, OrderStatus::kRejected);
  EXPECT_NE(b.order(*too_big)->reason.find("max_position_units"), std::string::npos);
  auto ok = b.Submit(Market(Side::kBuy, 1.5), H(1));
  ASSERT_OK(ok);
  EXPECT_EQ(b.order(*ok)->status, OrderStatus::kWorking);
  opt.risk.max_position_units = 0;
  SimulatedBroker c = MakeBroker(Eurusd(), opt);
  Feed(c, B(0, 1.10000, 1.10050, 1.09950, 1.10000));
  auto notional = c.Submit(Market(Side::kBuy, 1.9), H(1));  // 190,000 x 1.1 = 209,000 USD
  ASSERT_OK(notional);
  EXPECT_NE(c.order(*notional)->reason.find("max_notional"), std::string::npos);
}

TEST(BrokerTest, SwapIsChargedPerNightAndQuoteMoneyIsConverted) {
  // USDJPY for a USD account: P&L in JPY divided by the price.
  InstrumentSpec spec = *SpecFor("USDJPY", 3, "USD");
  spec.spread_points = 0;
  spec.use_bar_spread = false;
  spec.swap_long_points = -50;  // per lot per night: -50 x 0.001 x 100,000 = -5,000 JPY
  SimulatedBroker b = MakeBroker(spec);
  OrderRequest r = Market(Side::kBuy, 1);
  r.symbol = "USDJPY";
  ASSERT_OK(b.Submit(r, H(1)));
  auto bar = [&](int i, double o, double c) {
    return *market::Bar::Create(H(i), o, std::max(o, c) + 0.1, std::min(o, c) - 0.1, c);
  };
  ASSERT_EQ(H(2) % kNanosPerDay, 0);  // bar 1 opens at 23:00 UTC, bar 2 at midnight
  b.OnBar(0, bar(1, 150.000, 150.000), H(2));
  b.OnBar(0, bar(2, 151.000, 151.000), H(3));
  // One night: -5,000 JPY at 151 = -33.11 USD.
  EXPECT_NEAR(b.costs().swap, -5000.0 / 151.0, 1e-9);
  OrderRequest close = r;
  close.side = Side::kSell;
  close.reduce_only = true;
  ASSERT_OK(b.Submit(close, H(3)));
  b.OnBar(0, bar(3, 151.000, 151.000), H(4));
  // Gross: (151 - 150) x 100,000 JPY = 100,000 JPY / 151 = 662.25 USD.
  ASSERT_EQ(b.trades().size(), 1u);
  EXPECT_NEAR(b.trades()[0].gross_pnl, 100000.0 / 151.0, 1e-6);
  EXPECT_NEAR(b.trades()[0].swap, -5000.0 / 151.0, 1e-9);
  EXPECT_NEAR(b.balance(), 10000 + (100000.0 - 5000.0) / 151.0, 1e-6);
}

TEST(BrokerTest, SnapshotRestoreContinuesIdentically) {
  BrokerOptions opt;
  opt.record_events = true;
  SimulatedBroker a = MakeBroker(Eurusd(), opt);
  SimulatedBroker b = MakeBroker(Eurusd(), opt);
  OrderRequest r = Market(Side::kBuy, 1, 0.001, 0.002);
  r.trailing_distance = 0.0005;
  ASSERT_OK(a.Submit(r, H(1)));
  ASSERT_OK(b.Submit(r, H(1)));
  Feed(a, B(1, 1.10000, 1.10100, 1.09950, 1.10050));
  Feed(b, B(1, 1.10000, 1.10100, 1.09950, 1.10050));
  // b goes through a snapshot into a fresh broker.
  SimulatedBroker c = MakeBroker(Eurusd(), opt);
  ASSERT_OK(c.Restore(b.Snapshot()));
  EXPECT_EQ(c.Snapshot(), b.Snapshot());
  for (int i = 2; i < 6; ++i) {
    const auto bar = B(i, 1.10000 + i * 0.0002, 1.10100 + i * 0.0003, 1.09800, 1.10000);
    Feed(a, bar);
    Feed(c, bar);
  }
  EXPECT_EQ(c.Snapshot(), a.Snapshot());
  EXPECT_EQ(std::vector<Fill>(a.fills().begin() + 1, a.fills().end()), c.fills());
}

}  // namespace
}  // namespace sinyal::backtest
