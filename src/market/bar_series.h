// BarSeries: the hot in-memory window of one series (the last `capacity` bars), and gap listing.
//
// Gaps are never forward-filled: the series holds only bars that exist. FindGaps lists the
// buckets that are missing between consecutive bars, leaving out the FX weekend so that an
// ordinary Friday-close-to-Sunday-open is not reported (holidays are reported: they are real
// missing bars and differ per broker).
//
// Thread safety: BarSeries is not synchronized; the owner (store/ cache) guards it. FindGaps is
// a pure function.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "market/bar.h"
#include "market/timeframe.h"

namespace sinyal::market {

class BarSeries {
 public:
  // REQUIRES: capacity >= 1.
  BarSeries(Timeframe timeframe, size_t capacity);

  // Appends a bar. O(1); evicts the oldest bar when full. Errors (InvalidArgument, field
  // "time"): the bar is not later than the last one, or not aligned to the timeframe's bucket
  // grid (UTC-aligned, see timeframe.h) when `check_alignment` is set.
  [[nodiscard]] Status Append(const Bar& bar);
  // Replaces the last bar (same time) - used when a forming bar is amended. InvalidArgument
  // when the series is empty or the time differs.
  [[nodiscard]] Status ReplaceLast(const Bar& bar);

  size_t size() const { return size_; }
  size_t capacity() const { return ring_.size(); }
  bool empty() const { return size_ == 0; }
  Timeframe timeframe() const { return timeframe_; }
  // i-th bar, 0 = oldest held. REQUIRES: i < size().
  const Bar& operator[](size_t i) const { return ring_[(head_ + i) % ring_.size()]; }
  // REQUIRES: !empty().
  const Bar& back() const { return (*this)[size_ - 1]; }
  // Bars with from <= time < to, oldest first, at most `limit` (0 = no limit).
  std::vector<Bar> Range(UnixNanos from, UnixNanos to, size_t limit = 0) const;
  // All held bars, oldest first.
  std::vector<Bar> ToVector() const;
  void set_check_alignment(bool on) { check_alignment_ = on; }

 private:
  Timeframe timeframe_;
  std::vector<Bar> ring_;
  size_t head_ = 0;
  size_t size_ = 0;
  bool check_alignment_ = false;
};

enum class WeekendRule {
  kNone,            // every missing bucket is a gap
  kFxNewYork,       // market closed Friday 17:00 to Sunday 17:00 America/New_York (FX, metals)
  kSaturdaySunday,  // closed on UTC Saturdays and Sundays (daily bars of exchanges)
};

struct Gap {
  UnixNanos from = 0;   // first missing bucket open time
  UnixNanos to = 0;     // bucket after the last missing one (= next present bar's time)
  int64_t missing = 0;  // missing buckets excluding closed-market (weekend) buckets
};

// Lists gaps between consecutive bars of `bars` (ascending). A run of missing buckets that lies
// entirely in the weekend is not a gap; a run that spans a weekend counts only its open-market
// buckets. Bars not on the bucket grid are compared by bucket (BucketFloor).
std::vector<Gap> FindGaps(std::span<const Bar> bars, Timeframe tf,
                          WeekendRule weekend = WeekendRule::kFxNewYork);

// True when the market is closed at UTC instant `t` under `rule`.
bool IsWeekendClosed(UnixNanos t, WeekendRule rule);

}  // namespace sinyal::market
