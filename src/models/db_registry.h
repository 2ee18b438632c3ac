// DbModelRegistry: the ModelRegistry of `sinyal serve` and `sinyal worker`, on store::Database
// (SQLite or PostgreSQL; migration 5 "models").
//
// Storage. A version is one row of model_versions (tenant, symbol, timeframe, version, the
// ModelRecord as JSON, content hash) plus one row per stored file in model_files: the members as
// XGBoost UBJ, then members.json, calibration.json and schema.json, each with its SHA-256, as
// BLOB (SQLite) / BYTEA (PostgreSQL). The files and the content hash are exactly those of
// FileModelRegistry, so the same model has the same content hash in both registries. An optional
// evaluation report (JSON, Markdown, two SVGs) is stored with the version (model_reports).
//
// Active pointer. model_active holds the active version per (tenant, symbol, timeframe, horizon)
// and the horizon's stack of previously active versions (Rollback pops it; migration 50).
// Activate takes the version's own horizon (ModelSchema::horizon). Every Activate/Rollback appends a row
// to model_audit (who, from, to, when); that table rejects UPDATE on both backends.
//
// Verification. Load checks each file's SHA-256 and the content hash before building the
// ensemble; a mismatch is DataLoss naming the version and file. Activate and Rollback load the
// target first, so a corrupted model never becomes active and the active pointer is unchanged.
//
// Tenancy. Tenant models run in tenant scope (PostgreSQL RLS) and every query also filters on
// tenant_id; another tenant's version is NotFound. Platform defaults (kPlatformTenant, stored as
// tenant_id NULL) are written in system scope by operators/CLI; tenants can read them (RLS
// allows platform rows) but reach them only through ResolveActive's explicit fallback.
//
// Thread safety: thread-safe (all state is in the database). Concurrent Register calls for the
// same key get distinct versions (unique index + retry).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "models/registry.h"

namespace soci {
class session;
}
namespace sinyal::store {
class Database;
}

namespace sinyal::models {

// The evaluation report stored with a version (rendered by models/report.h).
struct StoredReport {
  std::string json;
  std::string markdown;
  std::string reliability_svg;
  std::string coverage_svg;
};

// One row of the activation audit.
struct ActivationEvent {
  std::string action;                   // "activate" or "rollback"
  std::optional<int64_t> from_version;  // nullopt when nothing was active
  int64_t to_version = 0;
  std::string actor;  // e.g. "user:12", "api_key:3", "cli", "" (unknown)
  UnixNanos at = 0;
  std::optional<int> horizon;  // nullopt for events recorded before migration 50
};

class DbModelRegistry final : public ModelRegistry {
 public:
  // REQUIRES: db and clock outlive the registry; db is migrated.
  DbModelRegistry(store::Database& db, const Clock& clock);

  Result<ModelRecord> Register(TenantId tenant, const Ensemble& ensemble,
                               ModelRecord meta) override;
  // Register with an evaluation report stored in the same transaction.
  [[nodiscard]] Result<ModelRecord> RegisterWithReport(TenantId tenant, const Ensemble& ensemble,
                                                       ModelRecord meta,
                                                       const StoredReport* report);
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

  // Activate / Rollback recording `actor` in the audit. Rollback returns the version now active.
  [[nodiscard]] Status ActivateAs(TenantId tenant, const market::SeriesKey& series, int64_t version,
                                  const std::string& actor);
  [[nodiscard]] Result<int64_t> RollbackAs(TenantId tenant, const market::SeriesKey& series,
                                           int horizon, const std::string& actor);

  // Called after a version became active (Activate/ActivateAs, and the target of a Rollback),
  // outside any transaction, on the activating thread; also when the version was already active.
  // app/ wires the interval calibration store, so a version's calibration is fitted when it is
  // activated, not on a signal request. REQUIRES: set before the registry is shared.
  using ActivationListener =
      std::function<void(TenantId tenant, const market::SeriesKey& series, int64_t version)>;
  void SetActivationListener(ActivationListener listener);

  // The stored report of a version. NotFound("version") when the version or its report is absent.
  [[nodiscard]] Result<StoredReport> GetReport(TenantId tenant, const market::SeriesKey& series,
                                               int64_t version);
  // The audit of the key, oldest first.
  [[nodiscard]] Result<std::vector<ActivationEvent>> Audit(TenantId tenant,
                                                           const market::SeriesKey& series);
  // The stored bytes of each file of a version, in order (member_0.ubj, ..., schema.json).
  [[nodiscard]] Result<std::vector<std::string>> StoredFiles(TenantId tenant,
                                                             const market::SeriesKey& series,
                                                             int64_t version);

  // Test hook: overwrites stored file `index` of a version (to corrupt it in tests).
  [[nodiscard]] Status TEST_OverwriteFile(TenantId tenant, const market::SeriesKey& series,
                                          int64_t version, int index, const std::string& bytes);

 private:
  Status Tx(TenantId tenant, bool read, const std::function<Status(soci::session&)>& fn);

  store::Database& db_;
  const Clock& clock_;
  ActivationListener on_activated_;
};

}  // namespace sinyal::models
