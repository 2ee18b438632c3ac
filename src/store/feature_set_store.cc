#include "store/feature_set_store.h"

#include "store/database.h"
#include "store/soci.h"  // first: configures SOCI

namespace sinyal::store {
namespace {

constexpr const char* kColumns =
    "SELECT id, name, version, config, config_hash, created_at FROM feature_sets WHERE tenant_id "
    "= ";

Status ReadRows(soci::session& sql, const std::string& query, TenantId tenant,
                std::vector<StoredFeatureSet>* out) {
  constexpr size_t kChunk = 128;
  std::vector<long long> ids(kChunk), created(kChunk);
  std::vector<int> versions(kChunk);
  std::vector<std::string> names(kChunk), configs(kChunk), hashes(kChunk);
  soci::statement st =
      (sql.prepare << query, soci::into(ids), soci::into(names), soci::into(versions),
       soci::into(configs), soci::into(hashes), soci::into(created));
  st.execute();
  while (st.fetch()) {
    for (size_t i = 0; i < ids.size(); ++i) {
      out->push_back({ids[i], tenant, names[i], versions[i], configs[i], hashes[i], created[i]});
    }
    ids.resize(kChunk);
    created.resize(kChunk);
    versions.resize(kChunk);
    names.resize(kChunk);
    configs.resize(kChunk);
    hashes.resize(kChunk);
  }
  return Status::Ok();
}

}  // namespace

FeatureSetStore::FeatureSetStore(Database& db, Clock& clock) : db_(db), clock_(clock) {}

Result<StoredFeatureSet> FeatureSetStore::Create(TenantId tenant, const std::string& name,
                                                 int version, const std::string& config_json,
                                                 const std::string& config_hash) {
  StoredFeatureSet out{0, tenant, name, version, config_json, config_hash, clock_.Now()};
  Status st = db_.WithTenantTx(tenant, [&](soci::session& sql) -> Status {
    const long long t = tenant.value();
    long long count = 0, existing = 0;
    sql << "SELECT COUNT(*) FROM feature_sets WHERE tenant_id = :t", soci::use(t),
        soci::into(count);
    if (count >= static_cast<long long>(kMaxFeatureSetsPerTenant)) {
      return Status::FailedPrecondition("a tenant may define at most " +
                                        std::to_string(kMaxFeatureSetsPerTenant) + " feature sets");
    }
    sql << "SELECT COUNT(*) FROM feature_sets WHERE tenant_id = :t AND name = :n AND version = :v",
        soci::use(t, "t"), soci::use(name, "n"), soci::use(version, "v"), soci::into(existing);
    if (existing > 0) {
      return Status::AlreadyExists("feature set " + name + " version " + std::to_string(version) +
                                       " already exists; versions are immutable, use a higher one",
                                   "version");
    }
    long long id = 0, created = out.created_at;
    sql << "INSERT INTO feature_sets(tenant_id, name, version, config, config_hash, created_at) "
           "VALUES (:t, :n, :v, :c, :h, :at) RETURNING id",
        soci::use(t, "t"), soci::use(name, "n"), soci::use(version, "v"),
        soci::use(config_json, "c"), soci::use(config_hash, "h"), soci::use(created, "at"),
        soci::into(id);
    out.id = id;
    return Status::Ok();
  });
  if (st.code() == StatusCode::kAlreadyExists && st.field().empty()) return st.WithField("version");
  if (!st.ok()) return st;
  return out;
}

Result<std::vector<StoredFeatureSet>> FeatureSetStore::List(TenantId tenant) {
  std::vector<StoredFeatureSet> out;
  SINYAL_RETURN_IF_ERROR(db_.WithTenantTx(tenant, [&](soci::session& sql) {
    out.clear();
    return ReadRows(sql, kColumns + std::to_string(tenant.value()) + " ORDER BY name, version",
                    tenant, &out);
  }));
  return out;
}

Result<StoredFeatureSet> FeatureSetStore::Get(TenantId tenant, const std::string& name,
                                              std::optional<int> version) {
  std::vector<StoredFeatureSet> rows;
  SINYAL_RETURN_IF_ERROR(db_.WithTenantTx(tenant, [&](soci::session& sql) {
    rows.clear();
    std::string q = kColumns + std::to_string(tenant.value()) + " AND name = :n";
    if (version) q += " AND version = " + std::to_string(*version);
    q += " ORDER BY version DESC LIMIT 1";
    long long id = 0, created = 0;
    int v = 0;
    std::string n, config, hash;
    sql << q, soci::use(name, "n"), soci::into(id), soci::into(n), soci::into(v),
        soci::into(config), soci::into(hash), soci::into(created);
    if (sql.got_data()) rows.push_back({id, tenant, n, v, config, hash, created});
    return Status::Ok();
  }));
  if (rows.empty()) {
    return Status::NotFound(
        "no feature set " + name + (version ? " version " + std::to_string(*version) : ""), "set");
  }
  return rows.front();
}

}  // namespace sinyal::store
