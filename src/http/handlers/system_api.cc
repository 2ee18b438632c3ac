#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "http/api.h"
#include "http/problem.h"

namespace sinyal::http {
namespace {

constexpr std::string_view kDocsPage = R"html(<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Sinyal API reference</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <link rel="icon" href="data:,">
  <style>body { margin: 0; padding: 0; }</style>
</head>
<body>
  <redoc spec-url="/api/v1/openapi.json" hide-download-button="false"></redoc>
  <script src="/docs/redoc.standalone.js"></script>
</body>
</html>
)html";

// GET /healthz
Result<Response> Healthz(const SystemDeps& d, Context&) {
  return Response::Json(200, {{"status", "ok"}, {"version", d.version}});
}

// GET /readyz
Result<Response> Readyz(const SystemDeps& d, Context& ctx) {
  Status s = d.ready ? d.ready() : Status::Ok();
  if (!s.ok()) {
    return ProblemResponse(503, "not-ready", s.message(), "", ctx.request_id);
  }
  return Response::Json(200, {{"status", "ready"}});
}

// GET /metrics
Result<Response> PrometheusMetrics(const SystemDeps& d, Context&) {
  return Response::Text(200, d.metrics ? d.metrics->RenderPrometheus() : "",
                        "text/plain; version=0.0.4; charset=utf-8");
}

// GET /api/v1/openapi.json
Result<Response> OpenApi(const SystemDeps&, Context&) {
  return Response::Text(200, OpenApiDocument(), "application/json");
}

// GET /docs
Result<Response> Docs(const SystemDeps&, Context&) {
  return Response::Text(200, std::string(kDocsPage), "text/html; charset=utf-8");
}

// GET /docs/redoc.standalone.js
Result<Response> RedocJs(const SystemDeps& d, Context&) {
  // Read once, then served from memory.
  static const std::string* js = [&]() -> const std::string* {
    std::ifstream in(d.docs_assets_dir + "/redoc.standalone.js", std::ios::binary);
    if (!in) return nullptr;
    std::stringstream ss;
    ss << in.rdbuf();
    return new std::string(ss.str());
  }();
  if (js == nullptr) {
    return Status::NotFound("Redoc is not installed: run scripts/build.sh (npm ci in web/)");
  }
  Response r = Response::Text(200, *js, "application/javascript; charset=utf-8");
  return r;
}

}  // namespace

void AddSystemRoutes(RouteTable& routes, SystemDeps deps) {
  auto d = std::make_shared<const SystemDeps>(std::move(deps));
  auto bind = [d](Result<Response> (*handler)(const SystemDeps&, Context&)) {
    return [d, handler](Context& ctx) { return handler(*d, ctx); };
  };
  routes.Add({.method = "GET", .pattern = "/healthz", .handler = bind(&Healthz)});
  routes.Add({.method = "GET", .pattern = "/readyz", .handler = bind(&Readyz)});
  routes.Add({.method = "GET", .pattern = "/metrics", .handler = bind(&PrometheusMetrics)});
  routes.Add({.method = "GET", .pattern = "/api/v1/openapi.json", .handler = bind(&OpenApi)});
  routes.Add({.method = "GET", .pattern = "/docs", .handler = bind(&Docs)});
  routes.Add({.method = "GET", .pattern = "/docs/redoc.standalone.js", .handler = bind(&RedocJs)});
}

}  // namespace sinyal::http
