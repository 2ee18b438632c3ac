#include "market/tick_aggregator.h"

#include <algorithm>
#include <cmath>

#include "core/time.h"

namespace sinyal::market {

TickAggregator::TickAggregator(AggregatorOptions options, BarSink sink)
    : options_(std::move(options)), sink_(std::move(sink)) {
  if (options_.grace_nanos < 0) options_.grace_nanos = 0;
  for (Timeframe tf : options_.rollups) {
    if (tf != Timeframe::kM1) rollups_.push_back(Rollup{tf, false, {}});
  }
  std::sort(rollups_.begin(), rollups_.end(),
            [](const Rollup& a, const Rollup& b) { return a.tf < b.tf; });
}

Status TickAggregator::Add(const Tick& tick) {
  double price;
  switch (options_.price) {
    case PriceSource::kBid:
      price = tick.bid;
      break;
    case PriceSource::kLast:
      price = tick.last;
      break;
    case PriceSource::kMid:
      price = (tick.bid + tick.ask) * 0.5;
      break;
    default:
      price = tick.bid;
  }
  if (!(price > 0) || !std::isfinite(price) || !std::isfinite(tick.ask) || tick.ask < 0 ||
      (tick.ask != 0 && tick.bid != 0 && tick.ask < tick.bid) || !(tick.volume >= 0) ||
      !std::isfinite(tick.volume)) {
    ++stats_.invalid;
    return Status::InvalidArgument("invalid tick at " + FormatIso8601(tick.time) +
                                       ": price must be finite and > 0, ask >= bid, volume >= 0",
                                   "tick");
  }
  UnixNanos bucket = BucketFloor(Timeframe::kM1, tick.time);
  if (bucket + kNanosPerMinute <= std::max(watermark_, final_until_)) {
    ++stats_.late;
    return Status::FailedPrecondition(
        "late tick at " + FormatIso8601(tick.time) + ": its M1 bar is already final", "tick");
  }
  ++stats_.accepted;
  Apply(tick.time, price, 1.0, tick.volume);
  return Status::Ok();
}

Status TickAggregator::AddM1Bar(const Bar& bar) {
  if (!IsBucketAligned(Timeframe::kM1, bar.time())) {
    return Status::InvalidArgument(
        "M1 bar at " + FormatIso8601(bar.time()) + " is not on the minute grid", "time");
  }
  if (bar.time() + kNanosPerMinute <= std::max(watermark_, final_until_)) {
    ++stats_.late;
    return Status::FailedPrecondition("late bar at " + FormatIso8601(bar.time()), "time");
  }
  // As ticks: open at the start, high and low inside, close at the last nanosecond.
  ++stats_.accepted;
  const UnixNanos t0 = bar.time();
  Apply(t0, bar.open(), 0, 0);
  Apply(t0 + 1, bar.high(), 0, 0);
  Apply(t0 + 2, bar.low(), 0, 0);
  Apply(t0 + kNanosPerMinute - 1, bar.close(), bar.volume(), bar.real_volume());
  return Status::Ok();
}

void TickAggregator::Apply(UnixNanos t, double price, double tick_volume, double real_volume) {
  const UnixNanos bucket = t - ((t % kNanosPerMinute) + kNanosPerMinute) % kNanosPerMinute;
  // Fast path: the newest open bar.
  OpenBar* bar = nullptr;
  if (!open_.empty() && open_.back().bucket == bucket) {
    bar = &open_.back();
  } else if (open_.empty() || open_.back().bucket < bucket) {
    open_.push_back(OpenBar{bucket, t, t, price, price, price, price, 0, 0});
    bar = &open_.back();
  } else {
    auto it = std::lower_bound(open_.begin(), open_.end(), bucket,
                               [](const OpenBar& b, UnixNanos x) { return b.bucket < x; });
    if (it == open_.end() || it->bucket != bucket) {
      it = open_.insert(it, OpenBar{bucket, t, t, price, price, price, price, 0, 0});
    }
    bar = &*it;
  }
  if (price > bar->high) bar->high = price;
  if (price < bar->low) bar->low = price;
  if (t < bar->first_time) {
    bar->first_time = t;
    bar->open = price;
  }
  if (t >= bar->last_time) {
    bar->last_time = t;
    bar->close = price;
  }
  bar->volume += tick_volume;
  bar->real_volume += real_volume;
  if (t > max_time_) {
    max_time_ = t;
    UnixNanos w = t - options_.grace_nanos;
    if (w > watermark_) {
      watermark_ = w;
      if (open_.front().bucket + kNanosPerMinute <= watermark_) CloseUpTo(watermark_);
    }
  }
}

void TickAggregator::EmitM1(const OpenBar& b) {
  auto bar = Bar::Create(b.bucket, b.open, b.high, b.low, b.close, b.volume, 0, b.real_volume);
  if (!bar.ok()) return;  // unreachable: prices were validated on entry
  final_until_ = std::max(final_until_, b.bucket + kNanosPerMinute);
  ++stats_.bars_emitted;
  if (sink_) sink_(Timeframe::kM1, *bar);
  // Roll up.
  for (Rollup& r : rollups_) {
    UnixNanos rb = BucketFloor(r.tf, b.bucket);
    if (r.open && r.builder.time() != rb) {
      auto done = r.builder.Build();
      r.open = false;
      if (done.ok()) {
        ++stats_.bars_emitted;
        if (sink_) sink_(r.tf, *done);
      }
    }
    if (!r.open) {
      r.builder.StartFrom(rb, *bar);
      r.open = true;
    } else {
      r.builder.Merge(*bar);
    }
  }
}

void TickAggregator::CloseUpTo(UnixNanos w) {
  while (!open_.empty() && open_.front().bucket + kNanosPerMinute <= w) {
    OpenBar b = open_.front();
    open_.pop_front();
    EmitM1(b);
  }
  // Roll-ups whose bucket ended.
  for (Rollup& r : rollups_) {
    if (r.open && r.builder.time() + TimeframeNanos(r.tf) <= w) {
      auto done = r.builder.Build();
      r.open = false;
      if (done.ok()) {
        ++stats_.bars_emitted;
        if (sink_) sink_(r.tf, *done);
      }
    }
  }
}

void TickAggregator::AdvanceTo(UnixNanos now) {
  UnixNanos w = now - options_.grace_nanos;
  if (w > watermark_) {
    watermark_ = w;
    CloseUpTo(watermark_);
  }
}

void TickAggregator::Flush() {
  UnixNanos end = final_until_;
  if (!open_.empty()) end = std::max(end, open_.back().bucket + kNanosPerMinute);
  for (const Rollup& r : rollups_) {
    if (r.open) end = std::max(end, r.builder.time() + TimeframeNanos(r.tf));
  }
  CloseUpTo(INT64_MAX);
  final_until_ = end;  // later ticks inside any flushed bucket are late
}

}  // namespace sinyal::market
