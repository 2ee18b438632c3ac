// TickAggregator: live ticks -> M1 bars -> every coarser timeframe, for one instrument.
//
// Rule for late and out-of-order ticks (also in docs/market-data.md):
//  - The aggregator keeps a watermark W = (latest tick time seen) - grace. A bar whose bucket
//    ends at or before W is final: it is emitted once through the callback and never changes.
//  - A tick whose M1 bucket is still open (bucket end > W) is applied, whatever order it arrives
//    in: high/low take it, the bar's open is the price of the EARLIEST tick by timestamp and its
//    close the price of the LATEST tick by timestamp (ties: the later arrival wins). So within
//    the grace window the bar does not depend on arrival order.
//  - A tick whose bucket is already final is "late": it is dropped, counted in stats().late,
//    and Add() returns FailedPrecondition so the feed can report it. Bars are never amended
//    after emission.
//  - A minute without ticks has no bar (as in MT5); gaps are never filled.
//  - Coarser bars (M5..D1, UTC-aligned buckets, see timeframe.h) are rolled up from final M1
//    bars and emitted when their bucket end is <= W, after the M1 bar that completes them.
//  - AdvanceTo(now) moves the watermark without a tick (call it from a timer with Clock::Now()
//    so quiet markets still close bars); Flush() finalizes everything (end of a replay).
// Emission order: ascending time per timeframe; for one watermark step M1 first, then M5, ...
// With grace = 0 a bar closes at the first tick of a later minute.
//
// Thread safety: none; one aggregator per instrument, driven by one thread (the feed shard).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <span>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "market/bar.h"
#include "market/timeframe.h"

namespace sinyal::market {

struct Tick {
  UnixNanos time = 0;
  double bid = 0;     // the bar price when PriceSource::kBid (MT5 bars are bid bars)
  double ask = 0;     // 0 = unknown; when given must be >= bid
  double last = 0;    // last trade price; the bar price when PriceSource::kLast
  double volume = 0;  // traded volume (summed into real_volume); each tick also counts 1 tick
};

enum class PriceSource { kBid, kLast, kMid };

struct AggregatorOptions {
  int64_t grace_nanos = 2 * kNanosPerSecond;  // Default 2 s: late ticks within it still count.
  PriceSource price = PriceSource::kBid;      // Default bid (as MT5).
  // Timeframes to roll up to besides M1. Default: all.
  std::vector<Timeframe> rollups = {Timeframe::kM5, Timeframe::kM15, Timeframe::kM30,
                                    Timeframe::kH1, Timeframe::kH4,  Timeframe::kD1};
};

struct AggregatorStats {
  int64_t accepted = 0;
  int64_t late = 0;     // dropped: bucket already final
  int64_t invalid = 0;  // dropped: bad price/volume
  int64_t bars_emitted = 0;
};

class TickAggregator {
 public:
  // Called for every final bar; must not call back into the aggregator.
  using BarSink = std::function<void(Timeframe, const Bar&)>;

  TickAggregator(AggregatorOptions options, BarSink sink);

  // Applies one tick. OK when applied; FailedPrecondition for a late tick; InvalidArgument for
  // a non-finite or non-positive price, ask < bid, or negative volume. Dropped ticks change
  // nothing but the stats.
  [[nodiscard]] Status Add(const Tick& tick);
  // Applies a complete M1 bar (replay of M1 files), with the same lateness rule as ticks: the
  // bar is treated as ticks spanning its minute. REQUIRES: bar.time() on the M1 grid, else
  // InvalidArgument.
  [[nodiscard]] Status AddM1Bar(const Bar& bar);
  // Moves the watermark to `now - grace` (never backwards) and emits what became final.
  void AdvanceTo(UnixNanos now);
  // Emits every open bar (M1 and roll-ups) as final; later ticks for them count as late.
  void Flush();

  const AggregatorStats& stats() const { return stats_; }
  UnixNanos watermark() const { return watermark_; }

 private:
  struct OpenBar {
    UnixNanos bucket;
    UnixNanos first_time, last_time;  // timestamps of the open/close ticks
    double open, high, low, close, volume, real_volume;
  };
  struct Rollup {
    Timeframe tf;
    bool open = false;
    BarBuilder builder;
  };
  void Apply(UnixNanos t, double price, double tick_volume, double real_volume);
  void CloseUpTo(UnixNanos watermark);
  void EmitM1(const OpenBar& b);

  AggregatorOptions options_;
  BarSink sink_;
  std::deque<OpenBar> open_;  // ascending buckets, all with end > watermark_
  std::vector<Rollup> rollups_;
  UnixNanos max_time_ = INT64_MIN;
  UnixNanos watermark_ = INT64_MIN;    // buckets ending at or before this are final
  UnixNanos final_until_ = INT64_MIN;  // end of the latest finalized M1 bucket (Flush)
  AggregatorStats stats_;
};

}  // namespace sinyal::market
