// LiveFeed: operators' live ticks (or replayed M1 bars) -> market::TickAggregator per symbol ->
// closed M1 bars and roll-ups to every timeframe -> BarStore (platform series) -> listener.
//
// Lateness: the aggregator's rule (market/tick_aggregator.h): a tick whose bucket is already
// final is "late" and dropped; bars never change after they close. Closed bars are written with
// OverlapPolicy::kKeepExisting: a bar already stored for that time (e.g. from an imported file)
// wins, and the difference is counted in FeedResult::bars_conflicting, never silently replaced.
//
// Quiet markets: AdvanceLive() (call it from a timer) moves each symbol's watermark to the wall
// clock, closing bars without new ticks, but only for symbols whose latest tick is within
// `live_horizon_nanos` of now, so a historical replay is not closed early by the wall clock.
//
// Persistence failure (database down): the closed bars stay queued for that symbol and are
// written with the next batch or AdvanceLive(); Add returns Unavailable for the batch (its
// ticks were applied to the aggregator and are not to be re-sent).
//
// Thread safety: thread-safe. Batches of one symbol are applied in call order under that
// symbol's mutex; different symbols proceed in parallel.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "market/bar.h"
#include "market/instrument.h"
#include "market/tick_aggregator.h"
#include "store/bar_store.h"

namespace sinyal::store {

// One feed event: a tick, or a complete M1 bar (replay of M1 files).
struct FeedEvent {
  std::string symbol;
  std::variant<market::Tick, market::Bar> payload;
};

struct FeedEventError {
  size_t index = 0;  // position in the batch
  std::string reason;
  bool late = false;
};

struct FeedResult {
  int64_t accepted = 0;
  int64_t late = 0;                    // bucket already closed (dropped)
  int64_t rejected = 0;                // invalid price/volume/symbol (dropped)
  std::vector<FeedEventError> errors;  // first max_reported_errors late/rejected events
  int64_t bars_closed = 0;             // bars closed by this call, all timeframes
  int64_t bars_written = 0;            // of those (and earlier queued ones), inserted
  int64_t bars_conflicting = 0;        // differed from an already stored bar (stored kept)
};

struct LiveFeedOptions {
  market::AggregatorOptions aggregator;        // Default: grace 2 s, bid, all roll-ups.
  int64_t live_horizon_nanos = kNanosPerHour;  // Default 1 h (see AdvanceLive).
  size_t max_symbols = 1000;                   // Default 1000 aggregators.
  size_t max_reported_errors = 20;             // Default 20.
  // Events stamped later than the wall clock plus this are rejected: one bogus future tick
  // would otherwise move the watermark and make every real tick after it late. Default 5 min.
  int64_t max_future_nanos = 5 * kNanosPerMinute;
};

class LiveFeed {
 public:
  // Called after each closed bar is persisted (inserted, not for conflicts), in time order per
  // series. Must not call back into the LiveFeed.
  using BarListener = std::function<void(const market::SeriesKey&, const market::Bar&)>;

  // REQUIRES: store and clock outlive the feed.
  LiveFeed(BarStore& store, Clock& clock, LiveFeedOptions options, BarListener listener = {});
  ~LiveFeed();
  LiveFeed(const LiveFeed&) = delete;
  LiveFeed& operator=(const LiveFeed&) = delete;

  // Applies a batch. Per-event problems are counted, not errors. Errors: Unavailable/Internal
  // when persisting closed bars failed (see the header comment).
  [[nodiscard]] Result<FeedResult> Add(std::span<const FeedEvent> events);

  // Closes bars of live symbols up to the wall clock and persists them.
  [[nodiscard]] Result<FeedResult> AdvanceLive();

  // Closes every open bar of `symbol` (end of a replay) and persists them.
  // NotFound when the symbol has no aggregator.
  [[nodiscard]] Result<FeedResult> Flush(const std::string& symbol);

  // Per-symbol aggregator statistics (accepted/late/invalid/bars_emitted) summed over symbols.
  market::AggregatorStats TotalStats() const;

 private:
  struct Symbol;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sinyal::store
