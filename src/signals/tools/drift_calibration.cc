// sinyal_drift_calibration: how often the feature-drift rule of the retrain_check job fires, on
// the real H1 data in the shared market folder and on synthetic streams with and without a change.
// The figures of docs/signals.md section 4 ("Drift thresholds from data") are its output.
//
//   build-*/src/signals/sinyal_drift_calibration [--data DIR] [--symbols EURUSD,GBPUSD,...]
//
// Features: the "basic" set (models' default; models/basic_features.h). Every check mimics
// production: a model is trained on 5,000 bars (the reference is fitted on their feature rows),
// then its drift check compares the newest W rows with that reference.
//   A. Real data, rolling origin (a training end every 500 bars): the windows right after
//      training ("after"), and the last W rows of the training period itself ("inside": the model
//      saw those rows, so any alarm there is false by definition).
//   B. Synthetic AR(1) H1 bars (the retraining tests' generator), 40 seeds: a stable regime
//      (every alarm is false) and three changes (relationship flip with doubled volatility,
//      doubled volatility alone, relationship flip alone).
// Rules: "fixed" = DecideRetraining's defaults (any PSI >= 0.25 or >= 3 features >= 0.1), and the
// calibrated DriftRule (per-feature null thresholds from the reference's own rows) for several
// window lengths, margins and k.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/time.h"
#include "market/csv_import.h"
#include "models/basic_features.h"
#include "models/market_adapter.h"
#include "models/tools/shared_data.h"
#include "signals/drift.h"
#include "signals/stats.h"

using namespace sinyal;
using namespace sinyal::signals;

namespace {

constexpr size_t kTrainRows = 5000;

struct Rule {
  std::string name;
  size_t window;
  bool fixed;
  double margin;
  int k;
};

std::vector<Rule> Rules() {
  std::vector<Rule> r = {{"fixed W=500 (before)", 500, true, 0, 0},
                         {"fixed W=1000", 1000, true, 0, 0},
                         {"fixed W=2000", 2000, true, 0, 0}};
  for (size_t w : {500, 1000, 2000}) {
    for (double m : {1.0, 1.5}) {
      for (int k : {1, 2, 3}) {
        char b[80];
        std::snprintf(b, sizeof b, "null q99 x%.1f, k=%d, W=%zu", m, k, w);
        r.push_back({b, w, false, m, k});
      }
    }
  }
  return r;
}

bool FixedAlarm(const std::vector<FeaturePsi>& psi) {
  int moderate = 0;
  bool significant = false;
  for (const auto& f : psi) {
    moderate += f.psi >= kPsiModerate;
    significant |= f.psi >= kPsiSignificant;
  }
  return significant || moderate >= 3;
}

// Complete (finite) feature rows of a frame, row-major.
std::vector<float> CompleteRows(const models::FeatureFrame& f) {
  std::vector<float> out;
  for (size_t i = 0; i < f.rows; ++i) {
    const float* r = f.Row(i);
    bool ok = true;
    for (size_t j = 0; j < f.cols(); ++j) ok = ok && std::isfinite(r[j]);
    if (ok) out.insert(out.end(), r, r + f.cols());
  }
  return out;
}

struct Counts {
  std::vector<int> alarms;
  int checks = 0;
  // Per feature PSI samples (fixed W=500 / 1000 / 2000) for the distribution table.
  std::vector<std::vector<std::vector<double>>> psi;  // [window index][feature][sample]
  std::vector<std::vector<std::vector<double>>> thr;  // null q99 (x1) per [window][feature][sample]
};

// One check: reference fitted on train, live window -> alarm per rule.
void Check(const std::vector<std::string>& names, std::span<const float> train,
           std::span<const float> live, const std::vector<Rule>& rules, Counts& c) {
  const size_t f = names.size();
  auto ref = FitPsiReference(train, names).value();
  if (c.alarms.empty()) {
    c.alarms.assign(rules.size(), 0);
    c.psi.assign(3, std::vector<std::vector<double>>(f));
    c.thr.assign(3, std::vector<std::vector<double>>(f));
  }
  ++c.checks;
  const size_t live_rows = live.size() / f;
  std::vector<std::vector<FeaturePsi>> psi_by_w(3);
  std::vector<PsiNull> nulls(3);
  const size_t ws[3] = {500, 1000, 2000};
  for (int wi = 0; wi < 3; ++wi) {
    const size_t w = ws[wi];
    if (w > live_rows) continue;
    psi_by_w[wi] = ComputePsi(ref, live.subspan((live_rows - w) * f, w * f)).value();
    DriftRule dr;
    dr.window = w;
    dr.margin = 1.0;
    dr.floor = 0;
    nulls[wi] = FitPsiNull(ref, train, dr).value();
    for (size_t j = 0; j < f; ++j) {
      c.psi[wi][j].push_back(psi_by_w[wi][j].psi);
      c.thr[wi][j].push_back(nulls[wi].threshold[j]);
    }
  }
  for (size_t i = 0; i < rules.size(); ++i) {
    const Rule& r = rules[i];
    const int wi = r.window == 500 ? 0 : r.window == 1000 ? 1 : 2;
    if (psi_by_w[wi].empty()) continue;
    bool alarm;
    if (r.fixed) {
      alarm = FixedAlarm(psi_by_w[wi]);
    } else {
      DriftRule dr;
      dr.window = r.window;
      dr.margin = r.margin;
      dr.min_features = r.k;
      dr.extreme = 0;
      PsiNull n = nulls[wi];
      for (auto& t : n.threshold) t = std::max(dr.floor, t * r.margin);
      alarm = JudgeFeatureDrift(psi_by_w[wi], n, dr).drift;
    }
    c.alarms[i] += alarm;
  }
}

std::string Pct(int a, int n) {
  char b[48];
  std::snprintf(b, sizeof b, "%d/%d (%.0f%%)", a, n, n ? 100.0 * a / n : 0.0);
  return b;
}

double Q(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v.empty() ? NAN : QuantileSorted(v, q);
}

// AR(1) log returns r_t = phi r_{t-1} + sigma e_t (the retraining tests' generator).
struct Synth {
  std::mt19937_64 rng;
  double price = 1.1, last_r = 0;
  UnixNanos t = 1'577'836'800LL * kNanosPerSecond;
  explicit Synth(uint64_t seed) : rng(seed) {}
  void Add(std::vector<market::Bar>& out, size_t n, double phi, double sigma) {
    std::normal_distribution<double> z(0, 1);
    auto round5 = [](double x) { return std::round(x * 1e5) / 1e5; };
    for (size_t i = 0; i < n; ++i) {
      const double r = phi * last_r + sigma * z(rng);
      const double o = round5(price), c = round5(price * std::exp(r));
      const double wick = std::fabs(z(rng)) * sigma * 0.3 * price;
      out.push_back(market::Bar::Create(t, o, round5(std::max(o, c) + wick),
                                        round5(std::min(o, c) - wick), c, 100 + i % 7, 8)
                        .value());
      price *= std::exp(r);
      last_r = r;
      t += kNanosPerHour;
    }
  }
};

models::FeatureFrame Frame(const std::string& sym, const std::vector<market::Bar>& bars,
                           double point) {
  auto cols = models::ToBarColumns(sym, "H1", bars, point).value();
  return models::ComputeBasicFeatures(cols).value();
}

void PrintRates(const std::vector<Rule>& rules,
                const std::vector<std::pair<std::string, Counts>>& cols) {
  std::printf("| rule |");
  for (const auto& [n, c] : cols) std::printf(" %s |", n.c_str());
  std::printf("\n|---|");
  for (size_t i = 0; i < cols.size(); ++i) std::printf("---|");
  std::printf("\n");
  for (size_t i = 0; i < rules.size(); ++i) {
    std::printf("| %s |", rules[i].name.c_str());
    for (const auto& [n, c] : cols)
      std::printf(" %s |", c.alarms.empty() ? "-" : Pct(c.alarms[i], c.checks).c_str());
    std::printf("\n");
  }
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::string dir = "../shared/data/market";
  if (const char* e = std::getenv("SINYAL_DATA_DIR")) dir = e;
  std::string symbols = "EURUSD,GBPUSD,USDJPY,XAUUSD";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--data")
      dir = argv[i + 1];
    else if (a == "--symbols")
      symbols = argv[i + 1];
    else {
      std::fprintf(stderr, "usage: %s [--data DIR] [--symbols A,B]\n", argv[0]);
      return 2;
    }
  }
  const auto rules = Rules();
  std::vector<std::string> names;

  // A. Real data.
  std::vector<std::pair<std::string, Counts>> after_cols, inside_cols;
  std::vector<std::pair<std::string, Counts>> dist;  // for the per-feature table
  std::stringstream ss(symbols);
  for (std::string sym; std::getline(ss, sym, ',');) {
    const std::filesystem::path path = std::filesystem::path(dir) / (sym + "_H1.csv");
    if (!std::filesystem::exists(path)) {
      std::printf("(%s: not in %s, skipped)\n", sym.c_str(), dir.c_str());
      continue;
    }
    auto imported = models::tools::LoadSharedH1(dir, sym);
    if (!imported.ok()) {
      std::fprintf(stderr, "%s: %s\n", sym.c_str(), imported.error().ToString().c_str());
      return 1;
    }
    auto frame = Frame(sym, *imported, models::tools::SharedDataPoint(sym));
    names = frame.names;
    const size_t f = names.size();
    const auto x = CompleteRows(frame);
    const size_t n = x.size() / f;
    Counts after, inside;
    for (size_t end = kTrainRows; end + 2000 <= n; end += 500) {
      std::span<const float> train(x.data() + (end - kTrainRows) * f, kTrainRows * f);
      Check(names, train, std::span<const float>(x.data() + end * f, 2000 * f), rules, after);
      Check(names, train, train.subspan((kTrainRows - 2000) * f), rules, inside);
    }
    std::printf("(%s: %zu complete rows %s .. %s, %d checks)\n", sym.c_str(), n,
                FormatIso8601(imported->front().time()).substr(0, 10).c_str(),
                FormatIso8601(imported->back().time()).substr(0, 10).c_str(), after.checks);
    after_cols.emplace_back(sym + " after", after);
    inside_cols.emplace_back(sym + " inside", inside);
  }
  std::printf(
      "\n### Real H1 data: alarm rate of the check right after training (newest W rows after a "
      "5,000-row reference; a training end every 500 bars)\n\n");
  PrintRates(rules, after_cols);
  std::printf(
      "### Real H1 data: alarm rate on the last W rows of the training period itself (false by "
      "definition)\n\n");
  PrintRates(rules, inside_cols);

  // Per-feature PSI distribution after training, pooled over symbols.
  if (!after_cols.empty()) {
    std::printf(
        "### Real H1 data, pooled: PSI of the W rows right after training, per feature (median / "
        "p90 / p99), and the null q99 of the reference's own windows (median over checks; in "
        "brackets: share of checks where the feature exceeds max(0.1, 1.5 x its null q99))\n\n");
    std::printf(
        "| feature | W=500 PSI | W=500 null q99 | W=1000 PSI | W=1000 null q99 | W=2000 PSI | "
        "W=2000 null q99 |\n|---|---|---|---|---|---|---|\n");
    for (size_t j = 0; j < names.size(); ++j) {
      std::printf("| %s |", names[j].c_str());
      for (int wi = 0; wi < 3; ++wi) {
        std::vector<double> p, t;
        for (const auto& [nm, c] : after_cols) {
          p.insert(p.end(), c.psi[wi][j].begin(), c.psi[wi][j].end());
          t.insert(t.end(), c.thr[wi][j].begin(), c.thr[wi][j].end());
        }
        int over = 0;
        for (size_t i = 0; i < p.size(); ++i) over += p[i] > std::max(0.1, 1.5 * t[i]);
        std::printf(" %.3f / %.3f / %.3f | %.3f (%.0f%%) |", Q(p, 0.5), Q(p, 0.9), Q(p, 0.99),
                    Q(t, 0.5), p.empty() ? 0.0 : 100.0 * over / p.size());
      }
      std::printf("\n");
    }
    std::printf("\n");
  }

  // B. Synthetic streams: 4,000 bars of phase A (the champion's training data), then 2,000 more.
  struct Scenario {
    std::string name;
    double phi, sigma;
  };
  const std::vector<Scenario> scenarios = {{"stable (false alarms)", 0.5, 0.001},
                                           {"flip + 2x vol", -0.5, 0.002},
                                           {"2x vol only", 0.5, 0.002},
                                           {"flip only", -0.5, 0.001}};
  std::vector<std::pair<std::string, Counts>> syn;
  for (const auto& sc : scenarios) {
    Counts c;
    for (uint64_t seed = 1; seed <= 40; ++seed) {
      Synth s(seed);
      std::vector<market::Bar> bars;
      s.Add(bars, 5000, 0.5, 0.001);
      s.Add(bars, 2000, sc.phi, sc.sigma);
      auto frame = Frame("SYN", bars, 0.00001);
      names = frame.names;
      const size_t f = names.size();
      const auto x = CompleteRows(frame);
      const size_t n = x.size() / f;
      const size_t train_rows = n - 2000;
      Check(names, std::span<const float>(x.data(), train_rows * f),
            std::span<const float>(x.data() + train_rows * f, 2000 * f), rules, c);
    }
    syn.emplace_back(sc.name, c);
  }
  std::printf(
      "### Synthetic AR(1) H1 streams (40 seeds): reference on ~4,976 rows of phase A, newest W "
      "rows of the next 2,000 bars\n\n");
  PrintRates(rules, syn);
  return 0;
}
