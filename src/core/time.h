// Civil-time helpers and time-zone rules. All domain timestamps are UnixNanos (UTC).
//
// Time zones: market files carry broker "server time" whose offset follows US or EU daylight
// saving (see ../shared/data/market/README.md). TimeZone covers exactly the rules Sinyal meets:
// UTC, a fixed offset, America/New_York, MetaTrader "NY+7" server time, and EET/EEST with EU
// dates. There is no tz database on purpose: these rules are stable since 2007 (US) and 1996 (EU)
// and tested below; a source older than 2007 in a US-DST zone is rejected, not guessed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/status.h"

namespace sinyal {

struct CivilTime {
  int year = 1970;
  int month = 1;  // 1..12
  int day = 1;    // 1..31
  int hour = 0, minute = 0, second = 0;
  int64_t nanos = 0;  // 0..999'999'999
};

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int year, int month, int day);
// Inverse of DaysFromCivil.
void CivilFromDays(int64_t days, int* year, int* month, int* day);
// 0 = Sunday .. 6 = Saturday.
int Weekday(int64_t days_since_epoch);
bool IsValidCivil(const CivilTime& c);

// Interprets `c` as UTC. REQUIRES: IsValidCivil(c).
UnixNanos CivilToNanos(const CivilTime& c);
CivilTime NanosToCivil(UnixNanos t);

// RFC 3339 / ISO-8601 with 'Z': "2024-03-15T10:30:00Z" (fraction only when non-zero).
std::string FormatIso8601(UnixNanos t);
// Parses "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS[.fff]]" with "Z" or "+HH:MM"/"-HH:MM" (a time
// without an offset is rejected: ambiguous), and integer Unix seconds. Errors name the reason.
Result<UnixNanos> ParseIso8601(std::string_view s);

class TimeZone {
 public:
  enum class Kind { kUtc, kFixed, kNewYork, kNewYorkPlus7, kEuEet };

  // Accepted names (case-insensitive): "UTC", "Z", "+HH:MM", "-HH:MM", "UTC+3", "UTC-05:30",
  // "America/New_York", "NY+7" (alias "MT5-NY7": MetaTrader server time, New York + 7 h),
  // "EET" (alias "Europe/Athens", "Europe/Helsinki", "Europe/Kiev": UTC+2, +3 on EU DST dates).
  static Result<TimeZone> Parse(std::string_view name);
  static TimeZone Utc() { return TimeZone(Kind::kUtc, 0); }
  static TimeZone Fixed(int offset_minutes) { return TimeZone(Kind::kFixed, offset_minutes); }

  Kind kind() const { return kind_; }
  // Canonical name, parseable by Parse().
  std::string Name() const;

  // Offset (local - UTC) in minutes in force at the UTC instant `utc`.
  int OffsetMinutesAt(UnixNanos utc) const;
  // Converts a local wall-clock time (encoded as if it were UTC) to the UTC instant.
  // Wall times in a spring-forward gap or a fall-back overlap resolve to the standard-time
  // reading (FX markets are closed at those hours). Fails for US-DST zones before 2007.
  Result<UnixNanos> LocalToUtc(UnixNanos local_wall) const;
  UnixNanos UtcToLocal(UnixNanos utc) const { return utc + OffsetMinutesAt(utc) * kNanosPerMinute; }

  friend bool operator==(const TimeZone& a, const TimeZone& b) {
    return a.kind_ == b.kind_ && a.fixed_minutes_ == b.fixed_minutes_;
  }

 private:
  TimeZone(Kind k, int minutes) : kind_(k), fixed_minutes_(minutes) {}
  Kind kind_;
  int fixed_minutes_;
};

}  // namespace sinyal
