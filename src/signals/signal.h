// Signal: one immutable, probabilistic trading signal, and the generator that makes it.
//
// A Signal combines, for one symbol x timeframe at the close of one bar:
//   - the calibrated ensemble probability P(up) over the horizon (models::Ensemble, isotonic),
//   - the model uncertainty (standard deviation of the members' P(up)),
//   - direction: bullish if P(up) >= threshold, bearish if P(down) >= threshold, otherwise
//     neutral (abstain); also neutral when the uncertainty exceeds the caller's maximum, and
//     always neutral when the model has no skill to sell: its version's walk-forward skill over
//     the base rate is not shown (models/skill.h), or its calibrator found none on the held-back
//     rows. Then P(up) is the base rate and the reason says which evidence is missing,
//   - confidence = max(P(up), P(down)) (calibrated: reported even when abstaining),
//   - the expected move: point forecast (P(up) - P(down)) * move_ratio * scale and the typical
//     absolute move move_ratio * scale, in log-return units (scale = rv * sqrt(horizon)),
//   - split-conformal intervals for the forward log return at 80% and 95% (conformal.h),
//   - the regime (regime.h) and the cross-asset context (cross_asset.h),
//   - the main drivers: the features with the largest |pred_contribs| (XGBoost SHAP values,
//     log-odds of "up", averaged over members), with names, values and signs,
//   - model version, the bar it was made on, the issuing time from the injected Clock, and a
//     deterministic id (same inputs -> same id, so a replayed backtest and live agree).
//
// The same SignalGenerator code runs live and in backtests; only the Clock differs.
//
// Thread safety: Signal is an immutable value. SignalGenerator::Generate is const and
// thread-safe (Ensemble::Predict is; Contributions serialises internally).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "market/bar.h"
#include "models/ensemble.h"
#include "signals/conformal.h"
#include "signals/regime.h"

namespace sinyal::signals {

enum class Direction : int8_t { kBearish = -1, kNeutral = 0, kBullish = 1 };
std::string_view DirectionName(Direction d);  // "bearish", "neutral", "bullish"

struct CrossAssetContext {
  bool available = false;
  double ref_return_1 = 0;         // reference (DXY) log return over the last bar
  double ref_return_long = 0;      // over the longer lag (24 bars by default)
  double corr_to_ref = 0;          // rolling correlation of the symbol to the reference
  double corr_break_z = 0;         // Fisher z vs the long-run correlation
  bool correlation_break = false;  // |corr_break_z| > the generator's threshold
};

struct Driver {
  std::string feature;
  double value = 0;         // the feature's value at the bar
  double contribution = 0;  // SHAP, log-odds of "up": > 0 pushes bullish, < 0 bearish
};

// Every field of a signal. Built by SignalGenerator (or reloaded from a store via FromFields).
struct SignalFields {
  std::string id;  // 16 hex digits, deterministic
  std::string symbol, timeframe;
  int horizon = 1;             // bars
  UnixNanos bar_time = 0;      // open time (UTC) of the bar the signal was made at its close
  UnixNanos issued_at = 0;     // Clock::Now() when generated
  double reference_price = 0;  // close of that bar
  Direction direction = Direction::kNeutral;
  bool abstained = false;      // true when direction is neutral
  std::string abstain_reason;  // "confidence 0.53 < threshold 0.60" etc.; empty otherwise
  // False when the model has no skill to sell (see the header comment): the signal abstains at
  // every threshold, p_up is the base rate and no_skill_reason says why.
  bool skill_shown = true;
  std::string no_skill_reason;
  double p_up = 0.5;        // calibrated
  double confidence = 0.5;  // max(p_up, 1 - p_up)
  double confidence_threshold = 0.5;
  double uncertainty = 0;                 // std of members' P(up)
  double expected_return = 0;             // point forecast, log return over the horizon
  double expected_abs_move = 0;           // typical |log return| over the horizon
  std::vector<ReturnInterval> intervals;  // 80% and 95% by default
  RegimeState regime;
  int regime_code = -1;
  std::string regime_name;
  CrossAssetContext cross_asset;
  std::vector<Driver> drivers;  // by decreasing |contribution|
  std::string model_version;
};

class Signal {
 public:
  static Signal FromFields(SignalFields f) { return Signal(std::move(f)); }
  const SignalFields& fields() const { return f_; }
  const std::string& id() const { return f_.id; }
  Direction direction() const { return f_.direction; }
  double confidence() const { return f_.confidence; }
  double p_up() const { return f_.p_up; }
  int horizon() const { return f_.horizon; }
  UnixNanos bar_time() const { return f_.bar_time; }
  // The interval with the given nominal coverage; nullopt when not configured.
  std::optional<ReturnInterval> Interval(double coverage) const;
  nlohmann::json ToJson() const;

 private:
  explicit Signal(SignalFields f) : f_(std::move(f)) {}
  SignalFields f_;
};

// What the generator needs from the trained side; one per model version. Not owned parts must
// outlive the generator's calls.
struct SignalModel {
  const models::Ensemble* ensemble = nullptr;  // binary (num_classes 2) ensemble
  ConformalIntervals conformal;
  double move_ratio = 0;  // FitMoveRatio on the training rows
  // The version's walk-forward skill (ModelRecord metrics "skill", models/skill.h). When false
  // every signal abstains with `no_skill_reason` and serves the base rate.
  bool skill_shown = true;
  std::string no_skill_reason;
  std::string model_version;  // e.g. "t7/EURUSD/H1/v3"
  std::string symbol, timeframe;
};

struct SignalRequest {
  double confidence_threshold = 0.5;  // in [0.5, 1]. Below -> neutral.
  double max_uncertainty = 1.0;       // members' spread above -> neutral. Default 1 (off).
  int top_drivers = 5;                // 0..50; 0 skips the (slower, XGBoost) contributions
  double break_z_threshold = 3.0;
};

// Inputs at the close of one bar.
struct SignalInput {
  UnixNanos bar_time = 0;
  double reference_price = 0;       // close of the bar
  std::span<const float> features;  // in the model schema's order, all finite
  RegimeState regime;               // ready
  CrossAssetContext cross_asset;
  // The served intervals at this bar (interval_calibration.h RecentIntervals: the newest resolved
  // rows up to the bar); empty: the version's held-out quantiles (SignalModel::conformal).
  std::optional<ConformalIntervals> recent_intervals;
};

// Sets direction, abstained and abstain_reason of `f` from its p_up, uncertainty and skill for a
// caller's threshold (already in [0.5, 1]): the one rule behind Generate and
// SignalService::WithThreshold.
void DecideDirection(SignalFields& f, double threshold, double max_uncertainty);

// Whether a model version's record shows walk-forward skill: `metrics` is ModelRecord::metrics.
// False (with the reason) when the record has no skill estimate or its skill is not shown
// (models/skill.h: interval above zero and mean gain >= kMinSkillGain).
bool SkillShown(const nlohmann::json& metrics, std::string* reason);

class SignalGenerator {
 public:
  explicit SignalGenerator(const Clock& clock) : clock_(clock) {}
  // Errors (InvalidArgument naming the field): "model.ensemble" missing or not binary,
  // "confidence_threshold", "max_uncertainty", "top_drivers", "reference_price",
  // "features" (wrong count), "features.<name>" (NaN/inf value), "regime" (not ready or NaN
  // volatility: FailedPrecondition), "bar_time".
  [[nodiscard]] Result<Signal> Generate(const SignalModel& model, const SignalRequest& request,
                                        const SignalInput& input) const;

 private:
  const Clock& clock_;
};

// ---- Resolution: what the market did after the signal ----
struct Resolution {
  UnixNanos resolved_bar_time = 0;               // open time of bar t + h
  double exit_price = 0;                         // its close
  double realized_return = 0;                    // ln(exit / reference)
  bool up = false;                               // realized_return > 0
  std::optional<bool> hit;                       // nullopt for neutral signals
  std::vector<std::pair<double, bool>> covered;  // (nominal coverage, inside the interval)
  double brier = 0;                              // (p_up - up)^2
  double log_loss = 0;                           // -ln p(outcome), p clipped to [1e-15, 1]
};
// `later` = bars after the signal's bar, ascending (more is fine). The h-th of them (horizon in
// bars, as the dataset's labels) resolves it. FailedPrecondition ("later") when fewer than h
// bars are given; InvalidArgument when a bar is not after the signal's bar or out of order.
[[nodiscard]] Result<Resolution> ResolveSignal(const Signal& signal,
                                               std::span<const market::Bar> later);

}  // namespace sinyal::signals
