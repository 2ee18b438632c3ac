// Streaming technical indicators that reproduce TA-Lib (C 0.6.x, as built by npm talib 1.1.6)
// exactly: same definitions, same seeding, same lookback (unstable period 0), and the same
// floating-point operation order, so values are equal to TA-Lib's, not just close (the golden
// tests allow a relative 1e-9 and in practice see 0). See docs/indicators.md for each formula.
//
// Every indicator:
//   - is built by a static Create(params) that validates the parameters against TA-Lib's bounds
//     (InvalidArgument naming the parameter); there are no throwing constructors;
//   - takes bars with Update(const market::Bar&) (close-only ones also UpdateRaw(double));
//   - exposes Value() (the main output; extra outputs by name), Initialized() (true once the
//     value is an output TA-Lib would give, i.e. after Lookback()+1 inputs) and Reset();
//   - has a batch form XxxBatch(...) over whole columns returning vectors of the input's length,
//     padded with NaN before the lookback. The batch form runs the same streaming code, so
//     streaming and batch results are identical bit for bit (and tested).
// NaN inputs propagate as in TA-Lib; validated Bars never contain them.
//
// Thread safety: an indicator object is not synchronized; use one per thread/series.
#pragma once

#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "core/status.h"
#include "market/bar.h"

namespace sinyal::features {

using market::Bar;

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The narrow concept every bar-driven indicator satisfies.
template <typename T>
concept BarIndicator = requires(T t, const T ct, const Bar& b) {
  t.Update(b);
  { ct.Value() } -> std::convertible_to<double>;
  { ct.Initialized() } -> std::same_as<bool>;
  { ct.Lookback() } -> std::convertible_to<int>;
  t.Reset();
};

// Columns of a bar series, for the batch functions.
struct Columns {
  std::vector<double> open, high, low, close, volume;
  static Columns FromBars(std::span<const Bar> bars);
  size_t size() const { return close.size(); }
};

// Simple moving average. period 2..100000 (TA-Lib). Lookback period-1.
class Sma {
 public:
  [[nodiscard]] static Result<Sma> Create(int period);
  void UpdateRaw(double x);
  void Update(const Bar& b) { UpdateRaw(b.close()); }
  double Value() const { return value_; }
  bool Initialized() const { return n_ >= period_; }
  int Lookback() const { return period_ - 1; }
  void Reset();

 private:
  friend class Bbands;
  friend class Stoch;
  explicit Sma(int period) : period_(period), ring_(period, 0.0) {}
  int period_;
  std::vector<double> ring_;
  int idx_ = 0;
  int64_t n_ = 0;
  double total_ = 0, value_ = kNaN;
};

// Exponential moving average, k = 2/(period+1), seeded with the SMA of the first `period`
// inputs. period 2..100000. Lookback period-1.
class Ema {
 public:
  [[nodiscard]] static Result<Ema> Create(int period);
  void UpdateRaw(double x);
  void Update(const Bar& b) { UpdateRaw(b.close()); }
  double Value() const { return value_; }
  bool Initialized() const { return n_ >= period_; }
  int Lookback() const { return period_ - 1; }
  void Reset();

 private:
  explicit Ema(int period) : period_(period), k_(2.0 / static_cast<double>(period + 1)) {}
  int period_;
  double k_;
  int64_t n_ = 0;
  double sum_ = 0, value_ = kNaN;
};

// Wilder's RSI: averages seeded with simple means of the first `period` changes, then Wilder
// smoothing; 0 when gains + losses are (near) zero, as TA-Lib. period 2..100000. Lookback period.
class Rsi {
 public:
  [[nodiscard]] static Result<Rsi> Create(int period);
  void UpdateRaw(double x);
  void Update(const Bar& b) { UpdateRaw(b.close()); }
  double Value() const { return value_; }
  bool Initialized() const { return n_ > period_; }
  int Lookback() const { return period_; }
  void Reset();

 private:
  explicit Rsi(int period) : period_(period) {}
  int period_;
  int64_t n_ = 0;
  double prev_ = 0, gain_ = 0, loss_ = 0, value_ = kNaN;
};

// MACD with TA-Lib's seeding: the fast and slow EMAs are seeded with SMAs whose windows end on
// the same bar (slow-1); the signal EMA is seeded with the SMA of the first `signal` MACD
// values. fast, slow 2..100000 (swapped if slow < fast), signal 2..100000 (TA-Lib accepts 1 but
// then reads outside its buffer; see indicators.cc).
// Lookback (slow-1)+(signal-1).
class Macd {
 public:
  [[nodiscard]] static Result<Macd> Create(int fast, int slow, int signal);
  void UpdateRaw(double x);
  void Update(const Bar& b) { UpdateRaw(b.close()); }
  double Value() const { return macd_; }  // MACD line
  double signal() const { return signal_; }
  double hist() const { return hist_; }
  bool Initialized() const { return sig_n_ >= signal_period_; }
  int Lookback() const { return slow_ - 1 + signal_period_ - 1; }
  void Reset();

 private:
  Macd(int fast, int slow, int signal);
  int fast_, slow_, signal_period_;
  double k_fast_, k_slow_, k_signal_;
  std::vector<double> ring_;  // last `fast` inputs before the seed
  int64_t n_ = 0;
  int64_t sig_n_ = 0;
  double slow_sum_ = 0, fast_ema_ = 0, slow_ema_ = 0, sig_sum_ = 0;
  double macd_ = kNaN, signal_ = kNaN, hist_ = kNaN;
};

// Bollinger Bands over an SMA with the population standard deviation computed as TA-Lib does
// (sqrt(mean(x^2) - mean(x)^2), 0 when that is below 1e-14). period 2..100000; nbdev any
// finite number. Lookback period-1.
class Bbands {
 public:
  [[nodiscard]] static Result<Bbands> Create(int period, double nbdev_up, double nbdev_dn);
  void UpdateRaw(double x);
  void Update(const Bar& b) { UpdateRaw(b.close()); }
  double Value() const { return sma_.value_; }  // middle band
  double upper() const { return upper_; }
  double middle() const { return sma_.value_; }
  double lower() const { return lower_; }
  double stddev() const { return sd_; }
  bool Initialized() const { return sma_.Initialized(); }
  int Lookback() const { return sma_.Lookback(); }
  void Reset();

 private:
  Bbands(int period, double up, double dn) : sma_(period), up_(up), dn_(dn) {}
  Sma sma_;
  double up_, dn_;
  double total2_ = 0, upper_ = kNaN, lower_ = kNaN, sd_ = kNaN;
};

// Average true range: seeded with the SMA of the first `period` true ranges (bars 1..period),
// then Wilder smoothing. period 1..100000 (1 = true range). Lookback period.
class Atr {
 public:
  [[nodiscard]] static Result<Atr> Create(int period);
  void Update(const Bar& b) { UpdateHlc(b.high(), b.low(), b.close()); }
  void UpdateHlc(double high, double low, double close);
  double Value() const { return value_; }
  bool Initialized() const { return n_ > period_; }
  int Lookback() const { return period_; }
  void Reset();
  // The running state, so a long-lived stream (a paper account) can be saved and continued
  // exactly: Restore(period, state()) then Update(...) equals Update(...) on the original.
  struct State {
    int64_t n = 0;
    double prev_close = 0, sum = 0, value = kNaN;
  };
  State state() const { return {n_, prev_close_, sum_, value_}; }
  // InvalidArgument as Create, or ("state") for a negative count.
  [[nodiscard]] static Result<Atr> Restore(int period, const State& state);

 private:
  explicit Atr(int period) : period_(period) {}
  int period_;
  int64_t n_ = 0;
  double prev_close_ = 0, sum_ = 0, value_ = kNaN;
};

// ADX with +DI and -DI (Wilder, no rounding), TA-Lib's ADX/PLUS_DI/MINUS_DI. period 2..100000.
// Lookback: ADX 2*period-1; +DI/-DI period (DiInitialized()).
class Adx {
 public:
  [[nodiscard]] static Result<Adx> Create(int period);
  void Update(const Bar& b) { UpdateHlc(b.high(), b.low(), b.close()); }
  void UpdateHlc(double high, double low, double close);
  double Value() const { return adx_; }
  double plus_di() const { return plus_di_; }
  double minus_di() const { return minus_di_; }
  bool Initialized() const { return n_ >= 2 * period_; }
  bool DiInitialized() const { return n_ > period_; }
  int Lookback() const { return 2 * period_ - 1; }
  int DiLookback() const { return period_; }
  void Reset();

 private:
  explicit Adx(int period) : period_(period) {}
  int period_;
  int64_t n_ = 0;
  double prev_high_ = 0, prev_low_ = 0, prev_close_ = 0;
  double plus_dm_ = 0, minus_dm_ = 0, tr_ = 0, sum_dx_ = 0;
  double adx_ = kNaN, plus_di_ = kNaN, minus_di_ = kNaN;
};

// The highest high and lowest low of the last `period` bars, tracked as TA_STOCH and TA_WILLR
// do (an extreme is rescanned only when it leaves the window, so ties keep the newest bar). Used
// by Stoch and Willr.
class RollingHighLow {
 public:
  explicit RollingHighLow(int period) : period_(period), highs_(period), lows_(period) {}
  // Adds a bar; true once `period` bars have been seen (the extremes are then valid).
  bool Update(double high, double low);
  bool Full() const { return n_ >= period_; }
  double highest() const { return highest_; }
  double lowest() const { return lowest_; }
  void Reset();

 private:
  int period_;
  std::vector<double> highs_, lows_;
  int64_t n_ = 0;
  int64_t lowest_idx_ = -1, highest_idx_ = -1;
  double lowest_ = 0, highest_ = 0;
};

// Stochastic (slow %K / %D with SMA smoothing, TA-Lib STOCH with MA type SMA).
// fastk 1..100000, slowk 1..100000, slowd 1..100000. Lookback fastk-1 + slowk-1 + slowd-1.
class Stoch {
 public:
  [[nodiscard]] static Result<Stoch> Create(int fastk, int slowk, int slowd);
  void Update(const Bar& b) { UpdateHlc(b.high(), b.low(), b.close()); }
  void UpdateHlc(double high, double low, double close);
  double Value() const { return slowk_; }
  double slowk() const { return slowk_; }
  double slowd() const { return slowd_; }
  bool Initialized() const { return slowd_sma_.Initialized(); }
  int Lookback() const { return fastk_ - 1 + slowk_sma_.Lookback() + slowd_sma_.Lookback(); }
  void Reset();

 private:
  Stoch(int fastk, int slowk, int slowd);
  int fastk_;
  RollingHighLow window_;
  Sma slowk_sma_, slowd_sma_;
  double slowk_ = kNaN, slowd_ = kNaN;
};

// Commodity channel index with the mean absolute deviation, constant 0.015. period 2..100000.
// Lookback period-1.
class Cci {
 public:
  [[nodiscard]] static Result<Cci> Create(int period);
  void Update(const Bar& b) { UpdateHlc(b.high(), b.low(), b.close()); }
  void UpdateHlc(double high, double low, double close);
  double Value() const { return value_; }
  bool Initialized() const { return n_ >= period_; }
  int Lookback() const { return period_ - 1; }
  void Reset();

 private:
  explicit Cci(int period) : period_(period), ring_(period, 0.0) {}
  int period_;
  std::vector<double> ring_;
  int idx_ = 0;
  int64_t n_ = 0;
  double value_ = kNaN;
};

// Williams %R in [-100, 0]. period 2..100000. Lookback period-1.
class Willr {
 public:
  [[nodiscard]] static Result<Willr> Create(int period);
  void Update(const Bar& b) { UpdateHlc(b.high(), b.low(), b.close()); }
  void UpdateHlc(double high, double low, double close);
  double Value() const { return value_; }
  bool Initialized() const { return window_.Full(); }
  int Lookback() const { return period_ - 1; }
  void Reset();

 private:
  explicit Willr(int period) : period_(period), window_(period) {}
  int period_;
  RollingHighLow window_;
  double value_ = kNaN;
};

// Rate of change, ((x / x[-period]) - 1) * 100; 0 when x[-period] is 0. period 1..100000.
// Lookback period.
class Roc {
 public:
  [[nodiscard]] static Result<Roc> Create(int period);
  void UpdateRaw(double x);
  void Update(const Bar& b) { UpdateRaw(b.close()); }
  double Value() const { return value_; }
  bool Initialized() const { return n_ > period_; }
  int Lookback() const { return period_; }
  void Reset();

 private:
  explicit Roc(int period) : period_(period), ring_(period + 1, 0.0) {}
  int period_;
  std::vector<double> ring_;
  int64_t n_ = 0;
  double value_ = kNaN;
};

// On-balance volume; starts at the first bar's volume (TA-Lib). Lookback 0.
class Obv {
 public:
  static Result<Obv> Create() { return Obv(); }
  void UpdateRaw(double close, double volume);
  void Update(const Bar& b) { UpdateRaw(b.close(), b.volume()); }
  double Value() const { return value_; }
  bool Initialized() const { return n_ > 0; }
  int Lookback() const { return 0; }
  void Reset();

 private:
  Obv() = default;
  int64_t n_ = 0;
  double prev_ = 0, value_ = kNaN;
};

// Money flow index on the typical price (h+l+c)/3; an unchanged typical price adds to neither
// flow; 0 when total flow < 1 (TA-Lib). period 2..100000. Lookback period.
class Mfi {
 public:
  [[nodiscard]] static Result<Mfi> Create(int period);
  void Update(const Bar& b) { UpdateHlcv(b.high(), b.low(), b.close(), b.volume()); }
  void UpdateHlcv(double high, double low, double close, double volume);
  double Value() const { return value_; }
  bool Initialized() const { return n_ > period_; }
  int Lookback() const { return period_; }
  void Reset();

 private:
  explicit Mfi(int period) : period_(period), pos_(period, 0.0), neg_(period, 0.0) {}
  int period_;
  std::vector<double> pos_, neg_;
  int idx_ = 0;
  int64_t n_ = 0;
  double prev_tp_ = 0, pos_sum_ = 0, neg_sum_ = 0, value_ = kNaN;
};

// ---- Batch forms: vectors of the input length, NaN before the lookback. ----
struct MacdSeries {
  std::vector<double> macd, signal, hist;
};
struct BbandsSeries {
  std::vector<double> upper, middle, lower;
};
struct AdxSeries {
  std::vector<double> adx, plus_di, minus_di;
};
struct StochSeries {
  std::vector<double> slowk, slowd;
};

[[nodiscard]] Result<std::vector<double>> SmaBatch(std::span<const double> x, int period);
[[nodiscard]] Result<std::vector<double>> EmaBatch(std::span<const double> x, int period);
[[nodiscard]] Result<std::vector<double>> RsiBatch(std::span<const double> x, int period);
[[nodiscard]] Result<MacdSeries> MacdBatch(std::span<const double> x, int fast, int slow,
                                           int signal);
[[nodiscard]] Result<BbandsSeries> BbandsBatch(std::span<const double> x, int period,
                                               double nbdev_up, double nbdev_dn);
[[nodiscard]] Result<std::vector<double>> AtrBatch(const Columns& c, int period);
[[nodiscard]] Result<AdxSeries> AdxBatch(const Columns& c, int period);
[[nodiscard]] Result<StochSeries> StochBatch(const Columns& c, int fastk, int slowk, int slowd);
[[nodiscard]] Result<std::vector<double>> CciBatch(const Columns& c, int period);
[[nodiscard]] Result<std::vector<double>> WillrBatch(const Columns& c, int period);
[[nodiscard]] Result<std::vector<double>> RocBatch(std::span<const double> x, int period);
[[nodiscard]] Result<std::vector<double>> ObvBatch(const Columns& c);
[[nodiscard]] Result<std::vector<double>> MfiBatch(const Columns& c, int period);

}  // namespace sinyal::features
