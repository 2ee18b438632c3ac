#include "market/bar_series.h"

#include "core/time.h"

namespace sinyal::market {

BarSeries::BarSeries(Timeframe timeframe, size_t capacity)
    : timeframe_(timeframe), ring_(capacity < 1 ? 1 : capacity, *Bar::Create(0, 1, 1, 1, 1)) {}

Status BarSeries::Append(const Bar& bar) {
  if (size_ > 0 && bar.time() <= back().time()) {
    return Status::InvalidArgument("bar at " + FormatIso8601(bar.time()) +
                                       " is not after the last bar at " +
                                       FormatIso8601(back().time()),
                                   "time");
  }
  if (check_alignment_ && !IsBucketAligned(timeframe_, bar.time())) {
    return Status::InvalidArgument("bar at " + FormatIso8601(bar.time()) + " is not on the " +
                                       std::string(TimeframeName(timeframe_)) + " bucket grid",
                                   "time");
  }
  if (size_ < ring_.size()) {
    ring_[(head_ + size_) % ring_.size()] = bar;
    ++size_;
  } else {
    ring_[head_] = bar;
    head_ = (head_ + 1) % ring_.size();
  }
  return Status::Ok();
}

Status BarSeries::ReplaceLast(const Bar& bar) {
  if (size_ == 0 || back().time() != bar.time()) {
    return Status::InvalidArgument("ReplaceLast needs a bar with the last bar's time", "time");
  }
  ring_[(head_ + size_ - 1) % ring_.size()] = bar;
  return Status::Ok();
}

std::vector<Bar> BarSeries::Range(UnixNanos from, UnixNanos to, size_t limit) const {
  std::vector<Bar> out;
  // Binary search for the first bar >= from.
  size_t lo = 0, hi = size_;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if ((*this)[mid].time() < from)
      lo = mid + 1;
    else
      hi = mid;
  }
  for (size_t i = lo; i < size_ && (*this)[i].time() < to; ++i) {
    if (limit != 0 && out.size() >= limit) break;
    out.push_back((*this)[i]);
  }
  return out;
}

std::vector<Bar> BarSeries::ToVector() const {
  std::vector<Bar> out;
  out.reserve(size_);
  for (size_t i = 0; i < size_; ++i) out.push_back((*this)[i]);
  return out;
}

bool IsWeekendClosed(UnixNanos t, WeekendRule rule) {
  switch (rule) {
    case WeekendRule::kNone:
      return false;
    case WeekendRule::kSaturdaySunday: {
      int64_t days = t >= 0 ? t / kNanosPerDay : (t - kNanosPerDay + 1) / kNanosPerDay;
      int wd = Weekday(days);
      return wd == 0 || wd == 6;
    }
    case WeekendRule::kFxNewYork: {
      static const TimeZone kNy = *TimeZone::Parse("America/New_York");
      if (NanosToCivil(t).year < 2007) {
        // Before the current US DST rules: approximate with standard time (UTC-5).
        t -= 5 * kNanosPerHour;
      } else {
        t = kNy.UtcToLocal(t);
      }
      int64_t days = t >= 0 ? t / kNanosPerDay : (t - kNanosPerDay + 1) / kNanosPerDay;
      int wd = Weekday(days);
      int64_t tod = t - days * kNanosPerDay;
      if (wd == 6) return true;                       // Saturday
      if (wd == 5) return tod >= 17 * kNanosPerHour;  // Friday from 17:00
      if (wd == 0) return tod < 17 * kNanosPerHour;   // Sunday until 17:00
      return false;
    }
  }
  return false;
}

std::vector<Gap> FindGaps(std::span<const Bar> bars, Timeframe tf, WeekendRule weekend) {
  std::vector<Gap> gaps;
  const int64_t d = TimeframeNanos(tf);
  for (size_t i = 1; i < bars.size(); ++i) {
    UnixNanos prev = BucketFloor(tf, bars[i - 1].time());
    UnixNanos cur = BucketFloor(tf, bars[i].time());
    if (cur - prev <= d) continue;
    int64_t missing = 0;
    UnixNanos first_open = 0;
    for (UnixNanos t = prev + d; t < cur; t += d) {
      // A bucket is open-market if any part of it is; check its start and its last minute.
      bool closed =
          IsWeekendClosed(t, weekend) && IsWeekendClosed(t + d - kNanosPerMinute, weekend);
      if (!closed) {
        if (missing == 0) first_open = t;
        ++missing;
      }
    }
    if (missing > 0) gaps.push_back(Gap{first_open, cur, missing});
  }
  return gaps;
}

}  // namespace sinyal::market
