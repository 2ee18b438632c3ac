// Payments through Midtrans (issue 11): orders for term invoices, verified notifications, the
// reconciliation poll, refunds. The money rules and the subscription state are billing's
// (billing/account.h, billing/subscription_service.h); this module talks to the gateway and
// turns what it confirms into billing operations, exactly once.
//
// ORDERS. A term invoice with a total > 0 is paid through a Midtrans order (Snap): order_id
// "sny-<tenant>-<invoice>-<8 hex>", gross_amount = the invoice total, one item. Order status:
//   creating        row written, Snap not answered yet (a crash here leaves it to the poll)
//   pending_payment Snap token issued, the customer has not picked a method
//   pending         the gateway says pending (VA number issued, QRIS shown, ...)
//   challenge       card capture held by fraud detection
//   denied          the gateway denied an attempt; the order stays open until it expires
//   paid            settled (or card capture accepted): the invoice is paid, the plan granted
//   failed          expired, cancelled, failure, or Snap refused the order
//   partially_refunded / refunded / chargeback / reversed   cash went back
//
// NOTIFICATIONS (HandleNotification; docs/payments.md has the table):
//   1. Content-Type application/json (else 415), valid JSON with the required string fields
//      (else 400 naming the field), body size bounded by the route (413).
//   2. signature_key = SHA512(order_id + status_code + gross_amount + server key), compared in
//      constant time: a bad one is 401 and changes nothing.
//   3. The order must be ours (else 404). The notification's claims are not trusted further:
//      the status API is asked (GET /v2/{order}/status, its own signature checked) and ITS
//      answer is applied. Gateway or database unavailable: 503 (Midtrans retries).
//   4. Applied in ONE transaction with the billing operation: the (order_id, status key) pair is
//      inserted into payment_transitions first; when it exists already the delivery is a
//      duplicate and changes nothing. So duplicates, stale or replayed statuses and
//      out-of-order deliveries change nothing twice, and a crash before the commit leaves
//      nothing (the gateway's retry applies it), after the commit everything (the retry is a
//      duplicate). The amount must be the order's (fee imposition: original_amount), else the
//      order is flagged amount_mismatch and nothing is granted.
//   5. 200 with {"outcome": ...}.
//
// Thread safety: PaymentService is thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "billing/subscription_service.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/status.h"
#include "payments/midtrans.h"
#include "store/fwd.h"

namespace sinyal::payments {

struct PaymentOptions {
  // Snap expiry of orders for new plans and upgrades. Default: 24 h (VA payments take time).
  // Renewal orders last until the grace period ends.
  int64_t order_expiry_minutes = 24 * 60;
  // The poll asks the gateway about orders still open after this long. Default: 10 min.
  int64_t reconcile_after = 10 * kNanosPerMinute;
  // ... and not more often than this per order. Default: 10 min.
  int64_t reconcile_every = 10 * kNanosPerMinute;
  // Largest raw notification body stored in payment_notifications. Default: 16 KiB.
  size_t max_stored_body = 16 * 1024;
};

struct Customer {
  std::string first_name, email;
};

struct Order {
  int64_t id = 0;
  std::string order_id;
  TenantId tenant;
  int64_t invoice = 0;  // term invoice seq
  int64_t gross_amount = 0;
  std::string status, gateway_status, fraud_status, payment_type, transaction_id;
  std::string snap_token, redirect_url;
  bool simulated = false;
  UnixNanos created_at = 0, expires_at = 0, paid_at = 0, last_checked_at = 0, updated_at = 0;
  // {"id","order_id","invoice","gross_amount","currency","status","gateway_status",
  //  "payment_type","simulated","payment":{"token","redirect_url"} (while payable),...}
  nlohmann::json ToJson() const;
  bool Payable(UnixNanos now) const;
};

struct CheckoutAnswer {
  billing::CheckoutResult result;
  std::optional<Order> order;  // when the invoice needs a payment
};

struct NotificationAnswer {
  int http_status = 200;
  std::string outcome;  // "applied", "duplicate", "rejected", ...
  std::string detail;
  std::string field;
};

class PaymentService {
 public:
  // REQUIRES: db, subscriptions, gateway and clock outlive this.
  PaymentService(store::Database& db, billing::SubscriptionService& subscriptions,
                 MidtransClient& gateway, Clock& clock, PaymentOptions options = {});

  // Checkout of `plan` for `term` (billing), then, when an invoice must be paid, its order
  // (reusing a payable one). Unavailable when Snap can't be reached (the invoice stays open;
  // retrying the checkout reuses it).
  [[nodiscard]] Result<CheckoutAnswer> Checkout(TenantId tenant, const Customer& customer,
                                                const std::string& plan, billing::Term term,
                                                UnixNanos now, const std::string& actor);
  // Cancels the subscription at the period end (billing), and the orders of the renewal
  // invoice that voids.
  [[nodiscard]] Status Cancel(TenantId tenant, UnixNanos now, const std::string& actor);
  // A payable order for the tenant's open invoice `seq` (a renewal whose order expired, ...).
  // FailedPrecondition("invoice") when it is not open or needs no payment.
  [[nodiscard]] Result<Order> PayInvoice(TenantId tenant, int64_t seq, const Customer& customer,
                                         UnixNanos now);
  // The tenant's orders, newest first; one order by its order_id (NotFound("id")).
  [[nodiscard]] Result<std::vector<Order>> Orders(TenantId tenant, int limit);
  [[nodiscard]] Result<Order> GetOrder(TenantId tenant, const std::string& order_id);

  // POST /api/v1/payments/midtrans/notification (see the file comment).
  NotificationAnswer HandleNotification(std::string_view content_type, std::string_view body,
                                        UnixNanos now);

  // The reconciliation round: advances due subscriptions (renewal invoices, lapses), makes
  // orders for open renewal invoices that have no payable one, cancels at the gateway payable
  // orders whose invoice was voided (a lapsed renewal's), and polls the gateway about orders
  // open longer than reconcile_after. Returns how many orders it polled.
  [[nodiscard]] Result<int> Reconcile(UnixNanos now, int limit = 200);

  // Operators: refunds `amount_idr` of a paid order through Midtrans, then records it.
  // InvalidArgument("amount_idr") beyond the refundable part; FailedPrecondition when the
  // order is not paid; Unavailable when the gateway fails (nothing recorded). With an
  // `idempotency_key` (the request's Idempotency-Key) the refund_key is derived from it, so a
  // retried request refunds once and answers the order as it is.
  [[nodiscard]] Result<Order> Refund(const std::string& order_id, int64_t amount_idr,
                                     const std::string& reason, const std::string& actor,
                                     UnixNanos now, const std::string& idempotency_key = "");
  // Operators: one order by order_id, any tenant (system scope).
  [[nodiscard]] Result<Order> FindOrder(const std::string& order_id);

  bool simulated() const { return gateway_.config().simulated; }

  // Test hook (crash-safety tests only): SIGKILL this process while applying a settlement
  // (the grant), just before or just after its commit, i.e. between receiving the notification
  // and answering it. Set by `serve` from SINYAL_TEST_PAYMENTS_FAULT.
  enum class Fault { kNone, kKillBeforeCommit, kKillAfterCommit };
  void TEST_SetFault(Fault fault) { fault_.store(fault); }

 private:
  Result<Order> EnsureOrder(TenantId tenant, const billing::TermInvoice& invoice,
                            const Customer& customer, UnixNanos now);
  // Applies a gateway-confirmed transaction to `order` (see the file comment). Returns the
  // outcome ("applied", "duplicate", "amount_mismatch", ...).
  Result<std::string> ApplyTransaction(const Order& order, const Transaction& t,
                                       const std::string& source, std::string_view raw,
                                       UnixNanos now);
  Result<std::optional<Order>> FindBy(const std::string& order_id);
  void CancelSuperseded(TenantId tenant);

  store::Database& db_;
  billing::SubscriptionService& subs_;
  MidtransClient& gateway_;
  Clock& clock_;
  PaymentOptions options_;
  std::atomic<Fault> fault_{Fault::kNone};
};

// Registers the "payments_reconcile" job kind (runs PaymentService::Reconcile).
void RegisterPaymentJobs(store::JobWorker& worker, PaymentService& payments, Clock& clock);
inline constexpr std::string_view kReconcileJobKind = "payments_reconcile";

}  // namespace sinyal::payments
