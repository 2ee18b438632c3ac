// Fuzzes the CSV / MetaTrader 5 bar importer (market::ImportBarsCsv, ImportBarsCsvStreaming).
//
// Input: two option bytes, then the file. Byte 0: layout (bits 0-1), has_header (bit 2, inverted),
// bad-row policy (bit 3), date format (bits 4-6), embedded offset (bit 7). Byte 1: source time zone
// (bits 0-2), separator (bits 3-4), timeframe check (bits 5-7). Seeds in corpus/csv_import/ start
// with "\0\0" (auto-detection, header, reject mode, UTC).
//
// Properties: never crashes; an error is InvalidArgument naming a line ("line N"); a success has
// bars in strictly ascending time that satisfy the Bar invariants and counts that agree; the
// streaming importer agrees with the whole-file one.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "market/csv_import.h"

using namespace sinyal;
using namespace sinyal::market;

namespace {

CsvImportOptions OptionsFrom(uint8_t b0, uint8_t b1) {
  CsvImportOptions o;
  static const CsvLayout kLayouts[] = {CsvLayout::kAuto, CsvLayout::kMt5Terminal,
                                       CsvLayout::kMt5Rates, CsvLayout::kGeneric};
  o.layout = kLayouts[b0 & 3];
  o.has_header = (b0 & 4) == 0;
  o.on_bad_row = (b0 & 8) ? BadRowPolicy::kSkipRow : BadRowPolicy::kRejectFile;
  static const DateFormat kFormats[] = {DateFormat::kAuto,        DateFormat::kYmd,
                                        DateFormat::kMdy,         DateFormat::kDmy,
                                        DateFormat::kUnixSeconds, DateFormat::kUnixMillis};
  o.date_format = kFormats[((b0 >> 4) & 7) % 6];
  o.embedded_offset = (b0 & 0x80) ? EmbeddedOffset::kIgnore : EmbeddedOffset::kUse;
  static const char* kZones[] = {"UTC",    "+03:00", "NY+7", "EET", "America/New_York",
                                 "-05:30", "UTC+2",  "Z"};
  o.source_tz = *TimeZone::Parse(kZones[b1 & 7]);
  static const char kSeps[] = {0, ',', '\t', ';'};
  o.separator = kSeps[(b1 >> 3) & 3];
  switch ((b1 >> 5) & 7) {
    case 1:
      o.timeframe = Timeframe::kM1;
      break;
    case 2:
      o.timeframe = Timeframe::kH1;
      break;
    case 3:
      o.timeframe = Timeframe::kD1;
      break;
    default:
      break;
  }
  if (o.layout == CsvLayout::kGeneric) {
    // A mapping of the common names (or, headerless, positions).
    if (o.has_header) {
      o.columns = {.datetime = "",
                   .date = "date",
                   .time = "time",
                   .open = "open",
                   .high = "high",
                   .low = "low",
                   .close = "close",
                   .volume = "tickvol",
                   .real_volume = "",
                   .spread = "spread"};
    } else {
      o.columns = {.datetime = "#1",
                   .date = "",
                   .time = "",
                   .open = "#2",
                   .high = "#3",
                   .low = "#4",
                   .close = "#5",
                   .volume = "#6",
                   .real_volume = "",
                   .spread = ""};
    }
  }
  o.max_reported_errors = 5;
  return o;
}

void CheckBars(const std::vector<Bar>& bars) {
  for (size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    if (i > 0) FUZZ_CHECK(bars[i - 1].time() < b.time(), "bars ascending and unique");
    FUZZ_CHECK(std::isfinite(b.open()) && std::isfinite(b.high()) && std::isfinite(b.low()) &&
                   std::isfinite(b.close()),
               "finite prices");
    FUZZ_CHECK(b.low() > 0 && b.low() <= b.high(), "0 < low <= high");
    FUZZ_CHECK(b.open() <= b.high() && b.close() <= b.high() && b.open() >= b.low() &&
                   b.close() >= b.low(),
               "open/close within [low, high]");
    FUZZ_CHECK(b.volume() >= 0 && b.real_volume() >= 0, "volumes non-negative");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const CsvImportOptions options = OptionsFrom(data[0], data[1]);
  const std::string text(reinterpret_cast<const char*>(data) + 2, size - 2);

  std::istringstream in(text);
  auto result = ImportBarsCsv(in, options);
  if (!result.ok()) {
    FUZZ_CHECK(result.error().code() == StatusCode::kInvalidArgument, "errors are InvalidArgument");
    FUZZ_CHECK(result.error().field().rfind("line ", 0) == 0, "an error names its line");
  } else {
    CheckBars(result->bars);
    FUZZ_CHECK(result->report.bars == static_cast<int64_t>(result->bars.size()), "report.bars");
    FUZZ_CHECK(result->report.data_rows >= result->report.bars + result->report.skipped_rows,
               "rows >= bars + skipped");
    FUZZ_CHECK(options.on_bad_row == BadRowPolicy::kSkipRow || result->report.skipped_rows == 0,
               "reject mode skips nothing");
  }

  // The streaming importer must agree (batches of 3 bars).
  std::istringstream in2(text);
  std::vector<Bar> streamed;
  auto report = ImportBarsCsvStreaming(
      in2, options,
      [&streamed](std::span<const Bar> batch) {
        FUZZ_CHECK(batch.size() <= 3, "batch size");
        streamed.insert(streamed.end(), batch.begin(), batch.end());
        return Status::Ok();
      },
      3);
  FUZZ_CHECK(report.ok() == result.ok(), "streaming and whole-file imports agree on success");
  if (report.ok()) {
    FUZZ_CHECK(streamed == result->bars, "streaming and whole-file imports give the same bars");
    FUZZ_CHECK(report->bars == result->report.bars, "same bar counts");
  } else {
    FUZZ_CHECK(report.error().field() == result.error().field(), "same error line");
  }
  return 0;
}
