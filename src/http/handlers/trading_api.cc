// Backtest and paper trading routes (docs/api.md "Backtests", "Paper trading"): thin handlers
// over backtest::BacktestService and backtest::PaperService. Every call is scoped to the caller's
// tenant; paper accounts also to the calling user (an API key acts for the user who made it).
// Another tenant's or user's backtest, account or order is 404.
#include <nlohmann/json.hpp>

#include "backtest/paper.h"
#include "backtest/service.h"
#include "billing/features.h"
#include "core/time.h"
#include "http/api.h"
#include "http/handlers/metered.h"
#include "http/json_body.h"
#include "http/query.h"

namespace sinyal::http {

using nlohmann::json;

namespace {

TenantId Tenant(const Context& ctx) { return ctx.principal->tenant; }
UserId User(const Context& ctx) { return ctx.principal->user; }

// The plan feature a call needs (billing's one gate, through the metered-call flow): 403 naming
// the cheapest plan that has it.
Status Gate(const TradingDeps&, Context& ctx, std::string_view feature) {
  return Metered(ctx).Gate(feature);
}

// The request body as one JSON object (content type and syntax checked by JsonBody).
Result<json> BodyObject(const Request& request) {
  SINYAL_RETURN_IF_ERROR(JsonBody::Parse(request).status());
  return json::parse(request.body, nullptr, false);
}

Result<size_t> LimitParam(const Context& ctx, size_t fallback, size_t max) {
  auto v = QueryParam(ctx, "limit");
  if (!v) return fallback;
  char* end = nullptr;
  const long long n = std::strtoll(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0' || n < 1 || static_cast<size_t>(n) > max) {
    return Status::InvalidArgument("limit must be an integer 1.." + std::to_string(max), "limit");
  }
  return static_cast<size_t>(n);
}

Result<int64_t> IntParam(const Context& ctx, const char* name) {
  auto v = QueryParam(ctx, name);
  if (!v) return int64_t{0};
  char* end = nullptr;
  const long long n = std::strtoll(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0' || n < 0) {
    return Status::InvalidArgument(std::string(name) + " must be an integer >= 0", name);
  }
  return static_cast<int64_t>(n);
}

json PositionsJson(const std::vector<backtest::Position>& v) {
  json out = json::array();
  for (const auto& p : v) out.push_back(backtest::ToJson(p));
  return out;
}

// ---- Backtests ----

Result<Response> SubmitBacktest(const TradingDeps& deps, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(Gate(deps, ctx, billing::kFeatBacktests));
  SINYAL_RETURN_IF_ERROR(JsonBody::Parse(ctx.request).status());
  SINYAL_ASSIGN_OR_RETURN(backtest::BacktestRecord rec,
                          deps.backtests->Submit(Tenant(ctx), User(ctx), ctx.request.body));
  Response r = Response::Json(202, rec.ToJson());
  r.headers.push_back({"Location", "/api/v1/backtests/" + std::to_string(rec.id)});
  return r;
}

Result<Response> ListBacktests(const TradingDeps& deps, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {"limit"}));
  SINYAL_ASSIGN_OR_RETURN(size_t limit, LimitParam(ctx, 20, 100));
  SINYAL_ASSIGN_OR_RETURN(auto list, deps.backtests->List(Tenant(ctx), limit));
  json items = json::array();
  for (const auto& b : list) items.push_back(b.ToJson());
  return Response::Json(200, {{"backtests", items}});
}

Result<Response> GetBacktest(const TradingDeps& deps, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {"result"}));
  SINYAL_ASSIGN_OR_RETURN(int64_t id, ParseIdParam(ctx, "id", "backtest"));
  const auto want = QueryParam(ctx, "result");
  if (want && *want != "true" && *want != "false") {
    return Status::InvalidArgument("result must be true or false", "result");
  }
  SINYAL_ASSIGN_OR_RETURN(auto rec, deps.backtests->Get(Tenant(ctx), id, !want || *want == "true"));
  return Response::Json(200, rec.ToJson());
}

Result<Response> CancelBacktest(const TradingDeps& deps, Context& ctx) {
  SINYAL_ASSIGN_OR_RETURN(int64_t id, ParseIdParam(ctx, "id", "backtest"));
  SINYAL_ASSIGN_OR_RETURN(auto rec, deps.backtests->Cancel(Tenant(ctx), id));
  return Response::Json(200, rec.ToJson());
}

Result<Response> GetBacktestReport(const TradingDeps& deps, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {"format"}));
  SINYAL_ASSIGN_OR_RETURN(int64_t id, ParseIdParam(ctx, "id", "backtest"));
  const std::string format = QueryParam(ctx, "format").value_or("markdown");
  SINYAL_ASSIGN_OR_RETURN(std::string body, deps.backtests->Report(Tenant(ctx), id, format));
  return Response::Text(200, std::move(body),
                        format == "markdown" ? "text/markdown; charset=utf-8" : "image/svg+xml");
}

// ---- Paper accounts ----

Result<Response> CreatePaperAccount(const TradingDeps& deps, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(Gate(deps, ctx, billing::kFeatPaperTrading));
  SINYAL_ASSIGN_OR_RETURN(JsonBody body, JsonBody::Parse(ctx.request));
  backtest::PaperCreateRequest req;
  SINYAL_ASSIGN_OR_RETURN(auto name, body.OptionalString("name", {.min_len = 1, .max_len = 100}));
  req.name = name.value_or("");
  const json* strategy = body.Raw("strategy");
  if (!strategy) return Status::InvalidArgument("strategy is required", "strategy");
  req.strategy = *strategy;
  SINYAL_ASSIGN_OR_RETURN(req.initial_balance, body.OptionalNumber("initial_balance", 1, 1e12));
  SINYAL_ASSIGN_OR_RETURN(auto url, body.OptionalString("webhook_url", {.max_len = 2000}));
  req.webhook_url = url.value_or("");
  SINYAL_RETURN_IF_ERROR(body.Finish());
  SINYAL_ASSIGN_OR_RETURN(auto created, deps.paper->Create(Tenant(ctx), User(ctx), req));
  json out = created.account.ToJson();
  if (!created.webhook_secret.empty()) out["webhook_secret"] = created.webhook_secret;
  Response r = Response::Json(201, out);
  r.headers.push_back({"Location", "/api/v1/paper-accounts/" + std::to_string(created.account.id)});
  return r;
}

Result<Response> ListPaperAccounts(const TradingDeps& deps, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {}));
  SINYAL_ASSIGN_OR_RETURN(auto list, deps.paper->List(Tenant(ctx), User(ctx)));
  json items = json::array();
  for (const auto& a : list) items.push_back(a.ToJson());
  return Response::Json(200, {{"accounts", items}});
}

Result<Response> GetPaperAccount(const TradingDeps& deps, Context& ctx) {
  SINYAL_ASSIGN_OR_RETURN(int64_t id, ParseIdParam(ctx, "id", "paper account"));
  SINYAL_ASSIGN_OR_RETURN(auto a, deps.paper->Get(Tenant(ctx), User(ctx), id));
  SINYAL_ASSIGN_OR_RETURN(auto positions, deps.paper->Positions(Tenant(ctx), User(ctx), id));
  json out = a.ToJson();
  out["positions"] = PositionsJson(positions);
  return Response::Json(200, out);
}

Result<Response> PaperPositions(const TradingDeps& deps, Context& ctx) {
  SINYAL_ASSIGN_OR_RETURN(int64_t id, ParseIdParam(ctx, "id", "paper account"));
  SINYAL_ASSIGN_OR_RETURN(auto positions, deps.paper->Positions(Tenant(ctx), User(ctx), id));
  return Response::Json(200, {{"positions", PositionsJson(positions)}});
}

Result<Response> PaperOrders(const TradingDeps& deps, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {"status", "limit", "before"}));
  SINYAL_ASSIGN_OR_RETURN(int64_t id, ParseIdParam(ctx, "id", "paper account"));
  const auto status = QueryParam(ctx, "status").value_or("all");
  if (status != "all" && status != "open") {
    return Status::InvalidArgument("status must be open or all", "status");
  }
  SINYAL_ASSIGN_OR_RETURN(size_t limit, LimitParam(ctx, 100, 1000));
  SINYAL_ASSIGN_OR_RETURN(int64_t before, IntParam(ctx, "before"));
  SINYAL_ASSIGN_OR_RETURN(
      auto orders, deps.paper->Orders(Tenant(ctx), User(ctx), id, status == "open", limit, before));
  json items = json::array();
  for (const auto& o : orders) items.push_back(backtest::ToJson(o));
  return Response::Json(200, {{"orders", items}});
}

// The order fields of POST .../orders, named as in the response's order objects.
Result<backtest::OrderRequest> ParseOrder(JsonBody& body) {
  backtest::OrderRequest r;
  SINYAL_ASSIGN_OR_RETURN(std::string symbol, body.String("symbol", {.min_len = 1, .max_len = 12}));
  auto sym = market::NormalizeSymbol(symbol);
  if (!sym.ok()) return Status::InvalidArgument(sym.error().message(), "symbol");
  r.symbol = *sym;
  SINYAL_ASSIGN_OR_RETURN(std::string side, body.String("side", {.max_len = 8}));
  SINYAL_ASSIGN_OR_RETURN(r.side, backtest::ParseSide(side));
  SINYAL_ASSIGN_OR_RETURN(auto type, body.OptionalString("type", {.max_len = 8}));
  SINYAL_ASSIGN_OR_RETURN(r.type, backtest::ParseOrderType(type.value_or("market")));
  SINYAL_ASSIGN_OR_RETURN(r.quantity, body.Number("quantity", 0, 1e12));
  SINYAL_ASSIGN_OR_RETURN(auto price, body.OptionalNumber("price", 0, 1e12));
  r.price = price.value_or(0);
  SINYAL_ASSIGN_OR_RETURN(auto tif, body.OptionalString("time_in_force", {.max_len = 4}));
  SINYAL_ASSIGN_OR_RETURN(r.tif, backtest::ParseTimeInForce(tif.value_or("gtc")));
  SINYAL_ASSIGN_OR_RETURN(auto expire, body.OptionalString("expire_at", {.max_len = 40}));
  if (expire) {
    auto t = ParseIso8601(*expire);
    if (!t.ok()) return Status::InvalidArgument(t.error().message(), "expire_at");
    r.expire_at = *t;
  }
  SINYAL_ASSIGN_OR_RETURN(auto reduce, body.OptionalBool("reduce_only"));
  r.reduce_only = reduce.value_or(false);
  for (auto [name, out] :
       {std::pair{"stop_loss", &r.stop_loss}, std::pair{"take_profit", &r.take_profit},
        std::pair{"stop_loss_distance", &r.stop_loss_distance},
        std::pair{"take_profit_distance", &r.take_profit_distance},
        std::pair{"trailing_distance", &r.trailing_distance}}) {
    SINYAL_ASSIGN_OR_RETURN(auto v, body.OptionalNumber(name, 0, 1e12));
    *out = v.value_or(0);
  }
  SINYAL_ASSIGN_OR_RETURN(auto tag, body.OptionalString("tag", {.max_len = 64}));
  r.tag = tag.value_or("");
  r.role = backtest::OrderRole::kManual;
  SINYAL_RETURN_IF_ERROR(body.Finish());
  return r;
}

Result<Response> SubmitPaperOrder(const TradingDeps& deps, Context& ctx) {
  SINYAL_ASSIGN_OR_RETURN(int64_t id, ParseIdParam(ctx, "id", "paper account"));
  SINYAL_ASSIGN_OR_RETURN(JsonBody body, JsonBody::Parse(ctx.request));
  SINYAL_ASSIGN_OR_RETURN(backtest::OrderRequest req, ParseOrder(body));
  SINYAL_ASSIGN_OR_RETURN(backtest::Order order,
                          deps.paper->SubmitOrder(Tenant(ctx), User(ctx), id, req));
  // A refusal by the risk rules is an order like any other, with status "rejected" and a reason.
  return Response::Json(201, backtest::ToJson(order));
}

Result<Response> CancelPaperOrder(const TradingDeps& deps, Context& ctx) {
  SINYAL_ASSIGN_OR_RETURN(int64_t id, ParseIdParam(ctx, "id", "paper account"));
  SINYAL_ASSIGN_OR_RETURN(int64_t order, ParseIdParam(ctx, "order_id", "order"));
  SINYAL_ASSIGN_OR_RETURN(backtest::Order o,
                          deps.paper->CancelOrder(Tenant(ctx), User(ctx), id, order));
  return Response::Json(200, backtest::ToJson(o));
}

Result<Response> PaperFills(const TradingDeps& deps, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {"limit", "before"}));
  SINYAL_ASSIGN_OR_RETURN(int64_t id, ParseIdParam(ctx, "id", "paper account"));
  SINYAL_ASSIGN_OR_RETURN(size_t limit, LimitParam(ctx, 100, 1000));
  SINYAL_ASSIGN_OR_RETURN(int64_t before, IntParam(ctx, "before"));
  SINYAL_ASSIGN_OR_RETURN(auto fills, deps.paper->Fills(Tenant(ctx), User(ctx), id, limit, before));
  json items = json::array();
  for (const auto& f : fills) items.push_back(backtest::ToJson(f));
  return Response::Json(200, {{"fills", items}});
}

Result<Response> PaperTrades(const TradingDeps& deps, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {"limit", "before"}));
  SINYAL_ASSIGN_OR_RETURN(int64_t id, ParseIdParam(ctx, "id", "paper account"));
  SINYAL_ASSIGN_OR_RETURN(size_t limit, LimitParam(ctx, 100, 1000));
  SINYAL_ASSIGN_OR_RETURN(int64_t before, IntParam(ctx, "before"));
  SINYAL_ASSIGN_OR_RETURN(auto trades,
                          deps.paper->Trades(Tenant(ctx), User(ctx), id, limit, before));
  json items = json::array();
  for (const auto& t : trades) items.push_back(backtest::ToJson(t));
  return Response::Json(200, {{"trades", items}});
}

Result<Response> PaperEquity(const TradingDeps& deps, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {"limit"}));
  SINYAL_ASSIGN_OR_RETURN(int64_t id, ParseIdParam(ctx, "id", "paper account"));
  SINYAL_ASSIGN_OR_RETURN(size_t limit, LimitParam(ctx, 1000, 10000));
  SINYAL_ASSIGN_OR_RETURN(auto points, deps.paper->Equity(Tenant(ctx), User(ctx), id, limit));
  json t = json::array(), e = json::array(), b = json::array();
  for (const auto& p : points) {
    t.push_back(FormatIso8601(p.time));
    e.push_back(p.equity);
    b.push_back(p.balance);
  }
  return Response::Json(200, {{"time", t}, {"equity", e}, {"balance", b}});
}

Result<Response> PaperEvents(const TradingDeps& deps, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {"after", "limit"}));
  SINYAL_ASSIGN_OR_RETURN(int64_t id, ParseIdParam(ctx, "id", "paper account"));
  SINYAL_ASSIGN_OR_RETURN(int64_t after, IntParam(ctx, "after"));
  SINYAL_ASSIGN_OR_RETURN(size_t limit, LimitParam(ctx, 100, 1000));
  SINYAL_ASSIGN_OR_RETURN(auto events,
                          deps.paper->Events(Tenant(ctx), User(ctx), id, after, limit));
  const int64_t next = events.empty() ? after : events.back()["seq"].get<int64_t>();
  return Response::Json(200, {{"events", events}, {"next_after", next}});
}

Result<Response> ClosePaperPositions(const TradingDeps& deps, Context& ctx) {
  SINYAL_ASSIGN_OR_RETURN(int64_t id, ParseIdParam(ctx, "id", "paper account"));
  SINYAL_ASSIGN_OR_RETURN(auto a, deps.paper->ClosePositions(Tenant(ctx), User(ctx), id));
  return Response::Json(200, a.ToJson());
}

Result<Response> ResetPaperAccount(const TradingDeps& deps, Context& ctx) {
  SINYAL_ASSIGN_OR_RETURN(int64_t id, ParseIdParam(ctx, "id", "paper account"));
  SINYAL_ASSIGN_OR_RETURN(auto a, deps.paper->Reset(Tenant(ctx), User(ctx), id));
  return Response::Json(200, a.ToJson());
}

Result<Response> ClosePaperAccount(const TradingDeps& deps, Context& ctx) {
  SINYAL_ASSIGN_OR_RETURN(int64_t id, ParseIdParam(ctx, "id", "paper account"));
  SINYAL_ASSIGN_OR_RETURN(auto a, deps.paper->CloseAccount(Tenant(ctx), User(ctx), id));
  return Response::Json(200, a.ToJson());
}

}  // namespace

void AddTradingRoutes(RouteTable& routes, TradingDeps deps) {
  auto add = [&](const char* method, const char* pattern, const char* scope,
                 Result<Response> (*fn)(const TradingDeps&, Context&), size_t max_body = 0) {
    routes.Add({.method = method,
                .pattern = pattern,
                .auth = AuthMode::kAny,
                .blocking = true,  // database work; a backtest's submission reads bars
                .max_body_bytes = max_body,
                .required_scope = scope,
                .billable = true,  // the plan's rate limit; submitting is gated by plan feature
                .handler = [deps, fn](Context& ctx) { return fn(deps, ctx); }});
  };
  constexpr size_t kStrategyBody = backtest::kMaxStrategyBytes;
  if (deps.backtests != nullptr) {
    add("POST", "/api/v1/backtests", "predict", SubmitBacktest, kStrategyBody);
    add("GET", "/api/v1/backtests", "read", ListBacktests);
    add("GET", "/api/v1/backtests/:id", "read", GetBacktest);
    add("POST", "/api/v1/backtests/:id/cancel", "predict", CancelBacktest);
    add("GET", "/api/v1/backtests/:id/report", "read", GetBacktestReport);
  }
  if (deps.paper == nullptr) return;
  add("POST", "/api/v1/paper-accounts", "predict", CreatePaperAccount, kStrategyBody + 4096);
  add("GET", "/api/v1/paper-accounts", "read", ListPaperAccounts);
  add("GET", "/api/v1/paper-accounts/:id", "read", GetPaperAccount);
  add("DELETE", "/api/v1/paper-accounts/:id", "predict", ClosePaperAccount);
  add("GET", "/api/v1/paper-accounts/:id/positions", "read", PaperPositions);
  add("GET", "/api/v1/paper-accounts/:id/orders", "read", PaperOrders);
  add("POST", "/api/v1/paper-accounts/:id/orders", "predict", SubmitPaperOrder, 16384);
  add("DELETE", "/api/v1/paper-accounts/:id/orders/:order_id", "predict", CancelPaperOrder);
  add("GET", "/api/v1/paper-accounts/:id/fills", "read", PaperFills);
  add("GET", "/api/v1/paper-accounts/:id/trades", "read", PaperTrades);
  add("GET", "/api/v1/paper-accounts/:id/equity", "read", PaperEquity);
  add("GET", "/api/v1/paper-accounts/:id/events", "read", PaperEvents);
  add("POST", "/api/v1/paper-accounts/:id/close-positions", "predict", ClosePaperPositions);
  add("POST", "/api/v1/paper-accounts/:id/reset", "predict", ResetPaperAccount);
}

}  // namespace sinyal::http
