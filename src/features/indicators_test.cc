#include "features/indicators.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/testing/test_util.h"

namespace sinyal::features {
namespace {

static_assert(BarIndicator<Sma> && BarIndicator<Ema> && BarIndicator<Rsi> && BarIndicator<Macd> &&
              BarIndicator<Bbands> && BarIndicator<Atr> && BarIndicator<Adx> &&
              BarIndicator<Stoch> && BarIndicator<Cci> && BarIndicator<Willr> &&
              BarIndicator<Roc> && BarIndicator<Obv> && BarIndicator<Mfi>);

// Seeded random walk with flat stretches and repeated closes (ties matter for MFI/OBV/STOCH).
std::vector<Bar> RandomBars(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> step(0, 0.001);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<Bar> bars;
  double c = 1.1;
  for (int i = 0; i < n; ++i) {
    double o = c;
    if (u(rng) > 0.1) c = std::max(0.01, c + step(rng));
    double h = std::max(o, c) + (u(rng) > 0.2 ? std::abs(step(rng)) : 0);
    double l = std::min(o, c) - (u(rng) > 0.2 ? std::abs(step(rng)) : 0);
    double v = std::floor(u(rng) * 1000);
    bars.push_back(*Bar::Create(i * kNanosPerHour, o, h, l, c, v));
  }
  return bars;
}

std::vector<double> Closes(const std::vector<Bar>& bars) {
  std::vector<double> c;
  for (const Bar& b : bars) c.push_back(b.close());
  return c;
}

// Runs an indicator bar by bar, returns Value() or NaN.
template <typename Ind>
std::vector<double> Stream(Ind ind, const std::vector<Bar>& bars) {
  std::vector<double> out;
  for (const Bar& b : bars) {
    ind.Update(b);
    out.push_back(ind.Initialized() ? ind.Value() : kNaN);
  }
  return out;
}

void ExpectSame(const std::vector<double>& a, const std::vector<double>& b, int lookback) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    if (static_cast<int>(i) < lookback) {
      EXPECT_TRUE(std::isnan(a[i]) && std::isnan(b[i])) << "index " << i << " before lookback";
    } else {
      EXPECT_EQ(a[i], b[i]) << "index " << i;  // bit-identical, not just close
      EXPECT_FALSE(std::isnan(a[i])) << "index " << i;
    }
  }
}

TEST(IndicatorsTest, StreamingEqualsBatchForEveryIndicator) {
  const auto bars = RandomBars(3000, 42);
  const auto close = Closes(bars);
  const Columns cols = Columns::FromBars(bars);
  ExpectSame(Stream(*Sma::Create(20), bars), *SmaBatch(close, 20), 19);
  ExpectSame(Stream(*Ema::Create(30), bars), *EmaBatch(close, 30), 29);
  ExpectSame(Stream(*Rsi::Create(14), bars), *RsiBatch(close, 14), 14);
  ExpectSame(Stream(*Macd::Create(12, 26, 9), bars), MacdBatch(close, 12, 26, 9)->macd, 33);
  ExpectSame(Stream(*Bbands::Create(20, 2, 2), bars), BbandsBatch(close, 20, 2, 2)->middle, 19);
  ExpectSame(Stream(*Atr::Create(14), bars), *AtrBatch(cols, 14), 14);
  ExpectSame(Stream(*Adx::Create(14), bars), AdxBatch(cols, 14)->adx, 27);
  ExpectSame(Stream(*Stoch::Create(14, 3, 3), bars), StochBatch(cols, 14, 3, 3)->slowk, 17);
  ExpectSame(Stream(*Cci::Create(20), bars), *CciBatch(cols, 20), 19);
  ExpectSame(Stream(*Willr::Create(14), bars), *WillrBatch(cols, 14), 13);
  ExpectSame(Stream(*Roc::Create(10), bars), *RocBatch(close, 10), 10);
  ExpectSame(Stream(*Obv::Create(), bars), *ObvBatch(cols), 0);
  ExpectSame(Stream(*Mfi::Create(14), bars), *MfiBatch(cols, 14), 14);
}

TEST(IndicatorsTest, LookbackMatchesFirstValidIndex) {
  const auto bars = RandomBars(200, 1);
  auto first_valid = [](const std::vector<double>& v) {
    for (size_t i = 0; i < v.size(); ++i)
      if (!std::isnan(v[i])) return static_cast<int>(i);
    return -1;
  };
  EXPECT_EQ(first_valid(Stream(*Sma::Create(5), bars)), Sma::Create(5)->Lookback());
  EXPECT_EQ(first_valid(Stream(*Rsi::Create(14), bars)), 14);
  EXPECT_EQ(first_valid(Stream(*Macd::Create(12, 26, 9), bars)), 33);
  EXPECT_EQ(first_valid(Stream(*Macd::Create(26, 12, 9), bars)), 33) << "periods swapped";
  EXPECT_EQ(first_valid(Stream(*Atr::Create(14), bars)), 14);
  EXPECT_EQ(first_valid(Stream(*Atr::Create(1), bars)), 1);
  EXPECT_EQ(first_valid(Stream(*Adx::Create(14), bars)), 27);
  EXPECT_EQ(first_valid(Stream(*Stoch::Create(5, 3, 3), bars)), 8);
  EXPECT_EQ(first_valid(Stream(*Mfi::Create(14), bars)), 14);
  EXPECT_EQ(first_valid(Stream(*Obv::Create(), bars)), 0);
  EXPECT_EQ(Adx::Create(14)->DiLookback(), 14);
}

TEST(IndicatorsTest, HandComputedValues) {
  auto sma = *SmaBatch(std::vector<double>{1, 2, 3, 4, 5}, 3);
  EXPECT_TRUE(std::isnan(sma[1]));
  EXPECT_EQ(sma[2], 2);
  EXPECT_EQ(sma[4], 4);
  // EMA(3): seed = mean(1,2,3) = 2, then 2 + (4-2)*0.5 = 3, 3 + (5-3)*0.5 = 4.
  auto ema = *EmaBatch(std::vector<double>{1, 2, 3, 4, 5}, 3);
  EXPECT_EQ(ema[2], 2);
  EXPECT_EQ(ema[3], 3);
  EXPECT_EQ(ema[4], 4);
  // RSI of a flat series is 0 in TA-Lib (not 50).
  auto rsi_flat = *RsiBatch(std::vector<double>(30, 1.5), 14);
  EXPECT_EQ(rsi_flat[14], 0.0);
  // RSI of a rising series is 100.
  std::vector<double> up;
  for (int i = 0; i < 30; ++i) up.push_back(1 + i * 0.01);
  EXPECT_DOUBLE_EQ((*RsiBatch(up, 14))[20], 100.0);
  // ROC: ((x / x[-1]) - 1) * 100; a zero base gives 0.
  auto roc = *RocBatch(std::vector<double>{0, 2, 3}, 1);
  EXPECT_EQ(roc[1], 0.0);
  EXPECT_DOUBLE_EQ(roc[2], 50.0);
  // BBANDS of a constant: zero width.
  auto bb = *BbandsBatch(std::vector<double>(10, 2.0), 5, 2, 2);
  EXPECT_EQ(bb.upper[6], 2.0);
  EXPECT_EQ(bb.lower[6], 2.0);
}

TEST(IndicatorsTest, BarDrivenEdgeCases) {
  std::vector<Bar> flat;
  for (int i = 0; i < 40; ++i) flat.push_back(*Bar::Create(i, 1.0, 1.0, 1.0, 1.0, 0.5));
  Columns c = Columns::FromBars(flat);
  EXPECT_EQ((*StochBatch(c, 5, 3, 3)).slowk[20], 0.0) << "high == low gives 0";
  EXPECT_EQ((*WillrBatch(c, 14))[20], 0.0);
  EXPECT_EQ((*CciBatch(c, 14))[20], 0.0);
  EXPECT_EQ((*MfiBatch(c, 14))[20], 0.0) << "total money flow < 1 gives 0";
  EXPECT_EQ((*AtrBatch(c, 14))[20], 0.0);
  auto adx = *AdxBatch(c, 5);
  EXPECT_EQ(adx.plus_di[10], 0.0) << "zero true range gives DI 0";
  // OBV starts at the first volume (TA-Lib), then adds/subtracts.
  std::vector<Bar> b = {*Bar::Create(0, 1, 1, 1, 1, 10), *Bar::Create(1, 2, 2, 2, 2, 5),
                        *Bar::Create(2, 1.5, 1.5, 1.5, 1.5, 3),
                        *Bar::Create(3, 1.5, 1.5, 1.5, 1.5, 7)};
  auto obv = *ObvBatch(Columns::FromBars(b));
  EXPECT_EQ(obv[0], 10);
  EXPECT_EQ(obv[1], 15);
  EXPECT_EQ(obv[2], 12);
  EXPECT_EQ(obv[3], 12) << "unchanged close leaves OBV";
}

TEST(IndicatorsTest, ResetRestartsFromScratch) {
  const auto bars = RandomBars(500, 9);
  auto adx = *Adx::Create(14);
  auto first = Stream(adx, bars);
  for (const Bar& b : bars) adx.Update(b);
  adx.Reset();
  EXPECT_FALSE(adx.Initialized());
  EXPECT_TRUE(std::isnan(adx.Value()));
  auto second = Stream(adx, bars);
  ExpectSame(first, second, 27);
  auto macd = *Macd::Create(12, 26, 9);
  for (const Bar& b : bars) macd.Update(b);
  double last = macd.hist();
  macd.Reset();
  for (const Bar& b : bars) macd.Update(b);
  EXPECT_EQ(macd.hist(), last);
}

TEST(IndicatorsTest, NaNPropagatesLikeTaLib) {
  auto ema = *Ema::Create(3);
  for (double x : {1.0, 2.0, 3.0}) ema.UpdateRaw(x);
  ema.UpdateRaw(std::nan(""));
  EXPECT_TRUE(std::isnan(ema.Value()));
  ema.UpdateRaw(4.0);
  EXPECT_TRUE(std::isnan(ema.Value())) << "NaN stays, as in TA-Lib";
}

TEST(IndicatorsTest, ParametersAreValidatedWithTheirNames) {
  EXPECT_EQ(Sma::Create(1).error().message(), "period must be within 2..100000, got 1");
  EXPECT_EQ(Sma::Create(1).error().field(), "period");
  EXPECT_FALSE(Ema::Create(100001).ok());
  EXPECT_FALSE(Rsi::Create(1).ok());
  EXPECT_EQ(Macd::Create(12, 26, 1).error().field(), "signal_period");
  EXPECT_EQ(Macd::Create(1, 26, 9).error().field(), "fast_period");
  EXPECT_EQ(Bbands::Create(20, std::nan(""), 2).error().field(), "nbdev_up");
  EXPECT_OK(Atr::Create(1));
  EXPECT_FALSE(Atr::Create(0).ok());
  EXPECT_FALSE(Adx::Create(1).ok());
  EXPECT_EQ(Stoch::Create(5, 0, 3).error().field(), "slowk_period");
  EXPECT_FALSE(Cci::Create(1).ok());
  EXPECT_FALSE(Willr::Create(1).ok());
  EXPECT_OK(Roc::Create(1));
  EXPECT_FALSE(Mfi::Create(1).ok());
  EXPECT_FALSE(SmaBatch(std::vector<double>{1, 2}, 0).ok());
}

TEST(IndicatorsTest, AtrStateRestoresARunningStream) {
  const auto bars = RandomBars(300, 11);
  auto whole = *Atr::Create(14);
  auto first = *Atr::Create(14);
  for (size_t i = 0; i < bars.size(); ++i) {
    whole.Update(bars[i]);
    if (i < 100) first.Update(bars[i]);
  }
  auto resumed = Atr::Restore(14, first.state());
  ASSERT_OK(resumed);
  for (size_t i = 100; i < bars.size(); ++i) resumed->Update(bars[i]);
  EXPECT_EQ(resumed->Value(), whole.Value());  // bit-identical
  EXPECT_FALSE(Atr::Restore(14, {-1, 0, 0, 0}).ok());
}

}  // namespace
}  // namespace sinyal::features
