// Subscription revenue figures (billing/revenue.h).
#include "billing/revenue.h"

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "billing/account.h"
#include "billing/sql_util.h"
#include "core/time.h"
#include "store/database.h"
#include "store/soci.h"

namespace sinyal::billing {

namespace {

struct Term_ {
  int64_t tenant = 0, seq = 0, subtotal = 0, months = 1;
  UnixNanos start = 0, end = 0;  // end: the term's end, or the upgrade that replaced it
  UnixNanos first_paid = 0;
};

UnixNanos MonthStart(int year, int month) {
  CivilTime c;
  c.year = year;
  c.month = month;
  return CivilToNanos(c);
}

}  // namespace

Result<nlohmann::json> SubscriptionRevenue(store::Database& db, UnixNanos from, UnixNanos to,
                                           UnixNanos now) {
  if (from >= to) return Status::InvalidArgument("must be before to", "from");
  // Months covering [from, to).
  std::vector<std::pair<UnixNanos, UnixNanos>> months;
  CivilTime c = NanosToCivil(from);
  int y = c.year, m = c.month;
  for (UnixNanos s = MonthStart(y, m); s < to;) {
    int ny = m == 12 ? y + 1 : y, nm = m == 12 ? 1 : m + 1;
    const UnixNanos e = MonthStart(ny, nm);
    months.emplace_back(s, e);
    if (months.size() > 36)
      return Status::InvalidArgument("the range may cover at most 36 months", "from");
    y = ny;
    m = nm;
    s = e;
  }
  struct Cash {
    UnixNanos at;
    std::string kind;
    int64_t amount;
  };
  std::vector<Cash> cash;
  std::vector<Term_> terms;
  std::map<int64_t, UnixNanos> first_paid;  // tenant -> first paid_at
  struct Ev {
    UnixNanos at;
    std::string kind;
  };
  std::vector<Ev> ends;
  int64_t payments_total = 0, accounts_cash = 0, balance = 0, written_off = 0, earned = 0, held = 0;
  SINYAL_RETURN_IF_ERROR(db.WithReadTx([&](soci::session& sql) -> Status {
    {
      soci::rowset<soci::row> rows = (sql.prepare << "SELECT at, kind, amount_idr FROM payments");
      for (const soci::row& r : rows) {
        cash.push_back({internal::I64(r, 0), internal::Str(r, 1), internal::I64(r, 2)});
      }
    }
    {
      // Paid terms; a term replaced by an upgrade ends when the upgrade was paid.
      soci::rowset<soci::row> rows =
          (sql.prepare << "SELECT i.tenant_id, i.seq, i.subtotal_idr, i.term, i.term_start, "
                          "i.term_end, i.paid_at, u.paid_at FROM term_invoices i LEFT JOIN "
                          "term_invoices u ON u.tenant_id = i.tenant_id AND u.seq = i.credited_by "
                          "WHERE i.status = 'paid'");
      for (const soci::row& r : rows) {
        Term_ t;
        t.tenant = internal::I64(r, 0);
        t.seq = internal::I64(r, 1);
        t.subtotal = internal::I64(r, 2);
        t.months = internal::Str(r, 3) == "year" ? 12 : 1;
        t.start = internal::I64(r, 4);
        t.end = internal::I64(r, 5);
        const UnixNanos paid = internal::I64(r, 6);
        const UnixNanos replaced = r.get_indicator(7) == soci::i_null ? 0 : internal::I64(r, 7);
        if (replaced > 0) t.end = std::min(t.end, replaced);
        auto [it, fresh] = first_paid.emplace(t.tenant, paid);
        if (!fresh) it->second = std::min(it->second, paid);
        terms.push_back(t);
      }
    }
    {
      soci::rowset<soci::row> rows =
          (sql.prepare
           << "SELECT at, kind FROM billing_events WHERE kind IN ('cancelled', 'lapsed')");
      for (const soci::row& r : rows) ends.push_back({internal::I64(r, 0), internal::Str(r, 1)});
    }
    // One statement: one snapshot (PostgreSQL READ COMMITTED), so concurrent payments can't
    // make the sums disagree.
    long long a = 0, b = 0, w = 0, e = 0, h = 0, p = 0;
    sql << "SELECT (SELECT CAST(COALESCE(SUM(cash_idr), 0) AS BIGINT) FROM billing_accounts), "
           "(SELECT CAST(COALESCE(SUM(balance_idr), 0) AS BIGINT) FROM billing_accounts), "
           "(SELECT CAST(COALESCE(SUM(written_off_idr), 0) AS BIGINT) FROM billing_accounts), "
           "(SELECT CAST(COALESCE(SUM(subtotal_idr - refunded_idr - credited_idr), 0) AS BIGINT) "
           "FROM term_invoices WHERE status = 'paid'), "
           "(SELECT CAST(COALESCE(SUM(credit_applied_idr), 0) AS BIGINT) FROM term_invoices WHERE "
           "status = 'open'), "
           "(SELECT CAST(COALESCE(SUM(amount_idr), 0) AS BIGINT) FROM payments)",
        soci::into(a), soci::into(b), soci::into(w), soci::into(e), soci::into(h), soci::into(p);
    payments_total = p;
    accounts_cash = a;
    balance = b;
    written_off = w;
    earned = e;
    held = h;
    return Status::Ok();
  }));
  // MRR at an instant: running paid terms, monthly-normalised.
  auto mrr_at = [&](UnixNanos t, int64_t* paying) {
    std::map<int64_t, int64_t> by_tenant;
    for (const Term_& x : terms) {
      if (x.start <= t && t < x.end) by_tenant[x.tenant] += x.subtotal / x.months;
    }
    int64_t sum = 0;
    for (const auto& [_, v] : by_tenant) sum += v;
    *paying = static_cast<int64_t>(by_tenant.size());
    return sum;
  };
  nlohmann::json rows = nlohmann::json::array();
  int64_t t_settled = 0, t_returned = 0, t_cancel = 0, t_lapse = 0, t_new = 0;
  for (const auto& [s, e] : months) {
    int64_t settled = 0, returned = 0;
    for (const Cash& x : cash) {
      if (x.at < s || x.at >= e) continue;
      if (x.kind == "settlement")
        settled += x.amount;
      else
        returned -= x.amount;
    }
    int64_t cancellations = 0, lapses = 0, fresh = 0;
    for (const Ev& ev : ends) {
      if (ev.at < s || ev.at >= e) continue;
      (ev.kind == "cancelled" ? cancellations : lapses) += 1;
    }
    for (const auto& [_, at] : first_paid) fresh += at >= s && at < e;
    int64_t paying = 0, paying_start = 0;
    const UnixNanos at = std::min(e - 1, now);
    const int64_t mrr = s > now ? 0 : mrr_at(at, &paying);
    mrr_at(s - 1, &paying_start);
    nlohmann::json row = {{"month", FormatIso8601(s).substr(0, 7)},
                          {"settled_idr", settled},
                          {"returned_idr", returned},
                          {"net_idr", settled - returned},
                          {"mrr_idr", mrr},
                          {"mrr_at", FormatIso8601(at)},
                          {"paying_tenants", paying},
                          {"arpu_idr", paying > 0 ? mrr / paying : 0},
                          {"new_paying", fresh},
                          {"cancellations", cancellations},
                          {"lapses", lapses},
                          {"paying_at_start", paying_start}};
    row["churn_rate"] =
        paying_start > 0
            ? nlohmann::json(static_cast<double>(cancellations + lapses) / paying_start)
            : nlohmann::json(nullptr);
    rows.push_back(row);
    t_settled += settled;
    t_returned += returned;
    t_cancel += cancellations;
    t_lapse += lapses;
    t_new += fresh;
  }
  const int64_t diff = accounts_cash + written_off - earned - balance - held;
  nlohmann::json out = {{"currency", "IDR"},
                        {"months", rows},
                        {"totals",
                         {{"settled_idr", t_settled},
                          {"returned_idr", t_returned},
                          {"net_idr", t_settled - t_returned},
                          {"new_paying", t_new},
                          {"cancellations", t_cancel},
                          {"lapses", t_lapse}}},
                        {"reconciliation",
                         {{"payments_idr", payments_total},
                          {"accounts_cash_idr", accounts_cash},
                          {"earned_idr", earned},
                          {"credit_balance_idr", balance},
                          {"credit_held_idr", held},
                          {"written_off_idr", written_off},
                          {"difference_idr", diff},
                          {"ok", payments_total == accounts_cash && diff == 0}}}};
  return out;
}

}  // namespace sinyal::billing
