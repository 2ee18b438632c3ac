// The ordered middleware list every request goes through (userver's DefaultPipeline).
// Each stage, in order, and why it is where it is:
//   1. request id      — first, so every later log line and error can quote it
//   2. metrics/timing  — wraps everything below, errors included
//   3. catch-all       — an exception anywhere below becomes a 500 problem with the request id
//   4. body limit      — reject oversized bodies (413) before any parsing or auth work
//   5. auth            — resolves the principal (and so the tenant) or answers 401/403
//   6. handler         — thin: parse, call the domain, map to JSON
//   7. access log      — one JSON line per request, after the status is known (no secrets)
// Rate limiting and quota (billing) slot in between auth and handler.
#pragma once

#include <memory>
#include <string>

#include "accounts/accounts.h"
#include "core/clock.h"
#include "http/http.h"
#include "http/metrics.h"

namespace sinyal::http {

struct PipelineOptions {
  size_t max_body_bytes = 1 << 20;  // Default: 1 MiB. Routes may set their own (uploads).
  bool access_log = true;           // Default: on.
};

// Thread-safe after construction.
class Pipeline {
 public:
  // `accounts` may be null only when no route requires auth.
  Pipeline(const RouteTable& routes, accounts::AccountService* accounts, Metrics& metrics,
           Clock& clock, PipelineOptions options);

  // Runs the pipeline for routes()[route_index], or for an unmatched request when
  // route_index < 0 (answers 404, or 405 with Allow when another method matches the path).
  // Never throws.
  Response Handle(int route_index, const Request& request);

  const RouteTable& routes() const { return routes_; }

 private:
  Response Run(int route_index, const Request& request, Context& ctx);
  Result<accounts::Principal> Authenticate(const Route& route, const Request& request);

  const RouteTable& routes_;
  accounts::AccountService* accounts_;
  Metrics& metrics_;
  Clock& clock_;
  PipelineOptions options_;
  std::vector<size_t> route_metrics_;
  size_t unmatched_metrics_;
};

// True when the express-style pattern ("/a/:id/b") matches `path`; fills params when given.
bool MatchPattern(std::string_view pattern, std::string_view path,
                  std::map<std::string, std::string, std::less<>>* params = nullptr);

}  // namespace sinyal::http
