#include "signals/cross_asset.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <unordered_map>

#include "core/time.h"
#include "signals/stats.h"

namespace sinyal::signals {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Running sums for a Pearson correlation.
struct Sums {
  double n = 0, x = 0, y = 0, xx = 0, yy = 0, xy = 0;
  void Add(double a, double b) {
    n += 1;
    x += a;
    y += b;
    xx += a * a;
    yy += b * b;
    xy += a * b;
  }
  double Corr() const {
    if (n < 2) return kNaN;
    const double vx = xx - x * x / n, vy = yy - y * y / n;
    if (vx <= 0 || vy <= 0) return kNaN;
    return (xy - x * y / n) / std::sqrt(vx * vy);
  }
};

double Corr(std::span<const double> x, std::span<const double> y, CorrelationMethod m) {
  return m == CorrelationMethod::kPearson ? Pearson(x, y) : Spearman(x, y);
}

Status CheckWindow(int window) {
  if (window < kMinCorrelationWindow) {
    return Status::InvalidArgument("window " + std::to_string(window) +
                                       " is too short: the minimum is kMinCorrelationWindow = " +
                                       std::to_string(kMinCorrelationWindow) + " returns",
                                   "window");
  }
  return Status::Ok();
}

std::vector<size_t> ValidRows(const AlignedPanel& p, size_t end_row) {
  std::vector<size_t> v;
  for (size_t i = 0; i <= end_row && i < p.rows(); ++i) {
    if (p.return_valid[i]) v.push_back(i);
  }
  return v;
}

}  // namespace

Result<size_t> AlignedPanel::Index(std::string_view symbol) const {
  for (size_t i = 0; i < symbols.size(); ++i) {
    if (symbols[i] == symbol) return i;
  }
  std::string known;
  for (const auto& s : symbols) known += (known.empty() ? "" : ", ") + s;
  return Status::NotFound("unknown symbol '" + std::string(symbol) + "' (panel has: " + known + ")",
                          "symbols");
}

Result<AlignedPanel> AlignPanel(const std::vector<SymbolSeries>& series, market::Timeframe tf) {
  if (series.empty()) return Status::InvalidArgument("no series given", "series");
  std::set<std::string> seen;
  const bool check_grid = tf != market::Timeframe::kD1;
  for (const auto& s : series) {
    const std::string field = "series." + s.symbol;
    if (s.symbol.empty()) return Status::InvalidArgument("a series has an empty symbol", "series");
    if (!seen.insert(s.symbol).second) {
      return Status::InvalidArgument("symbol '" + s.symbol + "' given twice", field);
    }
    if (s.bars.empty())
      return Status::InvalidArgument("series '" + s.symbol + "' has no bars", field);
    for (size_t i = 0; i < s.bars.size(); ++i) {
      const UnixNanos t = s.bars[i].time();
      if (i > 0 && t <= s.bars[i - 1].time()) {
        return Status::InvalidArgument("series '" + s.symbol + "' row " + std::to_string(i) +
                                           " at " + FormatIso8601(t) +
                                           " is not after the previous bar",
                                       field);
      }
      if (check_grid && !market::IsBucketAligned(tf, t)) {
        return Status::InvalidArgument(
            "series '" + s.symbol + "' is misaligned: row " + std::to_string(i) + " at " +
                FormatIso8601(t) + " is not on the UTC " + std::string(market::TimeframeName(tf)) +
                " grid (convert the file with its own time zone first)",
            field);
      }
    }
  }
  // k-way inner join.
  const size_t k = series.size();
  std::vector<size_t> pos(k, 0);
  AlignedPanel p;
  p.timeframe = tf;
  for (const auto& s : series) p.symbols.push_back(s.symbol);
  p.close.assign(k, {});
  while (true) {
    UnixNanos t = std::numeric_limits<UnixNanos>::min();
    bool done = false;
    for (size_t i = 0; i < k; ++i) {
      if (pos[i] >= series[i].bars.size()) {
        done = true;
        break;
      }
      t = std::max(t, series[i].bars[pos[i]].time());
    }
    if (done) break;
    bool all = true;
    for (size_t i = 0; i < k; ++i) {
      const auto& b = series[i].bars;
      while (pos[i] < b.size() && b[pos[i]].time() < t) ++pos[i];
      if (pos[i] >= b.size() || b[pos[i]].time() != t) all = false;
    }
    if (!all) continue;
    p.times.push_back(t);
    for (size_t i = 0; i < k; ++i) p.close[i].push_back(series[i].bars[pos[i]++].close());
  }
  if (p.times.size() < static_cast<size_t>(kMinCorrelationWindow) + 1) {
    // Name the series whose overlap with the first one is smallest.
    std::string worst = series[0].symbol;
    size_t worst_n = SIZE_MAX;
    for (size_t i = 1; i < k; ++i) {
      size_t a = 0, b = 0, n = 0;
      const auto& x = series[0].bars;
      const auto& y = series[i].bars;
      while (a < x.size() && b < y.size()) {
        if (x[a].time() < y[b].time()) {
          ++a;
        } else if (y[b].time() < x[a].time()) {
          ++b;
        } else {
          ++n, ++a, ++b;
        }
      }
      if (n < worst_n) worst_n = n, worst = series[i].symbol;
    }
    return Status::FailedPrecondition(
        "the series share only " + std::to_string(p.times.size()) + " timestamps (need " +
            std::to_string(kMinCorrelationWindow + 1) + "); '" + worst + "' overlaps '" +
            series[0].symbol + "' on " + std::to_string(worst_n == SIZE_MAX ? 0 : worst_n) +
            " UTC times: check the time zones and date ranges",
        "series");
  }
  const int64_t period = market::TimeframeNanos(tf);
  const size_t n = p.times.size();
  p.return_valid.assign(n, 0);
  p.log_return.assign(k, std::vector<double>(n, kNaN));
  for (size_t r = 1; r < n; ++r) {
    if (p.times[r] - p.times[r - 1] != period) continue;
    p.return_valid[r] = 1;
    for (size_t i = 0; i < k; ++i) p.log_return[i][r] = std::log(p.close[i][r] / p.close[i][r - 1]);
  }
  return p;
}

std::string_view CorrelationMethodName(CorrelationMethod m) {
  return m == CorrelationMethod::kPearson ? "pearson" : "spearman";
}

Result<CorrelationMatrix> ComputeCorrelationMatrix(const AlignedPanel& p, size_t end_row,
                                                   int window, CorrelationMethod method) {
  SINYAL_RETURN_IF_ERROR(CheckWindow(window));
  if (end_row >= p.rows()) {
    return Status::InvalidArgument("end_row " + std::to_string(end_row) +
                                       " is beyond the panel's " + std::to_string(p.rows()) +
                                       " rows",
                                   "end_row");
  }
  auto v = ValidRows(p, end_row);
  if (v.size() < static_cast<size_t>(window)) {
    return Status::FailedPrecondition("only " + std::to_string(v.size()) +
                                          " valid returns up to that row, window needs " +
                                          std::to_string(window),
                                      "window");
  }
  v.erase(v.begin(), v.end() - window);
  const size_t k = p.symbols.size();
  std::vector<std::vector<double>> cols(k, std::vector<double>(window));
  for (size_t i = 0; i < k; ++i) {
    for (int w = 0; w < window; ++w) cols[i][w] = p.log_return[i][v[w]];
  }
  CorrelationMatrix m;
  m.method = method;
  m.symbols = p.symbols;
  m.window = window;
  m.from_time = p.times[v.front()];
  m.to_time = p.times[v.back()];
  m.values.assign(k * k, 1.0);
  for (size_t i = 0; i < k; ++i) {
    for (size_t j = i + 1; j < k; ++j) {
      const double c = Corr(cols[i], cols[j], method);
      m.values[i * k + j] = m.values[j * k + i] = c;
    }
  }
  return m;
}

Result<std::vector<double>> RollingCorrelation(const AlignedPanel& p, std::string_view a,
                                               std::string_view b, int window,
                                               CorrelationMethod method) {
  SINYAL_RETURN_IF_ERROR(CheckWindow(window));
  SINYAL_ASSIGN_OR_RETURN(size_t ia, p.Index(a));
  SINYAL_ASSIGN_OR_RETURN(size_t ib, p.Index(b));
  std::vector<double> out(p.rows(), kNaN);
  std::vector<double> xs, ys;
  std::vector<double> wx(window), wy(window);
  for (size_t r = 0; r < p.rows(); ++r) {
    if (p.return_valid[r]) {
      xs.push_back(p.log_return[ia][r]);
      ys.push_back(p.log_return[ib][r]);
    }
    if (xs.size() >= static_cast<size_t>(window)) {
      std::copy(xs.end() - window, xs.end(), wx.begin());
      std::copy(ys.end() - window, ys.end(), wy.begin());
      out[r] = Corr(wx, wy, method);
    }
  }
  return out;
}

Result<std::vector<LagCorrelation>> LeadLag(const AlignedPanel& p, std::string_view a,
                                            std::string_view b, int max_lag, size_t from_row,
                                            size_t to_row) {
  if (max_lag < 0 || max_lag > 48)
    return Status::InvalidArgument("max_lag must be in [0, 48]", "max_lag");
  SINYAL_ASSIGN_OR_RETURN(size_t ia, p.Index(a));
  SINYAL_ASSIGN_OR_RETURN(size_t ib, p.Index(b));
  to_row = std::min(to_row, p.rows());
  const int64_t period = market::TimeframeNanos(p.timeframe);
  std::vector<LagCorrelation> out;
  for (int k = -max_lag; k <= max_lag; ++k) {
    std::vector<double> x, y;
    for (size_t t = from_row; t < to_row; ++t) {
      const int64_t u = static_cast<int64_t>(t) + k;
      if (u < static_cast<int64_t>(from_row) || u >= static_cast<int64_t>(to_row)) continue;
      if (!p.return_valid[t] || !p.return_valid[u]) continue;
      if (p.times[u] - p.times[t] != k * period) continue;
      x.push_back(p.log_return[ia][t]);
      y.push_back(p.log_return[ib][u]);
    }
    if (x.size() < static_cast<size_t>(kMinCorrelationWindow)) {
      return Status::FailedPrecondition(
          "lag " + std::to_string(k) + " has only " + std::to_string(x.size()) + " return pairs",
          "window");
    }
    out.push_back({k, Pearson(x, y), x.size()});
  }
  return out;
}

Result<CorrelationBreakSeries> DetectCorrelationBreaks(const AlignedPanel& p, std::string_view a,
                                                       std::string_view b, const BreakOptions& o) {
  SINYAL_RETURN_IF_ERROR(CheckWindow(o.window));
  if (o.min_long_run < o.window) {
    return Status::InvalidArgument("min_long_run must be >= window", "min_long_run");
  }
  if (!(o.z_threshold > 0))
    return Status::InvalidArgument("z_threshold must be > 0", "z_threshold");
  SINYAL_ASSIGN_OR_RETURN(size_t ia, p.Index(a));
  SINYAL_ASSIGN_OR_RETURN(size_t ib, p.Index(b));
  CorrelationBreakSeries s;
  const size_t n = p.rows();
  s.rolling.assign(n, kNaN);
  s.long_run.assign(n, kNaN);
  s.z.assign(n, kNaN);
  s.flagged.assign(n, 0);
  std::vector<double> xs, ys, wx(o.window), wy(o.window);
  Sums lr;  // returns before the window
  const double scale = std::sqrt(static_cast<double>(o.window) - 3.0);
  for (size_t r = 0; r < n; ++r) {
    if (p.return_valid[r]) {
      xs.push_back(p.log_return[ia][r]);
      ys.push_back(p.log_return[ib][r]);
      if (xs.size() > static_cast<size_t>(o.window)) {
        const size_t leaving = xs.size() - o.window - 1;  // just left the window
        lr.Add(xs[leaving], ys[leaving]);
      }
    }
    if (xs.size() < static_cast<size_t>(o.window)) continue;
    std::copy(xs.end() - o.window, xs.end(), wx.begin());
    std::copy(ys.end() - o.window, ys.end(), wy.begin());
    s.rolling[r] = Pearson(wx, wy);
    if (lr.n >= o.min_long_run) {
      s.long_run[r] = lr.Corr();
      if (!std::isnan(s.rolling[r]) && !std::isnan(s.long_run[r])) {
        s.z[r] = (FisherZ(s.rolling[r]) - FisherZ(s.long_run[r])) * scale;
        s.flagged[r] = std::fabs(s.z[r]) > o.z_threshold;
        ++s.defined_rows;
        s.flagged_rows += s.flagged[r];
      }
    }
  }
  return s;
}

Result<CorrelationReport> BuildCorrelationReport(const AlignedPanel& p, int window,
                                                 double z_threshold) {
  SINYAL_RETURN_IF_ERROR(CheckWindow(window));
  if (p.rows() == 0) return Status::FailedPrecondition("empty panel", "series");
  CorrelationReport r;
  r.timeframe = std::string(market::TimeframeName(p.timeframe));
  r.window = window;
  r.as_of = p.times.back();
  SINYAL_ASSIGN_OR_RETURN(
      r.pearson, ComputeCorrelationMatrix(p, p.rows() - 1, window, CorrelationMethod::kPearson));
  SINYAL_ASSIGN_OR_RETURN(
      r.spearman, ComputeCorrelationMatrix(p, p.rows() - 1, window, CorrelationMethod::kSpearman));
  BreakOptions bo;
  bo.window = window;
  bo.min_long_run = 5 * window;
  bo.z_threshold = z_threshold;
  for (size_t i = 0; i < p.symbols.size(); ++i) {
    for (size_t j = i + 1; j < p.symbols.size(); ++j) {
      SINYAL_ASSIGN_OR_RETURN(auto s, DetectCorrelationBreaks(p, p.symbols[i], p.symbols[j], bo));
      const size_t last = p.rows() - 1;
      if (std::isnan(s.z[last])) continue;
      r.breaks.push_back({p.symbols[i], p.symbols[j], s.rolling[last], s.long_run[last], s.z[last],
                          s.flagged[last] != 0});
    }
  }
  return r;
}

std::string_view SekModeName(SekMode m) {
  return m == SekMode::kDropSek ? "five components (SEK dropped)"
                                : "SEK held at its daily ECB value";
}

Result<std::vector<DailyValue>> ParseEcbUsdSek(std::istream& in) {
  std::string line;
  if (!std::getline(in, line)) return Status::InvalidArgument("empty ECB file", "line 1");
  auto split = [](const std::string& s) {
    std::vector<std::string> v;
    size_t a = 0;
    while (true) {
      const size_t c = s.find(',', a);
      v.push_back(s.substr(a, c == std::string::npos ? std::string::npos : c - a));
      if (c == std::string::npos) break;
      a = c + 1;
    }
    for (auto& x : v) {
      while (!x.empty() && (x.back() == '\r' || x.back() == ' ')) x.pop_back();
    }
    return v;
  };
  const auto header = split(line);
  int c_date = -1, c_usd = -1, c_sek = -1;
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == "Date") c_date = static_cast<int>(i);
    if (header[i] == "USD") c_usd = static_cast<int>(i);
    if (header[i] == "SEK") c_sek = static_cast<int>(i);
  }
  if (c_date < 0 || c_usd < 0 || c_sek < 0) {
    return Status::InvalidArgument("header lacks Date, USD or SEK", "line 1");
  }
  std::vector<DailyValue> out;
  int64_t ln = 1;
  auto num = [](const std::string& s, double* v) {
    auto r = std::from_chars(s.data(), s.data() + s.size(), *v);
    return r.ec == std::errc() && r.ptr == s.data() + s.size() && std::isfinite(*v) && *v > 0;
  };
  while (std::getline(in, line)) {
    ++ln;
    if (line.empty() || line == "\r") continue;
    const auto f = split(line);
    const std::string where = "line " + std::to_string(ln);
    if (f.size() != header.size()) {
      return Status::InvalidArgument(where + ": " + std::to_string(f.size()) +
                                         " fields, header has " + std::to_string(header.size()),
                                     where);
    }
    if (f[c_usd] == "N/A" || f[c_sek] == "N/A") continue;
    int m = 0, d = 0, y = 0;
    if (std::sscanf(f[c_date].c_str(), "%d/%d/%d", &m, &d, &y) != 3 ||
        !IsValidCivil(CivilTime{y, m, d, 0, 0, 0})) {
      return Status::InvalidArgument(where + ", column 'Date': bad date '" + f[c_date] + "'",
                                     where);
    }
    double usd = 0, sek = 0;
    if (!num(f[c_usd], &usd)) {
      return Status::InvalidArgument(
          where + ", column 'USD': not a positive number '" + f[c_usd] + "'", where);
    }
    if (!num(f[c_sek], &sek)) {
      return Status::InvalidArgument(
          where + ", column 'SEK': not a positive number '" + f[c_sek] + "'", where);
    }
    const UnixNanos day = DaysFromCivil(y, m, d) * kNanosPerDay;
    out.push_back({day + 15 * kNanosPerHour, sek / usd});
  }
  std::sort(out.begin(), out.end(), [](const DailyValue& a, const DailyValue& b) {
    return a.available_from < b.available_from;
  });
  if (out.empty()) return Status::InvalidArgument("no USD/SEK rates in the ECB file", "line 2");
  return out;
}

Result<std::vector<double>> SyntheticDxy(const AlignedPanel& p, SekMode mode,
                                         std::span<const DailyValue> usdsek) {
  std::vector<std::pair<size_t, double>> comps;
  double sek_w = 0;
  for (const auto& c : kDxyComponents) {
    if (std::string_view(c.symbol) == "USDSEK") {
      sek_w = c.weight;
      continue;
    }
    auto idx = p.Index(c.symbol);
    if (!idx.ok()) {
      return Status::NotFound(
          std::string("DXY component ") + c.symbol + " is missing from the panel", "symbols");
    }
    comps.push_back({*idx, c.weight});
  }
  if (mode == SekMode::kDailySek) {
    if (usdsek.empty())
      return Status::InvalidArgument("kDailySek needs USD/SEK daily values", "usdsek");
    for (size_t i = 0; i < usdsek.size(); ++i) {
      if (!(usdsek[i].value > 0) || !std::isfinite(usdsek[i].value)) {
        return Status::InvalidArgument(
            "USD/SEK value " + std::to_string(i) + " is not a positive number", "usdsek");
      }
      if (i > 0 && usdsek[i].available_from < usdsek[i - 1].available_from) {
        return Status::InvalidArgument("USD/SEK values are not in time order", "usdsek");
      }
    }
  }
  std::vector<double> out(p.rows(), kNaN);
  size_t s = 0;
  for (size_t r = 0; r < p.rows(); ++r) {
    double l = std::log(kDxyConstant);
    for (const auto& [i, w] : comps) l += w * std::log(p.close[i][r]);
    if (mode == SekMode::kDailySek) {
      while (s < usdsek.size() && usdsek[s].available_from <= p.times[r]) ++s;
      if (s == 0) continue;  // nothing known yet
      l += sek_w * std::log(usdsek[s - 1].value);
    }
    out[r] = std::exp(l);
  }
  return out;
}

Result<DxyCheck> CompareWithReference(const AlignedPanel& p, std::span<const double> syn,
                                      std::span<const market::Bar> ref) {
  if (syn.size() != p.rows()) {
    return Status::InvalidArgument("synthetic has " + std::to_string(syn.size()) +
                                       " values, panel " + std::to_string(p.rows()) + " rows",
                                   "synthetic");
  }
  const int64_t period = market::TimeframeNanos(p.timeframe);
  std::vector<UnixNanos> t;
  std::vector<double> a, b;
  size_t j = 0;
  for (size_t r = 0; r < p.rows(); ++r) {
    while (j < ref.size() && ref[j].time() < p.times[r]) ++j;
    if (j < ref.size() && ref[j].time() == p.times[r] && std::isfinite(syn[r])) {
      t.push_back(p.times[r]);
      a.push_back(syn[r]);
      b.push_back(ref[j].close());
    }
  }
  DxyCheck c;
  c.common_rows = t.size();
  std::map<UnixNanos, double> ra, rb;  // time order: deterministic sums
  double lev = 0, levref = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    lev += std::fabs(a[i] - b[i]);
    levref += b[i];
    if (i > 0 && t[i] - t[i - 1] == period) {
      ra[t[i]] = std::log(a[i] / a[i - 1]);
      rb[t[i]] = std::log(b[i] / b[i - 1]);
    }
  }
  if (!t.empty()) {
    c.mean_abs_level_diff = lev / static_cast<double>(t.size());
    c.mean_reference_level = levref / static_cast<double>(t.size());
  }
  auto lagged = [&](int k, size_t* n) {
    std::vector<double> x, y;
    for (const auto& [time, v] : ra) {
      auto it = rb.find(time + k * period);
      if (it == rb.end()) continue;
      x.push_back(v);
      y.push_back(it->second);
    }
    if (n) *n = x.size();
    return Pearson(x, y);
  };
  size_t n0 = 0;
  c.corr_lag0 = lagged(0, &n0);
  c.return_pairs = n0;
  if (n0 < static_cast<size_t>(kMinCorrelationWindow)) {
    return Status::FailedPrecondition(
        "only " + std::to_string(n0) + " hourly return pairs in common", "reference");
  }
  c.corr_ref_lags_1 = lagged(1, nullptr);
  c.corr_ref_leads_1 = lagged(-1, nullptr);
  double m = 0, ss = 0;
  size_t k = 0;
  for (size_t i = 1; i < t.size(); ++i) {
    if (t[i] - t[i - 1] != period) continue;
    const double d = std::log(a[i] / a[i - 1]) - std::log(b[i] / b[i - 1]);
    m += d;
    ss += d * d;
    ++k;
  }
  if (k > 1) {
    m /= static_cast<double>(k);
    c.return_tracking_error = std::sqrt(std::max(0.0, ss / static_cast<double>(k) - m * m));
  }
  return c;
}

Result<models::FeatureFrame> CrossAssetFeatures(std::span<const market::Bar> bars,
                                                market::Timeframe tf,
                                                std::span<const UnixNanos> ref_times,
                                                std::span<const double> ref_values,
                                                const CrossAssetFeatureOptions& o) {
  if (ref_times.size() != ref_values.size()) {
    return Status::InvalidArgument("ref_times and ref_values differ in length", "ref_values");
  }
  if (o.corr_window < kMinCorrelationWindow) {
    return Status::InvalidArgument(
        "corr_window " + std::to_string(o.corr_window) +
            " is below kMinCorrelationWindow = " + std::to_string(kMinCorrelationWindow),
        "corr_window");
  }
  if (o.min_long_run < o.corr_window) {
    return Status::InvalidArgument("min_long_run must be >= corr_window", "min_long_run");
  }
  if (o.return_lag_long < 2 || o.return_lag_long > 500) {
    return Status::InvalidArgument("return_lag_long must be in [2, 500]", "return_lag_long");
  }
  std::unordered_map<UnixNanos, double> ref;
  ref.reserve(ref_times.size() * 2);
  for (size_t i = 0; i < ref_times.size(); ++i) {
    if (!std::isfinite(ref_values[i]) || ref_values[i] <= 0) {
      return Status::InvalidArgument("reference value at row " + std::to_string(i) + " (" +
                                         FormatIso8601(ref_times[i]) + ") is not a positive number",
                                     "ref_values");
    }
    if (i > 0 && ref_times[i] <= ref_times[i - 1]) {
      return Status::InvalidArgument("reference times not ascending at row " + std::to_string(i),
                                     "ref_times");
    }
    ref[ref_times[i]] = ref_values[i];
  }
  const int64_t period = market::TimeframeNanos(tf);
  models::FeatureFrame f;
  f.set_name = "xasset";
  f.set_version = 1;
  f.names = {"xasset.ref_ret_1", "xasset.ref_ret_long", "xasset.corr_ref", "xasset.corr_ref_z"};
  f.rows = bars.size();
  f.values.assign(bars.size() * f.names.size(), std::numeric_limits<float>::quiet_NaN());
  // Every lookup below is for a time <= the current bar's time: no look-ahead.
  auto at = [&](UnixNanos t, double* v) {
    auto it = ref.find(t);
    if (it == ref.end()) return false;
    *v = it->second;
    return true;
  };
  std::vector<double> xs, ys, wx(o.corr_window), wy(o.corr_window);
  Sums lr;
  const double scale = std::sqrt(static_cast<double>(o.corr_window) - 3.0);
  for (size_t i = 0; i < bars.size(); ++i) {
    const UnixNanos t = bars[i].time();
    float* row = f.values.data() + i * f.names.size();
    double v0 = 0, v1 = 0, vl = 0;
    const bool has0 = at(t, &v0);
    const bool has1 = has0 && at(t - period, &v1);
    if (has1) row[0] = static_cast<float>(std::log(v0 / v1));
    if (has0 && at(t - o.return_lag_long * period, &vl))
      row[1] = static_cast<float>(std::log(v0 / vl));
    if (has1 && i > 0 && t - bars[i - 1].time() == period) {
      xs.push_back(std::log(bars[i].close() / bars[i - 1].close()));
      ys.push_back(std::log(v0 / v1));
      if (xs.size() > static_cast<size_t>(o.corr_window)) {
        const size_t leaving = xs.size() - o.corr_window - 1;
        lr.Add(xs[leaving], ys[leaving]);
      }
    }
    if (xs.size() >= static_cast<size_t>(o.corr_window)) {
      std::copy(xs.end() - o.corr_window, xs.end(), wx.begin());
      std::copy(ys.end() - o.corr_window, ys.end(), wy.begin());
      const double c = Pearson(wx, wy);
      row[2] = static_cast<float>(c);
      if (lr.n >= o.min_long_run) {
        const double l = lr.Corr();
        if (!std::isnan(c) && !std::isnan(l))
          row[3] = static_cast<float>((FisherZ(c) - FisherZ(l)) * scale);
      }
    }
  }
  return f;
}

}  // namespace sinyal::signals
