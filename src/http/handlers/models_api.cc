// Model routes: per-tenant configuration, training jobs, versions, activation/rollback and the
// evaluation reports. Handlers parse the request, call models::ModelService / DbModelRegistry /
// store::JobQueue, and map the result to JSON. Every call is scoped to the caller's tenant:
// another tenant's job or model version is 404.
#include <map>
#include <nlohmann/json.hpp>

#include "core/time.h"
#include "http/api.h"
#include "http/handlers/horizon_param.h"
#include "http/json_body.h"
#include "http/query.h"
#include "market/edge_parse.h"
#include "models/registry_key.h"
#include "models/service.h"
#include "store/job_queue.h"

namespace sinyal::http {

using nlohmann::json;

namespace {

using Key = market::SeriesKey;

Result<Key> QueryKey(const Context& ctx) {
  SINYAL_ASSIGN_OR_RETURN(std::string s, RequiredQueryParam(ctx, "symbol"));
  SINYAL_ASSIGN_OR_RETURN(std::string tf, RequiredQueryParam(ctx, "timeframe"));
  return market::ParseSeriesKey(s, tf);
}

// Path parameters: a malformed symbol/timeframe in a path names no model, so it is a 404.
Result<Key> PathKey(const Context& ctx) {
  auto k = market::ParseSeriesKey(
      ctx.request.params.count("symbol") ? ctx.request.params.at("symbol") : "",
      ctx.request.params.count("timeframe") ? ctx.request.params.at("timeframe") : "");
  if (!k.ok()) return Status::NotFound("no such model: " + k.error().message(), k.error().field());
  return k;
}

TenantId Tenant(const Context& ctx) { return ctx.principal->tenant; }

// The active version of every horizon of the owner's series, as {horizon: version}.
Result<std::map<int, int64_t>> ActiveByHorizon(models::DbModelRegistry& reg, TenantId owner,
                                               const Key& k) {
  std::map<int, int64_t> out;
  SINYAL_ASSIGN_OR_RETURN(std::vector<int> horizons, reg.ActiveHorizons(owner, k));
  for (int h : horizons) {
    SINYAL_ASSIGN_OR_RETURN(out[h], reg.ActiveVersion(owner, k, h));
  }
  return out;
}

json ActiveJson(const std::map<int, int64_t>& active) {
  json a = json::array();
  for (const auto& [h, v] : active) a.push_back({{"horizon", h}, {"version", v}});
  return a;
}

std::string Actor(const Context& ctx) {
  if (ctx.principal->api_key) return "api_key:" + std::to_string(ctx.principal->api_key->value());
  return "user:" + std::to_string(ctx.principal->user.value());
}

// Changing models is for owners and admins (API keys: their creator's role, plus scope "admin",
// checked by the pipeline through Route::required_scope).
Status RequireAdmin(const Context& ctx, const std::string& what) {
  const accounts::Role r = ctx.principal->role;
  if (r != accounts::Role::kOwner && r != accounts::Role::kAdmin) {
    return Status::PermissionDenied("only owners and admins may " + what);
  }
  return Status::Ok();
}

// The whole JSON object of a body, after JsonBody's content-type and syntax checks.
Result<json> BodyObject(const Request& request) {
  SINYAL_RETURN_IF_ERROR(JsonBody::Parse(request).status());
  return json::parse(request.body, nullptr, false);
}

// A corrupted stored model is the server's problem, but the caller must learn which version and
// that nothing changed: a 409 naming the version rather than a generic 500.
Status CorruptedToConflict(const Status& s) {
  if (s.code() != StatusCode::kDataLoss) return s;
  return Status::FailedPrecondition(s.message() + "; the active model is unchanged", "version");
}

json JobJson(const store::Job& j) {
  json out = {{"id", j.id},
              {"kind", j.kind},
              {"status", std::string(store::JobStatusName(j.status))},
              {"progress", j.progress},
              {"stage", j.stage},
              {"attempts", j.attempts},
              {"max_attempts", j.max_attempts},
              // A transient failure (a dependency down) waits for its retry until this time.
              {"next_attempt_at", j.status == store::JobStatus::kQueued && j.run_after != 0
                                      ? json(FormatIso8601(j.run_after))
                                      : json(nullptr)},
              {"created_at", FormatIso8601(j.created_at)},
              {"started_at", j.started_at ? json(FormatIso8601(j.started_at)) : json(nullptr)},
              {"finished_at", j.finished_at ? json(FormatIso8601(j.finished_at)) : json(nullptr)},
              {"result", nullptr},
              {"error", nullptr}};
  if (!j.result.empty()) out["result"] = json::parse(j.result, nullptr, false);
  if (!j.error.empty()) out["error"] = json::parse(j.error, nullptr, false);
  auto payload = json::parse(j.payload, nullptr, false);
  if (payload.is_object()) {
    out["request"] = {{"symbol", payload.value("symbol", "")},
                      {"timeframe", payload.value("timeframe", "")},
                      {"overrides", payload.value("overrides", json::object())},
                      {"activate", payload.value("activate", false)}};
  }
  return out;
}

// What the model routes call, gathered once in AddModelRoutes.
struct ModelRoutesDeps {
  models::ModelService* service = nullptr;
  models::DbModelRegistry* registry = nullptr;
  store::JobQueue* jobs = nullptr;
};

// A model version named by the path: /models/:symbol/:timeframe/versions/:version.
struct VersionKey {
  Key k;
  int64_t v = 0;
};

Result<VersionKey> PathVersion(const Context& ctx) {
  VersionKey out;
  SINYAL_ASSIGN_OR_RETURN(out.k, PathKey(ctx));
  SINYAL_ASSIGN_OR_RETURN(out.v, ParseIdParam(ctx, "version", "model version"));
  return out;
}

// GET /api/v1/models/config
Result<Response> GetConfig(const ModelRoutesDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {"symbol", "timeframe"}));
  SINYAL_ASSIGN_OR_RETURN(Key k, QueryKey(ctx));
  SINYAL_ASSIGN_OR_RETURN(models::ModelConfigView v, d.service->GetConfig(Tenant(ctx), k));
  return Response::Json(200, v.ToJson());
}

// PUT /api/v1/models/config
Result<Response> PutConfig(const ModelRoutesDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(RequireAdmin(ctx, "change model configuration"));
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {"symbol", "timeframe"}));
  SINYAL_ASSIGN_OR_RETURN(Key k, QueryKey(ctx));
  SINYAL_ASSIGN_OR_RETURN(json body, BodyObject(ctx.request));
  SINYAL_ASSIGN_OR_RETURN(models::ModelConfigView v, d.service->PutConfig(Tenant(ctx), k, body));
  return Response::Json(200, v.ToJson());
}

// POST /api/v1/models/train: a training job, answered 202 with its URL.
Result<Response> Train(const ModelRoutesDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(RequireAdmin(ctx, "train models"));
  SINYAL_ASSIGN_OR_RETURN(json body, BodyObject(ctx.request));
  models::TrainRequest req;
  if (!body.contains("symbol")) {
    return Status::InvalidArgument("symbol is required", "symbol");
  }
  if (!body.contains("timeframe")) {
    return Status::InvalidArgument("timeframe is required", "timeframe");
  }
  if (!body["symbol"].is_string())
    return Status::InvalidArgument("symbol must be a string", "symbol");
  if (!body["timeframe"].is_string()) {
    return Status::InvalidArgument("timeframe must be a string", "timeframe");
  }
  SINYAL_ASSIGN_OR_RETURN(req.series, market::ParseSeriesKey(body["symbol"].get<std::string>(),
                                                             body["timeframe"].get<std::string>()));
  if (body.contains("activate")) {
    if (!body["activate"].is_boolean()) {
      return Status::InvalidArgument("activate must be true or false", "activate");
    }
    req.activate = body["activate"].get<bool>();
  }
  body.erase("symbol");
  body.erase("timeframe");
  body.erase("activate");
  req.overrides = std::move(body);  // the rest: configuration overrides
  req.actor = Actor(ctx);
  SINYAL_ASSIGN_OR_RETURN(int64_t id, d.service->EnqueueTraining(Tenant(ctx), req));
  Response r = Response::Json(
      202,
      {{"job_id", id}, {"status", "queued"}, {"status_url", "/api/v1/jobs/" + std::to_string(id)}});
  r.headers.emplace_back("Location", "/api/v1/jobs/" + std::to_string(id));
  return r;
}

// GET /api/v1/jobs/:id
Result<Response> GetJob(const ModelRoutesDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {}));
  SINYAL_ASSIGN_OR_RETURN(int64_t id, ParseIdParam(ctx, "id", "job"));
  SINYAL_ASSIGN_OR_RETURN(store::Job job, d.jobs->Get(Tenant(ctx), id));
  return Response::Json(200, JobJson(job));
}

// GET /api/v1/models: the tenant's versions of a series, what is active and what it is served.
Result<Response> ListModels(const ModelRoutesDeps& d, Context& ctx) {
  models::DbModelRegistry* reg = d.registry;
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {"symbol", "timeframe", "horizon"}));
  SINYAL_ASSIGN_OR_RETURN(Key k, QueryKey(ctx));
  SINYAL_ASSIGN_OR_RETURN(int horizon, HorizonQueryParam(ctx));
  const TenantId t = Tenant(ctx);
  SINYAL_ASSIGN_OR_RETURN(std::vector<models::ModelRecord> versions, reg->List(t, k));
  SINYAL_ASSIGN_OR_RETURN(auto active, ActiveByHorizon(*reg, t, k));
  SINYAL_ASSIGN_OR_RETURN(auto platform, ActiveByHorizon(*reg, models::kPlatformTenant, k));
  json list = json::array();
  for (const auto& r : versions) {
    auto it = active.find(r.schema.horizon);
    list.push_back(models::ModelVersionJson(r, it == active.end() ? 0 : it->second));
  }
  // `horizon` (default 1) picks the model line that active_version, platform_default
  // and serving describe; active / platform_active list every horizon.
  const auto mine = active.find(horizon);
  const auto theirs = platform.find(horizon);
  json out = {{"symbol", k.symbol},
              {"timeframe", models::KeyTimeframe(k.timeframe)},
              {"horizon", horizon},
              {"active_version", mine != active.end() ? json(mine->second) : json(nullptr)},
              {"active", ActiveJson(active)},
              {"platform_active", ActiveJson(platform)},
              {"versions", list},
              {"platform_default", nullptr}};
  // What the tenant is served at this horizon when it has no active model of its own.
  if (theirs != platform.end()) {
    auto prec = reg->GetRecord(models::kPlatformTenant, k, theirs->second);
    if (prec.ok()) out["platform_default"] = models::ModelVersionJson(*prec, std::nullopt);
  }
  out["serving"] =
      mine != active.end() ? "tenant" : (theirs != platform.end() ? "platform" : "none");
  return Response::Json(200, out);
}

// GET /api/v1/models/:symbol/:timeframe/versions/:version
Result<Response> GetVersion(const ModelRoutesDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {}));
  SINYAL_ASSIGN_OR_RETURN(VersionKey p, PathVersion(ctx));
  const Key& k = p.k;
  SINYAL_ASSIGN_OR_RETURN(models::ModelRecord r, d.registry->GetRecord(Tenant(ctx), k, p.v));
  auto a = d.registry->ActiveVersion(Tenant(ctx), k, r.schema.horizon);
  return Response::Json(200, models::ModelVersionJson(r, a.ok() ? *a : 0));
}

// POST /api/v1/models/:symbol/:timeframe/versions/:version/activate
Result<Response> Activate(const ModelRoutesDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(RequireAdmin(ctx, "activate models"));
  SINYAL_ASSIGN_OR_RETURN(VersionKey p, PathVersion(ctx));
  const Key& k = p.k;
  SINYAL_RETURN_IF_ERROR(
      CorruptedToConflict(d.registry->ActivateAs(Tenant(ctx), k, p.v, Actor(ctx))));
  SINYAL_ASSIGN_OR_RETURN(models::ModelRecord r, d.registry->GetRecord(Tenant(ctx), k, p.v));
  return Response::Json(200, {{"symbol", k.symbol},
                              {"timeframe", models::KeyTimeframe(k.timeframe)},
                              {"horizon", r.schema.horizon},
                              {"active_version", p.v}});
}

// POST /api/v1/models/:symbol/:timeframe/rollback
Result<Response> Rollback(const ModelRoutesDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(RequireAdmin(ctx, "roll back models"));
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {"horizon"}));
  SINYAL_ASSIGN_OR_RETURN(Key k, PathKey(ctx));
  SINYAL_ASSIGN_OR_RETURN(int horizon, HorizonQueryParam(ctx));
  auto v = d.registry->RollbackAs(Tenant(ctx), k, horizon, Actor(ctx));
  if (!v.ok()) return CorruptedToConflict(v.error());
  return Response::Json(200, {{"symbol", k.symbol},
                              {"timeframe", models::KeyTimeframe(k.timeframe)},
                              {"horizon", horizon},
                              {"active_version", *v}});
}

// GET /api/v1/models/:symbol/:timeframe/versions/:version/report?format=json|md
Result<Response> Report(const ModelRoutesDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {"format"}));
  std::string format = "json";
  if (auto it = ctx.request.query.find("format"); it != ctx.request.query.end()) {
    format = it->second;
  }
  if (format != "json" && format != "md") {
    return Status::InvalidArgument("format must be json or md", "format");
  }
  SINYAL_ASSIGN_OR_RETURN(VersionKey p, PathVersion(ctx));
  SINYAL_ASSIGN_OR_RETURN(models::StoredReport rep, d.registry->GetReport(Tenant(ctx), p.k, p.v));
  if (format == "md") {
    return Response::Text(200, rep.markdown, "text/markdown; charset=utf-8");
  }
  return Response::Text(200, rep.json, "application/json");
}

// GET .../report/{reliability,coverage}.svg: one figure of the stored report.
Result<Response> ReportFigure(const ModelRoutesDeps& d, Context& ctx,
                              std::string models::StoredReport::*figure) {
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {}));
  SINYAL_ASSIGN_OR_RETURN(VersionKey p, PathVersion(ctx));
  SINYAL_ASSIGN_OR_RETURN(models::StoredReport rep, d.registry->GetReport(Tenant(ctx), p.k, p.v));
  return Response::Text(200, rep.*figure, "image/svg+xml");
}

Result<Response> ReliabilityFigure(const ModelRoutesDeps& d, Context& ctx) {
  return ReportFigure(d, ctx, &models::StoredReport::reliability_svg);
}

Result<Response> CoverageFigure(const ModelRoutesDeps& d, Context& ctx) {
  return ReportFigure(d, ctx, &models::StoredReport::coverage_svg);
}

}  // namespace

void AddModelRoutes(RouteTable& routes, models::ModelService& service, store::JobQueue& jobs) {
  auto d = std::make_shared<const ModelRoutesDeps>(
      ModelRoutesDeps{&service, &service.registry(), &jobs});
  auto bind = [d](Result<Response> (*handler)(const ModelRoutesDeps&, Context&)) {
    return [d, handler](Context& ctx) { return handler(*d, ctx); };
  };
  routes.Add({.method = "GET",
              .pattern = "/api/v1/models/config",
              .auth = AuthMode::kAny,
              .required_scope = "read",
              .handler = bind(&GetConfig)});
  routes.Add({.method = "PUT",
              .pattern = "/api/v1/models/config",
              .auth = AuthMode::kAny,
              .required_scope = "admin",
              .handler = bind(&PutConfig)});
  routes.Add({.method = "POST",
              .pattern = "/api/v1/models/train",
              .auth = AuthMode::kAny,
              .blocking = true,  // reads the series' newest bars to check there are enough
              .required_scope = "admin",
              .handler = bind(&Train)});
  routes.Add({.method = "GET",
              .pattern = "/api/v1/jobs/:id",
              .auth = AuthMode::kAny,
              .required_scope = "read",
              .handler = bind(&GetJob)});
  routes.Add({.method = "GET",
              .pattern = "/api/v1/models",
              .auth = AuthMode::kAny,
              .required_scope = "read",
              .handler = bind(&ListModels)});
  routes.Add({.method = "GET",
              .pattern = "/api/v1/models/:symbol/:timeframe/versions/:version",
              .auth = AuthMode::kAny,
              .required_scope = "read",
              .handler = bind(&GetVersion)});
  routes.Add({.method = "POST",
              .pattern = "/api/v1/models/:symbol/:timeframe/versions/:version/activate",
              .auth = AuthMode::kAny,
              .blocking = true,  // loads and verifies the model first
              .required_scope = "admin",
              .handler = bind(&Activate)});
  routes.Add({.method = "POST",
              .pattern = "/api/v1/models/:symbol/:timeframe/rollback",
              .auth = AuthMode::kAny,
              .blocking = true,
              .required_scope = "admin",
              .handler = bind(&Rollback)});
  routes.Add({.method = "GET",
              .pattern = "/api/v1/models/:symbol/:timeframe/versions/:version/report",
              .auth = AuthMode::kAny,
              .required_scope = "read",
              .handler = bind(&Report)});
  routes.Add(
      {.method = "GET",
       .pattern = "/api/v1/models/:symbol/:timeframe/versions/:version/report/reliability.svg",
       .auth = AuthMode::kAny,
       .required_scope = "read",
       .handler = bind(&ReliabilityFigure)});
  routes.Add({.method = "GET",
              .pattern = "/api/v1/models/:symbol/:timeframe/versions/:version/report/coverage.svg",
              .auth = AuthMode::kAny,
              .required_scope = "read",
              .handler = bind(&CoverageFigure)});
}

}  // namespace sinyal::http
