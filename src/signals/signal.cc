#include "signals/signal.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/time.h"
#include "models/skill.h"
#include "signals/interval_calibration.h"

namespace sinyal::signals {

std::string_view DirectionName(Direction d) {
  switch (d) {
    case Direction::kBearish:
      return "bearish";
    case Direction::kNeutral:
      return "neutral";
    case Direction::kBullish:
      return "bullish";
  }
  return "?";
}

std::optional<ReturnInterval> Signal::Interval(double coverage) const {
  for (const auto& iv : f_.intervals) {
    if (std::fabs(iv.coverage - coverage) < 1e-9) return iv;
  }
  return std::nullopt;
}

nlohmann::json Signal::ToJson() const {
  nlohmann::json j;
  j["id"] = f_.id;
  j["symbol"] = f_.symbol;
  j["timeframe"] = f_.timeframe;
  j["horizon"] = f_.horizon;
  j["bar_time"] = FormatIso8601(f_.bar_time);
  j["timestamp"] = FormatIso8601(f_.issued_at);
  j["reference_price"] = f_.reference_price;
  j["prediction"] = DirectionName(f_.direction);
  j["abstained"] = f_.abstained;
  if (f_.abstained) j["abstain_reason"] = f_.abstain_reason;
  j["skill_shown"] = f_.skill_shown;
  j["p_up"] = f_.p_up;
  j["confidence"] = f_.confidence;
  j["confidence_threshold"] = f_.confidence_threshold;
  j["uncertainty"] = f_.uncertainty;
  j["expected_return"] = f_.expected_return;
  j["expected_abs_move"] = f_.expected_abs_move;
  auto& iv = j["intervals"] = nlohmann::json::array();
  for (const auto& i : f_.intervals)
    iv.push_back({{"coverage", i.coverage}, {"lo", i.lo}, {"hi", i.hi}});
  j["regime"] = {{"code", f_.regime_code},
                 {"name", f_.regime_name},
                 {"trend", TrendStateName(f_.regime.trend)},
                 {"volatility", VolStateName(f_.regime.vol)},
                 {"adx", f_.regime.adx},
                 {"slope", f_.regime.slope},
                 {"rv", f_.regime.rv},
                 {"rv_percentile", f_.regime.rv_percentile}};
  if (f_.cross_asset.available) {
    j["cross_asset"] = {{"ref_return_1", f_.cross_asset.ref_return_1},
                        {"ref_return_long", f_.cross_asset.ref_return_long},
                        {"corr_to_ref", f_.cross_asset.corr_to_ref},
                        {"corr_break_z", f_.cross_asset.corr_break_z},
                        {"correlation_break", f_.cross_asset.correlation_break}};
  } else {
    j["cross_asset"] = nullptr;
  }
  auto& d = j["drivers"] = nlohmann::json::array();
  for (const auto& x : f_.drivers) {
    d.push_back({{"feature", x.feature}, {"value", x.value}, {"contribution", x.contribution}});
  }
  j["model_version"] = f_.model_version;
  return j;
}

void DecideDirection(SignalFields& f, double th, double max_uncertainty) {
  f.confidence_threshold = th;
  f.abstain_reason.clear();
  char b[96];
  if (!f.skill_shown) {
    f.direction = Direction::kNeutral;
    f.abstain_reason = f.no_skill_reason;
  } else if (f.uncertainty > max_uncertainty) {
    f.direction = Direction::kNeutral;
    std::snprintf(b, sizeof b, "uncertainty %.3f > maximum %.3f", f.uncertainty, max_uncertainty);
    f.abstain_reason = b;
  } else if (f.p_up >= th && f.p_up > 0.5) {
    f.direction = Direction::kBullish;
  } else if (1 - f.p_up >= th && f.p_up < 0.5) {
    f.direction = Direction::kBearish;
  } else {
    f.direction = Direction::kNeutral;
    std::snprintf(b, sizeof b, "confidence %.3f < threshold %.3f", f.confidence, th);
    f.abstain_reason = b;
  }
  f.abstained = f.direction == Direction::kNeutral;
}

bool SkillShown(const nlohmann::json& metrics, std::string* reason) {
  auto say = [&](std::string r) {
    if (reason != nullptr) *reason = std::move(r);
    return false;
  };
  if (!metrics.is_object() || !metrics.contains("skill")) {
    return say(
        "this model version has no walk-forward skill estimate (trained before skill was "
        "measured); retrain it");
  }
  auto skill = models::SkillEstimate::FromJson(metrics["skill"]);
  if (!skill.ok()) return say("this model version's skill record is unreadable");
  if (!skill->shown) {
    return say(skill->Describe() + (skill->log_loss_gain.lo > 0
                                        ? " is below the minimum gain of 0.0001 nats"
                                        : " does not lie above zero"));
  }
  if (reason != nullptr) reason->clear();
  return true;
}

namespace {

std::string SignalId(const SignalModel& m, const SignalRequest& r, const SignalInput& in) {
  // FNV-1a 64 over the identifying fields.
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&](const void* p, size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) {
      h ^= b[i];
      h *= 1099511628211ULL;
    }
  };
  mix(m.symbol.data(), m.symbol.size());
  mix("|", 1);
  mix(m.timeframe.data(), m.timeframe.size());
  mix("|", 1);
  mix(m.model_version.data(), m.model_version.size());
  mix("|", 1);
  mix(&in.bar_time, sizeof in.bar_time);
  mix(&r.confidence_threshold, sizeof r.confidence_threshold);
  mix(&r.max_uncertainty, sizeof r.max_uncertainty);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace

Result<Signal> SignalGenerator::Generate(const SignalModel& model, const SignalRequest& req,
                                         const SignalInput& in) const {
  if (model.ensemble == nullptr) return Status::InvalidArgument("no ensemble", "model.ensemble");
  const auto& ens = *model.ensemble;
  if (ens.num_classes() != 2) {
    return Status::InvalidArgument("signals need a binary up/down ensemble", "model.ensemble");
  }
  if (!(req.confidence_threshold >= 0.5 && req.confidence_threshold <= 1.0)) {
    return Status::InvalidArgument("confidence_threshold must be in [0.5, 1]",
                                   "confidence_threshold");
  }
  if (!(req.max_uncertainty > 0)) {
    return Status::InvalidArgument("max_uncertainty must be > 0", "max_uncertainty");
  }
  if (req.top_drivers < 0 || req.top_drivers > 50) {
    return Status::InvalidArgument("top_drivers must be in [0, 50]", "top_drivers");
  }
  if (!(in.reference_price > 0) || !std::isfinite(in.reference_price)) {
    return Status::InvalidArgument("reference_price must be a positive number", "reference_price");
  }
  if (in.bar_time <= 0) return Status::InvalidArgument("bar_time must be set", "bar_time");
  const auto& names = ens.schema().feature_names;
  if (in.features.size() != names.size()) {
    return Status::InvalidArgument("expected " + std::to_string(names.size()) + " features, got " +
                                       std::to_string(in.features.size()),
                                   "features");
  }
  for (size_t i = 0; i < names.size(); ++i) {
    if (!std::isfinite(in.features[i])) {
      return Status::InvalidArgument("feature '" + names[i] + "' is not a finite number",
                                     "features." + names[i]);
    }
  }
  if (!in.regime.ready || !(in.regime.rv > 0) || !std::isfinite(in.regime.rv)) {
    return Status::FailedPrecondition("the regime is not ready (warming up) at this bar", "regime");
  }

  const models::Prediction pred = ens.Predict(in.features.data());
  SignalFields f;
  f.p_up = pred.proba[models::kUp];
  if (!model.skill_shown) {
    f.skill_shown = false;
    f.p_up = ens.calibrator().base_rate();
    char b[64];
    std::snprintf(b, sizeof b, "; serving the base rate %.3f", f.p_up);
    f.no_skill_reason = "no skill: " + model.no_skill_reason + b;
  } else if (!pred.informative) {
    f.skill_shown = false;
    char b[200];
    std::snprintf(b, sizeof b,
                  "no skill: the model's calibration found no evidence on its held-back rows "
                  "(slope t %.2f); serving the base rate %.3f",
                  ens.calibrator().logistic().slope_t(), f.p_up);
    f.no_skill_reason = b;
  }
  f.symbol = model.symbol;
  f.timeframe = model.timeframe;
  f.horizon = ens.schema().horizon;
  f.bar_time = in.bar_time;
  f.issued_at = clock_.Now();
  f.reference_price = in.reference_price;
  f.confidence = std::max(f.p_up, 1 - f.p_up);
  f.uncertainty = pred.uncertainty;
  DecideDirection(f, req.confidence_threshold, req.max_uncertainty);
  const double scale = in.regime.rv * std::sqrt(static_cast<double>(f.horizon));
  f.expected_abs_move = model.move_ratio * scale;
  f.expected_return = ConformalPoint(f.p_up, model.move_ratio, scale);  // the calibration's rule
  f.intervals = in.recent_intervals ? in.recent_intervals->Predict(f.expected_return, scale, -1)
                                    : model.conformal.Predict(f.expected_return, scale,
                                                              static_cast<int>(in.regime.vol));
  f.regime = in.regime;
  f.regime_code = in.regime.Code();
  f.regime_name = RegimeName(f.regime_code);
  f.cross_asset = in.cross_asset;
  f.cross_asset.correlation_break =
      in.cross_asset.available && std::fabs(in.cross_asset.corr_break_z) > req.break_z_threshold;
  if (req.top_drivers > 0) {
    SINYAL_ASSIGN_OR_RETURN(auto contribs, ens.Contributions(in.features.data()));
    std::vector<Driver> d;
    for (const auto& c : contribs) {
      if (c.feature == "(bias)") continue;
      d.push_back({c.feature, c.value, c.contribution});
    }
    std::stable_sort(d.begin(), d.end(), [](const Driver& a, const Driver& b) {
      return std::fabs(a.contribution) > std::fabs(b.contribution);
    });
    if (d.size() > static_cast<size_t>(req.top_drivers)) d.resize(req.top_drivers);
    f.drivers = std::move(d);
  }
  f.model_version = model.model_version;
  f.id = SignalId(model, req, in);
  return Signal::FromFields(std::move(f));
}

Result<Resolution> ResolveSignal(const Signal& s, std::span<const market::Bar> later) {
  const auto& f = s.fields();
  for (size_t i = 0; i < later.size(); ++i) {
    if (later[i].time() <= (i == 0 ? f.bar_time : later[i - 1].time())) {
      return Status::InvalidArgument("bar " + std::to_string(i) + " at " +
                                         FormatIso8601(later[i].time()) +
                                         " is not after the previous one",
                                     "later");
    }
  }
  if (later.size() < static_cast<size_t>(f.horizon)) {
    return Status::FailedPrecondition("not yet resolvable: the horizon is " +
                                          std::to_string(f.horizon) + " bars, " +
                                          std::to_string(later.size()) + " have closed",
                                      "later");
  }
  const auto& exit = later[f.horizon - 1];
  Resolution r;
  r.resolved_bar_time = exit.time();
  r.exit_price = exit.close();
  r.realized_return = std::log(exit.close() / f.reference_price);
  r.up = r.realized_return > 0;
  if (f.direction != Direction::kNeutral) {
    r.hit = (f.direction == Direction::kBullish) == r.up && r.realized_return != 0;
  }
  for (const auto& iv : f.intervals) {
    r.covered.push_back({iv.coverage, r.realized_return >= iv.lo && r.realized_return <= iv.hi});
  }
  const double y = r.up ? 1.0 : 0.0;
  r.brier = (f.p_up - y) * (f.p_up - y);
  const double p = std::clamp(r.up ? f.p_up : 1 - f.p_up, 1e-15, 1.0);
  r.log_loss = -std::log(p);
  return r;
}

}  // namespace sinyal::signals
