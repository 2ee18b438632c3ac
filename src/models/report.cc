#include "models/report.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/html.h"
#include "core/time.h"

namespace sinyal::models {

namespace {

std::string F(double v, int prec = 4) {
  if (std::isnan(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", prec, v);
  return buf;
}
std::string Pct(double v, int prec = 1) { return std::isnan(v) ? "n/a" : F(100 * v, prec) + "%"; }
std::string PctCi(const Interval& ci) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "[%.1f, %.1f]", 100 * ci.lo, 100 * ci.hi);
  return buf;
}
std::string Pval(double p) {
  char buf[32];
  if (p < 1e-4) {
    std::snprintf(buf, sizeof(buf), "%.1e", p);
  } else {
    std::snprintf(buf, sizeof(buf), "%.4f", p);
  }
  return buf;
}
std::string Date(UnixNanos t) { return FormatIso8601(t).substr(0, 16); }

// Plot frame: 480x400 with a 60px margin; data coordinates x in [x0,x1], y in [0,1].
struct Frame {
  double x0, x1, y0 = 0, y1 = 1;
  double W = 480, H = 400, L = 60, R = 20, T = 40, B = 50;
  double X(double x) const { return L + (x - x0) / (x1 - x0) * (W - L - R); }
  double Y(double y) const { return H - B - (y - y0) / (y1 - y0) * (H - T - B); }
};

void Axes(std::ostringstream& os, const Frame& f, const std::string& title, const std::string& xl,
          const std::string& yl, int xticks) {
  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << f.W << "\" height=\"" << f.H
     << "\" viewBox=\"0 0 " << f.W << " " << f.H
     << "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  os << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  os << "<text x=\"" << f.W / 2 << "\" y=\"20\" text-anchor=\"middle\" font-size=\"13\">"
     << HtmlEscape(title) << "</text>\n";
  for (int i = 0; i <= 5; ++i) {
    const double y = f.y0 + (f.y1 - f.y0) * i / 5;
    os << "<line x1=\"" << f.L << "\" x2=\"" << f.W - f.R << "\" y1=\"" << f.Y(y) << "\" y2=\""
       << f.Y(y) << "\" stroke=\"#eee\"/>\n";
    os << "<text x=\"" << f.L - 6 << "\" y=\"" << f.Y(y) + 4 << "\" text-anchor=\"end\">" << F(y, 2)
       << "</text>\n";
  }
  for (int i = 0; i <= xticks; ++i) {
    const double x = f.x0 + (f.x1 - f.x0) * i / xticks;
    os << "<line x1=\"" << f.X(x) << "\" x2=\"" << f.X(x) << "\" y1=\"" << f.T << "\" y2=\""
       << f.H - f.B << "\" stroke=\"#eee\"/>\n";
    os << "<text x=\"" << f.X(x) << "\" y=\"" << f.H - f.B + 16 << "\" text-anchor=\"middle\">"
       << F(x, 2) << "</text>\n";
  }
  os << "<rect x=\"" << f.L << "\" y=\"" << f.T << "\" width=\"" << f.W - f.L - f.R
     << "\" height=\"" << f.H - f.T - f.B << "\" fill=\"none\" stroke=\"#333\"/>\n";
  os << "<text x=\"" << (f.L + f.W - f.R) / 2 << "\" y=\"" << f.H - 12
     << "\" text-anchor=\"middle\">" << HtmlEscape(xl) << "</text>\n";
  os << "<text transform=\"translate(16," << (f.T + f.H - f.B) / 2
     << ") rotate(-90)\" text-anchor=\"middle\">" << HtmlEscape(yl) << "</text>\n";
}

void Legend(std::ostringstream& os, const Frame& f, int row, const std::string& color,
            const std::string& label) {
  const double y = f.T + 14 + 16 * row;
  os << "<rect x=\"" << f.L + 10 << "\" y=\"" << y - 8 << "\" width=\"10\" height=\"10\" fill=\""
     << color << "\"/>\n<text x=\"" << f.L + 26 << "\" y=\"" << y + 1 << "\">" << HtmlEscape(label)
     << "</text>\n";
}

}  // namespace

std::string ReliabilitySvg(const ClassificationMetrics& cal, const ClassificationMetrics& raw,
                           const std::string& title) {
  // Zoom on the populated range: FX direction probabilities sit near 0.5.
  double lo = 1, hi = 0;
  for (const auto* m : {&cal, &raw}) {
    for (const auto& b : m->reliability) {
      if (b.count == 0) continue;
      lo = std::min({lo, b.lo, b.observed});
      hi = std::max({hi, b.hi, b.observed});
    }
  }
  if (lo >= hi) lo = 0, hi = 1;
  lo = std::max(0.0, std::floor(lo * 10) / 10);
  hi = std::min(1.0, std::ceil(hi * 10) / 10);
  // Both axes share the range so that the diagonal is the identity.
  Frame f{lo, hi, lo, hi};
  std::ostringstream os;
  auto Y = [&](double y) { return f.Y(y); };
  Axes(os, f, title, "predicted P(up) (bin mean)", "observed frequency of up", 5);
  os << "<line x1=\"" << f.X(lo) << "\" y1=\"" << Y(lo) << "\" x2=\"" << f.X(hi) << "\" y2=\""
     << Y(hi) << "\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>\n";
  size_t total = std::max<size_t>(cal.n, 1);
  auto series = [&](const ClassificationMetrics& m, const std::string& color) {
    std::string path;
    for (const auto& b : m.reliability) {
      if (b.count == 0) continue;
      const double r = 2 + 14 * std::sqrt(static_cast<double>(b.count) / total);
      os << "<circle cx=\"" << f.X(b.mean_predicted) << "\" cy=\"" << Y(b.observed) << "\" r=\""
         << r << "\" fill=\"" << color << "\" fill-opacity=\"0.5\"><title>n=" << b.count
         << " predicted=" << F(b.mean_predicted) << " observed=" << F(b.observed)
         << "</title></circle>\n";
      path += path.empty() ? "M" : " L";
      path += F(f.X(b.mean_predicted), 1);
      path += ',';
      path += F(Y(b.observed), 1);
    }
    if (!path.empty())
      os << "<path d=\"" << path << "\" fill=\"none\" stroke=\"" << color << "\"/>\n";
  };
  series(raw, "#d62728");
  series(cal, "#1f77b4");
  Legend(os, f, 0, "#1f77b4", "calibrated (mean |gap| " + F(cal.reliability_gap, 4) + ")");
  Legend(os, f, 1, "#d62728", "uncalibrated (mean |gap| " + F(raw.reliability_gap, 4) + ")");
  os << "<text x=\"" << f.W - f.R << "\" y=\"" << f.T - 6
     << "\" text-anchor=\"end\" fill=\"#777\">axes " << F(lo, 1) << ".." << F(hi, 1)
     << "; area ~ rows per bin</text>\n";
  os << "</svg>\n";
  return os.str();
}

std::string CoverageSvg(const ClassificationMetrics& m, double baseline_accuracy,
                        const std::string& title) {
  Frame f{0.5, 0.8};
  std::ostringstream os;
  Axes(os, f, title, "abstain when confidence < threshold", "accuracy / coverage", 6);
  std::string acc_path, cov_path;
  for (const auto& a : m.abstention) {
    cov_path += cov_path.empty() ? "M" : " L";
    cov_path += F(f.X(a.threshold), 1);
    cov_path += ',';
    cov_path += F(f.Y(a.coverage), 1);
    os << "<circle cx=\"" << f.X(a.threshold) << "\" cy=\"" << f.Y(a.coverage)
       << "\" r=\"3\" fill=\"#2ca02c\"><title>coverage " << F(a.coverage) << " n=" << a.n
       << "</title></circle>\n";
    if (a.n == 0) continue;
    acc_path += acc_path.empty() ? "M" : " L";
    acc_path += F(f.X(a.threshold), 1);
    acc_path += ',';
    acc_path += F(f.Y(a.accuracy), 1);
    os << "<line x1=\"" << f.X(a.threshold) << "\" x2=\"" << f.X(a.threshold) << "\" y1=\""
       << f.Y(a.accuracy_ci.lo) << "\" y2=\"" << f.Y(a.accuracy_ci.hi)
       << "\" stroke=\"#1f77b4\"/>\n<circle cx=\"" << f.X(a.threshold) << "\" cy=\""
       << f.Y(a.accuracy) << "\" r=\"3\" fill=\"#1f77b4\"><title>accuracy " << F(a.accuracy)
       << " n=" << a.n << "</title></circle>\n";
  }
  if (!acc_path.empty())
    os << "<path d=\"" << acc_path << "\" fill=\"none\" stroke=\"#1f77b4\"/>\n";
  if (!cov_path.empty())
    os << "<path d=\"" << cov_path << "\" fill=\"none\" stroke=\"#2ca02c\"/>\n";
  if (!std::isnan(baseline_accuracy)) {
    os << "<line x1=\"" << f.X(0.5) << "\" x2=\"" << f.X(0.8) << "\" y1=\""
       << f.Y(baseline_accuracy) << "\" y2=\"" << f.Y(baseline_accuracy)
       << "\" stroke=\"#d62728\" stroke-dasharray=\"5 3\"/>\n";
  }
  Legend(os, f, 0, "#1f77b4", "accuracy on kept rows (95% interval)");
  Legend(os, f, 1, "#2ca02c", "coverage (share of rows kept)");
  Legend(os, f, 2, "#d62728", "majority-class baseline accuracy (all rows)");
  os << "</svg>\n";
  return os.str();
}

EvaluationReport RenderEvaluationReport(const WalkForwardResult& r, const std::string& basename,
                                        const std::string& command) {
  EvaluationReport rep;
  rep.json = ToJson(r).dump(2);
  rep.reliability_svg_name = basename + "_reliability.svg";
  rep.coverage_svg_name = basename + "_coverage.svg";
  const std::string what = r.symbol + " " + r.timeframe + " h=" + std::to_string(r.horizon);
  rep.reliability_svg =
      ReliabilitySvg(r.pooled, r.pooled_raw, "Reliability, " + what + " (pooled test folds)");
  double maj_acc = std::nan("");
  for (const auto& b : r.pooled_baselines) {
    if (b.name == "majority_class") maj_acc = b.metrics.accuracy;
  }
  rep.coverage_svg = CoverageSvg(r.pooled, maj_acc, "Coverage vs accuracy, " + what);

  std::ostringstream md;
  md << "# Walk-forward evaluation: " << what << "\n\n";
  if (!command.empty()) md << "Reproduce with:\n\n```\n" << command << "\n```\n\n";
  md << "- data: " << r.rows << " labelled rows (" << r.neutral_dropped
     << " neutral rows inside the dead band excluded), prediction bars " << Date(r.data_from)
     << " .. " << Date(r.data_to) << " UTC\n";
  md << "- label: sign of the " << r.horizon << "-bar forward return, dead band "
     << F(r.dead_band * 1e4, 2) << " bp; " << r.num_classes << " classes\n";
  md << "- features: `" << r.feature_set << "` v" << r.feature_set_version << "\n";
  md << "- walk-forward: " << r.folds.size() << " folds, expanding window, purged, embargo "
     << r.walk_forward_config.value("embargo_bars", 0) << " bars; calibration on the newest "
     << F(100 * r.train_config.value("calibration_fraction", 0.0), 0)
     << "% of each training window (isotonic)\n";
  md << "- total training time: " << F(r.total_train_seconds, 1) << " s for " << r.folds.size()
     << " ensembles\n\n";

  md << "## Pooled out-of-sample results\n\n";
  md << "| predictor | n | accuracy | 95% CI | balanced acc. | log loss | Brier | ROC AUC | "
        "McNemar p vs model |\n";
  md << "|---|---|---|---|---|---|---|---|---|\n";
  auto row = [&](const std::string& name, const ClassificationMetrics& m, const std::string& p) {
    md << "| " << name << " | " << m.n << " | " << Pct(m.accuracy, 2) << " | "
       << PctCi(m.accuracy_ci) << " | " << Pct(m.balanced_accuracy, 2) << " | " << F(m.log_loss)
       << " | " << F(m.brier) << " | " << F(m.roc_auc, 3) << " | " << p << " |\n";
  };
  row("ensemble (calibrated)", r.pooled, "-");
  row("ensemble (uncalibrated)", r.pooled_raw, "-");
  for (const auto& b : r.pooled_baselines) {
    row(b.name, b.metrics,
        Pval(b.model_vs_baseline.p_value) +
            " (b=" + std::to_string(b.model_vs_baseline.model_only_correct) +
            ", c=" + std::to_string(b.model_vs_baseline.baseline_only_correct) + ")");
  }
  md << "\nMean member spread (std of members' P(up)): " << F(r.pooled_mean_uncertainty) << "\n\n";

  md << "## Calibration\n\n![reliability](" << rep.reliability_svg_name << ")\n\n";
  md << "Mean absolute reliability gap (count-weighted, held-out): calibrated **"
     << F(r.pooled.reliability_gap) << "**, uncalibrated " << F(r.pooled_raw.reliability_gap)
     << ".\n\n";
  md << "| P(up) bin | n | mean predicted | observed |\n|---|---|---|---|\n";
  for (const auto& b : r.pooled.reliability) {
    if (b.count == 0) continue;
    md << "| " << F(b.lo, 1) << "-" << F(b.hi, 1) << " | " << b.count << " | "
       << F(b.mean_predicted) << " | " << F(b.observed) << " |\n";
  }
  md << "\n## Abstention\n\n![coverage](" << rep.coverage_svg_name << ")\n\n";
  md << "| threshold | kept n | coverage | accuracy | 95% CI |\n|---|---|---|---|---|\n";
  for (const auto& a : r.pooled.abstention) {
    md << "| " << F(a.threshold, 2) << " | " << a.n << " | " << Pct(a.coverage) << " | "
       << Pct(a.accuracy, 2) << " | " << (a.n ? PctCi(a.accuracy_ci) : "-") << " |\n";
  }
  md << "\n## Folds\n\n";
  md << "| fold | test period | fit/calib/test rows | purged | accuracy [95% CI] | majority | last "
        "dir. | reversed | log loss | AUC | gap |\n";
  md << "|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& f : r.folds) {
    md << "| " << f.fold << " | " << Date(f.test_from).substr(0, 10) << " .. "
       << Date(f.test_to).substr(0, 10) << " | " << f.fit_rows << "/" << f.calib_rows << "/"
       << f.test_rows << " | " << f.purged_rows << " | " << Pct(f.model.accuracy, 2) << " "
       << PctCi(f.model.accuracy_ci) << " | " << Pct(f.baselines[0].metrics.accuracy, 2) << " | "
       << Pct(f.baselines[1].metrics.accuracy, 2) << " | "
       << Pct(f.baselines[2].metrics.accuracy, 2) << " | " << F(f.model.log_loss) << " | "
       << F(f.model.roc_auc, 3) << " | " << F(f.model.reliability_gap) << " |\n";
  }
  md << "\nSamples are treated as independent in the intervals and tests.";
  if (r.horizon > 1) md << " With h > 1 neighbouring labels overlap, so they are too narrow.";
  md << "\n";
  rep.markdown = md.str();
  return rep;
}

Status WriteEvaluationReport(const EvaluationReport& rep, const std::filesystem::path& dir,
                             const std::string& basename) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return Status::InvalidArgument("cannot create " + dir.string() + ": " + ec.message(), "out");
  auto write = [&](const std::string& name, const std::string& text) -> Status {
    std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) return Status::Unavailable("cannot write " + (dir / name).string());
    return Status::Ok();
  };
  SINYAL_RETURN_IF_ERROR(write(basename + ".json", rep.json));
  SINYAL_RETURN_IF_ERROR(write(basename + ".md", rep.markdown));
  SINYAL_RETURN_IF_ERROR(write(rep.reliability_svg_name, rep.reliability_svg));
  SINYAL_RETURN_IF_ERROR(write(rep.coverage_svg_name, rep.coverage_svg));
  return Status::Ok();
}

}  // namespace sinyal::models
