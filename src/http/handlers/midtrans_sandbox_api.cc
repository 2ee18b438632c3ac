// The local Midtrans sandbox over HTTP, SIMULATED (payments/sandbox.h; docs/payments.md "The
// sandbox"). Under `prefix` (serve: /sandbox/midtrans):
//   POST {prefix}/snap/v1/transactions        Snap create (Basic auth: the sandbox server key)
//   GET  {prefix}/v2/:order_id/status         Core API status
//   POST {prefix}/v2/:order_id/cancel         Core API cancel
//   POST {prefix}/v2/:order_id/refund         Core API refund
//   GET  {prefix}/pay/:token                  the pay page (HTML, stable element ids)
//   POST {prefix}/pay/:token/:action          an action of the page (form or JSON body:
//                                             {"duplicates": n, "reorder": bool,
//                                              "payment_type": "echannel"}); a form post is
//                                             answered 303 back to the page, JSON with JSON
//   GET  {prefix}/transactions                every sandbox transaction (JSON)
// Every answer says it is simulated (X-Sinyal-Simulated: midtrans-sandbox).
#include <nlohmann/json.hpp>

#include "http/api.h"
#include "http/problem.h"
#include "payments/sandbox.h"

namespace sinyal::http {

namespace {

std::string Param(const Context& ctx, const std::string& name) {
  auto it = ctx.request.params.find(name);
  return it == ctx.request.params.end() ? std::string() : it->second;
}

Response Simulated(Response r) {
  r.headers.emplace_back("x-sinyal-simulated", "midtrans-sandbox");
  return r;
}

Response FromAnswer(const payments::MidtransSandbox::Answer& a) {
  return Simulated(Response::Json(a.http_status, a.body));
}

// "duplicates=1&reorder=1" (a form post of the page).
std::map<std::string, std::string> ParseForm(std::string_view body) {
  std::map<std::string, std::string> out;
  size_t i = 0;
  while (i < body.size() && out.size() < 16) {
    size_t amp = body.find('&', i);
    if (amp == std::string_view::npos) amp = body.size();
    std::string_view pair = body.substr(i, amp - i);
    size_t eq = pair.find('=');
    out[std::string(pair.substr(0, eq))] =
        eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1));
    i = amp + 1;
  }
  return out;
}

// What the sandbox routes share: the sandbox and the prefix they are served under.
struct SandboxDeps {
  payments::MidtransSandbox* sandbox = nullptr;
  std::string prefix;
};

std::string_view Authorization(const Context& ctx) { return ctx.request.Header("authorization"); }

std::string PayPageUrl(const SandboxDeps& d, const std::string& token) {
  return d.prefix + "/pay/" + token;
}

// POST {prefix}/snap/v1/transactions
Result<Response> CreateTransaction(const SandboxDeps& d, Context& ctx) {
  return FromAnswer(d.sandbox->CreateTransaction(Authorization(ctx), ctx.request.body));
}

// GET {prefix}/v2/:order_id/status
Result<Response> GetStatus(const SandboxDeps& d, Context& ctx) {
  return FromAnswer(d.sandbox->GetStatus(Authorization(ctx), Param(ctx, "order_id")));
}

// POST {prefix}/v2/:order_id/cancel
Result<Response> CancelOrder(const SandboxDeps& d, Context& ctx) {
  return FromAnswer(d.sandbox->Cancel(Authorization(ctx), Param(ctx, "order_id")));
}

// POST {prefix}/v2/:order_id/refund
Result<Response> RefundOrder(const SandboxDeps& d, Context& ctx) {
  return FromAnswer(
      d.sandbox->Refund(Authorization(ctx), Param(ctx, "order_id"), ctx.request.body));
}

// GET {prefix}/pay/:token
Result<Response> PayPage(const SandboxDeps& d, Context& ctx) {
  const std::string token = Param(ctx, "token");
  SINYAL_ASSIGN_OR_RETURN(std::string html, d.sandbox->PayPage(token, PayPageUrl(d, token)));
  Response r = Response::Text(200, std::move(html), "text/html; charset=utf-8");
  r.headers.emplace_back("cache-control", "no-store");
  return Simulated(std::move(r));
}

// The options of a pay-page action: a form post ("duplicates=1&reorder=1") or a JSON object.
Result<payments::SandboxActionOptions> ActionOptions(const Context& ctx, bool form) {
  payments::SandboxActionOptions o;
  if (form) {
    auto f = ParseForm(ctx.request.body);
    o.duplicates = f.count("duplicates") ? 1 : 0;
    o.reorder = f.count("reorder") > 0;
  } else if (!ctx.request.body.empty()) {
    auto j = nlohmann::json::parse(ctx.request.body, nullptr, false);
    if (!j.is_object()) return Status::InvalidArgument("must be a JSON object", "body");
    if (j.contains("duplicates")) {
      if (!j["duplicates"].is_number_integer())
        return Status::InvalidArgument("must be an integer", "duplicates");
      o.duplicates = j["duplicates"].get<int>();
    }
    if (j.contains("reorder")) {
      if (!j["reorder"].is_boolean())
        return Status::InvalidArgument("must be a boolean", "reorder");
      o.reorder = j["reorder"].get<bool>();
    }
    if (j.contains("payment_type")) {
      if (!j["payment_type"].is_string())
        return Status::InvalidArgument("must be a string", "payment_type");
      o.payment_type = j["payment_type"].get<std::string>().substr(0, 32);
    }
  }
  return o;
}

// POST {prefix}/pay/:token/:action: a form post is answered 303 back to the page, JSON with JSON.
Result<Response> PayAction(const SandboxDeps& d, Context& ctx) {
  const std::string token = Param(ctx, "token"), action = Param(ctx, "action");
  const bool form =
      ctx.request.Header("content-type").starts_with("application/x-www-form-urlencoded");
  SINYAL_ASSIGN_OR_RETURN(payments::SandboxActionOptions o, ActionOptions(ctx, form));
  SINYAL_RETURN_IF_ERROR(d.sandbox->Act(token, action, o));
  if (form) {
    Response r = Response::Text(303, "", "text/plain; charset=utf-8");
    r.headers.emplace_back("location", PayPageUrl(d, token));
    return Simulated(std::move(r));
  }
  SINYAL_ASSIGN_OR_RETURN(nlohmann::json described, d.sandbox->Describe(token));
  return Simulated(Response::Json(200, described));
}

// GET {prefix}/transactions
Result<Response> ListTransactions(const SandboxDeps& d, Context&) {
  return Simulated(Response::Json(200, d.sandbox->List()));
}

}  // namespace

void AddMidtransSandboxRoutes(RouteTable& routes, payments::MidtransSandbox& sandbox,
                              const std::string& prefix) {
  auto d = std::make_shared<const SandboxDeps>(SandboxDeps{&sandbox, prefix});
  auto bind = [d](Result<Response> (*handler)(const SandboxDeps&, Context&)) {
    return [d, handler](Context& ctx) { return handler(*d, ctx); };
  };
  routes.Add({.method = "POST",
              .pattern = prefix + "/snap/v1/transactions",
              .max_body_bytes = 64 * 1024,
              .handler = bind(&CreateTransaction)});
  routes.Add(
      {.method = "GET", .pattern = prefix + "/v2/:order_id/status", .handler = bind(&GetStatus)});
  routes.Add({.method = "POST",
              .pattern = prefix + "/v2/:order_id/cancel",
              .handler = bind(&CancelOrder)});
  routes.Add({.method = "POST",
              .pattern = prefix + "/v2/:order_id/refund",
              .max_body_bytes = 16 * 1024,
              .handler = bind(&RefundOrder)});
  routes.Add({.method = "GET", .pattern = prefix + "/pay/:token", .handler = bind(&PayPage)});
  routes.Add({.method = "POST",
              .pattern = prefix + "/pay/:token/:action",
              .max_body_bytes = 4 * 1024,
              .handler = bind(&PayAction)});
  routes.Add(
      {.method = "GET", .pattern = prefix + "/transactions", .handler = bind(&ListTransactions)});
}

}  // namespace sinyal::http
