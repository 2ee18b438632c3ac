// Timeframe: the bar periods Sinyal supports (M1, M5, M15, M30, H1, H4, D1).
//
// Bucketing rule: a bar's time is the UTC open time of its bucket. Buckets are aligned to the
// Unix epoch in UTC, so every bucket of every timeframe starts at a multiple of its duration
// after 1970-01-01T00:00Z; in particular H4 buckets start at 00, 04, ..., 20 UTC and D1 buckets
// at UTC midnight. A caller that wants another day boundary (e.g. the FX "New York close"
// 22:00 UTC) passes `day_offset` to BucketFloor: buckets then start at multiples of the
// duration plus that offset. Imported daily files keep the times their source gives (converted
// to UTC); they are never re-bucketed.
//
// Thread safety: values and pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "core/clock.h"
#include "core/status.h"

namespace sinyal::market {

enum class Timeframe : uint8_t { kM1 = 0, kM5, kM15, kM30, kH1, kH4, kD1 };

inline constexpr std::array<Timeframe, 7> kAllTimeframes = {
    Timeframe::kM1, Timeframe::kM5, Timeframe::kM15, Timeframe::kM30,
    Timeframe::kH1, Timeframe::kH4, Timeframe::kD1};

// Canonical name: "M1", "M5", "M15", "M30", "H1", "H4", "D1".
std::string_view TimeframeName(Timeframe tf);

// Parses (case-insensitive) the canonical names and the duration spellings "1m", "5m", "15m",
// "30m", "60m", "1h", "4h", "240m", "1d", "24h", "1440m", also "1min", "60min", "D", "daily".
// Error: InvalidArgument naming the text and the accepted set, field "timeframe".
[[nodiscard]] Result<Timeframe> ParseTimeframe(std::string_view text);

// Length of one bar in nanoseconds.
constexpr int64_t TimeframeNanos(Timeframe tf) {
  switch (tf) {
    case Timeframe::kM1:
      return kNanosPerMinute;
    case Timeframe::kM5:
      return 5 * kNanosPerMinute;
    case Timeframe::kM15:
      return 15 * kNanosPerMinute;
    case Timeframe::kM30:
      return 30 * kNanosPerMinute;
    case Timeframe::kH1:
      return kNanosPerHour;
    case Timeframe::kH4:
      return 4 * kNanosPerHour;
    case Timeframe::kD1:
      return kNanosPerDay;
  }
  return kNanosPerMinute;
}

// Open time of the bucket containing `t` (floor, also for times before 1970).
// `day_offset` shifts the bucket grid (see the header comment); default 0 = UTC-aligned.
constexpr UnixNanos BucketFloor(Timeframe tf, UnixNanos t, int64_t day_offset = 0) {
  const int64_t d = TimeframeNanos(tf);
  int64_t x = t - day_offset;
  int64_t q = x / d;
  if (x % d < 0) --q;
  return q * d + day_offset;
}

// True when `t` is exactly the open of a bucket.
constexpr bool IsBucketAligned(Timeframe tf, UnixNanos t, int64_t day_offset = 0) {
  return BucketFloor(tf, t, day_offset) == t;
}

}  // namespace sinyal::market
