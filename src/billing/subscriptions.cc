// Subscriptions and monthly periods (billing/plans.h).
#include <algorithm>
#include <nlohmann/json.hpp>

#include "billing/plans.h"
#include "core/time.h"
#include "store/database.h"
#include "store/security_audit.h"
#include "store/soci.h"

namespace sinyal::billing {

namespace {

int DaysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

}  // namespace

UnixNanos AddMonths(UnixNanos t, int64_t months) {
  CivilTime c = NanosToCivil(t);
  int64_t m0 = static_cast<int64_t>(c.year) * 12 + (c.month - 1) + months;
  int64_t y = m0 >= 0 ? m0 / 12 : -((-m0 + 11) / 12);
  c.year = static_cast<int>(y);
  c.month = static_cast<int>(m0 - y * 12) + 1;
  c.day = std::min(c.day, DaysInMonth(c.year, c.month));
  return CivilToNanos(c);
}

Period PeriodIndex(UnixNanos anchor, int64_t k) {
  return Period{k, AddMonths(anchor, k), AddMonths(anchor, k + 1)};
}

Period PeriodAt(UnixNanos anchor, UnixNanos now) {
  const CivilTime a = NanosToCivil(anchor), n = NanosToCivil(now);
  int64_t k = (static_cast<int64_t>(n.year) - a.year) * 12 + (n.month - a.month);
  while (AddMonths(anchor, k) > now) --k;
  while (AddMonths(anchor, k + 1) <= now) ++k;
  return PeriodIndex(anchor, k);
}

Subscriptions::Subscriptions(store::Database& db, PlanStore& plans, Clock& clock,
                             SubscriptionsOptions options)
    : db_(db), plans_(plans), clock_(clock), options_(options) {}
Subscriptions::~Subscriptions() = default;

namespace {

// Inserts a "free" subscription anchored at `now` unless the tenant has one (concurrent
// creators meet on the primary key); records the creation event when this call created it.
void EnsureSubscription(soci::session& sql, long long tenant, long long now) {
  soci::statement ins =
      (sql.prepare << "INSERT INTO subscriptions (tenant_id, plan, anchor, status, updated_at) "
                      "VALUES (:t, 'free', :now, 'active', :now2) ON CONFLICT DO NOTHING",
       soci::use(tenant, "t"), soci::use(now, "now"), soci::use(now, "now2"));
  ins.execute(true);
  if (ins.get_affected_rows() == 1) {
    sql << "INSERT INTO subscription_events (tenant_id, from_plan, to_plan, actor, at) "
           "VALUES (:t, NULL, 'free', 'system', :now)",
        soci::use(tenant, "t"), soci::use(now, "now");
  }
}

}  // namespace

Result<Subscriptions::Entry> Subscriptions::LoadOrCreate(TenantId tenant, UnixNanos now) {
  Entry e;
  bool found = false;
  // Usually it exists: a read-only transaction (no writer lock on SQLite).
  SINYAL_RETURN_IF_ERROR(db_.WithTenantReadTx(tenant, [&](soci::session& sql) -> Status {
    long long t = tenant.value(), anchor = 0;
    sql << "SELECT plan, status, anchor FROM subscriptions WHERE tenant_id = :t", soci::use(t, "t"),
        soci::into(e.plan), soci::into(e.status), soci::into(anchor);
    found = sql.got_data();
    e.anchor = anchor;
    return Status::Ok();
  }));
  if (found) {
    e.loaded_at = clock_.Now();
    return e;
  }
  SINYAL_RETURN_IF_ERROR(db_.WithTenantTx(tenant, [&](soci::session& sql) -> Status {
    long long t = tenant.value(), n = now, anchor = 0;
    EnsureSubscription(sql, t, n);
    sql << "SELECT plan, status, anchor FROM subscriptions WHERE tenant_id = :t", soci::use(t, "t"),
        soci::into(e.plan), soci::into(e.status), soci::into(anchor);
    if (!sql.got_data()) return Status::Internal("subscription vanished");
    e.anchor = anchor;
    return Status::Ok();
  }));
  e.loaded_at = clock_.Now();
  return e;
}

Result<Subscription> Subscriptions::Current(TenantId tenant, UnixNanos now) {
  if (!tenant.valid()) return Status::InvalidArgument("invalid tenant id", "tenant");
  Entry e;
  bool hit = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(tenant);
    if (it != cache_.end()) {
      const bool fresh = clock_.Now() - it->second.loaded_at <
                         std::chrono::nanoseconds(options_.cache_ttl).count();
      if (fresh || it->second.refreshing) {
        e = it->second;  // fresh, or another thread is re-reading it
        hit = true;
      } else {
        it->second.refreshing = true;  // this thread re-reads
      }
    }
  }
  if (!hit) {
    auto loaded = LoadOrCreate(tenant, now);
    if (!loaded.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = cache_.find(tenant);
      if (it != cache_.end()) it->second.refreshing = false;
      return loaded.error();
    }
    e = std::move(loaded).value();
  }
  Period p = e.period;
  if (!(e.period.end > e.period.start && now >= e.period.start && now < e.period.end)) {
    p = PeriodAt(e.anchor, now);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(tenant);
    if (!hit || it == cache_.end()) {
      e.period = p;
      cache_[tenant] = e;
    } else if (it->second.anchor == e.anchor) {
      it->second.period = p;
    }
  } else if (!hit) {
    std::lock_guard<std::mutex> lock(mu_);
    cache_[tenant] = e;
  }
  Subscription s;
  s.tenant = tenant;
  s.plan = e.plan;
  s.status = e.status;
  s.anchor = e.anchor;
  // Before the anchor (a clock set back): the first period.
  const Period use = p.index < 0 ? PeriodIndex(e.anchor, 0) : p;
  s.period_start = use.start;
  s.period_end = use.end;
  return s;
}

Status Subscriptions::ChangePlanInTx(soci::session& sql, store::Dialect dialect, TenantId tenant,
                                     const std::string& plan, UnixNanos at,
                                     const std::string& actor) {
  long long t = tenant.value(), n = at;
  EnsureSubscription(sql, t, n);
  std::string current;
  sql << std::string("SELECT plan FROM subscriptions WHERE tenant_id = :t") +
             (dialect == store::Dialect::kPostgres ? " FOR UPDATE" : ""),
      soci::use(t, "t"), soci::into(current);
  if (current == plan) return Status::Ok();
  sql << "UPDATE subscriptions SET plan = :p, updated_at = :now WHERE tenant_id = :t",
      soci::use(plan, "p"), soci::use(n, "now"), soci::use(t, "t");
  sql << "INSERT INTO subscription_events (tenant_id, from_plan, to_plan, actor, at) "
         "VALUES (:t, :f, :p, :a, :now)",
      soci::use(t, "t"), soci::use(current, "f"), soci::use(plan, "p"), soci::use(actor, "a"),
      soci::use(n, "now");
  store::AppendSecurityEvent(sql, tenant,
                             {.kind = std::string(store::kAuditPlanChanged),
                              .actor = actor,
                              .subject = "plan:" + plan,
                              .data = nlohmann::json{{"from", current}, {"to", plan}}.dump()},
                             at);
  return Status::Ok();
}

Status Subscriptions::ChangePlan(TenantId tenant, std::string plan, UnixNanos now,
                                 std::string actor) {
  if (!tenant.valid()) return Status::InvalidArgument("invalid tenant id", "tenant");
  if (actor.empty()) return Status::InvalidArgument("actor is required", "actor");
  SINYAL_RETURN_IF_ERROR(plans_.GetShared(plan).status());
  Status st = db_.WithTenantTx(tenant, [&](soci::session& sql) -> Status {
    return ChangePlanInTx(sql, db_.dialect(), tenant, plan, now, actor);
  });
  Invalidate(tenant);
  return st;
}

Result<std::vector<std::string>> Subscriptions::PlansDuring(TenantId tenant, UnixNanos start,
                                                            UnixNanos end, bool unpaid_only) {
  if (!tenant.valid()) return Status::InvalidArgument("invalid tenant id", "tenant");
  std::vector<std::string> out;
  // Plans switched to by self-service billing ("billing:..." actors) were paid in advance.
  auto keep = [unpaid_only](const std::string& actor) {
    return !unpaid_only || actor.rfind("billing:", 0) != 0;
  };
  SINYAL_RETURN_IF_ERROR(db_.WithTenantReadTx(tenant, [&](soci::session& sql) -> Status {
    long long t = tenant.value(), s = start, e = end;
    std::string plan, to, actor;
    long long at = 0;
    // The plan held at `start`: the last change at or before it.
    sql << "SELECT to_plan, actor FROM subscription_events WHERE tenant_id = :t AND at <= :s "
           "ORDER BY at DESC, id DESC LIMIT 1",
        soci::use(t, "t"), soci::use(s, "s"), soci::into(plan), soci::into(actor);
    if (sql.got_data() && keep(actor)) out.push_back(plan);
    soci::statement st =
        (sql.prepare << "SELECT to_plan, at, actor FROM subscription_events WHERE tenant_id = :t "
                        "AND at > :s AND at < :e ORDER BY at, id",
         soci::use(t, "t"), soci::use(s, "s"), soci::use(e, "e"), soci::into(to), soci::into(at),
         soci::into(actor));
    st.execute();
    while (st.fetch()) {
      if (!keep(actor)) continue;
      if (out.empty() || out.back() != to) out.push_back(to);
    }
    return Status::Ok();
  }));
  return out;
}

void Subscriptions::Invalidate(TenantId tenant) {
  std::lock_guard<std::mutex> lock(mu_);
  if (tenant.valid()) {
    cache_.erase(tenant);
  } else {
    cache_.clear();
  }
}

}  // namespace sinyal::billing
