#include "backtest/backtest.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <random>
#include <set>
#include <utility>

#include "core/time.h"

namespace sinyal::backtest {
namespace {

// The bars of the strategy's period (open >= from, close <= to).
std::vector<std::span<const market::Bar>> PeriodSpans(const StrategyConfig& c,
                                                      const std::vector<SeriesInput>& series) {
  std::vector<std::span<const market::Bar>> out;
  const int64_t tf = market::TimeframeNanos(c.timeframe);
  for (const SeriesInput& s : series) {
    auto first = std::lower_bound(s.bars.begin(), s.bars.end(), c.from,
                                  [](const market::Bar& b, UnixNanos t) { return b.time() < t; });
    auto last = s.bars.end();
    if (c.to != 0) {
      last = std::upper_bound(first, s.bars.end(), c.to - tf,
                              [](UnixNanos t, const market::Bar& b) { return t < b.time(); });
    }
    if (first == last) {
      out.emplace_back();
    } else {
      out.emplace_back(&*first, static_cast<size_t>(last - first));
    }
  }
  return out;
}

Result<SimulatedBroker> MakeBroker(const StrategyConfig& c, const std::vector<SeriesInput>& series,
                                   bool with_risk) {
  MinuteBarSource minutes;
  if (c.m1_replay) {
    minutes = [&series](std::string_view symbol, UnixNanos from,
                        UnixNanos to) -> std::span<const market::Bar> {
      for (const SeriesInput& s : series) {
        if (s.symbol != symbol) continue;
        auto a = std::lower_bound(s.minutes.begin(), s.minutes.end(), from,
                                  [](const market::Bar& b, UnixNanos t) { return b.time() < t; });
        auto b = std::lower_bound(a, s.minutes.end(), to,
                                  [](const market::Bar& x, UnixNanos t) { return x.time() < t; });
        if (a == b) return {};
        return {&*a, static_cast<size_t>(b - a)};
      }
      return {};
    };
  }
  std::vector<int> digits;
  for (const SeriesInput& s : series) digits.push_back(s.digits);
  return BrokerFor(c, digits, with_risk, std::move(minutes));
}

std::vector<market::SeriesKey> Keys(const StrategyConfig& c) {
  std::vector<market::SeriesKey> keys;
  for (const auto& s : c.symbols) keys.push_back({s, c.timeframe});
  return keys;
}

// The result of a finished run. Moves the broker's history out (the broker is done).
RunResult Collect(std::string name, SimulatedBroker& broker, const Engine& engine,
                  const SignalStrategy* strategy, const StrategyConfig& c,
                  const MetricsOptions& mo) {
  RunResult r;
  r.name = std::move(name);
  r.equity = engine.equity_curve();
  r.costs = broker.costs();
  broker.MoveHistoryTo(&r.orders, &r.fills, &r.trades, &r.risk_events);
  if (strategy) {
    r.entries = strategy->entries();
    r.mean_entry_confidence = strategy->mean_entry_confidence();
  }
  if (r.equity.empty()) r.equity.push_back({0, c.initial_balance, c.initial_balance, false});
  r.metrics = ComputeMetrics(r.equity, r.trades, c.initial_balance, mo);
  r.metrics.spread_cost = r.costs.spread;
  r.metrics.slippage_cost = r.costs.slippage;
  return r;
}

// Signals of the "reverse the last move" rule.
class ReverseLastMoveSource : public SignalSource {
 public:
  ReverseLastMoveSource(size_t symbols, int horizon, double confidence)
      : closes_(symbols), horizon_(horizon), confidence_(confidence) {}
  Result<std::optional<BarSignal>> OnBarClosed(int symbol, const market::SeriesKey&,
                                               const market::Bar& bar, UnixNanos) override {
    auto& q = closes_[symbol];
    q.push_back(bar.close());
    if (q.size() > static_cast<size_t>(horizon_) + 1) q.pop_front();
    if (q.size() <= static_cast<size_t>(horizon_)) return std::optional<BarSignal>();
    const double move = q.back() - q.front();
    BarSignal s;
    s.direction = move > 0 ? -1 : (move < 0 ? 1 : 0);
    s.confidence = confidence_;
    s.p_up = s.direction > 0 ? confidence_ : 1 - confidence_;
    s.id = "reverse_last_move";
    return std::optional<BarSignal>(s);
  }

 private:
  std::vector<std::deque<double>> closes_;
  int horizon_;
  double confidence_;
};

// Signals at pre-drawn (symbol, bar time) points.
class RandomEntrySource : public SignalSource {
 public:
  RandomEntrySource(std::set<std::pair<int, UnixNanos>> at, std::vector<int> dirs,
                    double confidence)
      : dirs_(std::move(dirs)), confidence_(confidence) {
    size_t i = 0;
    for (const auto& p : at) index_[p] = i++;
  }
  Result<std::optional<BarSignal>> OnBarClosed(int symbol, const market::SeriesKey&,
                                               const market::Bar& bar, UnixNanos) override {
    auto it = index_.find({symbol, bar.time()});
    if (it == index_.end()) return std::optional<BarSignal>();
    BarSignal s;
    s.direction = dirs_[it->second];
    s.confidence = confidence_;
    s.p_up = s.direction > 0 ? confidence_ : 1 - confidence_;
    s.id = "random_entry";
    return std::optional<BarSignal>(s);
  }

 private:
  std::map<std::pair<int, UnixNanos>, size_t> index_;
  std::vector<int> dirs_;
  double confidence_;
};

class NoSignals : public SignalSource {
 public:
  Result<std::optional<BarSignal>> OnBarClosed(int, const market::SeriesKey&, const market::Bar&,
                                               UnixNanos) override {
    return std::optional<BarSignal>();
  }
};

double Quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

Result<RunResult> BuyAndHold(const StrategyConfig& c, const std::vector<SeriesInput>& series,
                             const MetricsOptions& mo) {
  StrategyConfig bh = c;
  bh.signal.hold_bars = 0;
  SINYAL_ASSIGN_OR_RETURN(SimulatedBroker broker, MakeBroker(bh, series, /*with_risk=*/false));
  const auto spans = PeriodSpans(bh, series);
  const double alloc = c.initial_balance / static_cast<double>(series.size());
  for (size_t i = 0; i < spans.size(); ++i) {
    if (spans[i].empty()) continue;
    const InstrumentSpec& spec = broker.spec(static_cast<int>(i));
    const market::Bar& first = spans[i].front();
    // Units worth `alloc` in account money at the first open (no leverage).
    const double units = spec.divide_by_price ? alloc : alloc / first.open();
    const double step = spec.lot_step * spec.contract_size;
    OrderRequest r;
    r.symbol = spec.symbol;
    r.side = Side::kBuy;
    r.quantity = std::floor(units / step) * step;
    r.role = OrderRole::kEntry;
    r.tag = "buy_and_hold";
    if (r.quantity <= 0) continue;
    auto id = broker.Submit(r, first.time());
    if (!id.ok()) return id.error();
  }
  ManualClock clock;
  NoSignals none;
  SignalStrategy strategy(bh, broker);
  Engine engine(clock, broker, strategy, none, Keys(bh));
  SINYAL_RETURN_IF_ERROR(engine.Run(spans));
  engine.Finish();
  return Collect("buy_and_hold", broker, engine, nullptr, bh, mo);
}

}  // namespace

Result<SimulatedBroker> BrokerFor(const StrategyConfig& c, std::span<const int> digits,
                                  bool with_risk, MinuteBarSource minutes, bool record_events) {
  if (digits.size() != c.symbols.size()) {
    return Status::InvalidArgument("one precision per symbol is needed", "symbols");
  }
  BrokerOptions opt;
  opt.initial_balance = c.initial_balance;
  opt.account_currency = c.currency;
  if (with_risk) opt.risk = c.risk;
  opt.minute_bars = std::move(minutes);
  opt.record_events = record_events;
  SINYAL_ASSIGN_OR_RETURN(SimulatedBroker broker, SimulatedBroker::Create(std::move(opt)));
  for (size_t i = 0; i < c.symbols.size(); ++i) {
    auto spec = StrategySpec(c, c.symbols[i], digits[i]);
    if (!spec.ok()) return spec.error().WithField("symbols[" + std::to_string(i) + "]");
    SINYAL_RETURN_IF_ERROR(broker.AddInstrument(*spec, c.timeframe));
  }
  return broker;
}

Result<RunResult> RunStrategy(const StrategyConfig& c, const std::vector<SeriesInput>& series,
                              SignalSource& source, const RunControl& control,
                              const MetricsOptions& mo, std::vector<Decision>* decisions) {
  SINYAL_ASSIGN_OR_RETURN(SimulatedBroker broker, MakeBroker(c, series, /*with_risk=*/true));
  ManualClock clock;
  SignalStrategy strategy(c, broker);
  Engine engine(clock, broker, strategy, source, Keys(c));
  engine.set_keep_decisions(decisions != nullptr);
  const auto spans = PeriodSpans(c, series);
  SINYAL_RETURN_IF_ERROR(engine.Run(spans, 0, 0, control));
  engine.Finish();
  if (decisions) *decisions = engine.decisions();
  return Collect("strategy", broker, engine, &strategy, c, mo);
}

Result<BacktestResult> RunBacktest(const StrategyConfig& c, const std::vector<SeriesInput>& series,
                                   SignalSource& source, const RunControl& control,
                                   const BacktestOptions& options) {
  if (series.size() != c.symbols.size()) {
    return Status::InvalidArgument("one bar series per symbol is needed", "symbols");
  }
  for (size_t i = 0; i < series.size(); ++i) {
    if (series[i].symbol != c.symbols[i]) {
      return Status::InvalidArgument("series out of the strategy's symbol order",
                                     "symbols[" + std::to_string(i) + "]");
    }
  }
  BacktestResult out;
  out.config = c;
  out.metrics_options = options.metrics;
  const auto spans = PeriodSpans(c, series);
  const int64_t tf = market::TimeframeNanos(c.timeframe);
  out.from = INT64_MAX;
  out.to = 0;
  for (size_t i = 0; i < spans.size(); ++i) {
    if (spans[i].empty()) {
      return Status::InvalidArgument(
          "no " + c.symbols[i] + " " + std::string(market::TimeframeName(c.timeframe)) +
              " bars in the period" +
              (series[i].bars.empty()
                   ? std::string(" (no data for this symbol)")
                   : " (data covers " + FormatIso8601(series[i].bars.front().time()) + " .. " +
                         FormatIso8601(series[i].bars.back().time() + tf) + ")"),
          c.from || c.to ? "period" : "symbols[" + std::to_string(i) + "]");
    }
    out.from = std::min(out.from, spans[i].front().time());
    out.to = std::max(out.to, spans[i].back().time() + tf);
    out.bars += static_cast<int64_t>(spans[i].size());
  }

  const int64_t t0 = options.wall_clock ? options.wall_clock->MonotonicNanos() : 0;
  SINYAL_ASSIGN_OR_RETURN(out.strategy, RunStrategy(c, series, source, control, options.metrics));
  const int64_t t1 = options.wall_clock ? options.wall_clock->MonotonicNanos() : 0;
  out.seconds = static_cast<double>(t1 - t0) / 1e9;
  out.signal_source = source.Describe();
  if (!options.baselines) return out;

  SINYAL_ASSIGN_OR_RETURN(out.buy_and_hold, BuyAndHold(c, series, options.metrics));
  const double confidence = out.strategy.entries > 0 ? out.strategy.mean_entry_confidence
                                                     : std::max(c.signal.threshold, 0.5);
  {
    ReverseLastMoveSource rev(series.size(), c.model.horizon, confidence);
    StrategyConfig rc = c;
    rc.signal.threshold = 0.5;  // the rule's signal is always "confident"
    SINYAL_ASSIGN_OR_RETURN(out.reverse_last_move,
                            RunStrategy(rc, series, rev, {}, options.metrics));
    out.reverse_last_move.name = "reverse_last_move";
  }
  // Random entries: as many entries as the strategy made, held for its mean holding period.
  RandomBaseline& rb = out.random_entry;
  rb.seeds = c.random_seeds;
  rb.entries_per_run = out.strategy.entries;
  rb.hold_bars = std::max(1, static_cast<int>(std::lround(out.strategy.metrics.avg_bars_held)));
  std::vector<std::pair<int, UnixNanos>> all;
  for (size_t i = 0; i < spans.size(); ++i) {
    for (const market::Bar& b : spans[i]) all.push_back({static_cast<int>(i), b.time()});
  }
  std::vector<std::pair<double, int>> runs;  // (total return, seed)
  StrategyConfig rc = c;
  rc.signal.threshold = 0.5;
  rc.signal.hold_bars = rb.hold_bars;
  rc.signal.close_on_neutral = false;
  auto random_run = [&](int seed) -> Result<RunResult> {
    std::mt19937_64 rng(static_cast<uint64_t>(seed) * 0x9E3779B97F4A7C15ULL);
    std::set<std::pair<int, UnixNanos>> at;
    const size_t k = std::min<size_t>(static_cast<size_t>(rb.entries_per_run), all.size());
    while (at.size() < k) at.insert(all[rng() % all.size()]);
    std::vector<int> dirs;
    for (size_t i = 0; i < k; ++i)
      dirs.push_back(c.signal.allow_short ? ((rng() & 1) ? 1 : -1) : 1);
    RandomEntrySource rs(std::move(at), std::move(dirs), confidence);
    SINYAL_ASSIGN_OR_RETURN(RunResult r, RunStrategy(rc, series, rs, {}, options.metrics));
    r.name = "random_entry/seed " + std::to_string(seed);
    return r;
  };
  if (rb.entries_per_run > 0 && !all.empty()) {
    for (int seed = 1; seed <= c.random_seeds; ++seed) {
      if (control.cancelled && control.cancelled()) {
        return Status::FailedPrecondition("cancelled", "status");
      }
      SINYAL_ASSIGN_OR_RETURN(RunResult r, random_run(seed));
      rb.total_returns.push_back(r.metrics.total_return);
      rb.sharpes.push_back(r.metrics.sharpe);
      runs.push_back({r.metrics.total_return, seed});
    }
  }
  if (!rb.total_returns.empty()) {
    std::sort(rb.total_returns.begin(), rb.total_returns.end());
    std::sort(rb.sharpes.begin(), rb.sharpes.end());
    double sum = 0;
    for (double x : rb.total_returns) sum += x;
    rb.mean_return = sum / static_cast<double>(rb.total_returns.size());
    rb.median_return = Quantile(rb.total_returns, 0.5);
    rb.p05_return = Quantile(rb.total_returns, 0.05);
    rb.p95_return = Quantile(rb.total_returns, 0.95);
    rb.median_sharpe = Quantile(rb.sharpes, 0.5);
    const double mine = out.strategy.metrics.total_return;
    rb.strategy_return_rank = static_cast<double>(std::lower_bound(rb.total_returns.begin(),
                                                                   rb.total_returns.end(), mine) -
                                                  rb.total_returns.begin()) /
                              static_cast<double>(rb.total_returns.size());
    // The run at the median return, re-run (runs are deterministic per seed) for its curve.
    std::sort(runs.begin(), runs.end());
    SINYAL_ASSIGN_OR_RETURN(RunResult median, random_run(runs[runs.size() / 2].second));
    median.fills.clear();
    median.orders.clear();
    rb.median_run = std::move(median);
  }
  const int64_t t2 = options.wall_clock ? options.wall_clock->MonotonicNanos() : 0;
  out.baseline_seconds = static_cast<double>(t2 - t1) / 1e9;
  return out;
}

std::vector<EquityPoint> ThinCurve(std::span<const EquityPoint> curve, size_t max_points) {
  if (curve.size() <= max_points) return {curve.begin(), curve.end()};
  // Buckets of equal size; from each keep its lowest point and its last point (in time order).
  const size_t buckets = std::max<size_t>(1, max_points / 2);
  const double per = static_cast<double>(curve.size()) / static_cast<double>(buckets);
  std::vector<EquityPoint> out;
  for (size_t b = 0; b < buckets; ++b) {
    const size_t lo = static_cast<size_t>(b * per);
    const size_t hi = std::min(curve.size(), static_cast<size_t>((b + 1) * per));
    if (lo >= hi) continue;
    size_t low = lo;
    for (size_t i = lo; i < hi; ++i) {
      if (curve[i].equity < curve[low].equity) low = i;
    }
    if (low != hi - 1) out.push_back(curve[low]);
    out.push_back(curve[hi - 1]);
  }
  if (out.front().time != curve.front().time) out.insert(out.begin(), curve.front());
  return out;
}

namespace {

nlohmann::json CurveJson(std::span<const EquityPoint> curve, size_t max_points) {
  const auto thin = ThinCurve(curve, max_points);
  nlohmann::json t = nlohmann::json::array(), e = nlohmann::json::array(),
                 d = nlohmann::json::array();
  // Drawdown against the running peak of the FULL curve, sampled at the kept points.
  const auto dd = DrawdownCurve(curve);
  size_t j = 0;
  for (const EquityPoint& p : thin) {
    while (j < curve.size() && curve[j].time < p.time) ++j;
    t.push_back(FormatIso8601(p.time));
    e.push_back(p.equity);
    d.push_back(j < dd.size() ? dd[j].drawdown : 0);
  }
  return {{"time", t}, {"equity", e}, {"drawdown", d}, {"points", curve.size()}};
}

nlohmann::json RunJson(const RunResult& r, size_t max_points) {
  nlohmann::json m = ToJson(r.metrics);
  m["costs"] = {{"commission", r.costs.commission},
                {"spread", r.costs.spread},
                {"slippage", r.costs.slippage},
                {"swap", r.costs.swap}};
  return {{"name", r.name},
          {"metrics", m},
          {"entries", r.entries},
          {"curve", CurveJson(r.equity, max_points)}};
}

}  // namespace

nlohmann::json ToJson(const BacktestResult& r, size_t max_points, size_t max_trades) {
  nlohmann::json j;
  j["strategy_config"] = r.config.ToJson();
  j["from"] = FormatIso8601(r.from);
  j["to"] = FormatIso8601(r.to);
  j["bars"] = r.bars;
  j["seconds"] = r.seconds;
  j["baseline_seconds"] = r.baseline_seconds;
  j["signal_source"] = r.signal_source;
  j["definitions"] = MetricDefinitions(r.metrics_options);
  j["strategy"] = RunJson(r.strategy, max_points);
  nlohmann::json trades = nlohmann::json::array();
  const size_t skip =
      r.strategy.trades.size() > max_trades ? r.strategy.trades.size() - max_trades : 0;
  for (size_t i = skip; i < r.strategy.trades.size(); ++i)
    trades.push_back(ToJson(r.strategy.trades[i]));
  j["trades"] = trades;
  j["trades_total"] = r.strategy.trades.size();
  nlohmann::json risk = nlohmann::json::array();
  for (const RiskEvent& e : r.strategy.risk_events) {
    risk.push_back({{"time", FormatIso8601(e.time)},
                    {"from", TradingStateName(e.from)},
                    {"to", TradingStateName(e.to)},
                    {"reason", e.reason},
                    {"equity", e.equity}});
  }
  j["risk_events"] = risk;
  nlohmann::json b;
  b["buy_and_hold"] = RunJson(r.buy_and_hold, max_points);
  b["reverse_last_move"] = RunJson(r.reverse_last_move, max_points);
  const RandomBaseline& rb = r.random_entry;
  nlohmann::json rj = {{"seeds", rb.seeds},
                       {"entries_per_run", rb.entries_per_run},
                       {"hold_bars", rb.hold_bars},
                       {"total_returns", rb.total_returns},
                       {"mean_return", rb.mean_return},
                       {"median_return", rb.median_return},
                       {"p05_return", rb.p05_return},
                       {"p95_return", rb.p95_return},
                       {"median_sharpe", rb.median_sharpe},
                       {"strategy_return_rank", rb.strategy_return_rank}};
  if (rb.median_run) rj["median_run"] = RunJson(*rb.median_run, max_points);
  b["random_entry"] = rj;
  j["baselines"] = b;
  return j;
}

}  // namespace sinyal::backtest
