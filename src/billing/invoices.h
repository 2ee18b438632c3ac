// Invoices per subscription period (issue 6): base price + overage, IDR integers.
//
// The invoice of period [start, end) of a tenant:
//   plan          the highest-priced plan the tenant held at any time during the period
//                 (subscription_events), so a downgrade just before the period ends does not
//                 avoid the period's price; Free-only periods get a 0 invoice (kept for history)
//   base_idr      the price_idr of the highest-priced plan held through an operator's
//                 assignment (billed in arrears; current operator price at generation time).
//                 Plans bought through self-service checkout are paid in advance by term
//                 invoices (billing/account.h): they add no base here, so a Pro period paid by
//                 checkout has base 0 and only its overage
//   overage_*     from the usage ledger rows of the period: SUM(overage_units), SUM(cost_idr)
//                 (each row carries the price of its overage band(s) when it was charged,
//                 billing/overage.h)
//   total_idr     base_idr + overage_idr
// A period is invoiced once it is closed: end + grace <= now (grace lets commits reserved just
// before the end land first). Generation is idempotent: UNIQUE (tenant, period_start), and an
// existing invoice is returned unchanged.
//
// Thread safety: Invoices is thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "billing/plans.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/status.h"
#include "store/fwd.h"

namespace sinyal::billing {

struct Invoice {
  int64_t id = 0;
  TenantId tenant;
  UnixNanos period_start = 0, period_end = 0;
  std::string plan;
  int64_t base_idr = 0;
  int64_t units = 0;  // every charged unit of the period
  int64_t overage_units = 0;
  int64_t overage_idr = 0;
  int64_t total_idr = 0;
  std::string status;  // "open" (payments/ will mark them paid)
  UnixNanos created_at = 0;
  // {"id","tenant_id","period":{"start","end"},"plan","base_idr","units","overage_units",
  //  "overage_idr","total_idr","status","created_at"} (times ISO-8601 UTC)
  nlohmann::json ToJson() const;
};

struct InvoicesOptions {
  // A period is closed for invoicing at end + grace. Default: 60 s.
  int64_t grace_seconds = 60;
  // At most this many periods are invoiced per tenant per GenerateClosed run (catch-up bound).
  int max_periods_per_run = 24;
};

class Invoices {
 public:
  // REQUIRES: db and subscriptions outlive this.
  Invoices(store::Database& db, Subscriptions& subscriptions, InvoicesOptions options = {});

  // The invoice of the tenant's period with index `period_index` (0 = first period), creating
  // it if needed. FailedPrecondition("period") if that period is not closed at `now`;
  // InvalidArgument("period") for a negative index.
  [[nodiscard]] Result<Invoice> Generate(TenantId tenant, int64_t period_index, UnixNanos now);
  // Invoices every closed, not yet invoiced period of every subscription. Returns how many
  // invoices were created (0 when run again).
  [[nodiscard]] Result<int> GenerateClosed(UnixNanos now);
  // The tenant's invoices, newest period first.
  [[nodiscard]] Result<std::vector<Invoice>> List(TenantId tenant);

 private:
  Result<Invoice> GenerateImpl(TenantId tenant, int64_t period_index, UnixNanos now, bool* created);

  store::Database& db_;
  Subscriptions& subs_;
  InvoicesOptions options_;
};

}  // namespace sinyal::billing
