// IntervalCalibrationStore: the interval calibration of each model version (conformal intervals
// of the forward log return and move_ratio; interval_calibration.h), fitted once and stored with
// the version in table signal_calibrations (migration 7; the table's name predates this class).
//
// When it is fitted. Fit() is cold work (it reads the version's bars from its anchor, computes
// its rows through the model-inputs seam and the regimes, and fits): it runs when a version is
// trained (models::ModelService's on_registered hook, wired in app/) or activated
// (DbModelRegistry's activation listener, wired in app/), never on a signal request. Get() only
// reads: a version whose calibration is not stored is NotFound, and SignalService answers
// Unavailable while its background thread fits it.
//
// Thread safety: thread-safe. Stored calibrations are kept in memory after the first read (a
// version's calibration never changes once stored).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <tuple>

#include "core/clock.h"
#include "core/ids.h"
#include "core/status.h"
#include "market/instrument.h"
#include "models/fwd.h"
#include "models/input_resolver.h"
#include "signals/interval_calibration.h"
#include "signals/regime.h"
#include "store/fwd.h"

namespace sinyal::signals {

struct IntervalCalibrationStoreOptions {
  ConformalConfig conformal;       // coverages 80% and 95%, Mondrian per vol state.
  RegimeConfig regime;             // the regime whose rv scales the intervals (regime.h defaults).
  size_t max_input_bars = 300000;  // newest bars read from the model's anchor. Default 300,000.
};

class IntervalCalibrationStore {
 public:
  // REQUIRES: every reference outlives the store; feature_sets may be null.
  IntervalCalibrationStore(store::Database& db, store::BarStore& bars,
                           models::DbModelRegistry& registry, store::FeatureSetStore* feature_sets,
                           const Clock& clock, IntervalCalibrationStoreOptions options = {});

  // The stored calibration of a version (one database read the first time, memory after).
  // NotFound (field "model") when it has not been fitted; DataLoss when the stored row is corrupt.
  [[nodiscard]] Result<IntervalCalibration> Get(TenantId owner, const market::SeriesKey& key,
                                                int64_t version);

  // Fits and stores the calibration of a version unless it is stored, and returns it. Another
  // process storing it first is not an error (the stored one is returned: same inputs, same
  // result). Errors: the version's (NotFound "model"), too few held-out rows
  // (FailedPrecondition), those of the database.
  [[nodiscard]] Result<IntervalCalibration> Fit(TenantId owner, const market::SeriesKey& key,
                                                int64_t version);

  struct Stats {
    int64_t fitted = 0, loaded = 0;
  };
  Stats stats() const;

 private:
  using Key = std::tuple<int64_t, std::string, int, int64_t>;  // owner, symbol, timeframe, version
  Result<std::optional<IntervalCalibration>> Read(TenantId owner, const market::SeriesKey& key,
                                                  int64_t version);
  Result<IntervalCalibration> Compute(TenantId owner, const market::SeriesKey& key,
                                      int64_t version);
  Status Store(TenantId owner, const market::SeriesKey& key, int64_t version,
               const IntervalCalibration& c);
  static Key KeyOf(TenantId owner, const market::SeriesKey& key, int64_t version);

  store::Database& db_;
  store::BarStore& bars_;
  models::DbModelRegistry& registry_;
  models::InputResolver inputs_;
  const Clock& clock_;
  IntervalCalibrationStoreOptions options_;
  mutable std::mutex mu_;
  std::map<Key, IntervalCalibration> cache_;  // GUARDED_BY(mu_)
  Stats stats_;                               // GUARDED_BY(mu_)
};

}  // namespace sinyal::signals
