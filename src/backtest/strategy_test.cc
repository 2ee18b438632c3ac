#include "backtest/strategy.h"

#include <gtest/gtest.h>

#include <string>

#include "core/testing/test_util.h"

namespace sinyal::backtest {
namespace {

std::string FieldOf(const std::string& text) {
  auto r = ParseStrategy(text);
  return r.ok() ? "ok" : r.error().field();
}

TEST(StrategyTest, ParsesEveryFieldAndRoundTrips) {
  const std::string text = R"({
    "name": "eurusd+gold", "symbols": ["eurusd", "XAUUSD"], "timeframe": "1h",
    "period": {"from": "2021-01-01", "to": "2023-01-01T00:00:00Z"},
    "initial_balance": 5000, "currency": "USD",
    "signal": {"threshold": 0.6, "allow_short": false, "close_on_neutral": true, "hold_bars": 4},
    "entry": {"type": "limit", "offset_points": 5, "time_in_force": "gtd", "expire_bars": 2},
    "sizing": {"mode": "kelly", "kelly_fraction": 0.5, "max_risk_fraction": 0.01},
    "stops": {"mode": "atr", "stop_loss": 1.5, "take_profit": 3, "trailing": 1, "atr_period": 20},
    "costs": {"spread_points": 8, "commission_per_lot": 3.5, "slippage_points": 1},
    "costs_by_symbol": {"XAUUSD": {"spread_points": 30}},
    "risk": {"max_daily_loss": 0.03, "max_drawdown": 0.2, "max_open_positions": 2},
    "fills": {"m1_replay": true},
    "model": {"horizon": 1, "retrain_every_bars": 500, "min_train_bars": 2000,
              "config": {"trees": 100}},
    "baselines": {"random_seeds": 50}
  })";
  auto c = ParseStrategy(text);
  ASSERT_OK(c);
  EXPECT_EQ(c->symbols, (std::vector<std::string>{"EURUSD", "XAUUSD"}));
  EXPECT_EQ(c->timeframe, market::Timeframe::kH1);
  EXPECT_DOUBLE_EQ(c->signal.threshold, 0.6);
  EXPECT_FALSE(c->signal.allow_short);
  EXPECT_EQ(c->entry.type, OrderType::kLimit);
  EXPECT_EQ(c->entry.tif, TimeInForce::kGtd);
  EXPECT_EQ(c->sizing.mode, SizingMode::kKelly);
  EXPECT_EQ(c->stops.mode, StopMode::kAtr);
  EXPECT_DOUBLE_EQ(c->CostsFor("EURUSD").spread_points, 8);
  // Per-symbol costs start from the general ones.
  EXPECT_DOUBLE_EQ(c->CostsFor("XAUUSD").spread_points, 30);
  EXPECT_DOUBLE_EQ(c->CostsFor("XAUUSD").commission_per_lot, 3.5);
  EXPECT_TRUE(c->m1_replay);
  EXPECT_EQ(c->model.config["trees"], 100);
  auto again = StrategyFromJson(c->ToJson());
  ASSERT_OK(again);
  EXPECT_EQ(again->ToJson(), c->ToJson());
  auto spec = StrategySpec(*c, "XAUUSD", 2);
  ASSERT_OK(spec);
  EXPECT_DOUBLE_EQ(spec->contract_size, 100);
  EXPECT_DOUBLE_EQ(spec->spread_points, 30);
}

TEST(StrategyTest, ImpossibleParametersNameTheField) {
  EXPECT_EQ(FieldOf(R"({"symbols": ["EURUSD"], "costs": {"spread_points": -1}})"),
            "costs.spread_points");
  EXPECT_EQ(FieldOf(R"({"symbols": ["EURUSD"], "signal": {"threshold": 1.2}})"),
            "signal.threshold");
  EXPECT_EQ(FieldOf(R"({"symbols": ["EURUSD"], "signal": {"threshold": 0.4}})"),
            "signal.threshold");
  EXPECT_EQ(
      FieldOf(R"({"symbols": ["EURUSD"], "period": {"from": "2022-01-01", "to": "2022-01-01"}})"),
      "period");
  EXPECT_EQ(FieldOf(R"({"symbols": ["EURUSD"], "period": {"from": "2022-13-01"}})"), "period.from");
  EXPECT_EQ(FieldOf(R"({"symbols": ["EUR/USD"]})"), "symbols[0]");
  EXPECT_EQ(FieldOf(R"({"symbols": []})"), "symbols");
  EXPECT_EQ(FieldOf(R"({"symbols": ["EURUSD", "eurusd"]})"), "symbols[1]");
  EXPECT_EQ(FieldOf(R"({})"), "symbols");
  EXPECT_EQ(FieldOf(R"({"symbols": ["EURUSD"], "spread": 3})"), "spread");
  EXPECT_EQ(FieldOf(R"({"symbols": ["EURUSD"], "costs": {"spred_points": 3}})"),
            "costs.spred_points");
  EXPECT_EQ(FieldOf(R"({"symbols": ["EURUSD"], "sizing": {"mode": "risk"}})"), "sizing.mode");
  EXPECT_EQ(FieldOf(R"({"symbols": ["EURUSD"], "sizing": {"lots": 0}})"), "sizing.lots");
  EXPECT_EQ(FieldOf(R"({"symbols": ["EURUSD"], "risk": {"max_drawdown": 1.5}})"),
            "risk.max_drawdown");
  EXPECT_EQ(FieldOf(R"({"symbols": ["EURUSD"], "timeframe": "2h"})"), "timeframe");
  EXPECT_EQ(FieldOf(R"({"symbols": ["EURUSD"], "initial_balance": -5})"), "initial_balance");
  EXPECT_EQ(FieldOf(R"({"symbols": ["EURUSD"], "costs_by_symbol": {"GBPUSD": {}}})"),
            "costs_by_symbol.GBPUSD");
  EXPECT_EQ(FieldOf(R"({"symbols": ["EURUSD"], "entry": {"type": "limit"}})"),
            "entry.offset_points");
  EXPECT_EQ(FieldOf(R"({"symbols": ["EURUSD"], "model": {"horizon": 0}})"), "model.horizon");
  EXPECT_EQ(FieldOf(R"({"symbols": ["EURUSD"], "signal": {"threshold": "high"}})"),
            "signal.threshold");
  EXPECT_EQ(FieldOf(R"({"symbols": ["EURUSD"],)"), "strategy");
  EXPECT_EQ(FieldOf("[1, 2]"), "strategy");
}

TEST(StrategyTest, OversizedStrategyIsRefusedBeforeParsing) {
  const std::string big =
      R"({"symbols": ["EURUSD"], "name": ")" + std::string(10 << 20, 'x') + "\"}";
  auto r = ParseStrategy(big);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), StatusCode::kPayloadTooLarge);
  EXPECT_EQ(r.error().field(), "strategy");
}

// Found by fuzz/strategy_fuzz.cc (input "3.3E3333", kept in fuzz/corpus/strategy/): nlohmann's
// out_of_range for a number no double holds escaped ParseStrategy as an exception.
TEST(StrategyTest, NumberTooLargeForADoubleIsAMalformedDocument) {
  for (const std::string text :
       {"3.3E3333", R"({"symbols": ["EURUSD"], "initial_balance": 1e999})",
        R"({"symbols": ["EURUSD"], "signal": {"threshold": -4E+99999}})"}) {
    auto r = ParseStrategy(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_EQ(r.error().field(), "strategy") << text;
  }
}

// Found by fuzz/strategy_fuzz.cc (input kept in fuzz/corpus/strategy/): an unknown field with an
// empty name at the top level was reported with an empty field name.
TEST(StrategyTest, UnknownFieldWithAnEmptyNameIsNamed) {
  EXPECT_EQ(FieldOf(R"({"symbols": ["EURUSD"], "": {"threshold": 2.01}})"), "\"\"");
  EXPECT_EQ(FieldOf(R"({"symbols": ["EURUSD"], "signal": {"": 1}})"), "signal.\"\"");
}

TEST(SizingTest, KellyRiskAndFixed) {
  InstrumentSpec spec = *SpecFor("EURUSD", 5, "USD");
  StopDistances st{0.0010, 0.0020, 0};
  SizingConfig z;
  z.mode = SizingMode::kFixed;
  z.lots = 0.25;
  EXPECT_DOUBLE_EQ(SizeEntry(z, st, spec, 10000, 0.6, 1.1).units, 25000);
  z.mode = SizingMode::kRisk;
  z.risk_fraction = 0.01;
  // 1% of 10,000 = 100 USD at a stop 0.0010 away: 100,000 units.
  EXPECT_DOUBLE_EQ(SizeEntry(z, st, spec, 10000, 0.6, 1.1).units, 100000);
  z.mode = SizingMode::kKelly;
  z.kelly_fraction = 0.25;
  z.max_risk_fraction = 0.02;
  // p 0.6, b 2: f* = 0.6 - 0.4/2 = 0.4; a quarter: 0.1, capped at 0.02 -> 200 USD -> 200,000 u.
  SizeDecision d = SizeEntry(z, st, spec, 10000, 0.6, 1.1);
  EXPECT_DOUBLE_EQ(d.units, 200000);
  EXPECT_DOUBLE_EQ(d.risk_fraction, 0.02);
  // p 0.52, b 2: f* = 0.28, a quarter 0.07 -> capped 0.02. p 0.34: f* = 0.01 -> 0.0025 -> 25,000.
  EXPECT_DOUBLE_EQ(SizeEntry(z, st, spec, 10000, 0.34, 1.1).units, 25000);
  // p 0.3: f* < 0, no trade.
  EXPECT_EQ(SizeEntry(z, st, spec, 10000, 0.3, 1.1).units, 0);
  EXPECT_FALSE(SizeEntry(z, st, spec, 10000, 0.3, 1.1).skipped.empty());
  // ATR stops are multiples of the ATR; before it is ready they are an error.
  StopsConfig sc;
  sc.mode = StopMode::kAtr;
  sc.stop_loss = 2;
  sc.take_profit = 3;
  auto dist = StopDistancesFor(sc, spec, 0.0015);
  ASSERT_OK(dist);
  EXPECT_DOUBLE_EQ(dist->stop_loss, 0.003);
  EXPECT_DOUBLE_EQ(dist->take_profit, 0.0045);
  EXPECT_FALSE(StopDistancesFor(sc, spec, std::nan("")).ok());
}

}  // namespace
}  // namespace sinyal::backtest
