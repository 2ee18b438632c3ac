// Self-service subscriptions in the database (billing/subscription_service.h).
#include "billing/subscription_service.h"

#include <algorithm>

#include "billing/sql_util.h"
#include "core/log.h"
#include "core/time.h"
#include "store/database.h"
#include "store/soci.h"

namespace sinyal::billing {

namespace {

nlohmann::json TimeJson(UnixNanos t) {
  return t == 0 ? nlohmann::json(nullptr) : nlohmann::json(FormatIso8601(t));
}

Result<InvoiceKind> ParseKind(const std::string& s) {
  if (s == "new") return InvoiceKind::kNew;
  if (s == "upgrade") return InvoiceKind::kUpgrade;
  if (s == "renewal") return InvoiceKind::kRenewal;
  return Status::DataLoss("unknown invoice kind '" + s + "'");
}

Result<InvoiceStatus> ParseInvoiceStatus(const std::string& s) {
  if (s == "open") return InvoiceStatus::kOpen;
  if (s == "paid") return InvoiceStatus::kPaid;
  if (s == "void") return InvoiceStatus::kVoid;
  if (s == "revoked") return InvoiceStatus::kRevoked;
  return Status::DataLoss("unknown invoice status '" + s + "'");
}

constexpr const char* kInvoiceColumns =
    "seq, kind, plan, term, subtotal_idr, proration_credit_idr, credit_applied_idr, total_idr, "
    "status, created_at, paid_at, closed_at, due_at, term_start, term_end, credits_seq, "
    "refunded_idr, credited_idr, credited_by, late_paid_idr, prev_state, void_reason";

Result<TermInvoice> InvoiceFromRow(const soci::row& r) {
  using internal::I64;
  using internal::Str;
  TermInvoice inv;
  inv.seq = I64(r, 0);
  SINYAL_ASSIGN_OR_RETURN(inv.kind, ParseKind(Str(r, 1)));
  inv.plan = Str(r, 2);
  SINYAL_ASSIGN_OR_RETURN(inv.term, ParseTerm(Str(r, 3)));
  inv.subtotal_idr = I64(r, 4);
  inv.proration_credit_idr = I64(r, 5);
  inv.credit_applied_idr = I64(r, 6);
  inv.total_idr = I64(r, 7);
  SINYAL_ASSIGN_OR_RETURN(inv.status, ParseInvoiceStatus(Str(r, 8)));
  inv.created_at = I64(r, 9);
  inv.paid_at = I64(r, 10);
  inv.closed_at = I64(r, 11);
  inv.due_at = I64(r, 12);
  inv.term_start = I64(r, 13);
  inv.term_end = I64(r, 14);
  inv.credits_seq = I64(r, 15);
  inv.refunded_idr = I64(r, 16);
  inv.credited_idr = I64(r, 17);
  inv.credited_by = I64(r, 18);
  inv.late_paid_idr = I64(r, 19);
  const std::string prev = Str(r, 20);
  if (!prev.empty()) {
    SINYAL_ASSIGN_OR_RETURN(inv.prev,
                            TermState::FromJson(nlohmann::json::parse(prev, nullptr, false)));
  }
  inv.void_reason = Str(r, 21);
  return inv;
}

// Binds every column of a term invoice (as named parameters) and runs `q`; returns the number
// of rows it changed.
long long WriteInvoice(soci::session& tx, const std::string& q, long long tenant,
                       const TermInvoice& inv, long long now) {
  long long seq = inv.seq, sub = inv.subtotal_idr, pro = inv.proration_credit_idr,
            cred = inv.credit_applied_idr, total = inv.total_idr, created = inv.created_at,
            paid = inv.paid_at, closed = inv.closed_at, due = inv.due_at, ts = inv.term_start,
            te = inv.term_end, cs = inv.credits_seq, refunded = inv.refunded_idr,
            credited = inv.credited_idr, credited_by = inv.credited_by, late = inv.late_paid_idr;
  std::string kind(InvoiceKindName(inv.kind)), term(TermName(inv.term)),
      status(InvoiceStatusName(inv.status)), prev = inv.prev ? inv.prev->ToJson().dump() : "",
                                             reason = inv.void_reason, plan = inv.plan;
  soci::indicator prev_ind = inv.prev ? soci::i_ok : soci::i_null;
  soci::statement st =
      (tx.prepare << q, soci::use(tenant, "t"), soci::use(seq, "seq"), soci::use(kind, "kind"),
       soci::use(plan, "plan"), soci::use(term, "term"), soci::use(sub, "sub"),
       soci::use(pro, "pro"), soci::use(cred, "cred"), soci::use(total, "total"),
       soci::use(status, "status"), soci::use(created, "created"), soci::use(paid, "paid"),
       soci::use(closed, "closed"), soci::use(due, "due"), soci::use(ts, "ts"), soci::use(te, "te"),
       soci::use(cs, "cs"), soci::use(refunded, "refunded"), soci::use(credited, "credited"),
       soci::use(credited_by, "cby"), soci::use(late, "late"), soci::use(prev, prev_ind, "prev"),
       soci::use(reason, "reason"), soci::use(now, "now"));
  st.execute(true);
  return st.get_affected_rows();
}

constexpr const char* kInsertInvoice =
    "INSERT INTO term_invoices (tenant_id, seq, kind, plan, term, subtotal_idr, "
    "proration_credit_idr, credit_applied_idr, total_idr, status, created_at, paid_at, closed_at, "
    "due_at, term_start, term_end, credits_seq, refunded_idr, credited_idr, credited_by, "
    "late_paid_idr, prev_state, void_reason, updated_at) VALUES (:t, :seq, :kind, :plan, :term, "
    ":sub, :pro, :cred, :total, :status, :created, :paid, :closed, :due, :ts, :te, :cs, "
    ":refunded, :credited, :cby, :late, :prev, :reason, :now)";
// Lines (S, U, B, T), kind, plan, term and seq never change after the insert.
constexpr const char* kUpdateInvoice =
    "UPDATE term_invoices SET status = :status, paid_at = :paid, closed_at = :closed, "
    "due_at = :due, term_start = :ts, term_end = :te, credits_seq = :cs, refunded_idr = "
    ":refunded, credited_idr = :credited, credited_by = :cby, late_paid_idr = :late, "
    "prev_state = :prev, void_reason = :reason, updated_at = :now "
    "WHERE tenant_id = :t AND seq = :seq AND kind = :kind AND plan = :plan AND term = :term "
    "AND subtotal_idr = :sub AND proration_credit_idr = :pro AND credit_applied_idr = :cred "
    "AND total_idr = :total AND created_at = :created";

StoredEvent EventFromRow(const soci::row& r) {
  using internal::I64;
  using internal::Str;
  StoredEvent e;
  e.id = I64(r, 0);
  e.tenant = TenantId(I64(r, 1));
  e.kind = Str(r, 2);
  e.invoice = I64(r, 3);
  e.data = nlohmann::json::parse(Str(r, 4), nullptr, false);
  e.actor = Str(r, 5);
  e.at = I64(r, 6);
  e.recorded_at = I64(r, 7);
  return e;
}

}  // namespace

nlohmann::json StoredEvent::ToJson() const {
  return {{"id", id},
          {"tenant_id", tenant.value()},
          {"kind", kind},
          {"invoice", invoice == 0 ? nlohmann::json(nullptr) : nlohmann::json(invoice)},
          {"data", data},
          {"actor", actor},
          {"at", FormatIso8601(at)},
          {"recorded_at", FormatIso8601(recorded_at)}};
}

nlohmann::json CashRow::ToJson() const {
  return {{"id", id},
          {"tenant_id", tenant.value()},
          {"invoice", invoice},
          {"kind", kind},
          {"amount_idr", amount_idr},
          {"reference", reference},
          {"at", FormatIso8601(at)}};
}

nlohmann::json TermInvoiceJson(TenantId tenant, const TermInvoice& inv) {
  nlohmann::json j = {
      {"id", inv.seq},
      {"number", "T" + std::to_string(tenant.value()) + "-" + std::to_string(inv.seq)},
      {"kind", InvoiceKindName(inv.kind)},
      {"plan", inv.plan},
      {"period", TermName(inv.term)},
      {"status", InvoiceStatusName(inv.status)},
      {"currency", "IDR"},
      {"lines",
       {{"subtotal_idr", inv.subtotal_idr},
        {"proration_credit_idr", inv.proration_credit_idr},
        {"credit_applied_idr", inv.credit_applied_idr},
        {"total_idr", inv.total_idr}}},
      {"total_idr", inv.total_idr},
      {"refunded_idr", inv.refunded_idr},
      {"credited_idr", inv.credited_idr},
      {"created_at", TimeJson(inv.created_at)},
      {"paid_at", TimeJson(inv.paid_at)},
      {"closed_at", TimeJson(inv.closed_at)},
      {"due_at", TimeJson(inv.due_at)}};
  j["term"] = inv.term_start == 0 ? nlohmann::json(nullptr)
                                  : nlohmann::json({{"start", FormatIso8601(inv.term_start)},
                                                    {"end", FormatIso8601(inv.term_end)}});
  if (inv.credits_seq != 0) j["credits_invoice"] = inv.credits_seq;
  if (inv.credited_by != 0) j["credited_to_invoice"] = inv.credited_by;
  if (inv.late_paid_idr != 0) j["late_paid_idr"] = inv.late_paid_idr;
  if (!inv.void_reason.empty()) j["void_reason"] = inv.void_reason;
  return j;
}

nlohmann::json AccountView::ToJson() const {
  const TermState& s = state;
  nlohmann::json j = {{"tenant_id", tenant.value()},
                      {"plan", s.plan},
                      {"status", SubscriptionStatusName(s.status)},
                      {"credit_balance_idr", balance_idr},
                      {"currency", "IDR"}};
  if (s.status == SubscriptionStatus::kFree) {
    j["period"] = nullptr;
    j["term"] = nullptr;
  } else {
    j["period"] = TermName(s.term);
    j["term"] = {{"start", FormatIso8601(s.term_start)},
                 {"end", FormatIso8601(s.term_end)},
                 {"invoice", s.term_invoice}};
  }
  j["grace_until"] = s.status == SubscriptionStatus::kPastDue ? TimeJson(s.grace_until) : nullptr;
  j["cancel_at_period_end"] = s.cancel_at_term_end;
  if (s.next_plan) {
    j["scheduled_change"] = {{"plan", *s.next_plan},
                             {"period", TermName(s.next_term.value_or(s.term))},
                             {"effective_at", FormatIso8601(s.term_end)}};
  } else if (s.cancel_at_term_end) {
    j["scheduled_change"] = {{"plan", "free"}, {"effective_at", FormatIso8601(s.term_end)}};
  } else {
    j["scheduled_change"] = nullptr;
  }
  j["open_invoice"] = nullptr;
  for (const TermInvoice& inv : invoices) {
    if (inv.status == InvoiceStatus::kOpen) {
      j["open_invoice"] = TermInvoiceJson(tenant, inv);
      break;
    }
  }
  return j;
}

SubscriptionService::SubscriptionService(store::Database& db, Subscriptions& subscriptions,
                                         SubscriptionServiceOptions options)
    : db_(db), subs_(subscriptions), options_(options) {
  rules_.renewal_notice = options_.renewal_notice;
  rules_.grace = options_.grace;
  PlanStore* plans = &subs_.plans();
  rules_.price = [plans](std::string_view name, Term term) -> Result<int64_t> {
    SINYAL_ASSIGN_OR_RETURN(std::shared_ptr<const Plan> plan, plans->GetShared(name));
    const int64_t price = term == Term::kYear ? plan->yearly_price_idr : plan->price_idr;
    if (price <= 0) {
      return Status::InvalidArgument("plan " + plan->name + " is not sold " +
                                         (term == Term::kYear ? "yearly" : "monthly") + " online",
                                     term == Term::kYear ? "period" : "plan");
    }
    return price;
  };
}

void SubscriptionService::Subscribe(std::function<void(const StoredEvent&)> listener) {
  listeners_.push_back(std::move(listener));
}

Result<BillingAccount> SubscriptionService::LoadLocked(soci::session& tx, TenantId tenant,
                                                       UnixNanos now, int64_t* stored_next_seq) {
  const bool pg = db_.dialect() == store::Dialect::kPostgres;
  long long t = tenant.value();
  std::string state_text;
  long long next_seq = 1, balance = 0, cash = 0, written_off = 0;
  const std::string select =
      std::string(
          "SELECT state, next_seq, balance_idr, cash_idr, written_off_idr FROM "
          "billing_accounts WHERE tenant_id = :t") +
      (pg ? " FOR UPDATE" : "");
  tx << select, soci::use(t, "t"), soci::into(state_text), soci::into(next_seq),
      soci::into(balance), soci::into(cash), soci::into(written_off);
  if (!tx.got_data()) {
    std::string initial = TermState{}.ToJson().dump();
    long long n = now;
    tx << "INSERT INTO billing_accounts (tenant_id, state, status, plan, term_end, next_deadline, "
          "balance_idr, cash_idr, written_off_idr, next_seq, version, updated_at) VALUES (:t, :s, "
          "'free', 'free', 0, 0, 0, 0, 0, 1, 0, :now) ON CONFLICT DO NOTHING",
        soci::use(t, "t"), soci::use(initial, "s"), soci::use(n, "now");
    tx << select, soci::use(t, "t"), soci::into(state_text), soci::into(next_seq),
        soci::into(balance), soci::into(cash), soci::into(written_off);
    if (!tx.got_data()) return Status::Internal("billing account row missing");
  }
  SINYAL_ASSIGN_OR_RETURN(TermState state,
                          TermState::FromJson(nlohmann::json::parse(state_text, nullptr, false)));
  std::deque<TermInvoice> invoices;
  soci::rowset<soci::row> rows =
      (tx.prepare << std::string("SELECT ") + kInvoiceColumns +
                         " FROM term_invoices WHERE tenant_id = :t ORDER BY seq",
       soci::use(t, "t"));
  for (const soci::row& r : rows) {
    SINYAL_ASSIGN_OR_RETURN(TermInvoice inv, InvoiceFromRow(r));
    invoices.push_back(std::move(inv));
  }
  *stored_next_seq = next_seq;
  return BillingAccount::Load(std::move(state), std::move(invoices), balance, written_off, cash,
                              next_seq);
}

Status SubscriptionService::Save(soci::session& tx, TenantId tenant, UnixNanos now,
                                 const std::string& actor, BillingAccount& account,
                                 int64_t stored_next_seq, std::vector<StoredEvent>* events_out,
                                 bool* plan_switched) {
  BillingAccount::Changes ch = account.Drain();
  *plan_switched = false;
  if (ch.events.empty() && ch.touched.empty() && ch.credits.empty() && ch.cash.empty() &&
      ch.plan_switches.empty() && !ch.state_changed) {
    return Status::Ok();  // a read (View): nothing to write
  }
  long long t = tenant.value(), n = now;
  for (int64_t seq : ch.touched) {
    const TermInvoice* inv = account.Find(seq);
    if (inv == nullptr) return Status::Internal("touched invoice missing");
    const bool created = seq >= stored_next_seq;
    if (WriteInvoice(tx, created ? kInsertInvoice : kUpdateInvoice, t, *inv, n) != 1) {
      // An update matches only when the invoice's lines are the stored ones: never rewritten.
      return Status::Internal("term invoice " + std::to_string(seq) + " could not be written");
    }
  }
  for (const CreditEntry& c : ch.credits) {
    long long amount = c.amount_idr, seq = c.invoice, at = c.at;
    std::string reason = c.reason;
    tx << "INSERT INTO credit_ledger (tenant_id, amount_idr, reason, invoice_seq, at) VALUES "
          "(:t, :a, :r, :s, :at)",
        soci::use(t, "t"), soci::use(amount, "a"), soci::use(reason, "r"), soci::use(seq, "s"),
        soci::use(at, "at");
  }
  for (const CashEntry& c : ch.cash) {
    long long amount = c.amount_idr, seq = c.invoice, at = c.at;
    std::string kind = c.kind, ref = c.reference;
    tx << "INSERT INTO payments (tenant_id, invoice_seq, kind, amount_idr, reference, at) VALUES "
          "(:t, :s, :k, :a, :r, :at)",
        soci::use(t, "t"), soci::use(seq, "s"), soci::use(kind, "k"), soci::use(amount, "a"),
        soci::use(ref, "r"), soci::use(at, "at");
  }
  for (const AccountEvent& e : ch.events) {
    long long seq = e.invoice, at = e.at;
    std::string kind = e.kind, data = e.data.dump(), who = actor;
    tx << "INSERT INTO billing_events (tenant_id, kind, invoice_seq, data, actor, at, "
          "recorded_at) VALUES (:t, :k, :s, :d, :a, :at, :now)",
        soci::use(t, "t"), soci::use(kind, "k"), soci::use(seq, "s"), soci::use(data, "d"),
        soci::use(who, "a"), soci::use(at, "at"), soci::use(n, "now");
    if (events_out != nullptr) {
      events_out->push_back({0, tenant, e.kind, e.invoice, e.data, actor, e.at, now});
    }
  }
  *plan_switched = !ch.plan_switches.empty();
  for (const PlanSwitch& s : ch.plan_switches) {
    SINYAL_RETURN_IF_ERROR(Subscriptions::ChangePlanInTx(tx, db_.dialect(), tenant, s.to, s.at,
                                                         "billing:" + s.reason));
  }
  const TermState& s = account.state();
  std::string state_text = s.ToJson().dump(), status(SubscriptionStatusName(s.status)),
              plan = s.plan;
  long long term_end = s.term_end, deadline = account.NextDeadline(rules_),
            balance = account.balance_idr(), cash = account.cash_idr(),
            written_off = account.written_off_idr(), next_seq = account.next_seq();
  tx << "UPDATE billing_accounts SET state = :s, status = :st, plan = :p, term_end = :te, "
        "next_deadline = :d, balance_idr = :b, cash_idr = :c, written_off_idr = :w, next_seq = "
        ":ns, version = version + 1, updated_at = :now WHERE tenant_id = :t",
      soci::use(state_text, "s"), soci::use(status, "st"), soci::use(plan, "p"),
      soci::use(term_end, "te"), soci::use(deadline, "d"), soci::use(balance, "b"),
      soci::use(cash, "c"), soci::use(written_off, "w"), soci::use(next_seq, "ns"),
      soci::use(n, "now"), soci::use(t, "t");
  return Status::Ok();
}

Status SubscriptionService::Apply(TenantId tenant, UnixNanos now, const std::string& actor,
                                  const Op& op) {
  if (!tenant.valid()) return Status::InvalidArgument("invalid tenant id", "tenant");
  std::vector<StoredEvent> events;
  bool switched = false;
  Status st = db_.WithTenantTx(tenant, [&](soci::session& tx) -> Status {
    events.clear();
    int64_t stored_next_seq = 1;
    SINYAL_ASSIGN_OR_RETURN(BillingAccount account, LoadLocked(tx, tenant, now, &stored_next_seq));
    SINYAL_RETURN_IF_ERROR(account.Advance(now, rules_));
    if (op) SINYAL_RETURN_IF_ERROR(op(account, tx));
    return Save(tx, tenant, now, actor, account, stored_next_seq, &events, &switched);
  });
  if (!st.ok()) return st;
  if (switched) subs_.Invalidate(tenant);
  for (const StoredEvent& e : events) {
    for (const auto& listener : listeners_) {
      try {
        listener(e);
      } catch (const std::exception& ex) {
        LogEvent(spdlog::level::err, "billing_listener_failed", {{"what", ex.what()}});
      }
    }
  }
  return Status::Ok();
}

Result<CheckoutResult> SubscriptionService::Checkout(TenantId tenant, const std::string& plan,
                                                     Term term, UnixNanos now,
                                                     const std::string& actor) {
  CheckoutResult out;
  SINYAL_RETURN_IF_ERROR(
      Apply(tenant, now, actor, [&](BillingAccount& a, soci::session&) -> Status {
        SINYAL_ASSIGN_OR_RETURN(out.outcome, a.Checkout(plan, term, now, rules_));
        out.invoice.reset();
        if (out.outcome.invoice != 0) out.invoice = *a.Find(out.outcome.invoice);
        out.state = a.state();
        return Status::Ok();
      }));
  return out;
}

Result<TermState> SubscriptionService::Cancel(TenantId tenant, UnixNanos now,
                                              const std::string& actor) {
  TermState out;
  SINYAL_RETURN_IF_ERROR(
      Apply(tenant, now, actor, [&](BillingAccount& a, soci::session&) -> Status {
        SINYAL_RETURN_IF_ERROR(a.Cancel(now, rules_));
        out = a.state();
        return Status::Ok();
      }));
  return out;
}

Result<AccountView> SubscriptionService::View(TenantId tenant, UnixNanos now) {
  AccountView view;
  view.tenant = tenant;
  SINYAL_RETURN_IF_ERROR(
      Apply(tenant, now, "system", [&](BillingAccount& a, soci::session&) -> Status {
        view.state = a.state();
        view.invoices.assign(a.invoices().rbegin(), a.invoices().rend());
        view.balance_idr = a.balance_idr();
        view.reconciliation = a.Reconcile();
        return Status::Ok();
      }));
  return view;
}

Result<TermInvoice> SubscriptionService::Invoice(TenantId tenant, int64_t seq) {
  std::optional<TermInvoice> out;
  SINYAL_RETURN_IF_ERROR(db_.WithTenantReadTx(tenant, [&](soci::session& tx) -> Status {
    long long t = tenant.value(), s = seq;
    soci::rowset<soci::row> rows =
        (tx.prepare << std::string("SELECT ") + kInvoiceColumns +
                           " FROM term_invoices WHERE tenant_id = :t AND seq = :s",
         soci::use(t, "t"), soci::use(s, "s"));
    for (const soci::row& r : rows) {
      SINYAL_ASSIGN_OR_RETURN(TermInvoice inv, InvoiceFromRow(r));
      out = std::move(inv);
    }
    return Status::Ok();
  }));
  if (!out) return Status::NotFound("no such invoice", "id");
  return *out;
}

Result<int> SubscriptionService::AdvanceDue(UnixNanos now, int limit) {
  std::vector<int64_t> due;
  SINYAL_RETURN_IF_ERROR(db_.WithReadTx([&](soci::session& tx) -> Status {
    long long n = now, lim = limit;
    soci::rowset<soci::row> rows =
        (tx.prepare << "SELECT tenant_id FROM billing_accounts WHERE next_deadline > 0 AND "
                       "next_deadline <= :n ORDER BY next_deadline LIMIT :lim",
         soci::use(n, "n"), soci::use(lim, "lim"));
    for (const soci::row& r : rows) due.push_back(internal::I64(r, 0));
    return Status::Ok();
  }));
  int advanced = 0;
  for (int64_t t : due) {
    Status st = Apply(TenantId(t), now, "system", nullptr);
    if (!st.ok()) {
      LogEvent(spdlog::level::warn, "billing_advance_failed",
               {{"tenant_id", t}, {"error", st.ToString()}});
      continue;
    }
    ++advanced;
  }
  return advanced;
}

Result<std::vector<StoredEvent>> SubscriptionService::EventsSince(int64_t after_id, int limit) {
  if (limit < 1 || limit > 1000) return Status::InvalidArgument("must be in [1, 1000]", "limit");
  std::vector<StoredEvent> out;
  SINYAL_RETURN_IF_ERROR(db_.WithReadTx([&](soci::session& tx) -> Status {
    long long a = after_id, lim = limit;
    soci::rowset<soci::row> rows =
        (tx.prepare << "SELECT id, tenant_id, kind, invoice_seq, data, actor, at, recorded_at "
                       "FROM billing_events WHERE id > :a ORDER BY id LIMIT :lim",
         soci::use(a, "a"), soci::use(lim, "lim"));
    for (const soci::row& r : rows) out.push_back(EventFromRow(r));
    return Status::Ok();
  }));
  return out;
}

Result<std::vector<StoredEvent>> SubscriptionService::Events(TenantId tenant, int limit) {
  if (limit < 1 || limit > 1000) return Status::InvalidArgument("must be in [1, 1000]", "limit");
  std::vector<StoredEvent> out;
  SINYAL_RETURN_IF_ERROR(db_.WithTenantReadTx(tenant, [&](soci::session& tx) -> Status {
    long long t = tenant.value(), lim = limit;
    soci::rowset<soci::row> rows =
        (tx.prepare << "SELECT id, tenant_id, kind, invoice_seq, data, actor, at, recorded_at "
                       "FROM billing_events WHERE tenant_id = :t ORDER BY id DESC LIMIT :lim",
         soci::use(t, "t"), soci::use(lim, "lim"));
    for (const soci::row& r : rows) out.push_back(EventFromRow(r));
    return Status::Ok();
  }));
  return out;
}

Result<std::vector<CashRow>> SubscriptionService::Payments(TenantId tenant, int limit) {
  if (limit < 1 || limit > 1000) return Status::InvalidArgument("must be in [1, 1000]", "limit");
  std::vector<CashRow> out;
  SINYAL_RETURN_IF_ERROR(db_.WithTenantReadTx(tenant, [&](soci::session& tx) -> Status {
    long long t = tenant.value(), lim = limit;
    soci::rowset<soci::row> rows =
        (tx.prepare << "SELECT id, tenant_id, invoice_seq, kind, amount_idr, reference, at FROM "
                       "payments WHERE tenant_id = :t ORDER BY id DESC LIMIT :lim",
         soci::use(t, "t"), soci::use(lim, "lim"));
    for (const soci::row& r : rows) {
      CashRow c;
      c.id = internal::I64(r, 0);
      c.tenant = TenantId(internal::I64(r, 1));
      c.invoice = internal::I64(r, 2);
      c.kind = internal::Str(r, 3);
      c.amount_idr = internal::I64(r, 4);
      c.reference = internal::Str(r, 5);
      c.at = internal::I64(r, 6);
      out.push_back(std::move(c));
    }
    return Status::Ok();
  }));
  return out;
}

std::optional<AccountNotice> NoticeForEvent(const StoredEvent& e) {
  const nlohmann::json& d = e.data.is_object() ? e.data : nlohmann::json::object();
  auto str = [&](const char* k) {
    return d.contains(k) && d[k].is_string() ? d[k].get<std::string>() : std::string();
  };
  auto num = [&](const char* k) -> int64_t {
    if (!d.contains(k)) return 0;
    if (d[k].is_number_integer()) return d[k].get<int64_t>();
    if (d[k].is_string()) {
      try {
        return static_cast<int64_t>(std::stod(d[k].get<std::string>()));
      } catch (const std::exception&) {
        return 0;
      }
    }
    return 0;
  };
  auto time = [&](const char* k) -> UnixNanos {
    auto t = ParseIso8601(str(k));
    return t.ok() ? *t : 0;
  };
  AccountNotice n;
  n.tenant = e.tenant;
  n.plan = str("plan");
  if (e.kind == "invoice_paid") {
    n.amount_idr = num("total_idr");
    if (n.amount_idr <= 0) return std::nullopt;  // paid by credit: no payment to announce
    n.kind = NoticeKind::kPaymentSettled;
    n.event_id = "invoice:" + std::to_string(e.invoice);
    return n;
  }
  if (e.kind == "payment_failed" || e.kind == "payment_denied") {
    n.kind = NoticeKind::kPaymentFailed;
    n.amount_idr = num("gross_amount");
    n.detail = str("transaction_status");
    const std::string order = str("order_id");
    n.event_id = e.kind + ":" + (order.empty() ? std::to_string(e.invoice) : order);
    return n;
  }
  if (e.kind == "renewal_invoiced") {
    n.amount_idr = num("total_idr");
    if (n.amount_idr <= 0) return std::nullopt;  // renewed from credit
    n.kind = NoticeKind::kRenewalDue;
    n.due_at = time("due_at");
    n.event_id = "renewal:" + std::to_string(e.invoice);
    return n;
  }
  if (e.kind == "past_due") {
    n.kind = NoticeKind::kRenewalDue;
    n.due_at = time("grace_until");
    n.event_id = "past_due:" + std::to_string(e.invoice) + ":" + std::to_string(e.at);
    return n;
  }
  return std::nullopt;
}

}  // namespace sinyal::billing
