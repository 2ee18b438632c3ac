// The subscription state machine and its money rules (billing/account.h), without a database.
#include "billing/account.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <random>

#include "core/testing/test_util.h"
#include "core/time.h"

namespace sinyal::billing {
namespace {

UnixNanos At(int y, int mo, int d, int h = 0, int mi = 0) {
  CivilTime c;
  c.year = y;
  c.month = mo;
  c.day = d;
  c.hour = h;
  c.minute = mi;
  return CivilToNanos(c);
}

// Month / year prices of the seeded plans (docs/billing.md) and a cheaper "basic" one.
AccountRules Rules() {
  AccountRules r;
  r.price = [](std::string_view plan, Term term) -> Result<int64_t> {
    static const std::map<std::string, std::pair<int64_t, int64_t>, std::less<>> kPrices = {
        {"basic", {99'000, 990'000}},
        {"pro", {299'000, 2'990'000}},
        {"enterprise", {4'990'000, 49'900'000}}};
    auto it = kPrices.find(plan);
    if (it == kPrices.end()) return Status::NotFound("no plan", "plan");
    return term == Term::kMonth ? it->second.first : it->second.second;
  };
  return r;
}

// The account plus a running copy of every credit and cash entry it produced (as the store
// would append them), so the tests can check the sums independently of the account's own.
struct Book {
  BillingAccount account;
  AccountRules rules = Rules();
  int64_t credit_sum = 0, cash_sum = 0;
  std::vector<PlanSwitch> switches;
  std::vector<AccountEvent> events;

  void Collect() {
    BillingAccount::Changes c = account.Drain();
    for (const auto& e : c.credits) credit_sum += e.amount_idr;
    for (const auto& e : c.cash) cash_sum += e.amount_idr;
    for (auto& s : c.plan_switches) switches.push_back(std::move(s));
    for (auto& e : c.events) events.push_back(std::move(e));
  }
  bool HasEvent(const std::string& kind) const {
    for (const auto& e : events) {
      if (e.kind == kind) return true;
    }
    return false;
  }
  void ExpectReconciled() {
    Collect();
    Reconciliation r = account.Reconcile();
    EXPECT_TRUE(r.ok()) << r.ToJson().dump();
    EXPECT_EQ(credit_sum, account.balance_idr());
    EXPECT_EQ(cash_sum, account.cash_idr());
  }
};

TEST(UnusedValueTest, TheUpgradeCreditRuleToTheRupiah) {
  // April has 30 days: 2,592,000 s. After 10 days 6 hours, 19 days 18 hours = 1,706,400 s are
  // left: 299,000 x 1,706,400 / 2,592,000 = 196,841.66... -> Rp 196.841 (floor).
  const UnixNanos start = At(2024, 4, 1), end = At(2024, 5, 1);
  EXPECT_EQ(UnusedValue(299'000, start, end, At(2024, 4, 11, 6)), 196'841);
  EXPECT_EQ(UnusedValue(299'000, start, end, start), 299'000);
  EXPECT_EQ(UnusedValue(299'000, start, end, start - 1), 299'000);
  EXPECT_EQ(UnusedValue(299'000, start, end, end), 0);
  // Whole seconds: 1.9 s before the end counts as 1 s left.
  EXPECT_EQ(UnusedValue(2'592'000, start, end, end - 1'900'000'000), 1);
  // A yearly Enterprise term (Rp 49.900.000, 366 days in 2024): half a day in.
  EXPECT_EQ(UnusedValue(49'900'000, At(2024, 1, 1), At(2025, 1, 1), At(2024, 1, 1, 12)),
            49'900'000LL * (366 * 86400 - 43200) / (366 * 86400));
}

TEST(TermTest, TermsFollowTheCalendar) {
  EXPECT_EQ(TermEnd(At(2024, 1, 31, 10), Term::kMonth), At(2024, 2, 29, 10));
  EXPECT_EQ(TermEnd(At(2024, 2, 29), Term::kYear), At(2025, 2, 28));
  EXPECT_EQ(ParseTerm("year").value(), Term::kYear);
  EXPECT_EQ(ParseTerm("weekly").error().field(), "period");
}

TEST(AccountTest, CheckoutAndPaymentGrantThePlan) {
  Book b;
  const UnixNanos t0 = At(2024, 4, 1);
  auto out = b.account.Checkout("pro", Term::kMonth, t0, b.rules);
  ASSERT_OK(out);
  EXPECT_EQ(out->kind, CheckoutOutcome::Kind::kInvoice);
  const TermInvoice* inv = b.account.Find(out->invoice);
  ASSERT_NE(inv, nullptr);
  EXPECT_EQ(inv->total_idr, 299'000);
  EXPECT_EQ(b.account.state().status, SubscriptionStatus::kFree);  // nothing before payment
  b.Collect();
  EXPECT_TRUE(b.switches.empty());
  // A wrong amount is refused; the right one grants at once.
  EXPECT_EQ(
      b.account.Pay(out->invoice, 290'000, t0 + kNanosPerMinute, "o1", b.rules).error().field(),
      "gross_amount");
  auto paid = b.account.Pay(out->invoice, 299'000, t0 + kNanosPerMinute, "o1", b.rules);
  ASSERT_OK(paid);
  EXPECT_TRUE(*paid);
  EXPECT_EQ(b.account.state().plan, "pro");
  EXPECT_EQ(b.account.state().status, SubscriptionStatus::kActive);
  EXPECT_EQ(b.account.state().term_end, At(2024, 5, 1, 0, 1));
  // Paying again (a duplicate notification) changes nothing.
  EXPECT_FALSE(*b.account.Pay(out->invoice, 299'000, t0 + 2 * kNanosPerMinute, "o1", b.rules));
  b.ExpectReconciled();
  ASSERT_EQ(b.switches.size(), 1u);
  EXPECT_EQ(b.switches[0].from, "free");
  EXPECT_EQ(b.switches[0].to, "pro");
  EXPECT_TRUE(b.HasEvent("plan_granted"));
  EXPECT_EQ(b.cash_sum, 299'000);
}

TEST(AccountTest, UpgradeCreditsTheUnusedPartToTheRupiah) {
  Book b;
  auto pro = b.account.Checkout("pro", Term::kMonth, At(2024, 4, 1), b.rules);
  ASSERT_OK(pro);
  ASSERT_OK(b.account.Pay(pro->invoice, 299'000, At(2024, 4, 1), "o1", b.rules));
  // Checkout of Enterprise after 10 days 6 hours: Rp 196.841 of Pro unused (see above).
  auto ent = b.account.Checkout("enterprise", Term::kMonth, At(2024, 4, 11, 6), b.rules);
  ASSERT_OK(ent);
  const TermInvoice* inv = b.account.Find(ent->invoice);
  EXPECT_EQ(inv->kind, InvoiceKind::kUpgrade);
  EXPECT_EQ(inv->subtotal_idr, 4'990'000);
  EXPECT_EQ(inv->proration_credit_idr, 196'841);
  EXPECT_EQ(inv->total_idr, 4'793'159);
  EXPECT_EQ(b.account.state().plan, "pro");  // effective on payment only
  ASSERT_OK(b.account.Pay(ent->invoice, 4'793'159, At(2024, 4, 11, 6, 30), "o2", b.rules));
  EXPECT_EQ(b.account.state().plan, "enterprise");
  EXPECT_EQ(b.account.state().term_start, At(2024, 4, 11, 6, 30));
  EXPECT_EQ(b.account.state().term_end, At(2024, 5, 11, 6, 30));
  EXPECT_EQ(b.account.Find(pro->invoice)->credited_idr, 196'841);
  // Cash 5.092.159 = Pro earned (299.000 - 196.841) + Enterprise 4.990.000.
  Reconciliation r = b.account.Reconcile();
  EXPECT_EQ(r.cash_idr, 5'092'159);
  EXPECT_EQ(r.earned_idr, 102'159 + 4'990'000);
  b.ExpectReconciled();
}

TEST(AccountTest, RenewalInvoiceNoticeGraceAndFallBackToFree) {
  Book b;
  auto pro = b.account.Checkout("pro", Term::kMonth, At(2024, 4, 1), b.rules);
  ASSERT_OK(b.account.Pay(pro->invoice, 299'000, At(2024, 4, 1), "o1", b.rules));
  ASSERT_OK(b.account.Advance(At(2024, 4, 23, 23, 59), b.rules));
  EXPECT_EQ(b.account.OpenRenewal(), nullptr);  // 7 days before May 1: not yet
  ASSERT_OK(b.account.Advance(At(2024, 4, 24), b.rules));
  const TermInvoice* renewal = b.account.OpenRenewal();
  ASSERT_NE(renewal, nullptr);
  EXPECT_EQ(renewal->total_idr, 299'000);
  EXPECT_EQ(renewal->due_at, At(2024, 5, 1));
  const int64_t rseq = renewal->seq;
  // Unpaid at the term end: past_due, plan kept for 3 days.
  ASSERT_OK(b.account.Advance(At(2024, 5, 2), b.rules));
  EXPECT_EQ(b.account.state().status, SubscriptionStatus::kPastDue);
  EXPECT_EQ(b.account.state().plan, "pro");
  EXPECT_EQ(b.account.state().grace_until, At(2024, 5, 4));
  ASSERT_OK(b.account.Advance(At(2024, 5, 4), b.rules));
  EXPECT_EQ(b.account.state().status, SubscriptionStatus::kFree);
  EXPECT_EQ(b.account.state().plan, "free");
  EXPECT_EQ(b.account.Find(rseq)->status, InvoiceStatus::kVoid);
  b.ExpectReconciled();
  EXPECT_TRUE(b.HasEvent("renewal_invoiced"));
  EXPECT_TRUE(b.HasEvent("past_due"));
  EXPECT_TRUE(b.HasEvent("lapsed"));
  ASSERT_EQ(b.switches.size(), 2u);
  EXPECT_EQ(b.switches[1].to, "free");
  EXPECT_EQ(b.switches[1].at, At(2024, 5, 4));  // effective at the grace end
}

TEST(AccountTest, RenewalPaidInTimeOrLateContinuesWithoutGap) {
  for (bool late : {false, true}) {
    Book b;
    auto pro = b.account.Checkout("pro", Term::kMonth, At(2024, 4, 1), b.rules);
    ASSERT_OK(b.account.Pay(pro->invoice, 299'000, At(2024, 4, 1), "o1", b.rules));
    ASSERT_OK(b.account.Advance(At(2024, 4, 25), b.rules));
    const int64_t rseq = b.account.OpenRenewal()->seq;
    const UnixNanos paid_at = late ? At(2024, 5, 2, 12) : At(2024, 4, 28);
    ASSERT_OK(b.account.Pay(rseq, 299'000, paid_at, "o2", b.rules));
    ASSERT_OK(b.account.Advance(At(2024, 5, 3), b.rules));
    EXPECT_EQ(b.account.state().status, SubscriptionStatus::kActive) << late;
    EXPECT_EQ(b.account.state().term_start, At(2024, 5, 1)) << late;
    EXPECT_EQ(b.account.state().term_end, At(2024, 6, 1)) << late;
    EXPECT_EQ(b.account.state().term_invoice, rseq);
    b.ExpectReconciled();
    EXPECT_EQ(b.switches.size(), 1u);  // free -> pro only
  }
}

TEST(AccountTest, DowngradeTakesEffectAtTheTermEnd) {
  Book b;
  auto ent = b.account.Checkout("enterprise", Term::kMonth, At(2024, 4, 1), b.rules);
  ASSERT_OK(b.account.Pay(ent->invoice, 4'990'000, At(2024, 4, 1), "o1", b.rules));
  auto down = b.account.Checkout("pro", Term::kMonth, At(2024, 4, 10), b.rules);
  ASSERT_OK(down);
  EXPECT_EQ(down->kind, CheckoutOutcome::Kind::kScheduled);
  EXPECT_EQ(b.account.state().plan, "enterprise");
  EXPECT_EQ(*b.account.state().next_plan, "pro");
  ASSERT_OK(b.account.Advance(At(2024, 4, 24), b.rules));
  const TermInvoice* renewal = b.account.OpenRenewal();
  ASSERT_NE(renewal, nullptr);
  EXPECT_EQ(renewal->plan, "pro");
  EXPECT_EQ(renewal->total_idr, 299'000);
  ASSERT_OK(b.account.Pay(renewal->seq, 299'000, At(2024, 4, 25), "o2", b.rules));
  EXPECT_EQ(b.account.state().plan, "enterprise");  // until the term ends
  ASSERT_OK(b.account.Advance(At(2024, 5, 1), b.rules));
  EXPECT_EQ(b.account.state().plan, "pro");
  EXPECT_FALSE(b.account.state().next_plan.has_value());
  b.ExpectReconciled();
  ASSERT_EQ(b.switches.size(), 2u);
  EXPECT_EQ(b.switches[1].from, "enterprise");
  EXPECT_EQ(b.switches[1].at, At(2024, 5, 1));
  EXPECT_TRUE(b.HasEvent("downgraded"));
}

TEST(AccountTest, CancelAtTermEndAndWithdrawingIt) {
  Book b;
  auto pro = b.account.Checkout("pro", Term::kYear, At(2024, 1, 1), b.rules);
  ASSERT_OK(b.account.Pay(pro->invoice, 2'990'000, At(2024, 1, 1), "o1", b.rules));
  EXPECT_EQ(b.account.Cancel(At(2024, 3, 1), b.rules).code(), StatusCode::kOk);
  EXPECT_TRUE(b.account.state().cancel_at_term_end);
  // Withdrawn by checking out the same plan and term; no payment.
  auto resumed = b.account.Checkout("pro", Term::kYear, At(2024, 3, 2), b.rules);
  ASSERT_OK(resumed);
  EXPECT_EQ(resumed->kind, CheckoutOutcome::Kind::kResumed);
  EXPECT_FALSE(b.account.state().cancel_at_term_end);
  EXPECT_EQ(b.account.Checkout("pro", Term::kYear, At(2024, 3, 3), b.rules).error().code(),
            StatusCode::kConflict);
  ASSERT_OK(b.account.Cancel(At(2024, 12, 30), b.rules));  // renewal invoice issued: voided
  EXPECT_EQ(b.account.OpenRenewal(), nullptr);
  ASSERT_OK(b.account.Advance(At(2025, 1, 1), b.rules));
  EXPECT_EQ(b.account.state().plan, "free");
  EXPECT_EQ(b.account.Cancel(At(2025, 1, 2), b.rules).code(), StatusCode::kFailedPrecondition);
  b.ExpectReconciled();
  EXPECT_TRUE(b.HasEvent("cancel_scheduled"));
  EXPECT_TRUE(b.HasEvent("cancelled"));
}

TEST(AccountTest, RefundsPartialKeepsThePlanFullRevokes) {
  Book b;
  auto pro = b.account.Checkout("pro", Term::kMonth, At(2024, 4, 1), b.rules);
  ASSERT_OK(b.account.Pay(pro->invoice, 299'000, At(2024, 4, 1), "o1", b.rules));
  ASSERT_OK(
      b.account.ReturnCash(pro->invoice, 100'000, "refund", false, At(2024, 4, 2), "r1", b.rules));
  EXPECT_EQ(b.account.state().plan, "pro");
  EXPECT_EQ(b.account.RefundableIdr(pro->invoice), 199'000);
  EXPECT_EQ(
      b.account.ReturnCash(pro->invoice, 199'001, "refund", false, At(2024, 4, 2), "r2", b.rules)
          .field(),
      "amount_idr");
  ASSERT_OK(
      b.account.ReturnCash(pro->invoice, 199'000, "refund", false, At(2024, 4, 3), "r2", b.rules));
  EXPECT_EQ(b.account.state().plan, "free");
  EXPECT_EQ(b.account.Find(pro->invoice)->status, InvoiceStatus::kRevoked);
  b.ExpectReconciled();
  EXPECT_EQ(b.cash_sum, 0);
  EXPECT_TRUE(b.HasEvent("plan_revoked"));
}

TEST(AccountTest, ReversedUpgradeRestoresThePreviousTerm) {
  Book b;
  auto pro = b.account.Checkout("pro", Term::kMonth, At(2024, 4, 1), b.rules);
  ASSERT_OK(b.account.Pay(pro->invoice, 299'000, At(2024, 4, 1), "o1", b.rules));
  auto ent = b.account.Checkout("enterprise", Term::kMonth, At(2024, 4, 11, 6), b.rules);
  ASSERT_OK(b.account.Pay(ent->invoice, 4'793'159, At(2024, 4, 11, 6), "o2", b.rules));
  EXPECT_EQ(b.account.state().plan, "enterprise");
  // Mandiri bill settlement turned into deny minutes later: the grant is revoked.
  ASSERT_OK(b.account.ReturnCash(ent->invoice, 4'793'159, "reversal", true, At(2024, 4, 11, 6, 5),
                                 "o2", b.rules));
  EXPECT_EQ(b.account.state().plan, "pro");
  EXPECT_EQ(b.account.state().term_end, At(2024, 5, 1));
  EXPECT_EQ(b.account.Find(pro->invoice)->credited_idr, 0);
  b.ExpectReconciled();
  EXPECT_EQ(b.cash_sum, 299'000);
  EXPECT_TRUE(b.HasEvent("plan_restored"));
}

TEST(AccountTest, LatePaymentOfAVoidedInvoiceBecomesCreditAndPaysTheNextOne) {
  Book b;
  auto first = b.account.Checkout("pro", Term::kMonth, At(2024, 4, 1), b.rules);
  auto second = b.account.Checkout("enterprise", Term::kMonth, At(2024, 4, 1, 1), b.rules);
  ASSERT_OK(second);
  EXPECT_EQ(b.account.Find(first->invoice)->status, InvoiceStatus::kVoid);
  // The customer had already paid the first order's VA.
  ASSERT_OK(b.account.Pay(first->invoice, 299'000, At(2024, 4, 1, 2), "o1", b.rules));
  EXPECT_EQ(b.account.balance_idr(), 299'000);
  EXPECT_EQ(b.account.state().plan, "free");
  auto third = b.account.Checkout("pro", Term::kMonth, At(2024, 4, 1, 3), b.rules);
  ASSERT_OK(third);
  // All credit: paid at once, no Midtrans order.
  EXPECT_EQ(b.account.Find(third->invoice)->total_idr, 0);
  EXPECT_EQ(b.account.Find(third->invoice)->status, InvoiceStatus::kPaid);
  EXPECT_EQ(b.account.state().plan, "pro");
  EXPECT_EQ(b.account.balance_idr(), 0);
  b.ExpectReconciled();
}

TEST(AccountTest, NoUpgradeWhileTheNextTermIsPaid) {
  Book b;
  auto pro = b.account.Checkout("pro", Term::kMonth, At(2024, 4, 1), b.rules);
  ASSERT_OK(b.account.Pay(pro->invoice, 299'000, At(2024, 4, 1), "o1", b.rules));
  ASSERT_OK(b.account.Advance(At(2024, 4, 25), b.rules));
  ASSERT_OK(b.account.Pay(b.account.OpenRenewal()->seq, 299'000, At(2024, 4, 25), "o2", b.rules));
  auto up = b.account.Checkout("enterprise", Term::kMonth, At(2024, 4, 26), b.rules);
  EXPECT_EQ(up.error().code(), StatusCode::kFailedPrecondition);
  b.ExpectReconciled();
}

// ---- Property test: random sequences of checkouts (upgrades, downgrades), renewals, cancels,
// payments, late payments, refunds, chargebacks and reversals. After every step the account
// reconciles to the rupiah: cash (sum of the cash entries) + written off == earned + credit
// balance (sum of the credit entries) + credit held by open invoices; every invoice's lines sum
// to its subtotal; the balance never goes negative; and the state is coherent.
void ExpectCoherent(const BillingAccount& a, UnixNanos now) {
  const TermState& s = a.state();
  if (s.status == SubscriptionStatus::kFree) {
    EXPECT_EQ(s.plan, "free");
    return;
  }
  const TermInvoice* inv = a.Find(s.term_invoice);
  ASSERT_NE(inv, nullptr);
  EXPECT_EQ(inv->status, InvoiceStatus::kPaid);
  EXPECT_EQ(inv->plan, s.plan);
  EXPECT_EQ(inv->term_end, s.term_end);
  if (s.status == SubscriptionStatus::kActive) {
    EXPECT_LT(now, s.term_end);
  }
  if (s.status == SubscriptionStatus::kPastDue) {
    EXPECT_LT(now, s.grace_until);
  }
  // At most a renewal and a checkout's invoice are open at once.
  int open = 0, open_renewals = 0;
  for (const TermInvoice& i : a.invoices()) {
    open += i.status == InvoiceStatus::kOpen;
    open_renewals += i.status == InvoiceStatus::kOpen && i.kind == InvoiceKind::kRenewal;
  }
  EXPECT_LE(open, 2);
  EXPECT_LE(open_renewals, 1);
  // A paid renewal is never stranded: it starts at the current term's end.
  for (const TermInvoice& i : a.invoices()) {
    if (i.kind == InvoiceKind::kRenewal && i.status == InvoiceStatus::kPaid &&
        i.credited_idr == 0 && i.term_start > now) {
      EXPECT_EQ(i.term_start, s.term_end) << "renewal " << i.seq;
    }
  }
}

TEST(AccountPropertyTest, RandomSequencesReconcileToTheRupiah) {
  const char* plans[] = {"basic", "pro", "enterprise"};
  int64_t steps_total = 0, revocations = 0, upgrades = 0, renewals = 0, lapses = 0, late = 0,
          write_offs = 0;
  // SINYAL_PROPERTY_SEEDS runs more sequences (e.g. 50000 for a long run); CI runs 1,500.
  const char* env_seeds = std::getenv("SINYAL_PROPERTY_SEEDS");
  const uint32_t seeds =
      env_seeds ? static_cast<uint32_t>(std::strtoul(env_seeds, nullptr, 10)) : 1500;
  for (uint32_t seed = 1; seed <= seeds; ++seed) {
    std::mt19937 rng(seed);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint32_t>(n)); };
    Book b;
    std::vector<std::string> trace;
    UnixNanos now = At(2024, 1, 1) + static_cast<int64_t>(rng() % 86400) * kNanosPerSecond;
    for (int step = 0; step < 60; ++step) {
      ++steps_total;
      const int op = pick(100);
      const BillingAccount& a = b.account;
      if (op < 25) {
        auto r = b.account.Checkout(plans[pick(3)], pick(4) == 0 ? Term::kYear : Term::kMonth, now,
                                    b.rules);
        if (r.ok() && r->invoice != 0 && a.Find(r->invoice)->kind == InvoiceKind::kUpgrade)
          ++upgrades;
      } else if (op < 50) {
        // Pay an open invoice (the usual case), exactly its total.
        for (const TermInvoice& inv : a.invoices()) {
          if (inv.status == InvoiceStatus::kOpen) {
            ASSERT_OK(b.account.Pay(inv.seq, inv.total_idr, now, "o", b.rules));
            break;
          }
        }
      } else if (op < 54) {
        // A late payment of a voided invoice, or a duplicate of a paid one.
        if (!a.invoices().empty()) {
          const TermInvoice& inv = a.invoices()[pick(static_cast<int>(a.invoices().size()))];
          const bool was_void =
              inv.status == InvoiceStatus::kVoid && inv.late_paid_idr == 0 && inv.total_idr > 0;
          auto r = b.account.Pay(inv.seq, inv.total_idr, now, "o", b.rules);
          ASSERT_OK(r);
          if (was_void && *r) ++late;
        }
      } else if (op < 60) {
        (void)b.account.Cancel(now, b.rules);
      } else if (op < 70) {
        // Operator refund: any amount up to the refundable part (sometimes all of it).
        if (!a.invoices().empty()) {
          const int64_t seq = a.invoices()[pick(static_cast<int>(a.invoices().size()))].seq;
          const int64_t max = a.RefundableIdr(seq);
          if (max > 0) {
            const int64_t amount = pick(2) ? max : 1 + static_cast<int64_t>(rng() % max);
            const bool before = a.Find(seq)->status == InvoiceStatus::kPaid;
            ASSERT_OK(b.account.ReturnCash(seq, amount, "refund", false, now, "r", b.rules));
            if (before && a.Find(seq)->status == InvoiceStatus::kRevoked) ++revocations;
          }
        }
      } else if (op < 74) {
        // Forced by the gateway: chargeback or reversal of whatever cash is left.
        if (!a.invoices().empty()) {
          const TermInvoice& inv = a.invoices()[pick(static_cast<int>(a.invoices().size()))];
          const int64_t left = inv.total_idr - inv.refunded_idr;
          if ((inv.status == InvoiceStatus::kPaid || inv.late_paid_idr > 0) && left > 0) {
            const int64_t before_w = a.written_off_idr();
            ASSERT_OK(b.account.ReturnCash(
                inv.seq, pick(3) ? left : 1 + static_cast<int64_t>(rng() % left),
                pick(2) ? "chargeback" : "reversal", true, now, "c", b.rules));
            if (a.written_off_idr() > before_w) ++write_offs;
          }
        }
      } else if (op < 78) {
        for (const TermInvoice& inv : a.invoices()) {
          if (inv.status == InvoiceStatus::kOpen) {
            ASSERT_OK(b.account.Void(inv.seq, "order expired", now, b.rules));
            break;
          }
        }
      }
      // Time passes: minutes to weeks.
      const int64_t jump = pick(4) == 0 ? static_cast<int64_t>(rng() % (40 * 86400))
                                        : static_cast<int64_t>(rng() % (2 * 86400));
      const SubscriptionStatus before = a.state().status;
      const std::string plan_before = a.state().plan;
      now += jump * kNanosPerSecond;
      ASSERT_OK(b.account.Advance(now, b.rules));
      if (before == SubscriptionStatus::kPastDue && a.state().status == SubscriptionStatus::kFree)
        ++lapses;
      b.Collect();
      for (const auto& e : b.events) {
        renewals += e.kind == "renewed";
        trace.push_back("  " + e.kind + " #" + std::to_string(e.invoice) + " " + e.data.dump());
      }
      b.events.clear();
      b.ExpectReconciled();
      ExpectCoherent(b.account, now);
      if (::testing::Test::HasFailure()) {
        std::string all;
        for (const auto& line : trace) all += line + "\n";
        FAIL() << "seed " << seed << " step " << step << "; events:\n" << all;
      }
    }
    // The plan the subscriptions table would hold (the switches applied in order) is the state's.
    std::string plan = "free";
    for (const PlanSwitch& s : b.switches) {
      EXPECT_EQ(s.from, plan) << "seed " << seed;
      plan = s.to;
    }
    EXPECT_EQ(plan, b.account.state().plan) << "seed " << seed;
  }
  // The sequences did exercise every path.
  EXPECT_GT(upgrades, 100);
  EXPECT_GT(renewals, 100);
  EXPECT_GT(lapses, 100);
  EXPECT_GT(revocations, 50);
  EXPECT_GT(late, 10);
  RecordProperty("steps", std::to_string(steps_total));
  std::printf(
      "property test: %lld steps, %lld upgrades, %lld renewals, %lld lapses, %lld revocations, "
      "%lld late payments, %lld write-offs\n",
      static_cast<long long>(steps_total), static_cast<long long>(upgrades),
      static_cast<long long>(renewals), static_cast<long long>(lapses),
      static_cast<long long>(revocations), static_cast<long long>(late),
      static_cast<long long>(write_offs));
}

}  // namespace
}  // namespace sinyal::billing
