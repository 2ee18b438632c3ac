// Self-service subscriptions and Midtrans payments (issue 11; docs/payments.md):
//
//   GET  /api/v1/billing/subscription            plan, term, status, grace, scheduled change,
//                                                credit balance, open invoice
//   POST /api/v1/billing/checkout                {plan, period: month|year} -> invoice + order
//                                                (Snap token and redirect URL), or a scheduled
//                                                downgrade, or a withdrawn change
//   POST /api/v1/billing/cancel                  cancel at the period end
//   GET  /api/v1/billing/orders, /orders/:id     the tenant's payment orders
//   GET  /api/v1/billing/invoices                term invoices (lines S = U + B + T)
//   POST /api/v1/billing/invoices/:id/pay        a payable order for an open invoice (renewals)
//   GET  /api/v1/billing/events                  the append-only audit trail
//   POST /api/v1/payments/midtrans/notification  Midtrans's HTTP notification (no auth: the
//                                                signature and the status API decide)
// Operators:
//   GET  /api/v1/operator/tenants/:id/orders     orders of a tenant
//   GET  /api/v1/operator/tenants/:id/payments   cash rows, subscription, reconciliation
//   POST /api/v1/operator/orders/:id/refund      {amount_idr, reason} through Midtrans
//   GET  /api/v1/operator/analytics/subscriptions MRR, ARPU, churn per month (billing/revenue.h)
#include <nlohmann/json.hpp>

#include "billing/revenue.h"
#include "billing/subscription_service.h"
#include "core/time.h"
#include "http/api.h"
#include "http/json_body.h"
#include "http/problem.h"
#include "http/query.h"
#include "payments/payment_service.h"

namespace sinyal::http {

using nlohmann::json;

namespace {

std::string Actor(const Context& ctx) {
  if (ctx.principal->is_operator())
    return "operator:" + std::to_string(ctx.principal->user.value());
  if (ctx.principal->api_key) return "api_key:" + std::to_string(ctx.principal->api_key->value());
  return "user:" + std::to_string(ctx.principal->user.value());
}

// Buying and cancelling are for a tenant's owners and admins, signed in.
Status RequireBillingManager(const Context& ctx) {
  if (ctx.principal->role != accounts::Role::kOwner &&
      ctx.principal->role != accounts::Role::kAdmin) {
    return Status::PermissionDenied(
        "only the organisation's owners and admins manage its subscription");
  }
  return Status::Ok();
}

std::string Param(const Context& ctx, const std::string& name) {
  auto it = ctx.request.params.find(name);
  return it == ctx.request.params.end() ? std::string() : it->second;
}

json GatewayJson(const payments::PaymentService& p) {
  if (p.simulated()) {
    return {
        {"name", "midtrans-sandbox"},
        {"simulated", true},
        {"note",
         "SIMULATED: no Midtrans keys are configured, so payments go to Sinyal's local Midtrans "
         "sandbox. No money moves; pay, deny or expire the order on its page (redirect_url)."}};
  }
  return {{"name", "midtrans"}, {"simulated", false}};
}

Result<payments::Customer> CustomerOf(accounts::AccountService& accounts, const Context& ctx) {
  SINYAL_ASSIGN_OR_RETURN(accounts::UserInfo me, accounts.Me(*ctx.principal));
  return payments::Customer{me.display_name, me.email};
}

json OrdersJson(const std::vector<payments::Order>& orders) {
  json items = json::array();
  for (const auto& o : orders) items.push_back(o.ToJson());
  return items;
}

// Operator routes need a signed-in operator: operator feed keys may push market data only.
Status RequireSignedInOperator(const Context& ctx) {
  if (ctx.principal->api_key)
    return Status::PermissionDenied(
        "operator feed keys can't manage payments; sign in as an operator");
  return Status::Ok();
}

// GET /api/v1/billing/subscription
Result<Response> GetSubscription(const PaymentDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {}));
  SINYAL_ASSIGN_OR_RETURN(billing::AccountView view,
                          d.subscriptions->View(ctx.principal->tenant, ctx.now));
  json j = view.ToJson();
  j["gateway"] = GatewayJson(*d.payments);
  return Response::Json(200, j);
}

// POST /api/v1/billing/checkout {plan, period: month|year}
Result<Response> Checkout(const PaymentDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(RequireBillingManager(ctx));
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {}));
  SINYAL_ASSIGN_OR_RETURN(JsonBody body, JsonBody::Parse(ctx.request));
  SINYAL_ASSIGN_OR_RETURN(std::string plan, body.String("plan", {.min_len = 1, .max_len = 32}));
  SINYAL_ASSIGN_OR_RETURN(std::string period, body.String("period", {.min_len = 1, .max_len = 16}));
  SINYAL_RETURN_IF_ERROR(body.Finish());
  SINYAL_ASSIGN_OR_RETURN(billing::Term term, billing::ParseTerm(period, "period"));
  SINYAL_ASSIGN_OR_RETURN(payments::Customer customer, CustomerOf(*d.accounts, ctx));
  SINYAL_ASSIGN_OR_RETURN(
      payments::CheckoutAnswer answer,
      d.payments->Checkout(ctx.principal->tenant, customer, plan, term, ctx.now, Actor(ctx)));
  const TenantId t = ctx.principal->tenant;
  json out = {{"gateway", GatewayJson(*d.payments)}};
  billing::AccountView view;
  view.tenant = t;
  view.state = answer.result.state;
  out["subscription"] = {{"plan", view.state.plan},
                         {"status", billing::SubscriptionStatusName(view.state.status)}};
  using Kind = billing::CheckoutOutcome::Kind;
  switch (answer.result.outcome.kind) {
    case Kind::kScheduled:
      out["kind"] = "scheduled";
      out["detail"] = "the change to " + plan + " takes effect at the end of the current period, " +
                      FormatIso8601(answer.result.state.term_end);
      out["effective_at"] = FormatIso8601(answer.result.state.term_end);
      return Response::Json(202, out);
    case Kind::kResumed:
      out["kind"] = "resumed";
      out["detail"] = "the scheduled change was withdrawn; " + plan + " continues";
      return Response::Json(200, out);
    case Kind::kInvoice:
      break;
  }
  out["invoice"] = billing::TermInvoiceJson(t, *answer.result.invoice);
  if (!answer.order) {
    out["kind"] = "paid_by_credit";
    out["order"] = nullptr;
    return Response::Json(200, out);
  }
  out["kind"] = "payment_required";
  out["order"] = answer.order->ToJson();
  out["token"] = answer.order->snap_token;
  out["redirect_url"] = answer.order->redirect_url;
  return Response::Json(201, out);
}

// POST /api/v1/billing/cancel: cancel at the period end.
Result<Response> Cancel(const PaymentDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(RequireBillingManager(ctx));
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {}));
  if (!ctx.request.body.empty()) {
    SINYAL_ASSIGN_OR_RETURN(JsonBody body, JsonBody::Parse(ctx.request));
    SINYAL_RETURN_IF_ERROR(body.Finish());
  }
  SINYAL_RETURN_IF_ERROR(d.payments->Cancel(ctx.principal->tenant, ctx.now, Actor(ctx)));
  SINYAL_ASSIGN_OR_RETURN(billing::AccountView view,
                          d.subscriptions->View(ctx.principal->tenant, ctx.now));
  return Response::Json(200, view.ToJson());
}

// GET /api/v1/billing/orders
Result<Response> ListOrders(const PaymentDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {"limit"}));
  SINYAL_ASSIGN_OR_RETURN(int64_t limit, IntQueryParam(ctx, "limit", 50, 1, 1000));
  SINYAL_ASSIGN_OR_RETURN(auto orders,
                          d.payments->Orders(ctx.principal->tenant, static_cast<int>(limit)));
  return Response::Json(200,
                        {{"items", OrdersJson(orders)}, {"gateway", GatewayJson(*d.payments)}});
}

// GET /api/v1/billing/orders/:id
Result<Response> GetOrder(const PaymentDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {}));
  SINYAL_ASSIGN_OR_RETURN(payments::Order o,
                          d.payments->GetOrder(ctx.principal->tenant, Param(ctx, "id")));
  json j = o.ToJson();
  auto inv = d.subscriptions->Invoice(ctx.principal->tenant, o.invoice);
  j["invoice"] = inv.ok() ? billing::TermInvoiceJson(ctx.principal->tenant, *inv) : json(nullptr);
  return Response::Json(200, j);
}

// GET /api/v1/billing/invoices: term invoices.
Result<Response> ListInvoices(const PaymentDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {}));
  SINYAL_ASSIGN_OR_RETURN(billing::AccountView view,
                          d.subscriptions->View(ctx.principal->tenant, ctx.now));
  json items = json::array();
  for (const auto& inv : view.invoices) items.push_back(billing::TermInvoiceJson(view.tenant, inv));
  return Response::Json(
      200, {{"currency", "IDR"}, {"items", items}, {"credit_balance_idr", view.balance_idr}});
}

// POST /api/v1/billing/invoices/:id/pay
Result<Response> PayInvoice(const PaymentDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(RequireBillingManager(ctx));
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {}));
  SINYAL_ASSIGN_OR_RETURN(int64_t seq, ParseIdParam(ctx, "id", "invoice"));
  SINYAL_ASSIGN_OR_RETURN(payments::Customer customer, CustomerOf(*d.accounts, ctx));
  SINYAL_ASSIGN_OR_RETURN(payments::Order o,
                          d.payments->PayInvoice(ctx.principal->tenant, seq, customer, ctx.now));
  json j = o.ToJson();
  j["gateway"] = GatewayJson(*d.payments);
  return Response::Json(200, j);
}

// GET /api/v1/billing/events
Result<Response> ListEvents(const PaymentDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {"limit"}));
  SINYAL_ASSIGN_OR_RETURN(int64_t limit, IntQueryParam(ctx, "limit", 100, 1, 1000));
  SINYAL_ASSIGN_OR_RETURN(auto events,
                          d.subscriptions->Events(ctx.principal->tenant, static_cast<int>(limit)));
  json items = json::array();
  for (const auto& e : events) items.push_back(e.ToJson());
  return Response::Json(200, {{"items", items}});
}

// POST /api/v1/payments/midtrans/notification
Result<Response> MidtransNotification(const PaymentDeps& d, Context& ctx) {
  payments::NotificationAnswer a =
      d.payments->HandleNotification(ctx.request.Header("content-type"), ctx.request.body, ctx.now);
  if (a.http_status == 200) return Response::Json(200, {{"status", "ok"}, {"outcome", a.outcome}});
  static const std::map<int, std::string> kTypes = {{400, "invalid-notification"},
                                                    {401, "invalid-signature"},
                                                    {404, "unknown-order"},
                                                    {415, "unsupported-media-type"},
                                                    {503, "unavailable"}};
  auto type = kTypes.count(a.http_status) ? kTypes.at(a.http_status) : "rejected";
  return ProblemResponse(a.http_status, type, a.detail, a.field, ctx.request_id);
}

// The tenant of an operator route (:id) and the page size (?limit, default 100).
struct TenantPage {
  int64_t id = 0;
  int limit = 0;
};
Result<TenantPage> OperatorTenantPage(const Context& ctx) {
  SINYAL_RETURN_IF_ERROR(RequireSignedInOperator(ctx));
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {"limit"}));
  SINYAL_ASSIGN_OR_RETURN(int64_t id, ParseIdParam(ctx, "id", "tenant"));
  SINYAL_ASSIGN_OR_RETURN(int64_t limit, IntQueryParam(ctx, "limit", 100, 1, 1000));
  return TenantPage{id, static_cast<int>(limit)};
}

// GET /api/v1/operator/tenants/:id/orders
Result<Response> OperatorTenantOrders(const PaymentDeps& d, Context& ctx) {
  SINYAL_ASSIGN_OR_RETURN(TenantPage p, OperatorTenantPage(ctx));
  SINYAL_ASSIGN_OR_RETURN(auto orders, d.payments->Orders(TenantId(p.id), p.limit));
  return Response::Json(200, {{"tenant_id", p.id}, {"items", OrdersJson(orders)}});
}

// GET /api/v1/operator/tenants/:id/payments: cash rows, subscription, reconciliation.
Result<Response> OperatorTenantPayments(const PaymentDeps& d, Context& ctx) {
  SINYAL_ASSIGN_OR_RETURN(TenantPage p, OperatorTenantPage(ctx));
  const int64_t id = p.id;
  auto view = d.subscriptions->View(TenantId(id), ctx.now);
  if (!view.ok() && view.error().code() == StatusCode::kFailedPrecondition) {
    return Status::NotFound("no such tenant", "id");
  }
  SINYAL_RETURN_IF_ERROR(view.status());
  SINYAL_ASSIGN_OR_RETURN(auto cash, d.subscriptions->Payments(TenantId(id), p.limit));
  json items = json::array();
  for (const auto& c : cash) items.push_back(c.ToJson());
  json invoices = json::array();
  for (const auto& inv : view->invoices)
    invoices.push_back(billing::TermInvoiceJson(TenantId(id), inv));
  return Response::Json(200, {{"tenant_id", id},
                              {"subscription", view->ToJson()},
                              {"payments", items},
                              {"invoices", invoices},
                              {"reconciliation", view->reconciliation.ToJson()}});
}

// POST /api/v1/operator/orders/:id/refund {amount_idr, reason}
Result<Response> OperatorRefund(const PaymentDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(RequireSignedInOperator(ctx));
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {}));
  SINYAL_ASSIGN_OR_RETURN(JsonBody body, JsonBody::Parse(ctx.request));
  SINYAL_ASSIGN_OR_RETURN(int64_t amount, body.Int("amount_idr", 1, int64_t{1} << 50));
  SINYAL_ASSIGN_OR_RETURN(std::string reason,
                          body.String("reason", {.min_len = 1, .max_len = 200}));
  SINYAL_RETURN_IF_ERROR(body.Finish());
  const std::string idem(ctx.request.Header("idempotency-key"));
  if (idem.size() > 255)
    return Status::InvalidArgument("at most 255 characters", "Idempotency-Key");
  SINYAL_ASSIGN_OR_RETURN(payments::Order o, d.payments->Refund(Param(ctx, "id"), amount, reason,
                                                                Actor(ctx), ctx.now, idem));
  return Response::Json(200, o.ToJson());
}

// GET /api/v1/operator/analytics/subscriptions?from&to
Result<Response> SubscriptionAnalytics(const PaymentDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(RequireSignedInOperator(ctx));
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {"from", "to"}));
  UnixNanos from = ctx.now - 365 * kNanosPerDay, to = ctx.now;
  if (auto f = QueryParam(ctx, "from")) {
    auto t = ParseIso8601(*f);
    if (!t.ok()) return t.error().WithField("from");
    from = *t;
  }
  if (auto f = QueryParam(ctx, "to")) {
    auto t = ParseIso8601(*f);
    if (!t.ok()) return t.error().WithField("to");
    to = *t;
  }
  SINYAL_ASSIGN_OR_RETURN(json out, billing::SubscriptionRevenue(*d.db, from, to, ctx.now));
  return Response::Json(200, out);
}

}  // namespace

void AddPaymentRoutes(RouteTable& routes, PaymentDeps deps) {
  auto d = std::make_shared<const PaymentDeps>(std::move(deps));
  auto bind = [d](Result<Response> (*handler)(const PaymentDeps&, Context&)) {
    return [d, handler](Context& ctx) { return handler(*d, ctx); };
  };
  routes.Add({.method = "GET",
              .pattern = "/api/v1/billing/subscription",
              .auth = AuthMode::kAny,
              .blocking = true,
              .required_scope = std::string(accounts::kScopeRead),
              .handler = bind(&GetSubscription)});
  routes.Add({.method = "POST",
              .pattern = "/api/v1/billing/checkout",
              .auth = AuthMode::kUser,
              .blocking = true,
              .handler = bind(&Checkout)});
  routes.Add({.method = "POST",
              .pattern = "/api/v1/billing/cancel",
              .auth = AuthMode::kUser,
              .blocking = true,
              .handler = bind(&Cancel)});
  routes.Add({.method = "GET",
              .pattern = "/api/v1/billing/orders",
              .auth = AuthMode::kAny,
              .blocking = true,
              .required_scope = std::string(accounts::kScopeRead),
              .handler = bind(&ListOrders)});
  routes.Add({.method = "GET",
              .pattern = "/api/v1/billing/orders/:id",
              .auth = AuthMode::kAny,
              .blocking = true,
              .required_scope = std::string(accounts::kScopeRead),
              .handler = bind(&GetOrder)});
  routes.Add({.method = "GET",
              .pattern = "/api/v1/billing/invoices",
              .auth = AuthMode::kAny,
              .blocking = true,
              .required_scope = std::string(accounts::kScopeRead),
              .handler = bind(&ListInvoices)});
  routes.Add({.method = "POST",
              .pattern = "/api/v1/billing/invoices/:id/pay",
              .auth = AuthMode::kUser,
              .blocking = true,
              .handler = bind(&PayInvoice)});
  routes.Add({.method = "GET",
              .pattern = "/api/v1/billing/events",
              .auth = AuthMode::kAny,
              .blocking = true,
              .required_scope = std::string(accounts::kScopeRead),
              .handler = bind(&ListEvents)});

  // Midtrans's notification: no auth header (the signature and the status API decide), a
  // small body limit (a notification is a few KiB; 1 MiB bodies are 413 before parsing).
  routes.Add({.method = "POST",
              .pattern = "/api/v1/payments/midtrans/notification",
              .auth = AuthMode::kNone,
              .blocking = true,
              .max_body_bytes = 64 * 1024,
              .handler = bind(&MidtransNotification)});

  // ---- operators ----
  routes.Add({.method = "GET",
              .pattern = "/api/v1/operator/tenants/:id/orders",
              .auth = AuthMode::kOperator,
              .blocking = true,
              .handler = bind(&OperatorTenantOrders)});
  routes.Add({.method = "GET",
              .pattern = "/api/v1/operator/tenants/:id/payments",
              .auth = AuthMode::kOperator,
              .blocking = true,
              .handler = bind(&OperatorTenantPayments)});
  routes.Add({.method = "POST",
              .pattern = "/api/v1/operator/orders/:id/refund",
              .auth = AuthMode::kOperator,
              .blocking = true,
              .handler = bind(&OperatorRefund)});
  routes.Add({.method = "GET",
              .pattern = "/api/v1/operator/analytics/subscriptions",
              .auth = AuthMode::kOperator,
              .blocking = true,
              .handler = bind(&SubscriptionAnalytics)});
}

}  // namespace sinyal::http
