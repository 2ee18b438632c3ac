#include "models/basic_features.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace sinyal::models {

Result<FeatureFrame> ComputeBasicFeatures(const BarColumns& bars) {
  SINYAL_RETURN_IF_ERROR(bars.Validate());
  FeatureFrame fr;
  fr.set_name = kBasicFeatureSetName;
  fr.set_version = kBasicFeatureSetVersion;
  fr.names = {"ret_1",  "ret_2",   "ret_3",     "ret_6",     "ret_12",   "ret_24",
              "vol_24", "z_sma_24", "rsi_14",   "atr_14_rel", "range_pos_24", "body_rel",
              "tickvol_ratio_24", "hour_sin", "hour_cos", "day_of_week"};
  const size_t n = bars.size();
  const size_t f = fr.names.size();
  fr.rows = n;
  fr.values.assign(n * f, std::numeric_limits<float>::quiet_NaN());
  constexpr size_t kWin = 24;
  // Streaming state: Wilder RSI(14) and ATR(14), seeded with simple means like TA-Lib.
  double avg_gain = 0, avg_loss = 0, atr = 0;
  const std::vector<double>& c = bars.close;
  for (size_t t = 0; t < n; ++t) {
    const double tr = t == 0 ? bars.high[t] - bars.low[t]
                             : std::max({bars.high[t] - bars.low[t],
                                         std::fabs(bars.high[t] - c[t - 1]),
                                         std::fabs(bars.low[t] - c[t - 1])});
    double gain = 0, loss = 0;
    if (t > 0) {
      const double d = c[t] - c[t - 1];
      gain = d > 0 ? d : 0;
      loss = d < 0 ? -d : 0;
    }
    if (t >= 1 && t <= 14) {
      avg_gain += gain / 14;
      avg_loss += loss / 14;
    } else if (t > 14) {
      avg_gain = (avg_gain * 13 + gain) / 14;
      avg_loss = (avg_loss * 13 + loss) / 14;
    }
    if (t < 14) {
      atr += tr / 14;
    } else {
      atr = (atr * 13 + tr) / 14;
    }
    if (t < kWin) continue;

    float* row = fr.values.data() + t * f;
    auto lr = [&](size_t k) { return std::log(c[t] / c[t - k]); };
    row[0] = static_cast<float>(lr(1));
    row[1] = static_cast<float>(lr(2));
    row[2] = static_cast<float>(lr(3));
    row[3] = static_cast<float>(lr(6));
    row[4] = static_cast<float>(lr(12));
    row[5] = static_cast<float>(lr(24));
    double s = 0, s2 = 0, sma = 0, hi = bars.high[t], lo = bars.low[t], vol_sum = 0;
    for (size_t k = 0; k < kWin; ++k) {
      const double r = std::log(c[t - k] / c[t - k - 1]);
      s += r;
      s2 += r * r;
      sma += c[t - k];
      hi = std::max(hi, bars.high[t - k]);
      lo = std::min(lo, bars.low[t - k]);
      vol_sum += bars.volume[t - k];
    }
    const double mean = s / kWin;
    const double vol = std::sqrt(std::max(0.0, s2 / kWin - mean * mean));
    sma /= kWin;
    row[6] = static_cast<float>(vol);
    row[7] = static_cast<float>(vol > 0 ? (c[t] / sma - 1.0) / vol : 0.0);
    row[8] = static_cast<float>(avg_gain + avg_loss > 0 ? 100.0 * avg_gain / (avg_gain + avg_loss)
                                                        : 50.0);
    row[9] = static_cast<float>(atr / c[t]);
    row[10] = static_cast<float>(hi > lo ? (c[t] - lo) / (hi - lo) : 0.5);
    const double rng = bars.high[t] - bars.low[t];
    row[11] = static_cast<float>(rng > 0 ? (c[t] - bars.open[t]) / rng : 0.0);
    row[12] = static_cast<float>(vol_sum > 0 ? bars.volume[t] * kWin / vol_sum : 1.0);
    // Calendar features from the bar open time (UTC).
    const int64_t secs = bars.ts[t] / kNanosPerSecond;
    const int64_t day = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    const double hour = static_cast<double>(secs - day * 86400) / 3600.0;
    row[13] = static_cast<float>(std::sin(2 * M_PI * hour / 24));
    row[14] = static_cast<float>(std::cos(2 * M_PI * hour / 24));
    row[15] = static_cast<float>(((day % 7) + 7 + 3) % 7);  // 0 = Monday (1970-01-01 was a Thursday)
  }
  return fr;
}

}  // namespace sinyal::models
