#include "models/trainer.h"

#include <algorithm>
#include <numeric>

#include "models/walk_forward.h"

namespace sinyal::models {

Result<TrainOutput> TrainModel(const Dataset& ds, const TrainConfig& config,
                               const PlanBounds& bounds, std::string code_version,
                               const Clock& clock, const TrainProgress& progress) {
  SINYAL_RETURN_IF_ERROR(ValidateTrainConfig(config, bounds));
  if (std::find(config.symbols.begin(), config.symbols.end(), ds.symbol) == config.symbols.end()) {
    return Status::InvalidArgument("symbol '" + ds.symbol + "' is not in the configured symbols",
                                   "symbol");
  }
  if (ds.horizon != config.horizon) {
    return Status::InvalidArgument("dataset horizon differs from the config", "horizon");
  }
  if (progress) progress(0.0, "split");
  std::vector<size_t> all(ds.size());
  std::iota(all.begin(), all.end(), 0);
  const size_t n_cal =
      static_cast<size_t>(static_cast<double>(ds.size()) * config.calibration_fraction);
  std::vector<size_t> calib(all.end() - static_cast<std::ptrdiff_t>(n_cal), all.end());
  std::vector<size_t> fit_candidates(all.begin(), all.end() - static_cast<std::ptrdiff_t>(n_cal));
  std::vector<size_t> fit = Purge(ds, fit_candidates, calib, ds.horizon);
  const int64_t t0 = clock.MonotonicNanos();
  auto member_progress = [&](size_t done, size_t total) {
    if (progress) {
      progress(0.05 + 0.9 * static_cast<double>(done) / static_cast<double>(total),
               "member " + std::to_string(done) + "/" + std::to_string(total));
    }
  };
  SINYAL_ASSIGN_OR_RETURN(Ensemble ens, Ensemble::Train(ds, fit, calib, config, member_progress));
  TrainOutput out{std::move(ens), {}, {}, 0};
  out.train_seconds = static_cast<double>(clock.MonotonicNanos() - t0) / 1e9;
  if (progress) progress(0.97, "metrics");
  std::vector<float> x;
  ds.Gather(calib, &x, nullptr);
  std::vector<float> p(calib.size() * ds.num_classes);
  out.ensemble.PredictBatch(x.data(), calib.size(), p.data(), nullptr);
  std::vector<int8_t> y(calib.size());
  for (size_t i = 0; i < calib.size(); ++i) y[i] = ds.rows[calib[i]].label;
  out.calibration_set = ComputeMetrics(p, y, ds.num_classes);

  ModelRecord& r = out.record;
  r.symbol = ds.symbol;
  r.timeframe = ds.timeframe;
  r.data_from = ds.rows[fit.front()].ts;
  r.data_to = ds.rows[calib.back()].ts;
  r.schema = out.ensemble.schema();
  r.params = ToJson(config);
  r.metrics = {{"calibration_set", ToJson(out.calibration_set)},
               {"fit_rows", fit.size()},
               {"calibration_rows", calib.size()},
               {"train_seconds", out.train_seconds}};
  r.code_version = std::move(code_version);
  if (progress) progress(1.0, "done");
  return out;
}

}  // namespace sinyal::models
