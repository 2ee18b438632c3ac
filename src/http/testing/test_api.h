// The whole API over one database, wired as `sinyal serve` wires it but without the network:
// tests drive its routes through the real Pipeline (auth, plan + rate limit, handlers, problem
// mapping). Shared by http/'s tests (the OpenAPI route check, the entitlements test).
//
// Thread safety: as Pipeline (Call may run on several threads).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "accounts/accounts.h"
#include "billing/entitlements.h"
#include "billing/metered_call.h"
#include "billing/plans.h"
#include "core/clock.h"
#include "http/http.h"
#include "http/pipeline.h"
#include "models/fwd.h"
#include "signals/fwd.h"
#include "store/fwd.h"

namespace sinyal::http::testing {

class TestApi {
 public:
  // REQUIRES: db is migrated; db and clock outlive the TestApi. `rate_limits`: a local limiter
  // in the metered-call flow (else none).
  TestApi(store::Database& db, Clock& clock, bool rate_limits = false);
  ~TestApi();
  TestApi(const TestApi&) = delete;
  TestApi& operator=(const TestApi&) = delete;

  const RouteTable& routes() const;
  accounts::AccountService& accounts();
  billing::PlanStore& plans();
  billing::Subscriptions& subscriptions();
  billing::Entitlements& entitlements();
  billing::MeteredCalls& metered();
  billing::Meter& meter();
  store::BarStore& bars();
  models::ModelService& models();  // report_folds 2, one XGBoost thread
  signals::SignalService& signals();
  signals::DbSignalLog& signal_log();

  struct Tenant {
    TenantId id;
    std::string token;    // the owner's access token
    std::string api_key;  // an API key with the default scopes
  };
  // Registers a tenant (its owner signs in), creates an API key and moves the tenant to `plan`.
  Tenant NewTenant(const std::string& name, const std::string& plan = "free");

  // Runs `method` `target` ("/api/v1/x?a=b&c=d": query values are taken as written, undecoded)
  // through the pipeline, with `headers` (lower-case names). 404/405 when no route matches.
  Response Call(const std::string& method, const std::string& target, Headers headers = {},
                std::string body = "");

 private:
  struct Parts;
  std::unique_ptr<Parts> p_;
};

// The value of header `name` (lower-case) of `r`, or "" when absent.
std::string HeaderOf(const Response& r, std::string_view name);

}  // namespace sinyal::http::testing
