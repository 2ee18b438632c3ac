#include "http/handlers/prediction_json.h"

#include <cmath>
#include <map>
#include <utility>

#include "core/time.h"
#include "market/timeframe.h"

namespace sinyal::http {

using nlohmann::json;

json PredictionJson(billing::Entitlements& entitlements, const billing::Plan& plan,
                    const signals::Signal& stored, double threshold) {
  const signals::Signal s = signals::SignalService::WithThreshold(stored, threshold);
  const auto& f = s.fields();
  json j;
  j["prediction"] = std::string(signals::DirectionName(f.direction));
  json gated = json::object();
  if (plan.Has(billing::kFeatConfidence)) {
    j["confidence"] = f.confidence;
    j["p_up"] = f.p_up;
    if (f.abstained) j["abstain_reason"] = f.abstain_reason;
  } else {
    gated["confidence"] = entitlements.PlanNeeded(billing::kFeatConfidence);
  }
  // The close time of the bar the signal was made on: the signal's "as of" time.
  auto tf = market::ParseTimeframe(f.timeframe);
  j["timestamp"] = FormatIso8601(f.bar_time + (tf.ok() ? market::TimeframeNanos(*tf) : 0));
  j["symbol"] = f.symbol;
  j["timeframe"] = f.timeframe;
  j["prediction_type"] = "price_direction";
  j["prediction_horizon"] = f.horizon;
  j["confidence_threshold"] = f.confidence_threshold;
  j["signal_id"] = f.id;
  if (plan.Has(billing::kFeatIntervals)) {
    json iv = json::object();
    for (const auto& i : f.intervals) {
      iv[std::to_string(static_cast<int>(std::lround(i.coverage * 100)))] = {{"low", i.lo},
                                                                             {"high", i.hi}};
    }
    j["interval"] = std::move(iv);
    j["expected_move"] = {{"return", f.expected_return}, {"typical_abs", f.expected_abs_move}};
  } else {
    gated["interval"] = gated["expected_move"] = entitlements.PlanNeeded(billing::kFeatIntervals);
  }
  if (plan.Has(billing::kFeatRegime)) {
    j["regime"] = {{"code", f.regime_code},
                   {"name", f.regime_name},
                   {"trend", std::string(signals::TrendStateName(f.regime.trend))},
                   {"volatility", std::string(signals::VolStateName(f.regime.vol))}};
    json drivers = json::array();
    for (const auto& d : f.drivers) {
      drivers.push_back(
          {{"feature", d.feature}, {"value", d.value}, {"contribution", d.contribution}});
    }
    j["drivers"] = std::move(drivers);
    j["model_version"] = f.model_version;
  } else {
    gated["regime"] = gated["drivers"] = gated["model_version"] =
        entitlements.PlanNeeded(billing::kFeatRegime);
  }
  if (!gated.empty()) j["gated"] = std::move(gated);
  return j;
}

namespace {

// Appends JSON text exactly as nlohmann::json::dump() (no indent, ensure_ascii off) writes it.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  // Starts a member of the current object: `"key":`.
  void Key(std::string_view key) {
    Sep();
    Quoted(key);
    out_ += ':';
    first_ = true;  // the value follows without a comma
  }
  void Open(char c) {
    Sep();
    out_ += c;
    first_ = true;
  }
  void Close(char c) {
    out_ += c;
    first_ = false;
  }
  void String(std::string_view s) {
    Sep();
    Quoted(s);
    first_ = false;
  }
  void Quoted(std::string_view s) {
    bool plain = true;
    for (char c : s) {
      auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u >= 0x7F || c == '"' || c == '\\') {
        plain = false;
        break;
      }
    }
    if (plain) {
      out_ += '"';
      out_ += s;
      out_ += '"';
    } else {
      out_ += json(std::string(s)).dump();  // escapes and UTF-8 checks as dump() does
    }
  }
  void Number(double v) {
    Sep();
    if (!std::isfinite(v)) {
      out_ += "null";
    } else {
      char buf[64];
      char* end = nlohmann::detail::to_chars(buf, buf + sizeof buf, v);
      out_.append(buf, static_cast<size_t>(end - buf));
    }
    first_ = false;
  }
  void Int(int64_t v) {
    Sep();
    out_ += std::to_string(v);
    first_ = false;
  }
  // `"key":value` members.
  void NumberField(std::string_view key, double v) {
    Key(key);
    Number(v);
  }
  void IntField(std::string_view key, int64_t v) {
    Key(key);
    Int(v);
  }
  void StringField(std::string_view key, std::string_view v) {
    Key(key);
    String(v);
  }
  // A key whose value is left empty (a meter slot); returns the offset the value goes to.
  size_t Slot(std::string_view key) {
    Key(key);
    first_ = false;
    return out_.size();
  }

 private:
  void Sep() {
    if (!first_) out_ += ',';
    first_ = false;
  }
  std::string& out_;
  bool first_ = true;
};

}  // namespace

billing::Meter::PreparedBody PreparedPredictionBody(billing::Entitlements& entitlements,
                                                    const billing::Plan& plan,
                                                    const signals::Signal& stored, double threshold,
                                                    int64_t data_delay_seconds) {
  const signals::Signal s = signals::SignalService::WithThreshold(stored, threshold);
  const auto& f = s.fields();
  const bool conf = plan.Has(billing::kFeatConfidence);
  const bool intervals = plan.Has(billing::kFeatIntervals);
  const bool regime = plan.Has(billing::kFeatRegime);
  billing::Meter::PreparedBody body;
  body.text.reserve(1024);
  Writer w(body.text);
  // Members in json::dump's order: keys sorted bytewise (std::map).
  w.Open('{');
  if (conf && f.abstained) w.StringField("abstain_reason", f.abstain_reason);
  if (conf) w.NumberField("confidence", f.confidence);
  w.NumberField("confidence_threshold", f.confidence_threshold);
  body.cost_credits_at = w.Slot("cost_credits");
  w.IntField("data_delay_seconds", data_delay_seconds);
  if (regime) {
    w.Key("drivers");
    w.Open('[');
    for (const auto& d : f.drivers) {
      w.Open('{');
      w.NumberField("contribution", d.contribution);
      w.StringField("feature", d.feature);
      w.NumberField("value", d.value);
      w.Close('}');
    }
    w.Close(']');
  }
  if (intervals) {
    w.Key("expected_move");
    w.Open('{');
    w.NumberField("return", f.expected_return);
    w.NumberField("typical_abs", f.expected_abs_move);
    w.Close('}');
  }
  if (!conf || !intervals || !regime) {
    std::map<std::string_view, std::string> gated;  // sorted, as json's object
    if (!conf) gated["confidence"] = entitlements.PlanNeeded(billing::kFeatConfidence);
    if (!intervals)
      gated["interval"] = gated["expected_move"] = entitlements.PlanNeeded(billing::kFeatIntervals);
    if (!regime) {
      gated["regime"] = gated["drivers"] = gated["model_version"] =
          entitlements.PlanNeeded(billing::kFeatRegime);
    }
    w.Key("gated");
    w.Open('{');
    for (const auto& [k, v] : gated) {
      w.StringField(k, v);
    }
    w.Close('}');
  }
  if (intervals) {
    // Keys as PredictionJson makes them (a later interval with the same key replaces an earlier).
    std::map<std::string, std::pair<double, double>> iv;
    for (const auto& i : f.intervals) {
      iv[std::to_string(static_cast<int>(std::lround(i.coverage * 100)))] = {i.lo, i.hi};
    }
    w.Key("interval");
    w.Open('{');
    for (const auto& [k, lh] : iv) {
      w.Key(k);
      w.Open('{');
      w.NumberField("high", lh.second);
      w.NumberField("low", lh.first);
      w.Close('}');
    }
    w.Close('}');
  }
  if (regime) w.StringField("model_version", f.model_version);
  if (conf) w.NumberField("p_up", f.p_up);
  w.StringField("prediction", signals::DirectionName(f.direction));
  w.IntField("prediction_horizon", f.horizon);
  w.StringField("prediction_type", "price_direction");
  if (regime) {
    w.Key("regime");
    w.Open('{');
    w.IntField("code", f.regime_code);
    w.StringField("name", f.regime_name);
    w.StringField("trend", signals::TrendStateName(f.regime.trend));
    w.StringField("volatility", signals::VolStateName(f.regime.vol));
    w.Close('}');
  }
  body.remaining_quota_at = w.Slot("remaining_quota");
  w.StringField("signal_id", f.id);
  w.StringField("symbol", f.symbol);
  w.StringField("timeframe", f.timeframe);
  auto tf = market::ParseTimeframe(f.timeframe);
  w.StringField("timestamp",
                FormatIso8601(f.bar_time + (tf.ok() ? market::TimeframeNanos(*tf) : 0)));
  body.usage_cost_at = w.Slot("usage_cost");
  w.Close('}');
  return body;
}

}  // namespace sinyal::http
