// sinyal_input_study: do richer inputs improve the walk-forward log loss beyond noise? (issue 13)
//
//   sinyal_input_study --data-dir ../shared/data/market --symbol EURUSD --horizon 1
//       [--candidates volscaled,calendar,mtf,regime,xasset] [--folds 5] [--trees N] [--json FILE]
//
// (--trees overrides every member's tree count: for the CI smoke run only.)
//
// Baseline: the default ensemble on core-v1 (the production rows, models/inputs.h). Each
// candidate adds one block of columns to core-v1; both run the same walk-forward evaluation
// (5 folds after an initial 40%, purged, the shrunk logistic calibration) on the same rows (rows
// where either has an undefined value are dropped from both). The per-row difference of the
// calibrated log loss (baseline - candidate) gives the gain with a Newey-West interval. Rule
// (fixed before any run): a candidate is kept at a horizon when the gain pooled over the four
// symbols has a 95% interval above zero and no symbol's interval lies below zero.
//
// Candidates (every column uses bars up to t only; UTC clock):
//   volscaled  ln(c_t / c_{t-k}) / (rv24_t sqrt k) for k = 1, 2, 4, 8, 24; rv24 / rv120
//   calendar   UTC hour, weekday, London 07-16, New York 12-21, their overlap 12-16, Asia 23-08
//   mtf        H4 and D1 context from UTC buckets: the last completed H4 / D1 bar's return and the
//              current partial bucket's return so far (each / (rv24 sqrt(bucket hours))), the close's
//              position in today's range so far, RSI(14) of completed D1 closes
//   regime     the 12-regime classifier's columns (regime.h RegimeFeatures: code, trend, vol,
//              ADX, slope, rv percentile)
//   xasset     other symbols' returns over the last hour and the hour before (lead-lag) and over
//              24 hours (EURUSD, GBPUSD, USDJPY, XAUUSD, USDCAD, USDCHF minus this one; 0 where a
//              symbol has no bar at that UTC hour), and the dollar index (DXY_H1.csv) context of
//              cross_asset.h CrossAssetFeatures (1 h and 24 h returns, correlation, break z)
// A kept candidate goes into the product through the model-inputs seam (models/inputs.h,
// features/ catalogue); one that is not kept stays here.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/time.h"
#include "features/feature_set.h"
#include "features/indicators.h"
#include "market/csv_import.h"
#include "models/inputs.h"
#include "models/market_adapter.h"
#include "models/selection.h"
#include "models/skill.h"
#include "models/tools/shared_data.h"
#include "models/walk_forward.h"
#include "signals/cross_asset.h"
#include "signals/pipeline.h"
#include "signals/regime.h"

using namespace sinyal;
using namespace sinyal::models;
using nlohmann::json;

namespace {

int Fail(const std::string& m) { return models::tools::Fail("sinyal_input_study", m); }

std::string g_dir;

FeatureFrame Frame(const std::string& name, std::vector<std::string> names, size_t rows) {
  FeatureFrame f;
  f.set_name = name;
  f.set_version = 1;
  f.names = std::move(names);
  f.rows = rows;
  f.values.assign(rows * f.names.size(), std::nanf(""));
  return f;
}

std::vector<double> Rv(const std::vector<market::Bar>& b, size_t w) {
  std::vector<double> out(b.size(), std::nan("")), r2(b.size(), 0);
  for (size_t i = 1; i < b.size(); ++i) {
    const double r = std::log(b[i].close() / b[i - 1].close());
    r2[i] = r * r;
  }
  double s = 0;
  for (size_t i = 1; i < b.size(); ++i) {
    s += r2[i];
    if (i > w) s -= r2[i - w];
    if (i >= w) out[i] = std::sqrt(s / static_cast<double>(w));
  }
  return out;
}

FeatureFrame VolScaled(const std::vector<market::Bar>& b) {
  const auto rv24 = Rv(b, 24), rv120 = Rv(b, 120);
  const int ks[5] = {1, 2, 4, 8, 24};
  FeatureFrame f = Frame(
      "volscaled", {"vs.ret_1", "vs.ret_2", "vs.ret_4", "vs.ret_8", "vs.ret_24", "vs.vol_ratio"},
      b.size());
  for (size_t i = 0; i < b.size(); ++i) {
    float* row = f.values.data() + i * 6;
    if (!(rv24[i] > 0)) continue;
    for (int k = 0; k < 5; ++k) {
      if (i >= static_cast<size_t>(ks[k])) {
        row[k] = static_cast<float>(std::log(b[i].close() / b[i - ks[k]].close()) /
                                    (rv24[i] * std::sqrt(ks[k])));
      }
    }
    if (rv120[i] > 0) row[5] = static_cast<float>(rv24[i] / rv120[i]);
  }
  return f;
}

FeatureFrame Calendar(const std::vector<market::Bar>& b) {
  FeatureFrame f =
      Frame("calendar",
            {"cal.hour", "cal.weekday", "cal.london", "cal.new_york", "cal.overlap", "cal.asia"},
            b.size());
  for (size_t i = 0; i < b.size(); ++i) {
    const int64_t s = b[i].time() / kNanosPerSecond;
    const int hour = static_cast<int>((s / 3600) % 24);
    const int weekday = static_cast<int>(((s / 86400) + 4) % 7);  // 1970-01-01 was a Thursday (4)
    float* row = f.values.data() + i * 6;
    row[0] = static_cast<float>(hour);
    row[1] = static_cast<float>(weekday);
    row[2] = hour >= 7 && hour < 16;
    row[3] = hour >= 12 && hour < 21;
    row[4] = hour >= 12 && hour < 16;
    row[5] = hour >= 23 || hour < 8;
  }
  return f;
}

FeatureFrame MultiTimeframe(const std::vector<market::Bar>& b) {
  const auto rv24 = Rv(b, 24);
  FeatureFrame f = Frame("mtf",
                         {"mtf.h4_last", "mtf.h4_partial", "mtf.d1_last", "mtf.d1_partial",
                          "mtf.d1_range_pos", "mtf.d1_rsi14"},
                         b.size());
  auto rsi = features::Rsi::Create(14).value();
  // Per bucket size: the close of the last completed bucket and of the one before.
  struct Bucket {
    int64_t id = -1;
    double last_close = std::nan(""), prev_close = std::nan("");
    double open_close = std::nan("");  // close of the previous completed bucket (partial base)
  } h4, d1;
  double day_high = 0, day_low = 0;
  double d1_rsi = std::nan("");
  double cur_close[2] = {std::nan(""), std::nan("")};
  for (size_t i = 0; i < b.size(); ++i) {
    const int64_t hours = b[i].time() / kNanosPerHour;
    auto step = [&](Bucket& k, int64_t id, int which) {
      if (id != k.id) {
        if (k.id >= 0) {
          // The bucket that just ended completed with the previous bar's close.
          k.prev_close = k.last_close;
          k.last_close = cur_close[which];
          if (which == 1) {
            rsi.UpdateRaw(k.last_close);
            d1_rsi = rsi.Value();
          }
        }
        k.id = id;
        if (which == 1) {
          day_high = b[i].high();
          day_low = b[i].low();
        }
      }
      cur_close[which] = b[i].close();
    };
    step(h4, hours / 4, 0);
    step(d1, hours / 24, 1);
    day_high = std::max(day_high, b[i].high());
    day_low = std::min(day_low, b[i].low());
    float* row = f.values.data() + i * 6;
    if (!(rv24[i] > 0)) continue;
    auto scaled = [&](double a, double c, double hrs) {
      return (a > 0 && c > 0) ? static_cast<float>(std::log(a / c) / (rv24[i] * std::sqrt(hrs)))
                              : std::nanf("");
    };
    row[0] = scaled(h4.last_close, h4.prev_close, 4);
    row[1] = scaled(b[i].close(), h4.last_close, 4);
    row[2] = scaled(d1.last_close, d1.prev_close, 24);
    row[3] = scaled(b[i].close(), d1.last_close, 24);
    row[4] = day_high > day_low
                 ? static_cast<float>((b[i].close() - day_low) / (day_high - day_low))
                 : 0.5f;
    row[5] = static_cast<float>(d1_rsi);
  }
  return f;
}

Result<FeatureFrame> Regime(const std::vector<market::Bar>& b) {
  SINYAL_ASSIGN_OR_RETURN(auto states, signals::ClassifyRegimes(b));
  FeatureFrame f = signals::RegimeFrame(states);
  f.set_name = "regime";
  return f;
}

Result<FeatureFrame> CrossAsset(const std::string& sym, const std::vector<market::Bar>& b,
                                const std::string& tz) {
  const std::vector<std::string> others_all = {"EURUSD", "GBPUSD", "USDJPY",
                                               "XAUUSD", "USDCAD", "USDCHF"};
  std::vector<std::string> names;
  std::vector<std::unordered_map<int64_t, double>> closes;
  for (const auto& o : others_all) {
    if (o == sym || !std::filesystem::exists(std::filesystem::path(g_dir) / (o + "_H1.csv")))
      continue;
    SINYAL_ASSIGN_OR_RETURN(auto ob, models::tools::LoadSharedH1(g_dir, o, tz.empty() ? "" : tz));
    std::unordered_map<int64_t, double> m;
    for (const auto& x : ob) m[x.time() / kNanosPerHour] = x.close();
    closes.push_back(std::move(m));
    names.push_back("xa." + o + ".ret_1");
    names.push_back("xa." + o + ".ret_1_prev");
    names.push_back("xa." + o + ".ret_24");
  }
  FeatureFrame dxy;
  bool have_dxy = false;
  if (tz.empty() && std::filesystem::exists(std::filesystem::path(g_dir) / "DXY_H1.csv")) {
    market::CsvImportOptions io;
    SINYAL_ASSIGN_OR_RETURN(io.source_tz, TimeZone::Parse("NY+7"));
    io.timeframe = market::Timeframe::kH1;
    auto d = market::ImportBarsCsvFile(std::filesystem::path(g_dir) / "DXY_H1.csv", io);
    if (d.ok()) {
      std::vector<UnixNanos> t;
      std::vector<double> v;
      for (const auto& x : d->bars) {
        t.push_back(x.time());
        v.push_back(x.close());
      }
      auto fr = signals::CrossAssetFeatures(b, market::Timeframe::kH1, t, v);
      if (fr.ok()) {
        dxy = std::move(fr).value();
        have_dxy = true;
      }
    }
  }
  const size_t k = names.size();
  std::vector<std::string> all = names;
  if (have_dxy) all.insert(all.end(), dxy.names.begin(), dxy.names.end());
  FeatureFrame f = Frame("xasset", all, b.size());
  for (size_t i = 0; i < b.size(); ++i) {
    const int64_t hr = b[i].time() / kNanosPerHour;
    float* row = f.values.data() + i * all.size();
    for (size_t s = 0; s < closes.size(); ++s) {
      auto get = [&](int64_t h) {
        auto it = closes[s].find(h);
        return it == closes[s].end() ? std::nan("") : it->second;
      };
      // The other symbol's bar at this UTC hour closed with this bar (same open time).
      const double c0 = get(hr), c1 = get(hr - 1), c2 = get(hr - 2), c24 = get(hr - 24);
      auto lr = [](double a, double c) { return (a > 0 && c > 0) ? std::log(a / c) : 0.0; };
      row[s * 3] = static_cast<float>(lr(c0, c1));
      row[s * 3 + 1] = static_cast<float>(lr(c1, c2));
      row[s * 3 + 2] = static_cast<float>(lr(c0, c24));
    }
    if (have_dxy) {
      for (size_t c = 0; c < dxy.cols(); ++c) {
        const float v = dxy.Row(i)[c];
        row[k + c] = std::isfinite(v) ? v : 0.0f;  // no index bar at this hour: no information
      }
    }
  }
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  std::string command = "sinyal_input_study";
  auto parsed =
      models::tools::ParseStudyOptions(argc, argv,
                                       {{"candidates", "volscaled,calendar,mtf,regime,xasset"},
                                        {"folds", "5"},
                                        {"json", ""},
                                        {"trees", ""}},
                                       &command);
  if (!parsed.ok()) return Fail(parsed.error().message());
  auto& opt = *parsed;
  g_dir = opt["data-dir"];
  auto series = models::tools::LoadStudySeries(opt);
  if (!series.ok()) return Fail(series.error().ToString());
  auto& [sym, mbars, cols, cfg] = *series;
  const int h = cfg.horizon;
  auto core = ComputeInputs(InputSpec::FeatureSet(features::DefaultFeatureSet()).value(), mbars);
  if (!core.ok()) return Fail(core.error().ToString());
  LabelConfig lc;
  lc.horizon = h;
  lc.dead_band = cfg.dead_band;

  std::vector<std::pair<std::string, FeatureFrame>> cands;
  std::string list = opt["candidates"];
  for (size_t pos = 0; pos < list.size();) {
    size_t comma = list.find(',', pos);
    if (comma == std::string::npos) comma = list.size();
    const std::string c = list.substr(pos, comma - pos);
    pos = comma + 1;
    Result<FeatureFrame> fr =
        Status::InvalidArgument("unknown candidate '" + c + "'", "candidates");
    if (c == "volscaled") fr = VolScaled(mbars);
    if (c == "calendar") fr = Calendar(mbars);
    if (c == "mtf") fr = MultiTimeframe(mbars);
    if (c == "regime") fr = Regime(mbars);
    if (c == "xasset") fr = CrossAsset(sym, mbars, opt["tz"]);
    if (!fr.ok()) return Fail(fr.error().ToString());
    auto combined = signals::CombineFrames(*core, *fr);
    if (!combined.ok()) return Fail(combined.error().ToString());
    cands.emplace_back(c, std::move(combined).value());
  }
  // Datasets on common rows: the baseline and every candidate.
  auto base_ds = BuildDataset(cols, *core, lc, cfg.min_train_rows);
  if (!base_ds.ok()) return Fail(base_ds.error().ToString());
  std::vector<Dataset> cand_ds;
  for (auto& [name, frame] : cands) {
    auto d = BuildDataset(cols, frame, lc, cfg.min_train_rows);
    if (!d.ok()) return Fail(name + ": " + d.error().ToString());
    cand_ds.push_back(std::move(d).value());
  }
  std::vector<const Dataset*> all = {&*base_ds};
  for (const auto& d : cand_ds) all.push_back(&d);
  auto aligned = AlignDatasets(all);
  if (!aligned.ok()) return Fail(aligned.error().ToString());
  WalkForwardConfig wf;
  wf.folds = std::atoi(opt["folds"].c_str());
  std::printf("### %s H1, horizon %d: %zu common rows\n\n", sym.c_str(), h, (*aligned)[0].size());
  std::printf("`%s`\n\n", command.c_str());
  std::printf(
      "| inputs | columns | log loss | gain over core-v1 [95%%] | reliability gap | skill shown "
      "|\n|---|---:|---:|---|---:|---|\n");
  std::fflush(stdout);
  auto base = RunWalkForward((*aligned)[0], cfg, wf);
  if (!base.ok()) return Fail(base.error().ToString());
  auto row_ll = [](const WalkForwardResult& r) {
    std::vector<double> v(r.pooled_labels.size());
    for (size_t i = 0; i < v.size(); ++i) {
      const double p = r.pooled_p_up[i];
      v[i] = -std::log(std::clamp(r.pooled_labels[i] == kUp ? p : 1 - p, 1e-15, 1.0));
    }
    return v;
  };
  const auto base_ll = row_ll(*base);
  std::printf("| core-v1 (baseline) | %zu | %.5f | - | %.1f pp | %s |\n",
              (*aligned)[0].num_features(), base->pooled.log_loss,
              100 * base->pooled.reliability_gap, base->skill.shown ? "yes" : "no");
  std::fflush(stdout);
  json out = {
      {"symbol", sym},
      {"horizon", h},
      {"command", command},
      {"rows", (*aligned)[0].size()},
      {"baseline",
       {{"log_loss", base->pooled.log_loss}, {"reliability_gap", base->pooled.reliability_gap}}},
      {"candidates", json::array()}};
  for (size_t c = 0; c < cands.size(); ++c) {
    auto r = RunWalkForward((*aligned)[c + 1], cfg, wf);
    if (!r.ok()) return Fail(cands[c].first + ": " + r.error().ToString());
    const auto ll = row_ll(*r);
    std::vector<double> d(ll.size());
    for (size_t i = 0; i < d.size(); ++i) d[i] = base_ll[i] - ll[i];
    const MeanInterval g = HacMean(d, HacLag(d.size(), h));
    std::printf("| + %s | %zu | %.5f | %+.5f [%+.5f, %+.5f] | %.1f pp | %s |\n",
                cands[c].first.c_str(), (*aligned)[c + 1].num_features(), r->pooled.log_loss,
                g.mean, g.lo, g.hi, 100 * r->pooled.reliability_gap, r->skill.shown ? "yes" : "no");
    std::fflush(stdout);
    out["candidates"].push_back({{"name", cands[c].first},
                                 {"columns", (*aligned)[c + 1].num_features()},
                                 {"log_loss", r->pooled.log_loss},
                                 {"reliability_gap", r->pooled.reliability_gap},
                                 {"gain", g.mean},
                                 {"gain_se", g.se},
                                 {"gain_ci95", {g.lo, g.hi}},
                                 {"n", g.n},
                                 {"n_effective", g.n_effective},
                                 {"per_row_gain_sum", g.mean * static_cast<double>(g.n)}});
  }
  std::printf("\n");
  if (!opt["json"].empty()) std::ofstream(opt["json"]) << out.dump(1) << "\n";
  return 0;
}
