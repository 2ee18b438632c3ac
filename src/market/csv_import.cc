#include "market/csv_import.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "market/line_reader.h"

namespace sinyal::market {
namespace {

constexpr size_t kMaxFields = 256;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ')) s.remove_suffix(1);
  return s;
}

// Header name -> comparable key: lower case without '<', '>', ' ', '_' and quotes.
std::string NormalizeName(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '<' || c == '>' || c == ' ' || c == '_' || c == '"') continue;
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return out;
}

std::string Printable(std::string_view s, size_t max = 40) {
  std::string out;
  for (char c : s.substr(0, max)) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

std::string SepName(char c) {
  if (c == '\t') return "tab";
  return std::string("'") + c + "'";
}

// Splits on `sep`; a field wrapped in double quotes may contain the separator. Returns false
// when there are more than kMaxFields fields.
bool Split(std::string_view line, char sep, std::vector<std::string_view>* out) {
  out->clear();
  size_t i = 0;
  const size_t n = line.size();
  for (;;) {
    if (out->size() >= kMaxFields) return false;
    if (i < n && line[i] == '"') {
      size_t close = line.find('"', i + 1);
      while (close != std::string_view::npos && close + 1 < n && line[close + 1] == '"') {
        close = line.find('"', close + 2);
      }
      if (close == std::string_view::npos) close = n;
      size_t next = line.find(sep, close);
      size_t after = close + 1;
      if (after < n && after != next) {
        // Text after the closing quote: keep the raw field so that parsing it fails visibly.
        out->push_back(line.substr(i, (next == std::string_view::npos ? n : next) - i));
      } else {
        out->push_back(line.substr(i + 1, close - i - 1));
      }
      if (next == std::string_view::npos) return true;
      i = next + 1;
      continue;
    }
    size_t next = line.find(sep, i);
    if (next == std::string_view::npos) {
      out->push_back(Trim(line.substr(i)));
      return true;
    }
    out->push_back(Trim(line.substr(i, next - i)));
    i = next + 1;
  }
}

// Parses a decimal number strictly: the whole field, finite. Returns an empty string on
// success or the reason.
std::string ParseNumber(std::string_view s, double* out) {
  if (s.empty()) return "empty value";
  const char* b = s.data();
  const char* e = b + s.size();
  if (*b == '+') ++b;  // from_chars rejects a leading '+'
  auto [p, ec] = std::from_chars(b, e, *out);
  if (ec == std::errc::result_out_of_range) return "'" + Printable(s) + "' is out of range";
  if (ec != std::errc() || p != e) return "'" + Printable(s) + "' is not a number";
  if (std::isnan(*out)) return "NaN is not allowed";
  if (std::isinf(*out)) return "infinite value '" + Printable(s) + "' is not allowed";
  return {};
}

bool Digits(std::string_view s, size_t min_len, size_t max_len, int* out) {
  if (s.size() < min_len || s.size() > max_len) return false;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Reads up to the first non-digit.
std::string_view TakeDigits(std::string_view* s) {
  size_t n = 0;
  while (n < s->size() && (*s)[n] >= '0' && (*s)[n] <= '9') ++n;
  std::string_view d = s->substr(0, n);
  s->remove_prefix(n);
  return d;
}

// Parses "HH:MM[:SS[.fff]]" from the front of *s.
std::string ParseTimeOfDay(std::string_view* s, CivilTime* c) {
  std::string_view h = TakeDigits(s);
  if (!Digits(h, 1, 2, &c->hour) || s->empty() || s->front() != ':') return "expected HH:MM";
  s->remove_prefix(1);
  if (!Digits(TakeDigits(s), 2, 2, &c->minute)) return "expected HH:MM";
  if (!s->empty() && s->front() == ':') {
    s->remove_prefix(1);
    if (!Digits(TakeDigits(s), 2, 2, &c->second)) return "expected HH:MM:SS";
    if (!s->empty() && s->front() == '.') {
      s->remove_prefix(1);
      std::string_view f = TakeDigits(s);
      if (f.empty() || f.size() > 9) return "bad fraction of a second";
      int64_t frac = 0;
      for (char ch : f) frac = frac * 10 + (ch - '0');
      for (size_t k = f.size(); k < 9; ++k) frac *= 10;
      c->nanos = frac;
    }
  }
  return {};
}

std::string ParseDatePart(std::string_view* s, DateFormat fmt, CivilTime* c) {
  if (fmt == DateFormat::kYmd) {
    std::string_view y = TakeDigits(s);
    if (y.size() == 8 && (s->empty() || s->front() == ' ' || s->front() == 'T')) {  // YYYYMMDD
      Digits(y.substr(0, 4), 4, 4, &c->year);
      Digits(y.substr(4, 2), 2, 2, &c->month);
      Digits(y.substr(6, 2), 2, 2, &c->day);
      return {};
    }
    if (!Digits(y, 4, 4, &c->year) || s->empty()) return "expected YYYY.MM.DD or YYYY-MM-DD";
    char sep = s->front();
    if (sep != '.' && sep != '-' && sep != '/') return "expected YYYY.MM.DD or YYYY-MM-DD";
    s->remove_prefix(1);
    if (!Digits(TakeDigits(s), 1, 2, &c->month) || s->empty() || s->front() != sep)
      return "expected YYYY.MM.DD or YYYY-MM-DD";
    s->remove_prefix(1);
    if (!Digits(TakeDigits(s), 1, 2, &c->day)) return "expected YYYY.MM.DD or YYYY-MM-DD";
    return {};
  }
  // kMdy / kDmy
  int a = 0, b = 0;
  if (!Digits(TakeDigits(s), 1, 2, &a) || s->empty()) return "expected a date like 1/31/2024";
  char sep = s->front();
  if (sep != '/' && sep != '.' && sep != '-') return "expected a date like 1/31/2024";
  s->remove_prefix(1);
  if (!Digits(TakeDigits(s), 1, 2, &b) || s->empty() || s->front() != sep)
    return "expected a date like 1/31/2024";
  s->remove_prefix(1);
  if (!Digits(TakeDigits(s), 4, 4, &c->year)) return "expected a 4-digit year";
  if (fmt == DateFormat::kMdy) {
    c->month = a;
    c->day = b;
  } else {
    c->day = a;
    c->month = b;
  }
  return {};
}

// Decides the date format from a sample date text.
Result<DateFormat> DetectDateFormat(std::string_view s) {
  if (AllDigits(s)) {
    if (s.size() == 8) return DateFormat::kYmd;
    if (s.size() >= 9 && s.size() <= 11) return DateFormat::kUnixSeconds;
    if (s.size() >= 12 && s.size() <= 13) return DateFormat::kUnixMillis;
    return Status::InvalidArgument("cannot tell the date format of '" + Printable(s) + "'");
  }
  std::string_view t = s;
  std::string_view first = TakeDigits(&t);
  if (first.size() == 4 && !t.empty() && (t.front() == '.' || t.front() == '-' || t.front() == '/'))
    return DateFormat::kYmd;
  if (first.size() >= 1 && first.size() <= 2) {
    return Status::InvalidArgument("date '" + Printable(s) +
                                   "' is ambiguous (day/month or month/day): set date_format to "
                                   "MDY or DMY");
  }
  return Status::InvalidArgument("cannot tell the date format of '" + Printable(s) + "'");
}

bool ParseOffsetSuffix(std::string_view s, int* minutes) {
  if (s == "Z" || s == "z") {
    *minutes = 0;
    return true;
  }
  if (s.size() < 3 || (s[0] != '+' && s[0] != '-')) return false;
  int sign = s[0] == '-' ? -1 : 1;
  s.remove_prefix(1);
  int h = 0, m = 0;
  if (s.size() == 5 && s[2] == ':') {
    if (!Digits(s.substr(0, 2), 2, 2, &h) || !Digits(s.substr(3, 2), 2, 2, &m)) return false;
  } else if (s.size() == 4) {
    if (!Digits(s.substr(0, 2), 2, 2, &h) || !Digits(s.substr(2, 2), 2, 2, &m)) return false;
  } else if (!Digits(s, 1, 2, &h)) {
    return false;
  }
  if (h > 14 || m > 59) return false;
  *minutes = sign * (h * 60 + m);
  return true;
}

}  // namespace

Result<UnixNanos> ParseWallTime(std::string_view date_text, std::string_view time_text,
                                DateFormat format, bool* has_offset, int* offset_minutes) {
  *has_offset = false;
  *offset_minutes = 0;
  auto bad = [&](const std::string& why) -> Status {
    std::string shown(Printable(date_text));
    if (!time_text.empty()) shown += " " + Printable(time_text);
    return Status::InvalidArgument("invalid date/time '" + shown + "': " + why);
  };
  if (date_text.empty()) return bad("empty value");
  if (format == DateFormat::kAuto) {
    auto f = DetectDateFormat(date_text.substr(0, date_text.find_first_of(" T")));
    if (!f.ok()) return f.error();
    format = *f;
  }
  if (format == DateFormat::kUnixSeconds || format == DateFormat::kUnixMillis) {
    if (!AllDigits(date_text) || date_text.size() > 15) return bad("expected whole Unix seconds");
    int64_t v = 0;
    std::from_chars(date_text.data(), date_text.data() + date_text.size(), v);
    const int64_t unit = format == DateFormat::kUnixSeconds ? kNanosPerSecond : 1'000'000;
    // Range check before the multiplication: 11 digits of seconds (or 14+ of milliseconds)
    // overflowed int64 nanoseconds, undefined behaviour (found by fuzz/csv_import_fuzz.cc).
    if (v > CivilToNanos(CivilTime{2200, 1, 1}) / unit) return bad("Unix time out of range");
    return v * unit;
  }
  CivilTime c;
  std::string_view s = date_text;
  if (std::string why = ParseDatePart(&s, format, &c); !why.empty()) return bad(why);
  std::string_view time_src;
  if (!time_text.empty()) {
    if (!s.empty()) return bad("unexpected text after the date");
    time_src = time_text;
  } else if (!s.empty()) {
    if (s.front() != ' ' && s.front() != 'T') return bad("unexpected text after the date");
    s.remove_prefix(1);
    time_src = s;
  }
  if (!time_src.empty()) {
    std::string_view t = time_src;
    if (std::string why = ParseTimeOfDay(&t, &c); !why.empty()) return bad(why);
    if (!t.empty()) {
      if (!ParseOffsetSuffix(t, offset_minutes)) return bad("unexpected text after the time");
      *has_offset = true;
    }
  }
  if (!IsValidCivil(c)) return bad("date or time out of range");
  return CivilToNanos(c);
}

std::string_view CsvLayoutName(CsvLayout layout) {
  switch (layout) {
    case CsvLayout::kAuto:
      return "auto";
    case CsvLayout::kMt5Terminal:
      return "mt5";
    case CsvLayout::kMt5Rates:
      return "mt5-rates";
    case CsvLayout::kGeneric:
      return "generic";
  }
  return "auto";
}

Result<CsvLayout> ParseCsvLayout(std::string_view name) {
  std::string n = Lower(name);
  if (n == "auto") return CsvLayout::kAuto;
  if (n == "mt5" || n == "mt5-terminal") return CsvLayout::kMt5Terminal;
  if (n == "mt5-rates" || n == "rates") return CsvLayout::kMt5Rates;
  if (n == "generic") return CsvLayout::kGeneric;
  return Status::InvalidArgument(
      "unknown layout '" + Printable(name) + "' (use auto, mt5, mt5-rates or generic)", "layout");
}

Result<DateFormat> ParseDateFormat(std::string_view name) {
  std::string n = Lower(name);
  if (n == "auto") return DateFormat::kAuto;
  if (n == "ymd" || n == "yyyy.mm.dd" || n == "yyyy-mm-dd" || n == "iso") return DateFormat::kYmd;
  if (n == "mdy" || n == "m/d/yyyy" || n == "mm/dd/yyyy") return DateFormat::kMdy;
  if (n == "dmy" || n == "d/m/yyyy" || n == "dd/mm/yyyy" || n == "dd.mm.yyyy")
    return DateFormat::kDmy;
  if (n == "unix" || n == "unix-seconds" || n == "epoch") return DateFormat::kUnixSeconds;
  if (n == "unix-ms" || n == "unix-millis") return DateFormat::kUnixMillis;
  return Status::InvalidArgument(
      "unknown date format '" + Printable(name) + "' (use auto, ymd, mdy, dmy, unix or unix-ms)",
      "date_format");
}

std::string RowError::ToString() const {
  std::string s = "line " + std::to_string(line);
  if (!column.empty()) s += ", column '" + column + "'";
  return s + ": " + reason;
}

namespace {

enum Col {
  kDateTime,
  kDate,
  kTime,
  kOpen,
  kHigh,
  kLow,
  kClose,
  kVolume,
  kRealVolume,
  kSpread,
  kNumCols
};
constexpr const char* kColNames[kNumCols] = {
    "datetime", "date", "time", "open", "high", "low", "close", "volume", "real_volume", "spread"};

class Importer {
 public:
  Importer(std::istream& in, const CsvImportOptions& opt, const BarBatchSink* sink = nullptr,
           size_t batch = 0)
      : opt_(opt), reader_(in, opt.max_line_bytes), sink_(sink), batch_(batch < 1 ? 1 : batch) {
    idx_.fill(-1);
  }

  Result<CsvImportResult> Run();

 private:
  Status FileError(int64_t line, const std::string& msg) {
    return Status::InvalidArgument("line " + std::to_string(line) + ": " + msg,
                                   "line " + std::to_string(line));
  }
  Status ResolveColumns(const std::vector<std::string>& names, int64_t line, size_t nfields);
  Result<int> FindMapped(const std::string& spec, const std::vector<std::string>& norm,
                         const std::vector<std::string>& names, int64_t line, size_t nfields);
  // Returns false with *err set when the row is bad.
  bool ParseRow(std::string_view line, int64_t line_no, Bar* bar, RowError* err);
  std::string ColName(int col) const {
    int i = idx_[col];
    if (i >= 0 && static_cast<size_t>(i) < header_.size()) return header_[i];
    if (i >= 0) return "#" + std::to_string(i + 1);
    return kColNames[col];
  }

  const CsvImportOptions& opt_;
  LineReader reader_;
  const BarBatchSink* sink_;
  size_t batch_;
  int64_t accepted_ = 0;
  // A headerless layout: the columns in file order (the file may stop early, after the required
  // ones, which the caller checked).
  void Positional(std::initializer_list<Col> order, size_t nfields) {
    int i = 0;
    for (Col c : order) {
      if (static_cast<size_t>(i) >= nfields) break;
      idx_[c] = i++;
    }
  }
  std::array<int, kNumCols> idx_;
  std::vector<std::string> header_;
  size_t nfields_ = 0;
  char sep_ = ',';
  DateFormat date_format_ = DateFormat::kAuto;
  std::vector<std::string_view> fields_;
  UnixNanos last_time_ = 0;
  int64_t last_line_ = 0;
  bool have_last_ = false;
  CsvImportResult result_;
};

Result<int> Importer::FindMapped(const std::string& spec, const std::vector<std::string>& norm,
                                 const std::vector<std::string>& names, int64_t line,
                                 size_t nfields) {
  if (!spec.empty() && spec[0] == '#') {
    int n = 0;
    if (!Digits(std::string_view(spec).substr(1), 1, 3, &n) || n < 1 ||
        static_cast<size_t>(n) > nfields) {
      return FileError(line, "column mapping '" + Printable(spec) + "' is not a column number 1.." +
                                 std::to_string(nfields));
    }
    return n - 1;
  }
  std::string key = NormalizeName(spec);
  for (size_t i = 0; i < norm.size(); ++i) {
    if (norm[i] == key) return static_cast<int>(i);
  }
  std::string have;
  for (size_t i = 0; i < names.size(); ++i) have += (i ? ", " : "") + Printable(names[i], 24);
  return FileError(line,
                   "mapped column '" + Printable(spec) + "' is not in the header (" + have + ")");
}

Status Importer::ResolveColumns(const std::vector<std::string>& names, int64_t line,
                                size_t nfields) {
  if (opt_.has_header && !names.empty() && !names[0].empty() && names[0][0] >= '0' &&
      names[0][0] <= '9') {
    return FileError(line, "the first line '" + Printable(names[0], 24) +
                               ",...' looks like data, not a header: set has_header=false "
                               "and the layout (mt5, mt5-rates or generic with '#N' columns)");
  }
  std::vector<std::string> norm;
  for (const auto& n : names) norm.push_back(NormalizeName(n));
  for (size_t i = 0; i < norm.size(); ++i) {
    if (norm[i].empty()) continue;
    for (size_t j = i + 1; j < norm.size(); ++j) {
      if (norm[i] == norm[j])
        return FileError(line, "duplicate column '" + Printable(names[j]) + "' in the header");
    }
  }
  auto find = [&](std::initializer_list<const char*> keys) -> int {
    for (const char* k : keys) {
      for (size_t i = 0; i < norm.size(); ++i) {
        if (norm[i] == k) return static_cast<int>(i);
      }
    }
    return -1;
  };
  CsvLayout layout = opt_.layout;
  if (!opt_.has_header) {
    // Positional layouts.
    if (layout == CsvLayout::kMt5Terminal) {
      if (nfields < 7) {
        return FileError(line,
                         "a headerless MT5 file needs at least 7 columns "
                         "(date, time, open, high, low, close, tickvol), found " +
                             std::to_string(nfields));
      }
      Positional({kDate, kTime, kOpen, kHigh, kLow, kClose, kVolume, kRealVolume, kSpread},
                 nfields);
    } else if (layout == CsvLayout::kMt5Rates) {
      if (nfields < 6) {
        return FileError(line, "a headerless MT5 rates file needs at least 6 columns, found " +
                                   std::to_string(nfields));
      }
      Positional({kDateTime, kOpen, kHigh, kLow, kClose, kVolume, kSpread, kRealVolume}, nfields);
    } else if (layout != CsvLayout::kGeneric) {
      return FileError(line,
                       "a file without header needs layout mt5, mt5-rates or generic "
                       "with '#N' column numbers");
    }
  } else {
    int date = find({"date", "day"});
    int time = find({"time"});
    int dt = find({"datetime", "timestamp", "gmttime", "localtime"});
    if (dt < 0) {
      if (date >= 0 && time >= 0) {
        idx_[kDate] = date;
        idx_[kTime] = time;
      } else if (time >= 0) {
        dt = time;
      } else if (date >= 0) {
        dt = date;
      }
    }
    idx_[kDateTime] = dt;
    idx_[kOpen] = find({"open", "o"});
    idx_[kHigh] = find({"high", "h"});
    idx_[kLow] = find({"low", "l"});
    idx_[kClose] = find({"close", "c"});
    int tickvol = find({"tickvol", "tickvolume", "ticks"});
    int vol = find({"vol", "volume", "realvolume"});
    if (tickvol >= 0) {
      idx_[kVolume] = tickvol;
      idx_[kRealVolume] = vol;
    } else {
      idx_[kVolume] = vol;
    }
    idx_[kSpread] = find({"spread"});
    if (layout == CsvLayout::kAuto) {
      if (find({"realvolume"}) >= 0 && find({"tickvolume"}) >= 0) {
        layout = CsvLayout::kMt5Rates;
      } else if (tickvol >= 0) {
        layout = CsvLayout::kMt5Terminal;
      } else {
        layout = CsvLayout::kGeneric;
      }
    }
  }
  // Explicit mapping overrides (required for a generic layout).
  const ColumnMapping& m = opt_.columns;
  const std::string* specs[kNumCols] = {&m.datetime,    &m.date,  &m.time,  &m.open,
                                        &m.high,        &m.low,   &m.close, &m.volume,
                                        &m.real_volume, &m.spread};
  bool any_mapping = false;
  for (int c = 0; c < kNumCols; ++c) any_mapping |= !specs[c]->empty();
  if (opt_.layout == CsvLayout::kGeneric && !any_mapping && !opt_.has_header) {
    return FileError(line, "the generic layout needs a column mapping");
  }
  if (any_mapping) {
    if (!m.time.empty() && m.date.empty()) {
      return FileError(line,
                       "column mapping: 'time' needs 'date' (or map a single 'datetime' column)");
    }
    if (!m.datetime.empty() || !m.date.empty()) {
      idx_[kDateTime] = idx_[kDate] = idx_[kTime] = -1;
    }
    for (int c = 0; c < kNumCols; ++c) {
      if (specs[c]->empty()) continue;
      SINYAL_ASSIGN_OR_RETURN(idx_[c], FindMapped(*specs[c], norm, names, line, nfields));
    }
  }
  // Required columns.
  std::string have;
  for (size_t i = 0; i < names.size(); ++i) have += (i ? ", " : "") + Printable(names[i], 24);
  auto missing = [&](const std::string& what) {
    std::string msg = "missing column " + what;
    if (opt_.has_header) msg += " (header: " + have + ")";
    return FileError(line, msg);
  };
  if (idx_[kDateTime] < 0 && (idx_[kDate] < 0 || idx_[kTime] < 0))
    return missing("'time' (or 'date' and 'time', or 'datetime')");
  if (idx_[kOpen] < 0) return missing("'open'");
  if (idx_[kHigh] < 0) return missing("'high'");
  if (idx_[kLow] < 0) return missing("'low'");
  if (idx_[kClose] < 0) {
    return missing("'close'");
  }
  if ((layout == CsvLayout::kMt5Terminal || layout == CsvLayout::kMt5Rates) && idx_[kVolume] < 0)
    return missing("'tickvol'/'tick_volume' (MT5 layouts have one)");
  result_.report.layout = layout;
  return Status::Ok();
}

bool Importer::ParseRow(std::string_view line, int64_t line_no, Bar* bar, RowError* err) {
  err->line = line_no;
  err->column.clear();
  if (!Split(line, sep_, &fields_)) {
    err->reason = "more than " + std::to_string(kMaxFields) + " fields";
    return false;
  }
  if (fields_.size() != nfields_) {
    for (char other : {',', '\t', ';'}) {
      if (other != sep_ && line.find(other) != std::string_view::npos) {
        err->reason =
            "mixed separators: " + SepName(other) + " in a file separated by " + SepName(sep_);
        return false;
      }
    }
    err->reason = "expected " + std::to_string(nfields_) + " fields as on the first line, found " +
                  std::to_string(fields_.size());
    return false;
  }
  // Time.
  std::string_view date_text, time_text;
  int date_col;
  if (idx_[kDateTime] >= 0) {
    date_col = kDateTime;
    date_text = fields_[idx_[kDateTime]];
  } else {
    date_col = kDate;
    date_text = fields_[idx_[kDate]];
    time_text = fields_[idx_[kTime]];
  }
  if (date_format_ == DateFormat::kAuto) {
    auto f = DetectDateFormat(date_text.substr(0, date_text.find_first_of(" T")));
    if (!f.ok()) {
      err->column = ColName(date_col);
      err->reason = f.error().message();
      return false;
    }
    date_format_ = *f;
  }
  bool has_offset = false;
  int offset = 0;
  auto wall = ParseWallTime(date_text, time_text, date_format_, &has_offset, &offset);
  if (!wall.ok()) {
    err->column = ColName(date_col);
    err->reason = wall.error().message();
    return false;
  }
  if (opt_.timeframe && !IsBucketAligned(*opt_.timeframe, *wall)) {
    err->column = ColName(date_col);
    std::string shown = FormatIso8601(*wall);
    shown.pop_back();  // no 'Z': this is the source's wall clock
    const std::string_view tf = TimeframeName(*opt_.timeframe);
    err->reason = "time " + shown + " is not the open of " + (tf[0] == 'D' ? "a " : "an ") +
                  std::string(tf) + " bar";
    return false;
  }
  UnixNanos utc;
  if (has_offset && opt_.embedded_offset == EmbeddedOffset::kUse) {
    utc = *wall - offset * kNanosPerMinute;
  } else {
    auto u = opt_.source_tz.LocalToUtc(*wall);
    if (!u.ok()) {
      err->column = ColName(date_col);
      err->reason = u.error().message();
      return false;
    }
    utc = *u;
  }
  // Numbers.
  double v[kNumCols] = {0};
  for (int c = kOpen; c < kNumCols; ++c) {
    if (idx_[c] < 0) continue;
    std::string why = ParseNumber(fields_[idx_[c]], &v[c]);
    if (!why.empty()) {
      err->column = ColName(c);
      err->reason = why;
      return false;
    }
  }
  double spread = v[kSpread];
  if (spread < 0 || spread != std::floor(spread) || spread > 2147483647.0) {
    err->column = ColName(kSpread);
    err->reason = "spread must be a whole number of points >= 0";
    return false;
  }
  if (opt_.ohlc_rounding_tolerance > 0) {
    const double hi = std::max(v[kOpen], v[kClose]);
    const double lo = std::min(v[kOpen], v[kClose]);
    const double tol = opt_.ohlc_rounding_tolerance;
    bool fixed = false;
    if (v[kHigh] < hi && hi - v[kHigh] <= tol * hi) {
      v[kHigh] = hi;
      fixed = true;
    }
    if (v[kLow] > lo && v[kLow] - lo <= tol * lo) {
      v[kLow] = lo;
      fixed = true;
    }
    if (fixed) {
      ++result_.report.repaired_rows;
      if (result_.report.first_repaired_line == 0) result_.report.first_repaired_line = line_no;
    }
  }
  auto b = Bar::Create(utc, v[kOpen], v[kHigh], v[kLow], v[kClose], v[kVolume],
                       static_cast<int32_t>(spread), v[kRealVolume]);
  if (!b.ok()) {
    const std::string& f = b.error().field();
    int col = f == "open"          ? kOpen
              : f == "high"        ? kHigh
              : f == "low"         ? kLow
              : f == "close"       ? kClose
              : f == "volume"      ? kVolume
              : f == "real_volume" ? kRealVolume
                                   : kSpread;
    err->column = ColName(col);
    err->reason = b.error().message();
    return false;
  }
  // Order.
  if (have_last_ && utc <= last_time_) {
    err->column = ColName(date_col);
    if (utc == last_time_) {
      err->reason = "duplicate timestamp " + FormatIso8601(utc) + " (same as line " +
                    std::to_string(last_line_) + ")";
    } else {
      err->reason = "rows out of time order: " + FormatIso8601(utc) + " is before " +
                    FormatIso8601(last_time_) + " on line " + std::to_string(last_line_);
    }
    return false;
  }
  *bar = *b;
  return true;
}

Result<CsvImportResult> Importer::Run() {
  if (opt_.max_line_bytes < 16 || opt_.max_line_bytes > (16u << 20)) {
    return Status::InvalidArgument("max_line_bytes must be within 16 B .. 16 MiB",
                                   "max_line_bytes");
  }
  if (!(opt_.ohlc_rounding_tolerance >= 0) || opt_.ohlc_rounding_tolerance > 1e-6) {
    return Status::InvalidArgument("ohlc_rounding_tolerance must be within 0 .. 1e-6",
                                   "ohlc_rounding_tolerance");
  }
  CsvImportReport& rep = result_.report;
  std::string_view line;
  // First non-blank line.
  bool first = true;
  for (;;) {
    if (!reader_.Next(&line)) {
      if (!reader_.status().ok()) return reader_.status();
      return Status::InvalidArgument("empty file: no header and no rows", "line 1");
    }
    if (first && line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);
    first = false;
    if (!Trim(line).empty()) break;
  }
  int64_t first_line_no = reader_.line_number();
  // Separator.
  if (opt_.separator != 0) {
    sep_ = opt_.separator;
  } else {
    int kinds = 0;
    char found = 0;
    std::string seen;
    for (char c : {',', '\t', ';'}) {
      if (line.find(c) != std::string_view::npos) {
        ++kinds;
        if (!found) found = c;
        seen += (seen.empty() ? "" : " and ") + SepName(c);
      }
    }
    if (kinds > 1) return FileError(first_line_no, "mixed separators: " + seen + " on one line");
    if (kinds == 0) {
      return FileError(first_line_no,
                       "no column separator (',', tab or ';') found in '" + Printable(line) + "'");
    }
    sep_ = found;
  }
  rep.separator = sep_;
  if (!Split(line, sep_, &fields_)) return FileError(first_line_no, "too many columns");
  nfields_ = fields_.size();
  std::vector<std::string> names;
  if (opt_.has_header) {
    for (auto f : fields_) names.emplace_back(f);
    header_ = names;
  }
  SINYAL_RETURN_IF_ERROR(ResolveColumns(names, first_line_no, nfields_));
  date_format_ = opt_.date_format;

  RowError err;
  Bar bar = *Bar::Create(0, 1, 1, 1, 1);
  auto handle = [&](std::string_view row, int64_t line_no) -> Status {
    ++rep.data_rows;
    if (rep.data_rows > opt_.max_rows) {
      return FileError(line_no, "more than max_rows = " + std::to_string(opt_.max_rows) + " rows");
    }
    if (ParseRow(row, line_no, &bar, &err)) {
      result_.bars.push_back(bar);
      ++accepted_;
      last_time_ = bar.time();
      last_line_ = line_no;
      have_last_ = true;
      if (sink_ != nullptr && result_.bars.size() >= batch_) {
        Status s = (*sink_)(result_.bars);
        result_.bars.clear();
        return s;
      }
      return Status::Ok();
    }
    if (opt_.on_bad_row == BadRowPolicy::kRejectFile) {
      return Status::InvalidArgument(err.ToString(), "line " + std::to_string(line_no));
    }
    ++rep.skipped_rows;
    if (rep.errors.size() < opt_.max_reported_errors) {
      rep.errors.push_back(err);
    } else {
      rep.errors_truncated = true;
    }
    return Status::Ok();
  };
  if (!opt_.has_header) SINYAL_RETURN_IF_ERROR(handle(line, first_line_no));
  while (reader_.Next(&line)) {
    if (Trim(line).empty()) continue;
    SINYAL_RETURN_IF_ERROR(handle(line, reader_.line_number()));
  }
  if (!reader_.status().ok()) return reader_.status();
  rep.lines = reader_.line_number();
  if (rep.data_rows == 0) {
    return Status::InvalidArgument(
        "header only: no data rows after line " + std::to_string(first_line_no),
        "line " + std::to_string(first_line_no + 1));
  }
  if (accepted_ == 0) {
    return Status::InvalidArgument(
        "no valid rows: all " + std::to_string(rep.data_rows) +
            " data rows were rejected; first: " +
            (rep.errors.empty() ? "" : rep.errors[0].ToString()),
        "line " + std::to_string(rep.errors.empty() ? 0 : rep.errors[0].line));
  }
  rep.bars = accepted_;
  if (sink_ != nullptr && !result_.bars.empty()) {
    SINYAL_RETURN_IF_ERROR((*sink_)(result_.bars));
    result_.bars.clear();
  }
  return std::move(result_);
}

}  // namespace

Result<CsvImportResult> ImportBarsCsv(std::istream& in, const CsvImportOptions& options) {
  Importer imp(in, options);
  return imp.Run();
}

Result<CsvImportReport> ImportBarsCsvStreaming(std::istream& in, const CsvImportOptions& options,
                                               const BarBatchSink& on_batch, size_t batch_size) {
  Importer imp(in, options, &on_batch, batch_size);
  SINYAL_ASSIGN_OR_RETURN(CsvImportResult r, imp.Run());
  return std::move(r.report);
}

Result<CsvImportResult> ImportBarsCsvFile(const std::filesystem::path& path,
                                          const CsvImportOptions& options) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::NotFound("cannot open '" + path.string() + "'", "path");
  return ImportBarsCsv(f, options);
}

}  // namespace sinyal::market
