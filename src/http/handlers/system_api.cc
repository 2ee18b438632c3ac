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

}  // namespace

void AddSystemRoutes(RouteTable& routes, SystemDeps deps) {
  auto shared = std::make_shared<SystemDeps>(std::move(deps));

  routes.Add(
      {.method = "GET", .pattern = "/healthz", .handler = [shared](Context&) -> Result<Response> {
         return Response::Json(200, {{"status", "ok"}, {"version", shared->version}});
       }});

  routes.Add({.method = "GET",
              .pattern = "/readyz",
              .handler = [shared](Context& ctx) -> Result<Response> {
                Status s = shared->ready ? shared->ready() : Status::Ok();
                if (!s.ok()) {
                  return ProblemResponse(503, "not-ready", s.message(), "", ctx.request_id);
                }
                return Response::Json(200, {{"status", "ready"}});
              }});

  routes.Add(
      {.method = "GET", .pattern = "/metrics", .handler = [shared](Context&) -> Result<Response> {
         return Response::Text(200, shared->metrics ? shared->metrics->RenderPrometheus() : "",
                               "text/plain; version=0.0.4; charset=utf-8");
       }});

  routes.Add({.method = "GET",
              .pattern = "/api/v1/openapi.json",
              .handler = [](Context&) -> Result<Response> {
                return Response::Text(200, OpenApiDocument(), "application/json");
              }});

  routes.Add({.method = "GET", .pattern = "/docs", .handler = [](Context&) -> Result<Response> {
                return Response::Text(200, std::string(kDocsPage), "text/html; charset=utf-8");
              }});

  routes.Add(
      {.method = "GET",
       .pattern = "/docs/redoc.standalone.js",
       .handler = [shared](Context&) -> Result<Response> {
         // Read once, then served from memory.
         static const std::string* js = [&]() -> const std::string* {
           std::ifstream in(shared->docs_assets_dir + "/redoc.standalone.js", std::ios::binary);
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
       }});
}

}  // namespace sinyal::http
