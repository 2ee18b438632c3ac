#include "models/db_registry.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "models/registry_key.h"
#include "models/xgb.h"
#include "store/database.h"
#include "store/soci.h"

namespace sinyal::models {
namespace {

using store::Database;
using store::Dialect;

bool IsPlatform(TenantId t) { return t == kPlatformTenant; }

// The owner condition of a tenant-scoped query (the application's own filter; RLS is the second
// layer on PostgreSQL). Ids are integers, so inlining them is safe.
std::string Owner(TenantId t) {
  return IsPlatform(t) ? std::string("tenant_id IS NULL")
                       : "tenant_id = " + std::to_string(t.value());
}

std::string NoVersion(const market::SeriesKey& series, int64_t version) {
  return "no model version " + std::to_string(version) + " for " + KeyText(series);
}

std::string ToHex(const std::string& bytes) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

Result<std::string> FromHex(const std::string& hex) {
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (hex.size() % 2) return Status::DataLoss("stored model bytes are not hex");
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = nib(hex[2 * i]), lo = nib(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return Status::DataLoss("stored model bytes are not hex");
    out[i] = static_cast<char>(hi * 16 + lo);
  }
  return out;
}

Result<ModelRecord> ParseRecord(const std::string& text, int64_t version) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    return Status::DataLoss("the record of model version " + std::to_string(version) +
                            " is corrupted");
  }
  return ModelRecord::FromJson(j);
}

}  // namespace

DbModelRegistry::DbModelRegistry(store::Database& db, const Clock& clock)
    : db_(db), clock_(clock) {}

// Runs fn in the right scope: tenant transactions for tenants (RLS), system scope for the
// platform's models.
Status DbModelRegistry::Tx(TenantId tenant, bool read,
                           const std::function<Status(soci::session&)>& fn) {
  if (IsPlatform(tenant)) return read ? db_.WithReadTx(fn) : db_.WithTx(fn);
  return read ? db_.WithTenantReadTx(tenant, fn) : db_.WithTenantTx(tenant, fn);
}

Result<ModelRecord> DbModelRegistry::Register(TenantId tenant, const Ensemble& ensemble,
                                              ModelRecord meta) {
  return RegisterWithReport(tenant, ensemble, std::move(meta), nullptr);
}

Result<ModelRecord> DbModelRegistry::RegisterWithReport(TenantId tenant, const Ensemble& ensemble,
                                                        ModelRecord meta,
                                                        const StoredReport* report) {
  SINYAL_RETURN_IF_ERROR(CheckRegistryKey(tenant, meta.symbol, meta.timeframe));
  const std::vector<std::pair<std::string, std::string>> files = BundleFiles(ensemble);

  ModelRecord r = std::move(meta);
  r.tenant = tenant;
  r.schema = ensemble.schema();
  r.xgboost_version = xgb::Version();
  r.created_at = clock_.Now();
  r.file_hashes.clear();
  for (const auto& [name, bytes] : files) r.file_hashes.push_back(Sha256Hex(bytes));
  r.content_hash = BundleHash(files);
  const bool pg = db_.dialect() == Dialect::kPostgres;

  Status last;
  for (int attempt = 0; attempt < 5; ++attempt) {
    last = Tx(tenant, false, [&](soci::session& sql) -> Status {
      long long max_version = 0;
      soci::indicator ind = soci::i_null;
      sql << "SELECT MAX(version) FROM model_versions WHERE " + Owner(tenant) +
                 " AND symbol = :s AND timeframe = :tf",
          soci::use(r.symbol, "s"), soci::use(r.timeframe, "tf"), soci::into(max_version, ind);
      r.version = (ind == soci::i_ok ? max_version : 0) + 1;
      const std::string record = r.ToJson().dump();
      long long tenant_v = tenant.value();
      soci::indicator tenant_ind = IsPlatform(tenant) ? soci::i_null : soci::i_ok;
      long long version = r.version, created = r.created_at, id = 0;
      sql << "INSERT INTO model_versions (tenant_id, symbol, timeframe, version, record, "
             "content_hash, created_at) VALUES (:t, :s, :tf, :v, :r, :h, :c) RETURNING id",
          soci::use(tenant_v, tenant_ind, "t"), soci::use(r.symbol, "s"),
          soci::use(r.timeframe, "tf"), soci::use(version, "v"), soci::use(record, "r"),
          soci::use(r.content_hash, "h"), soci::use(created, "c"), soci::into(id);
      for (size_t i = 0; i < files.size(); ++i) {
        int idx = static_cast<int>(i);
        const std::string bytes = pg ? ToHex(files[i].second) : files[i].second;
        sql << std::string(
                   "INSERT INTO model_files (model_id, tenant_id, idx, name, sha256, bytes) "
                   "VALUES (:m, :t, :i, :n, :h, ") +
                   (pg ? "decode(:b, 'hex'))" : "CAST(:b AS BLOB))"),
            soci::use(id, "m"), soci::use(tenant_v, tenant_ind, "t"), soci::use(idx, "i"),
            soci::use(files[i].first, "n"), soci::use(r.file_hashes[i], "h"), soci::use(bytes, "b");
      }
      if (report != nullptr) {
        sql << "INSERT INTO model_reports (model_id, tenant_id, report_json, report_md, "
               "reliability_svg, coverage_svg) VALUES (:m, :t, :j, :md, :r, :c)",
            soci::use(id, "m"), soci::use(tenant_v, tenant_ind, "t"), soci::use(report->json, "j"),
            soci::use(report->markdown, "md"), soci::use(report->reliability_svg, "r"),
            soci::use(report->coverage_svg, "c");
      }
      return Status::Ok();
    });
    if (last.code() != StatusCode::kAlreadyExists) break;  // a concurrent Register took the version
  }
  if (!last.ok()) return last;
  return r;
}

Result<std::vector<ModelRecord>> DbModelRegistry::List(TenantId tenant,
                                                       const market::SeriesKey& series) {
  const std::string& symbol = series.symbol;
  const std::string timeframe = KeyTimeframe(series.timeframe);
  SINYAL_RETURN_IF_ERROR(CheckRegistryKey(tenant, series));
  std::vector<ModelRecord> out;
  Status s = Tx(tenant, true, [&](soci::session& sql) -> Status {
    out.clear();
    soci::rowset<soci::row> rows =
        (sql.prepare << "SELECT version, record FROM model_versions WHERE " + Owner(tenant) +
                            " AND symbol = :s AND timeframe = :tf ORDER BY version",
         soci::use(symbol, "s"), soci::use(timeframe, "tf"));
    for (const soci::row& row : rows) {
      const int64_t v = row.get_properties(0).get_data_type() == soci::dt_integer
                            ? row.get<int>(0)
                            : row.get<long long>(0);
      SINYAL_ASSIGN_OR_RETURN(ModelRecord rec, ParseRecord(row.get<std::string>(1), v));
      out.push_back(std::move(rec));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Result<ModelRecord> DbModelRegistry::GetRecord(TenantId tenant, const market::SeriesKey& series,
                                               int64_t version) {
  const std::string& symbol = series.symbol;
  const std::string timeframe = KeyTimeframe(series.timeframe);
  SINYAL_RETURN_IF_ERROR(CheckRegistryKey(tenant, series));
  std::string text;
  Status s = Tx(tenant, true, [&](soci::session& sql) -> Status {
    long long v = version;
    sql << "SELECT record FROM model_versions WHERE " + Owner(tenant) +
               " AND symbol = :s AND timeframe = :tf AND version = :v",
        soci::use(symbol, "s"), soci::use(timeframe, "tf"), soci::use(v, "v"), soci::into(text);
    if (!sql.got_data()) return Status::NotFound(NoVersion(series, version), "version");
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return ParseRecord(text, version);
}

Result<std::vector<std::string>> DbModelRegistry::StoredFiles(TenantId tenant,
                                                              const market::SeriesKey& series,
                                                              int64_t version) {
  const std::string& symbol = series.symbol;
  const std::string timeframe = KeyTimeframe(series.timeframe);
  SINYAL_RETURN_IF_ERROR(CheckRegistryKey(tenant, series));
  const bool pg = db_.dialect() == Dialect::kPostgres;
  std::vector<std::string> files;
  Status s = Tx(tenant, true, [&](soci::session& sql) -> Status {
    files.clear();
    long long v = version, id = 0;
    sql << "SELECT id FROM model_versions WHERE " + Owner(tenant) +
               " AND symbol = :s AND timeframe = :tf AND version = :v",
        soci::use(symbol, "s"), soci::use(timeframe, "tf"), soci::use(v, "v"), soci::into(id);
    if (!sql.got_data()) return Status::NotFound(NoVersion(series, version), "version");
    soci::rowset<std::string> rows =
        (sql.prepare << std::string("SELECT ") + (pg ? "encode(bytes, 'hex')" : "bytes") +
                            " FROM model_files WHERE model_id = :m AND " + Owner(tenant) +
                            " ORDER BY idx",
         soci::use(id, "m"));
    for (const std::string& b : rows) {
      if (pg) {
        SINYAL_ASSIGN_OR_RETURN(std::string raw, FromHex(b));
        files.push_back(std::move(raw));
      } else {
        files.push_back(b);
      }
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return files;
}

Result<Ensemble> DbModelRegistry::Load(TenantId tenant, const market::SeriesKey& series,
                                       int64_t version) {
  SINYAL_ASSIGN_OR_RETURN(ModelRecord rec, GetRecord(tenant, series, version));
  SINYAL_ASSIGN_OR_RETURN(std::vector<std::string> stored, StoredFiles(tenant, series, version));
  const std::string v = std::to_string(version);
  if (rec.tenant != tenant)
    return Status::DataLoss("record tenant of model version " + v + " does not match");
  if (rec.file_hashes.size() < 4)
    return Status::DataLoss("model version " + v + " lists no members");
  const auto names = BundleFileNames(rec.file_hashes.size() - 3);
  if (stored.size() != names.size()) {
    return Status::DataLoss("model version " + v + " of " + KeyText(series) + " has " +
                            std::to_string(stored.size()) + " stored files; its record lists " +
                            std::to_string(names.size()));
  }
  std::vector<std::pair<std::string, std::string>> files;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string h = Sha256Hex(stored[i]);
    if (h != rec.file_hashes[i]) {
      return Status::DataLoss("model version " + v + " of " + KeyText(series) +
                              " is corrupted: " + names[i] + " has sha256 " + h.substr(0, 12) +
                              "..., recorded " + rec.file_hashes[i].substr(0, 12) + "...");
    }
    files.emplace_back(names[i], std::move(stored[i]));
  }
  if (BundleHash(files) != rec.content_hash) {
    return Status::DataLoss("content hash mismatch for model version " + v + " of " +
                            KeyText(series));
  }
  return EnsembleFromBundle(files, version);
}

Status DbModelRegistry::Activate(TenantId tenant, const market::SeriesKey& series,
                                 int64_t version) {
  return ActivateAs(tenant, series, version, "");
}

Status DbModelRegistry::Rollback(TenantId tenant, const market::SeriesKey& series, int horizon) {
  return RollbackAs(tenant, series, horizon, "").status();
}

namespace {

struct ActiveRow {
  bool exists = false;
  int64_t version = 0;
  std::vector<int64_t> history;
};

Result<ActiveRow> ReadActive(soci::session& sql, TenantId tenant, const market::SeriesKey& series,
                             int horizon) {
  const std::string& symbol = series.symbol;
  const std::string timeframe = KeyTimeframe(series.timeframe);
  ActiveRow a;
  long long v = 0;
  std::string history;
  int h = horizon;
  sql << "SELECT version, history FROM model_active WHERE " + Owner(tenant) +
             " AND symbol = :s AND timeframe = :tf AND horizon = :h",
      soci::use(symbol, "s"), soci::use(timeframe, "tf"), soci::use(h, "h"), soci::into(v),
      soci::into(history);
  if (!sql.got_data()) return a;
  a.exists = true;
  a.version = v;
  auto j = nlohmann::json::parse(history, nullptr, false);
  if (j.is_discarded() || !j.is_array()) {
    return Status::DataLoss("the activation history of " + KeyText(series) + " is corrupted");
  }
  for (const auto& e : j) {
    if (!e.is_number_integer()) {
      return Status::DataLoss("the activation history of " + KeyText(series) + " is corrupted");
    }
    a.history.push_back(e.get<int64_t>());
  }
  return a;
}

void WriteActive(soci::session& sql, TenantId tenant, const market::SeriesKey& series, int horizon,
                 bool exists, int64_t version, const std::vector<int64_t>& history, UnixNanos now) {
  const std::string& symbol = series.symbol;
  const std::string timeframe = KeyTimeframe(series.timeframe);
  const std::string h = nlohmann::json(history).dump();
  long long v = version, at = now;
  int hz = horizon;
  if (exists) {
    sql << "UPDATE model_active SET version = :v, history = :h, updated_at = :at WHERE " +
               Owner(tenant) + " AND symbol = :s AND timeframe = :tf AND horizon = :hz",
        soci::use(v, "v"), soci::use(h, "h"), soci::use(at, "at"), soci::use(symbol, "s"),
        soci::use(timeframe, "tf"), soci::use(hz, "hz");
  } else {
    long long t = tenant.value();
    soci::indicator ti = IsPlatform(tenant) ? soci::i_null : soci::i_ok;
    sql << "INSERT INTO model_active (tenant_id, symbol, timeframe, horizon, version, history, "
           "updated_at) VALUES (:t, :s, :tf, :hz, :v, :h, :at)",
        soci::use(t, ti, "t"), soci::use(symbol, "s"), soci::use(timeframe, "tf"),
        soci::use(hz, "hz"), soci::use(v, "v"), soci::use(h, "h"), soci::use(at, "at");
  }
}

void AppendAudit(soci::session& sql, TenantId tenant, const market::SeriesKey& series, int horizon,
                 const std::string& action, std::optional<int64_t> from, int64_t to,
                 const std::string& actor, UnixNanos now) {
  const std::string& symbol = series.symbol;
  const std::string timeframe = KeyTimeframe(series.timeframe);
  long long t = tenant.value(), f = from.value_or(0), v = to, at = now;
  int hz = horizon;
  soci::indicator ti = IsPlatform(tenant) ? soci::i_null : soci::i_ok;
  soci::indicator fi = from ? soci::i_ok : soci::i_null;
  sql << "INSERT INTO model_audit (tenant_id, symbol, timeframe, horizon, action, from_version, "
         "to_version, actor, at) VALUES (:t, :s, :tf, :hz, :a, :f, :v, :actor, :at)",
      soci::use(t, ti, "t"), soci::use(symbol, "s"), soci::use(timeframe, "tf"),
      soci::use(hz, "hz"), soci::use(action, "a"), soci::use(f, fi, "f"), soci::use(v, "v"),
      soci::use(actor, "actor"), soci::use(at, "at");
}

}  // namespace

Status DbModelRegistry::ActivateAs(TenantId tenant, const market::SeriesKey& series,
                                   int64_t version, const std::string& actor) {
  // Verify first: a model that does not load never becomes active. Versions are immutable, so
  // verifying outside the switching transaction is enough.
  SINYAL_ASSIGN_OR_RETURN(Ensemble ens, Load(tenant, series, version));
  const int horizon = ens.schema().horizon;
  SINYAL_RETURN_IF_ERROR(Tx(tenant, false, [&](soci::session& sql) -> Status {
    SINYAL_ASSIGN_OR_RETURN(ActiveRow a, ReadActive(sql, tenant, series, horizon));
    if (a.exists && a.version == version) return Status::Ok();
    std::optional<int64_t> from;
    if (a.exists) {
      from = a.version;
      a.history.push_back(a.version);
    }
    const UnixNanos now = clock_.Now();
    WriteActive(sql, tenant, series, horizon, a.exists, version, a.history, now);
    AppendAudit(sql, tenant, series, horizon, "activate", from, version, actor, now);
    return Status::Ok();
  }));
  if (on_activated_) on_activated_(tenant, series, version);
  return Status::Ok();
}

void DbModelRegistry::SetActivationListener(ActivationListener listener) {
  on_activated_ = std::move(listener);
}

Result<int64_t> DbModelRegistry::RollbackAs(TenantId tenant, const market::SeriesKey& series,
                                            int horizon, const std::string& actor) {
  SINYAL_RETURN_IF_ERROR(CheckRegistryKey(tenant, series));
  // Find the target, verify it, then switch only if nothing changed meanwhile.
  ActiveRow seen;
  SINYAL_RETURN_IF_ERROR(Tx(tenant, true, [&](soci::session& sql) -> Status {
    SINYAL_ASSIGN_OR_RETURN(seen, ReadActive(sql, tenant, series, horizon));
    return Status::Ok();
  }));
  if (!seen.exists || seen.history.empty()) {
    return Status::FailedPrecondition("no earlier active version to roll back to for " +
                                          KeyText(series) + " at horizon " +
                                          std::to_string(horizon),
                                      "version");
  }
  const int64_t target = seen.history.back();
  SINYAL_RETURN_IF_ERROR(Load(tenant, series, target).status());
  Status s = Tx(tenant, false, [&](soci::session& sql) -> Status {
    SINYAL_ASSIGN_OR_RETURN(ActiveRow a, ReadActive(sql, tenant, series, horizon));
    if (!a.exists || a.version != seen.version || a.history != seen.history) {
      return Status::Conflict(
          "the active model of " + KeyText(series) + " changed during the rollback; try again",
          "version");
    }
    a.history.pop_back();
    const UnixNanos now = clock_.Now();
    WriteActive(sql, tenant, series, horizon, true, target, a.history, now);
    AppendAudit(sql, tenant, series, horizon, "rollback", a.version, target, actor, now);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (on_activated_) on_activated_(tenant, series, target);
  return target;
}

Result<int64_t> DbModelRegistry::ActiveVersion(TenantId tenant, const market::SeriesKey& series,
                                               int horizon) {
  SINYAL_RETURN_IF_ERROR(CheckRegistryKey(tenant, series));
  ActiveRow a;
  SINYAL_RETURN_IF_ERROR(Tx(tenant, true, [&](soci::session& sql) -> Status {
    SINYAL_ASSIGN_OR_RETURN(a, ReadActive(sql, tenant, series, horizon));
    return Status::Ok();
  }));
  if (!a.exists) {
    return Status::NotFound(
        "no active model for " + KeyText(series) + " at horizon " + std::to_string(horizon),
        "symbol");
  }
  return a.version;
}

Result<std::vector<int>> DbModelRegistry::ActiveHorizons(TenantId tenant,
                                                         const market::SeriesKey& series) {
  const std::string& symbol = series.symbol;
  const std::string timeframe = KeyTimeframe(series.timeframe);
  SINYAL_RETURN_IF_ERROR(CheckRegistryKey(tenant, series));
  std::vector<int> out;
  SINYAL_RETURN_IF_ERROR(Tx(tenant, true, [&](soci::session& sql) -> Status {
    int h = 0;
    soci::statement st =
        (sql.prepare << "SELECT horizon FROM model_active WHERE " + Owner(tenant) +
                            " AND symbol = :s AND timeframe = :tf ORDER BY horizon",
         soci::use(symbol, "s"), soci::use(timeframe, "tf"), soci::into(h));
    st.execute();
    while (st.fetch()) out.push_back(h);
    return Status::Ok();
  }));
  return out;
}

Result<StoredReport> DbModelRegistry::GetReport(TenantId tenant, const market::SeriesKey& series,
                                                int64_t version) {
  const std::string& symbol = series.symbol;
  const std::string timeframe = KeyTimeframe(series.timeframe);
  SINYAL_RETURN_IF_ERROR(CheckRegistryKey(tenant, series));
  StoredReport r;
  Status s = Tx(tenant, true, [&](soci::session& sql) -> Status {
    long long v = version, id = 0;
    sql << "SELECT id FROM model_versions WHERE " + Owner(tenant) +
               " AND symbol = :s AND timeframe = :tf AND version = :v",
        soci::use(symbol, "s"), soci::use(timeframe, "tf"), soci::use(v, "v"), soci::into(id);
    if (!sql.got_data()) return Status::NotFound(NoVersion(series, version), "version");
    sql << "SELECT report_json, report_md, reliability_svg, coverage_svg FROM model_reports "
           "WHERE model_id = :m AND " +
               Owner(tenant),
        soci::use(id, "m"), soci::into(r.json), soci::into(r.markdown),
        soci::into(r.reliability_svg), soci::into(r.coverage_svg);
    if (!sql.got_data()) {
      return Status::NotFound("model version " + std::to_string(version) + " of " + symbol + " " +
                                  timeframe + " has no evaluation report",
                              "version");
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return r;
}

Result<std::vector<ActivationEvent>> DbModelRegistry::Audit(TenantId tenant,
                                                            const market::SeriesKey& series) {
  const std::string& symbol = series.symbol;
  const std::string timeframe = KeyTimeframe(series.timeframe);
  SINYAL_RETURN_IF_ERROR(CheckRegistryKey(tenant, series));
  std::vector<ActivationEvent> out;
  Status s = Tx(tenant, true, [&](soci::session& sql) -> Status {
    out.clear();
    soci::rowset<soci::row> rows =
        (sql.prepare
             << "SELECT action, from_version, to_version, actor, at, horizon FROM model_audit "
                "WHERE " +
                    Owner(tenant) + " AND symbol = :s AND timeframe = :tf ORDER BY id",
         soci::use(symbol, "s"), soci::use(timeframe, "tf"));
    auto i64 = [](const soci::row& row, size_t i) -> int64_t {
      return row.get_properties(i).get_data_type() == soci::dt_integer ? row.get<int>(i)
                                                                       : row.get<long long>(i);
    };
    for (const soci::row& row : rows) {
      ActivationEvent e;
      e.action = row.get<std::string>(0);
      if (row.get_indicator(1) != soci::i_null) e.from_version = i64(row, 1);
      e.to_version = i64(row, 2);
      e.actor = row.get<std::string>(3);
      e.at = i64(row, 4);
      if (row.get_indicator(5) != soci::i_null) e.horizon = static_cast<int>(i64(row, 5));
      out.push_back(std::move(e));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Status DbModelRegistry::TEST_OverwriteFile(TenantId tenant, const market::SeriesKey& series,
                                           int64_t version, int index, const std::string& bytes) {
  const std::string& symbol = series.symbol;
  const std::string timeframe = KeyTimeframe(series.timeframe);
  const bool pg = db_.dialect() == Dialect::kPostgres;
  return Tx(tenant, false, [&](soci::session& sql) -> Status {
    long long v = version, id = 0;
    sql << "SELECT id FROM model_versions WHERE " + Owner(tenant) +
               " AND symbol = :s AND timeframe = :tf AND version = :v",
        soci::use(symbol, "s"), soci::use(timeframe, "tf"), soci::use(v, "v"), soci::into(id);
    if (!sql.got_data()) return Status::NotFound(NoVersion(series, version), "version");
    const std::string b = pg ? ToHex(bytes) : bytes;
    sql << std::string("UPDATE model_files SET bytes = ") +
               (pg ? "decode(:b, 'hex')" : "CAST(:b AS BLOB)") +
               " WHERE model_id = :m AND idx = :i",
        soci::use(b, "b"), soci::use(id, "m"), soci::use(index, "i");
    return Status::Ok();
  });
}

}  // namespace sinyal::models
