#include "features/feature_set.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/time.h"
#include "features/indicators.h"

namespace sinyal::features {
namespace {

struct ParamDef {
  const char* name;
  double def, min, max;
  bool integer;
};
struct IndicatorDef {
  const char* name;
  std::vector<ParamDef> params;
  std::vector<const char*> outputs;
};

const std::vector<IndicatorDef>& Catalogue() {
  static const std::vector<IndicatorDef> kDefs = {
      {"return", {{"lag", 1, 1, 500, true}}, {"value"}},
      {"log_return", {{"lag", 1, 1, 500, true}}, {"value"}},
      {"sma", {{"period", 20, 2, 1000, true}}, {"distance"}},
      {"ema", {{"period", 20, 2, 1000, true}}, {"distance"}},
      {"rsi", {{"period", 14, 2, 1000, true}}, {"value"}},
      {"macd",
       {{"fast", 12, 2, 500, true}, {"slow", 26, 2, 1000, true}, {"signal", 9, 2, 500, true}},
       {"macd", "signal", "hist"}},
      {"bbands",
       {{"period", 20, 2, 1000, true}, {"nbdev", 2, 0.1, 10, false}},
       {"percent_b", "width"}},
      {"atr", {{"period", 14, 1, 1000, true}}, {"normalized"}},
      {"adx", {{"period", 14, 2, 500, true}}, {"adx", "plus_di", "minus_di"}},
      {"stoch",
       {{"fastk", 14, 1, 500, true}, {"slowk", 3, 1, 100, true}, {"slowd", 3, 1, 100, true}},
       {"slowk", "slowd"}},
      {"cci", {{"period", 20, 2, 1000, true}}, {"value"}},
      {"willr", {{"period", 14, 2, 1000, true}}, {"value"}},
      {"roc", {{"period", 10, 1, 1000, true}}, {"value"}},
      {"obv", {{"lag", 10, 1, 500, true}}, {"change"}},
      {"mfi", {{"period", 14, 2, 1000, true}}, {"value"}},
      {"time", {}, {"hour", "day_of_week"}},
  };
  return kDefs;
}

const IndicatorDef* FindDef(std::string_view name) {
  for (const auto& d : Catalogue()) {
    if (name == d.name) return &d;
  }
  return nullptr;
}

std::string Num(double v) {
  char buf[40];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, p);
}

std::string IndicatorKey(const FeatureSpec& s) {  // canonical, params sorted (std::map)
  std::string k = s.indicator + "(";
  bool first = true;
  for (const auto& [n, v] : s.params) {
    if (!first) k += ",";
    first = false;
    k += n + "=" + Num(v);
  }
  return k + ")";
}

// ---- Computation nodes ----
class Node {
 public:
  virtual ~Node() = default;
  virtual void Update(const market::Bar& b) = 0;
  virtual double Out(int selector, const market::Bar& b) const = 0;
  virtual void Reset() = 0;
  virtual int Warmup() const = 0;
};

template <typename Ind>
class IndNode : public Node {
 public:
  using OutFn = double (*)(const Ind&, int, const market::Bar&);
  IndNode(Ind ind, OutFn fn, int warmup) : ind_(std::move(ind)), fn_(fn), warmup_(warmup) {}
  void Update(const market::Bar& b) override { ind_.Update(b); }
  double Out(int sel, const market::Bar& b) const override {
    return ind_.Initialized() ? fn_(ind_, sel, b) : kNaN;
  }
  void Reset() override { ind_.Reset(); }
  int Warmup() const override { return warmup_; }

 private:
  Ind ind_;
  OutFn fn_;
  int warmup_;
};

class ReturnNode : public Node {
 public:
  ReturnNode(int lag, bool log) : lag_(lag), log_(log), ring_(lag + 1) {}
  void Update(const market::Bar& b) override { ring_[n_++ % ring_.size()] = b.close(); }
  double Out(int, const market::Bar& b) const override {
    if (n_ <= lag_) return kNaN;
    double prev = ring_[(n_ - 1 - lag_) % ring_.size()];
    return log_ ? std::log(b.close() / prev) : b.close() / prev - 1.0;
  }
  void Reset() override { n_ = 0; }
  int Warmup() const override { return lag_ + 1; }

 private:
  int64_t lag_;
  bool log_;
  std::vector<double> ring_;
  int64_t n_ = 0;
};

class ObvChangeNode : public Node {
 public:
  explicit ObvChangeNode(int lag) : lag_(lag), obv_ring_(lag + 1), vol_ring_(lag) {}
  void Update(const market::Bar& b) override {
    obv_.Update(b);
    obv_ring_[n_ % obv_ring_.size()] = obv_.Value();
    vol_ring_[n_ % vol_ring_.size()] = b.volume();
    ++n_;
  }
  double Out(int, const market::Bar&) const override {
    if (n_ <= lag_) return kNaN;
    double now = obv_ring_[(n_ - 1) % obv_ring_.size()];
    double then = obv_ring_[(n_ - 1 - lag_) % obv_ring_.size()];
    double vol = 0;
    for (double v : vol_ring_) vol += v;  // the last `lag` volumes
    return vol > 0 ? (now - then) / vol : 0.0;
  }
  void Reset() override {
    n_ = 0;
    obv_.Reset();
  }
  int Warmup() const override { return lag_ + 1; }

 private:
  int64_t lag_;
  Obv obv_ = *Obv::Create();
  std::vector<double> obv_ring_, vol_ring_;
  int64_t n_ = 0;
};

class TimeNode : public Node {
 public:
  void Update(const market::Bar&) override {}
  double Out(int sel, const market::Bar& b) const override {
    UnixNanos t = b.time();
    int64_t days = t >= 0 ? t / kNanosPerDay : (t - kNanosPerDay + 1) / kNanosPerDay;
    if (sel == 0) return static_cast<double>((t - days * kNanosPerDay) / kNanosPerHour);
    return static_cast<double>(Weekday(days));
  }
  void Reset() override {}
  int Warmup() const override { return 1; }
};

int P(const FeatureSpec& s, const char* name) { return static_cast<int>(s.params.at(name)); }

std::unique_ptr<Node> MakeNode(const FeatureSpec& s) {
  const std::string& k = s.indicator;
  if (k == "return" || k == "log_return") {
    return std::make_unique<ReturnNode>(P(s, "lag"), k == "log_return");
  }
  if (k == "sma") {
    Sma ind = *Sma::Create(P(s, "period"));
    int w = ind.Lookback() + 1;
    return std::make_unique<IndNode<Sma>>(
        std::move(ind),
        [](const Sma& i, int, const market::Bar& b) { return b.close() / i.Value() - 1.0; }, w);
  }
  if (k == "ema") {
    Ema ind = *Ema::Create(P(s, "period"));
    int w = ind.Lookback() + 1;
    return std::make_unique<IndNode<Ema>>(
        std::move(ind),
        [](const Ema& i, int, const market::Bar& b) { return b.close() / i.Value() - 1.0; }, w);
  }
  if (k == "rsi") {
    Rsi ind = *Rsi::Create(P(s, "period"));
    int w = ind.Lookback() + 1;
    return std::make_unique<IndNode<Rsi>>(
        std::move(ind), [](const Rsi& i, int, const market::Bar&) { return i.Value(); }, w);
  }
  if (k == "macd") {
    Macd ind = *Macd::Create(P(s, "fast"), P(s, "slow"), P(s, "signal"));
    int w = ind.Lookback() + 1;
    return std::make_unique<IndNode<Macd>>(
        std::move(ind),
        [](const Macd& i, int sel, const market::Bar& b) {
          double v = sel == 0 ? i.Value() : sel == 1 ? i.signal() : i.hist();
          return v / b.close();
        },
        w);
  }
  if (k == "bbands") {
    double nb = s.params.at("nbdev");
    Bbands ind = *Bbands::Create(P(s, "period"), nb, nb);
    int w = ind.Lookback() + 1;
    return std::make_unique<IndNode<Bbands>>(
        std::move(ind),
        [](const Bbands& i, int sel, const market::Bar& b) {
          double width = i.upper() - i.lower();
          if (sel == 0) return width > 0 ? (b.close() - i.lower()) / width : 0.5;
          return width / i.middle();
        },
        w);
  }
  if (k == "atr") {
    Atr ind = *Atr::Create(P(s, "period"));
    int w = ind.Lookback() + 1;
    return std::make_unique<IndNode<Atr>>(
        std::move(ind),
        [](const Atr& i, int, const market::Bar& b) { return i.Value() / b.close(); }, w);
  }
  if (k == "adx") {
    Adx ind = *Adx::Create(P(s, "period"));
    int w = ind.Lookback() + 1;
    return std::make_unique<IndNode<Adx>>(
        std::move(ind),
        [](const Adx& i, int sel, const market::Bar&) {
          return sel == 0 ? i.Value() : sel == 1 ? i.plus_di() : i.minus_di();
        },
        w);
  }
  if (k == "stoch") {
    Stoch ind = *Stoch::Create(P(s, "fastk"), P(s, "slowk"), P(s, "slowd"));
    int w = ind.Lookback() + 1;
    return std::make_unique<IndNode<Stoch>>(
        std::move(ind),
        [](const Stoch& i, int sel, const market::Bar&) {
          return sel == 0 ? i.slowk() : i.slowd();
        },
        w);
  }
  if (k == "cci") {
    Cci ind = *Cci::Create(P(s, "period"));
    int w = ind.Lookback() + 1;
    return std::make_unique<IndNode<Cci>>(
        std::move(ind), [](const Cci& i, int, const market::Bar&) { return i.Value(); }, w);
  }
  if (k == "willr") {
    Willr ind = *Willr::Create(P(s, "period"));
    int w = ind.Lookback() + 1;
    return std::make_unique<IndNode<Willr>>(
        std::move(ind), [](const Willr& i, int, const market::Bar&) { return i.Value(); }, w);
  }
  if (k == "roc") {
    Roc ind = *Roc::Create(P(s, "period"));
    int w = ind.Lookback() + 1;
    return std::make_unique<IndNode<Roc>>(
        std::move(ind), [](const Roc& i, int, const market::Bar&) { return i.Value(); }, w);
  }
  if (k == "obv") return std::make_unique<ObvChangeNode>(P(s, "lag"));
  if (k == "mfi") {
    Mfi ind = *Mfi::Create(P(s, "period"));
    int w = ind.Lookback() + 1;
    return std::make_unique<IndNode<Mfi>>(
        std::move(ind), [](const Mfi& i, int, const market::Bar&) { return i.Value(); }, w);
  }
  return std::make_unique<TimeNode>();
}

}  // namespace

Status Validate(const FeatureSetConfig& c) {
  if (c.name.empty() || c.name.size() > 40) {
    return Status::InvalidArgument("name must be 1..40 characters", "name");
  }
  for (size_t i = 0; i < c.name.size(); ++i) {
    char ch = c.name[i];
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              (i > 0 && (ch == '-' || ch == '_' || ch == '.'));
    if (!ok) {
      return Status::InvalidArgument(
          "name may contain only a-z, 0-9, '-', '_', '.' and must start with a letter or digit",
          "name");
    }
  }
  if (c.version < 1) return Status::InvalidArgument("version must be >= 1", "version");
  if (c.features.empty() || c.features.size() > 200) {
    return Status::InvalidArgument(
        "a feature set needs 1..200 features, got " + std::to_string(c.features.size()),
        "features");
  }
  for (size_t i = 0; i < c.features.size(); ++i) {
    const FeatureSpec& f = c.features[i];
    const std::string at = "features[" + std::to_string(i) + "]";
    const IndicatorDef* def = FindDef(f.indicator);
    if (def == nullptr) {
      std::string all;
      for (const auto& d : Catalogue()) all += std::string(all.empty() ? "" : ", ") + d.name;
      return Status::InvalidArgument(
          "unknown indicator '" + f.indicator.substr(0, 40) + "' (known: " + all + ")",
          at + ".indicator");
    }
    bool out_ok = f.output.empty();
    std::string outs;
    for (const char* o : def->outputs) {
      out_ok |= f.output == o;
      outs += std::string(outs.empty() ? "" : ", ") + o;
    }
    if (!out_ok) {
      return Status::InvalidArgument("unknown output '" + f.output.substr(0, 40) + "' of " +
                                         f.indicator + " (outputs: " + outs + ")",
                                     at + ".output");
    }
    for (const auto& [name, value] : f.params) {
      const ParamDef* pd = nullptr;
      std::string allowed;
      for (const ParamDef& p : def->params) {
        if (name == p.name) pd = &p;
        allowed += std::string(allowed.empty() ? "" : ", ") + p.name;
      }
      const std::string field = at + ".params." + name.substr(0, 40);
      if (pd == nullptr) {
        return Status::InvalidArgument("unknown parameter of " + f.indicator + " (allowed: " +
                                           (allowed.empty() ? "none" : allowed) + ")",
                                       field);
      }
      if (!std::isfinite(value) || value < pd->min || value > pd->max) {
        return Status::InvalidArgument(
            Num(value) + " is out of bounds [" + Num(pd->min) + ", " + Num(pd->max) + "]", field);
      }
      if (pd->integer && value != std::floor(value)) {
        return Status::InvalidArgument(Num(value) + " must be a whole number", field);
      }
    }
  }
  return Status::Ok();
}

FeatureSetConfig Canonicalize(const FeatureSetConfig& c) {
  FeatureSetConfig out = c;
  for (FeatureSpec& f : out.features) {
    const IndicatorDef* def = FindDef(f.indicator);
    for (const ParamDef& p : def->params) f.params.emplace(p.name, p.def);
    if (f.output.empty()) f.output = def->outputs[0];
  }
  return out;
}

std::string CanonicalString(const FeatureSetConfig& config) {
  FeatureSetConfig c = Canonicalize(config);
  std::string s;
  for (const FeatureSpec& f : c.features) {
    if (!s.empty()) s += ";";
    s += IndicatorKey(f) + "." + f.output;
  }
  return s;
}

std::string ConfigHash(const FeatureSetConfig& config) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : CanonicalString(config)) {
    h ^= ch;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::vector<std::string> FeatureNames(const FeatureSetConfig& config) {
  FeatureSetConfig c = Canonicalize(config);
  std::vector<std::string> names;
  for (const FeatureSpec& f : c.features) names.push_back(IndicatorKey(f) + "." + f.output);
  return names;
}

Result<FeatureSetConfig> FeatureSetConfig::FromJson(std::string_view text) {
  using nlohmann::json;
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::InvalidArgument("feature set is not valid JSON", "body");
  if (!j.is_object()) return Status::InvalidArgument("feature set must be a JSON object", "body");
  FeatureSetConfig c;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    if (key == "name") {
      if (!it->is_string()) return Status::InvalidArgument("must be a string", "name");
      c.name = it->get<std::string>();
    } else if (key == "version") {
      if (!it->is_number_integer()) return Status::InvalidArgument("must be an integer", "version");
      int64_t v = it->get<int64_t>();
      if (v < 1 || v > 1'000'000)
        return Status::InvalidArgument("must be within 1..1000000", "version");
      c.version = static_cast<int>(v);
    } else if (key == "features") {
      if (!it->is_array()) return Status::InvalidArgument("must be an array", "features");
      if (it->size() > 200) return Status::InvalidArgument("at most 200 features", "features");
      for (size_t i = 0; i < it->size(); ++i) {
        const json& f = (*it)[i];
        const std::string at = "features[" + std::to_string(i) + "]";
        if (!f.is_object()) return Status::InvalidArgument("must be an object", at);
        FeatureSpec spec;
        for (auto fi = f.begin(); fi != f.end(); ++fi) {
          if (fi.key() == "indicator") {
            if (!fi->is_string())
              return Status::InvalidArgument("must be a string", at + ".indicator");
            spec.indicator = fi->get<std::string>();
          } else if (fi.key() == "output") {
            if (!fi->is_string())
              return Status::InvalidArgument("must be a string", at + ".output");
            spec.output = fi->get<std::string>();
          } else if (fi.key() == "params") {
            if (!fi->is_object())
              return Status::InvalidArgument("must be an object", at + ".params");
            for (auto pi = fi->begin(); pi != fi->end(); ++pi) {
              if (!pi->is_number()) {
                return Status::InvalidArgument("must be a number",
                                               at + ".params." + pi.key().substr(0, 40));
              }
              spec.params[pi.key()] = pi->get<double>();
            }
          } else {
            return Status::InvalidArgument("unknown key (allowed: indicator, params, output)",
                                           at + "." + fi.key().substr(0, 40));
          }
        }
        if (spec.indicator.empty())
          return Status::InvalidArgument("is required", at + ".indicator");
        c.features.push_back(std::move(spec));
      }
    } else {
      return Status::InvalidArgument("unknown key (allowed: name, version, features)",
                                     key.substr(0, 40));
    }
  }
  SINYAL_RETURN_IF_ERROR(Validate(c));
  return c;
}

std::string FeatureSetConfig::ToJson() const {
  nlohmann::json j;
  j["name"] = name;
  j["version"] = version;
  j["features"] = nlohmann::json::array();
  for (const FeatureSpec& f : features) {
    nlohmann::json fj;
    fj["indicator"] = f.indicator;
    fj["params"] = nlohmann::json::object();
    for (const auto& [k, v] : f.params) fj["params"][k] = v;
    if (!f.output.empty()) fj["output"] = f.output;
    j["features"].push_back(std::move(fj));
  }
  return j.dump();
}

const FeatureSetConfig& DefaultFeatureSet() {
  static const FeatureSetConfig kCore = [] {
    FeatureSetConfig c;
    c.name = "core-v1";
    c.version = 1;
    auto add = [&](std::string ind, std::map<std::string, double> p, std::string out) {
      c.features.push_back({std::move(ind), std::move(p), std::move(out)});
    };
    for (double lag : {1, 2, 4, 8, 24}) add("log_return", {{"lag", lag}}, "value");
    add("sma", {{"period", 20}}, "distance");
    add("ema", {{"period", 50}}, "distance");
    add("rsi", {{"period", 14}}, "value");
    add("macd", {{"fast", 12}, {"slow", 26}, {"signal", 9}}, "macd");
    add("macd", {{"fast", 12}, {"slow", 26}, {"signal", 9}}, "hist");
    add("bbands", {{"period", 20}, {"nbdev", 2}}, "percent_b");
    add("bbands", {{"period", 20}, {"nbdev", 2}}, "width");
    add("atr", {{"period", 14}}, "normalized");
    add("adx", {{"period", 14}}, "adx");
    add("adx", {{"period", 14}}, "plus_di");
    add("adx", {{"period", 14}}, "minus_di");
    add("stoch", {{"fastk", 14}, {"slowk", 3}, {"slowd", 3}}, "slowk");
    add("stoch", {{"fastk", 14}, {"slowk", 3}, {"slowd", 3}}, "slowd");
    add("cci", {{"period", 20}}, "value");
    add("willr", {{"period", 14}}, "value");
    add("roc", {{"period", 10}}, "value");
    add("obv", {{"lag", 10}}, "change");
    add("mfi", {{"period", 14}}, "value");
    add("time", {}, "hour");
    add("time", {}, "day_of_week");
    return c;
  }();
  return kCore;
}

// ---- FeatureComputer ----
struct FeatureComputer::Impl {
  std::vector<std::unique_ptr<Node>> nodes;  // one per distinct indicator key
  std::vector<std::pair<int, int>> outputs;  // (node, selector) per feature
};

FeatureComputer::FeatureComputer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FeatureComputer::FeatureComputer(FeatureComputer&&) noexcept = default;
FeatureComputer& FeatureComputer::operator=(FeatureComputer&&) noexcept = default;
FeatureComputer::~FeatureComputer() = default;

Result<FeatureComputer> FeatureComputer::Create(const FeatureSetConfig& config) {
  SINYAL_RETURN_IF_ERROR(Validate(config));
  FeatureSetConfig c = Canonicalize(config);
  auto impl = std::make_unique<Impl>();
  std::map<std::string, int> by_key;
  for (const FeatureSpec& f : c.features) {
    std::string key = IndicatorKey(f);
    auto it = by_key.find(key);
    int node;
    if (it == by_key.end()) {
      node = static_cast<int>(impl->nodes.size());
      impl->nodes.push_back(MakeNode(f));
      by_key.emplace(key, node);
    } else {
      node = it->second;
    }
    const IndicatorDef* def = FindDef(f.indicator);
    int sel = 0;
    for (size_t o = 0; o < def->outputs.size(); ++o) {
      if (f.output == def->outputs[o]) sel = static_cast<int>(o);
    }
    impl->outputs.push_back({node, sel});
  }
  return FeatureComputer(std::move(impl));
}

void FeatureComputer::Update(const market::Bar& bar, std::vector<double>* out) {
  for (auto& n : impl_->nodes) n->Update(bar);
  out->resize(impl_->outputs.size());
  for (size_t i = 0; i < impl_->outputs.size(); ++i) {
    const auto& [node, sel] = impl_->outputs[i];
    (*out)[i] = impl_->nodes[node]->Out(sel, bar);
  }
}

void FeatureComputer::Reset() {
  for (auto& n : impl_->nodes) n->Reset();
}

size_t FeatureComputer::size() const { return impl_->outputs.size(); }

int FeatureComputer::WarmupBars() const {
  int w = 0;
  for (const auto& n : impl_->nodes) w = std::max(w, n->Warmup());
  return w;
}

}  // namespace sinyal::features
