// The engine's timing contract and the look-ahead tests.
#include "backtest/engine.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <vector>

#include "backtest/testing/random_walk.h"
#include "core/testing/test_util.h"

namespace sinyal::backtest {
namespace {

constexpr UnixNanos kT0 = 1'600'000'000LL * kNanosPerSecond / kNanosPerHour * kNanosPerHour;
UnixNanos H(int i) { return kT0 + i * kNanosPerHour; }

// A script of signals by (symbol, bar open time). Checks, at every call, that it is called at the
// bar's close and that the broker has seen this bar and nothing later.
class ScriptedSource : public SignalSource {
 public:
  ScriptedSource(const ManualClock& clock, const SimulatedBroker* broker)
      : clock_(clock), broker_(broker) {}
  std::map<std::pair<int, UnixNanos>, int> script;
  int calls = 0;

  Result<std::optional<BarSignal>> OnBarClosed(int symbol, const market::SeriesKey& key,
                                               const market::Bar& bar, UnixNanos now) override {
    ++calls;
    EXPECT_EQ(now, bar.time() + market::TimeframeNanos(key.timeframe));
    EXPECT_EQ(clock_.Now(), now);
    if (broker_) {
      EXPECT_EQ(broker_->last_bar(symbol)->time(), bar.time());
    }
    auto it = script.find({symbol, bar.time()});
    if (it == script.end()) return std::optional<BarSignal>();
    BarSignal s;
    s.direction = it->second;
    s.confidence = 0.8;
    s.p_up = it->second > 0 ? 0.8 : 0.2;
    s.id = "sig" + std::to_string(bar.time() / kNanosPerHour);
    return std::optional<BarSignal>(s);
  }

 private:
  const ManualClock& clock_;
  const SimulatedBroker* broker_;
};

StrategyConfig FlatCostStrategy() {
  StrategyConfig c;
  c.symbols = {"EURUSD"};
  c.signal.threshold = 0.55;
  c.sizing.mode = SizingMode::kFixed;
  c.sizing.lots = 1;
  c.costs.spread_points = 0;
  c.costs.use_bar_spread = false;
  return c;
}

SimulatedBroker BrokerFor(const StrategyConfig& c) {
  BrokerOptions opt;
  opt.initial_balance = c.initial_balance;
  auto b = SimulatedBroker::Create(opt);
  EXPECT_TRUE(b.ok());
  for (const auto& sym : c.symbols) {
    EXPECT_OK(b->AddInstrument(*StrategySpec(c, sym, 5), c.timeframe));
  }
  return std::move(*b);
}

std::vector<market::Bar> RandomWalk(int n, uint64_t seed, UnixNanos start = kT0) {
  return testing::RandomWalk(n, seed, {.start_time = start, .sigma = 0.0008});
}

TEST(EngineTest, SignalAtACloseFillsAtTheNextOpen) {
  StrategyConfig c = FlatCostStrategy();
  c.costs.spread_points = 10;  // ask = bid + 0.00010
  SimulatedBroker broker = BrokerFor(c);
  ManualClock clock;
  ScriptedSource source(clock, &broker);
  source.script[{0, H(1)}] = +1;
  source.script[{0, H(3)}] = -1;
  SignalStrategy strategy(c, broker);
  Engine engine(clock, broker, strategy, source, {{"EURUSD", market::Timeframe::kH1}});
  std::vector<market::Bar> bars = {
      *market::Bar::Create(H(0), 1.10000, 1.10100, 1.09900, 1.10050),
      *market::Bar::Create(H(1), 1.10050, 1.10200, 1.10000, 1.10150),  // bullish at its close
      *market::Bar::Create(H(2), 1.10160, 1.10300, 1.10100, 1.10250),  // buy at 1.10170
      *market::Bar::Create(H(3), 1.10250, 1.10400, 1.10200, 1.10300),  // bearish at its close
      *market::Bar::Create(H(4), 1.10320, 1.10350, 1.10100, 1.10200),  // exit 1.10320, short too
  };
  std::vector<std::span<const market::Bar>> series = {bars};
  ASSERT_OK(engine.Run(series));
  EXPECT_EQ(source.calls, 5);
  ASSERT_EQ(broker.fills().size(), 3u);
  EXPECT_EQ(broker.fills()[0].time, H(2));
  EXPECT_DOUBLE_EQ(broker.fills()[0].price, 1.10170);  // bar 2's ask open, not bar 1's close
  EXPECT_EQ(broker.fills()[0].side, Side::kBuy);
  EXPECT_EQ(broker.fills()[1].time, H(4));
  EXPECT_DOUBLE_EQ(broker.fills()[1].price, 1.10320);  // exit at bar 4's bid open
  EXPECT_EQ(broker.fills()[1].role, OrderRole::kExit);
  EXPECT_EQ(broker.fills()[2].role, OrderRole::kEntry);  // and the short
  EXPECT_EQ(broker.fills()[2].side, Side::kSell);
  EXPECT_NEAR(broker.trades()[0].net_pnl, (1.10320 - 1.10170) * 100000, 1e-6);
  // The order carries the signal's id.
  EXPECT_EQ(broker.order(broker.fills()[0].order_id)->request.tag,
            "sig" + std::to_string(H(1) / kNanosPerHour));
  // Equity curve: one point per close, last one marked.
  ASSERT_EQ(engine.equity_curve().size(), 5u);
  EXPECT_EQ(engine.equity_curve()[0].time, H(1));
  EXPECT_FALSE(engine.equity_curve()[1].exposed);
  EXPECT_TRUE(engine.equity_curve()[2].exposed);
}

// An independent reference: with zero costs, 1 lot, always in the market from the first signal,
// the P&L is the sum over bars of (position held during the bar) x (next open - this open), the
// position during bar k being the direction of the signal made at the close of bar k-1.
// `shift` = 1 gives what a backtester with look-ahead (trading the signal bar itself) would show.
double ReferencePnl(const std::vector<market::Bar>& bars, const std::vector<int>& signal,
                    int shift) {
  double pnl = 0;
  int pos = 0;
  const size_t n = bars.size();
  for (size_t k = 0; k < n; ++k) {
    const int from = static_cast<int>(k) - 1 + shift;  // signal that sets the position of bar k
    if (from >= 0 && from < static_cast<int>(n) && signal[from] != 0) pos = signal[from];
    const double exit = k + 1 < n ? bars[k + 1].open() : bars[k].close();
    pnl += pos * (exit - bars[k].open()) * 100000;
  }
  return pnl;
}

TEST(EngineTest, PnlEqualsTheNoLookaheadReferenceAndNotTheShiftedOne) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    const std::vector<market::Bar> bars = RandomWalk(400, seed);
    std::mt19937_64 rng(seed * 7919);
    std::vector<int> signal(bars.size());
    for (auto& s : signal) s = static_cast<int>(rng() % 3) - 1;  // -1, 0, +1
    StrategyConfig c = FlatCostStrategy();
    c.initial_balance = 1e7;
    SimulatedBroker broker = BrokerFor(c);
    ManualClock clock;
    ScriptedSource source(clock, &broker);
    for (size_t i = 0; i < bars.size(); ++i) {
      if (signal[i] != 0) source.script[{0, bars[i].time()}] = signal[i];
    }
    SignalStrategy strategy(c, broker);
    Engine engine(clock, broker, strategy, source, {{"EURUSD", market::Timeframe::kH1}});
    std::vector<std::span<const market::Bar>> series = {bars};
    ASSERT_OK(engine.Run(series));
    engine.Finish();
    const double engine_pnl = broker.equity() - c.initial_balance;
    const double honest = ReferencePnl(bars, signal, 0);
    const double lookahead = ReferencePnl(bars, signal, 1);
    EXPECT_NEAR(engine_pnl, honest, 1e-4) << "seed " << seed;
    // The test is sensitive: trading each signal one bar earlier gives a clearly different P&L.
    EXPECT_GT(std::abs(lookahead - honest), 100.0) << "seed " << seed;
  }
}

// A source that cheats: its signal at bar t is the direction of bar t+1 (it reads ahead in the
// series it was given). The detector must catch it; the honest script must pass.
class PeekingSource : public SignalSource {
 public:
  PeekingSource(const std::vector<market::Bar>& all, UnixNanos to) : all_(all), to_(to) {}
  Result<std::optional<BarSignal>> OnBarClosed(int, const market::SeriesKey&,
                                               const market::Bar& bar, UnixNanos) override {
    for (size_t i = 0; i + 1 < all_.size(); ++i) {
      if (all_[i].time() != bar.time()) continue;
      const market::Bar& next = all_[i + 1];
      if (to_ != 0 && next.time() + kNanosPerHour > to_) return std::optional<BarSignal>();
      BarSignal s;
      s.direction = next.close() > next.open() ? 1 : -1;
      s.confidence = 0.9;
      return std::optional<BarSignal>(s);
    }
    return std::optional<BarSignal>();
  }

 private:
  const std::vector<market::Bar>& all_;
  UnixNanos to_;
};

TEST(EngineTest, LookaheadDetectorPassesHonestSourcesAndCatchesAPeekingOne) {
  const std::vector<market::Bar> bars = RandomWalk(300, 42);
  const StrategyConfig c = FlatCostStrategy();
  auto run_with = [&](bool peek) {
    return [&, peek](UnixNanos to) -> Result<std::vector<Decision>> {
      SimulatedBroker broker = BrokerFor(c);
      ManualClock clock;
      ScriptedSource honest(clock, nullptr);
      for (size_t i = 0; i < bars.size(); ++i) {
        honest.script[{0, bars[i].time()}] = bars[i].close() > bars[i].open() ? -1 : 1;
      }
      PeekingSource cheat(bars, to);
      SignalSource& source = peek ? static_cast<SignalSource&>(cheat) : honest;
      SignalStrategy strategy(c, broker);
      Engine engine(clock, broker, strategy, source, {{"EURUSD", market::Timeframe::kH1}});
      engine.set_keep_decisions(true);
      std::vector<std::span<const market::Bar>> series = {bars};
      SINYAL_RETURN_IF_ERROR(engine.Run(series, 0, to));
      return engine.decisions();
    };
  };
  const std::vector<UnixNanos> cutoffs = {H(50), H(120), H(200), H(299)};
  EXPECT_OK(CheckNoLookahead(run_with(false), cutoffs));
  Status caught = CheckNoLookahead(run_with(true), cutoffs);
  EXPECT_EQ(caught.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(caught.message().find("look-ahead"), std::string::npos);
}

TEST(EngineTest, SeveralSymbolsAreMergedInCloseTimeOrder) {
  StrategyConfig c = FlatCostStrategy();
  c.symbols = {"EURUSD", "GBPUSD"};
  SimulatedBroker broker = BrokerFor(c);
  ManualClock clock;
  // GBPUSD starts two hours later and misses an hour; the source must see closes in order.
  class OrderCheck : public SignalSource {
   public:
    UnixNanos last = 0;
    std::vector<std::pair<int, UnixNanos>> seen;
    Result<std::optional<BarSignal>> OnBarClosed(int symbol, const market::SeriesKey&,
                                                 const market::Bar& bar, UnixNanos now) override {
      EXPECT_GE(now, last);
      last = now;
      seen.push_back({symbol, bar.time()});
      return std::optional<BarSignal>();
    }
  } source;
  SignalStrategy strategy(c, broker);
  Engine engine(clock, broker, strategy, source,
                {{"EURUSD", market::Timeframe::kH1}, {"GBPUSD", market::Timeframe::kH1}});
  std::vector<market::Bar> eur = RandomWalk(6, 1);
  std::vector<market::Bar> gbp = RandomWalk(6, 2, H(2));
  gbp.erase(gbp.begin() + 1);
  std::vector<std::span<const market::Bar>> series = {eur, gbp};
  ASSERT_OK(engine.Run(series));
  ASSERT_EQ(source.seen.size(), 11u);
  EXPECT_EQ(source.seen[0], std::make_pair(0, H(0)));
  EXPECT_EQ(source.seen[2], std::make_pair(0, H(2)));
  EXPECT_EQ(source.seen[3], std::make_pair(1, H(2)));  // same close: symbol order
  // One equity point per distinct close time.
  EXPECT_EQ(engine.equity_curve().size(), 8u);
  // A bar out of order is refused.
  EXPECT_EQ(engine.OnBar(0, eur[2]).field(), "bar");
}

}  // namespace
}  // namespace sinyal::backtest
