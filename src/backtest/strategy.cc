#include "backtest/strategy.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <utility>

#include "core/time.h"
#include "market/instrument.h"

namespace sinyal::backtest {
namespace {

using nlohmann::json;

// A JSON object being read at `path` ("signal."); every error names path + key.
class Obj {
 public:
  Obj(const json& j, std::string path) : j_(j), path_(std::move(path)) {}

  std::string Field(std::string_view key) const { return path_ + std::string(key); }

  Status Allowed(std::initializer_list<std::string_view> keys) const {
    for (const auto& [k, v] : j_.items()) {
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) {
        std::string list;
        for (auto key : keys) list += (list.empty() ? "" : ", ") + std::string(key);
        // An empty name is shown as "" so that the error always names a field (a top-level ""
        // gave an empty field; found by fuzz/strategy_fuzz.cc).
        return Status::InvalidArgument(
            "unknown field (accepted: " + list + ")",
            Field(k.empty() ? std::string_view("\"\"") : std::string_view(k)));
      }
    }
    return Status::Ok();
  }

  bool Has(const char* key) const { return j_.contains(key); }
  const json& at(const char* key) const { return j_.at(key); }

  Status Number(const char* key, double* out, double lo, double hi, bool lo_open = false) const {
    if (!Has(key)) return Status::Ok();
    const json& v = j_.at(key);
    if (!v.is_number()) return Status::InvalidArgument("must be a number", Field(key));
    const double x = v.get<double>();
    if (!std::isfinite(x) || x < lo || (lo_open && x == lo) || x > hi) {
      return Status::InvalidArgument("must be in " + std::string(lo_open ? "(" : "[") + Num(lo) +
                                         ", " + Num(hi) + "], got " + Num(x),
                                     Field(key));
    }
    *out = x;
    return Status::Ok();
  }

  Status Int(const char* key, int* out, int lo, int hi) const {
    if (!Has(key)) return Status::Ok();
    const json& v = j_.at(key);
    if (!v.is_number_integer()) return Status::InvalidArgument("must be an integer", Field(key));
    const int64_t x = v.get<int64_t>();
    if (x < lo || x > hi) {
      return Status::InvalidArgument("must be in [" + std::to_string(lo) + ", " +
                                         std::to_string(hi) + "], got " + std::to_string(x),
                                     Field(key));
    }
    *out = static_cast<int>(x);
    return Status::Ok();
  }

  Status Bool(const char* key, bool* out) const {
    if (!Has(key)) return Status::Ok();
    const json& v = j_.at(key);
    if (!v.is_boolean()) return Status::InvalidArgument("must be true or false", Field(key));
    *out = v.get<bool>();
    return Status::Ok();
  }

  Status String(const char* key, std::string* out, size_t max_len) const {
    if (!Has(key)) return Status::Ok();
    const json& v = j_.at(key);
    if (!v.is_string()) return Status::InvalidArgument("must be a string", Field(key));
    *out = v.get<std::string>();
    if (out->size() > max_len) {
      return Status::InvalidArgument("longer than " + std::to_string(max_len) + " characters",
                                     Field(key));
    }
    return Status::Ok();
  }

  Result<Obj> Object(const char* key) const {
    const json& v = j_.at(key);
    if (!v.is_object()) return Status::InvalidArgument("must be an object", Field(key));
    return Obj(v, Field(key) + ".");
  }

 private:
  static std::string Num(double x) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g", x);
    return buf;
  }
  const json& j_;
  std::string path_;
};

Status ParseCosts(const Obj& o, CostConfig* c) {
  SINYAL_RETURN_IF_ERROR(
      o.Allowed({"spread_points", "use_bar_spread", "slippage_points", "commission_per_lot",
                 "commission_rate", "swap_long_points", "swap_short_points", "prices"}));
  SINYAL_RETURN_IF_ERROR(o.Number("spread_points", &c->spread_points, 0, 1e6));
  SINYAL_RETURN_IF_ERROR(o.Bool("use_bar_spread", &c->use_bar_spread));
  SINYAL_RETURN_IF_ERROR(o.Number("slippage_points", &c->slippage_points, 0, 1e6));
  SINYAL_RETURN_IF_ERROR(o.Number("commission_per_lot", &c->commission_per_lot, 0, 1e6));
  SINYAL_RETURN_IF_ERROR(o.Number("commission_rate", &c->commission_rate, 0, 0.05));
  SINYAL_RETURN_IF_ERROR(o.Number("swap_long_points", &c->swap_long_points, -1e6, 1e6));
  SINYAL_RETURN_IF_ERROR(o.Number("swap_short_points", &c->swap_short_points, -1e6, 1e6));
  std::string prices = c->bars_are_mid ? "mid" : "bid";
  SINYAL_RETURN_IF_ERROR(o.String("prices", &prices, 8));
  if (prices != "bid" && prices != "mid") {
    return Status::InvalidArgument("must be \"bid\" (MT5 bars) or \"mid\"", o.Field("prices"));
  }
  c->bars_are_mid = prices == "mid";
  return Status::Ok();
}

json CostsJson(const CostConfig& c) {
  return {{"spread_points", c.spread_points},         {"use_bar_spread", c.use_bar_spread},
          {"slippage_points", c.slippage_points},     {"commission_per_lot", c.commission_per_lot},
          {"commission_rate", c.commission_rate},     {"swap_long_points", c.swap_long_points},
          {"swap_short_points", c.swap_short_points}, {"prices", c.bars_are_mid ? "mid" : "bid"}};
}

Result<UnixNanos> ParseTime(const Obj& o, const char* key) {
  std::string text;
  SINYAL_RETURN_IF_ERROR(o.String(key, &text, 40));
  auto t = ParseIso8601(text);
  if (!t.ok()) return Status::InvalidArgument(t.error().message(), o.Field(key));
  return *t;
}

}  // namespace

const CostConfig& StrategyConfig::CostsFor(const std::string& symbol) const {
  auto it = costs_by_symbol.find(symbol);
  return it == costs_by_symbol.end() ? costs : it->second;
}

Result<StrategyConfig> ParseStrategy(std::string_view text) {
  if (text.size() > kMaxStrategyBytes) {
    return Status(StatusCode::kPayloadTooLarge,
                  "the strategy is " + std::to_string(text.size()) + " bytes; at most " +
                      std::to_string(kMaxStrategyBytes) + " are accepted",
                  "strategy");
  }
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    return Status::InvalidArgument(
        "malformed JSON at byte " + std::to_string(e.byte) + ": " + e.what(), "strategy");
  } catch (const json::exception& e) {
    // e.g. out_of_range.406 for a number too large for a double ("1e999"): found by
    // fuzz/strategy_fuzz.cc, it escaped as an uncaught exception.
    return Status::InvalidArgument(std::string("malformed JSON: ") + e.what(), "strategy");
  }
  return StrategyFromJson(j);
}

Result<StrategyConfig> StrategyFromJson(const json& j) {
  if (!j.is_object()) return Status::InvalidArgument("must be a JSON object", "strategy");
  StrategyConfig c;
  const Obj top(j, "");
  SINYAL_RETURN_IF_ERROR(top.Allowed({"name", "symbols", "timeframe", "period", "initial_balance",
                                      "currency", "signal", "entry", "sizing", "stops", "costs",
                                      "costs_by_symbol", "risk", "fills", "model", "baselines"}));
  SINYAL_RETURN_IF_ERROR(top.String("name", &c.name, 200));

  if (!top.Has("symbols"))
    return Status::InvalidArgument("at least one symbol is needed", "symbols");
  const json& syms = j.at("symbols");
  if (!syms.is_array() || syms.empty() || syms.size() > 10) {
    return Status::InvalidArgument("must be an array of 1 to 10 symbols", "symbols");
  }
  for (size_t i = 0; i < syms.size(); ++i) {
    const std::string field = "symbols[" + std::to_string(i) + "]";
    if (!syms[i].is_string()) return Status::InvalidArgument("must be a string", field);
    auto sym = market::NormalizeSymbol(syms[i].get<std::string>());
    if (!sym.ok()) return Status::InvalidArgument(sym.error().message(), field);
    if (std::find(c.symbols.begin(), c.symbols.end(), *sym) != c.symbols.end()) {
      return Status::InvalidArgument("symbol " + *sym + " listed twice", field);
    }
    c.symbols.push_back(*sym);
  }
  if (top.Has("timeframe")) {
    std::string tf;
    SINYAL_RETURN_IF_ERROR(top.String("timeframe", &tf, 16));
    auto parsed = market::ParseTimeframe(tf);
    if (!parsed.ok()) return Status::InvalidArgument(parsed.error().message(), "timeframe");
    c.timeframe = *parsed;
  }
  if (top.Has("period")) {
    SINYAL_ASSIGN_OR_RETURN(Obj p, top.Object("period"));
    SINYAL_RETURN_IF_ERROR(p.Allowed({"from", "to"}));
    if (p.Has("from")) {
      SINYAL_ASSIGN_OR_RETURN(c.from, ParseTime(p, "from"));
    }
    if (p.Has("to")) {
      SINYAL_ASSIGN_OR_RETURN(c.to, ParseTime(p, "to"));
    }
    if (c.from != 0 && c.to != 0 && c.from >= c.to) {
      return Status::InvalidArgument("empty period: from must be before to", "period");
    }
  }
  SINYAL_RETURN_IF_ERROR(top.Number("initial_balance", &c.initial_balance, 0, 1e12, true));
  SINYAL_RETURN_IF_ERROR(top.String("currency", &c.currency, 3));
  if (c.currency.size() != 3) {
    return Status::InvalidArgument("must be a 3-letter currency code", "currency");
  }
  if (top.Has("signal")) {
    SINYAL_ASSIGN_OR_RETURN(Obj o, top.Object("signal"));
    SINYAL_RETURN_IF_ERROR(
        o.Allowed({"threshold", "allow_short", "close_on_neutral", "hold_bars"}));
    SINYAL_RETURN_IF_ERROR(o.Number("threshold", &c.signal.threshold, 0.5, 1));
    SINYAL_RETURN_IF_ERROR(o.Bool("allow_short", &c.signal.allow_short));
    SINYAL_RETURN_IF_ERROR(o.Bool("close_on_neutral", &c.signal.close_on_neutral));
    SINYAL_RETURN_IF_ERROR(o.Int("hold_bars", &c.signal.hold_bars, 0, 10000));
  }
  if (top.Has("entry")) {
    SINYAL_ASSIGN_OR_RETURN(Obj o, top.Object("entry"));
    SINYAL_RETURN_IF_ERROR(o.Allowed({"type", "offset_points", "time_in_force", "expire_bars"}));
    std::string type = "market", tif = "gtc";
    SINYAL_RETURN_IF_ERROR(o.String("type", &type, 16));
    SINYAL_RETURN_IF_ERROR(o.String("time_in_force", &tif, 8));
    auto t = ParseOrderType(type);
    if (!t.ok()) return Status::InvalidArgument(t.error().message(), o.Field("type"));
    auto f = ParseTimeInForce(tif);
    if (!f.ok()) return Status::InvalidArgument(f.error().message(), o.Field("time_in_force"));
    c.entry.type = *t;
    c.entry.tif = *f;
    SINYAL_RETURN_IF_ERROR(o.Number("offset_points", &c.entry.offset_points, 0, 1e6));
    SINYAL_RETURN_IF_ERROR(o.Int("expire_bars", &c.entry.expire_bars, 0, 10000));
    if (c.entry.type != OrderType::kMarket && c.entry.offset_points <= 0) {
      return Status::InvalidArgument("limit and stop entries need offset_points > 0",
                                     o.Field("offset_points"));
    }
    if (c.entry.tif == TimeInForce::kGtd && c.entry.expire_bars <= 0) {
      return Status::InvalidArgument("a gtd entry needs expire_bars >= 1", o.Field("expire_bars"));
    }
    if (c.entry.tif != TimeInForce::kGtd && c.entry.expire_bars != 0) {
      return Status::InvalidArgument("expire_bars is only for time_in_force \"gtd\"",
                                     o.Field("expire_bars"));
    }
  }
  if (top.Has("sizing")) {
    SINYAL_ASSIGN_OR_RETURN(Obj o, top.Object("sizing"));
    SINYAL_RETURN_IF_ERROR(
        o.Allowed({"mode", "lots", "risk_fraction", "kelly_fraction", "max_risk_fraction"}));
    std::string mode = "fixed";
    SINYAL_RETURN_IF_ERROR(o.String("mode", &mode, 16));
    if (mode == "fixed") {
      c.sizing.mode = SizingMode::kFixed;
    } else if (mode == "risk") {
      c.sizing.mode = SizingMode::kRisk;
    } else if (mode == "kelly") {
      c.sizing.mode = SizingMode::kKelly;
    } else {
      return Status::InvalidArgument("must be \"fixed\", \"risk\" or \"kelly\"", o.Field("mode"));
    }
    SINYAL_RETURN_IF_ERROR(o.Number("lots", &c.sizing.lots, 0, 1000, true));
    SINYAL_RETURN_IF_ERROR(o.Number("risk_fraction", &c.sizing.risk_fraction, 0, 0.2, true));
    SINYAL_RETURN_IF_ERROR(o.Number("kelly_fraction", &c.sizing.kelly_fraction, 0, 1, true));
    SINYAL_RETURN_IF_ERROR(
        o.Number("max_risk_fraction", &c.sizing.max_risk_fraction, 0, 0.2, true));
  }
  if (top.Has("stops")) {
    SINYAL_ASSIGN_OR_RETURN(Obj o, top.Object("stops"));
    SINYAL_RETURN_IF_ERROR(
        o.Allowed({"mode", "stop_loss", "take_profit", "trailing", "atr_period"}));
    std::string mode = "none";
    SINYAL_RETURN_IF_ERROR(o.String("mode", &mode, 16));
    if (mode == "none") {
      c.stops.mode = StopMode::kNone;
    } else if (mode == "points") {
      c.stops.mode = StopMode::kPoints;
    } else if (mode == "atr") {
      c.stops.mode = StopMode::kAtr;
    } else {
      return Status::InvalidArgument("must be \"none\", \"points\" or \"atr\"", o.Field("mode"));
    }
    SINYAL_RETURN_IF_ERROR(o.Number("stop_loss", &c.stops.stop_loss, 0, 1e6));
    SINYAL_RETURN_IF_ERROR(o.Number("take_profit", &c.stops.take_profit, 0, 1e6));
    SINYAL_RETURN_IF_ERROR(o.Number("trailing", &c.stops.trailing, 0, 1e6));
    SINYAL_RETURN_IF_ERROR(o.Int("atr_period", &c.stops.atr_period, 2, 500));
  }
  SINYAL_RETURN_IF_ERROR(ValidateSizing(c.sizing, c.stops));
  if (top.Has("costs")) {
    SINYAL_ASSIGN_OR_RETURN(Obj o, top.Object("costs"));
    SINYAL_RETURN_IF_ERROR(ParseCosts(o, &c.costs));
  }
  if (top.Has("costs_by_symbol")) {
    SINYAL_ASSIGN_OR_RETURN(Obj o, top.Object("costs_by_symbol"));
    for (const auto& [sym, v] : j.at("costs_by_symbol").items()) {
      if (std::find(c.symbols.begin(), c.symbols.end(), sym) == c.symbols.end()) {
        return Status::InvalidArgument("not one of the strategy's symbols",
                                       "costs_by_symbol." + sym);
      }
      if (!v.is_object()) {
        return Status::InvalidArgument("must be an object", "costs_by_symbol." + sym);
      }
      CostConfig cc = c.costs;  // per-symbol keys override the general ones
      SINYAL_RETURN_IF_ERROR(ParseCosts(Obj(v, "costs_by_symbol." + sym + "."), &cc));
      c.costs_by_symbol[sym] = cc;
    }
  }
  if (top.Has("risk")) {
    SINYAL_ASSIGN_OR_RETURN(Obj o, top.Object("risk"));
    SINYAL_RETURN_IF_ERROR(o.Allowed({"max_position_units", "max_notional", "max_open_positions",
                                      "max_daily_loss", "max_drawdown", "flatten_on_breach"}));
    SINYAL_RETURN_IF_ERROR(o.Number("max_position_units", &c.risk.max_position_units, 0, 1e12));
    SINYAL_RETURN_IF_ERROR(o.Number("max_notional", &c.risk.max_notional, 0, 1e15));
    SINYAL_RETURN_IF_ERROR(o.Int("max_open_positions", &c.risk.max_open_positions, 0, 1000));
    SINYAL_RETURN_IF_ERROR(o.Number("max_daily_loss", &c.risk.max_daily_loss, 0, 0.99));
    SINYAL_RETURN_IF_ERROR(o.Number("max_drawdown", &c.risk.max_drawdown, 0, 0.99));
    SINYAL_RETURN_IF_ERROR(o.Bool("flatten_on_breach", &c.risk.flatten_on_breach));
  }
  SINYAL_RETURN_IF_ERROR(ValidateRiskLimits(c.risk));
  if (top.Has("fills")) {
    SINYAL_ASSIGN_OR_RETURN(Obj o, top.Object("fills"));
    SINYAL_RETURN_IF_ERROR(o.Allowed({"m1_replay"}));
    SINYAL_RETURN_IF_ERROR(o.Bool("m1_replay", &c.m1_replay));
  }
  if (top.Has("model")) {
    SINYAL_ASSIGN_OR_RETURN(Obj o, top.Object("model"));
    SINYAL_RETURN_IF_ERROR(o.Allowed(
        {"horizon", "retrain_every_bars", "train_window_bars", "min_train_bars", "config"}));
    SINYAL_RETURN_IF_ERROR(o.Int("horizon", &c.model.horizon, 1, 48));
    SINYAL_RETURN_IF_ERROR(o.Int("retrain_every_bars", &c.model.retrain_every_bars, 24, 100000));
    SINYAL_RETURN_IF_ERROR(o.Int("train_window_bars", &c.model.train_window_bars, 0, 1000000));
    SINYAL_RETURN_IF_ERROR(o.Int("min_train_bars", &c.model.min_train_bars, 500, 1000000));
    if (o.Has("config")) {
      if (!o.at("config").is_object()) {
        return Status::InvalidArgument("must be an object", o.Field("config"));
      }
      c.model.config = o.at("config");
    }
    if (c.model.train_window_bars != 0 && c.model.train_window_bars < c.model.min_train_bars) {
      return Status::InvalidArgument("train_window_bars must be 0 (all) or >= min_train_bars",
                                     o.Field("train_window_bars"));
    }
  }
  if (top.Has("baselines")) {
    SINYAL_ASSIGN_OR_RETURN(Obj o, top.Object("baselines"));
    SINYAL_RETURN_IF_ERROR(o.Allowed({"random_seeds"}));
    SINYAL_RETURN_IF_ERROR(o.Int("random_seeds", &c.random_seeds, 0, 2000));
  }
  return c;
}

nlohmann::json StrategyConfig::ToJson() const {
  json j;
  j["name"] = name;
  j["symbols"] = symbols;
  j["timeframe"] = market::TimeframeName(timeframe);
  json period = json::object();
  if (from) period["from"] = FormatIso8601(from);
  if (to) period["to"] = FormatIso8601(to);
  j["period"] = period;
  j["initial_balance"] = initial_balance;
  j["currency"] = currency;
  j["signal"] = {{"threshold", signal.threshold},
                 {"allow_short", signal.allow_short},
                 {"close_on_neutral", signal.close_on_neutral},
                 {"hold_bars", signal.hold_bars}};
  j["entry"] = {{"type", OrderTypeName(entry.type)},
                {"offset_points", entry.offset_points},
                {"time_in_force", TimeInForceName(entry.tif)},
                {"expire_bars", entry.expire_bars}};
  j["sizing"] = {{"mode", SizingModeName(sizing.mode)},
                 {"lots", sizing.lots},
                 {"risk_fraction", sizing.risk_fraction},
                 {"kelly_fraction", sizing.kelly_fraction},
                 {"max_risk_fraction", sizing.max_risk_fraction}};
  j["stops"] = {{"mode", StopModeName(stops.mode)},
                {"stop_loss", stops.stop_loss},
                {"take_profit", stops.take_profit},
                {"trailing", stops.trailing},
                {"atr_period", stops.atr_period}};
  j["costs"] = CostsJson(costs);
  json by = json::object();
  for (const auto& [sym, cc] : costs_by_symbol) by[sym] = CostsJson(cc);
  j["costs_by_symbol"] = by;
  j["risk"] = {{"max_position_units", risk.max_position_units},
               {"max_notional", risk.max_notional},
               {"max_open_positions", risk.max_open_positions},
               {"max_daily_loss", risk.max_daily_loss},
               {"max_drawdown", risk.max_drawdown},
               {"flatten_on_breach", risk.flatten_on_breach}};
  j["fills"] = {{"m1_replay", m1_replay}};
  j["model"] = {{"horizon", model.horizon},
                {"retrain_every_bars", model.retrain_every_bars},
                {"train_window_bars", model.train_window_bars},
                {"min_train_bars", model.min_train_bars},
                {"config", model.config}};
  j["baselines"] = {{"random_seeds", random_seeds}};
  return j;
}

Result<InstrumentSpec> StrategySpec(const StrategyConfig& config, const std::string& symbol,
                                    int digits) {
  SINYAL_ASSIGN_OR_RETURN(InstrumentSpec spec, SpecFor(symbol, digits, config.currency));
  const CostConfig& c = config.CostsFor(symbol);
  spec.spread_points = c.spread_points;
  spec.use_bar_spread = c.use_bar_spread;
  spec.slippage_points = c.slippage_points;
  spec.commission_per_lot = c.commission_per_lot;
  spec.commission_rate = c.commission_rate;
  spec.swap_long_points = c.swap_long_points;
  spec.swap_short_points = c.swap_short_points;
  spec.bars_are_mid = c.bars_are_mid;
  return spec;
}

SignalStrategy::SignalStrategy(const StrategyConfig& config, SimulatedBroker& broker)
    : config_(config), broker_(broker) {
  for (size_t i = 0; i < broker.num_symbols(); ++i) {
    atr_.push_back(*features::Atr::Create(config.stops.atr_period));
  }
}

nlohmann::json SignalStrategy::Snapshot() const {
  json atr = json::array();
  for (const auto& a : atr_) {
    const auto st = a.state();
    atr.push_back(
        {st.n, st.prev_close, st.sum, std::isfinite(st.value) ? json(st.value) : json(nullptr)});
  }
  return {{"atr", atr}, {"entries", entries_}, {"confidence_sum", confidence_sum_}};
}

Status SignalStrategy::Restore(const nlohmann::json& j) {
  try {
    const auto& atr = j.at("atr");
    if (atr.size() != atr_.size()) {
      return Status::InvalidArgument("strategy snapshot has other symbols", "snapshot");
    }
    for (size_t i = 0; i < atr_.size(); ++i) {
      features::Atr::State st;
      st.n = atr[i][0].get<int64_t>();
      st.prev_close = atr[i][1].get<double>();
      st.sum = atr[i][2].get<double>();
      st.value = atr[i][3].is_null() ? features::kNaN : atr[i][3].get<double>();
      SINYAL_ASSIGN_OR_RETURN(atr_[i], features::Atr::Restore(config_.stops.atr_period, st));
    }
    entries_ = j.at("entries").get<int64_t>();
    confidence_sum_ = j.at("confidence_sum").get<double>();
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("malformed strategy snapshot: ") + e.what(),
                                   "snapshot");
  }
  return Status::Ok();
}

Decision SignalStrategy::OnBar(int sym, const market::Bar& bar, UnixNanos now,
                               const std::optional<BarSignal>& signal) {
  Decision d;
  d.time = now;
  d.symbol = sym;
  d.signal = signal;
  atr_[sym].Update(bar);
  const InstrumentSpec& spec = broker_.spec(sym);
  const Position& pos = broker_.position(sym);
  const int held = pos.quantity > 0 ? 1 : (pos.quantity < 0 ? -1 : 0);

  auto has_working_exit = [&] {
    for (OrderId id : broker_.open_orders(sym)) {
      const Order* o = broker_.order(id);
      if (o->request.type == OrderType::kMarket && o->request.reduce_only) return true;
    }
    return false;
  };
  auto exit = [&](const std::string& why) {
    if (has_working_exit()) return;
    OrderRequest r;
    r.symbol = spec.symbol;
    r.side = held > 0 ? Side::kSell : Side::kBuy;
    r.type = OrderType::kMarket;
    r.quantity = std::abs(pos.quantity);
    r.reduce_only = true;
    r.role = OrderRole::kExit;
    r.tag = signal ? signal->id : "";
    auto id = broker_.Submit(r, now);
    if (id.ok()) d.orders.push_back(*id);
    d.action = why;
  };

  if (config_.signal.hold_bars > 0 && held != 0 && pos.bars_held >= config_.signal.hold_bars) {
    exit("exit: held " + std::to_string(pos.bars_held) + " bars");
    return d;
  }
  if (!signal) {
    d.action = "no signal";
    return d;
  }
  const bool confident = signal->direction != 0 && signal->confidence >= config_.signal.threshold;
  int desired = confident ? signal->direction : 0;
  if (desired < 0 && !config_.signal.allow_short) {
    if (held > 0)
      exit("exit: bearish signal (long only)");
    else
      d.action = "flat: bearish signal, shorts not allowed";
    return d;
  }
  d.desired = desired;
  if (desired == 0) {
    if (held != 0 && config_.signal.close_on_neutral) {
      exit("exit: neutral signal");
    } else {
      d.action = "hold: neutral signal";
    }
    return d;
  }
  if (held == desired) {
    d.action = "hold";
    return d;
  }
  // A working entry (limit/stop) for the same direction stays; one for the other is cancelled.
  for (OrderId id : std::vector<OrderId>(broker_.open_orders(sym))) {
    const Order* o = broker_.order(id);
    if (o->request.role != OrderRole::kEntry) continue;
    if (Sign(o->request.side) == desired) {
      d.action = "hold: entry working";
      return d;
    }
    (void)broker_.Cancel(id, now, "opposite signal");
  }
  if (held != 0) exit("exit: opposite signal");

  auto stops = StopDistancesFor(config_.stops, spec, atr_[sym].Value());
  if (!stops.ok()) {
    d.action = "skip: " + stops.error().message();
    return d;
  }
  const SizeDecision size =
      SizeEntry(config_.sizing, *stops, spec, broker_.equity(), signal->confidence, bar.close());
  if (size.units <= 0) {
    d.action = (d.action.empty() ? "" : d.action + "; ") + "skip entry: " + size.skipped;
    return d;
  }
  OrderRequest r;
  r.symbol = spec.symbol;
  r.side = desired > 0 ? Side::kBuy : Side::kSell;
  r.type = config_.entry.type;
  r.quantity = size.units;
  const double offset = config_.entry.offset_points * spec.point();
  if (r.type == OrderType::kLimit) r.price = bar.close() - desired * offset;
  if (r.type == OrderType::kStop) r.price = bar.close() + desired * offset;
  r.tif = config_.entry.tif;
  if (r.tif == TimeInForce::kGtd) {
    r.expire_at = now + config_.entry.expire_bars * market::TimeframeNanos(config_.timeframe);
  }
  r.stop_loss_distance = stops->stop_loss;
  r.take_profit_distance = stops->take_profit;
  r.trailing_distance = stops->trailing;
  r.role = OrderRole::kEntry;
  r.tag = signal->id;
  auto id = broker_.Submit(r, now);
  if (id.ok()) {
    d.orders.push_back(*id);
    const Order* o = broker_.order(*id);
    if (o->status == OrderStatus::kRejected) {
      d.action = (d.action.empty() ? "" : d.action + "; ") + "entry rejected: " + o->reason;
      return d;
    }
    ++entries_;
    confidence_sum_ += signal->confidence;
    d.action =
        (d.action.empty() ? "" : d.action + "; ") + (desired > 0 ? "enter long" : "enter short");
  } else {
    d.action = "skip: " + id.error().message();
  }
  return d;
}

}  // namespace sinyal::backtest
