// Operators' analytics (issue 6, deliverable 6), system scope (every tenant). Definitions are
// in docs/billing.md ("Analytics"); in short:
//   UsageByPlanAndDay  ledger rows grouped by UTC day of `at` and by the plan charged
//   TopTenants         ledger rows in [from, to) grouped by tenant, most units first
//   Revenue            invoices grouped by the UTC calendar month of their period start:
//                      revenue = SUM(total_idr), MRR = SUM(base_idr) (recurring part),
//                      overage = SUM(overage_idr); plus the run-rate MRR of the subscriptions
//                      active now (current plan prices)
//   QuotaBurnDown      per tenant, the current period: cumulative use per day, remaining quota,
//                      and a linear month-end forecast: rate = used / max(elapsed days, 1),
//                      forecast = used + rate x days left; projected exhaustion when the rate
//                      would use the quota up before the period ends
// All reads; no side effects. Thread safety: Analytics is thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>

#include "billing/plans.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/status.h"
#include "store/fwd.h"

namespace sinyal::billing {

class Analytics {
 public:
  // REQUIRES: db and subscriptions outlive this.
  Analytics(store::Database& db, Subscriptions& subscriptions);

  // [{"date":"2024-03-02","plan","calls","units","overage_units","cost_idr"}], by date then
  // plan. InvalidArgument("from") when from >= to or the range exceeds 400 days.
  [[nodiscard]] Result<nlohmann::json> UsageByPlanAndDay(UnixNanos from, UnixNanos to);
  // [{"tenant_id","tenant","plan","calls","units","overage_units","cost_idr"}], most units
  // first. limit in [1, 1000] (else InvalidArgument("limit")).
  [[nodiscard]] Result<nlohmann::json> TopTenants(UnixNanos from, UnixNanos to, int limit);
  // {"months":[{"month":"2024-03","invoices","revenue_idr","mrr_idr","overage_idr"}],
  //  "total_revenue_idr","run_rate_mrr_idr","paying_subscriptions"}
  [[nodiscard]] Result<nlohmann::json> Revenue(UnixNanos from, UnixNanos to);
  // [{"tenant_id","tenant","plan","period":{"start","end"},"quota" (null: unlimited),"used",
  //   "remaining","elapsed_days","daily_rate","forecast_month_end","forecast_over_quota",
  //   "projected_exhaustion" (ISO or null),"burn_down":[{"date","used","remaining"}]}]
  // for the `limit` tenants with the most use this period (or only `tenant`).
  [[nodiscard]] Result<nlohmann::json> QuotaBurnDown(UnixNanos now, int limit,
                                                     std::optional<TenantId> tenant = {});

 private:
  store::Database& db_;
  Subscriptions& subs_;
};

}  // namespace sinyal::billing
