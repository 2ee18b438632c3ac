// FeatureSetStore: tenants' own feature-set definitions (named, versioned), stored per tenant.
// The store keeps the configuration as validated JSON text plus its hash; validating and hashing
// are the features library's (features/feature_set.h), done by the caller before Create. The
// platform's default sets live in code and are not stored here.
//
// Every call runs in Database::WithTenantTx and filters on tenant_id (RLS on PostgreSQL).
// Thread safety: thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"
#include "core/status.h"

namespace sinyal::store {

class Database;

struct StoredFeatureSet {
  int64_t id = 0;
  TenantId tenant;
  std::string name;
  int version = 1;
  std::string config_json;
  std::string config_hash;
  UnixNanos created_at = 0;
};

inline constexpr size_t kMaxFeatureSetsPerTenant = 100;

class FeatureSetStore {
 public:
  // REQUIRES: db and clock outlive the store; db is migrated.
  FeatureSetStore(Database& db, Clock& clock);

  // AlreadyExists("version") when the tenant already has this name and version;
  // FailedPrecondition when it has kMaxFeatureSetsPerTenant sets.
  [[nodiscard]] Result<StoredFeatureSet> Create(TenantId tenant, const std::string& name,
                                                int version, const std::string& config_json,
                                                const std::string& config_hash);
  // The tenant's sets, by name then version.
  [[nodiscard]] Result<std::vector<StoredFeatureSet>> List(TenantId tenant);
  // One set; without a version the highest. NotFound("set").
  [[nodiscard]] Result<StoredFeatureSet> Get(TenantId tenant, const std::string& name,
                                             std::optional<int> version);

 private:
  Database& db_;
  Clock& clock_;
};

}  // namespace sinyal::store
