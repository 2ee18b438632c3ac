// LiveSeries: the series-window half of SignalService, the part that reads the database. It
// opens a SeriesWindow (series_window.h) for a model over the stored bars from the model's
// anchor, catches windows up with newly stored bars, reads the bars that resolve pending
// signals, and keeps the cross-asset reference of each timeframe (reloaded at most once per
// reference interval). No signal logic lives here.
//
// Cross-asset reference: the stored "DXY" series of the timeframe when it has more than
// kMinCorrelationWindow bars, else the five-component synthetic dollar index (cross_asset.h
// SekMode::kDropSek) when EURUSD, USDJPY, GBPUSD, USDCAD and USDCHF are stored, else none. The
// newest kMaxBarPage bars of each are used.
//
// Thread safety: thread-safe; a window itself is not (its owner guards it).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"
#include "core/status.h"
#include "market/bar.h"
#include "market/instrument.h"
#include "models/ensemble.h"
#include "models/input_resolver.h"
#include "signals/series_window.h"
#include "store/fwd.h"

namespace sinyal::signals {

struct LiveSeriesOptions {
  size_t max_input_bars = 300000;  // newest bars read from a model's anchor. Default 300,000.
  int64_t reference_interval_nanos = kNanosPerSecond;  // reference reload. Default 1 s.
  RegimeConfig regime;  // the windows' regime rules (regime.h defaults).
};

class LiveSeries {
 public:
  // REQUIRES: every reference outlives this; feature_sets may be null.
  LiveSeries(store::BarStore& bars, store::FeatureSetStore* feature_sets, const Clock& clock,
             LiveSeriesOptions options = {});

  // A window of the model's rows over `owner`'s view of `key` (the platform's series for
  // kPlatformTenant), filled with the stored bars from schema.inputs_from, keeping `keep` bars.
  // Errors: the schema's feature set (FailedPrecondition "model"), the store's.
  [[nodiscard]] Result<SeriesWindow> Open(TenantId owner, const market::SeriesKey& key,
                                          const models::ModelSchema& schema, size_t keep);
  // Pushes the stored bars newer than the window's newest (one read). Returns how many.
  [[nodiscard]] Result<size_t> CatchUp(TenantId owner, const models::ModelSchema& schema,
                                       SeriesWindow& window);
  // The stored bars after `after`, oldest first, at most `max`.
  [[nodiscard]] Result<std::vector<market::Bar>> BarsAfter(TenantId owner,
                                                           const market::SeriesKey& key,
                                                           UnixNanos after, size_t max);
  // The cross-asset reference of a timeframe (name empty: none). Never null.
  std::shared_ptr<const CrossAssetReference> Reference(market::Timeframe timeframe);

 private:
  CrossAssetReference LoadReference(market::Timeframe timeframe);

  store::BarStore& bars_;
  models::InputResolver inputs_;
  const Clock& clock_;
  LiveSeriesOptions options_;
  struct Cached {
    std::shared_ptr<const CrossAssetReference> ref;
    int64_t loaded_mono = 0;
  };
  std::mutex ref_mu_;
  std::map<market::Timeframe, Cached> refs_;  // GUARDED_BY(ref_mu_)
};

}  // namespace sinyal::signals
