// Indicator throughput on real EURUSD_H1 bars (23,580 bars): Sinyal batch, Sinyal streaming
// (one Update per bar, the live path) and TA-Lib C itself (the library npm talib 1.1.6 builds in
// tests/golden/node_modules; linked when found, see bench/CMakeLists.txt). items/s = bars/s.
//   SINYAL_DATA_DIR=... build/bench/features_bench
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "features/feature_set.h"
#include "features/indicators.h"
#include "market/csv_import.h"

#ifdef SINYAL_HAVE_TALIB
extern "C" {
#include "ta_libc.h"
}
#endif

namespace sinyal::features {
namespace {

struct Data {
  std::vector<market::Bar> bars;
  Columns cols;
};

const Data& GetData() {
  static const Data data = [] {
    Data d;
    const char* env = std::getenv("SINYAL_DATA_DIR");
    std::filesystem::path dir =
        env ? env : std::filesystem::path(SINYAL_SOURCE_DIR) / ".." / "shared" / "data" / "market";
    market::CsvImportOptions o;
    o.source_tz = *TimeZone::Parse("NY+7");
    auto r = market::ImportBarsCsvFile(dir / "EURUSD_H1.csv", o);
    if (!r.ok()) {
      std::fprintf(stderr, "cannot load EURUSD_H1.csv: %s\n", r.error().ToString().c_str());
      std::exit(1);
    }
    d.bars = std::move(r->bars);
    d.cols = Columns::FromBars(d.bars);
#ifdef SINYAL_HAVE_TALIB
    TA_Initialize();
#endif
    return d;
  }();
  return data;
}

void Done(benchmark::State& state) {
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(GetData().bars.size()));
}

// ---- Sinyal batch ----
#define SINYAL_BATCH(NAME, EXPR)                    \
  void BM_##NAME##_Batch(benchmark::State& state) { \
    const Columns& c = GetData().cols;              \
    for (auto _ : state) {                          \
      auto r = EXPR;                                \
      benchmark::DoNotOptimize(r);                  \
    }                                               \
    Done(state);                                    \
  }                                                 \
  BENCHMARK(BM_##NAME##_Batch);

SINYAL_BATCH(SMA20, SmaBatch(c.close, 20))
SINYAL_BATCH(EMA20, EmaBatch(c.close, 20))
SINYAL_BATCH(RSI14, RsiBatch(c.close, 14))
SINYAL_BATCH(MACD, MacdBatch(c.close, 12, 26, 9))
SINYAL_BATCH(BBANDS20, BbandsBatch(c.close, 20, 2, 2))
SINYAL_BATCH(ATR14, AtrBatch(c, 14))
SINYAL_BATCH(ADX14, AdxBatch(c, 14))
SINYAL_BATCH(STOCH, StochBatch(c, 14, 3, 3))
SINYAL_BATCH(CCI20, CciBatch(c, 20))
SINYAL_BATCH(WILLR14, WillrBatch(c, 14))
SINYAL_BATCH(ROC10, RocBatch(c.close, 10))
SINYAL_BATCH(OBV, ObvBatch(c))
SINYAL_BATCH(MFI14, MfiBatch(c, 14))

// ---- Sinyal streaming: Update(bar) + Value() per bar ----
#define SINYAL_STREAM(NAME, CREATE)                  \
  void BM_##NAME##_Stream(benchmark::State& state) { \
    const auto& bars = GetData().bars;               \
    auto ind = *CREATE;                              \
    for (auto _ : state) {                           \
      ind.Reset();                                   \
      double acc = 0;                                \
      for (const auto& b : bars) {                   \
        ind.Update(b);                               \
        acc += ind.Value();                          \
      }                                              \
      benchmark::DoNotOptimize(acc);                 \
    }                                                \
    Done(state);                                     \
  }                                                  \
  BENCHMARK(BM_##NAME##_Stream);

SINYAL_STREAM(SMA20, Sma::Create(20))
SINYAL_STREAM(EMA20, Ema::Create(20))
SINYAL_STREAM(RSI14, Rsi::Create(14))
SINYAL_STREAM(MACD, Macd::Create(12, 26, 9))
SINYAL_STREAM(BBANDS20, Bbands::Create(20, 2, 2))
SINYAL_STREAM(ATR14, Atr::Create(14))
SINYAL_STREAM(ADX14, Adx::Create(14))
SINYAL_STREAM(STOCH, Stoch::Create(14, 3, 3))
SINYAL_STREAM(CCI20, Cci::Create(20))
SINYAL_STREAM(WILLR14, Willr::Create(14))
SINYAL_STREAM(ROC10, Roc::Create(10))
SINYAL_STREAM(OBV, Obv::Create())
SINYAL_STREAM(MFI14, Mfi::Create(14))

// The part of every Sinyal batch call that TA-Lib does not do: allocating and NaN-filling the
// output vector (TA-Lib writes into a caller buffer).
void BM_OutputVectorAllocation(benchmark::State& state) {
  const size_t n = GetData().bars.size();
  for (auto _ : state) {
    std::vector<double> out(n, kNaN);
    benchmark::DoNotOptimize(out.data());
  }
  Done(state);
}
BENCHMARK(BM_OutputVectorAllocation);

// The default feature set core-v1 (25 features, 13 indicator instances): one feature vector per
// closed bar: the computation behind the model-inputs seam's InputStream (models/inputs.h).
void BM_CoreV1_FeatureVectors(benchmark::State& state) {
  const auto& bars = GetData().bars;
  auto fc = FeatureComputer::Create(DefaultFeatureSet());
  std::vector<double> out;
  for (auto _ : state) {
    fc->Reset();
    for (const auto& b : bars) fc->Update(b, &out);
    benchmark::DoNotOptimize(out.data());
  }
  Done(state);
}
BENCHMARK(BM_CoreV1_FeatureVectors);

#ifdef SINYAL_HAVE_TALIB
// ---- TA-Lib C, same data, preallocated outputs ----
#define TALIB_BENCH(NAME, CALL)                                  \
  void BM_##NAME##_TaLib(benchmark::State& state) {              \
    const Columns& c = GetData().cols;                           \
    const int n = static_cast<int>(c.size());                    \
    std::vector<double> o1(n), o2(n), o3(n);                     \
    int beg = 0, nb = 0;                                         \
    for (auto _ : state) {                                       \
      TA_RetCode rc = CALL;                                      \
      if (rc != TA_SUCCESS) state.SkipWithError("TA-Lib error"); \
      benchmark::DoNotOptimize(o1.data());                       \
    }                                                            \
    Done(state);                                                 \
  }                                                              \
  BENCHMARK(BM_##NAME##_TaLib);

TALIB_BENCH(SMA20, TA_SMA(0, n - 1, c.close.data(), 20, &beg, &nb, o1.data()))
TALIB_BENCH(EMA20, TA_EMA(0, n - 1, c.close.data(), 20, &beg, &nb, o1.data()))
TALIB_BENCH(RSI14, TA_RSI(0, n - 1, c.close.data(), 14, &beg, &nb, o1.data()))
TALIB_BENCH(MACD, TA_MACD(0, n - 1, c.close.data(), 12, 26, 9, &beg, &nb, o1.data(), o2.data(),
                          o3.data()))
TALIB_BENCH(BBANDS20, TA_BBANDS(0, n - 1, c.close.data(), 20, 2, 2, TA_MAType_SMA, &beg, &nb,
                                o1.data(), o2.data(), o3.data()))
TALIB_BENCH(ATR14,
            TA_ATR(0, n - 1, c.high.data(), c.low.data(), c.close.data(), 14, &beg, &nb, o1.data()))
TALIB_BENCH(ADX14,
            TA_ADX(0, n - 1, c.high.data(), c.low.data(), c.close.data(), 14, &beg, &nb, o1.data()))
TALIB_BENCH(STOCH, TA_STOCH(0, n - 1, c.high.data(), c.low.data(), c.close.data(), 14, 3,
                            TA_MAType_SMA, 3, TA_MAType_SMA, &beg, &nb, o1.data(), o2.data()))
TALIB_BENCH(CCI20,
            TA_CCI(0, n - 1, c.high.data(), c.low.data(), c.close.data(), 20, &beg, &nb, o1.data()))
TALIB_BENCH(WILLR14, TA_WILLR(0, n - 1, c.high.data(), c.low.data(), c.close.data(), 14, &beg, &nb,
                              o1.data()))
TALIB_BENCH(ROC10, TA_ROC(0, n - 1, c.close.data(), 10, &beg, &nb, o1.data()))
TALIB_BENCH(OBV, TA_OBV(0, n - 1, c.close.data(), c.volume.data(), &beg, &nb, o1.data()))
TALIB_BENCH(MFI14, TA_MFI(0, n - 1, c.high.data(), c.low.data(), c.close.data(), c.volume.data(),
                          14, &beg, &nb, o1.data()))
#endif

}  // namespace
}  // namespace sinyal::features
