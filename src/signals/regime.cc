#include "signals/regime.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>

#include "features/indicators.h"

namespace sinyal::signals {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}  // namespace

std::string_view TrendStateName(TrendState t) {
  switch (t) {
    case TrendState::kRange:
      return "range";
    case TrendState::kUp:
      return "up";
    case TrendState::kDown:
      return "down";
    case TrendState::kTransition:
      return "transition";
  }
  return "?";
}

std::string_view VolStateName(VolState v) {
  switch (v) {
    case VolState::kLow:
      return "low_vol";
    case VolState::kNormal:
      return "normal_vol";
    case VolState::kHigh:
      return "high_vol";
  }
  return "?";
}

bool operator==(const RegimeState& a, const RegimeState& b) {
  auto same = [](double x, double y) { return x == y || (std::isnan(x) && std::isnan(y)); };
  return a.time == b.time && a.ready == b.ready && a.trend == b.trend && a.vol == b.vol &&
         same(a.adx, b.adx) && same(a.slope, b.slope) && same(a.rv, b.rv) &&
         same(a.rv_percentile, b.rv_percentile);
}

std::string RegimeName(int code) {
  if (code < 0 || code >= kNumRegimes) return "not_ready";
  return std::string(TrendStateName(static_cast<TrendState>(code / kNumVolStates))) + "/" +
         std::string(VolStateName(static_cast<VolState>(code % kNumVolStates)));
}

Status Validate(const RegimeConfig& c) {
  auto bad = [](const std::string& f, const std::string& why) {
    return Status::InvalidArgument(f + " " + why, "regime." + f);
  };
  if (c.adx_period < 2 || c.adx_period > 500) return bad("adx_period", "must be in [2, 500]");
  if (!(c.adx_trend > 0 && c.adx_trend < 100)) return bad("adx_trend", "must be in (0, 100)");
  if (c.atr_period < 1 || c.atr_period > 500) return bad("atr_period", "must be in [1, 500]");
  if (c.ema_period < 2 || c.ema_period > 1000) return bad("ema_period", "must be in [2, 1000]");
  if (c.slope_lookback < 1 || c.slope_lookback > 500)
    return bad("slope_lookback", "must be in [1, 500]");
  if (!(c.slope_threshold > 0 && c.slope_threshold <= 10))
    return bad("slope_threshold", "must be in (0, 10]");
  if (c.rv_window < 2 || c.rv_window > 1000) return bad("rv_window", "must be in [2, 1000]");
  if (c.vol_history < 50 || c.vol_history > 100000)
    return bad("vol_history", "must be in [50, 100000]");
  if (c.vol_min_history < 20 || c.vol_min_history > c.vol_history) {
    return bad("vol_min_history", "must be in [20, vol_history]");
  }
  if (!(c.low_percentile > 0 && c.low_percentile < c.high_percentile && c.high_percentile < 1)) {
    return bad("low_percentile", "and high_percentile must satisfy 0 < low < high < 1");
  }
  return Status::Ok();
}

struct RegimeClassifier::Impl {
  RegimeConfig cfg;
  features::Adx adx;
  features::Atr atr;
  features::Ema ema;
  std::deque<double> ema_hist;    // last slope_lookback + 1 EMA values
  std::deque<double> returns;     // last rv_window log returns
  std::deque<double> rv_fifo;     // past rv values in arrival order (at most vol_history)
  std::vector<double> rv_sorted;  // the same values, sorted
  double prev_close = 0;
  bool has_prev = false;
  RegimeState state;

  Impl(const RegimeConfig& c, features::Adx a, features::Atr t, features::Ema e)
      : cfg(c), adx(std::move(a)), atr(std::move(t)), ema(std::move(e)) {}

  void Reset() {
    adx.Reset();
    atr.Reset();
    ema.Reset();
    ema_hist.clear();
    returns.clear();
    rv_fifo.clear();
    rv_sorted.clear();
    prev_close = 0;
    has_prev = false;
    state = RegimeState{};
  }

  void Feed(const market::Bar& b) {
    adx.Update(b);
    atr.Update(b);
    ema.Update(b);
    RegimeState s;
    s.time = b.time();
    s.adx = adx.Initialized() ? adx.Value() : kNaN;
    if (ema.Initialized()) {
      ema_hist.push_back(ema.Value());
      if (static_cast<int>(ema_hist.size()) > cfg.slope_lookback + 1) ema_hist.pop_front();
    }
    s.slope = kNaN;
    if (static_cast<int>(ema_hist.size()) == cfg.slope_lookback + 1 && atr.Initialized() &&
        atr.Value() > 0) {
      s.slope = (ema_hist.back() - ema_hist.front()) / (cfg.slope_lookback * atr.Value());
    }
    if (has_prev) {
      returns.push_back(std::log(b.close() / prev_close));
      if (static_cast<int>(returns.size()) > cfg.rv_window) returns.pop_front();
    }
    prev_close = b.close();
    has_prev = true;
    s.rv = kNaN;
    s.rv_percentile = kNaN;
    if (static_cast<int>(returns.size()) == cfg.rv_window) {
      double ss = 0;
      for (double r : returns) ss += r * r;
      s.rv = std::sqrt(ss / cfg.rv_window);
      if (static_cast<int>(rv_sorted.size()) >= cfg.vol_min_history) {
        const auto lo = std::lower_bound(rv_sorted.begin(), rv_sorted.end(), s.rv);
        const auto hi = std::upper_bound(lo, rv_sorted.end(), s.rv);
        s.rv_percentile =
            (static_cast<double>(lo - rv_sorted.begin()) + 0.5 * static_cast<double>(hi - lo)) /
            static_cast<double>(rv_sorted.size());
      }
      // Only now does rv_t join the history used for later bars.
      rv_fifo.push_back(s.rv);
      rv_sorted.insert(std::upper_bound(rv_sorted.begin(), rv_sorted.end(), s.rv), s.rv);
      if (static_cast<int>(rv_fifo.size()) > cfg.vol_history) {
        const double old = rv_fifo.front();
        rv_fifo.pop_front();
        rv_sorted.erase(std::lower_bound(rv_sorted.begin(), rv_sorted.end(), old));
      }
    }
    s.ready = !std::isnan(s.adx) && !std::isnan(s.slope) && !std::isnan(s.rv_percentile);
    if (s.ready) {
      const bool directional = s.adx >= cfg.adx_trend;
      if (directional && s.slope >= cfg.slope_threshold) {
        s.trend = TrendState::kUp;
      } else if (directional && s.slope <= -cfg.slope_threshold) {
        s.trend = TrendState::kDown;
      } else if (!directional && std::fabs(s.slope) < cfg.slope_threshold) {
        s.trend = TrendState::kRange;
      } else {
        s.trend = TrendState::kTransition;
      }
      s.vol = s.rv_percentile < cfg.low_percentile    ? VolState::kLow
              : s.rv_percentile > cfg.high_percentile ? VolState::kHigh
                                                      : VolState::kNormal;
    }
    state = s;
  }
};

Result<RegimeClassifier> RegimeClassifier::Create(const RegimeConfig& config) {
  SINYAL_RETURN_IF_ERROR(Validate(config));
  SINYAL_ASSIGN_OR_RETURN(auto adx, features::Adx::Create(config.adx_period));
  SINYAL_ASSIGN_OR_RETURN(auto atr, features::Atr::Create(config.atr_period));
  SINYAL_ASSIGN_OR_RETURN(auto ema, features::Ema::Create(config.ema_period));
  return RegimeClassifier(
      std::make_unique<Impl>(config, std::move(adx), std::move(atr), std::move(ema)));
}

RegimeClassifier::RegimeClassifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RegimeClassifier::RegimeClassifier(RegimeClassifier&&) noexcept = default;
RegimeClassifier& RegimeClassifier::operator=(RegimeClassifier&&) noexcept = default;
RegimeClassifier::~RegimeClassifier() = default;

Status RegimeClassifier::Update(const market::Bar& bar) {
  if (impl_->has_prev && bar.time() <= impl_->state.time) {
    return Status::InvalidArgument("bar time " + std::to_string(bar.time()) +
                                       " is not after the previous bar's " +
                                       std::to_string(impl_->state.time),
                                   "time");
  }
  impl_->Feed(bar);
  return Status::Ok();
}

const RegimeState& RegimeClassifier::Current() const { return impl_->state; }
void RegimeClassifier::Reset() { impl_->Reset(); }
const RegimeConfig& RegimeClassifier::config() const { return impl_->cfg; }

Result<std::vector<RegimeState>> ClassifyRegimes(std::span<const market::Bar> bars,
                                                 const RegimeConfig& config) {
  SINYAL_ASSIGN_OR_RETURN(auto rc, RegimeClassifier::Create(config));
  std::vector<RegimeState> out;
  out.reserve(bars.size());
  for (size_t i = 0; i < bars.size(); ++i) {
    Status s = rc.Update(bars[i]);
    if (!s.ok()) return s.WithField("bars[" + std::to_string(i) + "].time");
    out.push_back(rc.Current());
  }
  return out;
}

const std::vector<std::string>& RegimeFeatureNames() {
  static const std::vector<std::string> names = {"regime.code",  "regime.trend",
                                                 "regime.vol",   "regime.adx",
                                                 "regime.slope", "regime.rv_percentile"};
  return names;
}

void RegimeFeatures(const RegimeState& s, float* out) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  if (!s.ready) {
    for (size_t i = 0; i < RegimeFeatureNames().size(); ++i) out[i] = nan;
    return;
  }
  out[0] = static_cast<float>(s.Code());
  out[1] = static_cast<float>(static_cast<int>(s.trend));
  out[2] = static_cast<float>(static_cast<int>(s.vol));
  out[3] = static_cast<float>(s.adx);
  out[4] = static_cast<float>(s.slope);
  out[5] = static_cast<float>(s.rv_percentile);
}

double RegimeRunStats::TransitionProbability(int i, int j) const {
  int64_t row = 0;
  for (int k = 0; k < kNumRegimes; ++k) row += transitions[i][k];
  if (row == 0) return kNaN;
  return static_cast<double>(transitions[i][j]) / static_cast<double>(row);
}

RegimeRunStats ComputeRunStats(std::span<const RegimeState> states) {
  RegimeRunStats r;
  int prev = -1;
  for (const auto& s : states) {
    const int c = s.Code();
    if (c >= 0) {
      ++r.bars[c];
      ++r.ready_bars;
      if (c != prev) ++r.runs[c];
      if (prev >= 0) ++r.transitions[prev][c];
    }
    prev = c;
  }
  for (int k = 0; k < kNumRegimes; ++k) {
    r.mean_duration[k] =
        r.runs[k] > 0 ? static_cast<double>(r.bars[k]) / static_cast<double>(r.runs[k]) : kNaN;
  }
  return r;
}

}  // namespace sinyal::signals
