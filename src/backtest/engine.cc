#include "backtest/engine.h"

#include <limits>
#include <string>
#include <utility>

namespace sinyal::backtest {

Engine::Engine(ManualClock& clock, SimulatedBroker& broker, SignalStrategy& strategy,
               SignalSource& source, std::vector<market::SeriesKey> keys)
    : clock_(clock),
      broker_(broker),
      strategy_(strategy),
      source_(source),
      keys_(std::move(keys)) {}

Status Engine::OnBar(int symbol, const market::Bar& bar) {
  if (symbol < 0 || static_cast<size_t>(symbol) >= keys_.size()) {
    return Status::InvalidArgument("no such symbol index", "symbol");
  }
  const auto& last = broker_.last_bar(symbol);
  if (last && bar.time() <= last->time()) {
    return Status::InvalidArgument("bar at " + std::to_string(bar.time()) + " of " +
                                       keys_[symbol].ToString() + " is not after the previous one",
                                   "bar");
  }
  const UnixNanos close = bar.time() + market::TimeframeNanos(keys_[symbol].timeframe);
  clock_.Set(close);
  broker_.OnBar(symbol, bar, close);
  SINYAL_ASSIGN_OR_RETURN(std::optional<BarSignal> signal,
                          source_.OnBarClosed(symbol, keys_[symbol], bar, close));
  Decision d = strategy_.OnBar(symbol, bar, close, signal);
  if (keep_decisions_) decisions_.push_back(std::move(d));
  const EquityPoint p{close, broker_.equity(), broker_.balance(), broker_.open_positions() > 0};
  if (!curve_.empty() && curve_.back().time == close) {
    curve_.back() = p;
  } else {
    curve_.push_back(p);
  }
  ++bars_;
  return Status::Ok();
}

Status Engine::Run(std::span<const std::span<const market::Bar>> series, UnixNanos from,
                   UnixNanos to, const RunControl& control) {
  if (series.size() != keys_.size()) {
    return Status::InvalidArgument("one bar series per symbol is needed", "series");
  }
  size_t total = 0;
  for (const auto& s : series) total += s.size();
  std::vector<size_t> next(series.size(), 0);
  std::vector<int64_t> tf(series.size());
  for (size_t i = 0; i < series.size(); ++i) tf[i] = market::TimeframeNanos(keys_[i].timeframe);
  size_t done = 0;
  for (;;) {
    int pick = -1;
    UnixNanos best = std::numeric_limits<UnixNanos>::max();
    for (size_t i = 0; i < series.size(); ++i) {
      if (next[i] >= series[i].size()) continue;
      const UnixNanos close = series[i][next[i]].time() + tf[i];
      if (close < best) {
        best = close;
        pick = static_cast<int>(i);
      }
    }
    if (pick < 0) break;
    const market::Bar& bar = series[pick][next[pick]++];
    ++done;
    if ((from != 0 && bar.time() < from) || (to != 0 && best > to)) continue;
    SINYAL_RETURN_IF_ERROR(OnBar(pick, bar));
    if (control.check_every && done % control.check_every == 0) {
      if (control.cancelled && control.cancelled()) {
        return Status::FailedPrecondition("cancelled", "status");
      }
      if (control.progress && total) control.progress(static_cast<double>(done) / total);
    }
  }
  if (control.progress) control.progress(1.0);
  return Status::Ok();
}

void Engine::Finish() {
  broker_.SettleAtLastClose(clock_.Now());
  const EquityPoint p{clock_.Now(), broker_.equity(), broker_.balance(), false};
  if (!curve_.empty() && curve_.back().time == p.time) {
    curve_.back() = p;
  } else {
    curve_.push_back(p);
  }
}

namespace {

std::string Describe(const Decision& d) {
  std::string s = "desired " + std::to_string(d.desired) + ", action '" + d.action + "'";
  if (d.signal) {
    s += ", signal " + std::to_string(d.signal->direction) + " p_up " +
         std::to_string(d.signal->p_up);
  }
  return s;
}

bool Same(const Decision& a, const Decision& b) {
  if (a.time != b.time || a.symbol != b.symbol || a.desired != b.desired || a.action != b.action ||
      a.orders != b.orders || a.signal.has_value() != b.signal.has_value()) {
    return false;
  }
  if (!a.signal) return true;
  return a.signal->direction == b.signal->direction && a.signal->p_up == b.signal->p_up &&
         a.signal->confidence == b.signal->confidence && a.signal->id == b.signal->id;
}

}  // namespace

Status CheckNoLookahead(const DecisionRun& run, std::span<const UnixNanos> cutoffs) {
  SINYAL_ASSIGN_OR_RETURN(std::vector<Decision> full, run(0));
  for (UnixNanos cut : cutoffs) {
    SINYAL_ASSIGN_OR_RETURN(std::vector<Decision> part, run(cut));
    size_t j = 0;
    for (const Decision& d : full) {
      if (d.time > cut) break;
      if (j >= part.size() || !Same(d, part[j])) {
        return Status::FailedPrecondition(
            "decision at " + std::to_string(d.time) + " of symbol " + std::to_string(d.symbol) +
                " changes when bars closing after " + std::to_string(cut) +
                " are removed (look-ahead): full run: " + Describe(d) +
                "; truncated run: " + (j < part.size() ? Describe(part[j]) : std::string("none")),
            "signal");
      }
      ++j;
    }
  }
  return Status::Ok();
}

}  // namespace sinyal::backtest
