// Payments through Midtrans (payments/payment_service.h).
#include "payments/payment_service.h"

#include <signal.h>
#include <sodium.h>

#include <algorithm>

#include "billing/sql_util.h"
#include "core/log.h"
#include "core/time.h"
#include "store/database.h"
#include "store/job_queue.h"
#include "store/soci.h"

namespace sinyal::payments {

using billing::BillingAccount;
using billing::InvoiceKind;
using billing::InvoiceStatus;
using billing::TermInvoice;

namespace {

constexpr const char* kOrderColumns =
    "id, order_id, tenant_id, invoice_seq, gross_amount, status, gateway_status, fraud_status, "
    "payment_type, transaction_id, snap_token, redirect_url, simulated, created_at, expires_at, "
    "paid_at, last_checked_at, updated_at";

Order OrderFromRow(const soci::row& r) {
  using billing::internal::I64;
  using billing::internal::Str;
  Order o;
  o.id = I64(r, 0);
  o.order_id = Str(r, 1);
  o.tenant = TenantId(I64(r, 2));
  o.invoice = I64(r, 3);
  o.gross_amount = I64(r, 4);
  o.status = Str(r, 5);
  o.gateway_status = Str(r, 6);
  o.fraud_status = Str(r, 7);
  o.payment_type = Str(r, 8);
  o.transaction_id = Str(r, 9);
  o.snap_token = Str(r, 10);
  o.redirect_url = Str(r, 11);
  o.simulated = I64(r, 12) != 0;
  o.created_at = I64(r, 13);
  o.expires_at = I64(r, 14);
  o.paid_at = I64(r, 15);
  o.last_checked_at = I64(r, 16);
  o.updated_at = I64(r, 17);
  return o;
}

Result<std::optional<Order>> ReadOrder(soci::session& tx, const std::string& order_id) {
  std::optional<Order> out;
  soci::rowset<soci::row> rows = (tx.prepare << std::string("SELECT ") + kOrderColumns +
                                                    " FROM payment_orders WHERE order_id = :o",
                                  soci::use(order_id, "o"));
  for (const soci::row& r : rows) out = OrderFromRow(r);
  return out;
}

void WriteOrderState(soci::session& tx, const Order& o, UnixNanos now) {
  long long paid = o.paid_at, checked = o.last_checked_at, n = now;
  std::string status = o.status, gs = o.gateway_status, fs = o.fraud_status, pt = o.payment_type,
              tid = o.transaction_id, id = o.order_id;
  tx << "UPDATE payment_orders SET status = :s, gateway_status = :gs, fraud_status = :fs, "
        "payment_type = :pt, transaction_id = :tid, paid_at = :paid, last_checked_at = :checked, "
        "updated_at = :now WHERE order_id = :o",
      soci::use(status, "s"), soci::use(gs, "gs"), soci::use(fs, "fs"), soci::use(pt, "pt"),
      soci::use(tid, "tid"), soci::use(paid, "paid"), soci::use(checked, "checked"),
      soci::use(n, "now"), soci::use(id, "o");
}

// True when this (order, status key) was not applied before (and now is, in `tx`).
bool InsertTransition(soci::session& tx, const std::string& order_id, const std::string& key,
                      TenantId tenant, UnixNanos now) {
  long long t = tenant.value(), n = now;
  soci::statement st =
      (tx.prepare << "INSERT INTO payment_transitions (order_id, status_key, tenant_id, "
                     "applied_at) VALUES (:o, :k, :t, :n) ON CONFLICT DO NOTHING",
       soci::use(order_id, "o"), soci::use(key, "k"), soci::use(t, "t"), soci::use(n, "n"));
  st.execute(true);
  return st.get_affected_rows() == 1;
}

std::string Capitalised(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

bool OpenStatus(const std::string& s) {
  return s == "creating" || s == "pending_payment" || s == "pending" || s == "challenge" ||
         s == "denied";
}

}  // namespace

bool Order::Payable(UnixNanos now) const {
  return (status == "pending_payment" || status == "pending" || status == "denied") &&
         !snap_token.empty() && expires_at > now;
}

nlohmann::json Order::ToJson() const {
  auto iso = [](UnixNanos t) {
    return t == 0 ? nlohmann::json(nullptr) : nlohmann::json(FormatIso8601(t));
  };
  nlohmann::json j = {{"id", order_id},
                      {"invoice", invoice},
                      {"gross_amount", gross_amount},
                      {"currency", "IDR"},
                      {"status", status},
                      {"gateway_status", gateway_status.empty() ? nlohmann::json(nullptr)
                                                                : nlohmann::json(gateway_status)},
                      {"payment_type", payment_type.empty() ? nlohmann::json(nullptr)
                                                            : nlohmann::json(payment_type)},
                      {"gateway", simulated ? "midtrans-sandbox (SIMULATED)" : "midtrans"},
                      {"simulated", simulated},
                      {"created_at", iso(created_at)},
                      {"expires_at", iso(expires_at)},
                      {"paid_at", iso(paid_at)}};
  if ((status == "pending_payment" || status == "pending" || status == "denied") &&
      !snap_token.empty()) {
    j["payment"] = {{"token", snap_token}, {"redirect_url", redirect_url}};
  } else {
    j["payment"] = nullptr;
  }
  return j;
}

PaymentService::PaymentService(store::Database& db, billing::SubscriptionService& subscriptions,
                               MidtransClient& gateway, Clock& clock, PaymentOptions options)
    : db_(db), subs_(subscriptions), gateway_(gateway), clock_(clock), options_(options) {}

Result<std::optional<Order>> PaymentService::FindBy(const std::string& order_id) {
  std::optional<Order> out;
  SINYAL_RETURN_IF_ERROR(db_.WithReadTx([&](soci::session& tx) -> Status {
    SINYAL_ASSIGN_OR_RETURN(out, ReadOrder(tx, order_id));
    return Status::Ok();
  }));
  return out;
}

Result<Order> PaymentService::FindOrder(const std::string& order_id) {
  if (!ValidOrderId(order_id)) return Status::NotFound("no such order", "id");
  SINYAL_ASSIGN_OR_RETURN(std::optional<Order> o, FindBy(order_id));
  if (!o) return Status::NotFound("no such order", "id");
  return *o;
}

Result<Order> PaymentService::EnsureOrder(TenantId tenant, const TermInvoice& inv,
                                          const Customer& customer, UnixNanos now) {
  if (inv.status != InvoiceStatus::kOpen || inv.total_idr <= 0) {
    return Status::FailedPrecondition("invoice " + std::to_string(inv.seq) + " needs no payment",
                                      "invoice");
  }
  std::vector<Order> existing;
  SINYAL_RETURN_IF_ERROR(db_.WithTenantReadTx(tenant, [&](soci::session& tx) -> Status {
    long long t = tenant.value(), s = inv.seq;
    soci::rowset<soci::row> rows =
        (tx.prepare << std::string("SELECT ") + kOrderColumns +
                           " FROM payment_orders WHERE tenant_id = :t AND invoice_seq = :s "
                           "ORDER BY id DESC",
         soci::use(t, "t"), soci::use(s, "s"));
    for (const soci::row& r : rows) existing.push_back(OrderFromRow(r));
    return Status::Ok();
  }));
  for (const Order& o : existing) {
    if (o.Payable(now) && o.gross_amount == inv.total_idr) return o;
  }
  // A new order. Renewals stay payable until the grace period ends; others for a day.
  int64_t minutes = options_.order_expiry_minutes;
  if (inv.kind == InvoiceKind::kRenewal && inv.due_at > 0) {
    minutes = std::max<int64_t>(60, (inv.due_at + subs_.rules().grace - now) / kNanosPerMinute);
  }
  Order o;
  o.order_id =
      "sny-" + std::to_string(tenant.value()) + "-" + std::to_string(inv.seq) + "-" + RandomHex(4);
  o.tenant = tenant;
  o.invoice = inv.seq;
  o.gross_amount = inv.total_idr;
  o.status = "creating";
  o.simulated = gateway_.config().simulated;
  o.created_at = now;
  o.expires_at = now + minutes * kNanosPerMinute;
  SINYAL_RETURN_IF_ERROR(db_.WithTenantTx(tenant, [&](soci::session& tx) -> Status {
    long long t = tenant.value(), s = inv.seq, amount = o.gross_amount, sim = o.simulated ? 1 : 0,
              c = o.created_at, e = o.expires_at;
    tx << "INSERT INTO payment_orders (order_id, tenant_id, invoice_seq, gross_amount, status, "
          "gateway_status, fraud_status, payment_type, transaction_id, snap_token, redirect_url, "
          "simulated, created_at, expires_at, paid_at, last_checked_at, updated_at) VALUES (:o, "
          ":t, :s, :a, 'creating', '', '', '', '', '', '', :sim, :c, :e, 0, 0, :c2)",
        soci::use(o.order_id, "o"), soci::use(t, "t"), soci::use(s, "s"), soci::use(amount, "a"),
        soci::use(sim, "sim"), soci::use(c, "c"), soci::use(e, "e"), soci::use(c, "c2");
    return Status::Ok();
  }));
  SnapRequest req;
  req.order_id = o.order_id;
  req.gross_amount = o.gross_amount;
  const std::string term = inv.term == billing::Term::kYear ? "1 year" : "1 month";
  std::string name = "Sinyal " + Capitalised(inv.plan) + " (" + term + ")";
  if (inv.proration_credit_idr + inv.credit_applied_idr > 0) name += " after credit";
  req.items.push_back(
      {inv.plan + "-" + std::string(billing::TermName(inv.term)), name, o.gross_amount, 1});
  req.customer_first_name = customer.first_name;
  req.customer_email = customer.email;
  req.expiry_minutes = minutes;
  auto snap = gateway_.CreateSnap(req);
  const std::string status = snap.ok() ? "pending_payment" : "failed";
  if (snap.ok()) {
    o.snap_token = snap->token;
    o.redirect_url = snap->redirect_url;
  }
  o.status = status;
  Status saved = db_.WithTenantTx(tenant, [&](soci::session& tx) -> Status {
    long long n = now;
    std::string gs = snap.ok() ? "" : "snap_error";
    tx << "UPDATE payment_orders SET status = :s, snap_token = :tok, redirect_url = :url, "
          "gateway_status = :gs, updated_at = :n WHERE order_id = :o",
        soci::use(status, "s"), soci::use(o.snap_token, "tok"), soci::use(o.redirect_url, "url"),
        soci::use(gs, "gs"), soci::use(n, "n"), soci::use(o.order_id, "o");
    return Status::Ok();
  });
  if (!snap.ok()) {
    LogEvent(spdlog::level::err, "midtrans_snap_failed",
             {{"order_id", o.order_id}, {"error", snap.error().ToString()}});
    return Status::Unavailable("the payment gateway did not accept the order; retry in a moment");
  }
  SINYAL_RETURN_IF_ERROR(saved);
  LogEvent(spdlog::level::info, "payment_order_created",
           {{"order_id", o.order_id},
            {"tenant_id", tenant.value()},
            {"gross_amount", o.gross_amount},
            {"simulated", o.simulated}});
  return o;
}

Result<CheckoutAnswer> PaymentService::Checkout(TenantId tenant, const Customer& customer,
                                                const std::string& plan, billing::Term term,
                                                UnixNanos now, const std::string& actor) {
  CheckoutAnswer out;
  SINYAL_ASSIGN_OR_RETURN(out.result, subs_.Checkout(tenant, plan, term, now, actor));
  CancelSuperseded(tenant);
  if (out.result.invoice && out.result.invoice->status == InvoiceStatus::kOpen &&
      out.result.invoice->total_idr > 0) {
    SINYAL_ASSIGN_OR_RETURN(Order o, EnsureOrder(tenant, *out.result.invoice, customer, now));
    out.order = std::move(o);
  }
  return out;
}

void PaymentService::CancelSuperseded(TenantId tenant) {
  // Orders still payable whose invoice was voided (a new checkout, a cancellation): ask the
  // gateway to cancel them, so a VA can't be paid any more. Best effort: the gateway's
  // answer (notification or poll) updates the order; a payment that still gets through
  // becomes credit balance.
  std::vector<std::string> ids;
  (void)db_.WithTenantReadTx(tenant, [&](soci::session& tx) -> Status {
    long long t = tenant.value();
    soci::rowset<soci::row> rows =
        (tx.prepare << "SELECT o.order_id FROM payment_orders o JOIN term_invoices i ON "
                       "i.tenant_id = o.tenant_id AND i.seq = o.invoice_seq WHERE o.tenant_id = :t "
                       "AND o.status IN ('pending_payment', 'pending', 'challenge', 'denied') AND "
                       "i.status <> 'open'",
         soci::use(t, "t"));
    for (const soci::row& r : rows) ids.push_back(billing::internal::Str(r, 0));
    return Status::Ok();
  });
  for (const std::string& id : ids) {
    Status st = gateway_.Cancel(id);
    if (!st.ok() && st.code() != StatusCode::kNotFound) {
      LogEvent(spdlog::level::warn, "payment_cancel_failed",
               {{"order_id", id}, {"error", st.ToString()}});
    }
  }
}

Status PaymentService::Cancel(TenantId tenant, UnixNanos now, const std::string& actor) {
  SINYAL_RETURN_IF_ERROR(subs_.Cancel(tenant, now, actor).status());
  CancelSuperseded(tenant);
  return Status::Ok();
}

Result<Order> PaymentService::PayInvoice(TenantId tenant, int64_t seq, const Customer& customer,
                                         UnixNanos now) {
  // Advance first: an invoice may have been voided by a lapse.
  SINYAL_RETURN_IF_ERROR(subs_.View(tenant, now).status());
  SINYAL_ASSIGN_OR_RETURN(TermInvoice inv, subs_.Invoice(tenant, seq));
  return EnsureOrder(tenant, inv, customer, now);
}

Result<std::vector<Order>> PaymentService::Orders(TenantId tenant, int limit) {
  if (limit < 1 || limit > 1000) return Status::InvalidArgument("must be in [1, 1000]", "limit");
  std::vector<Order> out;
  SINYAL_RETURN_IF_ERROR(db_.WithTenantReadTx(tenant, [&](soci::session& tx) -> Status {
    long long t = tenant.value(), lim = limit;
    soci::rowset<soci::row> rows =
        (tx.prepare << std::string("SELECT ") + kOrderColumns +
                           " FROM payment_orders WHERE tenant_id = :t ORDER BY id DESC LIMIT :lim",
         soci::use(t, "t"), soci::use(lim, "lim"));
    for (const soci::row& r : rows) out.push_back(OrderFromRow(r));
    return Status::Ok();
  }));
  return out;
}

Result<Order> PaymentService::GetOrder(TenantId tenant, const std::string& order_id) {
  if (!ValidOrderId(order_id)) return Status::NotFound("no such order", "id");
  std::optional<Order> out;
  SINYAL_RETURN_IF_ERROR(db_.WithTenantReadTx(tenant, [&](soci::session& tx) -> Status {
    long long t = tenant.value();
    soci::rowset<soci::row> rows =
        (tx.prepare << std::string("SELECT ") + kOrderColumns +
                           " FROM payment_orders WHERE tenant_id = :t AND order_id = :o",
         soci::use(t, "t"), soci::use(order_id, "o"));
    for (const soci::row& r : rows) out = OrderFromRow(r);
    return Status::Ok();
  }));
  if (!out) return Status::NotFound("no such order", "id");
  return *out;
}

Result<std::string> PaymentService::ApplyTransaction(const Order& order, const Transaction& t,
                                                     const std::string& source,
                                                     std::string_view raw, UnixNanos now) {
  const GatewayOutcome o = Classify(t.transaction_status, t.fraud_status);
  auto gross = ParseGrossAmount(t.gross_amount);
  const bool amount_ok =
      gross.ok() && (*gross == order.gross_amount ||
                     (t.original_amount && *t.original_amount == order.gross_amount));
  const std::string key =
      t.transaction_status + (t.transaction_status == "capture" ? "/" + t.fraud_status : "");
  const std::string body(raw.substr(0, options_.max_stored_body));
  const billing::AccountRules& rules = subs_.rules();
  std::string outcome;
  Status st = subs_.Apply(
      order.tenant, now, "midtrans", [&](BillingAccount& a, soci::session& tx) -> Status {
        outcome.clear();
        SINYAL_ASSIGN_OR_RETURN(std::optional<Order> cur, ReadOrder(tx, order.order_id));
        if (!cur) return Status::NotFound("no such order", "order_id");
        Order next = *cur;
        next.gateway_status = t.transaction_status;
        if (!t.fraud_status.empty()) next.fraud_status = t.fraud_status;
        if (!t.payment_type.empty()) next.payment_type = t.payment_type;
        if (!t.transaction_id.empty()) next.transaction_id = t.transaction_id;
        next.last_checked_at = now;
        const int64_t seq = cur->invoice;
        const TermInvoice* inv = a.Find(seq);
        if (inv == nullptr) return Status::Internal("order " + cur->order_id + " has no invoice");
        auto reverse = [&](const std::string& kind) -> Status {
          const int64_t left = a.Find(seq)->total_idr - a.Find(seq)->refunded_idr;
          if (left > 0)
            SINYAL_RETURN_IF_ERROR(a.ReturnCash(seq, left, kind, true, now, cur->order_id, rules));
          return Status::Ok();
        };
        if (!amount_ok && o != GatewayOutcome::kIgnored) {
          outcome = "amount_mismatch";
          a.Record("payment_amount_mismatch", seq, now,
                   {{"order_id", cur->order_id},
                    {"gross_amount", t.gross_amount},
                    {"expected_idr", cur->gross_amount},
                    {"transaction_status", t.transaction_status}});
          LogEvent(spdlog::level::err, "payment_amount_mismatch",
                   {{"order_id", cur->order_id},
                    {"gross_amount", t.gross_amount.substr(0, 32)},
                    {"expected_idr", cur->gross_amount}});
        } else if (o == GatewayOutcome::kRefunded) {
          int applied = 0;
          for (const GatewayRefund& r : t.refunds) {
            if (!InsertTransition(tx, cur->order_id, "refund:" + r.key, cur->tenant, now)) continue;
            SINYAL_RETURN_IF_ERROR(a.ReturnCash(seq, r.amount, "refund", true, now,
                                                cur->order_id + "/" + r.key, rules));
            ++applied;
          }
          outcome = applied > 0 ? "applied" : "duplicate";
        } else if (!InsertTransition(tx, cur->order_id, key, cur->tenant, now)) {
          outcome = "duplicate";
        } else {
          outcome = "applied";
          const nlohmann::json data = {{"order_id", cur->order_id},
                                       {"transaction_status", t.transaction_status},
                                       {"payment_type", t.payment_type},
                                       {"gross_amount", cur->gross_amount}};
          const bool was_paid = cur->status == "paid" || cur->status == "partially_refunded";
          switch (o) {
            case GatewayOutcome::kPending:
              if (cur->status == "creating" || cur->status == "pending_payment")
                next.status = "pending";
              a.Record("payment_pending", seq, now, data);
              break;
            case GatewayOutcome::kChallenge:
              if (!was_paid) next.status = "challenge";
              a.Record("payment_challenge", seq, now, data);
              break;
            case GatewayOutcome::kSettled:
              if (was_paid) break;  // capture accepted earlier, now settled: nothing new
              // Money arrived: the invoice is paid (or, when it was voided meanwhile, the amount
              // becomes credit balance; billing decides). Never dropped.
              SINYAL_RETURN_IF_ERROR(
                  a.Pay(seq, cur->gross_amount, now, cur->order_id, rules).status());
              next.status = "paid";
              next.paid_at = now;
              break;
            case GatewayOutcome::kDenied:
              if (was_paid) {
                // A settlement turned deny (Permata/Mandiri bill/Indomaret reversal): revoke.
                SINYAL_RETURN_IF_ERROR(reverse("reversal"));
                next.status = "reversed";
              } else {
                next.status = "denied";
                a.Record("payment_denied", seq, now, data);
              }
              break;
            case GatewayOutcome::kFailed:
              if (was_paid) {
                SINYAL_RETURN_IF_ERROR(reverse("reversal"));  // a capture cancelled
                next.status = "reversed";
              } else if (OpenStatus(cur->status)) {
                next.status = "failed";
                a.Record("payment_failed", seq, now, data);
                if (inv->status == InvoiceStatus::kOpen && inv->kind != InvoiceKind::kRenewal) {
                  SINYAL_RETURN_IF_ERROR(
                      a.Void(seq, "payment " + t.transaction_status, now, rules));
                }
              }
              break;
            case GatewayOutcome::kChargeback:
              SINYAL_RETURN_IF_ERROR(reverse("chargeback"));
              next.status = "chargeback";
              break;
            case GatewayOutcome::kPartialChargeback:
              a.Record("partial_chargeback_reported", seq, now, data);
              break;
            case GatewayOutcome::kIgnored:
              outcome = "ignored";
              break;
          }
        }
        // Refund states follow the invoice.
        const TermInvoice* after = a.Find(seq);
        if (after->refunded_idr > 0 &&
            (next.status == "paid" || next.status == "partially_refunded")) {
          next.status =
              after->status == InvoiceStatus::kRevoked ? "refunded" : "partially_refunded";
        }
        WriteOrderState(tx, next, now);
        long long tn = cur->tenant.value(), n = now;
        std::string ts = t.transaction_status, fs = t.fraud_status,
                    ga = t.gross_amount.substr(0, 32);
        tx << "INSERT INTO payment_notifications (tenant_id, order_id, source, transaction_status, "
              "fraud_status, gross_amount, outcome, body, received_at) VALUES (:t, :o, :src, :ts, "
              ":fs, :ga, :out, :b, :n)",
            soci::use(tn, "t"), soci::use(cur->order_id, "o"), soci::use(source, "src"),
            soci::use(ts, "ts"), soci::use(fs, "fs"), soci::use(ga, "ga"),
            soci::use(outcome, "out"), soci::use(body, "b"), soci::use(n, "n");
        if (fault_.load() == Fault::kKillBeforeCommit && outcome == "applied" &&
            o == GatewayOutcome::kSettled) {
          LogEvent(spdlog::level::critical, "test_fault", {{"fault", "kill_before_commit"}});
          ::raise(SIGKILL);
        }
        return Status::Ok();
      });
  if (!st.ok()) return st;
  if (fault_.load() == Fault::kKillAfterCommit && outcome == "applied" &&
      o == GatewayOutcome::kSettled) {
    LogEvent(spdlog::level::critical, "test_fault", {{"fault", "kill_after_commit"}});
    ::raise(SIGKILL);
  }
  LogEvent(spdlog::level::info, "payment_status_applied",
           {{"order_id", order.order_id},
            {"source", source},
            {"transaction_status", t.transaction_status},
            {"outcome", outcome}});
  return outcome;
}

NotificationAnswer PaymentService::HandleNotification(std::string_view content_type,
                                                      std::string_view body, UnixNanos now) {
  auto reject = [](int http, std::string detail, std::string field = {}) {
    return NotificationAnswer{http, "rejected", std::move(detail), std::move(field)};
  };
  std::string_view ct = content_type.substr(0, content_type.find(';'));
  while (!ct.empty() && ct.back() == ' ') ct.remove_suffix(1);
  std::string lower(ct);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower != "application/json") {
    return reject(415, "Content-Type must be application/json", "Content-Type");
  }
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) return reject(400, "malformed JSON", "body");
  auto parsed = Transaction::FromJson(j, /*need_signature=*/true);
  if (!parsed.ok()) return reject(400, parsed.error().message(), parsed.error().field());
  const Transaction& note = *parsed;
  if (!note.SignatureValid(gateway_.config().server_key)) {
    LogEvent(spdlog::level::warn, "midtrans_signature_rejected",
             {{"order_id", note.order_id.substr(0, 50)},
              {"transaction_status", note.transaction_status.substr(0, 32)}});
    return reject(401, "signature_key does not match", "signature_key");
  }
  auto found = FindBy(note.order_id);
  if (!found.ok()) return {503, "retry", "database unavailable", ""};
  if (!found->has_value()) {
    LogEvent(spdlog::level::warn, "midtrans_unknown_order", {{"order_id", note.order_id}});
    return reject(404, "unknown order", "order_id");
  }
  const Order& order = **found;
  // Trust the gateway, not the message: ask for the transaction's current status.
  auto confirmed = gateway_.GetStatus(order.order_id);
  if (!confirmed.ok()) {
    LogEvent(spdlog::level::warn, "midtrans_status_unconfirmed",
             {{"order_id", order.order_id}, {"error", confirmed.error().ToString()}});
    return {503, "retry", "the gateway's status API did not confirm the notification", ""};
  }
  if (confirmed->order_id != order.order_id ||
      !confirmed->SignatureValid(gateway_.config().server_key)) {
    LogEvent(spdlog::level::err, "midtrans_status_signature_invalid",
             {{"order_id", order.order_id}});
    return {503, "retry", "the gateway's status answer could not be verified", ""};
  }
  auto applied = ApplyTransaction(order, *confirmed, "notification", body, now);
  if (!applied.ok()) {
    LogEvent(spdlog::level::err, "midtrans_notification_failed",
             {{"order_id", order.order_id}, {"error", applied.error().ToString()}});
    return {503, "retry", "could not record the payment; retry", ""};
  }
  return {200, *applied, "", ""};
}

Result<Order> PaymentService::Refund(const std::string& order_id, int64_t amount_idr,
                                     const std::string& reason, const std::string& actor,
                                     UnixNanos now, const std::string& idempotency_key) {
  SINYAL_ASSIGN_OR_RETURN(Order order, FindOrder(order_id));
  // The refund_key: derived from the caller's Idempotency-Key (a retried request is the same
  // refund at Midtrans, which is idempotent on refund_key, and here), else random.
  std::string key = "rf-" + RandomHex(6);
  if (!idempotency_key.empty()) {
    const std::string material = order_id + "\n" + idempotency_key;
    unsigned char digest[12];
    crypto_generichash(digest, sizeof digest,
                       reinterpret_cast<const unsigned char*>(material.data()), material.size(),
                       nullptr, 0);
    char hex[sizeof digest * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    key = std::string("rf-") + hex;
    bool done = false;
    SINYAL_RETURN_IF_ERROR(db_.WithTenantReadTx(order.tenant, [&](soci::session& tx) -> Status {
      int n = 0;
      const std::string k = "refund:" + key;
      tx << "SELECT COUNT(*) FROM payment_transitions WHERE order_id = :o AND status_key = :k",
          soci::use(order_id, "o"), soci::use(k, "k"), soci::into(n);
      done = n > 0;
      return Status::Ok();
    }));
    if (done) return order;  // a retry of a refund already made: its result
  }
  if (order.status != "paid" && order.status != "partially_refunded") {
    return Status::FailedPrecondition("order " + order_id + " is " + order.status + ", not paid",
                                      "id");
  }
  if (amount_idr <= 0) return Status::InvalidArgument("must be positive", "amount_idr");
  const billing::AccountRules& rules = subs_.rules();
  int64_t refundable = 0;
  SINYAL_RETURN_IF_ERROR(
      subs_.Apply(order.tenant, now, actor, [&](BillingAccount& a, soci::session&) -> Status {
        refundable = a.RefundableIdr(order.invoice);
        return Status::Ok();
      }));
  if (amount_idr > refundable) {
    return Status::InvalidArgument(
        "at most " + std::to_string(refundable) + " of this order can be refunded", "amount_idr");
  }
  SINYAL_RETURN_IF_ERROR(gateway_.Refund(order_id, key, amount_idr, reason));
  // The money has left: record it whatever happened meanwhile (forced).
  SINYAL_RETURN_IF_ERROR(
      subs_.Apply(order.tenant, now, actor, [&](BillingAccount& a, soci::session& tx) -> Status {
        if (!InsertTransition(tx, order_id, "refund:" + key, order.tenant, now))
          return Status::Ok();
        SINYAL_RETURN_IF_ERROR(a.ReturnCash(order.invoice, amount_idr, "refund", true, now,
                                            order_id + "/" + key, rules));
        SINYAL_ASSIGN_OR_RETURN(std::optional<Order> cur, ReadOrder(tx, order_id));
        Order next = *cur;
        next.status = a.Find(order.invoice)->status == InvoiceStatus::kRevoked
                          ? "refunded"
                          : "partially_refunded";
        WriteOrderState(tx, next, now);
        return Status::Ok();
      }));
  LogEvent(spdlog::level::info, "payment_refunded",
           {{"order_id", order_id}, {"amount_idr", amount_idr}, {"actor", actor}});
  return FindOrder(order_id);
}

Result<int> PaymentService::Reconcile(UnixNanos now, int limit) {
  SINYAL_RETURN_IF_ERROR(subs_.AdvanceDue(now).status());
  // Open renewal invoices get a payment link (an order) once issued.
  std::vector<std::pair<int64_t, int64_t>> renewals;
  SINYAL_RETURN_IF_ERROR(db_.WithReadTx([&](soci::session& tx) -> Status {
    long long lim = limit;
    soci::rowset<soci::row> rows =
        (tx.prepare << "SELECT i.tenant_id, i.seq FROM term_invoices i WHERE i.status = 'open' "
                       "AND i.kind = 'renewal' AND i.total_idr > 0 AND NOT EXISTS (SELECT 1 FROM "
                       "payment_orders o WHERE o.tenant_id = i.tenant_id AND o.invoice_seq = "
                       "i.seq AND o.status IN ('creating', 'pending_payment', 'pending', "
                       "'challenge', 'denied')) ORDER BY i.id LIMIT :lim",
         soci::use(lim, "lim"));
    for (const soci::row& r : rows) {
      renewals.emplace_back(billing::internal::I64(r, 0), billing::internal::I64(r, 1));
    }
    return Status::Ok();
  }));
  for (auto [t, seq] : renewals) {
    const TenantId tenant(t);
    Customer customer;
    (void)db_.WithTenantReadTx(tenant, [&](soci::session& tx) -> Status {
      long long tid = t;
      tx << "SELECT display_name, email FROM users WHERE tenant_id = :t ORDER BY "
            "CASE WHEN role = 'owner' THEN 0 ELSE 1 END, id LIMIT 1",
          soci::use(tid, "t"), soci::into(customer.first_name), soci::into(customer.email);
      return Status::Ok();
    });
    auto inv = subs_.Invoice(tenant, seq);
    if (!inv.ok()) continue;
    auto o = EnsureOrder(tenant, *inv, customer, now);
    if (!o.ok()) {
      LogEvent(spdlog::level::warn, "renewal_order_failed",
               {{"tenant_id", t}, {"invoice", seq}, {"error", o.error().ToString()}});
    }
  }
  // Payable orders whose invoice is no longer open (voided by a lapse, a cancellation or a new
  // checkout, wherever that happened): cancelled at the gateway so they can't be paid any more,
  // at most once per reconcile_every per order. The gateway's cancel notification closes them
  // here; a payment that still gets through becomes credit balance.
  std::vector<std::pair<int64_t, std::string>> voided;
  SINYAL_RETURN_IF_ERROR(db_.WithReadTx([&](soci::session& tx) -> Status {
    long long checked = now - options_.reconcile_every, lim = limit;
    soci::rowset<soci::row> rows =
        (tx.prepare << "SELECT o.tenant_id, o.order_id FROM payment_orders o JOIN term_invoices i "
                       "ON i.tenant_id = o.tenant_id AND i.seq = o.invoice_seq WHERE o.status IN "
                       "('pending_payment', 'pending', 'challenge', 'denied') AND i.status <> "
                       "'open' AND o.last_checked_at <= :k ORDER BY o.id LIMIT :lim",
         soci::use(checked, "k"), soci::use(lim, "lim"));
    for (const soci::row& r : rows) {
      voided.emplace_back(billing::internal::I64(r, 0), billing::internal::Str(r, 1));
    }
    return Status::Ok();
  }));
  for (const auto& [t, id] : voided) {
    Status st = gateway_.Cancel(id);
    if (!st.ok() && st.code() != StatusCode::kNotFound) {
      LogEvent(spdlog::level::warn, "payment_cancel_failed",
               {{"order_id", id}, {"error", st.ToString()}});
    }
    (void)db_.WithTenantTx(TenantId(t), [&](soci::session& tx) -> Status {
      long long n = now;
      tx << "UPDATE payment_orders SET last_checked_at = :n WHERE order_id = :o", soci::use(n, "n"),
          soci::use(id, "o");
      return Status::Ok();
    });
  }
  // Orders the gateway has not told us about for a while.
  std::vector<std::string> stale;
  SINYAL_RETURN_IF_ERROR(db_.WithReadTx([&](soci::session& tx) -> Status {
    long long created = now - options_.reconcile_after, checked = now - options_.reconcile_every,
              lim = limit;
    soci::rowset<soci::row> rows =
        (tx.prepare << "SELECT order_id FROM payment_orders WHERE status IN ('creating', "
                       "'pending_payment', 'pending', 'challenge', 'denied') AND created_at <= :c "
                       "AND last_checked_at <= :k ORDER BY last_checked_at, id LIMIT :lim",
         soci::use(created, "c"), soci::use(checked, "k"), soci::use(lim, "lim"));
    for (const soci::row& r : rows) stale.push_back(billing::internal::Str(r, 0));
    return Status::Ok();
  }));
  int polled = 0;
  for (const std::string& id : stale) {
    auto order = FindBy(id);
    if (!order.ok() || !order->has_value()) continue;
    const Order& o = **order;
    ++polled;
    auto t = gateway_.GetStatus(id);
    if (t.ok() && t->order_id == id && t->SignatureValid(gateway_.config().server_key)) {
      auto r = ApplyTransaction(o, *t, "poll", "", now);
      if (!r.ok())
        LogEvent(spdlog::level::warn, "payment_poll_failed",
                 {{"order_id", id}, {"error", r.error().ToString()}});
      continue;
    }
    if (!t.ok() && t.error().code() == StatusCode::kNotFound && o.expires_at <= now) {
      // No payment was ever chosen and the order has expired: it is over.
      Transaction expired;
      expired.order_id = id;
      expired.transaction_status = "expire";
      expired.status_code = "407";
      expired.gross_amount = std::to_string(o.gross_amount) + ".00";
      auto r = ApplyTransaction(o, expired, "poll", "", now);
      if (!r.ok())
        LogEvent(spdlog::level::warn, "payment_poll_failed",
                 {{"order_id", id}, {"error", r.error().ToString()}});
      continue;
    }
    if (!t.ok() && t.error().code() != StatusCode::kNotFound) {
      LogEvent(spdlog::level::warn, "payment_poll_unavailable",
               {{"order_id", id}, {"error", t.error().ToString()}});
    }
    (void)db_.WithTenantTx(o.tenant, [&](soci::session& tx) -> Status {
      long long n = now;
      tx << "UPDATE payment_orders SET last_checked_at = :n WHERE order_id = :o", soci::use(n, "n"),
          soci::use(id, "o");
      return Status::Ok();
    });
  }
  return polled;
}

void RegisterPaymentJobs(store::JobWorker& worker, PaymentService& payments, Clock& clock) {
  worker.Register(std::string(kReconcileJobKind),
                  [&payments, &clock](const store::Job&,
                                      const store::JobWorker::ProgressFn&) -> Result<std::string> {
                    SINYAL_ASSIGN_OR_RETURN(int polled, payments.Reconcile(clock.Now()));
                    return nlohmann::json({{"polled", polled}}).dump();
                  });
}

}  // namespace sinyal::payments
