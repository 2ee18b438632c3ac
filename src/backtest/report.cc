#include "backtest/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>
#include <vector>

#include "core/html.h"
#include "core/time.h"

namespace sinyal::backtest {
namespace {

struct Plot {
  double W = 760, H = 360, L = 70, R = 20, T = 40, B = 50;
  double x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  double X(double x) const { return L + (x - x0) / (x1 - x0) * (W - L - R); }
  double Y(double y) const { return H - B - (y - y0) / (y1 - y0) * (H - T - B); }
};

std::string Fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

void Header(std::ostringstream& os, const Plot& p, const std::string& title) {
  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << p.W << "\" height=\"" << p.H
     << "\" viewBox=\"0 0 " << p.W << " " << p.H
     << "\" font-family=\"sans-serif\" font-size=\"11\">\n"
     << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
     << "<text x=\"" << p.W / 2 << "\" y=\"20\" text-anchor=\"middle\" font-size=\"13\">"
     << HtmlEscape(title) << "</text>\n"
     << "<line x1=\"" << p.L << "\" y1=\"" << p.H - p.B << "\" x2=\"" << p.W - p.R << "\" y2=\""
     << p.H - p.B << "\" stroke=\"#333\"/>\n"
     << "<line x1=\"" << p.L << "\" y1=\"" << p.T << "\" x2=\"" << p.L << "\" y2=\"" << p.H - p.B
     << "\" stroke=\"#333\"/>\n";
}

void YTicks(std::ostringstream& os, const Plot& p, const char* fmt, double scale) {
  for (int i = 0; i <= 4; ++i) {
    const double v = p.y0 + (p.y1 - p.y0) * i / 4;
    os << "<line x1=\"" << p.L << "\" y1=\"" << p.Y(v) << "\" x2=\"" << p.W - p.R << "\" y2=\""
       << p.Y(v) << "\" stroke=\"#eee\"/>\n"
       << "<text x=\"" << p.L - 6 << "\" y=\"" << p.Y(v) + 4 << "\" text-anchor=\"end\">"
       << Fmt(fmt, v * scale) << "</text>\n";
  }
}

void TimeTicks(std::ostringstream& os, const Plot& p) {
  for (int i = 0; i <= 4; ++i) {
    const double x = p.x0 + (p.x1 - p.x0) * i / 4;
    const std::string date = FormatIso8601(static_cast<UnixNanos>(x)).substr(0, 10);
    os << "<text x=\"" << p.X(x) << "\" y=\"" << p.H - p.B + 16 << "\" text-anchor=\"middle\">"
       << date << "</text>\n";
  }
}

void Polyline(std::ostringstream& os, const Plot& p, std::span<const EquityPoint> curve,
              const std::string& color, const char* dash, double width) {
  const auto thin = ThinCurve(curve, 1200);
  os << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"" << width << "\"";
  if (dash) os << " stroke-dasharray=\"" << dash << "\"";
  os << " points=\"";
  for (const EquityPoint& e : thin) {
    os << Fmt("%.1f", p.X(static_cast<double>(e.time))) << "," << Fmt("%.1f", p.Y(e.equity)) << " ";
  }
  os << "\"/>\n";
}

void Legend(std::ostringstream& os, const Plot& p,
            const std::vector<std::pair<std::string, std::string>>& items) {
  double x = p.L + 10;
  for (const auto& [name, color] : items) {
    os << "<rect x=\"" << x << "\" y=\"" << p.T + 2 << "\" width=\"12\" height=\"3\" fill=\""
       << color << "\"/><text x=\"" << x + 16 << "\" y=\"" << p.T + 8 << "\">" << HtmlEscape(name)
       << "</text>\n";
    x += 24 + 6.5 * static_cast<double>(name.size());
  }
}

std::string Pct(double v) { return Fmt("%.2f%%", v * 100); }
std::string Num(double v, const char* f = "%.2f") {
  return std::isfinite(v) ? Fmt(f, v) : std::string(v > 0 ? "inf" : "n/a");
}

}  // namespace

std::string EquitySvg(const BacktestResult& r, const std::string& title) {
  Plot p;
  std::vector<std::pair<const RunResult*, std::pair<std::string, std::string>>> runs = {
      {&r.strategy, {"strategy", "#1f6feb"}},
      {&r.buy_and_hold, {"buy and hold", "#888888"}},
      {&r.reverse_last_move, {"reverse last move", "#d97706"}}};
  if (r.random_entry.median_run) {
    runs.push_back({&*r.random_entry.median_run, {"random entry (median seed)", "#16a34a"}});
  }
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& [run, style] : runs) {
    for (const EquityPoint& e : run->equity) {
      lo = std::min(lo, e.equity);
      hi = std::max(hi, e.equity);
    }
  }
  if (!(hi > lo)) hi = lo + 1;
  const double pad = (hi - lo) * 0.05;
  p.y0 = lo - pad;
  p.y1 = hi + pad;
  p.x0 = static_cast<double>(r.from);
  p.x1 = static_cast<double>(std::max(r.to, r.from + 1));
  std::ostringstream os;
  Header(os, p, title);
  YTicks(os, p, "%.0f", 1);
  TimeTicks(os, p);
  std::vector<std::pair<std::string, std::string>> legend;
  for (const auto& [run, style] : runs) {
    if (run->equity.size() < 2) continue;
    Polyline(os, p, run->equity, style.second, run == &r.strategy ? nullptr : "4 3",
             run == &r.strategy ? 1.6 : 1.0);
    legend.push_back(style);
  }
  Legend(os, p, legend);
  os << "<text x=\"14\" y=\"" << p.H / 2 << "\" transform=\"rotate(-90 14 " << p.H / 2
     << ")\" text-anchor=\"middle\">equity (" << HtmlEscape(r.config.currency)
     << ", marked per bar)</text>\n";
  os << "</svg>\n";
  return os.str();
}

std::string DrawdownSvg(const BacktestResult& r, const std::string& title) {
  Plot p;
  const auto dd = DrawdownCurve(r.strategy.equity);
  double worst = 0;
  for (const auto& d : dd) worst = std::max(worst, d.drawdown);
  p.y0 = -std::max(worst * 1.1, 0.001);
  p.y1 = 0;
  p.x0 = static_cast<double>(r.from);
  p.x1 = static_cast<double>(std::max(r.to, r.from + 1));
  std::ostringstream os;
  Header(os, p, title);
  YTicks(os, p, "%.1f%%", 100);
  TimeTicks(os, p);
  // Thin by keeping the deepest point of each stretch.
  std::vector<EquityPoint> as_curve;
  for (const auto& d : dd) as_curve.push_back({d.time, -d.drawdown, 0, false});
  const auto thin = ThinCurve(as_curve, 1200);
  os << "<polygon fill=\"#dc262633\" stroke=\"#dc2626\" stroke-width=\"1\" points=\"";
  if (!thin.empty())
    os << Fmt("%.1f", p.X(static_cast<double>(thin.front().time))) << "," << p.Y(0) << " ";
  for (const auto& e : thin) {
    os << Fmt("%.1f", p.X(static_cast<double>(e.time))) << "," << Fmt("%.1f", p.Y(e.equity)) << " ";
  }
  if (!thin.empty()) os << Fmt("%.1f", p.X(static_cast<double>(thin.back().time))) << "," << p.Y(0);
  os << "\"/>\n";
  os << "<text x=\"" << p.W - p.R << "\" y=\"" << p.H - 8 << "\" text-anchor=\"end\">max drawdown "
     << Pct(r.strategy.metrics.max_drawdown) << " (bar-by-bar marked equity)</text>\n";
  os << "</svg>\n";
  return os.str();
}

std::string RandomBaselineSvg(const BacktestResult& r, const std::string& title) {
  Plot p;
  const auto& rets = r.random_entry.total_returns;
  std::vector<std::pair<std::string, std::pair<double, std::string>>> marks = {
      {"strategy", {r.strategy.metrics.total_return, "#1f6feb"}},
      {"buy and hold", {r.buy_and_hold.metrics.total_return, "#888888"}},
      {"reverse last move", {r.reverse_last_move.metrics.total_return, "#d97706"}}};
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (double x : rets) {
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  for (const auto& m : marks) {
    lo = std::min(lo, m.second.first);
    hi = std::max(hi, m.second.first);
  }
  if (!(hi > lo)) hi = lo + 0.01;
  const int bins = 30;
  const double w = (hi - lo) / bins;
  std::vector<int> count(bins, 0);
  for (double x : rets) count[std::min(bins - 1, static_cast<int>((x - lo) / w))]++;
  const int top = std::max(1, *std::max_element(count.begin(), count.end()));
  p.x0 = lo;
  p.x1 = hi;
  p.y0 = 0;
  p.y1 = top * 1.15;
  std::ostringstream os;
  Header(os, p, title);
  YTicks(os, p, "%.0f", 1);
  for (int i = 0; i <= 4; ++i) {
    const double x = lo + (hi - lo) * i / 4;
    os << "<text x=\"" << p.X(x) << "\" y=\"" << p.H - p.B + 16 << "\" text-anchor=\"middle\">"
       << Pct(x) << "</text>\n";
  }
  for (int b = 0; b < bins; ++b) {
    if (!count[b]) continue;
    const double x = lo + b * w;
    os << "<rect x=\"" << p.X(x) << "\" y=\"" << p.Y(count[b]) << "\" width=\""
       << std::max(1.0, p.X(x + w) - p.X(x) - 1) << "\" height=\"" << p.Y(0) - p.Y(count[b])
       << "\" fill=\"#16a34a88\"/>\n";
  }
  double ty = p.T + 12;
  for (const auto& [name, v] : marks) {
    os << "<line x1=\"" << p.X(v.first) << "\" y1=\"" << p.T << "\" x2=\"" << p.X(v.first)
       << "\" y2=\"" << p.H - p.B << "\" stroke=\"" << v.second << "\" stroke-width=\"2\"/>\n"
       << "<text x=\"" << p.X(v.first) + 4 << "\" y=\"" << ty << "\" fill=\"" << v.second << "\">"
       << HtmlEscape(name) << " " << Pct(v.first) << "</text>\n";
    ty += 14;
  }
  os << "<text x=\"" << p.W / 2 << "\" y=\"" << p.H - 10
     << "\" text-anchor=\"middle\">total return; bars: " << rets.size()
     << " random-entry runs with " << r.random_entry.entries_per_run << " entries each</text>\n";
  os << "</svg>\n";
  return os.str();
}

BacktestReport RenderBacktestReport(const BacktestResult& r, const std::string& basename,
                                    const std::string& command) {
  BacktestReport rep;
  rep.json = ToJson(r).dump(2);
  rep.equity_svg_name = basename + "_equity.svg";
  rep.drawdown_svg_name = basename + "_drawdown.svg";
  rep.random_svg_name = basename + "_random.svg";
  std::string symbols;
  for (const auto& s : r.config.symbols) symbols += (symbols.empty() ? "" : "+") + s;
  const std::string what = symbols + " " + std::string(market::TimeframeName(r.config.timeframe));
  rep.equity_svg = EquitySvg(r, "Equity, " + what + " (" + r.config.name + ")");
  rep.drawdown_svg = DrawdownSvg(r, "Drawdown of the strategy, " + what);
  rep.random_svg = RandomBaselineSvg(r, "Random-entry baseline: total returns, " + what);

  std::ostringstream md;
  md << "# Backtest: " << (r.config.name.empty() ? what : r.config.name) << "\n\n";
  md << "- Symbols: " << symbols << ", timeframe " << market::TimeframeName(r.config.timeframe)
     << ", " << FormatIso8601(r.from) << " .. " << FormatIso8601(r.to) << " (" << r.bars
     << " bars)\n";
  md << "- Initial balance " << Num(r.config.initial_balance) << " " << r.config.currency
     << "; signal threshold " << Num(r.config.signal.threshold) << "; sizing "
     << SizingModeName(r.config.sizing.mode) << "; stops " << StopModeName(r.config.stops.mode)
     << "\n";
  md << "- Fills: next bar's open (ask for buys, bid for sells); spread from the bars' spread "
        "column when present, else the configured one; stop-loss first when stop and target are "
        "in one bar"
     << (r.config.m1_replay ? " unless M1 replay decides" : "") << "\n";
  if (!r.signal_source.is_null()) md << "- Signals: `" << r.signal_source.dump() << "`\n";
  if (!command.empty()) md << "- Reproduce: `" << command << "`\n";
  md << "\n## Results beside the baselines\n\n";
  md << "| run | total return | annual | Sharpe | Sortino | PSR | max DD | DD days | Calmar | "
        "trades "
        "| win rate | profit factor | expectancy | SQN (n) | exposure | costs |\n";
  md << "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  auto row = [&](const std::string& name, const RunResult& run) {
    const Metrics& m = run.metrics;
    const double costs =
        run.costs.commission + run.costs.spread + run.costs.slippage - run.costs.swap;
    md << "| " << name << " | " << Pct(m.total_return) << " | " << Pct(m.annual_return) << " | "
       << Num(m.sharpe) << " | " << Num(m.sortino) << " | " << Num(m.psr) << " | "
       << Pct(m.max_drawdown) << " | " << Num(m.max_drawdown_days, "%.0f")
       << (m.max_drawdown_recovered ? "" : "+") << " | " << Num(m.calmar) << " | " << m.trades
       << " | " << Pct(m.win_rate) << " | " << Num(m.profit_factor) << " | " << Num(m.expectancy)
       << " | " << Num(m.sqn) << " (" << m.trades << ") | " << Pct(m.exposure) << " | "
       << Num(costs) << " |\n";
  };
  row("**strategy**", r.strategy);
  row("buy and hold", r.buy_and_hold);
  row("reverse last move", r.reverse_last_move);
  if (r.random_entry.median_run) row("random entry, median seed", *r.random_entry.median_run);
  const RandomBaseline& rb = r.random_entry;
  md << "\nRandom entry: " << rb.seeds << " seeds, " << rb.entries_per_run << " entries each, held "
     << rb.hold_bars << " bars; total return median " << Pct(rb.median_return) << ", 5-95% "
     << Pct(rb.p05_return) << " .. " << Pct(rb.p95_return) << ", mean " << Pct(rb.mean_return)
     << "; the strategy beats " << Pct(rb.strategy_return_rank) << " of the random runs.\n";
  md << "\nCosts of the strategy (" << r.config.currency << "): commission "
     << Num(r.strategy.costs.commission) << ", spread " << Num(r.strategy.costs.spread)
     << ", slippage " << Num(r.strategy.costs.slippage) << ", swap " << Num(r.strategy.costs.swap)
     << ". A '+' after the drawdown days: not recovered by the end.\n";
  if (!r.strategy.risk_events.empty()) {
    md << "\n## Risk events\n\n";
    for (const RiskEvent& e : r.strategy.risk_events) {
      md << "- " << FormatIso8601(e.time) << ": " << TradingStateName(e.from) << " -> "
         << TradingStateName(e.to) << " (" << e.reason << ")\n";
    }
  }
  md << "\n## Charts\n\n![equity](" << rep.equity_svg_name << ")\n\n![drawdown]("
     << rep.drawdown_svg_name << ")\n\n![random baseline](" << rep.random_svg_name << ")\n";
  md << "\n## Definitions\n\n";
  const nlohmann::json definitions = MetricDefinitions(r.metrics_options);
  for (const auto& [k, v] : definitions.items()) {
    md << "- **" << k << "**: " << v.get<std::string>() << "\n";
  }
  const size_t shown = std::min<size_t>(r.strategy.trades.size(), 20);
  md << "\n## Last " << shown << " of " << r.strategy.trades.size() << " trades\n\n";
  md << "| # | symbol | side | entry | exit | qty | entry px | exit px | net P&L | R | bars | exit "
        "|\n";
  md << "|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (size_t i = r.strategy.trades.size() - shown; i < r.strategy.trades.size(); ++i) {
    const Trade& t = r.strategy.trades[i];
    md << "| " << t.id << " | " << t.symbol << " | " << (t.side == Side::kBuy ? "long" : "short")
       << " | " << FormatIso8601(t.entry_time) << " | " << FormatIso8601(t.exit_time) << " | "
       << Num(t.quantity, "%.0f") << " | " << Num(t.entry_price, "%.5f") << " | "
       << Num(t.exit_price, "%.5f") << " | " << Num(t.net_pnl) << " | " << Num(t.r_multiple)
       << " | " << t.bars_held << " | " << OrderRoleName(t.exit_role) << " |\n";
  }
  rep.markdown = md.str();
  return rep;
}

Status WriteBacktestReport(const BacktestReport& rep, const std::filesystem::path& dir,
                           const std::string& basename) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::Internal("can't create " + dir.string() + ": " + ec.message());
  auto write = [&](const std::string& name, const std::string& text) -> Status {
    std::ofstream f(dir / name, std::ios::binary);
    f << text;
    if (!f) return Status::Internal("can't write " + (dir / name).string());
    return Status::Ok();
  };
  SINYAL_RETURN_IF_ERROR(write(basename + ".json", rep.json));
  SINYAL_RETURN_IF_ERROR(write(basename + ".md", rep.markdown));
  SINYAL_RETURN_IF_ERROR(write(rep.equity_svg_name, rep.equity_svg));
  SINYAL_RETURN_IF_ERROR(write(rep.drawdown_svg_name, rep.drawdown_svg));
  SINYAL_RETURN_IF_ERROR(write(rep.random_svg_name, rep.random_svg));
  return Status::Ok();
}

}  // namespace sinyal::backtest
