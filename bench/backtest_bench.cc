// backtest/: latency of one order decision + simulated fill, and bars per second of a backtest
// (docs/benchmarks.md, "Backtests and paper trading").
//
//   DecisionAndFill  one Engine::OnBar on a bar where the previous bar's signal flipped the
//                    position: the broker fills the exit and the new entry at the open, creates
//                    the entry's stop-loss/take-profit (OCO), cancels the old bracket, marks and
//                    checks risk; then the strategy sizes (ATR stops) and submits the next exit +
//                    entry. p50/p99 of single iterations are reported as counters.
//   BarsPerSecond    RunStrategy over the real H1 file(s) (whole backtest incl. metrics) with a
//                    cheap rule as the signal source (reverse the last move: a trade every bar,
//                    the heaviest order flow a signal can cause).
//   WalkForward      RunStrategy over EURUSD H1 with the model path (walk_forward_signals.h:
//                    SeriesWindow + SignalAt, models trained in the loop with TrainModel, default
//                    model configuration, 1 XGBoost thread). Arg 0: one model, trained at 5,000
//                    bars and never again; arg N: retrained every N bars after that.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <vector>

#include "backtest/backtest.h"
#include "backtest/engine.h"
#include "backtest/walk_forward_signals.h"
#include "core/time.h"
#include "market/csv_import.h"
#include "models/db_registry.h"
#include "models/service.h"
#include "store/bar_store.h"
#include "store/database.h"
#include "store/job_queue.h"

namespace sinyal::backtest {
namespace {

std::filesystem::path DataDir() {
  const char* env = std::getenv("SINYAL_DATA_DIR");
  return env ? env : SINYAL_SOURCE_DIR "/../shared/data/market";
}

std::vector<market::Bar> LoadOrSynthetic(const std::string& file, const char* tz, int n) {
  market::CsvImportOptions io;
  io.source_tz = TimeZone::Parse(tz).value();
  auto imp = market::ImportBarsCsvFile(DataDir() / file, io);
  if (imp.ok()) return imp->bars;
  std::mt19937_64 rng(7);
  std::normal_distribution<double> step(0, 0.0008);
  std::vector<market::Bar> bars;
  double p = 1.1;
  for (int i = 0; i < n; ++i) {
    const double o = std::round(p * 1e5) / 1e5, c = std::round(o * std::exp(step(rng)) * 1e5) / 1e5;
    bars.push_back(*market::Bar::Create(1'600'000'000LL * kNanosPerSecond + i * kNanosPerHour, o,
                                        std::max(o, c) + 0.0002, std::min(o, c) - 0.0002, c, 100,
                                        8));
    p = c;
  }
  return bars;
}

class FlipSource : public SignalSource {
 public:
  Result<std::optional<BarSignal>> OnBarClosed(int, const market::SeriesKey&, const market::Bar&,
                                               UnixNanos) override {
    BarSignal s;
    s.direction = (n_++ % 2) ? 1 : -1;
    s.confidence = 0.6;
    s.p_up = s.direction > 0 ? 0.6 : 0.4;
    return std::optional<BarSignal>(s);
  }

 private:
  int64_t n_ = 0;
};

class ReverseLastMove : public SignalSource {
 public:
  Result<std::optional<BarSignal>> OnBarClosed(int symbol, const market::SeriesKey&,
                                               const market::Bar& bar, UnixNanos) override {
    if (last_.size() <= static_cast<size_t>(symbol)) last_.resize(symbol + 1, 0);
    const double prev = last_[symbol];
    last_[symbol] = bar.close();
    if (prev == 0 || prev == bar.close()) return std::optional<BarSignal>();
    BarSignal s;
    s.direction = bar.close() > prev ? -1 : 1;
    s.confidence = 0.6;
    return std::optional<BarSignal>(s);
  }

 private:
  std::vector<double> last_;
};

StrategyConfig BenchStrategy(std::vector<std::string> symbols) {
  StrategyConfig c;
  c.symbols = std::move(symbols);
  c.initial_balance = 1e9;  // never constrained
  c.sizing.mode = SizingMode::kRisk;
  c.sizing.risk_fraction = 0.001;
  c.stops.mode = StopMode::kAtr;
  c.stops.stop_loss = 1.5;
  c.stops.take_profit = 3;
  c.stops.trailing = 1.0;
  c.costs.spread_points = 10;
  c.costs.commission_per_lot = 3.5;
  c.costs.slippage_points = 1;
  c.risk.max_open_positions = 5;
  c.random_seeds = 0;
  return c;
}

void BM_DecisionAndFill(benchmark::State& state) {
  static const std::vector<market::Bar> real = LoadOrSynthetic("EURUSD_H1.csv", "NY+7", 23000);
  // Re-timed copies of the real bars on a contiguous hourly grid, as many as we need.
  const size_t n = 200000;
  std::vector<market::Bar> bars;
  bars.reserve(n);
  const UnixNanos t0 = real.front().time();
  for (size_t i = 0; i < n; ++i) {
    const market::Bar& b = real[i % real.size()];
    bars.push_back(*market::Bar::Create(t0 + static_cast<int64_t>(i) * kNanosPerHour, b.open(),
                                        b.high(), b.low(), b.close(), b.volume(), b.spread()));
  }
  const StrategyConfig c = BenchStrategy({"EURUSD"});
  struct Rig {
    explicit Rig(const StrategyConfig& c)
        : broker(Make(c)),
          strategy(c, broker),
          engine(clock, broker, strategy, source, {{"EURUSD", market::Timeframe::kH1}}) {}
    static SimulatedBroker Make(const StrategyConfig& c) {
      BrokerOptions opt;
      opt.initial_balance = c.initial_balance;
      opt.risk = c.risk;
      auto b = SimulatedBroker::Create(opt).value();
      (void)b.AddInstrument(*StrategySpec(c, "EURUSD", 5), c.timeframe);
      return b;
    }
    ManualClock clock;
    FlipSource source;
    SimulatedBroker broker;
    SignalStrategy strategy;
    Engine engine;
  };
  std::unique_ptr<Rig> rig;
  std::vector<double> ns;
  ns.reserve(1 << 20);
  size_t i = n;
  int64_t fills = 0, decisions = 0;
  for (auto _ : state) {
    if (i >= n) {
      // A fresh account every 200,000 bars keeps the order book of a realistic size.
      state.PauseTiming();
      if (rig) fills += static_cast<int64_t>(rig->broker.fills().size());
      rig = std::make_unique<Rig>(c);
      for (i = 0; i < 50; ++i) (void)rig->engine.OnBar(0, bars[i]);  // ATR warm-up
      state.ResumeTiming();
    }
    const auto a = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(rig->engine.OnBar(0, bars[i++]));
    const auto b = std::chrono::steady_clock::now();
    ns.push_back(
        static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count()));
    ++decisions;
  }
  fills += static_cast<int64_t>(rig->broker.fills().size());
  state.counters["fills_per_decision"] =
      static_cast<double>(fills) / static_cast<double>(decisions);
  std::sort(ns.begin(), ns.end());
  if (!ns.empty()) {
    state.counters["p50_us"] = ns[ns.size() / 2] / 1000;
    state.counters["p99_us"] = ns[ns.size() * 99 / 100] / 1000;
    state.counters["max_us"] = ns.back() / 1000;
  }
}
BENCHMARK(BM_DecisionAndFill)->Unit(benchmark::kMicrosecond);

void BM_BarsPerSecond(benchmark::State& state) {
  static const std::vector<market::Bar> eur = LoadOrSynthetic("EURUSD_H1.csv", "NY+7", 23580);
  static const std::vector<market::Bar> xau = LoadOrSynthetic("XAUUSD_H1.csv", "EET", 45857);
  const bool two = state.range(0) == 2;
  std::vector<SeriesInput> series(two ? 2 : 1);
  series[0] = {"EURUSD", 5, eur, {}};
  if (two) series[1] = {"XAUUSD", 2, xau, {}};
  const StrategyConfig c = BenchStrategy(two ? std::vector<std::string>{"EURUSD", "XAUUSD"}
                                             : std::vector<std::string>{"EURUSD"});
  int64_t bars = 0, trades = 0;
  for (auto _ : state) {
    ReverseLastMove source;
    auto r = RunStrategy(c, series, source, {}, {});
    if (!r.ok()) {
      state.SkipWithError(r.error().ToString().c_str());
      break;
    }
    bars += static_cast<int64_t>(eur.size() + (two ? xau.size() : 0));
    trades = static_cast<int64_t>(r->trades.size());
  }
  state.counters["bars_per_s"] =
      benchmark::Counter(static_cast<double>(bars), benchmark::Counter::kIsRate);
  state.counters["trades"] = static_cast<double>(trades);
}
BENCHMARK(BM_BarsPerSecond)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

void BM_WalkForward(benchmark::State& state) {
  static const std::vector<market::Bar> eur = LoadOrSynthetic("EURUSD_H1.csv", "NY+7", 23580);
  auto db = store::Database::Open({.url = "sqlite::memory:"});
  if (!db.ok() || !(*db)->Migrate().ok()) {
    state.SkipWithError("no database");
    return;
  }
  ManualClock clock(0);
  const Clock& wall = SystemClock::Instance();
  store::BarStore bars(**db, clock);
  models::DbModelRegistry registry(**db, clock);
  store::JobQueue jobs(**db, clock);
  models::ModelService models(**db, bars, nullptr, registry, &jobs, clock, {.nthread = 1});
  WalkForwardSignalFactory factory(models, wall);
  std::vector<SeriesInput> series(1);
  series[0] = {"EURUSD", 5, eur, {}};
  StrategyConfig c = BenchStrategy({"EURUSD"});
  c.signal.threshold = 0.55;
  c.model.min_train_bars = 5000;
  c.model.retrain_every_bars = state.range(0) > 0 ? static_cast<int>(state.range(0)) : 100000;
  int64_t bars_run = 0, trainings = 0;
  double train_seconds = 0;
  for (auto _ : state) {
    auto source = factory.Create(models::kPlatformTenant, c, series, {});
    if (!source.ok()) {
      state.SkipWithError(source.error().ToString().c_str());
      break;
    }
    auto r = RunStrategy(c, series, **source, {}, {});
    if (!r.ok()) {
      state.SkipWithError(r.error().ToString().c_str());
      break;
    }
    bars_run += static_cast<int64_t>(eur.size());
    const auto d = (*source)->Describe();
    trainings = d["symbols"]["EURUSD"]["trainings"].get<int64_t>();
    train_seconds = d["train_seconds"].get<double>();
  }
  state.counters["bars_per_s"] =
      benchmark::Counter(static_cast<double>(bars_run), benchmark::Counter::kIsRate);
  state.counters["trainings"] = static_cast<double>(trainings);
  state.counters["train_s"] = train_seconds;
}
BENCHMARK(BM_WalkForward)
    ->Arg(0)
    ->Arg(2000)
    ->Unit(benchmark::kSecond)
    ->Iterations(1)
    ->UseRealTime();

}  // namespace
}  // namespace sinyal::backtest
