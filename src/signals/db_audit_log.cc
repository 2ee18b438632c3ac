#include "signals/db_audit_log.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "models/registry.h"
#include "models/registry_key.h"
#include "store/database.h"
#include "store/soci.h"
#include "store/soci_row.h"

namespace sinyal::signals {
namespace {

using nlohmann::json;

bool IsPlatform(TenantId t) { return t == models::kPlatformTenant; }

// The application's own owner filter (RLS is the second layer on PostgreSQL). Ids are integers.
std::string Owner(TenantId t) {
  return IsPlatform(t) ? std::string("tenant_id IS NULL")
                       : "tenant_id = " + std::to_string(t.value());
}

Result<AuditAction> ParseAction(const std::string& s) {
  for (AuditAction a :
       {AuditAction::kDriftCheck, AuditAction::kChallengerTrained,
        AuditAction::kChallengerEvaluated, AuditAction::kPromoted, AuditAction::kRejected,
        AuditAction::kPostPromotionCheck, AuditAction::kRolledBack}) {
    if (AuditActionName(a) == s) return a;
  }
  return Status::DataLoss("unknown retraining audit action '" + s + "'");
}

}  // namespace

DbAuditLog::DbAuditLog(store::Database& db) : db_(db) {}

Result<int64_t> DbAuditLog::Append(AuditRecord r) {
  SINYAL_RETURN_IF_ERROR(models::CheckRegistryKey(r.tenant, r.symbol, r.timeframe));
  json figures = json::object();
  for (const auto& [k, v] : r.figures) figures[k] = std::isfinite(v) ? json(v) : json(nullptr);
  const std::string reasons_text = json(r.reasons).dump();
  const std::string figures_text = figures.dump();
  const std::string action(AuditActionName(r.action));
  auto fn = [&](soci::session& sql) -> Status {
    long long max_seq = 0;
    soci::indicator ind = soci::i_null;
    sql << "SELECT MAX(seq) FROM retraining_audit WHERE " + Owner(r.tenant) +
               " AND symbol = :s AND timeframe = :tf",
        soci::use(r.symbol, "s"), soci::use(r.timeframe, "tf"), soci::into(max_seq, ind);
    r.seq = (ind == soci::i_ok ? max_seq : 0) + 1;
    long long t = r.tenant.value(), seq = r.seq, at = r.time, champ = r.champion_version,
              chall = r.challenger_version;
    int decision = r.decision ? 1 : 0;
    soci::indicator ti = IsPlatform(r.tenant) ? soci::i_null : soci::i_ok;
    sql << "INSERT INTO retraining_audit (tenant_id, symbol, timeframe, seq, at, action, "
           "champion_version, challenger_version, decision, reasons, figures) VALUES "
           "(:t, :s, :tf, :seq, :at, :a, :cv, :xv, :d, :r, :f)",
        soci::use(t, ti, "t"), soci::use(r.symbol, "s"), soci::use(r.timeframe, "tf"),
        soci::use(seq, "seq"), soci::use(at, "at"), soci::use(action, "a"), soci::use(champ, "cv"),
        soci::use(chall, "xv"), soci::use(decision, "d"), soci::use(reasons_text, "r"),
        soci::use(figures_text, "f");
    return Status::Ok();
  };
  Status last;
  for (int attempt = 0; attempt < 5; ++attempt) {
    last = IsPlatform(r.tenant) ? db_.WithTx(fn) : db_.WithTenantTx(r.tenant, fn);
    if (last.code() != StatusCode::kAlreadyExists) break;  // a concurrent Append took the seq
  }
  if (!last.ok()) return last;
  return r.seq;
}

Result<std::vector<AuditRecord>> DbAuditLog::List(TenantId tenant,
                                                  const market::SeriesKey& series) const {
  return Query(tenant, series, 0, 0, /*newest_first=*/false);
}

Result<std::vector<AuditRecord>> DbAuditLog::Page(TenantId tenant, const market::SeriesKey& series,
                                                  int64_t before_seq, size_t limit) const {
  if (before_seq < 0) return Status::InvalidArgument("before must be a positive seq", "before");
  if (limit == 0 || limit > 1000)
    return Status::InvalidArgument("limit must be in [1, 1000]", "limit");
  return Query(tenant, series, before_seq, limit, /*newest_first=*/true);
}

Result<std::vector<AuditRecord>> DbAuditLog::Query(TenantId tenant, const market::SeriesKey& series,
                                                   int64_t before_seq, size_t limit,
                                                   bool newest_first) const {
  const std::string& symbol = series.symbol;
  const std::string timeframe(market::TimeframeName(series.timeframe));
  SINYAL_RETURN_IF_ERROR(models::CheckRegistryKey(tenant, series));
  std::vector<AuditRecord> out;
  auto fn = [&](soci::session& sql) -> Status {
    out.clear();
    std::string q =
        "SELECT seq, at, action, champion_version, challenger_version, decision, reasons, figures "
        "FROM retraining_audit WHERE " +
        Owner(tenant) + " AND symbol = :s AND timeframe = :tf";
    if (before_seq > 0) q += " AND seq < " + std::to_string(before_seq);
    q += newest_first ? " ORDER BY seq DESC" : " ORDER BY seq";
    if (limit > 0) q += " LIMIT " + std::to_string(limit);
    soci::rowset<soci::row> rows =
        (sql.prepare << q, soci::use(symbol, "s"), soci::use(timeframe, "tf"));
    for (const soci::row& row : rows) {
      AuditRecord r;
      r.tenant = tenant;
      r.symbol = symbol;
      r.timeframe = timeframe;
      r.seq = store::RowInt64(row, 0);
      r.time = store::RowInt64(row, 1);
      SINYAL_ASSIGN_OR_RETURN(r.action, ParseAction(row.get<std::string>(2)));
      r.champion_version = store::RowInt64(row, 3);
      r.challenger_version = store::RowInt64(row, 4);
      r.decision = store::RowInt64(row, 5) != 0;
      auto reasons = json::parse(row.get<std::string>(6), nullptr, false);
      auto figures = json::parse(row.get<std::string>(7), nullptr, false);
      if (!reasons.is_array() || !figures.is_object()) {
        return Status::DataLoss("retraining audit record " + std::to_string(r.seq) + " of " +
                                symbol + " " + timeframe + " is unreadable");
      }
      for (const auto& s : reasons)
        r.reasons.push_back(s.is_string() ? s.get<std::string>() : s.dump());
      for (const auto& [k, v] : figures.items()) {
        r.figures[k] = v.is_number() ? v.get<double>() : std::numeric_limits<double>::quiet_NaN();
      }
      out.push_back(std::move(r));
    }
    return Status::Ok();
  };
  Status s = IsPlatform(tenant) ? db_.WithReadTx(fn) : db_.WithTenantReadTx(tenant, fn);
  if (!s.ok()) return s;
  return out;
}

}  // namespace sinyal::signals
