#include "models/basic_features.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace sinyal::models {

const std::vector<std::string>& BasicFeatureNames() {
  static const std::vector<std::string> names = {"ret_1",
                                                 "ret_2",
                                                 "ret_3",
                                                 "ret_6",
                                                 "ret_12",
                                                 "ret_24",
                                                 "vol_24",
                                                 "z_sma_24",
                                                 "rsi_14",
                                                 "atr_14_rel",
                                                 "range_pos_24",
                                                 "body_rel",
                                                 "tickvol_ratio_24",
                                                 "hour_sin",
                                                 "hour_cos",
                                                 "day_of_week"};
  return names;
}

void BasicFeatureStream::Update(UnixNanos time, double open, double high, double low, double close,
                                double volume, double* row) {
  constexpr size_t kWin = kBasicWarmupBars;
  const size_t t = t_++;
  // The newest kKeep bars in a ring: bar t - k is at (t - k) % kKeep.
  const size_t slot = t % kKeep;
  close_[slot] = close;
  high_[slot] = high;
  low_[slot] = low;
  volume_[slot] = volume;
  auto at = [&](const std::array<double, kKeep>& a, size_t k) { return a[(t - k) % kKeep]; };

  // Wilder RSI(14) and ATR(14), seeded with simple means like TA-Lib.
  const double tr =
      t == 0 ? high - low
             : std::max({high - low, std::fabs(high - prev_close_), std::fabs(low - prev_close_)});
  double gain = 0, loss = 0;
  if (t > 0) {
    const double d = close - prev_close_;
    gain = d > 0 ? d : 0;
    loss = d < 0 ? -d : 0;
  }
  if (t >= 1 && t <= 14) {
    avg_gain_ += gain / 14;
    avg_loss_ += loss / 14;
  } else if (t > 14) {
    avg_gain_ = (avg_gain_ * 13 + gain) / 14;
    avg_loss_ = (avg_loss_ * 13 + loss) / 14;
  }
  if (t < 14) {
    atr_ += tr / 14;
  } else {
    atr_ = (atr_ * 13 + tr) / 14;
  }
  prev_close_ = close;
  const size_t f = BasicFeatureNames().size();
  if (t < kWin) {
    std::fill(row, row + f, std::numeric_limits<double>::quiet_NaN());
    return;
  }
  const double c = close;
  auto lr = [&](size_t k) { return std::log(c / at(close_, k)); };
  row[0] = lr(1);
  row[1] = lr(2);
  row[2] = lr(3);
  row[3] = lr(6);
  row[4] = lr(12);
  row[5] = lr(24);
  double s = 0, s2 = 0, sma = 0, hi = high, lo = low, vol_sum = 0;
  for (size_t k = 0; k < kWin; ++k) {
    const double r = std::log(at(close_, k) / at(close_, k + 1));
    s += r;
    s2 += r * r;
    sma += at(close_, k);
    hi = std::max(hi, at(high_, k));
    lo = std::min(lo, at(low_, k));
    vol_sum += at(volume_, k);
  }
  const double mean = s / kWin;
  const double vol = std::sqrt(std::max(0.0, s2 / kWin - mean * mean));
  sma /= kWin;
  row[6] = vol;
  row[7] = vol > 0 ? (c / sma - 1.0) / vol : 0.0;
  row[8] = avg_gain_ + avg_loss_ > 0 ? 100.0 * avg_gain_ / (avg_gain_ + avg_loss_) : 50.0;
  row[9] = atr_ / c;
  row[10] = hi > lo ? (c - lo) / (hi - lo) : 0.5;
  const double rng = high - low;
  row[11] = rng > 0 ? (c - open) / rng : 0.0;
  row[12] = vol_sum > 0 ? volume * kWin / vol_sum : 1.0;
  // Calendar features from the bar open time (UTC).
  const int64_t secs = time / kNanosPerSecond;
  const int64_t day = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  const double hour = static_cast<double>(secs - day * 86400) / 3600.0;
  row[13] = std::sin(2 * M_PI * hour / 24);
  row[14] = std::cos(2 * M_PI * hour / 24);
  row[15] = static_cast<double>(((day % 7) + 7 + 3) % 7);  // 0 = Monday (1970-01-01 was a Thursday)
}

Result<FeatureFrame> ComputeBasicFeatures(const BarColumns& bars) {
  SINYAL_RETURN_IF_ERROR(bars.Validate());
  FeatureFrame fr;
  fr.set_name = kBasicFeatureSetName;
  fr.set_version = kBasicFeatureSetVersion;
  fr.names = BasicFeatureNames();
  fr.inputs_from = bars.size() > 0 ? bars.ts.front() : fr.inputs_from;
  const size_t n = bars.size();
  const size_t f = fr.names.size();
  fr.rows = n;
  fr.values.resize(n * f);
  BasicFeatureStream stream;
  std::vector<double> row(f);
  for (size_t t = 0; t < n; ++t) {
    stream.Update(bars.ts[t], bars.open[t], bars.high[t], bars.low[t], bars.close[t],
                  bars.volume[t], row.data());
    for (size_t j = 0; j < f; ++j) fr.values[t * f + j] = InputValueToFloat(row[j]);
  }
  return fr;
}

}  // namespace sinyal::models
