#include "billing/invoices.h"

#include <algorithm>

#include "billing/sql_util.h"
#include "core/time.h"
#include "store/database.h"
#include "store/soci.h"
#include "store/system_path.h"

namespace sinyal::billing {

nlohmann::json Invoice::ToJson() const {
  return {{"id", id},
          {"tenant_id", tenant.value()},
          {"period", {{"start", FormatIso8601(period_start)}, {"end", FormatIso8601(period_end)}}},
          {"plan", plan},
          {"base_idr", base_idr},
          {"units", units},
          {"overage_units", overage_units},
          {"overage_idr", overage_idr},
          {"total_idr", total_idr},
          {"status", status},
          {"created_at", FormatIso8601(created_at)}};
}

namespace {

constexpr const char* kInvoiceColumns =
    "id, tenant_id, period_start, period_end, plan, base_idr, units, overage_units, "
    "overage_idr, total_idr, status, created_at";

Invoice FromRow(const soci::row& r) {
  using internal::I64;
  Invoice inv;
  inv.id = I64(r, 0);
  inv.tenant = TenantId(I64(r, 1));
  inv.period_start = I64(r, 2);
  inv.period_end = I64(r, 3);
  inv.plan = internal::Str(r, 4);
  inv.base_idr = I64(r, 5);
  inv.units = I64(r, 6);
  inv.overage_units = I64(r, 7);
  inv.overage_idr = I64(r, 8);
  inv.total_idr = I64(r, 9);
  inv.status = internal::Str(r, 10);
  inv.created_at = I64(r, 11);
  return inv;
}

}  // namespace

Invoices::Invoices(store::Database& db, Subscriptions& subscriptions, InvoicesOptions options)
    : db_(db), subs_(subscriptions), options_(options) {}

Result<Invoice> Invoices::Generate(TenantId tenant, int64_t period_index, UnixNanos now) {
  bool created = false;
  return GenerateImpl(tenant, period_index, now, &created);
}

Result<Invoice> Invoices::GenerateImpl(TenantId tenant, int64_t period_index, UnixNanos now,
                                       bool* created) {
  if (period_index < 0) return Status::InvalidArgument("period index must be >= 0", "period");
  SINYAL_ASSIGN_OR_RETURN(Subscription sub, subs_.Current(tenant, now));
  const Period per = PeriodIndex(sub.anchor, period_index);
  if (per.end + options_.grace_seconds * kNanosPerSecond > now) {
    return Status::FailedPrecondition(
        "the period ending " + FormatIso8601(per.end) + " is not closed yet", "period");
  }
  // The highest-priced plan held during the period names the invoice. Its base price is that
  // of the highest-priced plan billed in arrears (set by an operator): plans bought through
  // self-service checkout were paid in advance (term invoices, billing/account.h), so a period
  // held only through them has base 0 (its overage is still billed here).
  SINYAL_ASSIGN_OR_RETURN(auto held, subs_.PlansDuring(tenant, per.start, per.end));
  if (held.empty()) held.push_back(sub.plan);
  SINYAL_ASSIGN_OR_RETURN(auto unpaid, subs_.PlansDuring(tenant, per.start, per.end, true));
  auto highest = [this](const std::vector<std::string>& names) {
    std::shared_ptr<const Plan> best;
    for (const auto& name : names) {
      auto p = subs_.plans().GetShared(name);
      if (!p.ok()) continue;  // a plan since removed: skip it
      if (best == nullptr || (*p)->price_idr > best->price_idr) best = *p;
    }
    return best;
  };
  std::shared_ptr<const Plan> plan = highest(held);
  if (plan == nullptr) return Status::FailedPrecondition("no known plan for the period", "plan");
  std::shared_ptr<const Plan> billed = highest(unpaid);
  const int64_t base_price = billed == nullptr ? 0 : billed->price_idr;

  Invoice inv;
  SINYAL_RETURN_IF_ERROR(db_.WithTenantTx(tenant, [&](soci::session& sql) -> Status {
    long long t = tenant.value(), ps = per.start, pe = per.end, units = 0, over = 0, cost = 0;
    sql << "SELECT CAST(COALESCE(SUM(units), 0) AS BIGINT), "
           "CAST(COALESCE(SUM(overage_units), 0) AS BIGINT), "
           "CAST(COALESCE(SUM(cost_idr), 0) AS BIGINT) FROM usage_ledger "
           "WHERE tenant_id = :t AND period_start = :ps",
        soci::use(t, "t"), soci::use(ps, "ps"), soci::into(units), soci::into(over),
        soci::into(cost);
    long long base = base_price, total = base_price + cost, at = now;
    std::string plan_name = plan->name;
    soci::statement ins =
        (sql.prepare << "INSERT INTO invoices (tenant_id, period_start, period_end, plan, "
                        "base_idr, units, overage_units, overage_idr, total_idr, status, "
                        "created_at) VALUES (:t, :ps, :pe, :pl, :b, :u, :ou, :oi, :tot, 'open', "
                        ":at) ON CONFLICT DO NOTHING",
         soci::use(t, "t"), soci::use(ps, "ps"), soci::use(pe, "pe"), soci::use(plan_name, "pl"),
         soci::use(base, "b"), soci::use(units, "u"), soci::use(over, "ou"), soci::use(cost, "oi"),
         soci::use(total, "tot"), soci::use(at, "at"));
    ins.execute(true);
    *created = ins.get_affected_rows() == 1;
    soci::row row;
    sql << std::string("SELECT ") + kInvoiceColumns +
               " FROM invoices WHERE tenant_id = :t AND period_start = :ps",
        soci::use(t, "t"), soci::use(ps, "ps"), soci::into(row);
    if (!sql.got_data()) return Status::Internal("invoice missing after insert");
    inv = FromRow(row);
    return Status::Ok();
  }));
  return inv;
}

Result<int> Invoices::GenerateClosed(UnixNanos now) {
  struct Sub {
    long long tenant = 0, anchor = 0, last_invoiced = -1;
  };
  std::vector<Sub> subs;
  SINYAL_RETURN_IF_ERROR(store::WithSystemReadTx(
      db_, store::SystemPath::kInvoicing, [&](soci::session& sql) -> Status {
        soci::rowset<soci::row> rows =
            (sql.prepare << "SELECT s.tenant_id, s.anchor, "
                            "(SELECT MAX(i.period_start) FROM invoices i WHERE i.tenant_id = "
                            "s.tenant_id) FROM subscriptions s ORDER BY s.tenant_id");
        for (const soci::row& r : rows) {
          Sub s;
          s.tenant = internal::I64(r, 0);
          s.anchor = internal::I64(r, 1);
          s.last_invoiced = r.get_indicator(2) == soci::i_null ? -1 : internal::I64(r, 2);
          subs.push_back(s);
        }
        return Status::Ok();
      }));
  int created = 0;
  for (const Sub& s : subs) {
    int64_t k = s.last_invoiced < 0 ? 0 : PeriodAt(s.anchor, s.last_invoiced).index + 1;
    for (int n = 0; n < options_.max_periods_per_run; ++n, ++k) {
      const Period per = PeriodIndex(s.anchor, k);
      if (per.end + options_.grace_seconds * kNanosPerSecond > now) break;
      bool made = false;
      SINYAL_RETURN_IF_ERROR(GenerateImpl(TenantId(s.tenant), k, now, &made).status());
      if (made) ++created;
    }
  }
  return created;
}

Result<std::vector<Invoice>> Invoices::List(TenantId tenant) {
  std::vector<Invoice> out;
  SINYAL_RETURN_IF_ERROR(db_.WithTenantReadTx(tenant, [&](soci::session& sql) -> Status {
    long long t = tenant.value();
    soci::rowset<soci::row> rows =
        (sql.prepare << std::string("SELECT ") + kInvoiceColumns +
                            " FROM invoices WHERE tenant_id = :t ORDER BY period_start DESC",
         soci::use(t, "t"));
    for (const soci::row& r : rows) out.push_back(FromRow(r));
    return Status::Ok();
  }));
  return out;
}

}  // namespace sinyal::billing
