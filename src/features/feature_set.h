// Feature sets: a named, versioned list of {indicator, params, output} that turns each closed
// bar into a feature vector for the models. Every output is scale-free (normalized by price or
// bounded), so a model trained on EURUSD at 1.1 can be applied to USDJPY at 150.
//
// Configuration is strict: unknown indicators, outputs, parameters or JSON keys are errors;
// every parameter has bounds; errors name the field ("features[3].params.period").
// ConfigHash() is a stable hash of the canonical feature list (parameters filled with defaults,
// sorted, numbers printed exactly); the set's name and version are labels and do not enter it,
// so two tenants with the same features can share one computation (the features API's cache).
//
// Catalogue (default parameter values in brackets; outputs):
//   return(lag[1] 1..500).value           close/close[-lag] - 1
//   log_return(lag[1] 1..500).value       ln(close/close[-lag])
//   sma(period[20] 2..1000).distance      close/SMA - 1          (ema: same)
//   rsi(period[14] 2..1000).value         0..100
//   macd(fast[12] 2..500, slow[26] 2..1000, signal[9] 2..500).macd|signal|hist   divided by close
//   bbands(period[20] 2..1000, nbdev[2] 0.1..10).percent_b|width
//        percent_b = (close-lower)/(upper-lower) (0.5 when the bands collapse), width = (upper-lower)/middle
//   atr(period[14] 1..1000).normalized    ATR/close
//   adx(period[14] 2..500).adx|plus_di|minus_di
//   stoch(fastk[14] 1..500, slowk[3] 1..100, slowd[3] 1..100).slowk|slowd
//   cci(period[20] 2..1000).value, willr(period[14] 2..1000).value, roc(period[10] 1..1000).value
//   obv(lag[10] 1..500).change            (OBV - OBV[-lag]) / volume over the last lag bars, in [-1, 1]
//   mfi(period[14] 2..1000).value
//   time().hour|day_of_week               UTC hour 0..23, weekday 0 = Sunday
//
// Thread safety: FeatureSetConfig is a value; FeatureComputer is not synchronized.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "market/bar.h"

namespace sinyal::features {

struct FeatureSpec {
  std::string indicator;
  std::map<std::string, double> params;  // missing ones take their defaults
  std::string output;
  friend bool operator==(const FeatureSpec&, const FeatureSpec&) = default;
};

struct FeatureSetConfig {
  std::string name;                   // 1..40 chars of [a-z0-9._-], starting with a letter or digit
  int version = 1;                    // >= 1
  std::vector<FeatureSpec> features;  // 1..200

  // Strict JSON: {"name": "...", "version": 1, "features": [{"indicator": "rsi",
  // "params": {"period": 14}, "output": "value"}, ...]}; params and output optional (defaults,
  // and the indicator's first output). Validates like Validate().
  [[nodiscard]] static Result<FeatureSetConfig> FromJson(std::string_view json);
  std::string ToJson() const;
};

// OK or InvalidArgument with field "name", "version", "features[i].indicator|output|params.<p>".
[[nodiscard]] Status Validate(const FeatureSetConfig& config);

// Fills defaults; REQUIRES: Validate(config).ok().
FeatureSetConfig Canonicalize(const FeatureSetConfig& config);
// "rsi(period=14).value;macd(fast=12,signal=9,slow=26).hist;..." of the canonical config.
std::string CanonicalString(const FeatureSetConfig& config);
// 16 lower-case hex digits: FNV-1a 64 of CanonicalString. Stable across builds and machines.
std::string ConfigHash(const FeatureSetConfig& config);
// Feature names in order, e.g. "rsi(period=14).value".
std::vector<std::string> FeatureNames(const FeatureSetConfig& config);

// The platform default, "core-v1".
const FeatureSetConfig& DefaultFeatureSet();

// Streaming computation of one feature set over one series.
class FeatureComputer {
 public:
  // Validates `config`.
  [[nodiscard]] static Result<FeatureComputer> Create(const FeatureSetConfig& config);
  FeatureComputer(FeatureComputer&&) noexcept;
  FeatureComputer& operator=(FeatureComputer&&) noexcept;
  ~FeatureComputer();

  // Feeds the next closed bar and writes the feature vector at that bar into *out (resized);
  // NaN where a feature is still warming up. Uses only this and earlier bars.
  void Update(const market::Bar& bar, std::vector<double>* out);
  void Reset();
  size_t size() const;
  // Bars needed before every feature is defined.
  int WarmupBars() const;

 private:
  struct Impl;
  explicit FeatureComputer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sinyal::features
