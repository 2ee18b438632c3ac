// Subscription revenue figures for operators (issue 11, deliverable 6): MRR, ARPU, churn, and
// how they reconcile with the settled payments. System scope (every tenant); reads only.
//
// Per UTC calendar month M in [from, to):
//   settled_idr      sum of settlements received in M (payments table)
//   returned_idr     refunds + chargebacks + reversals paid back in M (a positive number)
//   net_idr          settled_idr - returned_idr: the cash of M
//   mrr_idr          at the end of M (or now, for the running month): the sum over paid terms
//                    running at that instant of the term's subtotal / its months (a yearly
//                    term counts 1/12 per month, floor), a term upgraded away ending at the
//                    upgrade's payment; revoked terms don't count
//   paying_tenants   tenants with such a running term; arpu_idr = mrr_idr / paying_tenants
//                    (floor; 0 with none)
//   new_paying       tenants whose first paid term invoice was paid in M
//   cancellations    subscriptions that ended in M because the tenant cancelled ("cancelled")
//   lapses           subscriptions that ended in M unpaid after the grace period ("lapsed")
//   churn_rate       (cancellations + lapses) / paying tenants at the start of M (null: none)
// Reconciliation over all time and tenants: sum(payments) == sum(billing_accounts.cash_idr),
// and cash + written_off == earned + credit balance + credit held by open invoices, both to
// the rupiah (billing/account.h); "ok" when both hold.
#pragma once

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/status.h"
#include "store/fwd.h"

namespace sinyal::billing {

// {"months":[{"month":"2024-04","settled_idr",...}], "totals":{...},
//  "reconciliation":{"payments_idr","accounts_cash_idr","earned_idr","credit_balance_idr",
//  "credit_held_idr","written_off_idr","difference_idr","ok"}}
// InvalidArgument("from") when from >= to or the range exceeds 36 months.
[[nodiscard]] Result<nlohmann::json> SubscriptionRevenue(store::Database& db, UnixNanos from,
                                                         UnixNanos to, UnixNanos now);

}  // namespace sinyal::billing
