// sinyal_signals_report: produces every figure in docs/signals.md from the shared market data.
//
//   sinyal_signals_report --data-dir ../shared/data/market <section>...
//   sections: regimes | dxy | correlations | conformal | signal | all
//   options:  --symbol EURUSD (conformal, signal) --horizon 1 (conformal, signal)
//             --trees 150 (members' boosting rounds)
//
// Every file is imported with market/'s importer and its documented time zone (NY+7 for the
// nobodys-forex pairs and DXY_H1, EET for USDJPY/XAUUSD), so all series are UTC before joining.
// Output is Markdown on stdout. Nothing here is cached or hard-coded: rerun to reproduce.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/time.h"
#include "features/feature_set.h"
#include "market/csv_import.h"
#include "models/inputs.h"
#include "models/market_adapter.h"
#include "models/metrics.h"
#include "models/tools/shared_data.h"
#include "signals/cross_asset.h"
#include "signals/hmm.h"
#include "signals/regime.h"
#include "signals/stats.h"
#include "signals/tools/report_model.h"

using namespace sinyal;
using namespace sinyal::signals;

namespace {

std::string g_data_dir;

std::string Day(UnixNanos t) { return FormatIso8601(t).substr(0, 10); }

std::string P(double p) {
  char b[32];
  if (p < 1e-300) return "< 1e-300";
  if (p < 1e-4) {
    std::snprintf(b, sizeof b, "%.1e", p);
  } else {
    std::snprintf(b, sizeof b, "%.4f", p);
  }
  return b;
}

int Fail(const std::string& m) { return models::tools::Fail("sinyal_signals_report", m); }

// ---------------------------------------------------------------- regimes
int Regimes() {
  std::printf("## Regimes on real H1 data\n\n");
  const RegimeConfig cfg;
  struct PerSymbol {
    std::string sym;
    RegimeRunStats stats;
  };
  std::vector<PerSymbol> all;
  for (const std::string sym : {"EURUSD", "GBPUSD", "USDJPY", "XAUUSD"}) {
    auto bars = models::tools::LoadSharedH1(g_data_dir, sym);
    if (!bars.ok()) return Fail(sym + ": " + bars.error().ToString());
    auto st = ClassifyRegimes(*bars, cfg);
    if (!st.ok()) return Fail(st.error().ToString());
    const auto& b = *bars;
    const auto& s = *st;
    auto rs = ComputeRunStats(s);
    all.push_back({sym, rs});
    std::printf("### %s H1: %zu bars %s .. %s (UTC), %lld ready\n\n", sym.c_str(), b.size(),
                Day(b.front().time()).c_str(), Day(b.back().time()).c_str(),
                static_cast<long long>(rs.ready_bars));
    // Forward figures over the next 24 bars (log returns); subsampled every 24th ready bar so
    // that forward windows do not overlap (the tests then see independent-ish samples).
    const int h = 24;
    std::vector<std::vector<double>> fwd_rv(kNumRegimes), fwd_ret(kNumRegimes);
    std::vector<std::vector<double>> fwd_rv_trend(kNumTrendStates), fwd_ret_trend(kNumTrendStates);
    std::vector<std::vector<double>> fwd_rv_vol(kNumVolStates);
    size_t taken = 0;
    for (size_t t = 0; t + h < b.size(); t += 1) {
      if (!s[t].ready) continue;
      if (taken++ % h != 0) continue;
      double ss = 0;
      for (int k = 1; k <= h; ++k) {
        const double r = std::log(b[t + k].close() / b[t + k - 1].close());
        ss += r * r;
      }
      const double rv = std::sqrt(ss / h);
      const double ret = std::log(b[t + h].close() / b[t].close());
      const int c = s[t].Code();
      fwd_rv[c].push_back(rv);
      fwd_ret[c].push_back(ret);
      fwd_rv_trend[static_cast<int>(s[t].trend)].push_back(rv);
      fwd_ret_trend[static_cast<int>(s[t].trend)].push_back(ret);
      fwd_rv_vol[static_cast<int>(s[t].vol)].push_back(rv);
    }
    std::printf(
        "| regime | share of bars | runs | mean duration (bars) | P(stay) | n (fwd) | median fwd "
        "rv24 (bp/h) | mean fwd 24h return (bp) | share fwd 24h return > 0 |\n");
    std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int c = 0; c < kNumRegimes; ++c) {
      std::vector<double> v = fwd_rv[c];
      std::sort(v.begin(), v.end());
      double mret = 0, pos = 0;
      for (double r : fwd_ret[c]) mret += r, pos += r > 0;
      const size_t n = fwd_ret[c].size();
      std::printf("| %s | %.1f%% | %lld | %.1f | %.3f | %zu | %s | %s | %s |\n",
                  RegimeName(c).c_str(), 100.0 * rs.bars[c] / std::max<int64_t>(1, rs.ready_bars),
                  static_cast<long long>(rs.runs[c]), rs.mean_duration[c],
                  rs.TransitionProbability(c, c), n,
                  n ? std::to_string(QuantileSorted(v, 0.5) * 1e4).substr(0, 5).c_str() : "-",
                  n ? std::to_string(mret / n * 1e4).substr(0, 6).c_str() : "-",
                  n ? (std::to_string(100 * pos / n).substr(0, 4) + "%").c_str() : "-");
    }
    auto kw_rv = KruskalWallis(fwd_rv);
    auto kw_ret = KruskalWallis(fwd_ret);
    auto kw_ret_t = KruskalWallis(fwd_ret_trend);
    auto kw_rv_v = KruskalWallis(fwd_rv_vol);
    std::vector<std::vector<double>> abs_ret(kNumRegimes);
    for (int c = 0; c < kNumRegimes; ++c) {
      for (double r : fwd_ret[c]) abs_ret[c].push_back(std::fabs(r));
    }
    auto kw_abs = KruskalWallis(abs_ret);
    std::printf("\nKruskal-Wallis tests (non-overlapping 24-bar forward windows):\n\n");
    std::printf(
        "| forward quantity | groups | n | H | df | p-value |\n|---|---|---:|---:|---:|---:|\n");
    auto row = [](const char* what, const char* groups, const Result<KruskalWallisResult>& k) {
      if (!k.ok()) {
        std::printf("| %s | %s | - | - | - | %s |\n", what, groups, k.error().message().c_str());
        return;
      }
      std::printf("| %s | %s | %zu | %.1f | %d | %s |\n", what, groups, k->n, k->h, k->df,
                  P(k->p_value).c_str());
    };
    row("realised vol (rv24)", "12 regimes", kw_rv);
    row("realised vol (rv24)", "3 vol states", kw_rv_v);
    row("abs 24h return", "12 regimes", kw_abs);
    row("24h return", "12 regimes", kw_ret);
    row("24h return", "4 trend states", kw_ret_t);

    // Statistical check: a 3-state Gaussian HMM on (hourly return / its sd, log rv24) fitted on
    // the whole series, Viterbi path vs the rule-based vol state.
    std::vector<double> obs;
    std::vector<int> rule;
    double sd = 0;
    size_t nr = 0;
    for (size_t t = 1; t < b.size(); ++t) {
      const double r = std::log(b[t].close() / b[t - 1].close());
      sd += r * r;
      ++nr;
    }
    sd = std::sqrt(sd / nr);
    for (size_t t = 1; t < b.size(); ++t) {
      if (!s[t].ready || !(s[t].rv > 0)) continue;
      obs.push_back(std::log(b[t].close() / b[t - 1].close()) / sd);
      obs.push_back(std::log(s[t].rv));
      rule.push_back(static_cast<int>(s[t].vol));
    }
    GaussianHmmOptions ho;
    ho.states = 3;
    ho.sort_dim = 1;
    auto hmm = FitGaussianHmm(obs, 2, ho);
    if (!hmm.ok()) return Fail(hmm.error().ToString());
    auto path = Viterbi(*hmm, obs);
    auto ct = MakeContingency(rule, 3, path, 3);
    if (!ct.ok()) return Fail(ct.error().ToString());
    auto as = Associate(*ct);
    std::printf(
        "\nHMM check (3-state diagonal Gaussian HMM on (r_t / sd, ln rv24_t), Baum-Welch %d "
        "iterations%s, log-likelihood %.1f; states ordered by mean ln rv24):\n\n",
        hmm->iterations, hmm->converged ? ", converged" : ", NOT converged", hmm->log_likelihood);
    std::printf(
        "| rule vol state \\ HMM state | calm | middle | turbulent |\n|---|---:|---:|---:|\n");
    const char* vn[] = {"low_vol", "normal_vol", "high_vol"};
    for (int i = 0; i < 3; ++i) {
      std::printf("| %s | %lld | %lld | %lld |\n", vn[i], static_cast<long long>(ct->at(i, 0)),
                  static_cast<long long>(ct->at(i, 1)), static_cast<long long>(ct->at(i, 2)));
    }
    std::printf(
        "\nHMM state means of ln rv24: %.2f / %.2f / %.2f; P(stay): %.3f / %.3f / %.3f. "
        "Agreement (diagonal) %.1f%%, Cramér's V %.3f, adjusted Rand index %.3f, "
        "chi2 %.0f (df %d, p %s), n %lld.\n\n",
        hmm->mean[1], hmm->mean[3], hmm->mean[5], std::exp(hmm->log_transition[0]),
        std::exp(hmm->log_transition[4]), std::exp(hmm->log_transition[8]), 100 * as.agreement,
        as.cramers_v, as.adjusted_rand, as.chi2, as.df, P(as.p_value).c_str(),
        static_cast<long long>(ct->n));
    if (sym == "EURUSD") {
      std::printf(
          "Transition matrix P(next | current), EURUSD (rows: current regime; %% of the row):\n\n| "
          " |");
      for (int j = 0; j < kNumRegimes; ++j) std::printf(" %d |", j);
      std::printf("\n|---|");
      for (int j = 0; j < kNumRegimes; ++j) std::printf("---:|");
      std::printf("\n");
      for (int i = 0; i < kNumRegimes; ++i) {
        std::printf("| %d %s |", i, RegimeName(i).c_str());
        for (int j = 0; j < kNumRegimes; ++j) {
          const double p = rs.TransitionProbability(i, j);
          if (std::isnan(p)) {
            std::printf(" - |");
          } else {
            std::printf(" %.1f |", 100 * p);
          }
        }
        std::printf("\n");
      }
      std::printf("\n");
    }
  }
  return 0;
}

// ---------------------------------------------------------------- DXY
int Dxy() {
  std::printf("## DXY rebuilt from its components vs DXY_H1.csv\n\n");
  std::vector<SymbolSeries> series;
  for (const std::string sym : {"EURUSD", "USDJPY", "GBPUSD", "USDCAD", "USDCHF"}) {
    auto b = models::tools::LoadSharedH1(g_data_dir, sym);
    if (!b.ok()) return Fail(sym + ": " + b.error().ToString());
    series.push_back({sym, std::move(*b)});
  }
  auto panel = AlignPanel(series, market::Timeframe::kH1);
  if (!panel.ok()) return Fail(panel.error().ToString());
  auto ref = models::tools::LoadSharedH1(g_data_dir, "DXY");
  if (!ref.ok()) return Fail("DXY: " + ref.error().ToString());
  std::ifstream ecb(std::filesystem::path(g_data_dir) / "daily" / "ECB_EUROFXREF_D1.csv");
  auto sek = ParseEcbUsdSek(ecb);
  if (!sek.ok()) return Fail("ECB: " + sek.error().ToString());
  std::printf(
      "Panel: %zu common UTC hours of EURUSD, USDJPY, GBPUSD, USDCAD, USDCHF (%s .. %s); "
      "DXY_H1: %zu bars; ECB USD/SEK: %zu days.\n\n",
      panel->rows(), Day(panel->times.front()).c_str(), Day(panel->times.back()).c_str(),
      ref->size(), sek->size());
  std::printf(
      "| variant | common hours | return pairs | corr lag 0 | corr (ref 1 h later) | corr (ref 1 h "
      "earlier) | tracking error (bp/h) | mean abs level diff | mean DXY level |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (SekMode m : {SekMode::kDropSek, SekMode::kDailySek}) {
    auto d = SyntheticDxy(*panel, m, *sek);
    if (!d.ok()) return Fail(d.error().ToString());
    auto c = CompareWithReference(*panel, *d, *ref);
    if (!c.ok()) return Fail(c.error().ToString());
    std::printf("| %s | %zu | %zu | %.4f | %.4f | %.4f | %.2f | %.3f | %.2f |\n",
                std::string(SekModeName(m)).c_str(), c->common_rows, c->return_pairs, c->corr_lag0,
                c->corr_ref_lags_1, c->corr_ref_leads_1, c->return_tracking_error * 1e4,
                c->mean_abs_level_diff, c->mean_reference_level);
  }
  std::printf("\n");
  return 0;
}

// ---------------------------------------------------------------- correlations
int Correlations() {
  std::printf("## Cross-asset correlations (H1, UTC-aligned)\n\n");
  std::vector<SymbolSeries> series;
  for (const std::string sym :
       {"EURUSD", "GBPUSD", "USDJPY", "USDCHF", "USDCAD", "AUDUSD", "XAUUSD"}) {
    auto b = models::tools::LoadSharedH1(g_data_dir, sym);
    if (!b.ok()) return Fail(sym + ": " + b.error().ToString());
    series.push_back({sym, std::move(*b)});
  }
  auto panel = AlignPanel(series, market::Timeframe::kH1);
  if (!panel.ok()) return Fail(panel.error().ToString());
  size_t valid = 0;
  for (auto v : panel->return_valid) valid += v;
  std::printf("Panel: %zu common UTC hours, %zu in-session hourly returns (%s .. %s).\n\n",
              panel->rows(), valid, Day(panel->times.front()).c_str(),
              Day(panel->times.back()).c_str());
  auto print = [&](const CorrelationMatrix& m) {
    std::printf("| %s, last %d returns to %s |",
                std::string(CorrelationMethodName(m.method)).c_str(), m.window,
                FormatIso8601(m.to_time).c_str());
    for (const auto& s : m.symbols) std::printf(" %s |", s.c_str());
    std::printf("\n|---|");
    for (size_t j = 0; j < m.symbols.size(); ++j) std::printf("---:|");
    std::printf("\n");
    for (size_t i = 0; i < m.symbols.size(); ++i) {
      std::printf("| %s |", m.symbols[i].c_str());
      for (size_t j = 0; j < m.symbols.size(); ++j) std::printf(" %.2f |", m.at(i, j));
      std::printf("\n");
    }
    std::printf("\n");
  };
  auto rep = BuildCorrelationReport(*panel, 120);
  if (!rep.ok()) return Fail(rep.error().ToString());
  print(rep->pearson);
  print(rep->spearman);
  auto full = ComputeCorrelationMatrix(*panel, panel->rows() - 1, static_cast<int>(valid),
                                       CorrelationMethod::kPearson);
  if (full.ok()) print(*full);
  std::printf(
      "Correlation breaks (window 120, long run = all earlier returns, |z| > 3): share of "
      "hours flagged per pair with EURUSD:\n\n| pair | hours with z | flagged | share "
      "|\n|---|---:|---:|---:|\n");
  for (const auto& s : panel->symbols) {
    if (s == "EURUSD") continue;
    auto br = DetectCorrelationBreaks(*panel, "EURUSD", s);
    if (!br.ok()) return Fail(br.error().ToString());
    std::printf("| EURUSD-%s | %zu | %zu | %.1f%% |\n", s.c_str(), br->defined_rows,
                br->flagged_rows, 100.0 * br->flagged_rows / std::max<size_t>(1, br->defined_rows));
  }
  std::printf("\nLead-lag, corr(r_EURUSD[t], r_X[t+k]) over the whole panel:\n\n| X |");
  for (int k = -2; k <= 2; ++k) std::printf(" k=%+d |", k);
  std::printf("\n|---|---:|---:|---:|---:|---:|\n");
  for (const std::string x : {"USDJPY", "XAUUSD", "GBPUSD"}) {
    auto ll = LeadLag(*panel, "EURUSD", x, 2);
    if (!ll.ok()) return Fail(ll.error().ToString());
    std::printf("| %s |", x.c_str());
    for (const auto& l : *ll) std::printf(" %.3f |", l.pearson);
    std::printf("\n");
  }
  std::printf("\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> sections;
  ReportModelOptions mo;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--data-dir") {
      g_data_dir = next();
    } else if (a == "--symbol") {
      mo.symbol = next();
    } else if (a == "--horizon") {
      mo.horizon = std::atoi(next().c_str());
    } else if (a == "--trees") {
      mo.trees = std::atoi(next().c_str());
    } else if (a.rfind("--", 0) == 0) {
      return Fail("unknown option " + a);
    } else {
      sections.push_back(a);
    }
  }
  if (g_data_dir.empty()) return Fail("--data-dir is required");
  if (sections.empty())
    return Fail("name a section: regimes dxy correlations conformal signal all");
  mo.data_dir = g_data_dir;
  for (const auto& s : sections) {
    int rc = 0;
    if (s == "regimes" || s == "all") rc = rc ? rc : Regimes();
    if (s == "dxy" || s == "all") rc = rc ? rc : Dxy();
    if (s == "correlations" || s == "all") rc = rc ? rc : Correlations();
    if (s == "conformal" || s == "signal" || s == "all") rc = rc ? rc : RunModelSections(mo, s);
    if (rc) return rc;
  }
  return 0;
}
