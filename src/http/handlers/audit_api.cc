// GET /api/v1/audit: the security audit trail (store/security_audit.h). A tenant's owners read
// their organisation's events (users by token, API keys with scope admin); operators read every
// organisation's (optionally one: tenant_id). Newest first, paged with `before`.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>

#include "core/time.h"
#include "http/api.h"
#include "http/query.h"
#include "store/security_audit.h"

namespace sinyal::http {
namespace {

using nlohmann::json;

Result<Response> ListAudit(store::Database& db, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {"limit", "before", "kind", "tenant_id"}));
  const accounts::Principal& p = *ctx.principal;
  store::SecurityEventQuery q;
  SINYAL_ASSIGN_OR_RETURN(int64_t limit, IntQueryParam(ctx, "limit", 100, 1, 500));
  q.limit = static_cast<size_t>(limit);
  if (QueryParam(ctx, "before")) {
    SINYAL_ASSIGN_OR_RETURN(int64_t before, IntQueryParam(ctx, "before", 0, 1, INT64_MAX));
    q.before_id = before;
  }
  if (auto kind = QueryParam(ctx, "kind")) {
    if (std::find(store::kAuditKinds.begin(), store::kAuditKinds.end(), *kind) ==
        store::kAuditKinds.end()) {
      std::string known;
      for (std::string_view k : store::kAuditKinds)
        known += (known.empty() ? "" : ", ") + std::string(k);
      return Status::InvalidArgument("unknown kind (known: " + known + ")", "kind");
    }
    q.kind = *kind;
  }
  if (p.role == accounts::Role::kOperator) {
    if (QueryParam(ctx, "tenant_id")) {
      SINYAL_ASSIGN_OR_RETURN(int64_t t, IntQueryParam(ctx, "tenant_id", 0, 1, INT64_MAX));
      q.tenant = TenantId(t);
    }
  } else {
    if (p.role != accounts::Role::kOwner) {
      return Status::PermissionDenied("only the organisation's owners read its audit trail",
                                      "role");
    }
    if (p.api_key && !p.HasScope(accounts::kScopeAdmin)) {
      return Status::PermissionDenied("API key lacks scope 'admin'", "scope");
    }
    if (QueryParam(ctx, "tenant_id")) {
      return Status::InvalidArgument("only operators choose the organisation", "tenant_id");
    }
    q.tenant = p.tenant;
  }
  SINYAL_ASSIGN_OR_RETURN(std::vector<store::SecurityEvent> events,
                          store::ListSecurityEvents(db, q));
  json items = json::array();
  for (const store::SecurityEvent& e : events) {
    json data = json::parse(e.data, nullptr, false);
    items.push_back({{"id", e.id},
                     {"tenant_id", e.tenant.value()},
                     {"kind", e.kind},
                     {"actor", e.actor},
                     {"subject", e.subject},
                     {"data", data.is_discarded() ? json::object() : data},
                     {"at", FormatIso8601(e.at)}});
  }
  json out = {{"events", items}, {"next_before", nullptr}};
  if (events.size() == q.limit) out["next_before"] = events.back().id;
  return Response::Json(200, out);
}

}  // namespace

void AddAuditRoutes(RouteTable& routes, store::Database& db) {
  routes.Add({.method = "GET",
              .pattern = "/api/v1/audit",
              .auth = AuthMode::kAnyOrOperator,
              .blocking = true,
              .required_scope = "read",
              .handler = [&db](Context& ctx) { return ListAudit(db, ctx); }});
}

}  // namespace sinyal::http
