// Retraining routes: the audit trail of a series' retraining decisions and "check now".
// Thin handlers over signals::RetrainingService and signals::DbAuditLog; every call is scoped to
// the caller's tenant (the platform's trail is readable with ?owner=platform, since tenants
// without a model of their own are served the platform's).
#include <nlohmann/json.hpp>

#include "http/api.h"
#include "http/query.h"
#include "market/edge_parse.h"
#include "models/registry_key.h"
#include "models/service.h"
#include "signals/db_audit_log.h"
#include "signals/retraining_job.h"

namespace sinyal::http {

using nlohmann::json;

namespace {

using Key = market::SeriesKey;

// A malformed symbol/timeframe in a path names no model: 404.
Result<Key> PathKey(const Context& ctx) {
  auto param = [&](const char* n) {
    return ctx.request.params.count(n) ? ctx.request.params.at(n) : std::string();
  };
  auto k = market::ParseSeriesKey(param("symbol"), param("timeframe"));
  if (!k.ok()) return Status::NotFound("no such model: " + k.error().message(), k.error().field());
  return k;
}

Result<int64_t> IntParam(const Context& ctx, std::string_view name, int64_t def, int64_t lo,
                         int64_t hi) {
  auto v = QueryParam(ctx, name);
  if (!v) return def;
  const std::string n(name);
  if (v->empty() || v->size() > 12 || v->find_first_not_of("0123456789") != std::string::npos) {
    return Status::InvalidArgument(
        n + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]", n);
  }
  const int64_t x = std::stoll(*v);
  if (x < lo || x > hi) {
    return Status::InvalidArgument(
        n + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]", n);
  }
  return x;
}

}  // namespace

void AddRetrainingRoutes(RouteTable& routes, signals::RetrainingService& service,
                         signals::DbAuditLog& audit) {
  signals::RetrainingService* svc = &service;
  signals::DbAuditLog* log = &audit;

  routes.Add(
      {.method = "GET",
       .pattern = "/api/v1/models/:symbol/:timeframe/retraining",
       .auth = AuthMode::kAny,
       .required_scope = "read",
       .handler = [log](Context& ctx) -> Result<Response> {
         SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {"limit", "before", "owner"}));
         SINYAL_ASSIGN_OR_RETURN(Key k, PathKey(ctx));
         SINYAL_ASSIGN_OR_RETURN(int64_t limit, IntParam(ctx, "limit", 100, 1, 1000));
         SINYAL_ASSIGN_OR_RETURN(int64_t before,
                                 IntParam(ctx, "before", 0, 1, INT64_C(999999999999)));
         const std::string owner = QueryParam(ctx, "owner").value_or("tenant");
         if (owner != "tenant" && owner != "platform") {
           return Status::InvalidArgument("owner must be 'tenant' or 'platform'", "owner");
         }
         const TenantId t = owner == "platform" ? models::kPlatformTenant : ctx.principal->tenant;
         SINYAL_ASSIGN_OR_RETURN(std::vector<signals::AuditRecord> page,
                                 log->Page(t, k, before, static_cast<size_t>(limit)));
         json records = json::array();
         for (const auto& r : page) {
           json j = r.ToJson();
           j.erase("tenant");
           j.erase("symbol");
           j.erase("timeframe");
           records.push_back(std::move(j));
         }
         json next = nullptr;
         if (!page.empty() && page.size() == static_cast<size_t>(limit) && page.back().seq > 1) {
           next = page.back().seq;
         }
         return Response::Json(200, {{"symbol", k.symbol},
                                     {"timeframe", models::KeyTimeframe(k.timeframe)},
                                     {"owner", owner},
                                     {"records", std::move(records)},
                                     {"next_before", next}});
       }});

  routes.Add(
      {.method = "POST",
       .pattern = "/api/v1/models/:symbol/:timeframe/retraining/check",
       .auth = AuthMode::kAny,
       .required_scope = "admin",
       .handler = [svc](Context& ctx) -> Result<Response> {
         const accounts::Role role = ctx.principal->role;
         if (role != accounts::Role::kOwner && role != accounts::Role::kAdmin) {
           return Status::PermissionDenied("only owners and admins may queue retraining checks");
         }
         SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {}));
         SINYAL_ASSIGN_OR_RETURN(Key k, PathKey(ctx));
         const std::string actor =
             ctx.principal->api_key ? "api_key:" + std::to_string(ctx.principal->api_key->value())
                                    : "user:" + std::to_string(ctx.principal->user.value());
         SINYAL_ASSIGN_OR_RETURN(int64_t id, svc->EnqueueCheck(ctx.principal->tenant, k, actor));
         const std::string url = "/api/v1/jobs/" + std::to_string(id);
         Response r =
             Response::Json(202, {{"job_id", id}, {"status", "queued"}, {"status_url", url}});
         r.headers.emplace_back("Location", url);
         return r;
       }});
}

}  // namespace sinyal::http
