#include "backtest/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/time.h"

namespace sinyal::backtest {
namespace {

int64_t DayOf(UnixNanos t) {
  int64_t d = t / kNanosPerDay;
  if (t % kNanosPerDay < 0) --d;
  return d;
}

double Days(UnixNanos a, UnixNanos b) {
  return static_cast<double>(b - a) / static_cast<double>(kNanosPerDay);
}

nlohmann::json Finite(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

}  // namespace

double NormalCdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

std::vector<std::pair<UnixNanos, double>> DailyEquity(std::span<const EquityPoint> curve,
                                                      double initial_equity) {
  std::vector<std::pair<UnixNanos, double>> out;
  for (const EquityPoint& p : curve) {
    // A close exactly at midnight belongs to the day that just ended.
    const int64_t day = DayOf(p.time - 1);
    if (!out.empty() && DayOf(out.back().first) == day) {
      out.back().second = p.equity;
    } else {
      out.push_back({day * kNanosPerDay, p.equity});
    }
  }
  (void)initial_equity;
  return out;
}

std::vector<DrawdownPoint> DrawdownCurve(std::span<const EquityPoint> curve) {
  std::vector<DrawdownPoint> out;
  out.reserve(curve.size());
  double peak = -std::numeric_limits<double>::infinity();
  for (const EquityPoint& p : curve) {
    peak = std::max(peak, p.equity);
    out.push_back({p.time, peak > 0 ? 1 - p.equity / peak : 0});
  }
  return out;
}

Metrics ComputeMetrics(std::span<const EquityPoint> curve, std::span<const Trade> trades,
                       double initial_equity, const MetricsOptions& options) {
  Metrics m;
  m.initial_equity = initial_equity;
  m.periods_per_year = options.periods_per_year;
  if (curve.empty()) return m;
  m.final_equity = curve.back().equity;
  m.total_return = m.final_equity / initial_equity - 1;
  const double elapsed_days = Days(curve.front().time, curve.back().time);
  m.years = elapsed_days / 365.25;
  if (m.years > 0 && m.final_equity > 0) {
    m.annual_return = std::pow(m.final_equity / initial_equity, 1 / m.years) - 1;
  } else if (m.final_equity <= 0) {
    m.annual_return = -1;
  }

  // Daily returns. The first day's return is against the initial equity.
  const auto daily = DailyEquity(curve, initial_equity);
  std::vector<double> r;
  double prev = initial_equity;
  for (const auto& [day, eq] : daily) {
    if (prev > 0) r.push_back(eq / prev - 1);
    prev = eq;
  }
  m.days = static_cast<int64_t>(r.size());
  const double n = static_cast<double>(r.size());
  if (r.size() >= 2) {
    double mean = 0;
    for (double x : r) mean += x;
    mean /= n;
    double ss = 0, s3 = 0, s4 = 0, down = 0;
    for (double x : r) {
      const double d = x - mean;
      ss += d * d;
      s3 += d * d * d;
      s4 += d * d * d * d;
      down += std::min(x, 0.0) * std::min(x, 0.0);
    }
    const double sd = std::sqrt(ss / (n - 1));
    const double pop_var = ss / n;
    m.daily_mean = mean;
    m.daily_std = sd;
    if (pop_var > 0) {
      m.skewness = (s3 / n) / std::pow(pop_var, 1.5);
      m.kurtosis = (s4 / n) / (pop_var * pop_var);
    }
    const double root_n = std::sqrt(options.periods_per_year);
    if (sd > 0) {
      m.sharpe = mean / sd * root_n;
      const double sr = mean / sd;  // per day
      auto psr = [&](double sr_star) {
        const double denom = 1 - m.skewness * sr + (m.kurtosis - 1) / 4 * sr * sr;
        if (!(denom > 0)) return std::numeric_limits<double>::quiet_NaN();
        return NormalCdf((sr - sr_star) * std::sqrt(n - 1) / std::sqrt(denom));
      };
      m.psr = psr(0);
      m.psr_vs_1 = psr(1 / root_n);
    }
    const double dd = std::sqrt(down / n);
    if (dd > 0) {
      m.sortino = mean / dd * root_n;
    } else if (mean > 0) {
      m.sortino = std::numeric_limits<double>::infinity();
    }
  }

  // Drawdowns on the bar-by-bar marked equity.
  double peak = initial_equity;
  UnixNanos peak_time = curve.front().time;
  UnixNanos dd_start = 0;  // peak time of the current drawdown (0 = at a peak)
  for (const EquityPoint& p : curve) {
    if (p.equity >= peak) {
      if (dd_start != 0) {
        m.longest_drawdown_days = std::max(m.longest_drawdown_days, Days(dd_start, p.time));
        if (m.max_drawdown_peak == dd_start && m.max_drawdown_end == 0) {
          m.max_drawdown_end = p.time;
        }
        dd_start = 0;
      }
      peak = p.equity;
      peak_time = p.time;
      continue;
    }
    if (dd_start == 0) dd_start = peak_time;
    const double dd = 1 - p.equity / peak;
    if (dd > m.max_drawdown) {
      m.max_drawdown = dd;
      m.max_drawdown_money = peak - p.equity;
      m.max_drawdown_peak = peak_time;
      m.max_drawdown_trough = p.time;
      m.max_drawdown_end = 0;
    }
  }
  if (dd_start != 0) {
    m.longest_drawdown_days = std::max(m.longest_drawdown_days, Days(dd_start, curve.back().time));
  }
  if (m.max_drawdown > 0) {
    m.max_drawdown_recovered = m.max_drawdown_end != 0;
    const UnixNanos end = m.max_drawdown_recovered ? m.max_drawdown_end : curve.back().time;
    m.max_drawdown_days = Days(m.max_drawdown_peak, end);
    m.calmar = m.annual_return / m.max_drawdown;
  }

  // Trades.
  m.trades = static_cast<int64_t>(trades.size());
  double gains = 0, losses = 0, sum = 0, sum_r = 0, bars = 0;
  int64_t with_r = 0;
  for (const Trade& t : trades) {
    sum += t.net_pnl;
    bars += static_cast<double>(t.bars_held);
    if (t.r_multiple != 0) {
      sum_r += t.r_multiple;
      ++with_r;
    }
    if (t.net_pnl > 0) {
      ++m.wins;
      gains += t.net_pnl;
      m.largest_win = std::max(m.largest_win, t.net_pnl);
    } else {
      ++m.losses;
      losses += t.net_pnl;
      m.largest_loss = std::min(m.largest_loss, t.net_pnl);
    }
    m.commission += t.commission;
    m.swap += t.swap;
  }
  if (m.trades > 0) {
    const double nt = static_cast<double>(m.trades);
    m.win_rate = static_cast<double>(m.wins) / nt;
    m.expectancy = sum / nt;
    m.avg_bars_held = bars / nt;
    m.profit_factor =
        losses < 0 ? gains / -losses : (gains > 0 ? std::numeric_limits<double>::infinity() : 0);
    m.avg_win = m.wins ? gains / static_cast<double>(m.wins) : 0;
    m.avg_loss = m.losses ? losses / static_cast<double>(m.losses) : 0;
    if (with_r) m.expectancy_r = sum_r / static_cast<double>(with_r);
    if (m.trades >= 2) {
      double ss = 0;
      for (const Trade& t : trades) ss += (t.net_pnl - m.expectancy) * (t.net_pnl - m.expectancy);
      const double sd = std::sqrt(ss / (nt - 1));
      if (sd > 0) m.sqn = std::sqrt(nt) * m.expectancy / sd;
    }
    m.sqn_reliable = m.trades >= 30;
  }
  int64_t exposed = 0;
  for (const EquityPoint& p : curve) exposed += p.exposed;
  m.exposure = static_cast<double>(exposed) / static_cast<double>(curve.size());
  return m;
}

nlohmann::json ToJson(const Metrics& m) {
  auto t = [](UnixNanos x) {
    return x ? nlohmann::json(FormatIso8601(x)) : nlohmann::json(nullptr);
  };
  return {{"initial_equity", m.initial_equity},
          {"final_equity", m.final_equity},
          {"total_return", m.total_return},
          {"annual_return", Finite(m.annual_return)},
          {"years", m.years},
          {"days", m.days},
          {"periods_per_year", m.periods_per_year},
          {"daily_mean", m.daily_mean},
          {"daily_std", m.daily_std},
          {"skewness", m.skewness},
          {"kurtosis", m.kurtosis},
          {"sharpe", m.sharpe},
          {"sortino", Finite(m.sortino)},
          {"psr", Finite(m.psr)},
          {"psr_vs_1", Finite(m.psr_vs_1)},
          {"max_drawdown", m.max_drawdown},
          {"max_drawdown_money", m.max_drawdown_money},
          {"max_drawdown_peak", t(m.max_drawdown_peak)},
          {"max_drawdown_trough", t(m.max_drawdown_trough)},
          {"max_drawdown_recovered_at", t(m.max_drawdown_end)},
          {"max_drawdown_recovered", m.max_drawdown_recovered},
          {"max_drawdown_days", m.max_drawdown_days},
          {"longest_drawdown_days", m.longest_drawdown_days},
          {"calmar", Finite(m.calmar)},
          {"trades", m.trades},
          {"wins", m.wins},
          {"losses", m.losses},
          {"win_rate", m.win_rate},
          {"profit_factor", Finite(m.profit_factor)},
          {"expectancy", m.expectancy},
          {"expectancy_r", m.expectancy_r},
          {"avg_win", m.avg_win},
          {"avg_loss", m.avg_loss},
          {"largest_win", m.largest_win},
          {"largest_loss", m.largest_loss},
          {"sqn", m.sqn},
          {"sqn_trades", m.trades},
          {"sqn_reliable", m.sqn_reliable},
          {"avg_bars_held", m.avg_bars_held},
          {"exposure", m.exposure},
          {"costs", {{"commission", m.commission}, {"swap", m.swap}}}};
}

nlohmann::json MetricDefinitions(const MetricsOptions& o) {
  const std::string n = std::to_string(static_cast<int>(o.periods_per_year));
  return {
      {"total_return", "final equity / initial equity - 1"},
      {"annual_return", "CAGR over calendar time: (final / initial)^(365.25 / elapsed days) - 1"},
      {"sharpe",
       "daily returns of the marked equity resampled to UTC days (last point of each day "
       "with bars; no filling): mean / std (ddof 1) x sqrt(" +
           n + "); risk-free rate 0, arithmetic mean"},
      {"sortino", "mean daily return / sqrt(mean(min(r, 0)^2) over all days) x sqrt(" + n + ")"},
      {"psr",
       "probabilistic Sharpe ratio (Bailey & Lopez de Prado): P(true daily Sharpe > 0) "
       "given n days, skewness and kurtosis; psr_vs_1: against an annualised Sharpe of 1"},
      {"max_drawdown",
       "largest 1 - equity / running peak over the bar-by-bar marked equity "
       "(open positions included); duration from that peak to recovery or the end"},
      {"calmar", "annual_return / max_drawdown"},
      {"win_rate", "share of closed trades with net P&L > 0 (a partial close is a trade)"},
      {"profit_factor", "sum of winning net P&L / |sum of losing net P&L|"},
      {"expectancy",
       "mean net P&L per trade in account money; expectancy_r: mean R multiple "
       "(net P&L / money at risk at the initial stop) of trades with a stop"},
      {"sqn", "sqrt(n) x mean(net P&L) / std(net P&L, ddof 1); read only with n >= 30 trades"},
      {"exposure", "share of bar closes with a position open"},
      {"costs", "spread (half the spread per fill), commission per side, slippage, swap per night"},
      {"fills",
       "signals made at a bar's close fill at the next bar's open: buys at the ask, sells "
       "at the bid; stop-loss before take-profit when both are inside one bar unless M1 "
       "replay decides"}};
}

}  // namespace sinyal::backtest
