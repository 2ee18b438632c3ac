// Billing routes: the public plan list, a tenant's usage and invoices, and the operators' plan
// edits, plan changes for tenants and analytics. Handlers parse, call billing/ and map to JSON.
//
//   GET   /api/v1/plans                               public
//   GET   /api/v1/usage?period=current|previous       tenant (scope "read")
//   PUT   /api/v1/operator/plans/:name                operator: create, or update the given fields
//   PATCH /api/v1/operator/plans/:name                operator: update the given fields
//   PUT   /api/v1/operator/tenants/:id/plan           operator: {"plan": "pro"}
//   GET   /api/v1/invoices                            tenant (scope "read"): closed periods + the running one
//   GET   /api/v1/operator/analytics/usage            operator: usage by plan and day (?from&to)
//   GET   /api/v1/operator/analytics/top-tenants      operator: most units (?from&to&limit)
//   GET   /api/v1/operator/analytics/revenue          operator: revenue and MRR from invoices (?from&to)
//   GET   /api/v1/operator/analytics/burn-down        operator: quota burn-down + month-end forecast
//                                                     (?limit&tenant_id)
//
// Operator routes need an operator's signed-in access token: operator feed keys (API keys of
// role operator, scope "feed") may push market data but never change prices or plans.
#include <nlohmann/json.hpp>

#include "billing/analytics.h"
#include "billing/invoices.h"
#include "billing/meter.h"
#include "billing/plans.h"
#include "core/time.h"
#include "http/api.h"
#include "http/json_body.h"
#include "http/query.h"

namespace sinyal::http {

using nlohmann::json;

namespace {

Status RequireSignedInOperator(const Context& ctx) {
  if (ctx.principal->api_key) {
    return Status::PermissionDenied(
        "operator feed keys can't manage billing; sign in as an operator");
  }
  return Status::Ok();
}

std::string OperatorActor(const Context& ctx) {
  return "operator:" + std::to_string(ctx.principal->user.value());
}

// The whole JSON object of a body, after JsonBody's content-type and syntax checks.
Result<json> BodyObject(const Request& request) {
  SINYAL_RETURN_IF_ERROR(JsonBody::Parse(request).status());
  return json::parse(request.body, nullptr, false);
}

// Plan names as used in URLs and bodies: 1..32 of [a-z0-9_-].
Status ValidatePlanName(const std::string& name, const std::string& field) {
  if (name.empty() || name.size() > 32)
    return Status::InvalidArgument("must be 1..32 characters", field);
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
      return Status::InvalidArgument("may hold only a-z, 0-9, '_' and '-'", field);
    }
  }
  return Status::Ok();
}

std::string PathParam(const Context& ctx, const std::string& name) {
  auto it = ctx.request.params.find(name);
  return it == ctx.request.params.end() ? std::string() : it->second;
}

// ?from=&to= (ISO 8601 dates or times, or Unix seconds); defaults: [now - default_days, now).
struct Range {
  UnixNanos from = 0, to = 0;
};
Result<Range> RangeParams(const Context& ctx, int64_t default_days) {
  Range r{ctx.now - default_days * kNanosPerDay, ctx.now};
  if (auto from = QueryParam(ctx, "from")) {
    auto t = ParseIso8601(*from);
    if (!t.ok()) return t.error().WithField("from");
    r.from = *t;
  }
  if (auto to = QueryParam(ctx, "to")) {
    auto t = ParseIso8601(*to);
    if (!t.ok()) return t.error().WithField("to");
    r.to = *t;
  }
  if (r.from >= r.to) return Status::InvalidArgument("must be before to", "from");
  return r;
}

json SubscriptionJson(const billing::Subscription& s) {
  return {{"tenant_id", s.tenant.value()},
          {"plan", s.plan},
          {"status", s.status},
          {"anchor", FormatIso8601(s.anchor)},
          {"period_start", FormatIso8601(s.period_start)},
          {"period_end", FormatIso8601(s.period_end)}};
}

// The answer of the usage and top-tenants analytics: the range and its rows.
json RangeItems(const Range& r, json rows) {
  return {{"from", FormatIso8601(r.from)}, {"to", FormatIso8601(r.to)}, {"items", std::move(rows)}};
}

// GET /api/v1/plans
Result<Response> ListPlans(const BillingDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {}));
  SINYAL_ASSIGN_OR_RETURN(std::vector<billing::Plan> list, d.plans->List());
  json items = json::array();
  for (const auto& p : list) items.push_back(p.ToJson());
  return Response::Json(200, {{"currency", "IDR"}, {"period", "monthly"}, {"items", items}});
}

// GET /api/v1/usage?period=current|previous
Result<Response> Usage(const BillingDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {"period"}));
  std::string period = QueryParam(ctx, "period").value_or("current");
  int back = 0;
  if (period == "current")
    back = 0;
  else if (period == "previous")
    back = 1;
  else
    return Status::InvalidArgument("must be current or previous", "period");
  SINYAL_ASSIGN_OR_RETURN(json usage, d.meter->Usage(ctx.principal->tenant, ctx.now, back));
  return Response::Json(200, usage);
}

// PUT (create_if_missing) and PATCH /api/v1/operator/plans/:name
Result<Response> EditPlan(const BillingDeps& d, Context& ctx, bool create_if_missing) {
  SINYAL_RETURN_IF_ERROR(RequireSignedInOperator(ctx));
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {}));
  const std::string name = PathParam(ctx, "name");
  SINYAL_RETURN_IF_ERROR(ValidatePlanName(name, "name"));
  SINYAL_ASSIGN_OR_RETURN(json body, BodyObject(ctx.request));
  if (body.contains("name") && body["name"] != name) {
    return Status::InvalidArgument("a plan's name can't change (it is the URL's)", "name");
  }
  body.erase("name");
  auto existing = d.plans->Get(name);
  if (!existing.ok() && existing.error().code() == StatusCode::kNotFound && create_if_missing) {
    // A new plan: the defaults of billing::Plan overridden by the body; validated by Create.
    SINYAL_ASSIGN_OR_RETURN(billing::Plan fresh, billing::NewPlanFromJson(name, body));
    SINYAL_ASSIGN_OR_RETURN(billing::Plan created, d.plans->Create(fresh, OperatorActor(ctx)));
    return Response::Json(201, created.ToJson());
  }
  if (!existing.ok()) return existing.error();
  SINYAL_ASSIGN_OR_RETURN(billing::Plan updated, d.plans->Update(name, body, OperatorActor(ctx)));
  return Response::Json(200, updated.ToJson());
}

Result<Response> PutPlan(const BillingDeps& d, Context& ctx) { return EditPlan(d, ctx, true); }

Result<Response> PatchPlan(const BillingDeps& d, Context& ctx) { return EditPlan(d, ctx, false); }

// PUT /api/v1/operator/tenants/:id/plan {"plan": "pro"}
Result<Response> ChangeTenantPlan(const BillingDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(RequireSignedInOperator(ctx));
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {}));
  SINYAL_ASSIGN_OR_RETURN(int64_t id, ParseIdParam(ctx, "id", "tenant"));
  SINYAL_ASSIGN_OR_RETURN(JsonBody body, JsonBody::Parse(ctx.request));
  SINYAL_ASSIGN_OR_RETURN(std::string plan, body.String("plan", {.min_len = 1, .max_len = 32}));
  SINYAL_RETURN_IF_ERROR(body.Finish());
  SINYAL_RETURN_IF_ERROR(ValidatePlanName(plan, "plan"));
  Status changed = d.subscriptions->ChangePlan(TenantId(id), plan, ctx.now, OperatorActor(ctx));
  if (!changed.ok()) {
    if (changed.code() == StatusCode::kFailedPrecondition) {
      return Status::NotFound("no such tenant", "id");
    }
    return changed;
  }
  SINYAL_ASSIGN_OR_RETURN(billing::Subscription s, d.subscriptions->Current(TenantId(id), ctx.now));
  return Response::Json(200, SubscriptionJson(s));
}

// GET /api/v1/invoices: closed periods + the running one.
Result<Response> ListInvoices(const BillingDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {}));
  const TenantId t = ctx.principal->tenant;
  SINYAL_ASSIGN_OR_RETURN(std::vector<billing::Invoice> list, d.invoices->List(t));
  json items = json::array();
  for (const auto& inv : list) items.push_back(inv.ToJson());
  // The running period, not invoiced yet: its plan's price + overage so far.
  SINYAL_ASSIGN_OR_RETURN(json usage, d.meter->Usage(t, ctx.now, 0));
  json current = {{"period", usage["period"]}, {"plan", usage["plan"]}, {"status", "running"}};
  auto plan = d.plans->GetShared(usage.value("plan", ""));
  const int64_t base = plan.ok() ? (*plan)->price_idr : 0;
  const int64_t overage = usage.value("cost_idr", int64_t{0});
  current["base_idr"] = base;
  current["units"] = usage.value("used", int64_t{0});
  current["overage_units"] = usage.value("overage_units", int64_t{0});
  current["overage_idr"] = overage;
  current["total_idr"] = base + overage;
  return Response::Json(200, {{"currency", "IDR"}, {"items", items}, {"current", current}});
}

// GET /api/v1/operator/analytics/usage?from&to
Result<Response> UsageAnalytics(const BillingDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(RequireSignedInOperator(ctx));
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {"from", "to"}));
  SINYAL_ASSIGN_OR_RETURN(Range r, RangeParams(ctx, 30));
  SINYAL_ASSIGN_OR_RETURN(json rows, d.analytics->UsageByPlanAndDay(r.from, r.to));
  return Response::Json(200, RangeItems(r, std::move(rows)));
}

// GET /api/v1/operator/analytics/top-tenants?from&to&limit
Result<Response> TopTenants(const BillingDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(RequireSignedInOperator(ctx));
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {"from", "to", "limit"}));
  SINYAL_ASSIGN_OR_RETURN(Range r, RangeParams(ctx, 30));
  SINYAL_ASSIGN_OR_RETURN(int64_t limit, IntQueryParam(ctx, "limit", 10, 1, 1000));
  SINYAL_ASSIGN_OR_RETURN(json rows,
                          d.analytics->TopTenants(r.from, r.to, static_cast<int>(limit)));
  return Response::Json(200, RangeItems(r, std::move(rows)));
}

// GET /api/v1/operator/analytics/revenue?from&to
Result<Response> Revenue(const BillingDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(RequireSignedInOperator(ctx));
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {"from", "to"}));
  SINYAL_ASSIGN_OR_RETURN(Range r, RangeParams(ctx, 365));
  SINYAL_ASSIGN_OR_RETURN(json out, d.analytics->Revenue(r.from, r.to));
  out["currency"] = "IDR";
  return Response::Json(200, out);
}

// GET /api/v1/operator/analytics/burn-down?limit&tenant_id
Result<Response> BurnDown(const BillingDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(RequireSignedInOperator(ctx));
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {"limit", "tenant_id"}));
  SINYAL_ASSIGN_OR_RETURN(int64_t limit, IntQueryParam(ctx, "limit", 20, 1, 1000));
  std::optional<TenantId> tenant;
  if (QueryParam(ctx, "tenant_id")) {
    SINYAL_ASSIGN_OR_RETURN(int64_t id, IntQueryParam(ctx, "tenant_id", 0, 1, INT64_MAX / 2));
    tenant = TenantId(id);
  }
  SINYAL_ASSIGN_OR_RETURN(json rows,
                          d.analytics->QuotaBurnDown(ctx.now, static_cast<int>(limit), tenant));
  return Response::Json(200, {{"items", rows}});
}

}  // namespace

void AddBillingRoutes(RouteTable& routes, BillingDeps deps) {
  auto d = std::make_shared<const BillingDeps>(std::move(deps));
  auto bind = [d](Result<Response> (*handler)(const BillingDeps&, Context&)) {
    return [d, handler](Context& ctx) { return handler(*d, ctx); };
  };
  routes.Add({.method = "GET",
              .pattern = "/api/v1/plans",
              .auth = AuthMode::kNone,
              .handler = bind(&ListPlans)});
  routes.Add({.method = "GET",
              .pattern = "/api/v1/usage",
              .auth = AuthMode::kAny,
              .required_scope = std::string(accounts::kScopeRead),
              .handler = bind(&Usage)});
  routes.Add({.method = "PUT",
              .pattern = "/api/v1/operator/plans/:name",
              .auth = AuthMode::kOperator,
              .blocking = true,
              .handler = bind(&PutPlan)});
  routes.Add({.method = "PATCH",
              .pattern = "/api/v1/operator/plans/:name",
              .auth = AuthMode::kOperator,
              .blocking = true,
              .handler = bind(&PatchPlan)});
  routes.Add({.method = "PUT",
              .pattern = "/api/v1/operator/tenants/:id/plan",
              .auth = AuthMode::kOperator,
              .blocking = true,
              .handler = bind(&ChangeTenantPlan)});
  routes.Add({.method = "GET",
              .pattern = "/api/v1/invoices",
              .auth = AuthMode::kAny,
              .blocking = true,
              .required_scope = std::string(accounts::kScopeRead),
              .handler = bind(&ListInvoices)});
  routes.Add({.method = "GET",
              .pattern = "/api/v1/operator/analytics/usage",
              .auth = AuthMode::kOperator,
              .blocking = true,
              .handler = bind(&UsageAnalytics)});
  routes.Add({.method = "GET",
              .pattern = "/api/v1/operator/analytics/top-tenants",
              .auth = AuthMode::kOperator,
              .blocking = true,
              .handler = bind(&TopTenants)});
  routes.Add({.method = "GET",
              .pattern = "/api/v1/operator/analytics/revenue",
              .auth = AuthMode::kOperator,
              .blocking = true,
              .handler = bind(&Revenue)});
  routes.Add({.method = "GET",
              .pattern = "/api/v1/operator/analytics/burn-down",
              .auth = AuthMode::kOperator,
              .blocking = true,
              .handler = bind(&BurnDown)});
}

}  // namespace sinyal::http
