// Checks on the shared real data (skipped when it is missing, failing under CI): the files'
// time zones line up after conversion (the synthetic DXY tracks DXY_H1 at lag 0, not +-1 h),
// and the regime classifier uses all 12 regimes on EURUSD H1.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "core/testing/test_util.h"
#include "market/csv_import.h"
#include "signals/cross_asset.h"
#include "signals/regime.h"

namespace sinyal::signals {
namespace {

std::vector<market::Bar> Load(const std::string& sym, const std::string& tz) {
  market::CsvImportOptions o;
  o.source_tz = TimeZone::Parse(tz).value();
  auto r = market::ImportBarsCsvFile(testing::MarketDataDir() / (sym + "_H1.csv"), o);
  EXPECT_TRUE(r.ok()) << testing::Describe(r);
  return r.ok() ? r->bars : std::vector<market::Bar>{};
}

TEST(RealDataTest, SyntheticDxyTracksTheIndexAtLagZero) {
  SINYAL_REQUIRE_MARKET_DATA();
  std::vector<SymbolSeries> s = {{"EURUSD", Load("EURUSD", "NY+7")},
                                 {"USDJPY", Load("USDJPY", "EET")},
                                 {"GBPUSD", Load("GBPUSD", "NY+7")},
                                 {"USDCAD", Load("USDCAD", "NY+7")},
                                 {"USDCHF", Load("USDCHF", "NY+7")}};
  auto p = AlignPanel(s, market::Timeframe::kH1);
  ASSERT_OK(p);
  EXPECT_GT(p->rows(), 23000u);
  auto d = SyntheticDxy(*p, SekMode::kDropSek).value();
  auto c = CompareWithReference(*p, d, Load("DXY", "NY+7"));
  ASSERT_OK(c);
  EXPECT_GT(c->corr_lag0, 0.98);
  EXPECT_LT(std::fabs(c->corr_ref_lags_1), 0.05);
  EXPECT_LT(std::fabs(c->corr_ref_leads_1), 0.05);
  std::ifstream ecb(testing::MarketDataDir() / "daily" / "ECB_EUROFXREF_D1.csv");
  auto sek = ParseEcbUsdSek(ecb);
  ASSERT_OK(sek);
  auto d6 = SyntheticDxy(*p, SekMode::kDailySek, *sek).value();
  auto c6 = CompareWithReference(*p, d6, Load("DXY", "NY+7")).value();
  EXPECT_LT(c6.mean_abs_level_diff, 0.5);  // with SEK the level matches; without it does not
  EXPECT_GT(c->mean_abs_level_diff, 5);
}

TEST(RealDataTest, AllTwelveRegimesOccurOnEurusd) {
  SINYAL_REQUIRE_MARKET_DATA();
  auto st = ClassifyRegimes(Load("EURUSD", "NY+7"));
  ASSERT_OK(st);
  auto rs = ComputeRunStats(*st);
  for (int c = 0; c < kNumRegimes; ++c) EXPECT_GT(rs.bars[c], 500) << RegimeName(c);
}

}  // namespace
}  // namespace sinyal::signals
