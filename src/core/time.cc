#include "core/time.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>

namespace sinyal {
namespace {

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Day number of the n-th (1-based) `weekday` of a month; n = -1 means the last one.
int64_t NthWeekday(int year, int month, int weekday, int n) {
  if (n > 0) {
    int64_t first = DaysFromCivil(year, month, 1);
    int delta = (weekday - Weekday(first) + 7) % 7;
    return first + delta + 7 * (n - 1);
  }
  int64_t last = DaysFromCivil(year, month, DaysInMonth(year, month));
  int delta = (Weekday(last) - weekday + 7) % 7;
  return last - delta;
}

// US DST (since 2007): from the second Sunday of March 02:00 local standard time (07:00 UTC)
// to the first Sunday of November 02:00 local daylight time (06:00 UTC).
bool UsDstAtUtc(UnixNanos utc) {
  int y, m, d;
  CivilFromDays(utc >= 0 ? utc / kNanosPerDay : (utc - kNanosPerDay + 1) / kNanosPerDay, &y, &m,
                &d);
  UnixNanos start = NthWeekday(y, 3, 0, 2) * kNanosPerDay + 7 * kNanosPerHour;
  UnixNanos end = NthWeekday(y, 11, 0, 1) * kNanosPerDay + 6 * kNanosPerHour;
  return utc >= start && utc < end;
}

// EU DST: last Sunday of March 01:00 UTC to last Sunday of October 01:00 UTC.
bool EuDstAtUtc(UnixNanos utc) {
  int y, m, d;
  CivilFromDays(utc >= 0 ? utc / kNanosPerDay : (utc - kNanosPerDay + 1) / kNanosPerDay, &y, &m,
                &d);
  UnixNanos start = NthWeekday(y, 3, 0, -1) * kNanosPerDay + 1 * kNanosPerHour;
  UnixNanos end = NthWeekday(y, 10, 0, -1) * kNanosPerDay + 1 * kNanosPerHour;
  return utc >= start && utc < end;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool ParseInt(std::string_view s, int* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// "+HH:MM", "-HH", "+H", "-HHMM" -> minutes.
bool ParseOffset(std::string_view s, int* minutes) {
  if (s.size() < 2 || (s[0] != '+' && s[0] != '-')) return false;
  int sign = s[0] == '-' ? -1 : 1;
  std::string_view rest = s.substr(1);
  int h = 0, m = 0;
  if (auto colon = rest.find(':'); colon != std::string_view::npos) {
    if (!ParseInt(rest.substr(0, colon), &h) || !ParseInt(rest.substr(colon + 1), &m)) return false;
  } else if (rest.size() == 4) {
    if (!ParseInt(rest.substr(0, 2), &h) || !ParseInt(rest.substr(2), &m)) return false;
  } else if (!ParseInt(rest, &h)) {
    return false;
  }
  if (h < 0 || h > 14 || m < 0 || m > 59) return false;
  *minutes = sign * (h * 60 + m);
  return true;
}

}  // namespace

int64_t DaysFromCivil(int y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int* year, int* month, int* day) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  *year = static_cast<int>(y + (m <= 2));
  *month = static_cast<int>(m);
  *day = static_cast<int>(d);
}

int Weekday(int64_t days) {
  return static_cast<int>(days >= -4 ? (days + 4) % 7 : (days + 5) % 7 + 6);
}

bool IsValidCivil(const CivilTime& c) {
  if (c.year < 1900 || c.year > 2200 || c.month < 1 || c.month > 12) return false;
  if (c.day < 1 || c.day > DaysInMonth(c.year, c.month)) return false;
  return c.hour >= 0 && c.hour < 24 && c.minute >= 0 && c.minute < 60 && c.second >= 0 &&
         c.second < 60 && c.nanos >= 0 && c.nanos < kNanosPerSecond;
}

UnixNanos CivilToNanos(const CivilTime& c) {
  return DaysFromCivil(c.year, c.month, c.day) * kNanosPerDay + c.hour * kNanosPerHour +
         c.minute * kNanosPerMinute + c.second * kNanosPerSecond + c.nanos;
}

CivilTime NanosToCivil(UnixNanos t) {
  int64_t days = t >= 0 ? t / kNanosPerDay : (t - kNanosPerDay + 1) / kNanosPerDay;
  int64_t rem = t - days * kNanosPerDay;
  CivilTime c;
  CivilFromDays(days, &c.year, &c.month, &c.day);
  c.hour = static_cast<int>(rem / kNanosPerHour);
  rem %= kNanosPerHour;
  c.minute = static_cast<int>(rem / kNanosPerMinute);
  rem %= kNanosPerMinute;
  c.second = static_cast<int>(rem / kNanosPerSecond);
  c.nanos = rem % kNanosPerSecond;
  return c;
}

std::string FormatIso8601(UnixNanos t) {
  CivilTime c = NanosToCivil(t);
  char buf[48];
  if (c.nanos == 0) {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", c.year, c.month, c.day, c.hour,
                  c.minute, c.second);
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", c.year, c.month, c.day,
                  c.hour, c.minute, c.second, static_cast<long long>(c.nanos));
  }
  return buf;
}

Result<UnixNanos> ParseIso8601(std::string_view s) {
  auto bad = [&](std::string why) {
    return Status::InvalidArgument("invalid timestamp '" + std::string(s.substr(0, 64)) +
                                   "': " + why);
  };
  if (s.empty()) return bad("empty");
  if (std::all_of(s.begin(), s.end(),
                  [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); })) {
    if (s.size() > 12) return bad("Unix seconds out of range");
    int64_t secs = 0;
    std::from_chars(s.data(), s.data() + s.size(), secs);
    return secs * kNanosPerSecond;
  }
  CivilTime c;
  if (s.size() < 10 || s[4] != '-' || s[7] != '-') return bad("expected YYYY-MM-DD");
  if (!ParseInt(s.substr(0, 4), &c.year) || !ParseInt(s.substr(5, 2), &c.month) ||
      !ParseInt(s.substr(8, 2), &c.day))
    return bad("expected YYYY-MM-DD");
  std::string_view rest = s.substr(10);
  int offset_minutes = 0;
  if (!rest.empty()) {
    if (rest[0] != 'T' && rest[0] != 't' && rest[0] != ' ')
      return bad("expected 'T' after the date");
    rest.remove_prefix(1);
    if (rest.size() < 5 || rest[2] != ':') return bad("expected HH:MM");
    if (!ParseInt(rest.substr(0, 2), &c.hour) || !ParseInt(rest.substr(3, 2), &c.minute))
      return bad("expected HH:MM");
    rest.remove_prefix(5);
    if (!rest.empty() && rest[0] == ':') {
      if (rest.size() < 3 || !ParseInt(rest.substr(1, 2), &c.second)) return bad("expected :SS");
      rest.remove_prefix(3);
      if (!rest.empty() && rest[0] == '.') {
        rest.remove_prefix(1);
        size_t n = 0;
        int64_t frac = 0;
        while (n < rest.size() && std::isdigit(static_cast<unsigned char>(rest[n]))) {
          if (n < 9) frac = frac * 10 + (rest[n] - '0');
          ++n;
        }
        if (n == 0) return bad("empty fraction");
        for (size_t k = n; k < 9; ++k) frac *= 10;
        c.nanos = frac;
        rest.remove_prefix(n);
      }
    }
    if (rest == "Z" || rest == "z") {
      offset_minutes = 0;
    } else if (rest.empty()) {
      return bad("missing time-zone designator (use Z or +HH:MM)");
    } else if (!ParseOffset(rest, &offset_minutes)) {
      return bad("bad time-zone offset");
    }
  }
  if (!IsValidCivil(c)) return bad("date or time out of range");
  return CivilToNanos(c) - offset_minutes * kNanosPerMinute;
}

Result<TimeZone> TimeZone::Parse(std::string_view name) {
  std::string n = Lower(name);
  if (n == "utc" || n == "z" || n == "gmt" || n == "etc/utc") return Utc();
  if (n == "america/new_york" || n == "new_york") return TimeZone(Kind::kNewYork, 0);
  if (n == "ny+7" || n == "mt5-ny7" || n == "ny7") return TimeZone(Kind::kNewYorkPlus7, 0);
  if (n == "eet" || n == "europe/athens" || n == "europe/helsinki" || n == "europe/kiev" ||
      n == "europe/kyiv" || n == "eet/eest")
    return TimeZone(Kind::kEuEet, 0);
  std::string_view off = n;
  if (off.rfind("utc", 0) == 0) off.remove_prefix(3);
  int minutes = 0;
  if (ParseOffset(off, &minutes)) return Fixed(minutes);
  return Status::InvalidArgument("unknown time zone '" + std::string(name.substr(0, 64)) +
                                     "' (use UTC, +HH:MM, America/New_York, NY+7 or EET)",
                                 "timezone");
}

std::string TimeZone::Name() const {
  switch (kind_) {
    case Kind::kUtc:
      return "UTC";
    case Kind::kNewYork:
      return "America/New_York";
    case Kind::kNewYorkPlus7:
      return "NY+7";
    case Kind::kEuEet:
      return "EET";
    case Kind::kFixed: {
      char buf[16];
      int m = fixed_minutes_ < 0 ? -fixed_minutes_ : fixed_minutes_;
      std::snprintf(buf, sizeof buf, "%c%02d:%02d", fixed_minutes_ < 0 ? '-' : '+', m / 60, m % 60);
      return buf;
    }
  }
  return "UTC";
}

int TimeZone::OffsetMinutesAt(UnixNanos utc) const {
  switch (kind_) {
    case Kind::kUtc:
      return 0;
    case Kind::kFixed:
      return fixed_minutes_;
    case Kind::kNewYork:
      return UsDstAtUtc(utc) ? -240 : -300;
    case Kind::kNewYorkPlus7:
      return UsDstAtUtc(utc) ? 180 : 120;
    case Kind::kEuEet:
      return EuDstAtUtc(utc) ? 180 : 120;
  }
  return 0;
}

Result<UnixNanos> TimeZone::LocalToUtc(UnixNanos local_wall) const {
  if (kind_ == Kind::kUtc) return local_wall;
  if (kind_ == Kind::kFixed) return local_wall - fixed_minutes_ * kNanosPerMinute;
  if ((kind_ == Kind::kNewYork || kind_ == Kind::kNewYorkPlus7) &&
      NanosToCivil(local_wall).year < 2007)
    return Status::InvalidArgument("US daylight-saving rules before 2007 are not supported",
                                   "timezone");
  // Standard offset first: the standard reading is right outside DST and resolves gaps/overlaps.
  int standard = kind_ == Kind::kNewYork ? -300 : 120;
  UnixNanos utc = local_wall - standard * kNanosPerMinute;
  int offset = OffsetMinutesAt(utc);
  if (offset != standard) {
    UnixNanos dst_utc = local_wall - offset * kNanosPerMinute;
    if (OffsetMinutesAt(dst_utc) == offset) utc = dst_utc;
  }
  return utc;
}

}  // namespace sinyal
