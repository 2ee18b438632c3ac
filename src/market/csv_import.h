// CSV bar importers: MetaTrader 5 exports and generic CSV, streamed, validated, converted to UTC.
//
// Layouts (CsvLayout):
//  - kMt5Terminal: the terminal's "Export bars" file: DATE, TIME, OPEN, HIGH, LOW, CLOSE,
//    TICKVOL, VOL, SPREAD (tab or comma, with or without <>, any case); the M1 variants with
//    fewer columns (no VOL/SPREAD); the single DateTime column variant ("DateTime,Open,...,
//    TickVolume,Spread"). Without a header (has_header=false) columns are taken by position.
//  - kMt5Rates: time, open, high, low, close, tick_volume, spread, real_volume (MT5 Python
//    copy_rates layout); time as "YYYY.MM.DD HH:MM[:SS]" or Unix seconds.
//  - kGeneric: any header with a ColumnMapping naming the columns; any column order.
//  - kAuto (default): columns found by name in the header (the synonyms above plus Yahoo's
//    "Date,Close,High,Low,Open,Volume" and "Timestamp"); the resolved layout is reported.
//
// Times: every time in a file is read as a wall-clock reading in `source_tz` (core TimeZone:
// "UTC", "+03:00", "NY+7", "EET", "America/New_York") and converted to UTC, including Unix
// seconds (some brokers write Unix seconds of their server wall clock). A timestamp that carries
// its own offset ("...+00:00", "Z") uses that offset unless embedded_offset = kIgnore (for files
// whose suffix is only a label). Date-only rows are the day at 00:00 in source_tz.
//
// Validation, with the line number and column in every error: empty file, header only, missing,
// duplicated or unknown columns, field count, mixed separators, text in a number, NaN/inf,
// non-positive price, high < low (and the other Bar invariants), negative volume, bad date or
// time, duplicated timestamps, rows out of time order, over-long lines (max_line_bytes, checked
// while reading). A UTF-8 BOM is stripped, CRLF accepted, blank lines ignored.
//
// Policies: kRejectFile (default) returns an error at the first bad row and no bars;
// kSkipRow skips bad rows and lists them (capped at max_reported_errors; counts stay exact).
// File-level problems (empty, header, over-long line, read errors) fail in both modes.
//
// Thread safety: free functions without shared state; safe to call concurrently.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <istream>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "market/bar.h"
#include "market/timeframe.h"

namespace sinyal::market {

enum class CsvLayout { kAuto, kMt5Terminal, kMt5Rates, kGeneric };
std::string_view CsvLayoutName(CsvLayout layout);
[[nodiscard]] Result<CsvLayout> ParseCsvLayout(std::string_view name);  // "auto", "mt5", ...

enum class DateFormat {
  kAuto,         // decided from the first data row: YYYY.MM.DD / YYYY-MM-DD / YYYY/MM/DD,
                 // YYYYMMDD, or Unix seconds (9..11 digits); D/M vs M/D must be explicit.
  kYmd,          // YYYY.MM.DD, YYYY-MM-DD or YYYY/MM/DD
  kMdy,          // M/D/YYYY (US)
  kDmy,          // D/M/YYYY or D.M.YYYY
  kUnixSeconds,  // integer seconds since 1970 (of the source wall clock)
  kUnixMillis,   // integer milliseconds since 1970
};
[[nodiscard]] Result<DateFormat> ParseDateFormat(std::string_view name);  // "auto","ymd",...

enum class BadRowPolicy { kRejectFile, kSkipRow };
enum class EmbeddedOffset { kUse, kIgnore };

// Column names as written in the header, matched case-insensitively ignoring '<', '>', ' ' and
// '_'; or "#N" for the N-th column (1-based), which is how a headerless file is mapped.
// Either `datetime` or both `date` and `time` must be given; open/high/low/close are required.
// An empty optional column means "absent" (value 0).
struct ColumnMapping {
  std::string datetime;
  std::string date;
  std::string time;
  std::string open, high, low, close;
  std::string volume;       // tick volume, or the exchange volume when that is all there is
  std::string real_volume;  // exchange volume
  std::string spread;       // points
};

struct CsvImportOptions {
  CsvLayout layout = CsvLayout::kAuto;   // Default: detect from the header.
  char separator = 0;                    // Default 0: detect (',', '\t' or ';') from line 1.
  bool has_header = true;                // Default true. false: positional (MT5) or "#N".
  TimeZone source_tz = TimeZone::Utc();  // Default UTC.
  DateFormat date_format = DateFormat::kAuto;
  EmbeddedOffset embedded_offset = EmbeddedOffset::kUse;
  ColumnMapping columns;  // Required for kGeneric; overrides for kAuto.
  BadRowPolicy on_bad_row = BadRowPolicy::kRejectFile;
  size_t max_line_bytes = 4096;      // Default 4 KiB; a longer line fails the file.
  size_t max_reported_errors = 100;  // Default 100 (skip mode).
  int64_t max_rows = 20'000'000;     // Default 20M data rows; more fails the file.
  // Default 0 (strict). When > 0, a high below max(open, close) or a low above min(open, close)
  // by at most this fraction of the price is treated as floating-point noise of the source
  // (e.g. Yahoo's adjusted prices, 1-2 ulps off): high/low are widened to max/min(open, close)
  // and the row is counted in report.repaired_rows. Larger violations stay errors. Max 1e-6.
  double ohlc_rounding_tolerance = 0;
  // Default none. When set, every row's time as written (the source's wall clock, before the
  // time-zone conversion) must be the open of a bar of this timeframe: whole minutes for M1,
  // whole hours for H1, 00:00 for D1, ... So "ingest --timeframe H1" of an M1 file fails at
  // its first off-grid row instead of storing M1 bars as H1.
  std::optional<Timeframe> timeframe;
};

struct RowError {
  int64_t line = 0;    // 1-based line number in the file
  std::string column;  // header name of the offending column; empty for row-level errors
  std::string reason;
  std::string ToString() const;  // "line 7, column 'HIGH': high 1.1 is below low 1.2"
};

struct CsvImportReport {
  CsvLayout layout = CsvLayout::kAuto;  // the layout actually used
  char separator = ',';
  int64_t lines = 0;          // lines read, header included
  int64_t data_rows = 0;      // non-blank rows after the header
  int64_t bars = 0;           // bars returned
  int64_t skipped_rows = 0;   // bad rows skipped (skip mode)
  int64_t repaired_rows = 0;  // rows whose high/low were widened (ohlc_rounding_tolerance)
  int64_t first_repaired_line = 0;
  std::vector<RowError> errors;  // first max_reported_errors bad rows
  bool errors_truncated = false;
};

struct CsvImportResult {
  std::vector<Bar> bars;  // ascending, unique times (UTC)
  CsvImportReport report;
};

// Reads bars from `in`. On success the bars are sorted by time without duplicates.
// Errors: InvalidArgument with field "line N" and a message naming line, column and reason.
[[nodiscard]] Result<CsvImportResult> ImportBarsCsv(std::istream& in,
                                                    const CsvImportOptions& options);
// Same, from a file; NotFound when it cannot be opened.
[[nodiscard]] Result<CsvImportResult> ImportBarsCsvFile(const std::filesystem::path& path,
                                                        const CsvImportOptions& options);

// Streaming variant for large files: bars are handed to `on_batch` in ascending batches of up
// to `batch_size` as they are validated, so memory stays O(batch). The returned report counts
// everything. In kRejectFile mode an error can come AFTER some batches were delivered: the caller
// must then discard them (e.g. roll back its transaction) to keep "nothing written". A non-OK
// status from `on_batch` stops the import and is returned.
using BarBatchSink = std::function<Status(std::span<const Bar>)>;
[[nodiscard]] Result<CsvImportReport> ImportBarsCsvStreaming(std::istream& in,
                                                             const CsvImportOptions& options,
                                                             const BarBatchSink& on_batch,
                                                             size_t batch_size = 4096);

// Parses one date(+time) text as the importer does (exposed for tick files and tests).
// Returns the wall-clock nanos; *has_offset/*offset_minutes report an embedded offset.
[[nodiscard]] Result<UnixNanos> ParseWallTime(std::string_view date_text,
                                              std::string_view time_text, DateFormat format,
                                              bool* has_offset, int* offset_minutes);

}  // namespace sinyal::market
