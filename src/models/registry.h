// ModelRegistry: versioned, tenant-scoped storage of trained ensembles.
//
// Every registered model gets a version (1, 2, ... per tenant x symbol x timeframe, whatever its
// horizon) and a ModelRecord with its data range, feature set and version, horizon, parameters,
// metrics, code version and a SHA-256 content hash of the stored bytes. Members are stored as
// XGBoost UBJ, reloaded bit-identically, and verified against the hash on every load.
//
// Horizons. A version predicts schema.horizon bars ahead. The active version is explicit per
// (tenant, series, horizon): one series serves several horizons at once (the platform
// defaults: 1, 4 and 24 bars), and a request's prediction_horizon chooses the model. Activate
// takes the version's own horizon; Activate checks that the model loads before switching, so a
// corrupted file gives a clear error and leaves the active model unchanged; Rollback returns the
// horizon's previously active version in one call.
//
// Keys. Calls name a series by a typed market::SeriesKey (parsed at the HTTP/CLI edge); a key
// whose symbol is not a safe name is InvalidArgument ("symbol"). Stored forms name the timeframe
// by its canonical text ("H1", models::KeyTimeframe in registry_key.h), as they always have.
//
// Tenant isolation: every call takes the tenant id and only ever sees that tenant's models;
// a version number of tenant B is NotFound for tenant A. Platform default models live under
// kPlatformTenant and are reached only through ResolveActive's explicit fallback.
//
// The interface is what app/ (and a later DB-backed implementation, whose tables can store
// ModelRecord::ToJson fields) program against; FileModelRegistry keeps everything on disk.
//
// Thread safety: FileModelRegistry is thread-safe (one mutex); concurrent processes sharing a
// root are safe for Register (atomic directory creation) and Activate/Rollback (atomic rename,
// last writer wins).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"
#include "core/status.h"
#include "market/instrument.h"
#include "models/ensemble.h"

namespace sinyal::models {

// Owner of the platform default models (tenant ids of real tenants are > 0).
inline constexpr TenantId kPlatformTenant{0};

// The horizon (bars ahead) served when a request names none.
inline constexpr int kDefaultHorizon = 1;

// The stored record of a version (record.json / model_versions.record): symbol and timeframe stay
// the stored text ("EURUSD", "H1"), checked by Register.
struct ModelRecord {
  TenantId tenant;
  std::string symbol;
  std::string timeframe;
  int64_t version = 0;      // assigned by Register
  UnixNanos data_from = 0;  // first and last prediction-bar time of the training data
  UnixNanos data_to = 0;
  ModelSchema schema;           // feature set + version, features, classes, horizon, dead band
  nlohmann::json params;        // TrainConfig as JSON
  nlohmann::json metrics;       // e.g. walk-forward pooled metrics
  std::string code_version;     // passed in by the caller (git describe)
  std::string xgboost_version;  // filled by Register
  std::string content_hash;     // sha256 hex of the stored bundle, filled by Register
  std::vector<std::string> file_hashes;  // sha256 hex per stored file, same order as files
  UnixNanos created_at = 0;              // filled by Register from the registry's clock

  nlohmann::json ToJson() const;
  [[nodiscard]] static Result<ModelRecord> FromJson(const nlohmann::json& j);
};

class ModelRegistry {
 public:
  virtual ~ModelRegistry() = default;

  // Stores `ensemble` as a new version under (tenant, meta.symbol, meta.timeframe). Does not
  // activate it. Returns the completed record (version, hashes, created_at).
  [[nodiscard]] virtual Result<ModelRecord> Register(TenantId tenant, const Ensemble& ensemble,
                                                     ModelRecord meta) = 0;
  // All versions of the key, oldest first. An empty list is not an error.
  [[nodiscard]] virtual Result<std::vector<ModelRecord>> List(TenantId tenant,
                                                              const market::SeriesKey& series) = 0;
  [[nodiscard]] virtual Result<ModelRecord> GetRecord(TenantId tenant,
                                                      const market::SeriesKey& series,
                                                      int64_t version) = 0;
  // Loads and verifies a version. NotFound when absent for this tenant; DataLoss when a stored
  // file is corrupted (hash mismatch or unreadable model), naming the file.
  [[nodiscard]] virtual Result<Ensemble> Load(TenantId tenant, const market::SeriesKey& series,
                                              int64_t version) = 0;
  // Makes `version` active for its horizon after loading and verifying it. On any error nothing
  // changes.
  [[nodiscard]] virtual Status Activate(TenantId tenant, const market::SeriesKey& series,
                                        int64_t version) = 0;
  // The active version for `horizon`; NotFound when none is active.
  [[nodiscard]] virtual Result<int64_t> ActiveVersion(TenantId tenant,
                                                      const market::SeriesKey& series,
                                                      int horizon) = 0;
  // The horizons with an active version, ascending (empty: none).
  [[nodiscard]] virtual Result<std::vector<int>> ActiveHorizons(
      TenantId tenant, const market::SeriesKey& series) = 0;
  // Re-activates the version that was active for `horizon` before the current one (verified
  // like Activate). FailedPrecondition when there is no earlier activation to return to.
  [[nodiscard]] virtual Status Rollback(TenantId tenant, const market::SeriesKey& series,
                                        int horizon) = 0;
};

// The tenant's active model for the horizon, or else the platform default for the
// symbol/timeframe/horizon. `*from_platform` (may be null) tells which. NotFound when neither
// exists.
[[nodiscard]] Result<Ensemble> ResolveActive(ModelRegistry& registry, TenantId tenant,
                                             const market::SeriesKey& series, int horizon,
                                             bool* from_platform = nullptr);

// The horizons `tenant` can be served for the series: its own active horizons and the platform's,
// ascending, without repeats.
[[nodiscard]] Result<std::vector<int>> ServedHorizons(ModelRegistry& registry, TenantId tenant,
                                                      const market::SeriesKey& series);

// SHA-256 of bytes as 64 lower-case hex characters (OpenSSL).
std::string Sha256Hex(std::string_view bytes);

class FileModelRegistry final : public ModelRegistry {
 public:
  // Layout: root/t<tenant>/<symbol>/<timeframe>/v<N>/{member_<i>.ubj, calibration.json,
  // record.json} and .../<timeframe>/active_h<horizon>.json. REQUIRES: clock outlives the registry.
  [[nodiscard]] static Result<std::unique_ptr<FileModelRegistry>> Open(std::filesystem::path root,
                                                                       const Clock& clock);

  Result<ModelRecord> Register(TenantId tenant, const Ensemble& ensemble,
                               ModelRecord meta) override;
  Result<std::vector<ModelRecord>> List(TenantId tenant, const market::SeriesKey& series) override;
  Result<ModelRecord> GetRecord(TenantId tenant, const market::SeriesKey& series,
                                int64_t version) override;
  Result<Ensemble> Load(TenantId tenant, const market::SeriesKey& series, int64_t version) override;
  Status Activate(TenantId tenant, const market::SeriesKey& series, int64_t version) override;
  Result<int64_t> ActiveVersion(TenantId tenant, const market::SeriesKey& series,
                                int horizon) override;
  Result<std::vector<int>> ActiveHorizons(TenantId tenant,
                                          const market::SeriesKey& series) override;
  Status Rollback(TenantId tenant, const market::SeriesKey& series, int horizon) override;

  // Test hook: the directory of a stored version (to corrupt files in tests).
  std::filesystem::path TEST_VersionDir(TenantId tenant, const market::SeriesKey& series,
                                        int64_t version) const;

 private:
  FileModelRegistry(std::filesystem::path root, const Clock& clock)
      : root_(std::move(root)), clock_(clock) {}
  // root/t<tenant>/<symbol>/<timeframe>; the string form serves Register (a record's fields).
  Result<std::filesystem::path> KeyDir(TenantId tenant, const std::string& symbol,
                                       const std::string& timeframe) const;
  Result<std::filesystem::path> KeyDir(TenantId tenant, const market::SeriesKey& series) const;
  Result<ModelRecord> ReadRecordLocked(const std::filesystem::path& vdir);
  Result<Ensemble> LoadLocked(TenantId tenant, const market::SeriesKey& series, int64_t version);
  Result<nlohmann::json> ReadActiveLocked(const std::filesystem::path& kdir, int horizon);
  Status WriteActiveLocked(const std::filesystem::path& kdir, int horizon, const nlohmann::json& j);

  const std::filesystem::path root_;
  const Clock& clock_;
  std::mutex mu_;
};

}  // namespace sinyal::models
