// Each Update mirrors the corresponding TA-Lib 0.6 function (src/ta_func/ta_XXX.c) operation by
// operation; comments name the TA-Lib statement where the order matters for bit equality.
#include "features/indicators.h"

#include <cmath>
#include <string>

namespace sinyal::features {
namespace {

constexpr int kMaxPeriod = 100000;

// TA_IS_ZERO from ta_utility.h.
inline bool IsZero(double v) { return -0.00000000000001 < v && v < 0.00000000000001; }

Status CheckPeriod(int p, int min, const char* name) {
  if (p < min || p > kMaxPeriod) {
    return Status::InvalidArgument(std::string(name) + " must be within " + std::to_string(min) +
                                       ".." + std::to_string(kMaxPeriod) + ", got " +
                                       std::to_string(p),
                                   name);
  }
  return Status::Ok();
}

inline double TrueRange(double high, double low, double prev_close) {
  double greatest = high - low;
  double v2 = std::fabs(prev_close - high);
  if (v2 > greatest) greatest = v2;
  double v3 = std::fabs(prev_close - low);
  if (v3 > greatest) greatest = v3;
  return greatest;
}

template <typename Ind, typename Fn>
std::vector<double> Run(Ind ind, size_t n, Fn feed) {
  std::vector<double> out(n, kNaN);
  for (size_t i = 0; i < n; ++i) {
    feed(ind, i);
    if (ind.Initialized()) out[i] = ind.Value();
  }
  return out;
}

}  // namespace

Columns Columns::FromBars(std::span<const Bar> bars) {
  Columns c;
  c.open.reserve(bars.size());
  c.high.reserve(bars.size());
  c.low.reserve(bars.size());
  c.close.reserve(bars.size());
  c.volume.reserve(bars.size());
  for (const Bar& b : bars) {
    c.open.push_back(b.open());
    c.high.push_back(b.high());
    c.low.push_back(b.low());
    c.close.push_back(b.close());
    c.volume.push_back(b.volume());
  }
  return c;
}

// ---- SMA (TA_INT_SMA) ----
Result<Sma> Sma::Create(int period) {
  SINYAL_RETURN_IF_ERROR(CheckPeriod(period, 2, "period"));
  return Sma(period);
}

void Sma::UpdateRaw(double x) {
  ring_[idx_] = x;
  if (n_ < period_ - 1) {  // periodTotal += inReal[i++] before startIdx
    total_ += x;
    ++n_;
    idx_ = idx_ + 1 == period_ ? 0 : idx_ + 1;
    return;
  }
  total_ += x;                // periodTotal += inReal[i++];
  value_ = total_ / period_;  // tempReal = periodTotal; out = tempReal / period
  int oldest = idx_ + 1 == period_ ? 0 : idx_ + 1;
  total_ -= ring_[oldest];  // periodTotal -= inReal[trailingIdx++];
  idx_ = oldest;
  ++n_;
}

void Sma::Reset() {
  idx_ = 0;
  n_ = 0;
  total_ = 0;
  value_ = kNaN;
}

// ---- EMA (TA_INT_EMA, default compatibility) ----
Result<Ema> Ema::Create(int period) {
  SINYAL_RETURN_IF_ERROR(CheckPeriod(period, 2, "period"));
  return Ema(period);
}

void Ema::UpdateRaw(double x) {
  if (n_ < period_) {
    sum_ += x;  // tempReal += inReal[today++]
    if (++n_ == period_) value_ = sum_ / period_;
    return;
  }
  value_ = ((x - value_) * k_) + value_;
  ++n_;
}

void Ema::Reset() {
  n_ = 0;
  sum_ = 0;
  value_ = kNaN;
}

// ---- RSI ----
Result<Rsi> Rsi::Create(int period) {
  SINYAL_RETURN_IF_ERROR(CheckPeriod(period, 2, "period"));
  return Rsi(period);
}

void Rsi::UpdateRaw(double x) {
  if (n_ == 0) {
    prev_ = x;
    n_ = 1;
    return;
  }
  const double diff = x - prev_;
  prev_ = x;
  if (n_ <= period_) {  // the first `period` changes: plain sums
    if (diff < 0)
      loss_ -= diff;
    else
      gain_ += diff;
    if (++n_ == period_ + 1) {
      loss_ /= period_;
      gain_ /= period_;
      const double s = gain_ + loss_;
      value_ = !IsZero(s) ? 100.0 * (gain_ / s) : 0.0;
    }
    return;
  }
  loss_ *= (period_ - 1);
  gain_ *= (period_ - 1);
  if (diff < 0)
    loss_ -= diff;
  else
    gain_ += diff;
  loss_ /= period_;
  gain_ /= period_;
  const double s = gain_ + loss_;
  value_ = !IsZero(s) ? 100.0 * (gain_ / s) : 0.0;
  ++n_;
}

void Rsi::Reset() {
  n_ = 0;
  prev_ = gain_ = loss_ = 0;
  value_ = kNaN;
}

// ---- MACD (TA_INT_MACD) ----
Result<Macd> Macd::Create(int fast, int slow, int signal) {
  SINYAL_RETURN_IF_ERROR(CheckPeriod(fast, 2, "fast_period"));
  SINYAL_RETURN_IF_ERROR(CheckPeriod(slow, 2, "slow_period"));
  // TA-Lib declares signal 1..100000, but TA_EMA_Lookback(1) is -1, so TA_MACD with signal 1
  // reads one element before its buffer (output[0] is garbage, the signal line misaligned).
  // Sinyal does not reproduce that bug: signal must be >= 2.
  SINYAL_RETURN_IF_ERROR(CheckPeriod(signal, 2, "signal_period"));
  return Macd(fast, slow, signal);
}

Macd::Macd(int fast, int slow, int signal)
    : fast_(slow < fast ? slow : fast),
      slow_(slow < fast ? fast : slow),
      signal_period_(signal),
      k_fast_(2.0 / static_cast<double>(fast_ + 1)),
      k_slow_(2.0 / static_cast<double>(slow_ + 1)),
      k_signal_(2.0 / static_cast<double>(signal + 1)),
      ring_(fast_, 0.0) {}

void Macd::UpdateRaw(double x) {
  double macd;
  if (n_ < slow_) {
    slow_sum_ += x;
    ring_[n_ % fast_] = x;
    if (++n_ < slow_) return;
    // Seeds: slow = mean of bars 0..slow-1; fast = mean of bars slow-fast..slow-1, both
    // summed oldest first from 0.0 as INT_EMA does.
    slow_ema_ = slow_sum_ / slow_;
    double fast_sum = 0.0;
    for (int i = 0; i < fast_; ++i) fast_sum += ring_[(n_ + i) % fast_];
    fast_ema_ = fast_sum / fast_;
  } else {
    slow_ema_ = ((x - slow_ema_) * k_slow_) + slow_ema_;
    fast_ema_ = ((x - fast_ema_) * k_fast_) + fast_ema_;
    ++n_;
  }
  macd = fast_ema_ - slow_ema_;
  if (sig_n_ < signal_period_) {
    sig_sum_ += macd;
    if (++sig_n_ == signal_period_) {
      signal_ = sig_sum_ / signal_period_;
      macd_ = macd;
      hist_ = macd_ - signal_;
    }
    return;
  }
  signal_ = ((macd - signal_) * k_signal_) + signal_;
  macd_ = macd;
  hist_ = macd_ - signal_;
  ++sig_n_;
}

void Macd::Reset() {
  n_ = sig_n_ = 0;
  slow_sum_ = fast_ema_ = slow_ema_ = sig_sum_ = 0;
  macd_ = signal_ = hist_ = kNaN;
}

// ---- BBANDS (SMA + TA_INT_stddev_using_precalc_ma) ----
Result<Bbands> Bbands::Create(int period, double nbdev_up, double nbdev_dn) {
  SINYAL_RETURN_IF_ERROR(CheckPeriod(period, 2, "period"));
  if (!std::isfinite(nbdev_up) || std::fabs(nbdev_up) > 3e37)
    return Status::InvalidArgument("nbdev_up must be a finite number", "nbdev_up");
  if (!std::isfinite(nbdev_dn) || std::fabs(nbdev_dn) > 3e37)
    return Status::InvalidArgument("nbdev_dn must be a finite number", "nbdev_dn");
  return Bbands(period, nbdev_up, nbdev_dn);
}

void Bbands::UpdateRaw(double x) {
  const int p = sma_.period_;
  // The trailing value leaves the ring in sma_.UpdateRaw; read it first.
  const bool output = sma_.n_ >= p - 1;
  const double trailing = sma_.ring_[sma_.idx_ + 1 == p ? 0 : sma_.idx_ + 1];
  sma_.UpdateRaw(x);
  double sq = x;
  sq *= sq;
  total2_ += sq;  // periodTotal2 += tempReal*tempReal
  if (!output) return;
  double mean2 = total2_ / p;
  double t = trailing;
  t *= t;
  total2_ -= t;  // periodTotal2 -= inReal[startSum]^2
  double ma = sma_.value_;
  ma *= ma;
  mean2 -= ma;
  sd_ = !(mean2 < 0.00000000000001) ? std::sqrt(mean2) : 0.0;  // TA_IS_ZERO_OR_NEG
  upper_ = sma_.value_ + sd_ * up_;
  lower_ = sma_.value_ - sd_ * dn_;
}

void Bbands::Reset() {
  sma_.Reset();
  total2_ = 0;
  upper_ = lower_ = sd_ = kNaN;
}

// ---- ATR ----
Result<Atr> Atr::Create(int period) {
  SINYAL_RETURN_IF_ERROR(CheckPeriod(period, 1, "period"));
  return Atr(period);
}

void Atr::UpdateHlc(double high, double low, double close) {
  if (n_ == 0) {
    prev_close_ = close;
    n_ = 1;
    return;
  }
  const double tr = TrueRange(high, low, prev_close_);
  prev_close_ = close;
  if (period_ == 1) {
    value_ = tr;
    ++n_;
    return;
  }
  if (n_ <= period_) {  // INT_SMA over the first `period` true ranges
    sum_ += tr;
    if (++n_ == period_ + 1) value_ = sum_ / period_;
    return;
  }
  value_ *= period_ - 1;
  value_ += tr;
  value_ /= period_;
  ++n_;
}

Result<Atr> Atr::Restore(int period, const State& state) {
  SINYAL_ASSIGN_OR_RETURN(Atr a, Create(period));
  if (state.n < 0) return Status::InvalidArgument("negative bar count", "state");
  a.n_ = state.n;
  a.prev_close_ = state.prev_close;
  a.sum_ = state.sum;
  a.value_ = state.value;
  return a;
}

void Atr::Reset() {
  n_ = 0;
  prev_close_ = sum_ = 0;
  value_ = kNaN;
}

// ---- ADX / +DI / -DI ----
Result<Adx> Adx::Create(int period) {
  SINYAL_RETURN_IF_ERROR(CheckPeriod(period, 2, "period"));
  return Adx(period);
}

void Adx::UpdateHlc(double high, double low, double close) {
  if (n_ == 0) {
    prev_high_ = high;
    prev_low_ = low;
    prev_close_ = close;
    n_ = 1;
    return;
  }
  const int64_t i = n_;  // index of this bar
  const double p = period_;
  const double diff_p = high - prev_high_;
  prev_high_ = high;
  const double diff_m = prev_low_ - low;
  prev_low_ = low;
  if (i < period_) {  // the first period-1 DM1/TR1: sums
    if (diff_m > 0 && diff_p < diff_m) {
      minus_dm_ += diff_m;
    } else if (diff_p > 0 && diff_p > diff_m) {
      plus_dm_ += diff_p;
    }
    tr_ += TrueRange(prev_high_, prev_low_, prev_close_);
    prev_close_ = close;
    ++n_;
    return;
  }
  minus_dm_ -= minus_dm_ / p;
  plus_dm_ -= plus_dm_ / p;
  if (diff_m > 0 && diff_p < diff_m) {
    minus_dm_ += diff_m;
  } else if (diff_p > 0 && diff_p > diff_m) {
    plus_dm_ += diff_p;
  }
  tr_ = tr_ - (tr_ / p) + TrueRange(prev_high_, prev_low_, prev_close_);
  prev_close_ = close;
  double dx = 0;
  bool have_dx = false;
  if (!IsZero(tr_)) {
    minus_di_ = 100.0 * (minus_dm_ / tr_);
    plus_di_ = 100.0 * (plus_dm_ / tr_);
    const double sum = minus_di_ + plus_di_;
    if (!IsZero(sum)) {
      dx = 100.0 * (std::fabs(minus_di_ - plus_di_) / sum);
      have_dx = true;
    }
  } else {
    minus_di_ = plus_di_ = 0.0;  // PLUS_DI/MINUS_DI output 0 when TR is zero
  }
  if (i < 2 * period_) {  // bars period..2*period-1: accumulate DX
    if (have_dx) sum_dx_ += dx;
    if (i == 2 * period_ - 1) adx_ = sum_dx_ / p;
  } else if (have_dx) {
    adx_ = ((adx_ * (p - 1)) + dx) / p;
  }
  ++n_;
}

void Adx::Reset() {
  n_ = 0;
  prev_high_ = prev_low_ = prev_close_ = 0;
  plus_dm_ = minus_dm_ = tr_ = sum_dx_ = 0;
  adx_ = plus_di_ = minus_di_ = kNaN;
}

// ---- Rolling high/low window (STOCH, WILLR) ----
bool RollingHighLow::Update(double high, double low) {
  const int64_t today = n_++;
  highs_[today % period_] = high;
  lows_[today % period_] = low;
  if (today < period_ - 1) return false;
  const int64_t trailing = today - period_ + 1;
  // Rescan only when the extreme leaves the window, as TA_STOCH / TA_WILLR.
  if (lowest_idx_ < trailing) {
    lowest_idx_ = trailing;
    lowest_ = lows_[trailing % period_];
    for (int64_t i = trailing + 1; i <= today; ++i) {
      if (lows_[i % period_] < lowest_) {
        lowest_idx_ = i;
        lowest_ = lows_[i % period_];
      }
    }
  } else if (low <= lowest_) {
    lowest_idx_ = today;
    lowest_ = low;
  }
  if (highest_idx_ < trailing) {
    highest_idx_ = trailing;
    highest_ = highs_[trailing % period_];
    for (int64_t i = trailing + 1; i <= today; ++i) {
      if (highs_[i % period_] > highest_) {
        highest_idx_ = i;
        highest_ = highs_[i % period_];
      }
    }
  } else if (high >= highest_) {
    highest_idx_ = today;
    highest_ = high;
  }
  return true;
}

void RollingHighLow::Reset() {
  n_ = 0;
  lowest_idx_ = highest_idx_ = -1;
  lowest_ = highest_ = 0;
}

// ---- STOCH (fast %K, then SMA twice) ----
Result<Stoch> Stoch::Create(int fastk, int slowk, int slowd) {
  SINYAL_RETURN_IF_ERROR(CheckPeriod(fastk, 1, "fastk_period"));
  SINYAL_RETURN_IF_ERROR(CheckPeriod(slowk, 1, "slowk_period"));
  SINYAL_RETURN_IF_ERROR(CheckPeriod(slowd, 1, "slowd_period"));
  return Stoch(fastk, slowk, slowd);
}

Stoch::Stoch(int fastk, int slowk, int slowd)
    : fastk_(fastk), window_(fastk), slowk_sma_(slowk), slowd_sma_(slowd) {}

void Stoch::UpdateHlc(double high, double low, double close) {
  if (!window_.Update(high, low)) return;
  const double diff = (window_.highest() - window_.lowest()) / 100.0;
  const double fastk = diff != 0.0 ? (close - window_.lowest()) / diff : 0.0;
  slowk_sma_.UpdateRaw(fastk);
  if (!slowk_sma_.Initialized()) return;
  slowd_sma_.UpdateRaw(slowk_sma_.Value());
  if (!slowd_sma_.Initialized()) return;
  slowk_ = slowk_sma_.Value();
  slowd_ = slowd_sma_.Value();
}

void Stoch::Reset() {
  window_.Reset();
  slowk_sma_.Reset();
  slowd_sma_.Reset();
  slowk_ = slowd_ = kNaN;
}

// ---- CCI ----
Result<Cci> Cci::Create(int period) {
  SINYAL_RETURN_IF_ERROR(CheckPeriod(period, 2, "period"));
  return Cci(period);
}

void Cci::UpdateHlc(double high, double low, double close) {
  const double tp = (high + low + close) / 3;
  ring_[idx_] = tp;
  if (n_ < period_ - 1) {
    idx_ = idx_ + 1 == period_ ? 0 : idx_ + 1;
    ++n_;
    return;
  }
  // Sums in storage order j = 0..period-1, as TA_CCI's circular buffer.
  double avg = 0;
  for (int j = 0; j < period_; ++j) avg += ring_[j];
  avg /= period_;
  double md = 0;
  for (int j = 0; j < period_; ++j) md += std::fabs(ring_[j] - avg);
  const double t = tp - avg;
  value_ = (t != 0.0 && md != 0.0) ? t / (0.015 * (md / period_)) : 0.0;
  idx_ = idx_ + 1 == period_ ? 0 : idx_ + 1;
  ++n_;
}

void Cci::Reset() {
  idx_ = 0;
  n_ = 0;
  value_ = kNaN;
}

// ---- WILLR ----
Result<Willr> Willr::Create(int period) {
  SINYAL_RETURN_IF_ERROR(CheckPeriod(period, 2, "period"));
  return Willr(period);
}

void Willr::UpdateHlc(double high, double low, double close) {
  if (!window_.Update(high, low)) return;
  const double diff = (window_.highest() - window_.lowest()) / (-100.0);
  value_ = diff != 0.0 ? (window_.highest() - close) / diff : 0.0;
}

void Willr::Reset() {
  window_.Reset();
  value_ = kNaN;
}

// ---- ROC ----
Result<Roc> Roc::Create(int period) {
  SINYAL_RETURN_IF_ERROR(CheckPeriod(period, 1, "period"));
  return Roc(period);
}

void Roc::UpdateRaw(double x) {
  const int size = period_ + 1;
  ring_[n_ % size] = x;
  if (n_++ < period_) return;
  const double prev = ring_[(n_ - 1 - period_) % size];
  value_ = prev != 0.0 ? ((x / prev) - 1.0) * 100.0 : 0.0;
}

void Roc::Reset() {
  n_ = 0;
  value_ = kNaN;
}

// ---- OBV ----
void Obv::UpdateRaw(double close, double volume) {
  if (n_++ == 0) {
    value_ = volume;  // prevOBV = inVolume[startIdx]
    prev_ = close;
    return;
  }
  if (close > prev_) {
    value_ += volume;
  } else if (close < prev_) {
    value_ -= volume;
  }
  prev_ = close;
}

void Obv::Reset() {
  n_ = 0;
  prev_ = 0;
  value_ = kNaN;
}

// ---- MFI ----
Result<Mfi> Mfi::Create(int period) {
  SINYAL_RETURN_IF_ERROR(CheckPeriod(period, 2, "period"));
  return Mfi(period);
}

void Mfi::UpdateHlcv(double high, double low, double close, double volume) {
  double tp = (high + low + close) / 3.0;
  if (n_ == 0) {
    prev_tp_ = tp;
    n_ = 1;
    return;
  }
  if (n_ > period_) {  // main loop: drop the oldest flow first
    pos_sum_ -= pos_[idx_];
    neg_sum_ -= neg_[idx_];
  }
  const double diff = tp - prev_tp_;
  prev_tp_ = tp;
  tp *= volume;
  if (diff < 0) {
    neg_[idx_] = tp;
    neg_sum_ += tp;
    pos_[idx_] = 0.0;
  } else if (diff > 0) {
    pos_[idx_] = tp;
    pos_sum_ += tp;
    neg_[idx_] = 0.0;
  } else {
    pos_[idx_] = 0.0;
    neg_[idx_] = 0.0;
  }
  idx_ = idx_ + 1 == period_ ? 0 : idx_ + 1;
  if (n_++ >= period_) {
    const double total = pos_sum_ + neg_sum_;
    value_ = total < 1.0 ? 0.0 : 100.0 * (pos_sum_ / total);
  }
}

void Mfi::Reset() {
  idx_ = 0;
  n_ = 0;
  prev_tp_ = pos_sum_ = neg_sum_ = 0;
  value_ = kNaN;
}

// ---- Batch ----
// SMA over in[from..n) written to out[from+p-1..n) (TA_INT_SMA's loop; out may alias nothing).
static void SmaInto(const double* in, size_t from, size_t n, int p, double* out) {
  if (n < from + static_cast<size_t>(p)) return;
  double total = 0;
  size_t i = from;
  for (; i < from + p - 1; ++i) total += in[i];
  size_t trailing = from;
  for (; i < n; ++i) {
    total += in[i];
    out[i] = total / p;
    total -= in[trailing++];
  }
}

// The simple indicators run as direct array loops (TA-Lib's own structure, same operation
// order as the streaming classes above, so results are bit-identical to both).
Result<std::vector<double>> SmaBatch(std::span<const double> x, int period) {
  SINYAL_RETURN_IF_ERROR(CheckPeriod(period, 2, "period"));
  std::vector<double> out(x.size(), kNaN);
  SmaInto(x.data(), 0, x.size(), period, out.data());
  return out;
}
Result<std::vector<double>> EmaBatch(std::span<const double> x, int period) {
  SINYAL_RETURN_IF_ERROR(CheckPeriod(period, 2, "period"));
  const size_t n = x.size();
  std::vector<double> out(n, kNaN);
  if (n < static_cast<size_t>(period)) return out;
  const double k = 2.0 / static_cast<double>(period + 1);
  double sum = 0;
  for (int i = 0; i < period; ++i) sum += x[i];
  double prev = sum / period;
  out[period - 1] = prev;
  for (size_t i = period; i < n; ++i) {
    prev = ((x[i] - prev) * k) + prev;
    out[i] = prev;
  }
  return out;
}
Result<std::vector<double>> RsiBatch(std::span<const double> x, int period) {
  SINYAL_RETURN_IF_ERROR(CheckPeriod(period, 2, "period"));
  const size_t n = x.size();
  std::vector<double> out(n, kNaN);
  if (n <= static_cast<size_t>(period)) return out;
  double prev = x[0], gain = 0, loss = 0;
  for (int i = 1; i <= period; ++i) {
    const double d = x[i] - prev;
    prev = x[i];
    if (d < 0)
      loss -= d;
    else
      gain += d;
  }
  loss /= period;
  gain /= period;
  {
    const double s = gain + loss;
    out[period] = !IsZero(s) ? 100.0 * (gain / s) : 0.0;
  }
  for (size_t i = period + 1; i < n; ++i) {
    const double d = x[i] - prev;
    prev = x[i];
    loss *= (period - 1);
    gain *= (period - 1);
    if (d < 0)
      loss -= d;
    else
      gain += d;
    loss /= period;
    gain /= period;
    const double s = gain + loss;
    out[i] = !IsZero(s) ? 100.0 * (gain / s) : 0.0;
  }
  return out;
}
Result<MacdSeries> MacdBatch(std::span<const double> x, int fast, int slow, int signal) {
  SINYAL_ASSIGN_OR_RETURN(Macd m, Macd::Create(fast, slow, signal));
  MacdSeries out{std::vector<double>(x.size(), kNaN), std::vector<double>(x.size(), kNaN),
                 std::vector<double>(x.size(), kNaN)};
  for (size_t i = 0; i < x.size(); ++i) {
    m.UpdateRaw(x[i]);
    if (m.Initialized()) {
      out.macd[i] = m.Value();
      out.signal[i] = m.signal();
      out.hist[i] = m.hist();
    }
  }
  return out;
}
Result<BbandsSeries> BbandsBatch(std::span<const double> x, int period, double up, double dn) {
  SINYAL_ASSIGN_OR_RETURN(Bbands b, Bbands::Create(period, up, dn));
  BbandsSeries out{std::vector<double>(x.size(), kNaN), std::vector<double>(x.size(), kNaN),
                   std::vector<double>(x.size(), kNaN)};
  for (size_t i = 0; i < x.size(); ++i) {
    b.UpdateRaw(x[i]);
    if (b.Initialized()) {
      out.upper[i] = b.upper();
      out.middle[i] = b.middle();
      out.lower[i] = b.lower();
    }
  }
  return out;
}
Result<std::vector<double>> AtrBatch(const Columns& c, int period) {
  SINYAL_ASSIGN_OR_RETURN(Atr ind, Atr::Create(period));
  return Run(std::move(ind), c.size(),
             [&](Atr& s, size_t i) { s.UpdateHlc(c.high[i], c.low[i], c.close[i]); });
}
Result<AdxSeries> AdxBatch(const Columns& c, int period) {
  SINYAL_ASSIGN_OR_RETURN(Adx a, Adx::Create(period));
  const size_t n = c.size();
  AdxSeries out{std::vector<double>(n, kNaN), std::vector<double>(n, kNaN),
                std::vector<double>(n, kNaN)};
  for (size_t i = 0; i < n; ++i) {
    a.UpdateHlc(c.high[i], c.low[i], c.close[i]);
    if (a.DiInitialized()) {
      out.plus_di[i] = a.plus_di();
      out.minus_di[i] = a.minus_di();
    }
    if (a.Initialized()) out.adx[i] = a.Value();
  }
  return out;
}
namespace {
// TA_STOCH / TA_WILLR window extremes over arrays: value(i) for i >= p-1 given the window
// [i-p+1, i]; `scale` is 100.0 (STOCH %K: (c-lowest)/diff) or -100.0 (WILLR: (highest-c)/diff).
template <bool kWillr>
void RangePosition(const double* high, const double* low, const double* close, size_t n, int p,
                   double* out) {
  if (n < static_cast<size_t>(p)) return;
  int64_t lowest_idx = -1, highest_idx = -1;
  double lowest = 0, highest = 0, diff = 0;
  const double div = kWillr ? -100.0 : 100.0;
  for (int64_t today = p - 1, trailing = 0; today < static_cast<int64_t>(n); ++today, ++trailing) {
    double tmp = low[today];
    if (lowest_idx < trailing) {
      lowest_idx = trailing;
      lowest = low[lowest_idx];
      for (int64_t i = lowest_idx + 1; i <= today; ++i) {
        if (low[i] < lowest) {
          lowest_idx = i;
          lowest = low[i];
        }
      }
      diff = (highest - lowest) / div;
    } else if (tmp <= lowest) {
      lowest_idx = today;
      lowest = tmp;
      diff = (highest - lowest) / div;
    }
    tmp = high[today];
    if (highest_idx < trailing) {
      highest_idx = trailing;
      highest = high[highest_idx];
      for (int64_t i = highest_idx + 1; i <= today; ++i) {
        if (high[i] > highest) {
          highest_idx = i;
          highest = high[i];
        }
      }
      diff = (highest - lowest) / div;
    } else if (tmp >= highest) {
      highest_idx = today;
      highest = tmp;
      diff = (highest - lowest) / div;
    }
    if (kWillr) {
      out[today] = diff != 0.0 ? (highest - close[today]) / diff : 0.0;
    } else {
      out[today] = diff != 0.0 ? (close[today] - lowest) / diff : 0.0;
    }
  }
}
}  // namespace

Result<StochSeries> StochBatch(const Columns& c, int fastk, int slowk, int slowd) {
  SINYAL_RETURN_IF_ERROR(CheckPeriod(fastk, 1, "fastk_period"));
  SINYAL_RETURN_IF_ERROR(CheckPeriod(slowk, 1, "slowk_period"));
  SINYAL_RETURN_IF_ERROR(CheckPeriod(slowd, 1, "slowd_period"));
  const size_t n = c.size();
  std::vector<double> fast(n, kNaN);
  RangePosition<false>(c.high.data(), c.low.data(), c.close.data(), n, fastk, fast.data());
  StochSeries out{std::vector<double>(n, kNaN), std::vector<double>(n, kNaN)};
  std::vector<double> k(n, kNaN);
  SmaInto(fast.data(), fastk - 1, n, slowk, k.data());
  SmaInto(k.data(), fastk - 1 + slowk - 1, n, slowd, out.slowd.data());
  const size_t first = static_cast<size_t>(fastk - 1 + slowk - 1 + slowd - 1);
  for (size_t i = first; i < n; ++i) out.slowk[i] = k[i];
  return out;
}
Result<std::vector<double>> CciBatch(const Columns& c, int period) {
  SINYAL_ASSIGN_OR_RETURN(Cci ind, Cci::Create(period));
  return Run(std::move(ind), c.size(),
             [&](Cci& s, size_t i) { s.UpdateHlc(c.high[i], c.low[i], c.close[i]); });
}
Result<std::vector<double>> WillrBatch(const Columns& c, int period) {
  SINYAL_RETURN_IF_ERROR(CheckPeriod(period, 2, "period"));
  std::vector<double> out(c.size(), kNaN);
  RangePosition<true>(c.high.data(), c.low.data(), c.close.data(), c.size(), period, out.data());
  return out;
}
Result<std::vector<double>> RocBatch(std::span<const double> x, int period) {
  SINYAL_RETURN_IF_ERROR(CheckPeriod(period, 1, "period"));
  std::vector<double> out(x.size(), kNaN);
  for (size_t i = period; i < x.size(); ++i) {
    const double prev = x[i - period];
    out[i] = prev != 0.0 ? ((x[i] / prev) - 1.0) * 100.0 : 0.0;
  }
  return out;
}
Result<std::vector<double>> ObvBatch(const Columns& c) {
  return Run(*Obv::Create(), c.size(),
             [&](Obv& s, size_t i) { s.UpdateRaw(c.close[i], c.volume[i]); });
}
Result<std::vector<double>> MfiBatch(const Columns& c, int period) {
  SINYAL_ASSIGN_OR_RETURN(Mfi ind, Mfi::Create(period));
  return Run(std::move(ind), c.size(),
             [&](Mfi& s, size_t i) { s.UpdateHlcv(c.high[i], c.low[i], c.close[i], c.volume[i]); });
}

}  // namespace sinyal::features
