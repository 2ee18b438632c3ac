#include "signals/indicator_odds.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/time.h"
#include "features/indicators.h"

namespace sinyal::signals {

namespace {

constexpr int kMaxPeriod = 1000;

std::string Lower(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (!std::isspace(static_cast<unsigned char>(c))) {
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
  }
  return out;
}

// Parses "(a,b,...)" at `pos` into up to 3 numbers; returns false on malformed input. Leaves
// `pos` after ')'. Absent parentheses leave the defaults and return true.
bool Params(const std::string& s, size_t& pos, std::vector<double>& out, size_t want) {
  if (pos >= s.size() || s[pos] != '(') return true;
  const size_t close = s.find(')', pos);
  if (close == std::string::npos) return false;
  std::vector<double> vals;
  size_t p = pos + 1;
  while (p < close) {
    size_t comma = s.find(',', p);
    if (comma == std::string::npos || comma > close) comma = close;
    const std::string num = s.substr(p, comma - p);
    if (num.empty()) return false;
    char* end = nullptr;
    const double v = std::strtod(num.c_str(), &end);
    if (end != num.c_str() + num.size() || !std::isfinite(v)) return false;
    vals.push_back(v);
    p = comma + 1;
  }
  if (vals.size() != want) return false;
  out = std::move(vals);
  pos = close + 1;
  return true;
}

bool IsInt(double v) { return v == std::floor(v) && v >= 1 && v <= kMaxPeriod; }

std::string Num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

Status Bad(std::string_view text, const std::string& field, const std::string& why) {
  return Status::InvalidArgument("unknown indicator state '" + std::string(text) + "': " + why +
                                     " (known: rsi<30, rsi(9)>70, stoch<20, macd_cross_up, "
                                     "macd_cross_down, close>bb_upper, close<bb_lower(20,2), "
                                     "close>sma(200))",
                                 field);
}

}  // namespace

int IndicatorState::Warmup() const {
  switch (kind) {
    case Kind::kRsi:
      return p1 + 1;
    case Kind::kStoch:
      return p1 + p2 + p3;
    case Kind::kMacdCross:
      return p2 + p3 + 1;
    case Kind::kBollinger:
      return p1;
    case Kind::kSma:
      return p1;
  }
  return 0;
}

Result<IndicatorState> ParseIndicatorState(std::string_view text, const std::string& field) {
  if (text.empty() || text.size() > 64) return Bad(text, field, "1-64 characters expected");
  const std::string s = Lower(text);
  IndicatorState st;
  size_t pos = 0;
  auto level_after = [&](IndicatorState& out) -> bool {
    if (pos >= s.size() || (s[pos] != '<' && s[pos] != '>')) return false;
    out.above = s[pos] == '>';
    const std::string num = s.substr(pos + 1);
    if (num.empty()) return false;
    char* end = nullptr;
    out.level = std::strtod(num.c_str(), &end);
    return end == num.c_str() + num.size() && out.level > 0 && out.level < 100;
  };
  if (s.rfind("rsi", 0) == 0) {
    pos = 3;
    std::vector<double> p = {14};
    if (!Params(s, pos, p, 1) || !IsInt(p[0]) || p[0] < 2)
      return Bad(text, field, "rsi(period) with period 2..1000");
    st.kind = IndicatorState::Kind::kRsi;
    st.p1 = static_cast<int>(p[0]);
    if (!level_after(st)) return Bad(text, field, "expected '<' or '>' and a level in (0, 100)");
    st.name = "rsi(" + std::to_string(st.p1) + ")" + (st.above ? ">" : "<") + Num(st.level);
    return st;
  }
  if (s.rfind("stoch", 0) == 0) {
    pos = 5;
    std::vector<double> p = {14, 3, 3};
    if (!Params(s, pos, p, 3) || !IsInt(p[0]) || !IsInt(p[1]) || !IsInt(p[2])) {
      return Bad(text, field, "stoch(fastk,slowk,slowd) with periods 1..1000");
    }
    st.kind = IndicatorState::Kind::kStoch;
    st.p1 = static_cast<int>(p[0]);
    st.p2 = static_cast<int>(p[1]);
    st.p3 = static_cast<int>(p[2]);
    if (!level_after(st)) return Bad(text, field, "expected '<' or '>' and a level in (0, 100)");
    st.name = "stoch(" + std::to_string(st.p1) + "," + std::to_string(st.p2) + "," +
              std::to_string(st.p3) + ")" + (st.above ? ">" : "<") + Num(st.level);
    return st;
  }
  if (s.rfind("macd", 0) == 0) {
    pos = 4;
    std::vector<double> p = {12, 26, 9};
    if (!Params(s, pos, p, 3) || !IsInt(p[0]) || !IsInt(p[1]) || !IsInt(p[2]) || p[0] < 2 ||
        p[1] < 2 || p[2] < 2) {
      return Bad(text, field, "macd(fast,slow,signal) with periods 2..1000");
    }
    const std::string rest = s.substr(pos);
    if (rest != "_cross_up" && rest != "_cross_down") {
      return Bad(text, field, "expected macd_cross_up or macd_cross_down");
    }
    st.kind = IndicatorState::Kind::kMacdCross;
    st.above = rest == "_cross_up";
    st.p1 = static_cast<int>(p[0]);
    st.p2 = static_cast<int>(p[1]);
    st.p3 = static_cast<int>(p[2]);
    st.name = "macd(" + std::to_string(st.p1) + "," + std::to_string(st.p2) + "," +
              std::to_string(st.p3) + ")" + rest;
    return st;
  }
  if (s.rfind("close>", 0) == 0 || s.rfind("close<", 0) == 0) {
    st.above = s[5] == '>';
    const std::string rest = s.substr(6);
    if (rest.rfind("bb_upper", 0) == 0 || rest.rfind("bb_lower", 0) == 0) {
      const bool upper = rest.rfind("bb_upper", 0) == 0;
      if (upper != st.above) return Bad(text, field, "use close>bb_upper or close<bb_lower");
      pos = 6 + 8;
      std::vector<double> p = {20, 2};
      if (!Params(s, pos, p, 2) || !IsInt(p[0]) || p[0] < 2 || !(p[1] > 0 && p[1] <= 10) ||
          pos != s.size()) {
        return Bad(text, field, "bb_upper(period,k) with period 2..1000 and k in (0, 10]");
      }
      st.kind = IndicatorState::Kind::kBollinger;
      st.p1 = static_cast<int>(p[0]);
      st.k = p[1];
      st.name = std::string("close") + (st.above ? ">bb_upper(" : "<bb_lower(") +
                std::to_string(st.p1) + "," + Num(st.k) + ")";
      return st;
    }
    if (rest.rfind("sma", 0) == 0) {
      pos = 6 + 3;
      std::vector<double> p = {0};
      if (pos >= s.size() || s[pos] != '(' || !Params(s, pos, p, 1) || !IsInt(p[0]) || p[0] < 2 ||
          pos != s.size()) {
        return Bad(text, field, "sma(period) with period 2..1000");
      }
      st.kind = IndicatorState::Kind::kSma;
      st.p1 = static_cast<int>(p[0]);
      st.name =
          std::string("close") + (st.above ? ">" : "<") + "sma(" + std::to_string(st.p1) + ")";
      return st;
    }
  }
  return Bad(text, field, "not a known form");
}

Result<std::vector<bool>> EvaluateIndicatorState(const IndicatorState& st,
                                                 std::span<const market::Bar> bars) {
  const size_t n = bars.size();
  std::vector<double> close(n);
  for (size_t i = 0; i < n; ++i) close[i] = bars[i].close();
  std::vector<bool> out(n, false);
  auto cmp = [&](double v, double level) { return st.above ? v > level : v < level; };
  switch (st.kind) {
    case IndicatorState::Kind::kRsi: {
      SINYAL_ASSIGN_OR_RETURN(auto v, features::RsiBatch(close, st.p1));
      for (size_t i = 0; i < n; ++i) out[i] = std::isfinite(v[i]) && cmp(v[i], st.level);
      break;
    }
    case IndicatorState::Kind::kStoch: {
      const features::Columns c = features::Columns::FromBars(bars);
      SINYAL_ASSIGN_OR_RETURN(auto v, features::StochBatch(c, st.p1, st.p2, st.p3));
      for (size_t i = 0; i < n; ++i)
        out[i] = std::isfinite(v.slowk[i]) && cmp(v.slowk[i], st.level);
      break;
    }
    case IndicatorState::Kind::kMacdCross: {
      SINYAL_ASSIGN_OR_RETURN(auto v, features::MacdBatch(close, st.p1, st.p2, st.p3));
      for (size_t i = 1; i < n; ++i) {
        const double a = v.hist[i - 1], b = v.hist[i];
        if (!std::isfinite(a) || !std::isfinite(b)) continue;
        out[i] = st.above ? (a <= 0 && b > 0) : (a >= 0 && b < 0);
      }
      break;
    }
    case IndicatorState::Kind::kBollinger: {
      SINYAL_ASSIGN_OR_RETURN(auto v, features::BbandsBatch(close, st.p1, st.k, st.k));
      for (size_t i = 0; i < n; ++i) {
        const double band = st.above ? v.upper[i] : v.lower[i];
        out[i] = std::isfinite(band) && cmp(close[i], band);
      }
      break;
    }
    case IndicatorState::Kind::kSma: {
      SINYAL_ASSIGN_OR_RETURN(auto v, features::SmaBatch(close, st.p1));
      for (size_t i = 0; i < n; ++i) out[i] = std::isfinite(v[i]) && cmp(close[i], v[i]);
      break;
    }
  }
  return out;
}

namespace {

UpRate Rate(size_t n, size_t up) {
  UpRate r;
  r.n = n;
  r.up = up;
  r.p_up = n > 0 ? static_cast<double>(up) / static_cast<double>(n) : std::nan("");
  r.ci = models::WilsonInterval(up, n);
  return r;
}

nlohmann::json RateJson(const UpRate& r) {
  nlohmann::json j = {{"n", r.n}, {"up", r.up}};
  if (r.n > 0) {
    j["p_up"] = r.p_up;
    j["ci95"] = {r.ci.lo, r.ci.hi};
  } else {
    j["p_up"] = nullptr;
    j["ci95"] = nullptr;
  }
  return j;
}

}  // namespace

nlohmann::json IndicatorOdds::ToJson() const {
  return {
      {"state", state},
      {"horizon", horizon},
      {"active", active},
      {"occurrences", occurrences},
      {"rate", RateJson(rate)},
      {"base_rate", RateJson(base)},
      {"holdout",
       {{"split", FormatIso8601(split)}, {"before", RateJson(before)}, {"after", RateJson(after)}}},
      {"from", FormatIso8601(from)},
      {"as_of", FormatIso8601(to)}};
}

Result<std::vector<IndicatorOdds>> ComputeIndicatorOdds(std::span<const market::Bar> bars,
                                                        std::span<const IndicatorState> states,
                                                        std::span<const int> horizons,
                                                        size_t as_of) {
  if (bars.empty() || as_of >= bars.size()) {
    return Status::InvalidArgument("as_of is outside the bars", "as_of");
  }
  for (int h : horizons) {
    if (h < 1 || h > 500)
      return Status::InvalidArgument("horizons must be in [1, 500]", "horizons");
  }
  const std::span<const market::Bar> upto = bars.first(as_of + 1);
  std::vector<IndicatorOdds> out;
  for (const IndicatorState& st : states) {
    SINYAL_ASSIGN_OR_RETURN(std::vector<bool> active, EvaluateIndicatorState(st, upto));
    for (int h : horizons) {
      IndicatorOdds o;
      o.state = st.name;
      o.horizon = h;
      o.active = active[as_of];
      o.from = upto.front().time();
      o.to = upto.back().time();
      const size_t hh = static_cast<size_t>(h);
      const size_t last = as_of >= hh ? as_of - hh : 0;  // last bar whose outcome is known
      // The holdout split: halfway between the first defined bar and the last resolved one.
      const size_t warm = std::min(static_cast<size_t>(st.Warmup()), last);
      const size_t mid = warm + (last - warm) / 2;
      o.split = upto[std::min(mid, as_of)].time();
      size_t n = 0, up = 0, bn = 0, bup = 0, n1 = 0, up1 = 0, n2 = 0, up2 = 0;
      size_t next = 0, bnext = 0;
      if (as_of >= hh) {
        for (size_t i = 0; i <= last; ++i) {
          const bool is_up = upto[i + hh].close() > upto[i].close();
          if (i >= bnext) {
            ++bn;
            bup += is_up;
            bnext = i + hh;
          }
          if (!active[i]) continue;
          ++o.occurrences;
          if (i < next) continue;
          ++n;
          up += is_up;
          next = i + hh;
          if (i < mid) {
            ++n1;
            up1 += is_up;
          } else {
            ++n2;
            up2 += is_up;
          }
        }
      }
      o.rate = Rate(n, up);
      o.base = Rate(bn, bup);
      o.before = Rate(n1, up1);
      o.after = Rate(n2, up2);
      out.push_back(std::move(o));
    }
  }
  return out;
}

}  // namespace sinyal::signals
