// Read-only operator routes for the dashboard, over data that exists but had no route:
//   GET /api/v1/operator/tenants        tenants with owner, users, live API keys, plan and status
//   GET /api/v1/operator/models/health  per platform series: the serving platform model's live
//                                       performance beside its validation, the (p_up, up) pairs of
//                                       its newest resolved signals (the client bins them into a
//                                       reliability diagram) and its newest retraining audit
//                                       records (drift checks, challengers, promotions, rollbacks)
// Operators only (an operator's access token; feed keys are refused). Neither returns a signal's
// prediction to a tenant, so neither is metered.
#include <cmath>
#include <nlohmann/json.hpp>

#include "accounts/accounts.h"
#include "billing/plans.h"
#include "core/time.h"
#include "http/api.h"
#include "http/query.h"
#include "market/timeframe.h"
#include "models/service.h"
#include "signals/db_audit_log.h"
#include "signals/db_signal_log.h"
#include "signals/service.h"
#include "store/bar_store.h"

namespace sinyal::http {
namespace {

using nlohmann::json;

constexpr size_t kReliabilitySignals = 1000;
constexpr size_t kAuditRecords = 10;

Status RequireOperatorToken(const Context& ctx) {
  if (ctx.principal->api_key)
    return Status::PermissionDenied("operators' access tokens only (feed keys are refused)");
  return Status::Ok();
}

}  // namespace

void AddOperatorRoutes(RouteTable& routes, OperatorDeps deps) {
  auto d = std::make_shared<OperatorDeps>(deps);

  routes.Add({.method = "GET",
              .pattern = "/api/v1/operator/tenants",
              .auth = AuthMode::kOperator,
              .blocking = true,
              .handler = [d](Context& ctx) -> Result<Response> {
                SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {"limit", "offset"}));
                SINYAL_RETURN_IF_ERROR(RequireOperatorToken(ctx));
                SINYAL_ASSIGN_OR_RETURN(int64_t limit, IntQueryParam(ctx, "limit", 100, 1, 500));
                SINYAL_ASSIGN_OR_RETURN(int64_t offset,
                                        IntQueryParam(ctx, "offset", 0, 0, INT64_MAX / 2));
                SINYAL_ASSIGN_OR_RETURN(accounts::AccountService::TenantPage page,
                                        d->accounts->ListTenants(*ctx.principal, limit, offset));
                json items = json::array();
                for (const auto& t : page.items) {
                  json item = {{"id", t.id.value()},
                               {"name", t.name},
                               {"created_at", FormatIso8601(t.created_at)},
                               {"owner_email", t.owner_email},
                               {"users", t.users},
                               {"api_keys", t.api_keys}};
                  auto sub = d->subscriptions->Current(t.id, ctx.now);
                  item["plan"] = sub.ok() ? json(sub->plan) : json(nullptr);
                  item["status"] = sub.ok() ? json(sub->status) : json(nullptr);
                  items.push_back(std::move(item));
                }
                return Response::Json(200, {{"items", std::move(items)},
                                            {"total", page.total},
                                            {"limit", limit},
                                            {"offset", offset}});
              }});

  routes.Add({.method = "GET",
              .pattern = "/api/v1/operator/models/health",
              .auth = AuthMode::kOperator,
              .blocking = true,
              .handler = [d](Context& ctx) -> Result<Response> {
                SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {}));
                SINYAL_RETURN_IF_ERROR(RequireOperatorToken(ctx));
                SINYAL_ASSIGN_OR_RETURN(std::vector<store::SeriesInfo> series,
                                        d->bars->ListSeries(std::nullopt));
                json items = json::array();
                for (const auto& s : series) {
                  const std::string tf(market::TimeframeName(s.key.timeframe));
                  json item = {{"symbol", s.key.symbol}, {"timeframe", tf}};
                  auto perf = d->signals->Performance(models::kPlatformTenant, s.key);
                  if (!perf.ok()) {
                    if (perf.error().code() != StatusCode::kNotFound) return perf.error();
                    item["model"] = nullptr;  // no platform model serves this series
                    items.push_back(std::move(item));
                    continue;
                  }
                  item["performance"] = perf->ToJson();
                  SINYAL_ASSIGN_OR_RETURN(
                      auto resolved,
                      d->log->RecentResolved(models::kPlatformTenant, s.key, perf->model_version,
                                             kReliabilitySignals));
                  json pairs = json::array();
                  for (const auto& r : resolved) {
                    if (!r.resolution || !std::isfinite(r.signal.p_up())) continue;
                    pairs.push_back({r.signal.p_up(), r.resolution->up});
                  }
                  item["resolved_p_up"] = std::move(pairs);
                  SINYAL_ASSIGN_OR_RETURN(
                      auto audit, d->audit->Page(models::kPlatformTenant, s.key, 0, kAuditRecords));
                  json records = json::array();
                  for (const auto& a : audit) records.push_back(a.ToJson());
                  item["retraining"] = std::move(records);
                  items.push_back(std::move(item));
                }
                return Response::Json(200, {{"items", std::move(items)}});
              }});
}

}  // namespace sinyal::http
