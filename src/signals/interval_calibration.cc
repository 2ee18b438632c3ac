#include "signals/interval_calibration.h"

#include <algorithm>
#include <cmath>

#include "core/time.h"

namespace sinyal::signals {

using nlohmann::json;

json IntervalCalibration::ToJson() const {
  json cov = json::array();
  for (const auto& c : coverage) {
    cov.push_back({{"nominal", c.nominal},
                   {"group", c.group},
                   {"n", c.n},
                   {"covered", c.covered},
                   {"empirical", c.empirical},
                   {"mean_width", c.mean_width}});
  }
  return {{"conformal", conformal.ToJson()},
          {"move_ratio", move_ratio},
          {"rows", rows},
          {"from", FormatIso8601(from)},
          {"to", FormatIso8601(to)},
          {"coverage_on_calibration_rows", cov}};
}

Result<IntervalCalibration> IntervalCalibration::FromJson(const json& j) {
  if (!j.is_object() || !j.contains("conformal")) {
    return Status::DataLoss("stored interval calibration is not a calibration object");
  }
  IntervalCalibration c;
  SINYAL_ASSIGN_OR_RETURN(c.conformal, ConformalIntervals::FromJson(j.at("conformal")));
  try {
    c.move_ratio = j.value("move_ratio", 0.0);
    c.rows = j.value("rows", size_t{0});
    if (auto f = ParseIso8601(j.value("from", "")); f.ok()) c.from = *f;
    if (auto f = ParseIso8601(j.value("to", "")); f.ok()) c.to = *f;
    if (j.contains("coverage_on_calibration_rows")) {
      for (const auto& l : j["coverage_on_calibration_rows"]) {
        CoverageLine cl;
        cl.nominal = l.value("nominal", 0.0);
        cl.group = l.value("group", -1);
        cl.n = l.value("n", size_t{0});
        cl.covered = l.value("covered", size_t{0});
        cl.empirical = l.value("empirical", 0.0);
        cl.mean_width = l.value("mean_width", 0.0);
        c.coverage.push_back(cl);
      }
    }
  } catch (const std::exception& e) {
    return Status::DataLoss(std::string("stored interval calibration is malformed: ") + e.what());
  }
  return c;
}

std::optional<ConformalRow> ConformalRowAt(std::span<const market::Bar> bars, size_t t, int horizon,
                                           const RegimeState& s, std::span<const float> inputs) {
  const size_t h = static_cast<size_t>(std::max(1, horizon));
  if (t + h >= bars.size()) return std::nullopt;
  if (!s.ready || !std::isfinite(s.rv) || !(s.rv > 0)) return std::nullopt;
  for (float x : inputs) {
    if (!std::isfinite(x)) return std::nullopt;
  }
  ConformalRow r;
  r.scale = s.rv * std::sqrt(static_cast<double>(h));
  r.actual = std::log(bars[t + h].close() / bars[t].close());
  r.group = static_cast<int>(s.vol);
  r.point = 0;
  if (!std::isfinite(r.actual)) return std::nullopt;
  return r;
}

double ConformalPoint(double p_up, double move_ratio, double scale) {
  return (2.0 * p_up - 1.0) * move_ratio * scale;
}

Result<IntervalCalibration> FitIntervalCalibration(const models::Ensemble& ens,
                                                   const CalibrationWindow& w,
                                                   std::span<const market::Bar> bars,
                                                   const models::FeatureFrame& inputs,
                                                   std::span<const RegimeState> states,
                                                   const ConformalConfig& config) {
  if (inputs.rows != bars.size() || states.size() != bars.size()) {
    return Status::InvalidArgument("bars, input rows and regime states differ in length", "inputs");
  }
  const size_t h = static_cast<size_t>(std::max(1, w.horizon));
  std::vector<size_t> idx;  // bars of the training range with a bar h later
  for (size_t i = 0; i + h < bars.size(); ++i) {
    if (bars[i].time() >= w.data_from && bars[i].time() <= w.data_to) idx.push_back(i);
  }
  if (idx.empty()) {
    return Status::FailedPrecondition("the bars of the model's training range are no longer stored",
                                      "model");
  }
  const double frac = std::clamp(w.held_out_fraction, 0.0, 1.0);
  const size_t held = static_cast<size_t>(std::ceil(static_cast<double>(idx.size()) * frac));
  const size_t split = idx.size() - std::min(held, idx.size());
  auto row_at = [&](size_t i) {
    return ConformalRowAt(bars, i, w.horizon, states[i],
                          std::span<const float>(inputs.Row(i), inputs.cols()));
  };
  std::vector<ConformalRow> fit_rows, cal_rows;
  for (size_t k = 0; k + h < split; ++k) {
    if (auto r = row_at(idx[k])) fit_rows.push_back(*r);
  }
  SINYAL_ASSIGN_OR_RETURN(double move_ratio, FitMoveRatio(fit_rows));
  IntervalCalibration c;
  c.move_ratio = move_ratio;
  for (size_t k = split + h; k < idx.size(); ++k) {
    auto r = row_at(idx[k]);
    if (!r) continue;
    const models::Prediction p = ens.Predict(inputs.Row(idx[k]));
    r->point = ConformalPoint(p.proba[models::kUp], move_ratio, r->scale);
    if (c.rows == 0) c.from = bars[idx[k]].time();
    c.to = bars[idx[k]].time();
    cal_rows.push_back(*r);
    ++c.rows;
  }
  auto ci = ConformalIntervals::Fit(cal_rows, config);
  if (!ci.ok()) return ci.error().WithContext("conformal calibration of the held-out rows");
  c.conformal = std::move(ci).value();
  c.coverage = EvaluateCoverage(c.conformal, cal_rows);
  return c;
}

}  // namespace sinyal::signals
