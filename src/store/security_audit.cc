#include "store/security_audit.h"

#include <algorithm>
#include <cstdint>

#include "store/database.h"
#include "store/soci.h"  // first: configures SOCI

namespace sinyal::store {

void AppendSecurityEvent(soci::session& tx, TenantId tenant, const SecurityEvent& event,
                         UnixNanos now) {
  long long t = tenant.value(), at = now;
  const std::string kind(event.kind), actor(event.actor), subject(event.subject),
      data(event.data.empty() ? "{}" : event.data);
  tx << "INSERT INTO security_audit (tenant_id, kind, actor, subject, data, at) "
        "VALUES (:t, :k, :a, :s, :d, :at)",
      soci::use(t, "t"), soci::use(kind, "k"), soci::use(actor, "a"), soci::use(subject, "s"),
      soci::use(data, "d"), soci::use(at, "at");
}

Result<std::vector<SecurityEvent>> ListSecurityEvents(Database& db, const SecurityEventQuery& q) {
  const size_t limit = std::clamp<size_t>(q.limit, 1, 500);
  std::vector<SecurityEvent> out;
  auto read = [&](soci::session& sql) -> Status {
    out.clear();
    // Every filter is bound (a sentinel when unset), so the statement text is one.
    const long long tenant = q.tenant ? q.tenant->value() : 0;
    const long long before = q.before_id.value_or(INT64_MAX);
    const long long n = static_cast<long long>(limit);
    long long id = 0, tenant_id = 0, at = 0;
    std::string kind, actor, subject, data;
    soci::statement st =
        (sql.prepare
             << "SELECT id, tenant_id, kind, actor, subject, data, at FROM security_audit "
                "WHERE (:t0 = 0 OR tenant_id = :t1) AND id < :b AND (:k0 = '' OR kind = :k1) "
                "ORDER BY id DESC LIMIT :n",
         soci::use(tenant, "t0"), soci::use(tenant, "t1"), soci::use(before, "b"),
         soci::use(q.kind, "k0"), soci::use(q.kind, "k1"), soci::use(n, "n"), soci::into(id),
         soci::into(tenant_id), soci::into(kind), soci::into(actor), soci::into(subject),
         soci::into(data), soci::into(at));
    st.execute();
    while (st.fetch()) {
      out.push_back({.id = id,
                     .kind = kind,
                     .actor = actor,
                     .subject = subject,
                     .data = data,
                     .at = at,
                     .tenant = TenantId(tenant_id)});
    }
    return Status::Ok();
  };
  if (q.tenant) {
    SINYAL_RETURN_IF_ERROR(db.WithTenantReadTx(*q.tenant, read));
  } else {
    SINYAL_RETURN_IF_ERROR(db.WithReadTx(read));
  }
  return out;
}

}  // namespace sinyal::store
