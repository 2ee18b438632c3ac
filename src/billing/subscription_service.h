// Self-service subscriptions stored in the database (issue 11): BillingAccount (billing/account.h)
// loaded, changed and saved in ONE tenant transaction per operation, with its audit events.
//
// Each operation: lock the tenant's billing_accounts row (PostgreSQL SELECT ... FOR UPDATE;
// SQLite BEGIN IMMEDIATE), load the account and its term invoices, advance it to `now`, apply
// the operation (and the caller's own writes, see Apply), then write: the account row, the
// created or changed term invoices, the credit_ledger / payments / billing_events rows it
// produced (append-only), and the plan switches through Subscriptions::ChangePlanInTx (so the
// subscription's plan, its event rows and the payment are one commit). After the commit the
// tenant's cached subscription is dropped (the new plan's quota and rate limit apply at once in
// this process; other processes within Subscriptions' cache TTL) and listeners get the events.
//
// Events for other modules (notify/ sends "payment settled", "renewal due", ...): read
// billing_events by id with EventsSince (system scope, a cursor), or Subscribe in process.
//
// Thread safety: SubscriptionService is thread-safe; operations on one tenant serialize on its
// account row.
#pragma once

#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "billing/account.h"
#include "billing/account_notices.h"
#include "billing/plans.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/status.h"
#include "store/fwd.h"

namespace sinyal::billing {

struct SubscriptionServiceOptions {
  // Renewal invoices are issued this long before the term ends. Default: 7 days. [0, 60 days]
  int64_t renewal_notice = 7 * kNanosPerDay;
  // Unpaid after the term end, the plan is kept this long before falling back to Free.
  // Default: 3 days. [0, 60 days]
  int64_t grace = 3 * kNanosPerDay;
};

// An event row of billing_events.
struct StoredEvent {
  int64_t id = 0;  // 0 for in-process listeners (rows get theirs at insert)
  TenantId tenant;
  std::string kind;
  int64_t invoice = 0;  // seq, 0 when none
  nlohmann::json data;
  std::string actor;
  UnixNanos at = 0, recorded_at = 0;
  // {"id","tenant_id","kind","invoice","data","actor","at","recorded_at"} (times ISO-8601)
  nlohmann::json ToJson() const;
};

// The account notice (account_notices.h) an event calls for, if any: the one rule of which
// billing events reach the tenant's owners.
//   invoice_paid with a charge (total_idr > 0)     payment settled (plan, amount)
//   payment_failed, payment_denied                  payment failed (amount, Midtrans's status)
//   renewal_invoiced with a charge                  renewal due (plan, amount, due_at)
//   past_due                                        renewal due (plan; due_at = grace_until)
// Each notice's event_id is unique per event (kind and invoice or order), so a repeat of the
// event is delivered once.
std::optional<AccountNotice> NoticeForEvent(const StoredEvent& event);

// A cash row of the payments table.
struct CashRow {
  int64_t id = 0;
  TenantId tenant;
  int64_t invoice = 0;
  std::string kind;  // settlement | refund | chargeback | reversal
  int64_t amount_idr = 0;
  std::string reference;
  UnixNanos at = 0;
  nlohmann::json ToJson() const;
};

// The JSON of a term invoice for the API:
// {"id": seq, "number": "T<tenant>-<seq>", "kind", "plan", "period" (term), "status", "lines":
//  {"subtotal_idr","proration_credit_idr","credit_applied_idr","total_idr"}, "refunded_idr",
//  "credited_idr", "created_at", "paid_at", "due_at", "term": {"start","end"} | null, ...}
nlohmann::json TermInvoiceJson(TenantId tenant, const TermInvoice& invoice);

// What GET /billing/subscription shows.
struct AccountView {
  TenantId tenant;
  TermState state;
  std::vector<TermInvoice> invoices;  // newest first
  int64_t balance_idr = 0;
  Reconciliation reconciliation;
  nlohmann::json ToJson() const;
};

struct CheckoutResult {
  CheckoutOutcome outcome;
  std::optional<TermInvoice> invoice;  // kInvoice
  TermState state;                     // after the checkout
};

class SubscriptionService {
 public:
  // REQUIRES: db, subscriptions (and its PlanStore) outlive this; db is migrated.
  SubscriptionService(store::Database& db, Subscriptions& subscriptions,
                      SubscriptionServiceOptions options = {});

  // The money rules' view of the plans: month = price_idr, year = yearly_price_idr.
  // InvalidArgument("period") when the plan isn't sold for that term (price 0), NotFound("plan").
  const AccountRules& rules() const { return rules_; }

  // The caller's part of an operation, run inside the operation's transaction after the
  // account was advanced to `now`: may change the account and write its own rows with `tx`.
  // An error rolls everything back. May run more than once (the transaction is retried on
  // SQLITE_BUSY / serialization failures): no side effects outside `tx` and the account.
  using Op = std::function<Status(BillingAccount& account, soci::session& tx)>;
  // Runs `op` on the tenant's account (see the file comment). `actor` is recorded on the
  // events ("user:7", "operator:2", "midtrans", "system"). FailedPrecondition when the tenant
  // does not exist.
  [[nodiscard]] Status Apply(TenantId tenant, UnixNanos now, const std::string& actor,
                             const Op& op);

  // Checkout of `plan` for `term` (billing/account.h BillingAccount::Checkout).
  [[nodiscard]] Result<CheckoutResult> Checkout(TenantId tenant, const std::string& plan, Term term,
                                                UnixNanos now, const std::string& actor);
  // Cancel at the term end.
  [[nodiscard]] Result<TermState> Cancel(TenantId tenant, UnixNanos now, const std::string& actor);
  // The account, advanced to `now` (and saved when that changed anything).
  [[nodiscard]] Result<AccountView> View(TenantId tenant, UnixNanos now);
  // One invoice. NotFound("id").
  [[nodiscard]] Result<TermInvoice> Invoice(TenantId tenant, int64_t seq);

  // Advances every account whose next deadline is due (renewal invoices, term ends, grace
  // ends); at most `limit` accounts per call. Returns how many were advanced. serve runs it
  // every minute (several servers may: each account is locked while advanced).
  [[nodiscard]] Result<int> AdvanceDue(UnixNanos now, int limit = 500);

  // Events, oldest first, with id > after_id (system scope: every tenant). For readers that
  // keep a cursor (notify/). limit in [1, 1000].
  [[nodiscard]] Result<std::vector<StoredEvent>> EventsSince(int64_t after_id, int limit);
  // The tenant's events, newest first.
  [[nodiscard]] Result<std::vector<StoredEvent>> Events(TenantId tenant, int limit);
  // The tenant's cash rows, newest first.
  [[nodiscard]] Result<std::vector<CashRow>> Payments(TenantId tenant, int limit);
  // Calls `listener` after every commit with its events, on the committing thread. Keep it
  // short; it must not call back into this service. REQUIRES: before concurrent use.
  void Subscribe(std::function<void(const StoredEvent&)> listener);

 private:
  Result<BillingAccount> LoadLocked(soci::session& tx, TenantId tenant, UnixNanos now,
                                    int64_t* stored_next_seq);
  Status Save(soci::session& tx, TenantId tenant, UnixNanos now, const std::string& actor,
              BillingAccount& account, int64_t stored_next_seq,
              std::vector<StoredEvent>* events_out, bool* plan_switched);

  store::Database& db_;
  Subscriptions& subs_;
  SubscriptionServiceOptions options_;
  AccountRules rules_;
  std::vector<std::function<void(const StoredEvent&)>> listeners_;
};

}  // namespace sinyal::billing
