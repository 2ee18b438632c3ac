#include "signals/interval_calibration_store.h"

#include <algorithm>

#include "market/timeframe.h"
#include "models/db_registry.h"
#include "models/registry.h"
#include "store/bar_store.h"
#include "store/database.h"
#include "store/soci.h"

namespace sinyal::signals {

using nlohmann::json;

namespace {

bool IsPlatform(TenantId t) { return t == models::kPlatformTenant; }

Status OwnerTx(store::Database& db, TenantId owner, bool read,
               const std::function<Status(soci::session&)>& fn) {
  if (IsPlatform(owner)) return read ? db.WithReadTx(fn) : db.WithTx(fn);
  return read ? db.WithTenantReadTx(owner, fn) : db.WithTenantTx(owner, fn);
}

}  // namespace

IntervalCalibrationStore::IntervalCalibrationStore(store::Database& db, store::BarStore& bars,
                                                   models::DbModelRegistry& registry,
                                                   store::FeatureSetStore* feature_sets,
                                                   const Clock& clock,
                                                   IntervalCalibrationStoreOptions options)
    : db_(db),
      bars_(bars),
      registry_(registry),
      inputs_(feature_sets),
      clock_(clock),
      options_(std::move(options)) {}

IntervalCalibrationStore::Key IntervalCalibrationStore::KeyOf(TenantId owner,
                                                              const market::SeriesKey& key,
                                                              int64_t version) {
  return {owner.value(), key.symbol, static_cast<int>(key.timeframe), version};
}

Result<IntervalCalibration> IntervalCalibrationStore::Get(TenantId owner,
                                                          const market::SeriesKey& key,
                                                          int64_t version) {
  {
    std::lock_guard lock(mu_);
    if (auto it = cache_.find(KeyOf(owner, key, version)); it != cache_.end()) return it->second;
  }
  SINYAL_ASSIGN_OR_RETURN(std::optional<IntervalCalibration> stored, Read(owner, key, version));
  if (!stored) {
    return Status::NotFound(
        "the interval calibration of model version " + std::to_string(version) + " is not fitted",
        "model");
  }
  std::lock_guard lock(mu_);
  stats_.loaded++;
  cache_.emplace(KeyOf(owner, key, version), *stored);
  return std::move(*stored);
}

Result<IntervalCalibration> IntervalCalibrationStore::Fit(TenantId owner,
                                                          const market::SeriesKey& key,
                                                          int64_t version) {
  auto got = Get(owner, key, version);
  if (got.ok() || got.error().code() != StatusCode::kNotFound) return got;
  SINYAL_ASSIGN_OR_RETURN(IntervalCalibration c, Compute(owner, key, version));
  Status st = Store(owner, key, version, c);
  if (st.code() == StatusCode::kAlreadyExists)
    return Get(owner, key, version);  // stored first elsewhere
  SINYAL_RETURN_IF_ERROR(st);
  std::lock_guard lock(mu_);
  stats_.fitted++;
  cache_.emplace(KeyOf(owner, key, version), c);
  return c;
}

IntervalCalibrationStore::Stats IntervalCalibrationStore::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

Result<std::optional<IntervalCalibration>> IntervalCalibrationStore::Read(
    TenantId owner, const market::SeriesKey& key, int64_t version) {
  std::string text;
  bool found = false;
  const std::string timeframe(market::TimeframeName(key.timeframe));
  SINYAL_RETURN_IF_ERROR(OwnerTx(db_, owner, true, [&](soci::session& sql) -> Status {
    long long t = owner.value(), v = version;
    soci::indicator ind = soci::i_null;
    sql << "SELECT c.calibration FROM signal_calibrations c JOIN model_versions m ON m.id = "
           "c.model_id "
           "WHERE COALESCE(m.tenant_id, 0) = :t AND m.symbol = :s AND m.timeframe = :tf AND "
           "m.version = :v",
        soci::use(t, "t"), soci::use(key.symbol, "s"), soci::use(timeframe, "tf"),
        soci::use(v, "v"), soci::into(text, ind);
    found = sql.got_data() && ind == soci::i_ok;
    return Status::Ok();
  }));
  if (!found) return std::optional<IntervalCalibration>();
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return Status::DataLoss("stored interval calibration is not JSON");
  SINYAL_ASSIGN_OR_RETURN(IntervalCalibration c, IntervalCalibration::FromJson(j));
  return std::optional<IntervalCalibration>(std::move(c));
}

// The model's rows through the seam from its anchor (as the live window computes them), the
// regimes over the same bars, and FitIntervalCalibration on the held-out part of its range.
Result<IntervalCalibration> IntervalCalibrationStore::Compute(TenantId owner,
                                                              const market::SeriesKey& key,
                                                              int64_t version) {
  SINYAL_ASSIGN_OR_RETURN(models::ModelRecord rec, registry_.GetRecord(owner, key, version));
  SINYAL_ASSIGN_OR_RETURN(models::Ensemble ens, registry_.Load(owner, key, version));
  if (ens.num_classes() != 2) {
    return Status::FailedPrecondition("signals need a binary up/down model; version " +
                                          std::to_string(version) + " has 3 classes",
                                      "model");
  }
  const int h = std::max(1, rec.schema.horizon);
  double frac = 0.2;
  if (rec.params.is_object() && rec.params.contains("calibration_fraction") &&
      rec.params["calibration_fraction"].is_number()) {
    frac = rec.params["calibration_fraction"].get<double>();
  }
  // Bars up to the end of the training range plus the horizon (8 periods per bar of slack for
  // weekends and gaps).
  const UnixNanos to =
      rec.data_to + static_cast<int64_t>(h + 1) * market::TimeframeNanos(key.timeframe) * 8;
  SINYAL_ASSIGN_OR_RETURN(
      std::vector<market::Bar> bars,
      models::ReadInputBars(bars_, owner, key, rec.schema, to, options_.max_input_bars));
  SINYAL_ASSIGN_OR_RETURN(models::FeatureFrame rows, inputs_.Rows(owner, rec.schema, bars));
  SINYAL_ASSIGN_OR_RETURN(std::vector<RegimeState> states, ClassifyRegimes(bars, options_.regime));
  return FitIntervalCalibration(
      ens,
      {.data_from = rec.data_from, .data_to = rec.data_to, .horizon = h, .held_out_fraction = frac},
      bars, rows, states, options_.conformal);
}

Status IntervalCalibrationStore::Store(TenantId owner, const market::SeriesKey& key,
                                       int64_t version, const IntervalCalibration& c) {
  const std::string text = c.ToJson().dump();
  const std::string timeframe(market::TimeframeName(key.timeframe));
  return OwnerTx(db_, owner, false, [&](soci::session& sql) -> Status {
    long long t = owner.value(), v = version, id = 0, now = clock_.Now();
    soci::indicator ind = soci::i_null;
    sql << "SELECT id FROM model_versions WHERE COALESCE(tenant_id, 0) = :t AND symbol = :s AND "
           "timeframe = :tf AND version = :v",
        soci::use(t, "t"), soci::use(key.symbol, "s"), soci::use(timeframe, "tf"),
        soci::use(v, "v"), soci::into(id, ind);
    if (!sql.got_data() || ind != soci::i_ok) return Status::NotFound("no model version", "model");
    soci::indicator ti = IsPlatform(owner) ? soci::i_null : soci::i_ok;
    sql << "INSERT INTO signal_calibrations (model_id, tenant_id, calibration, created_at) "
           "VALUES (:m, :t, :c, :at)",
        soci::use(id, "m"), soci::use(t, ti, "t"), soci::use(text, "c"), soci::use(now, "at");
    return Status::Ok();
  });
}

}  // namespace sinyal::signals
