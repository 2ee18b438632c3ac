#include "store/live_feed.h"

#include <map>
#include <mutex>
#include <unordered_map>

#include "core/log.h"
#include "core/time.h"

namespace sinyal::store {

struct LiveFeed::Symbol {
  std::mutex mu;
  std::string name;
  std::unique_ptr<market::TickAggregator> aggregator;             // GUARDED_BY(mu)
  std::vector<std::pair<market::Timeframe, market::Bar>> closed;  // GUARDED_BY(mu), unpersisted
  UnixNanos last_event = INT64_MIN;                               // GUARDED_BY(mu)
};

struct LiveFeed::Impl {
  BarStore& store;
  Clock& clock;
  LiveFeedOptions options;
  BarListener listener;

  mutable std::mutex mu;
  std::unordered_map<std::string, std::unique_ptr<Symbol>> symbols;  // GUARDED_BY(mu)

  Impl(BarStore& s, Clock& c, LiveFeedOptions o, BarListener l)
      : store(s), clock(c), options(std::move(o)), listener(std::move(l)) {}

  // The symbol's state, created on first use; nullptr when the symbol cap is reached.
  Symbol* Get(const std::string& name, bool create) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = symbols.find(name);
    if (it != symbols.end()) return it->second.get();
    if (!create || symbols.size() >= options.max_symbols) return nullptr;
    auto sym = std::make_unique<Symbol>();
    sym->name = name;
    Symbol* raw = sym.get();
    sym->aggregator = std::make_unique<market::TickAggregator>(
        options.aggregator,
        [raw](market::Timeframe tf, const market::Bar& bar) { raw->closed.emplace_back(tf, bar); });
    symbols.emplace(name, std::move(sym));
    return raw;
  }

  // Writes the symbol's queued closed bars, one import per timeframe. REQUIRES: sym.mu held.
  Status Persist(Symbol& sym, FeedResult& result) {
    if (sym.closed.empty()) return Status::Ok();
    std::map<market::Timeframe, std::vector<market::Bar>> by_tf;
    for (const auto& [tf, bar] : sym.closed) by_tf[tf].push_back(bar);
    for (auto it = by_tf.begin(); it != by_tf.end(); ++it) {
      const market::SeriesKey key{sym.name, it->first};
      auto report = store.Import(SeriesOwner::Platform(), key, it->second,
                                 {.overlap = market::OverlapPolicy::kKeepExisting,
                                  .source = "live feed",
                                  .max_reported_conflicts = it->second.size()});
      if (!report.ok()) {
        // Drop what was written (earlier timeframes); keep the rest queued.
        std::vector<std::pair<market::Timeframe, market::Bar>> rest;
        for (const auto& e : sym.closed) {
          if (e.first >= it->first) rest.push_back(e);
        }
        sym.closed = std::move(rest);
        LogEvent(spdlog::level::warn, "live_feed_persist_failed",
                 {{"symbol", sym.name}, {"error", report.error().ToString()}});
        return report.error().code() >= StatusCode::kInternal
                   ? report.error()
                   : Status::Internal("could not store closed bars: " + report.error().message());
      }
      result.bars_written += report->inserted;
      result.bars_conflicting += report->conflicts;
      if (listener) {
        // Conflicting bars were not written (the stored ones stay): skip them.
        size_t c = 0;
        const auto& conflicts = report->first_conflicts;  // all of them (see above)
        for (const market::Bar& bar : it->second) {
          while (c < conflicts.size() && conflicts[c].incoming.time() < bar.time()) ++c;
          if (c < conflicts.size() && conflicts[c].incoming.time() == bar.time()) continue;
          listener(key, bar);
        }
      }
    }
    sym.closed.clear();
    return Status::Ok();
  }

  void NoteError(FeedResult& r, size_t index, std::string reason, bool late) {
    if (r.errors.size() < options.max_reported_errors) {
      r.errors.push_back({index, std::move(reason), late});
    }
  }
};

LiveFeed::LiveFeed(BarStore& store, Clock& clock, LiveFeedOptions options, BarListener listener)
    : impl_(std::make_unique<Impl>(store, clock, std::move(options), std::move(listener))) {}
LiveFeed::~LiveFeed() = default;

Result<FeedResult> LiveFeed::Add(std::span<const FeedEvent> events) {
  Impl& im = *impl_;
  FeedResult result;
  // Group by symbol, keeping each symbol's events in batch order.
  std::map<std::string, std::vector<size_t>> by_symbol;
  for (size_t i = 0; i < events.size(); ++i) {
    if (Status s = market::ValidateSymbol(events[i].symbol); !s.ok()) {
      ++result.rejected;
      im.NoteError(result, i, s.message(), false);
      continue;
    }
    by_symbol[events[i].symbol].push_back(i);
  }
  Status persist_error;
  for (const auto& [name, indices] : by_symbol) {
    Symbol* sym = im.Get(name, /*create=*/true);
    if (sym == nullptr) {
      for (size_t i : indices) {
        ++result.rejected;
        im.NoteError(result, i, "too many symbols in the live feed", false);
      }
      continue;
    }
    std::lock_guard<std::mutex> lock(sym->mu);
    const size_t closed_before = sym->closed.size();
    const UnixNanos latest_allowed = im.clock.Now() + im.options.max_future_nanos;
    for (size_t i : indices) {
      const FeedEvent& e = events[i];
      Status s;
      UnixNanos t = 0;
      const auto* tick = std::get_if<market::Tick>(&e.payload);
      t = tick ? tick->time : std::get<market::Bar>(e.payload).time();
      if (t > latest_allowed) {
        s = Status::InvalidArgument("event at " + FormatIso8601(t) + " is in the future");
      } else if (tick) {
        s = sym->aggregator->Add(*tick);
      } else {
        s = sym->aggregator->AddM1Bar(std::get<market::Bar>(e.payload));
      }
      if (s.ok()) {
        ++result.accepted;
        sym->last_event = std::max(sym->last_event, t);
      } else if (s.code() == StatusCode::kFailedPrecondition) {
        ++result.late;
        im.NoteError(result, i, s.message(), true);
      } else {
        ++result.rejected;
        im.NoteError(result, i, s.message(), false);
      }
    }
    result.bars_closed += static_cast<int64_t>(sym->closed.size() - closed_before);
    if (Status s = im.Persist(*sym, result); !s.ok() && persist_error.ok()) persist_error = s;
  }
  if (!persist_error.ok()) return persist_error;
  return result;
}

Result<FeedResult> LiveFeed::AdvanceLive() {
  Impl& im = *impl_;
  FeedResult result;
  std::vector<Symbol*> all;
  {
    std::lock_guard<std::mutex> lock(im.mu);
    for (auto& [_, s] : im.symbols) all.push_back(s.get());
  }
  const UnixNanos now = im.clock.Now();
  Status persist_error;
  for (Symbol* sym : all) {
    std::lock_guard<std::mutex> lock(sym->mu);
    const size_t before = sym->closed.size();
    if (sym->last_event != INT64_MIN && now - sym->last_event <= im.options.live_horizon_nanos) {
      sym->aggregator->AdvanceTo(now);
    }
    result.bars_closed += static_cast<int64_t>(sym->closed.size() - before);
    if (Status s = im.Persist(*sym, result); !s.ok() && persist_error.ok()) persist_error = s;
  }
  if (!persist_error.ok()) return persist_error;
  return result;
}

Result<FeedResult> LiveFeed::Flush(const std::string& symbol) {
  Impl& im = *impl_;
  Symbol* sym = im.Get(symbol, /*create=*/false);
  if (sym == nullptr) return Status::NotFound("no live data for symbol " + symbol, "symbol");
  FeedResult result;
  std::lock_guard<std::mutex> lock(sym->mu);
  const size_t before = sym->closed.size();
  sym->aggregator->Flush();
  result.bars_closed = static_cast<int64_t>(sym->closed.size() - before);
  SINYAL_RETURN_IF_ERROR(im.Persist(*sym, result));
  return result;
}

market::AggregatorStats LiveFeed::TotalStats() const {
  market::AggregatorStats total;
  std::vector<Symbol*> all;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    for (auto& [_, s] : impl_->symbols) all.push_back(s.get());
  }
  for (Symbol* sym : all) {
    std::lock_guard<std::mutex> lock(sym->mu);
    const auto& s = sym->aggregator->stats();
    total.accepted += s.accepted;
    total.late += s.late;
    total.invalid += s.invalid;
    total.bars_emitted += s.bars_emitted;
  }
  return total;
}

}  // namespace sinyal::store
