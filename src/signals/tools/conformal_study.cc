// sinyal_conformal_study: which conformal rule keeps its coverage at horizons 1, 4 and 24 bars?
//
//   sinyal_conformal_study --data-dir ../shared/data/market --symbol EURUSD [--tz NY+7]
//       [--horizons 1,4,24] [--folds 5]
//
// Bars only (the models' point forecast is at most a few percent of the interval's half-width,
// so the study uses point 0; the product's coverage with the model is measured by
// sinyal_horizon_report). The rows are cut like the walk-forward evaluation (initial 40%, then
// `folds` test blocks); for each block a "version" is made at its start from rows before it only,
// and each rule's intervals are scored on the block's rows:
//
//   heldout20   quantiles of the newest 20% of the rows before the block (the model's held-out
//               rows; the rule served until now), purged by h
//   all         quantiles of every row before the block (purged by h)
//   rolling<N>  at each test row t, quantiles of the N newest rows already resolved at t
//               (label window ending at or before t's bar), refreshed every bar
//
// each with scale rv24 * sqrt(h) (the regime's per-bar realised volatility over 24 bars) or
// "har" = sqrt((rv24^2 + rv120^2 + rv480^2) / 3) * sqrt(h), and pooled or Mondrian per vol state.
// Printed: pooled coverage, the mean and the largest |fold coverage - nominal|, mean width.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/time.h"
#include "market/csv_import.h"
#include "models/tools/shared_data.h"
#include "signals/conformal.h"
#include "signals/regime.h"

using namespace sinyal;
using namespace sinyal::signals;

namespace {

int Fail(const std::string& m) { return models::tools::Fail("sinyal_conformal_study", m); }

struct Row {
  size_t bar = 0;
  double actual = 0;
  double scale_rv = 0, scale_har = 0;
  int group = 0;
};

double Quantile(std::vector<double> s, double c) {
  if (s.empty()) return 0;
  const size_t n = s.size();
  size_t k = static_cast<size_t>(std::ceil((static_cast<double>(n) + 1) * c));
  k = std::clamp<size_t>(k, 1, n);
  std::nth_element(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(k - 1), s.end());
  return s[k - 1];
}

struct Rule {
  std::string name;
  int kind = 0;  // 0 heldout20, 1 all, 2 rolling
  size_t window = 0;
  bool har = false;
  bool mondrian = false;
};

}  // namespace

int main(int argc, char** argv) {
  auto parsed = models::tools::ParseOptions(
      argc, argv,
      {{"data-dir", ""}, {"symbol", ""}, {"tz", ""}, {"horizons", "1,4,24"}, {"folds", "5"}});
  if (!parsed.ok()) return Fail(parsed.error().message());
  auto& opt = *parsed;
  if (opt["data-dir"].empty() || opt["symbol"].empty())
    return Fail("--data-dir and --symbol are required");
  const std::string sym = opt["symbol"];
  auto loaded = models::tools::LoadSharedH1(opt["data-dir"], sym, opt["tz"]);
  if (!loaded.ok()) return Fail(loaded.error().ToString());
  const auto& bars = *loaded;
  auto states = ClassifyRegimes(bars);
  if (!states.ok()) return Fail(states.error().ToString());
  const int folds = std::atoi(opt["folds"].c_str());

  // Per-bar log returns and trailing realised volatilities.
  const size_t nb = bars.size();
  std::vector<double> r2(nb, 0), cum(nb + 1, 0);
  for (size_t i = 1; i < nb; ++i) {
    const double r = std::log(bars[i].close() / bars[i - 1].close());
    r2[i] = r * r;
  }
  for (size_t i = 0; i < nb; ++i) cum[i + 1] = cum[i] + r2[i];
  auto rv = [&](size_t i, size_t w) {
    if (i < w) return std::nan("");
    return std::sqrt((cum[i + 1] - cum[i + 1 - w]) / static_cast<double>(w));
  };

  std::printf("## %s H1 (%s .. %s UTC, %zu bars): conformal rules by horizon\n\n", sym.c_str(),
              FormatIso8601(bars.front().time()).c_str(), FormatIso8601(bars.back().time()).c_str(),
              nb);
  std::printf(
      "Walk-forward cut: initial 40%%, %d test blocks; nominal 80%% and 95%%. Columns: pooled "
      "coverage, mean |fold - nominal|, max |fold - nominal| (pp), mean width (bp).\n\n",
      folds);

  std::vector<Rule> rules;
  for (bool har : {false, true}) {
    for (bool mon : {false, true}) {
      const std::string suffix = std::string(har ? " har" : " rv24") + (mon ? " mondrian" : "");
      rules.push_back({"heldout20" + suffix, 0, 0, har, mon});
      rules.push_back({"all" + suffix, 1, 0, har, mon});
      for (size_t w : {500, 1000, 2000, 4000}) {
        rules.push_back({"rolling" + std::to_string(w) + suffix, 2, w, har, mon});
      }
    }
  }

  std::string hs = opt["horizons"];
  for (size_t pos = 0; pos < hs.size();) {
    size_t comma = hs.find(',', pos);
    if (comma == std::string::npos) comma = hs.size();
    const int h = std::atoi(hs.substr(pos, comma - pos).c_str());
    pos = comma + 1;
    if (h < 1) return Fail("bad horizon");
    std::vector<Row> rows;
    for (size_t i = 480; i + h < nb; ++i) {
      const RegimeState& s = (*states)[i];
      if (!s.ready || !(s.rv > 0)) continue;
      Row r;
      r.bar = i;
      r.actual = std::log(bars[i + h].close() / bars[i].close());
      r.scale_rv = s.rv * std::sqrt(static_cast<double>(h));
      const double a = s.rv, b = rv(i, 120), c = rv(i, 480);
      r.scale_har = std::sqrt((a * a + b * b + c * c) / 3.0) * std::sqrt(static_cast<double>(h));
      r.group = static_cast<int>(s.vol);
      if (std::isfinite(r.actual) && r.scale_har > 0) rows.push_back(r);
    }
    const size_t n = rows.size();
    const size_t start = static_cast<size_t>(0.4 * static_cast<double>(n));
    const size_t block = (n - start) / static_cast<size_t>(folds);
    std::printf("### horizon %d (%zu rows; test %s .. %s)\n\n", h, n,
                FormatIso8601(bars[rows[start].bar].time()).substr(0, 10).c_str(),
                FormatIso8601(bars[rows.back().bar].time()).substr(0, 10).c_str());
    std::printf(
        "| rule | 80%%: pooled | mean dev | max dev | 95%%: pooled | mean dev | max dev | width "
        "80%% | width 95%% |\n");
    std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (const Rule& rule : rules) {
      auto scale = [&](const Row& r) { return rule.har ? r.scale_har : r.scale_rv; };
      auto score = [&](const Row& r) { return std::fabs(r.actual) / scale(r); };
      const double cov[2] = {0.8, 0.95};
      size_t covered[2] = {0, 0}, total = 0;
      double dev_sum[2] = {0, 0}, dev_max[2] = {0, 0}, width[2] = {0, 0};
      for (int f = 0; f < folds; ++f) {
        const size_t t0 = start + block * f, t1 = f + 1 == folds ? n : t0 + block;
        // Rows resolved before the block: label window ends at or before the block's first bar.
        size_t avail = t0;
        while (avail > 0 && rows[avail - 1].bar + h > rows[t0].bar) --avail;
        // Fixed-window quantiles (per group and pooled).
        double q[2][4] = {};
        if (rule.kind != 2) {
          const size_t from = rule.kind == 0 ? avail - avail / 5 : 0;
          for (int k = 0; k < 2; ++k) {
            for (int g = -1; g < 3; ++g) {
              std::vector<double> s;
              for (size_t j = from; j < avail; ++j) {
                if (g < 0 || rows[j].group == g) s.push_back(score(rows[j]));
              }
              q[k][g + 1] = s.size() >= 200 || g < 0 ? Quantile(s, cov[k]) : -1;
            }
            for (int g = 0; g < 3; ++g) {
              if (q[k][g + 1] < 0) q[k][g + 1] = q[k][0];
            }
          }
        }
        size_t fc[2] = {0, 0}, fn = 0;
        size_t lo = 0;  // rolling: first row of the window
        size_t last_refresh_bar = SIZE_MAX;
        for (size_t t = t0; t < t1; ++t) {
          const Row& r = rows[t];
          if (rule.kind == 2 && (last_refresh_bar == SIZE_MAX || r.bar >= last_refresh_bar + 1)) {
            size_t hi = t;
            while (hi > 0 && rows[hi - 1].bar + h > r.bar) --hi;
            lo = hi > rule.window ? hi - rule.window : 0;
            for (int k = 0; k < 2; ++k) {
              for (int g = -1; g < 3; ++g) {
                std::vector<double> s;
                for (size_t j = lo; j < hi; ++j) {
                  if (g < 0 || rows[j].group == g) s.push_back(score(rows[j]));
                }
                q[k][g + 1] = (s.size() >= rule.window / 5 || g < 0) ? Quantile(s, cov[k]) : -1;
              }
              for (int g = 0; g < 3; ++g) {
                if (q[k][g + 1] < 0) q[k][g + 1] = q[k][0];
              }
            }
            last_refresh_bar = r.bar;
          }
          for (int k = 0; k < 2; ++k) {
            const double qq = rule.mondrian ? q[k][r.group + 1] : q[k][0];
            fc[k] += std::fabs(r.actual) <= qq * scale(r);
            width[k] += 2 * qq * scale(r);
          }
          ++fn;
        }
        for (int k = 0; k < 2; ++k) {
          covered[k] += fc[k];
          const double d = std::fabs(static_cast<double>(fc[k]) / fn - cov[k]) * 100;
          dev_sum[k] += d;
          dev_max[k] = std::max(dev_max[k], d);
        }
        total += fn;
      }
      std::printf("| %s | %.1f%% | %.1f | %.1f | %.1f%% | %.1f | %.1f | %.1f | %.1f |\n",
                  rule.name.c_str(), 100.0 * covered[0] / total, dev_sum[0] / folds, dev_max[0],
                  100.0 * covered[1] / total, dev_sum[1] / folds, dev_max[1],
                  1e4 * width[0] / total, 1e4 * width[1] / total);
    }
    std::printf("\n");
  }
  return 0;
}
