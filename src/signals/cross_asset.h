// Cross-asset context: aligned multi-symbol panels, rolling Pearson/Spearman correlation
// matrices, lead-lag cross-correlation, correlation breaks, the US Dollar Index rebuilt from its
// components, and cross-asset feature columns for a symbol's bars.
//
// Time: every input series must already be in UTC (market/ importers convert each file with its
// own zone: NY+7 for the nobodys-forex pairs and DXY_H1, EET for USDJPY/XAUUSD). Panels are an
// inner join on the bars' UTC open times. A log return is defined between two consecutive panel
// rows only when they are exactly one period apart (same session); a return across a gap (a
// weekend, a holiday, an hour one symbol lacks) is not computed, never interpolated.
//
// Errors name the field: unknown symbol (NotFound, "symbols"), window below
// kMinCorrelationWindow (InvalidArgument, "window"), a bar off the timeframe grid or out of
// order (InvalidArgument, "series.<SYMBOL>"), no or too little overlap (FailedPrecondition,
// "series"), NaN inputs (InvalidArgument naming the series and row).
//
// Thread safety: values and pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <istream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "market/bar.h"
#include "market/timeframe.h"
#include "models/dataset.h"

namespace sinyal::signals {

// The smallest rolling window accepted anywhere below: with fewer returns a correlation's
// standard error (~1/sqrt(n-3)) exceeds 0.24 and the figure is noise.
inline constexpr int kMinCorrelationWindow = 20;

struct SymbolSeries {
  std::string symbol;
  std::vector<market::Bar> bars;  // ascending UTC open times
};

struct AlignedPanel {
  market::Timeframe timeframe = market::Timeframe::kH1;
  std::vector<std::string> symbols;
  std::vector<UnixNanos> times;                 // common UTC open times, ascending
  std::vector<std::vector<double>> close;       // [symbol][row]
  std::vector<std::vector<double>> log_return;  // [symbol][row]; NaN where !return_valid
  std::vector<uint8_t> return_valid;            // row i: times[i] - times[i-1] == one period
  size_t rows() const { return times.size(); }
  // Index of `symbol`; NotFound (field "symbols") naming it and the known ones.
  [[nodiscard]] Result<size_t> Index(std::string_view symbol) const;
};

// Inner join of the series on UTC open time. Errors: fewer than 1 series, duplicate or empty
// symbol names, a series without bars, bars out of order or off the timeframe grid (the
// misaligned-series error names the symbol, the row and the time), fewer than
// kMinCorrelationWindow + 1 common rows (naming the series that shrank the join most).
[[nodiscard]] Result<AlignedPanel> AlignPanel(const std::vector<SymbolSeries>& series,
                                              market::Timeframe timeframe);

enum class CorrelationMethod { kPearson, kSpearman };
std::string_view CorrelationMethodName(CorrelationMethod m);

struct CorrelationMatrix {
  CorrelationMethod method = CorrelationMethod::kPearson;
  std::vector<std::string> symbols;
  int window = 0;                        // returns used
  UnixNanos from_time = 0, to_time = 0;  // first and last row whose return is used
  std::vector<double> values;            // k x k row-major; 1 on the diagonal
  double at(size_t i, size_t j) const { return values[i * symbols.size() + j]; }
};

// The matrix over the last `window` valid returns at or before row `end_row`.
// Errors: window < kMinCorrelationWindow (InvalidArgument "window"), end_row out of range
// ("end_row"), fewer valid returns than `window` up to end_row (FailedPrecondition "window").
[[nodiscard]] Result<CorrelationMatrix> ComputeCorrelationMatrix(const AlignedPanel& panel,
                                                                 size_t end_row, int window,
                                                                 CorrelationMethod method);

// Rolling correlation of two symbols: one value per panel row, computed from the last `window`
// valid returns at or before that row (NaN until there are `window` of them).
[[nodiscard]] Result<std::vector<double>> RollingCorrelation(const AlignedPanel& panel,
                                                             std::string_view a, std::string_view b,
                                                             int window, CorrelationMethod method);

struct LagCorrelation {
  int lag = 0;  // k: corr(r_a[t], r_b[t + k]); k > 0 means a leads b
  double pearson = 0;
  size_t n = 0;  // pairs used (both returns valid and exactly k periods apart)
};
// Lead-lag cross-correlation for k = -max_lag..max_lag over rows [from_row, to_row).
// Errors: max_lag outside [0, 48] ("max_lag"), unknown symbols, a lag with fewer than
// kMinCorrelationWindow pairs (FailedPrecondition "window").
[[nodiscard]] Result<std::vector<LagCorrelation>> LeadLag(const AlignedPanel& panel,
                                                          std::string_view a, std::string_view b,
                                                          int max_lag, size_t from_row = 0,
                                                          size_t to_row = SIZE_MAX);

struct BreakOptions {
  int window = 120;          // rolling window of valid returns. Default 120 (5 H1 days).
  int min_long_run = 600;    // past returns (before the window) needed. Default 600.
  double z_threshold = 3.0;  // |z| above is a break. Default 3.
};
struct CorrelationBreakSeries {
  std::vector<double> rolling;   // per row, NaN until defined
  std::vector<double> long_run;  // Pearson of all valid returns before the window's first one
  std::vector<double> z;         // (atanh(rolling) - atanh(long_run)) * sqrt(window - 3)
  std::vector<uint8_t> flagged;  // |z| > z_threshold
  size_t flagged_rows = 0, defined_rows = 0;
};
// Fisher z-test of the rolling correlation against the long-run correlation known before the
// window (past data only). Errors: window < kMinCorrelationWindow, min_long_run < window.
[[nodiscard]] Result<CorrelationBreakSeries> DetectCorrelationBreaks(
    const AlignedPanel& panel, std::string_view a, std::string_view b,
    const BreakOptions& options = {});

// What GET /api/v1/market/correlations returns (the lead maps it to JSON): both matrices at the
// last row, plus the break z-score of every pair against its long-run correlation.
struct PairBreak {
  std::string a, b;
  double rolling = 0, long_run = 0, z = 0;
  bool flagged = false;
};
struct CorrelationReport {
  std::string timeframe;
  int window = 0;
  UnixNanos as_of = 0;  // open time of the last row
  CorrelationMatrix pearson, spearman;
  std::vector<PairBreak> breaks;  // pairs i < j; omitted when the long run is too short
};
[[nodiscard]] Result<CorrelationReport> BuildCorrelationReport(const AlignedPanel& panel,
                                                               int window,
                                                               double z_threshold = 3.0);

// ---- The US Dollar Index from its components (ICE weights) ----
// DXY = 50.14348112 * EURUSD^-0.576 * USDJPY^0.136 * GBPUSD^-0.119 * USDCAD^0.091
//       * USDSEK^0.042 * USDCHF^0.036
inline constexpr double kDxyConstant = 50.14348112;
struct DxyComponent {
  const char* symbol;
  double weight;
};
inline constexpr std::array<DxyComponent, 6> kDxyComponents = {{{"EURUSD", -0.576},
                                                                {"USDJPY", 0.136},
                                                                {"GBPUSD", -0.119},
                                                                {"USDCAD", 0.091},
                                                                {"USDSEK", 0.042},
                                                                {"USDCHF", 0.036}}};

enum class SekMode {
  // Five components; SEK's factor is dropped, the other weights are NOT renormalised (so the
  // level is about USDSEK^0.042 ~ 1.1x below the index, and returns miss SEK's 4.2% share).
  kDropSek,
  // SEK held at its latest daily value available at the hour (a step function through the day).
  kDailySek,
};
std::string_view SekModeName(SekMode m);

// A daily value with the UTC instant from which it is known (no look-ahead).
struct DailyValue {
  UnixNanos available_from = 0;
  double value = 0;
};

// Parses the ECB reference-rate file (daily/ECB_EUROFXREF_D1.csv: "Date,USD,...,SEK,..." with
// M/D/YYYY dates, newest first, "N/A" gaps) into USD/SEK = SEK per EUR / USD per EUR, ascending.
// The ECB publishes around 16:00 CET; a rate dated D is used from D 15:00 UTC (at or after the
// publication in both winter and summer). Errors name the line and column.
[[nodiscard]] Result<std::vector<DailyValue>> ParseEcbUsdSek(std::istream& in);

// The index at every panel row. The panel must contain the five hourly components.
// kDailySek needs `usdsek` (ascending); rows before its first value are NaN.
// Errors: NotFound (field "symbols") naming a missing component; InvalidArgument ("usdsek")
// when kDailySek gets no values or a non-positive/NaN one.
[[nodiscard]] Result<std::vector<double>> SyntheticDxy(const AlignedPanel& panel, SekMode mode,
                                                       std::span<const DailyValue> usdsek = {});

struct DxyCheck {
  size_t common_rows = 0;          // panel rows with a reference bar at the same UTC time
  size_t return_pairs = 0;         // hourly return pairs (both one period apart) at lag 0
  double corr_lag0 = 0;            // corr(synthetic r_t, reference r_t)
  double corr_ref_lags_1 = 0;      // corr(synthetic r_t, reference r_{t+1h})
  double corr_ref_leads_1 = 0;     // corr(synthetic r_t, reference r_{t-1h})
  double mean_abs_level_diff = 0;  // index points
  double mean_reference_level = 0;
  double return_tracking_error = 0;  // std of (synthetic r - reference r), log units
};
// Compares a synthetic index on the panel's rows with a reference series (e.g. DXY_H1 bars).
// Errors: sizes differ ("synthetic"), fewer than kMinCorrelationWindow return pairs
// (FailedPrecondition "reference").
[[nodiscard]] Result<DxyCheck> CompareWithReference(const AlignedPanel& panel,
                                                    std::span<const double> synthetic,
                                                    std::span<const market::Bar> reference);

// ---- Cross-asset features for a symbol's bars ----
struct CrossAssetFeatureOptions {
  int corr_window = 120;     // Default 120 joint returns. >= kMinCorrelationWindow.
  int min_long_run = 600;    // for the break z. Default 600.
  int return_lag_long = 24;  // bars for the longer reference return. Default 24.
};
// Columns, one row per bar of `bars` (the symbol's own series, ascending UTC):
//   xasset.ref_ret_1     log return of the reference over the last period, if the reference has
//                        a value at this bar's time and at one period before
//   xasset.ref_ret_long  log return of the reference over return_lag_long periods (same rule)
//   xasset.corr_ref      Pearson of the symbol's and the reference's joint one-period returns
//                        over the last corr_window joint returns up to this bar
//   xasset.corr_ref_z    break z of corr_ref against the long-run correlation before the window
// At bar t only reference values with time <= t are read (tested by prefix equality).
// `ref_times`/`ref_values`: e.g. the panel's times and SyntheticDxy, or DXY_H1 bars.
// Errors: sizes differ, non-finite reference value (naming its row), option bounds.
[[nodiscard]] Result<models::FeatureFrame> CrossAssetFeatures(
    std::span<const market::Bar> bars, market::Timeframe timeframe,
    std::span<const UnixNanos> ref_times, std::span<const double> ref_values,
    const CrossAssetFeatureOptions& options = {});

}  // namespace sinyal::signals
