#include "signals/cross_asset.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <sstream>

#include "core/testing/test_util.h"
#include "core/time.h"

namespace sinyal::signals {
namespace {

constexpr UnixNanos kT0 = 1'600'000'000LL / 3600 * 3600 * kNanosPerSecond;  // on the H1 grid

market::Bar B(UnixNanos t, double c) { return market::Bar::Create(t, c, c, c, c).value(); }

// Series from log returns; times on the H1 grid, optionally skipping some hours.
SymbolSeries FromReturns(const std::string& sym, const std::vector<double>& r, double p0 = 1.0,
                         int skip_every = 0) {
  SymbolSeries s{sym, {}};
  double p = p0;
  for (size_t i = 0; i < r.size(); ++i) {
    p *= std::exp(r[i]);
    if (skip_every > 0 && static_cast<int>(i % skip_every) == skip_every - 1) continue;
    s.bars.push_back(B(kT0 + static_cast<int64_t>(i) * kNanosPerHour, p));
  }
  return s;
}

// Two return series with correlation rho; b lags a by `lag` bars when lag > 0.
void Correlated(size_t n, double rho, int lag, uint64_t seed, std::vector<double>* a,
                std::vector<double>* b) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z(0, 0.001);
  std::vector<double> base(n + lag);
  for (auto& v : base) v = z(rng);
  a->resize(n);
  b->resize(n);
  for (size_t i = 0; i < n; ++i) {
    (*a)[i] = base[i + lag];
    (*b)[i] = rho * base[i] + std::sqrt(1 - rho * rho) * z(rng);
  }
}

TEST(CrossAssetTest, InnerJoinAndReturnsOnlyWithinSessions) {
  std::vector<double> r(100, 0.001);
  auto a = FromReturns("A", r);
  auto b = FromReturns("B", r, 2.0, 10);  // B lacks every 10th hour
  auto p = AlignPanel({a, b}, market::Timeframe::kH1);
  ASSERT_OK(p);
  EXPECT_EQ(p->rows(), 90u);
  size_t valid = 0;
  for (size_t i = 0; i < p->rows(); ++i) {
    valid += p->return_valid[i];
    if (p->return_valid[i]) {
      EXPECT_EQ(p->times[i] - p->times[i - 1], kNanosPerHour);
      EXPECT_NEAR(p->log_return[0][i], 0.001, 1e-12);
    } else {
      EXPECT_TRUE(std::isnan(p->log_return[1][i]));
    }
  }
  EXPECT_EQ(valid, 89u - 9u);  // the first row and the 9 rows after a missing hour
}

TEST(CrossAssetTest, BadInputsNameTheField) {
  std::vector<double> r(100, 0.001);
  auto a = FromReturns("EURUSD", r);
  // Misaligned: a series stamped 30 minutes off the grid (e.g. a wrong time zone).
  SymbolSeries off{"USDJPY", {}};
  for (const auto& bar : a.bars) off.bars.push_back(B(bar.time() + 30 * kNanosPerMinute, 1.0));
  auto mis = AlignPanel({a, off}, market::Timeframe::kH1);
  ASSERT_FALSE(mis.ok());
  EXPECT_EQ(mis.error().field(), "series.USDJPY");
  EXPECT_NE(mis.error().message().find("misaligned"), std::string::npos);
  // No overlap: the second series lies a year later.
  SymbolSeries later{"GBPUSD", {}};
  for (const auto& bar : a.bars) later.bars.push_back(B(bar.time() + 365 * kNanosPerDay, 1.0));
  auto none = AlignPanel({a, later}, market::Timeframe::kH1);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(none.error().message().find("'GBPUSD' overlaps 'EURUSD' on 0"), std::string::npos);
  // Duplicates, empty, out of order.
  EXPECT_EQ(AlignPanel({a, a}, market::Timeframe::kH1).error().field(), "series.EURUSD");
  EXPECT_EQ(AlignPanel({a, SymbolSeries{"X", {}}}, market::Timeframe::kH1).error().field(),
            "series.X");
  SymbolSeries rev{"R", {a.bars[1], a.bars[0]}};
  EXPECT_EQ(AlignPanel({rev}, market::Timeframe::kH1).error().field(), "series.R");

  auto p = AlignPanel({a, FromReturns("USDCHF", r)}, market::Timeframe::kH1).value();
  auto unknown = RollingCorrelation(p, "EURUSD", "XAUUSD", 50, CorrelationMethod::kPearson);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code(), StatusCode::kNotFound);
  EXPECT_EQ(unknown.error().field(), "symbols");
  EXPECT_NE(unknown.error().message().find("XAUUSD"), std::string::npos);
  auto shortw = ComputeCorrelationMatrix(p, p.rows() - 1, 5, CorrelationMethod::kPearson);
  ASSERT_FALSE(shortw.ok());
  EXPECT_EQ(shortw.error().field(), "window");
  EXPECT_NE(shortw.error().message().find("kMinCorrelationWindow = 20"), std::string::npos);
  auto toolong = ComputeCorrelationMatrix(p, p.rows() - 1, 500, CorrelationMethod::kPearson);
  EXPECT_EQ(toolong.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(LeadLag(p, "EURUSD", "USDCHF", 99).error().field(), "max_lag");
}

TEST(CrossAssetTest, PearsonSpearmanMatrices) {
  std::vector<double> a, b;
  Correlated(20000, 0.8, 0, 3, &a, &b);
  std::vector<double> c(a.size());
  std::mt19937_64 rng(9);
  std::normal_distribution<double> z(0, 0.001);
  for (auto& v : c) v = z(rng);
  auto p = AlignPanel({FromReturns("A", a), FromReturns("B", b), FromReturns("C", c)},
                      market::Timeframe::kH1)
               .value();
  auto pm = ComputeCorrelationMatrix(p, p.rows() - 1, 10000, CorrelationMethod::kPearson).value();
  auto sm = ComputeCorrelationMatrix(p, p.rows() - 1, 10000, CorrelationMethod::kSpearman).value();
  EXPECT_NEAR(pm.at(0, 1), 0.8, 0.02);
  EXPECT_NEAR(pm.at(1, 0), pm.at(0, 1), 0);
  EXPECT_NEAR(pm.at(0, 2), 0.0, 0.03);
  EXPECT_EQ(pm.at(2, 2), 1.0);
  // For Gaussian data Spearman = (6/pi) asin(rho/2) = 0.786 at rho = 0.8.
  EXPECT_NEAR(sm.at(0, 1), 6 / M_PI * std::asin(0.4), 0.02);
  EXPECT_EQ(pm.to_time, p.times.back());
  auto roll = RollingCorrelation(p, "A", "B", 200, CorrelationMethod::kPearson).value();
  EXPECT_TRUE(std::isnan(roll[100]));
  EXPECT_NEAR(roll[5000], 0.8, 0.1);
}

TEST(CrossAssetTest, LeadLagFindsTheLead) {
  std::vector<double> a, b;
  Correlated(5000, 0.7, 2, 4, &a, &b);  // b[t] = 0.7 a[t-2] + noise: a leads b by 2
  auto p = AlignPanel({FromReturns("A", a), FromReturns("B", b)}, market::Timeframe::kH1).value();
  auto ll = LeadLag(p, "A", "B", 4).value();
  ASSERT_EQ(ll.size(), 9u);
  int best = 0;
  double best_c = 0;
  for (const auto& x : ll) {
    if (std::fabs(x.pearson) > best_c) best_c = std::fabs(x.pearson), best = x.lag;
  }
  EXPECT_EQ(best, 2);
  EXPECT_NEAR(best_c, 0.7, 0.05);
}

TEST(CrossAssetTest, BreakDetectedAfterTheRelationshipChanges) {
  std::vector<double> a1, b1, a2, b2;
  Correlated(3000, 0.8, 0, 5, &a1, &b1);
  Correlated(1000, -0.3, 0, 6, &a2, &b2);
  a1.insert(a1.end(), a2.begin(), a2.end());
  b1.insert(b1.end(), b2.begin(), b2.end());
  auto p = AlignPanel({FromReturns("A", a1), FromReturns("B", b1)}, market::Timeframe::kH1).value();
  auto s = DetectCorrelationBreaks(p, "A", "B").value();
  size_t before = 0, after = 0;
  for (size_t i = 0; i < 3000; ++i) before += s.flagged[i];
  for (size_t i = 3150; i < 4000; ++i) after += s.flagged[i];
  EXPECT_LT(before, 30u);  // false alarms under a stable relationship are rare
  EXPECT_GT(after, 800u);  // the change is flagged once the window has moved into it
  EXPECT_LT(s.z[3500], -3);
  // The report for the API carries both matrices and the pair's break.
  auto rep = BuildCorrelationReport(p, 120).value();
  ASSERT_EQ(rep.breaks.size(), 1u);
  EXPECT_TRUE(rep.breaks[0].flagged);
  EXPECT_EQ(rep.as_of, p.times.back());
  EXPECT_EQ(rep.timeframe, "H1");
}

TEST(CrossAssetTest, SyntheticDxyFormulaAndSekModes) {
  std::vector<SymbolSeries> s;
  const std::map<std::string, double> px = {
      {"EURUSD", 1.1}, {"USDJPY", 140}, {"GBPUSD", 1.25}, {"USDCAD", 1.35}, {"USDCHF", 0.9}};
  for (const auto& [sym, v] : px) {
    SymbolSeries x{sym, {}};
    for (int i = 0; i < 50; ++i) x.bars.push_back(B(kT0 + i * kNanosPerHour, v));
    s.push_back(x);
  }
  auto p = AlignPanel(s, market::Timeframe::kH1).value();
  const double five = 50.14348112 * std::pow(1.1, -0.576) * std::pow(140, 0.136) *
                      std::pow(1.25, -0.119) * std::pow(1.35, 0.091) * std::pow(0.9, 0.036);
  auto d5 = SyntheticDxy(p, SekMode::kDropSek).value();
  EXPECT_NEAR(d5[10], five, 1e-9);
  std::vector<DailyValue> sek = {{kT0 + 20 * kNanosPerHour, 10.0}};
  auto d6 = SyntheticDxy(p, SekMode::kDailySek, sek).value();
  EXPECT_TRUE(std::isnan(d6[19]));  // SEK not yet known
  EXPECT_NEAR(d6[20], five * std::pow(10.0, 0.042), 1e-9);
  EXPECT_EQ(SyntheticDxy(p, SekMode::kDailySek).status().field(), "usdsek");
  s.pop_back();  // drop USDJPY (map order: ..., USDJPY last)
  auto p4 = AlignPanel(s, market::Timeframe::kH1).value();
  auto miss = SyntheticDxy(p4, SekMode::kDropSek);
  ASSERT_FALSE(miss.ok());
  EXPECT_EQ(miss.error().field(), "symbols");
  EXPECT_NE(miss.error().message().find("USDJPY"), std::string::npos);
}

TEST(CrossAssetTest, EcbParserAndReferenceCheck) {
  std::istringstream in(
      "Date,USD,JPY,SEK,CHF\n"
      "1/3/2023,1.0545,140.1,11.1,0.99\n"
      "1/2/2023,N/A,139.0,N/A,0.98\n"
      "12/30/2022,1.0666,140.66,11.1218,0.9847\n");
  auto v = ParseEcbUsdSek(in);
  ASSERT_OK(v);
  ASSERT_EQ(v->size(), 2u);
  EXPECT_NEAR((*v)[0].value, 11.1218 / 1.0666, 1e-12);
  EXPECT_EQ((*v)[0].available_from,
            DaysFromCivil(2022, 12, 30) * kNanosPerDay + 15 * kNanosPerHour);
  std::istringstream bad("Date,USD,SEK\n1/3/2023,abc,11\n");
  auto b = ParseEcbUsdSek(bad);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().field(), "line 2");
  EXPECT_NE(b.error().message().find("'USD'"), std::string::npos);

  // A reference equal to the synthetic index correlates 1 at lag 0 with zero level difference.
  std::vector<double> a, c;
  Correlated(500, 0.5, 0, 8, &a, &c);
  std::vector<SymbolSeries> s = {FromReturns("EURUSD", a, 1.1), FromReturns("USDJPY", c, 140),
                                 FromReturns("GBPUSD", a, 1.3), FromReturns("USDCAD", c, 1.3),
                                 FromReturns("USDCHF", a, 0.9)};
  auto p = AlignPanel(s, market::Timeframe::kH1).value();
  auto d = SyntheticDxy(p, SekMode::kDropSek).value();
  std::vector<market::Bar> ref;
  for (size_t i = 0; i < p.rows(); ++i) ref.push_back(B(p.times[i], d[i]));
  auto chk = CompareWithReference(p, d, ref).value();
  EXPECT_NEAR(chk.corr_lag0, 1.0, 1e-12);
  EXPECT_NEAR(chk.mean_abs_level_diff, 0, 1e-12);
  EXPECT_LT(std::fabs(chk.corr_ref_lags_1), 0.15);
  EXPECT_EQ(chk.return_pairs, p.rows() - 1);
}

TEST(CrossAssetTest, FeaturesUseOnlyThePast) {
  std::vector<double> a, b;
  Correlated(1500, -0.6, 0, 12, &a, &b);
  auto sym = FromReturns("EURUSD", a, 1.1);
  auto ref = FromReturns("DXY", b, 100, 17);  // reference with holes
  std::vector<UnixNanos> rt;
  std::vector<double> rv;
  for (const auto& bar : ref.bars) rt.push_back(bar.time()), rv.push_back(bar.close());
  auto full = CrossAssetFeatures(sym.bars, market::Timeframe::kH1, rt, rv).value();
  ASSERT_EQ(full.rows, sym.bars.size());
  // Row 5: one-period reference return.
  EXPECT_NEAR(full.Row(5)[0], b[5], 1e-6);
  EXPECT_TRUE(std::isnan(full.Row(16)[0]));  // reference hour 16 is missing
  EXPECT_NEAR(full.Row(1400)[2], -0.6, 0.15);
  EXPECT_FALSE(std::isnan(full.Row(1400)[3]));
  // Prefix: features of the first 900 bars, with the reference cut at the same time, are equal.
  const UnixNanos cut = sym.bars[899].time();
  std::vector<UnixNanos> rt2;
  std::vector<double> rv2;
  for (size_t i = 0; i < rt.size() && rt[i] <= cut; ++i) rt2.push_back(rt[i]), rv2.push_back(rv[i]);
  auto part =
      CrossAssetFeatures(std::span(sym.bars).first(900), market::Timeframe::kH1, rt2, rv2).value();
  for (size_t i = 0; i < 900 * full.cols(); ++i) {
    const float x = full.values[i], y = part.values[i];
    ASSERT_TRUE(x == y || (std::isnan(x) && std::isnan(y))) << i;
  }
  rv[7] = std::nan("");
  auto nan = CrossAssetFeatures(sym.bars, market::Timeframe::kH1, rt, rv);
  ASSERT_FALSE(nan.ok());
  EXPECT_EQ(nan.error().field(), "ref_values");
  EXPECT_NE(nan.error().message().find("row 7"), std::string::npos);
  CrossAssetFeatureOptions o;
  o.corr_window = 10;
  EXPECT_EQ(CrossAssetFeatures(sym.bars, market::Timeframe::kH1, rt, rv, o).status().field(),
            "corr_window");
}

}  // namespace
}  // namespace sinyal::signals
