// Route registration for each area of the API. Handlers are thin: parse the request into a
// typed struct, call a domain function, map the result to JSON.
#pragma once

#include <functional>
#include <string>

#include "accounts/accounts.h"
#include "http/http.h"
#include "http/metrics.h"

namespace sinyal::http {

// /api/v1/auth/*, /api/v1/operator/login, /api/v1/me, /api/v1/api-keys*, /api/v1/members*.
void AddAccountRoutes(RouteTable& routes, accounts::AccountService& accounts);

struct SystemDeps {
  std::function<Status()> ready;        // /readyz: OK when the database answers and not draining
  const Metrics* metrics = nullptr;     // /metrics
  std::string docs_assets_dir;          // directory holding redoc.standalone.js for /docs
  std::string version;                  // build version for /healthz
};
// /healthz, /readyz, /metrics, /api/v1/openapi.json, /docs.
// REQUIRES: called last, after every other Add*Routes, so the OpenAPI check sees all routes.
void AddSystemRoutes(RouteTable& routes, SystemDeps deps);

// The OpenAPI 3.1 document served at /api/v1/openapi.json.
const std::string& OpenApiDocument();

// Positive integer id from a route parameter; NotFound(what) otherwise.
Result<int64_t> ParseIdParam(const Context& ctx, const std::string& name, const std::string& what);

}  // namespace sinyal::http
