// The subscription term state machine and its money rules (billing/account.h).
#include "billing/account.h"

#include <algorithm>

#include "billing/plans.h"
#include "core/time.h"

namespace sinyal::billing {

std::string_view TermName(Term term) { return term == Term::kYear ? "year" : "month"; }

Result<Term> ParseTerm(std::string_view text, std::string_view field) {
  if (text == "month") return Term::kMonth;
  if (text == "year") return Term::kYear;
  return Status::InvalidArgument("must be month or year", std::string(field));
}

int TermMonths(Term term) { return term == Term::kYear ? 12 : 1; }

UnixNanos TermEnd(UnixNanos start, Term term) { return AddMonths(start, TermMonths(term)); }

int64_t UnusedValue(int64_t value_idr, UnixNanos start, UnixNanos end, UnixNanos at) {
  if (value_idr <= 0 || end <= start) return 0;
  if (at <= start) return value_idr;
  if (at >= end) return 0;
  const int64_t remaining = (end - at) / kNanosPerSecond;
  const int64_t length = (end - start) / kNanosPerSecond;
  if (length <= 0) return 0;
  // value <= 1e12 and remaining <= ~3.2e7 s (a year): the product needs 128 bits.
  return static_cast<int64_t>(static_cast<__int128>(value_idr) * remaining / length);
}

std::string_view SubscriptionStatusName(SubscriptionStatus s) {
  switch (s) {
    case SubscriptionStatus::kFree:
      return "free";
    case SubscriptionStatus::kActive:
      return "active";
    case SubscriptionStatus::kPastDue:
      return "past_due";
  }
  return "free";
}

std::string_view InvoiceKindName(InvoiceKind k) {
  switch (k) {
    case InvoiceKind::kNew:
      return "new";
    case InvoiceKind::kUpgrade:
      return "upgrade";
    case InvoiceKind::kRenewal:
      return "renewal";
  }
  return "new";
}

std::string_view InvoiceStatusName(InvoiceStatus s) {
  switch (s) {
    case InvoiceStatus::kOpen:
      return "open";
    case InvoiceStatus::kPaid:
      return "paid";
    case InvoiceStatus::kVoid:
      return "void";
    case InvoiceStatus::kRevoked:
      return "revoked";
  }
  return "open";
}

nlohmann::json TermState::ToJson() const {
  nlohmann::json j = {{"plan", plan},
                      {"status", SubscriptionStatusName(status)},
                      {"term", TermName(term)},
                      {"term_start", term_start},
                      {"term_end", term_end},
                      {"term_invoice", term_invoice},
                      {"grace_until", grace_until},
                      {"cancel_at_term_end", cancel_at_term_end}};
  j["next_plan"] = next_plan ? nlohmann::json(*next_plan) : nlohmann::json(nullptr);
  j["next_term"] = next_term ? nlohmann::json(TermName(*next_term)) : nlohmann::json(nullptr);
  return j;
}

Result<TermState> TermState::FromJson(const nlohmann::json& j) {
  if (!j.is_object()) return Status::DataLoss("term state is not an object");
  try {
    TermState s;
    s.plan = j.at("plan").get<std::string>();
    const std::string status = j.at("status").get<std::string>();
    if (status == "free")
      s.status = SubscriptionStatus::kFree;
    else if (status == "active")
      s.status = SubscriptionStatus::kActive;
    else if (status == "past_due")
      s.status = SubscriptionStatus::kPastDue;
    else
      return Status::DataLoss("unknown subscription status '" + status + "'");
    SINYAL_ASSIGN_OR_RETURN(s.term, ParseTerm(j.at("term").get<std::string>()));
    s.term_start = j.at("term_start").get<int64_t>();
    s.term_end = j.at("term_end").get<int64_t>();
    s.term_invoice = j.at("term_invoice").get<int64_t>();
    s.grace_until = j.at("grace_until").get<int64_t>();
    s.cancel_at_term_end = j.at("cancel_at_term_end").get<bool>();
    if (!j.at("next_plan").is_null()) s.next_plan = j.at("next_plan").get<std::string>();
    if (!j.at("next_term").is_null()) {
      SINYAL_ASSIGN_OR_RETURN(auto t, ParseTerm(j.at("next_term").get<std::string>()));
      s.next_term = t;
    }
    return s;
  } catch (const std::exception& e) {
    return Status::DataLoss(std::string("term state: ") + e.what());
  }
}

nlohmann::json Reconciliation::ToJson() const {
  return {{"cash_idr", cash_idr},
          {"earned_idr", earned_idr},
          {"balance_idr", balance_idr},
          {"held_idr", held_idr},
          {"written_off_idr", written_off_idr},
          {"difference_idr", cash_idr + written_off_idr - earned_idr - balance_idr - held_idr},
          {"line_errors", line_errors},
          {"ok", ok()}};
}

// ---- internals ----

const TermInvoice* BillingAccount::Find(int64_t seq) const {
  for (const TermInvoice& inv : invoices_) {
    if (inv.seq == seq) return &inv;
  }
  return nullptr;
}

TermInvoice* BillingAccount::FindMut(int64_t seq) {
  return const_cast<TermInvoice*>(static_cast<const BillingAccount*>(this)->Find(seq));
}

void BillingAccount::Touch(int64_t seq) {
  auto& t = changes_.touched;
  auto it = std::lower_bound(t.begin(), t.end(), seq);
  if (it == t.end() || *it != seq) t.insert(it, seq);
}

void BillingAccount::Event(std::string kind, int64_t invoice, UnixNanos at, nlohmann::json data) {
  if (data.is_null()) data = nlohmann::json::object();
  changes_.events.push_back({std::move(kind), invoice, at, std::move(data)});
}

void BillingAccount::SetState(TermState next, UnixNanos at, const std::string& reason) {
  if (next.plan != state_.plan) {
    changes_.plan_switches.push_back({state_.plan, next.plan, at, reason});
  }
  state_ = std::move(next);
  changes_.state_changed = true;
}

TermInvoice& BillingAccount::NewInvoice(InvoiceKind kind, const std::string& plan, Term term,
                                        int64_t subtotal, int64_t proration, UnixNanos now) {
  TermInvoice inv;
  inv.seq = next_seq_++;
  inv.kind = kind;
  inv.plan = plan;
  inv.term = term;
  inv.subtotal_idr = subtotal;
  inv.proration_credit_idr = std::clamp<int64_t>(proration, 0, subtotal);
  inv.credit_applied_idr = std::min(balance_, subtotal - inv.proration_credit_idr);
  inv.total_idr = subtotal - inv.proration_credit_idr - inv.credit_applied_idr;
  inv.created_at = now;
  if (inv.credit_applied_idr > 0) {
    balance_ -= inv.credit_applied_idr;
    changes_.credits.push_back({-inv.credit_applied_idr, "applied", inv.seq, now});
  }
  invoices_.push_back(std::move(inv));
  TermInvoice& out = invoices_.back();
  Touch(out.seq);
  return out;
}

void BillingAccount::VoidInvoice(TermInvoice& inv, const std::string& reason, UnixNanos now) {
  if (inv.status != InvoiceStatus::kOpen) return;
  inv.status = InvoiceStatus::kVoid;
  inv.closed_at = now;
  inv.void_reason = reason;
  if (inv.credit_applied_idr > 0) {
    balance_ += inv.credit_applied_idr;
    changes_.credits.push_back({inv.credit_applied_idr, "released", inv.seq, now});
  }
  Touch(inv.seq);
  Event("invoice_void", inv.seq, now, {{"reason", reason}, {"total_idr", inv.total_idr}});
}

void BillingAccount::VoidOpen(const std::string& reason, UnixNanos now, int64_t keep) {
  for (TermInvoice& inv : invoices_) {
    if (inv.status == InvoiceStatus::kOpen && inv.seq != keep) VoidInvoice(inv, reason, now);
  }
}

TermInvoice* BillingAccount::RenewalStartingAt(UnixNanos start, bool paid_only) {
  for (TermInvoice& inv : invoices_) {
    if (inv.kind != InvoiceKind::kRenewal || inv.term_start != start) continue;
    if (inv.status == InvoiceStatus::kPaid && inv.credited_idr == 0)
      return &inv;  // not turned into credit
    if (!paid_only && inv.status == InvoiceStatus::kOpen) return &inv;
  }
  return nullptr;
}

TermInvoice* BillingAccount::PaidNextTerm() {
  if (state_.status != SubscriptionStatus::kActive) return nullptr;
  return RenewalStartingAt(state_.term_end, /*paid_only=*/true);
}

const TermInvoice* BillingAccount::OpenRenewal() const {
  for (const TermInvoice& inv : invoices_) {
    if (inv.kind == InvoiceKind::kRenewal && inv.status == InvoiceStatus::kOpen) return &inv;
  }
  return nullptr;
}

void BillingAccount::StartTerm(TermInvoice& inv, UnixNanos start, const std::string& reason) {
  TermState next;
  next.plan = inv.plan;
  next.status = SubscriptionStatus::kActive;
  next.term = inv.term;
  next.term_start = start;
  next.term_end = TermEnd(start, inv.term);
  next.term_invoice = inv.seq;
  if (inv.kind == InvoiceKind::kRenewal) {
    // A cancellation made after this term was paid applies at its end; so does a downgrade
    // scheduled meanwhile to something other than what was paid.
    next.cancel_at_term_end = state_.cancel_at_term_end;
    if (state_.next_plan && !(*state_.next_plan == inv.plan && state_.next_term == inv.term)) {
      next.next_plan = state_.next_plan;
      next.next_term = state_.next_term;
    }
  }
  inv.term_start = next.term_start;
  inv.term_end = next.term_end;
  inv.prev = state_;
  Touch(inv.seq);
  const std::string from = state_.plan;
  SetState(std::move(next), start, reason);
  Event(reason, inv.seq, start,
        {{"from_plan", from},
         {"plan", inv.plan},
         {"term", TermName(inv.term)},
         {"term_start", FormatIso8601(inv.term_start)},
         {"term_end", FormatIso8601(inv.term_end)}});
}

void BillingAccount::ToFree(UnixNanos at, const std::string& reason) {
  const std::string from = state_.plan;
  SetState(TermState{}, at, reason);
  Event(reason, 0, at, {{"from_plan", from}, {"plan", "free"}});
}

void BillingAccount::PayOpen(TermInvoice& inv, UnixNanos now, const std::string& reference) {
  // Whatever else was open (a renewal beside an upgrade checkout) is superseded by this payment;
  // if it is paid anyway, that money becomes credit balance.
  VoidOpen("superseded by invoice " + std::to_string(inv.seq), now, inv.seq);
  inv.status = InvoiceStatus::kPaid;
  inv.paid_at = now;
  Touch(inv.seq);
  if (inv.total_idr > 0) {
    cash_ += inv.total_idr;
    changes_.cash.push_back({"settlement", inv.total_idr, inv.seq, now, reference});
  }
  Event("invoice_paid", inv.seq, now,
        {{"plan", inv.plan},
         {"term", TermName(inv.term)},
         {"total_idr", inv.total_idr},
         {"by_credit", inv.total_idr == 0}});
  switch (inv.kind) {
    case InvoiceKind::kNew:
      StartTerm(inv, now, "plan_granted");
      break;
    case InvoiceKind::kUpgrade: {
      if (TermInvoice* c = FindMut(inv.credits_seq);
          c != nullptr && c->status == InvoiceStatus::kPaid && c->credited_by == 0) {
        c->credited_idr = inv.proration_credit_idr;
        c->credited_by = inv.seq;
        Touch(c->seq);
      }
      StartTerm(inv, now, "upgraded");
      break;
    }
    case InvoiceKind::kRenewal:
      // Paid in time: the next term waits for the current one to end (Advance rolls into it).
      // Paid late (past_due): it starts at once, from the old term's end (no gap).
      if (now >= inv.term_start && state_.status == SubscriptionStatus::kPastDue &&
          state_.term_end == inv.term_start) {
        StartTerm(inv, inv.term_start, "renewed");
      } else {
        Event("renewal_paid", inv.seq, now, {{"term_start", FormatIso8601(inv.term_start)}});
      }
      break;
  }
}

void BillingAccount::Revoke(TermInvoice& inv, const std::string& kind, UnixNanos now) {
  inv.status = InvoiceStatus::kRevoked;
  inv.closed_at = now;
  Touch(inv.seq);
  if (inv.credit_applied_idr > 0) {
    balance_ += inv.credit_applied_idr;
    changes_.credits.push_back({inv.credit_applied_idr, "released", inv.seq, now});
  }
  if (inv.kind == InvoiceKind::kUpgrade) {
    if (TermInvoice* c = FindMut(inv.credits_seq); c != nullptr && c->credited_by == inv.seq) {
      if (c->status == InvoiceStatus::kRevoked) {
        // The credited term was revoked earlier and its credit written off; this upgrade,
        // which used that credit, is undone too: the write-off is recovered.
        written_off_ -= c->credited_idr;
        Event("write_off_recovered", c->seq, now, {{"amount_idr", c->credited_idr}});
      }
      c->credited_idr = 0;
      c->credited_by = 0;
      Touch(c->seq);
    }
  }
  if (inv.credited_idr > 0) {
    // Its unused value already paid for a later upgrade, which stays: lost, recorded.
    written_off_ += inv.credited_idr;
    Event("written_off", inv.seq, now, {{"amount_idr", inv.credited_idr}, {"cause", kind}});
  }
  Event("invoice_revoked", inv.seq, now,
        {{"cause", kind}, {"credit_released_idr", inv.credit_applied_idr}});
  // Nothing may still be paid against the state this invoice created.
  VoidOpen("revoked invoice " + std::to_string(inv.seq), now);
  if (state_.status == SubscriptionStatus::kFree || state_.term_invoice != inv.seq) return;
  // A next term already paid for can't follow a revoked one: its value becomes credit balance.
  if (TermInvoice* next = RenewalStartingAt(state_.term_end, /*paid_only=*/true);
      next != nullptr && next->credited_by == 0 && next->credited_idr == 0) {
    const int64_t value = next->Earned();
    if (value > 0) {
      next->credited_idr = value;
      Touch(next->seq);
      balance_ += value;
      changes_.credits.push_back({value, "prepaid_term_credited", next->seq, now});
      Event("prepaid_term_credited", next->seq, now, {{"amount_idr", value}});
    }
  }
  const std::optional<TermState>& prev = inv.prev;
  const TermInvoice* prev_inv = prev ? Find(prev->term_invoice) : nullptr;
  if (prev && prev->status == SubscriptionStatus::kActive && prev->term_end > now &&
      prev_inv != nullptr && prev_inv->status == InvoiceStatus::kPaid) {
    const std::string from = state_.plan;
    SetState(*prev, now, "plan_restored");
    Event("plan_restored", inv.seq, now,
          {{"from_plan", from}, {"plan", prev->plan}, {"term_end", FormatIso8601(prev->term_end)}});
  } else {
    ToFree(now, "plan_revoked");
  }
}

// ---- operations ----

Status BillingAccount::Advance(UnixNanos now, const AccountRules& rules) {
  for (int step = 0; step < 10000; ++step) {
    switch (state_.status) {
      case SubscriptionStatus::kFree:
        return Status::Ok();
      case SubscriptionStatus::kActive: {
        const UnixNanos end = state_.term_end;
        if (!state_.cancel_at_term_end && now >= end - rules.renewal_notice &&
            RenewalStartingAt(end, /*paid_only=*/false) == nullptr) {
          const std::string plan = state_.next_plan.value_or(state_.plan);
          const Term term = state_.next_term.value_or(state_.term);
          auto price = rules.price(plan, term);
          if (!price.ok()) {
            if (price.error().code() != StatusCode::kNotFound) return price.error();
            // The plan was removed: nothing to renew into; the subscription ends with the term.
            state_.cancel_at_term_end = true;
            changes_.state_changed = true;
            Event("renewal_impossible", 0, now, {{"plan", plan}});
            continue;
          }
          TermInvoice& inv = NewInvoice(InvoiceKind::kRenewal, plan, term, *price, 0, now);
          inv.due_at = end;
          inv.term_start = end;
          inv.term_end = TermEnd(end, term);
          Event("renewal_invoiced", inv.seq, now,
                {{"plan", plan},
                 {"term", TermName(term)},
                 {"total_idr", inv.total_idr},
                 {"due_at", FormatIso8601(end)}});
          if (inv.total_idr == 0) PayOpen(inv, now, "credit");
          continue;
        }
        if (now < end) return Status::Ok();
        if (TermInvoice* next = RenewalStartingAt(end, /*paid_only=*/true)) {
          StartTerm(*next, end, next->plan != state_.plan ? "downgraded" : "renewed");
          continue;
        }
        if (state_.cancel_at_term_end) {
          VoidOpen("cancelled", end);
          ToFree(end, "cancelled");
          continue;
        }
        state_.status = SubscriptionStatus::kPastDue;
        state_.grace_until = end + rules.grace;
        changes_.state_changed = true;
        const TermInvoice* open = RenewalStartingAt(end, false);
        Event("past_due", open ? open->seq : 0, end,
              {{"plan", state_.plan}, {"grace_until", FormatIso8601(state_.grace_until)}});
        continue;
      }
      case SubscriptionStatus::kPastDue: {
        if (now < state_.grace_until) return Status::Ok();
        const UnixNanos at = state_.grace_until;
        VoidOpen("lapsed", at);
        ToFree(at, "lapsed");
        continue;
      }
    }
  }
  return Status::Internal("subscription state machine did not settle");
}

Result<CheckoutOutcome> BillingAccount::Checkout(const std::string& plan, Term term, UnixNanos now,
                                                 const AccountRules& rules) {
  if (plan == "free") {
    return Status::InvalidArgument("free needs no checkout: cancel the subscription instead",
                                   "plan");
  }
  SINYAL_RETURN_IF_ERROR(Advance(now, rules));
  SINYAL_ASSIGN_OR_RETURN(const int64_t price, rules.price(plan, term));
  auto issue = [&](InvoiceKind kind, int64_t proration) -> TermInvoice& {
    TermInvoice& inv = NewInvoice(kind, plan, term, price, proration, now);
    Event("checkout", inv.seq, now,
          {{"kind", InvoiceKindName(kind)},
           {"plan", plan},
           {"term", TermName(term)},
           {"subtotal_idr", inv.subtotal_idr},
           {"proration_credit_idr", inv.proration_credit_idr},
           {"credit_applied_idr", inv.credit_applied_idr},
           {"total_idr", inv.total_idr}});
    return inv;
  };
  // An open invoice for exactly this is reused (a new payment order may be made for it).
  auto reuse = [&](InvoiceKind kind) -> TermInvoice* {
    for (TermInvoice& inv : invoices_) {
      if (inv.status == InvoiceStatus::kOpen && inv.kind == kind && inv.plan == plan &&
          inv.term == term) {
        return &inv;
      }
    }
    return nullptr;
  };
  switch (state_.status) {
    case SubscriptionStatus::kFree: {
      if (TermInvoice* open = reuse(InvoiceKind::kNew)) {
        VoidOpen("superseded by checkout", now, open->seq);
        return CheckoutOutcome{CheckoutOutcome::Kind::kInvoice, open->seq};
      }
      VoidOpen("superseded by checkout", now);
      TermInvoice& inv = issue(InvoiceKind::kNew, 0);
      const int64_t seq = inv.seq;
      if (inv.total_idr == 0) PayOpen(inv, now, "credit");
      return CheckoutOutcome{CheckoutOutcome::Kind::kInvoice, seq};
    }
    case SubscriptionStatus::kPastDue: {
      // In the grace period: whatever is bought is the next term, from the old term's end.
      if (TermInvoice* open = reuse(InvoiceKind::kRenewal)) {
        VoidOpen("superseded by checkout", now, open->seq);
        return CheckoutOutcome{CheckoutOutcome::Kind::kInvoice, open->seq};
      }
      VoidOpen("superseded by checkout", now);
      TermInvoice& inv = issue(InvoiceKind::kRenewal, 0);
      inv.due_at = state_.term_end;
      inv.term_start = state_.term_end;
      inv.term_end = TermEnd(state_.term_end, term);
      const int64_t seq = inv.seq;
      if (inv.total_idr == 0) PayOpen(inv, now, "credit");
      return CheckoutOutcome{CheckoutOutcome::Kind::kInvoice, seq};
    }
    case SubscriptionStatus::kActive:
      break;
  }
  if (plan == state_.plan && term == state_.term) {
    if (!state_.next_plan && !state_.cancel_at_term_end) {
      return Status::Conflict("already subscribed to " + plan + " (" + std::string(TermName(term)) +
                                  ") until " + FormatIso8601(state_.term_end),
                              "plan");
    }
    // Withdraws a scheduled downgrade or cancellation.
    state_.next_plan.reset();
    state_.next_term.reset();
    state_.cancel_at_term_end = false;
    changes_.state_changed = true;
    if (const TermInvoice* r = OpenRenewal();
        r != nullptr && (r->plan != plan || r->term != term)) {
      VoidInvoice(*FindMut(r->seq), "schedule changed", now);
    }
    Event("change_withdrawn", 0, now, {{"plan", plan}, {"term", TermName(term)}});
    SINYAL_RETURN_IF_ERROR(Advance(now, rules));
    return CheckoutOutcome{CheckoutOutcome::Kind::kResumed, 0};
  }
  const TermInvoice* current = Find(state_.term_invoice);
  const int64_t current_price = current ? current->subtotal_idr : 0;
  if (price > current_price) {
    // Upgrade: paid now, effective on payment, the current term's unused value credited.
    if (PaidNextTerm() != nullptr) {
      return Status::FailedPrecondition(
          "the next term is already paid; upgrade after it starts on " +
              FormatIso8601(state_.term_end),
          "plan");
    }
    VoidOpen("superseded by upgrade", now);
    const int64_t value = current ? current->Earned() : 0;
    const int64_t unused = UnusedValue(value, state_.term_start, state_.term_end, now);
    TermInvoice& inv = issue(InvoiceKind::kUpgrade, unused);
    inv.credits_seq = current ? current->seq : 0;
    const int64_t seq = inv.seq;
    if (inv.total_idr == 0) PayOpen(inv, now, "credit");
    return CheckoutOutcome{CheckoutOutcome::Kind::kInvoice, seq};
  }
  // Downgrade: at the term end, through the renewal invoice of the new plan.
  state_.next_plan = plan;
  state_.next_term = term;
  state_.cancel_at_term_end = false;
  changes_.state_changed = true;
  if (const TermInvoice* r = OpenRenewal(); r != nullptr && (r->plan != plan || r->term != term)) {
    VoidInvoice(*FindMut(r->seq), "schedule changed", now);
  }
  Event("downgrade_scheduled", 0, now,
        {{"from_plan", state_.plan},
         {"plan", plan},
         {"term", TermName(term)},
         {"effective_at", FormatIso8601(state_.term_end)}});
  SINYAL_RETURN_IF_ERROR(Advance(now, rules));
  return CheckoutOutcome{CheckoutOutcome::Kind::kScheduled, 0};
}

Status BillingAccount::Cancel(UnixNanos now, const AccountRules& rules) {
  SINYAL_RETURN_IF_ERROR(Advance(now, rules));
  switch (state_.status) {
    case SubscriptionStatus::kFree:
      return Status::FailedPrecondition("there is no paid subscription to cancel", "plan");
    case SubscriptionStatus::kPastDue:
      VoidOpen("cancelled", now);
      ToFree(now, "cancelled");
      return Status::Ok();
    case SubscriptionStatus::kActive:
      break;
  }
  if (state_.cancel_at_term_end) return Status::Ok();
  state_.cancel_at_term_end = true;
  state_.next_plan.reset();
  state_.next_term.reset();
  changes_.state_changed = true;
  if (const TermInvoice* r = OpenRenewal()) VoidInvoice(*FindMut(r->seq), "cancelled", now);
  Event("cancel_scheduled", 0, now,
        {{"plan", state_.plan}, {"effective_at", FormatIso8601(state_.term_end)}});
  return Status::Ok();
}

Result<bool> BillingAccount::Pay(int64_t seq, int64_t amount_idr, UnixNanos now,
                                 const std::string& reference, const AccountRules& rules) {
  TermInvoice* inv = FindMut(seq);
  if (inv == nullptr) return Status::NotFound("no such invoice", "invoice");
  if (amount_idr != inv->total_idr) {
    return Status::InvalidArgument("paid " + std::to_string(amount_idr) + " for an invoice of " +
                                       std::to_string(inv->total_idr),
                                   "gross_amount");
  }
  SINYAL_RETURN_IF_ERROR(Advance(now, rules));
  switch (inv->status) {
    case InvoiceStatus::kPaid:
    case InvoiceStatus::kRevoked:
      return false;
    case InvoiceStatus::kVoid:
      if (inv->late_paid_idr > 0 || amount_idr == 0) return false;
      // Paid after it was superseded: the money is the tenant's, as credit.
      inv->late_paid_idr = amount_idr;
      Touch(seq);
      cash_ += amount_idr;
      changes_.cash.push_back({"settlement", amount_idr, seq, now, reference});
      balance_ += amount_idr;
      changes_.credits.push_back({amount_idr, "late_payment", seq, now});
      Event("late_payment_credited", seq, now, {{"amount_idr", amount_idr}});
      return true;
    case InvoiceStatus::kOpen:
      break;
  }
  PayOpen(*inv, now, reference);
  SINYAL_RETURN_IF_ERROR(Advance(now, rules));
  return true;
}

Status BillingAccount::Void(int64_t seq, const std::string& reason, UnixNanos now,
                            const AccountRules& rules) {
  TermInvoice* inv = FindMut(seq);
  if (inv == nullptr) return Status::NotFound("no such invoice", "invoice");
  SINYAL_RETURN_IF_ERROR(Advance(now, rules));
  VoidInvoice(*inv, reason, now);
  return Status::Ok();
}

int64_t BillingAccount::RefundableIdr(int64_t seq) const {
  const TermInvoice* inv = Find(seq);
  if (inv == nullptr) return 0;
  if (inv->status == InvoiceStatus::kVoid) {
    return std::max<int64_t>(0, std::min(inv->late_paid_idr - inv->refunded_idr, balance_));
  }
  if (inv->status != InvoiceStatus::kPaid) return 0;
  return std::max<int64_t>(0, std::min(inv->total_idr - inv->refunded_idr,
                                       inv->subtotal_idr - inv->refunded_idr - inv->credited_idr));
}

Status BillingAccount::ReturnCash(int64_t seq, int64_t amount_idr, const std::string& kind,
                                  bool forced, UnixNanos now, const std::string& reference,
                                  const AccountRules& rules) {
  if (kind != "refund" && kind != "chargeback" && kind != "reversal") {
    return Status::InvalidArgument("unknown kind '" + kind + "'", "kind");
  }
  if (amount_idr <= 0) return Status::InvalidArgument("must be positive", "amount_idr");
  TermInvoice* inv = FindMut(seq);
  if (inv == nullptr) return Status::NotFound("no such invoice", "invoice");
  SINYAL_RETURN_IF_ERROR(Advance(now, rules));
  if (!forced && amount_idr > RefundableIdr(seq)) {
    return Status::InvalidArgument(
        "at most " + std::to_string(RefundableIdr(seq)) + " of this invoice can be refunded",
        "amount_idr");
  }
  if (inv->status == InvoiceStatus::kVoid && inv->late_paid_idr > 0) {
    // Cash that had become credit balance goes back: from the balance, the rest written off.
    const int64_t amount = std::min(amount_idr, inv->late_paid_idr - inv->refunded_idr);
    if (amount <= 0) return Status::Ok();
    const int64_t take = std::min(amount, balance_);
    inv->refunded_idr += amount;
    Touch(seq);
    cash_ -= amount;
    changes_.cash.push_back({kind, -amount, seq, now, reference});
    if (take > 0) {
      balance_ -= take;
      changes_.credits.push_back({-take, kind, seq, now});
    }
    if (amount > take) {
      written_off_ += amount - take;
      Event("written_off", seq, now, {{"amount_idr", amount - take}, {"cause", kind}});
    }
    Event(kind, seq, now, {{"amount_idr", amount}, {"from", "credit_balance"}});
    return Status::Ok();
  }
  if (inv->status != InvoiceStatus::kPaid) {
    return Status::FailedPrecondition("invoice " + std::to_string(seq) + " is " +
                                          std::string(InvoiceStatusName(inv->status)) +
                                          ", not paid",
                                      "invoice");
  }
  const int64_t amount = std::min(amount_idr, inv->total_idr - inv->refunded_idr);
  if (amount <= 0) return Status::Ok();  // a forced return of cash already returned
  inv->refunded_idr += amount;
  Touch(seq);
  cash_ -= amount;
  changes_.cash.push_back({kind, -amount, seq, now, reference});
  const bool all_cash = inv->refunded_idr == inv->total_idr;
  Event(kind, seq, now,
        {{"amount_idr", amount}, {"refunded_idr", inv->refunded_idr}, {"full", all_cash}});
  // All cash back: the invoice is undone. An operator refund never undoes an invoice whose
  // value already paid for a later upgrade (RefundableIdr keeps it partial then).
  if (all_cash && (forced || inv->credited_idr == 0)) Revoke(*inv, kind, now);
  return Status::Ok();
}

UnixNanos BillingAccount::NextDeadline(const AccountRules& rules) const {
  switch (state_.status) {
    case SubscriptionStatus::kFree:
      return 0;
    case SubscriptionStatus::kPastDue:
      return state_.grace_until;
    case SubscriptionStatus::kActive:
      break;
  }
  bool renewal_issued = false;
  for (const TermInvoice& inv : invoices_) {
    if (inv.kind == InvoiceKind::kRenewal && inv.term_start == state_.term_end &&
        (inv.status == InvoiceStatus::kOpen ||
         (inv.status == InvoiceStatus::kPaid && inv.credited_idr == 0))) {
      renewal_issued = true;
    }
  }
  if (!renewal_issued && !state_.cancel_at_term_end) {
    return std::min(state_.term_end, state_.term_end - rules.renewal_notice);
  }
  return state_.term_end;
}

Reconciliation BillingAccount::Reconcile() const {
  Reconciliation r;
  r.cash_idr = cash_;
  r.balance_idr = balance_;
  r.written_off_idr = written_off_;
  for (const TermInvoice& inv : invoices_) {
    if (inv.subtotal_idr != inv.proration_credit_idr + inv.credit_applied_idr + inv.total_idr) {
      ++r.line_errors;
    }
    if (inv.status == InvoiceStatus::kPaid) r.earned_idr += inv.Earned();
    if (inv.status == InvoiceStatus::kOpen) r.held_idr += inv.credit_applied_idr;
  }
  return r;
}

BillingAccount BillingAccount::Load(TermState state, std::deque<TermInvoice> invoices,
                                    int64_t balance, int64_t written_off, int64_t cash,
                                    int64_t next_seq) {
  BillingAccount a;
  a.state_ = std::move(state);
  a.invoices_ = std::move(invoices);
  std::sort(a.invoices_.begin(), a.invoices_.end(),
            [](const TermInvoice& x, const TermInvoice& y) { return x.seq < y.seq; });
  a.balance_ = balance;
  a.written_off_ = written_off;
  a.cash_ = cash;
  a.next_seq_ = next_seq;
  for (const TermInvoice& inv : a.invoices_) a.next_seq_ = std::max(a.next_seq_, inv.seq + 1);
  return a;
}

BillingAccount::Changes BillingAccount::Drain() {
  Changes out = std::move(changes_);
  changes_ = Changes{};
  return out;
}

}  // namespace sinyal::billing
