// Self-service subscriptions: the term state machine and its money rules, as pure code (issue 11).
//
// A tenant's BillingAccount holds its subscription state, its term invoices and its credit
// balance. Every operation takes `now` and changes the account in memory only; the caller
// (billing/subscription_service.h) loads the account in a transaction, applies one operation,
// and writes the changes, the audit events and the credit and payment entries it produced.
// Nothing here touches a database, a clock or the network, so the whole state machine is
// tested directly, including a property test over random sequences (account_test.cc).
//
// TERMS. A paid plan is bought for a term: a month or a year (AddMonths of 1 or 12 from the
// term start, the calendar rule of billing/plans.h). The term price is the plan's price_idr
// (month) or yearly_price_idr (year). Usage periods (quota, metering) stay monthly on the
// subscription's anchor; terms only decide which plan the tenant holds and what it paid.
//
// STATES.  free --checkout+payment--> active --term end, renewal paid--> active (next term)
//          active --term end, renewal unpaid--> past_due (plan kept for the grace period)
//          past_due --renewal paid--> active (the new term starts at the old term's end)
//          past_due --grace over--> free (lapsed)        active --cancelled, term end--> free
//
// MONEY RULES (whole rupiah, int64; docs/payments.md has worked examples):
//  * Invoice lines: subtotal S (the term price) = proration credit U + balance credit B +
//    total T. T is what the customer pays through Midtrans. B = min(balance, S - U) is taken
//    from the credit balance when the invoice is issued and returned if it is voided.
//  * Upgrade = the new term costs more than the current term's subtotal: it takes effect when
//    paid; the new term starts at the payment. U = the unused value of the current term at
//    checkout: floor(V x remaining_seconds / term_seconds), V = its subtotal minus refunds
//    (UnusedValue). That value is "credited" on the old invoice (it stops counting as earned).
//  * Any other change (cheaper or equal-priced term) is a downgrade: scheduled for the term end,
//    when the renewal invoice is issued for the new plan. Cancel: at the term end, to Free.
//  * Renewal: an invoice for the next term is issued `renewal_notice` before the term ends
//    (Midtrans can't auto-charge VA/QRIS/ShopeePay). Unpaid at the term end: past_due for
//    `grace`; then Free. A renewal paid late still starts at the old term's end (no gap).
//  * An invoice whose total is 0 (all credit) is paid at once, without Midtrans.
//  * Refunds return cash (Midtrans refunds it). A partial refund keeps the plan and lowers the
//    invoice's value V. A full refund (all cash of the invoice), a chargeback or a reversal
//    (settlement turned deny) REVOKES the invoice: its credit B returns to the balance, the
//    credit it took from the previous term is undone, and if it paid the current term the
//    tenant goes back to the previous term when that is still running, else to Free.
//  * A payment for a voided invoice (paid after it was superseded) becomes credit balance.
//  * Reconcile(): cash + written_off == earned + balance + credit held by open invoices, per
//    tenant, to the rupiah (written_off: value lost to forced reversals of already-credited
//    invoices, which can't be undone). account_test.cc checks it after every step.
//
// Thread safety: a BillingAccount is a value; not thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/status.h"

namespace sinyal::billing {

enum class Term { kMonth, kYear };
std::string_view TermName(Term term);  // "month" | "year"
// InvalidArgument(field) for anything but "month" / "year".
[[nodiscard]] Result<Term> ParseTerm(std::string_view text, std::string_view field = "period");
int TermMonths(Term term);  // 1 | 12
// End of a term starting at `start` (AddMonths of 1 or 12).
UnixNanos TermEnd(UnixNanos start, Term term);

// Unused value of `value_idr` paid for [start, end) at `at`: floor(value x remaining / length)
// with remaining and length in whole seconds (remaining = floor((end - at) / 1 s)). `value_idr`
// when at <= start, 0 when at >= end. The upgrade credit rule.
int64_t UnusedValue(int64_t value_idr, UnixNanos start, UnixNanos end, UnixNanos at);

enum class SubscriptionStatus { kFree, kActive, kPastDue };
std::string_view SubscriptionStatusName(SubscriptionStatus s);  // "free" | "active" | "past_due"

enum class InvoiceKind { kNew, kUpgrade, kRenewal };
std::string_view InvoiceKindName(InvoiceKind k);  // "new" | "upgrade" | "renewal"
enum class InvoiceStatus { kOpen, kPaid, kVoid, kRevoked };
std::string_view InvoiceStatusName(InvoiceStatus s);  // "open" | "paid" | "void" | "revoked"

// The subscription's term state. plan "free" and no term when status is kFree.
struct TermState {
  std::string plan = "free";
  SubscriptionStatus status = SubscriptionStatus::kFree;
  Term term = Term::kMonth;  // meaningful unless kFree
  UnixNanos term_start = 0, term_end = 0;
  int64_t term_invoice = 0;   // seq of the invoice that paid the current term
  UnixNanos grace_until = 0;  // kPastDue: when the tenant falls back to Free
  // A change scheduled for the term end (downgrade), or a cancellation.
  std::optional<std::string> next_plan;
  std::optional<Term> next_term;
  bool cancel_at_term_end = false;

  nlohmann::json ToJson() const;
  static Result<TermState> FromJson(const nlohmann::json& j);
  friend bool operator==(const TermState&, const TermState&) = default;
};

struct TermInvoice {
  int64_t seq = 0;  // per tenant, 1, 2, ...
  InvoiceKind kind = InvoiceKind::kNew;
  std::string plan;
  Term term = Term::kMonth;
  int64_t subtotal_idr = 0;          // S: the term price when issued
  int64_t proration_credit_idr = 0;  // U: unused value of the credited term (upgrades)
  int64_t credit_applied_idr = 0;    // B: from the credit balance
  int64_t total_idr = 0;             // T = S - U - B: paid through Midtrans
  InvoiceStatus status = InvoiceStatus::kOpen;
  UnixNanos created_at = 0, paid_at = 0, closed_at = 0;  // closed: voided or revoked
  UnixNanos due_at = 0;                                  // renewals: the current term's end
  UnixNanos term_start = 0, term_end = 0;                // known at payment (renewals: when issued)
  int64_t credits_seq = 0;        // upgrades: the invoice whose unused value U is
  int64_t refunded_idr = 0;       // cash returned (refunds, chargebacks, reversal)
  int64_t credited_idr = 0;       // value credited to a later upgrade (X)
  int64_t credited_by = 0;        // ...that upgrade's seq
  int64_t late_paid_idr = 0;      // cash received after the invoice was voided (-> credit)
  std::optional<TermState> prev;  // state replaced when this invoice's term began
  std::string void_reason;

  // Value the invoice still earns: S - refunded - credited (paid invoices).
  int64_t Earned() const { return subtotal_idr - refunded_idr - credited_idr; }
};

// Audit event (append-only; billing/subscription_service.h stores them in billing_events).
struct AccountEvent {
  std::string kind;     // see kEvent* in account.cc and docs/payments.md
  int64_t invoice = 0;  // seq, 0 when none
  UnixNanos at = 0;     // when it took effect (a term end may be earlier than the call)
  nlohmann::json data;  // details (plans, amounts)
};
// Credit balance movement (append-only credit_ledger).
struct CreditEntry {
  int64_t amount_idr = 0;  // + credit granted, - credit used
  std::string reason;      // "applied", "released", "late_payment", "reversal"
  int64_t invoice = 0;
  UnixNanos at = 0;
};
// Cash movement (append-only payments table): + received, - returned.
struct CashEntry {
  std::string kind;        // "settlement", "refund", "chargeback", "reversal"
  int64_t amount_idr = 0;  // signed
  int64_t invoice = 0;
  UnixNanos at = 0;
  std::string reference;  // Midtrans order id / refund key (the caller's)
};
// A plan switch the caller applies through Subscriptions::ChangePlan (same transaction).
struct PlanSwitch {
  std::string from, to;
  UnixNanos at = 0;
  std::string reason;  // the event kind that caused it
};

struct AccountRules {
  // Term price of a plan: plan.price_idr (month) or plan.yearly_price_idr (year); NotFound for
  // an unknown plan.
  std::function<Result<int64_t>(std::string_view plan, Term term)> price;
  // Renewal invoices are issued this long before the term ends. Default: 7 days.
  int64_t renewal_notice = 7 * kNanosPerDay;
  // After an unpaid term end, the plan is kept this long. Default: 3 days.
  int64_t grace = 3 * kNanosPerDay;
};

// What a checkout did.
struct CheckoutOutcome {
  enum class Kind {
    kInvoice,    // an invoice to pay (paid at once when its total is 0)
    kScheduled,  // a downgrade scheduled for the term end (no payment)
    kResumed,    // a scheduled downgrade or cancellation was withdrawn
  } kind = Kind::kInvoice;
  int64_t invoice = 0;  // kInvoice: its seq
};

// Reconciliation figures of one account (Reconcile).
struct Reconciliation {
  int64_t cash_idr = 0;     // settlements - refunds - chargebacks - reversals
  int64_t earned_idr = 0;   // sum of Earned() over paid invoices
  int64_t balance_idr = 0;  // credit balance
  int64_t held_idr = 0;     // credit applied on open invoices
  int64_t written_off_idr = 0;
  int64_t line_errors = 0;  // invoices whose lines don't sum (S != U + B + T)
  bool ok() const {
    return line_errors == 0 && balance_idr >= 0 &&
           cash_idr + written_off_idr == earned_idr + balance_idr + held_idr;
  }
  nlohmann::json ToJson() const;
};

class BillingAccount {
 public:
  BillingAccount() = default;

  // ---- Operations (each first advances the account to `now`, see Advance) ----

  // The tenant asks for `plan` for `term`. Errors: InvalidArgument("plan") for "free" (use
  // Cancel); NotFound("plan"); Conflict("plan") when already on this plan and term with nothing
  // scheduled; FailedPrecondition("plan") for an upgrade while the next term is already paid.
  [[nodiscard]] Result<CheckoutOutcome> Checkout(const std::string& plan, Term term, UnixNanos now,
                                                 const AccountRules& rules);
  // Cancel at the term end (past_due: at once). FailedPrecondition("plan") when free.
  [[nodiscard]] Status Cancel(UnixNanos now, const AccountRules& rules);
  // The invoice `seq` was paid `amount_idr` at `now` (Midtrans settlement or capture+accept).
  // Idempotent: paying a paid invoice changes nothing (returns false). A voided invoice's
  // payment becomes credit balance. InvalidArgument("gross_amount") when amount != total;
  // NotFound("invoice").
  [[nodiscard]] Result<bool> Pay(int64_t seq, int64_t amount_idr, UnixNanos now,
                                 const std::string& reference, const AccountRules& rules);
  // The open invoice `seq` won't be paid (superseded, order abandoned): voided, its credit B
  // returned. No-op for an invoice that isn't open.
  [[nodiscard]] Status Void(int64_t seq, const std::string& reason, UnixNanos now,
                            const AccountRules& rules);
  // Returns `amount_idr` of invoice `seq`'s cash. kind: "refund", "chargeback" or "reversal".
  // Not `forced` (an operator's refund request): refused beyond RefundableIdr. `forced` (the
  // gateway says the money went back: a refund made at Midtrans, a chargeback, a settlement
  // turned deny): never refused; an amount beyond the cash left is clamped. When all cash of
  // the invoice is returned the invoice is revoked (see the file comment).
  // InvalidArgument("amount_idr"), NotFound("invoice"), FailedPrecondition for an invoice that
  // is not paid.
  [[nodiscard]] Status ReturnCash(int64_t seq, int64_t amount_idr, const std::string& kind,
                                  bool forced, UnixNanos now, const std::string& reference,
                                  const AccountRules& rules);
  // Records an event that changes nothing in the account (e.g. payments/: "payment_pending",
  // "payment_failed"), stored with the operation's other events.
  void Record(std::string kind, int64_t invoice, UnixNanos at, nlohmann::json data = {}) {
    Event(std::move(kind), invoice, at, std::move(data));
  }
  // Moves the state machine to `now`: issues the renewal invoice, rolls into a paid next
  // term, applies a scheduled downgrade or cancellation at the term end, past_due, lapse.
  // Idempotent for equal `now`.
  [[nodiscard]] Status Advance(UnixNanos now, const AccountRules& rules);

  // ---- Reading ----
  const TermState& state() const { return state_; }
  const std::deque<TermInvoice>& invoices() const { return invoices_; }
  const TermInvoice* Find(int64_t seq) const;
  int64_t balance_idr() const { return balance_; }
  int64_t written_off_idr() const { return written_off_; }
  int64_t cash_idr() const { return cash_; }
  // Most an operator may refund of invoice `seq` now: min(cash left, value not credited).
  int64_t RefundableIdr(int64_t seq) const;
  // The open renewal invoice, if any.
  const TermInvoice* OpenRenewal() const;
  // When Advance next has something to do (issue the renewal invoice, end the term, end the
  // grace period); 0 when never (free).
  UnixNanos NextDeadline(const AccountRules& rules) const;
  Reconciliation Reconcile() const;

  // ---- Loading and draining (the store) ----
  // Rebuilds an account from stored parts. `next_seq`: the next invoice number.
  static BillingAccount Load(TermState state, std::deque<TermInvoice> invoices, int64_t balance,
                             int64_t written_off, int64_t cash, int64_t next_seq);
  int64_t next_seq() const { return next_seq_; }
  // What the operations since the last Drain produced, in order. The seqs of invoices created
  // or changed are in `touched`.
  struct Changes {
    std::vector<AccountEvent> events;
    std::vector<CreditEntry> credits;
    std::vector<CashEntry> cash;
    std::vector<PlanSwitch> plan_switches;
    std::vector<int64_t> touched;  // ascending, unique
    bool state_changed = false;
  };
  Changes Drain();

 private:
  TermInvoice* FindMut(int64_t seq);
  TermInvoice& NewInvoice(InvoiceKind kind, const std::string& plan, Term term, int64_t subtotal,
                          int64_t proration, UnixNanos now);
  void Event(std::string kind, int64_t invoice, UnixNanos at, nlohmann::json data = {});
  void Touch(int64_t seq);
  void SetState(TermState next, UnixNanos at, const std::string& reason);
  void VoidOpen(const std::string& reason, UnixNanos now, int64_t keep = 0);
  void VoidInvoice(TermInvoice& inv, const std::string& reason, UnixNanos now);
  void StartTerm(TermInvoice& inv, UnixNanos start, const std::string& reason);
  void ToFree(UnixNanos at, const std::string& reason);
  void PayOpen(TermInvoice& inv, UnixNanos now, const std::string& reference);
  TermInvoice* RenewalStartingAt(UnixNanos start, bool paid_only);
  void Revoke(TermInvoice& inv, const std::string& kind, UnixNanos now);
  TermInvoice* PaidNextTerm();

  TermState state_;
  std::deque<TermInvoice> invoices_;  // ascending seq (a deque: references stay valid)
  int64_t balance_ = 0, written_off_ = 0, cash_ = 0;
  int64_t next_seq_ = 1;
  Changes changes_;
};

}  // namespace sinyal::billing
