// Backtest signals from the live signal path, walk-forward (issue 12, deliverable 1).
//
// WalkForwardSignalSource is the SignalSource of a backtest with a model. Per symbol it streams
// every bar up to the current one through signals::SeriesWindow (the live path's streaming half:
// the model-inputs seam models/inputs.h and the RegimeClassifier), so the input rows are those
// training and the live SignalService compute. It trains with models::TrainModel (the call
// behind `sinyal train`) on the bars seen so far, fits the interval calibration as the live
// service does (signals::FitIntervalCalibration on the model's held-out rows) and makes each
// signal with signals::SignalAt + SignalGenerator, the live code; the strategy reads it through
// ToBarSignal (live_signals.h), as paper accounts do.
//
// Walk-forward. The first model is trained once min_train_bars bars of the symbol have been
// seen (history before the backtest's period counts: it is training data), then again every
// retrain_every_bars bars, on the newest train_window_bars bars (0 = all seen). A model trained
// at bar t uses labels close[i + h] with i + h <= t only: every prediction comes from a model
// trained on earlier bars. No signal before the first model. A training that fails for too
// little labelled data leaves the symbol without a model until the next retrain point.
//
// What differs from live: no cross-asset context (it does not move P(up), the direction or the
// confidence; Signal.cross_asset is "not available"), no drivers (SHAP is skipped: top_drivers 0),
// and models are not stored in the registry. A dead band of "auto" is the median relative spread
// of the bars the training sees.
//
// WalkForwardSignalFactory (the BacktestService's factory) validates the strategy's model
// configuration against the owner's plan (ModelService::SetupForBacktest: field-named errors
// under "model.config") and makes the sources.
//
// Thread safety: a source is used by one thread; the factory is thread-safe.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backtest/service.h"
#include "models/service.h"

namespace sinyal::backtest {

struct WalkForwardOptions {
  std::string code_version = "backtest";
  // Called after each training (symbol, bar time, rows, seconds): progress and logs.
  std::function<void(const std::string&, UnixNanos, size_t, double)> on_trained;
};

class WalkForwardSignalSource : public SignalSource {
 public:
  // REQUIRES: `series` (the strategy's symbols, ascending bars up to the period's end) and
  // `wall_clock` outlive the source.
  [[nodiscard]] static Result<std::unique_ptr<WalkForwardSignalSource>> Create(
      const StrategyConfig& strategy,
      const std::vector<models::ModelService::BacktestSetup>& setups,  // one per symbol
      const std::vector<SeriesInput>& series, const Clock& wall_clock,
      WalkForwardOptions options = {});
  ~WalkForwardSignalSource() override;

  Result<std::optional<BarSignal>> OnBarClosed(int symbol, const market::SeriesKey& key,
                                               const market::Bar& bar, UnixNanos now) override;
  // {"kind": "walk_forward", feature set, configuration, retrains per symbol with their bar
  // times, rows and seconds, training seconds in all}.
  nlohmann::json Describe() const override;

  struct Symbol;

 private:
  WalkForwardSignalSource() = default;
  Status Train(Symbol& s, UnixNanos now);

  StrategyConfig strategy_;
  const Clock* wall_clock_ = nullptr;
  WalkForwardOptions options_;
  std::vector<std::unique_ptr<Symbol>> symbols_;
  double train_seconds_ = 0;
};

class WalkForwardSignalFactory : public SignalSourceFactory {
 public:
  // REQUIRES: models and wall_clock outlive the factory.
  WalkForwardSignalFactory(models::ModelService& models, const Clock& wall_clock,
                           WalkForwardOptions options = {})
      : models_(models), wall_clock_(wall_clock), options_(std::move(options)) {}
  Status Validate(TenantId owner, const StrategyConfig& config) override;
  Result<std::unique_ptr<SignalSource>> Create(TenantId owner, const StrategyConfig& config,
                                               const std::vector<SeriesInput>& series,
                                               const Progress& progress) override;

 private:
  // One setup per symbol (the owner's configuration of each series + model.config).
  Result<std::vector<models::ModelService::BacktestSetup>> Setups(TenantId owner,
                                                                  const StrategyConfig& config);
  models::ModelService& models_;
  const Clock& wall_clock_;
  WalkForwardOptions options_;
};

}  // namespace sinyal::backtest
