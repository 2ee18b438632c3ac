#include "backtest/walk_forward_signals.h"

#include <algorithm>
#include <cmath>

#include "backtest/live_signals.h"
#include "core/time.h"
#include "market/timeframe.h"
#include "models/market_adapter.h"
#include "models/trainer.h"
#include "signals/interval_calibration.h"
#include "signals/series_window.h"
#include "signals/signal.h"

namespace sinyal::backtest {

using nlohmann::json;

struct WalkForwardSignalSource::Symbol {
  const SeriesInput* input = nullptr;
  market::SeriesKey key;
  models::ModelService::BacktestSetup setup;
  double point = 1e-5;
  signals::SeriesWindow window;
  size_t next = 0;            // input->bars[0, next) have been pushed
  std::vector<float> values;  // the model's input rows of those bars, row-major
  std::vector<signals::RegimeState> states;
  size_t last_train = 0;  // bars seen at the last training attempt (0 = none yet)
  std::unique_ptr<models::Ensemble> ensemble;
  signals::SignalModel model;
  int trained = 0;
  json retrains = json::array();

  Symbol(const SeriesInput& in, market::SeriesKey k, models::ModelService::BacktestSetup s,
         signals::SeriesWindow w)
      : input(&in), key(std::move(k)), setup(std::move(s)), window(std::move(w)) {}

  // The rows of bars [from, to) as a frame anchored at the series' first bar.
  models::FeatureFrame Frame(size_t from, size_t to) const {
    models::FeatureFrame f;
    f.set_name = setup.spec.set_name();
    f.set_version = setup.spec.set_version();
    f.inputs_from = input->bars.empty() ? models::kSeriesStart : input->bars.front().time();
    f.names = setup.spec.names();
    f.rows = to - from;
    const size_t c = f.names.size();
    f.values.assign(values.begin() + static_cast<ptrdiff_t>(from * c),
                    values.begin() + static_cast<ptrdiff_t>(to * c));
    return f;
  }

  Status Push(const market::Bar& bar) {
    SINYAL_ASSIGN_OR_RETURN(bool pushed, window.Push(bar));
    if (!pushed) {
      return Status::InvalidArgument(
          key.ToString() + " bar " + FormatIso8601(bar.time()) + " is not after the previous one",
          "bar");
    }
    const auto row = window.row(window.size() - 1);
    values.insert(values.end(), row.begin(), row.end());
    states.push_back(window.state(window.size() - 1));
    ++next;
    return Status::Ok();
  }
};

WalkForwardSignalSource::~WalkForwardSignalSource() = default;

Result<std::unique_ptr<WalkForwardSignalSource>> WalkForwardSignalSource::Create(
    const StrategyConfig& strategy, const std::vector<models::ModelService::BacktestSetup>& setups,
    const std::vector<SeriesInput>& series, const Clock& wall_clock, WalkForwardOptions options) {
  if (setups.size() != series.size() || series.size() != strategy.symbols.size()) {
    return Status::InvalidArgument("one model setup and one series per symbol are needed",
                                   "symbols");
  }
  std::unique_ptr<WalkForwardSignalSource> s(new WalkForwardSignalSource());
  s->strategy_ = strategy;
  s->wall_clock_ = &wall_clock;
  s->options_ = std::move(options);
  for (size_t i = 0; i < series.size(); ++i) {
    market::SeriesKey key{series[i].symbol, strategy.timeframe};
    SINYAL_ASSIGN_OR_RETURN(signals::SeriesWindow w,
                            signals::SeriesWindow::Create(setups[i].spec, models::kSeriesStart,
                                                          series[i].symbol, strategy.timeframe));
    auto sym = std::make_unique<Symbol>(series[i], key, setups[i], std::move(w));
    sym->point = std::pow(10.0, -series[i].digits);
    sym->setup.config.horizon = strategy.model.horizon;
    sym->setup.config.symbols = {series[i].symbol};
    sym->setup.config.timeframe = std::string(market::TimeframeName(strategy.timeframe));
    sym->values.reserve(series[i].bars.size() * setups[i].spec.cols());
    sym->states.reserve(series[i].bars.size());
    s->symbols_.push_back(std::move(sym));
  }
  return s;
}

Status WalkForwardSignalSource::Train(Symbol& s, UnixNanos now) {
  const int64_t t0 = wall_clock_->MonotonicNanos();
  const size_t n = s.next;
  const auto& rules = strategy_.model;
  const size_t start =
      rules.train_window_bars > 0 && n > static_cast<size_t>(rules.train_window_bars)
          ? n - static_cast<size_t>(rules.train_window_bars)
          : 0;
  const std::span<const market::Bar> seen(s.input->bars.data(), n);
  const std::span<const market::Bar> window = seen.subspan(start);
  json entry = {{"at", FormatIso8601(now)}, {"bars", n - start}};
  SINYAL_ASSIGN_OR_RETURN(
      models::BarColumns columns,
      models::ToBarColumns(s.key.symbol, s.setup.config.timeframe, window, s.point));
  models::TrainConfig config = s.setup.config;
  if (s.setup.dead_band_auto) {
    config.dead_band =
        std::max(models::MedianRelativeSpread(columns), models::ModelService::MinAutoDeadBand());
  }
  // The strategy says when there is enough history (min_train_bars); the trainer's own floor
  // must not be above what that history can label.
  config.min_train_rows =
      std::min<size_t>(config.min_train_rows, static_cast<size_t>(rules.min_train_bars) / 2);
  models::LabelConfig lc;
  lc.horizon = config.horizon;
  lc.dead_band = config.dead_band;
  lc.neutral = config.neutral;
  auto ds = models::BuildDataset(columns, s.Frame(start, n), lc, config.min_train_rows);
  auto skip = [&](const Status& why) {
    entry["skipped"] = why.message();
    s.retrains.push_back(entry);
    return Status::Ok();
  };
  if (!ds.ok()) {
    if (ds.error().code() == StatusCode::kFailedPrecondition) return skip(ds.error());
    return ds.error();
  }
  auto out = models::TrainModel(*ds, config, s.setup.bounds, options_.code_version, *wall_clock_);
  if (!out.ok()) {
    if (out.error().code() == StatusCode::kFailedPrecondition) return skip(out.error());
    return out.error().WithContext("walk-forward training of " + s.key.ToString());
  }
  auto ensemble = std::make_unique<models::Ensemble>(std::move(out->ensemble));
  // The interval calibration as the live service fits it: the model's held-out rows.
  auto cal = signals::FitIntervalCalibration(*ensemble,
                                             {.data_from = out->record.data_from,
                                              .data_to = out->record.data_to,
                                              .horizon = std::max(1, config.horizon),
                                              .held_out_fraction = config.calibration_fraction},
                                             seen, s.Frame(0, n), s.states);
  ++s.trained;
  s.ensemble = std::move(ensemble);
  s.model = {};
  s.model.ensemble = s.ensemble.get();
  if (cal.ok()) {
    s.model.conformal = std::move(cal->conformal);
    s.model.move_ratio = cal->move_ratio;
  } else {
    entry["intervals"] = "not fitted: " + cal.error().message();
  }
  s.model.model_version = "backtest/" + s.key.symbol + "/" + s.setup.config.timeframe + "/w" +
                          std::to_string(s.trained);
  s.model.symbol = s.key.symbol;
  s.model.timeframe = s.setup.config.timeframe;
  const double seconds = static_cast<double>(wall_clock_->MonotonicNanos() - t0) / 1e9;
  train_seconds_ += seconds;
  entry["version"] = s.model.model_version;
  entry["rows"] = ds->size();
  entry["dead_band"] = config.dead_band;
  entry["data_to"] = FormatIso8601(out->record.data_to);
  entry["seconds"] = seconds;
  s.retrains.push_back(entry);
  if (options_.on_trained) options_.on_trained(s.key.symbol, now, ds->size(), seconds);
  return Status::Ok();
}

Result<std::optional<BarSignal>> WalkForwardSignalSource::OnBarClosed(int symbol,
                                                                      const market::SeriesKey& key,
                                                                      const market::Bar& bar,
                                                                      UnixNanos now) {
  if (symbol < 0 || static_cast<size_t>(symbol) >= symbols_.size()) {
    return Status::InvalidArgument("unknown symbol index", "symbol");
  }
  Symbol& s = *symbols_[static_cast<size_t>(symbol)];
  const auto& bars = s.input->bars;
  // Earlier bars (history before the period, or bars the engine skipped) are training data.
  while (s.next < bars.size() && bars[s.next].time() < bar.time()) {
    SINYAL_RETURN_IF_ERROR(s.Push(bars[s.next]));
  }
  if (s.next >= bars.size() || bars[s.next].time() != bar.time()) {
    return Status::InvalidArgument(
        key.ToString() + " bar " + FormatIso8601(bar.time()) + " is not in the backtest's series",
        "bar");
  }
  SINYAL_RETURN_IF_ERROR(s.Push(bar));
  const auto& rules = strategy_.model;
  const size_t n = s.next;
  if (n >= static_cast<size_t>(rules.min_train_bars) &&
      (s.last_train == 0 || n - s.last_train >= static_cast<size_t>(rules.retrain_every_bars))) {
    s.last_train = n;
    SINYAL_RETURN_IF_ERROR(Train(s, now));
  }
  if (s.model.ensemble == nullptr) return std::optional<BarSignal>();
  ManualClock clock(now);  // issued at the bar's close, as live
  const signals::SignalGenerator generator(clock);
  signals::SignalRequest request;
  request.top_drivers = 0;
  auto sig = signals::SignalAt(s.window, s.window.size() - 1, s.model, generator, request, nullptr);
  if (!sig.ok()) {
    // A feature or the regime still warming up: no signal at this bar.
    const StatusCode c = sig.error().code();
    if (c == StatusCode::kFailedPrecondition || c == StatusCode::kNotFound) {
      return std::optional<BarSignal>();
    }
    return sig.error();
  }
  return std::optional<BarSignal>(ToBarSignal(*sig));
}

json WalkForwardSignalSource::Describe() const {
  json symbols = json::object();
  for (const auto& s : symbols_) {
    symbols[s->key.symbol] = {{"feature_set", s->setup.spec.set_name()},
                              {"feature_set_version", s->setup.spec.set_version()},
                              {"config", models::ToJson(s->setup.config)},
                              {"dead_band_auto", s->setup.dead_band_auto},
                              {"plan", s->setup.plan},
                              {"trainings", s->trained},
                              {"retrains", s->retrains}};
  }
  return {{"kind", "walk_forward"},
          {"horizon", strategy_.model.horizon},
          {"retrain_every_bars", strategy_.model.retrain_every_bars},
          {"train_window_bars", strategy_.model.train_window_bars},
          {"min_train_bars", strategy_.model.min_train_bars},
          {"train_seconds", train_seconds_},
          {"cross_asset", "not used in backtests"},
          {"symbols", symbols}};
}

Result<std::vector<models::ModelService::BacktestSetup>> WalkForwardSignalFactory::Setups(
    TenantId owner, const StrategyConfig& config) {
  const json& overrides = config.model.config;
  if (overrides.contains("horizon")) {
    return Status::InvalidArgument("set the horizon with model.horizon", "model.config.horizon");
  }
  if (overrides.contains("neutral") && overrides["neutral"] == "third_class") {
    return Status::InvalidArgument("signals need a binary model: neutral must be \"exclude\"",
                                   "model.config.neutral");
  }
  json with_horizon = overrides;
  with_horizon["horizon"] = config.model.horizon;
  std::vector<models::ModelService::BacktestSetup> out;
  for (const auto& symbol : config.symbols) {
    auto setup = models_.SetupForBacktest(owner, {symbol, config.timeframe}, with_horizon);
    if (!setup.ok()) {
      const std::string& f = setup.error().field();
      const std::string field =
          f == "horizon" ? "model.horizon" : (f.empty() ? "model.config" : "model.config." + f);
      return Status(setup.error().code(), setup.error().message(), field);
    }
    if (setup->config.neutral == models::NeutralMode::kThirdClass) {
      return Status::InvalidArgument(
          "the stored model configuration of " + symbol +
              " is three-class; signals need a binary model (set model.config.neutral)",
          "model.config.neutral");
    }
    out.push_back(std::move(setup).value());
  }
  return out;
}

Status WalkForwardSignalFactory::Validate(TenantId owner, const StrategyConfig& config) {
  return Setups(owner, config).status();
}

Result<std::unique_ptr<SignalSource>> WalkForwardSignalFactory::Create(
    TenantId owner, const StrategyConfig& config, const std::vector<SeriesInput>& series,
    const Progress& progress) {
  SINYAL_ASSIGN_OR_RETURN(auto setups, Setups(owner, config));
  if (progress)
    progress(0, "walk-forward: first model after " + std::to_string(config.model.min_train_bars) +
                    " bars");
  SINYAL_ASSIGN_OR_RETURN(
      auto source, WalkForwardSignalSource::Create(config, setups, series, wall_clock_, options_));
  return std::unique_ptr<SignalSource>(std::move(source));
}

}  // namespace sinyal::backtest
