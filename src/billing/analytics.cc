#include "billing/analytics.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "billing/sql_util.h"
#include "core/time.h"
#include "store/database.h"
#include "store/soci.h"
#include "store/system_path.h"

namespace sinyal::billing {

namespace {

constexpr int64_t kNanosPerDayL = 86'400'000'000'000;

std::string DateOfDay(int64_t day) {
  int y = 0, m = 0, d = 0;
  CivilFromDays(day, &y, &m, &d);
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d", y, m, d);
  return buf;
}

std::string MonthOf(UnixNanos t) {
  const CivilTime c = NanosToCivil(t);
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04d-%02d", c.year, c.month);
  return buf;
}

Status CheckRange(UnixNanos from, UnixNanos to) {
  if (from >= to) return Status::InvalidArgument("from must be before to", "from");
  if (to - from > 400 * kNanosPerDayL) {
    return Status::InvalidArgument("the range may span at most 400 days", "from");
  }
  return Status::Ok();
}

constexpr const char* kAgg =
    "COUNT(*), CAST(COALESCE(SUM(units), 0) AS BIGINT), "
    "CAST(COALESCE(SUM(overage_units), 0) AS BIGINT), "
    "CAST(COALESCE(SUM(cost_idr), 0) AS BIGINT)";

void PutAgg(const soci::row& r, size_t i, nlohmann::json& e) {
  e["calls"] = internal::I64(r, i);
  e["units"] = internal::I64(r, i + 1);
  e["overage_units"] = internal::I64(r, i + 2);
  e["cost_idr"] = internal::I64(r, i + 3);
}

}  // namespace

Analytics::Analytics(store::Database& db, Subscriptions& subscriptions)
    : db_(db), subs_(subscriptions) {}

Result<nlohmann::json> Analytics::UsageByPlanAndDay(UnixNanos from, UnixNanos to) {
  SINYAL_RETURN_IF_ERROR(CheckRange(from, to));
  nlohmann::json out = nlohmann::json::array();
  SINYAL_RETURN_IF_ERROR(store::WithSystemReadTx(
      db_, store::SystemPath::kAnalytics, [&](soci::session& sql) -> Status {
        long long f = from, t = to;
        soci::rowset<soci::row> rows =
            (sql.prepare << std::string("SELECT at / 86400000000000 AS d, plan, ") + kAgg +
                                " FROM usage_ledger WHERE at >= :f AND at < :t "
                                "GROUP BY at / 86400000000000, plan ORDER BY d, plan",
             soci::use(f, "f"), soci::use(t, "t"));
        for (const soci::row& r : rows) {
          nlohmann::json e{{"date", DateOfDay(internal::I64(r, 0))}, {"plan", internal::Str(r, 1)}};
          PutAgg(r, 2, e);
          out.push_back(std::move(e));
        }
        return Status::Ok();
      }));
  return out;
}

Result<nlohmann::json> Analytics::TopTenants(UnixNanos from, UnixNanos to, int limit) {
  SINYAL_RETURN_IF_ERROR(CheckRange(from, to));
  if (limit < 1 || limit > 1000)
    return Status::InvalidArgument("limit must be in [1, 1000]", "limit");
  nlohmann::json out = nlohmann::json::array();
  SINYAL_RETURN_IF_ERROR(store::WithSystemReadTx(
      db_, store::SystemPath::kAnalytics, [&](soci::session& sql) -> Status {
        long long f = from, t = to, lim = limit;
        soci::rowset<soci::row> rows =
            (sql.prepare
                 << std::string("SELECT l.tenant_id, te.name, s.plan, ") +
                        "COUNT(*), CAST(SUM(l.units) AS BIGINT), "
                        "CAST(SUM(l.overage_units) AS BIGINT), CAST(SUM(l.cost_idr) AS BIGINT) "
                        "FROM usage_ledger l JOIN tenants te ON te.id = l.tenant_id "
                        "LEFT JOIN subscriptions s ON s.tenant_id = l.tenant_id "
                        "WHERE l.at >= :f AND l.at < :t "
                        "GROUP BY l.tenant_id, te.name, s.plan "
                        "ORDER BY 5 DESC, l.tenant_id LIMIT :lim",
             soci::use(f, "f"), soci::use(t, "t"), soci::use(lim, "lim"));
        for (const soci::row& r : rows) {
          nlohmann::json e{{"tenant_id", internal::I64(r, 0)},
                           {"tenant", internal::Str(r, 1)},
                           {"plan", internal::Str(r, 2)}};
          PutAgg(r, 3, e);
          out.push_back(std::move(e));
        }
        return Status::Ok();
      }));
  return out;
}

Result<nlohmann::json> Analytics::Revenue(UnixNanos from, UnixNanos to) {
  SINYAL_RETURN_IF_ERROR(CheckRange(from, to));
  std::map<std::string, nlohmann::json> months;
  int64_t total = 0, run_rate = 0, paying = 0;
  SINYAL_ASSIGN_OR_RETURN(auto plans, subs_.plans().List());
  std::map<std::string, int64_t> price;
  for (const auto& p : plans) price[p.name] = p.price_idr;
  SINYAL_RETURN_IF_ERROR(store::WithSystemReadTx(
      db_, store::SystemPath::kAnalytics, [&](soci::session& sql) -> Status {
        long long f = from, t = to;
        soci::rowset<soci::row> rows =
            (sql.prepare << "SELECT period_start, total_idr, base_idr, overage_idr FROM invoices "
                            "WHERE period_start >= :f AND period_start < :t ORDER BY period_start",
             soci::use(f, "f"), soci::use(t, "t"));
        for (const soci::row& r : rows) {
          auto& m = months[MonthOf(internal::I64(r, 0))];
          if (m.is_null()) {
            m = {{"invoices", 0}, {"revenue_idr", 0}, {"mrr_idr", 0}, {"overage_idr", 0}};
          }
          m["invoices"] = m["invoices"].get<int64_t>() + 1;
          m["revenue_idr"] = m["revenue_idr"].get<int64_t>() + internal::I64(r, 1);
          m["mrr_idr"] = m["mrr_idr"].get<int64_t>() + internal::I64(r, 2);
          m["overage_idr"] = m["overage_idr"].get<int64_t>() + internal::I64(r, 3);
          total += internal::I64(r, 1);
        }
        soci::rowset<soci::row> subs =
            (sql.prepare << "SELECT plan, COUNT(*) FROM subscriptions WHERE status = 'active' "
                            "GROUP BY plan");
        for (const soci::row& r : subs) {
          auto it = price.find(internal::Str(r, 0));
          if (it == price.end() || it->second <= 0) continue;
          run_rate += it->second * internal::I64(r, 1);
          paying += internal::I64(r, 1);
        }
        return Status::Ok();
      }));
  nlohmann::json list = nlohmann::json::array();
  for (auto& [month, m] : months) {
    m["month"] = month;
    list.push_back(m);
  }
  return nlohmann::json{{"months", list},
                        {"total_revenue_idr", total},
                        {"run_rate_mrr_idr", run_rate},
                        {"paying_subscriptions", paying}};
}

Result<nlohmann::json> Analytics::QuotaBurnDown(UnixNanos now, int limit,
                                                std::optional<TenantId> tenant) {
  if (limit < 1 || limit > 1000)
    return Status::InvalidArgument("limit must be in [1, 1000]", "limit");
  struct Row {
    int64_t tenant = 0;
    std::string name, plan;
    UnixNanos anchor = 0;
    Period period;
    int64_t used = 0;
  };
  std::vector<Row> rows;
  SINYAL_RETURN_IF_ERROR(store::WithSystemReadTx(
      db_, store::SystemPath::kAnalytics, [&](soci::session& sql) -> Status {
        long long only = tenant ? tenant->value() : 0;
        soci::rowset<soci::row> subs =
            (sql.prepare
                 << "SELECT s.tenant_id, t.name, s.plan, s.anchor FROM subscriptions s "
                    "JOIN tenants t ON t.id = s.tenant_id WHERE (:o = 0 OR s.tenant_id = :o2)",
             soci::use(only, "o"), soci::use(only, "o2"));
        for (const soci::row& r : subs) {
          Row x;
          x.tenant = internal::I64(r, 0);
          x.name = internal::Str(r, 1);
          x.plan = internal::Str(r, 2);
          x.anchor = internal::I64(r, 3);
          const Period p = PeriodAt(x.anchor, now);
          x.period = p.index < 0 ? PeriodIndex(x.anchor, 0) : p;
          rows.push_back(std::move(x));
        }
        // The counters of the current periods.
        long long n = now;
        std::map<std::pair<int64_t, int64_t>, int64_t> used;
        soci::rowset<soci::row> counters =
            (sql.prepare << "SELECT tenant_id, period_start, used FROM usage_counters "
                            "WHERE period_end > :n",
             soci::use(n, "n"));
        for (const soci::row& r : counters) {
          used[{internal::I64(r, 0), internal::I64(r, 1)}] = internal::I64(r, 2);
        }
        for (Row& x : rows) {
          auto it = used.find({x.tenant, x.period.start});
          x.used = it == used.end() ? 0 : it->second;
        }
        return Status::Ok();
      }));
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return a.used != b.used ? a.used > b.used : a.tenant < b.tenant;
  });
  if (static_cast<int>(rows.size()) > limit) rows.resize(limit);

  nlohmann::json out = nlohmann::json::array();
  for (const Row& x : rows) {
    auto plan = subs_.plans().GetShared(x.plan);
    const bool unlimited = !plan.ok() || (*plan)->unlimited();
    const int64_t quota = unlimited ? -1 : (*plan)->monthly_quota;
    const double period_days = static_cast<double>(x.period.end - x.period.start) / kNanosPerDayL;
    const double elapsed_days =
        std::clamp(static_cast<double>(now - x.period.start) / kNanosPerDayL, 0.0, period_days);
    const double rate = static_cast<double>(x.used) / std::max(elapsed_days, 1.0);
    const double forecast = static_cast<double>(x.used) + rate * (period_days - elapsed_days);

    nlohmann::json burn = nlohmann::json::array();
    SINYAL_RETURN_IF_ERROR(store::WithSystemReadTx(
        db_, store::SystemPath::kAnalytics, [&](soci::session& sql) -> Status {
          long long t = x.tenant, ps = x.period.start;
          soci::rowset<soci::row> days =
              (sql.prepare << "SELECT at / 86400000000000 AS d, CAST(SUM(units) AS BIGINT) "
                              "FROM usage_ledger WHERE tenant_id = :t AND period_start = :ps "
                              "GROUP BY at / 86400000000000 ORDER BY d",
               soci::use(t, "t"), soci::use(ps, "ps"));
          int64_t cumulative = 0;
          for (const soci::row& r : days) {
            cumulative += internal::I64(r, 1);
            nlohmann::json e{{"date", DateOfDay(internal::I64(r, 0))}, {"used", cumulative}};
            e["remaining"] = unlimited ? nlohmann::json(nullptr)
                                       : nlohmann::json(std::max<int64_t>(0, quota - cumulative));
            burn.push_back(std::move(e));
          }
          return Status::Ok();
        }));

    nlohmann::json e{
        {"tenant_id", x.tenant},
        {"tenant", x.name},
        {"plan", x.plan},
        {"period",
         {{"start", FormatIso8601(x.period.start)}, {"end", FormatIso8601(x.period.end)}}},
        {"used", x.used},
        {"elapsed_days", elapsed_days},
        {"daily_rate", rate},
        {"forecast_month_end", static_cast<int64_t>(forecast + 0.5)},
        {"burn_down", std::move(burn)}};
    if (unlimited) {
      e["quota"] = nullptr;
      e["remaining"] = nullptr;
      e["forecast_over_quota"] = false;
      e["projected_exhaustion"] = nullptr;
    } else {
      e["quota"] = quota;
      e["remaining"] = std::max<int64_t>(0, quota - x.used);
      e["forecast_over_quota"] = forecast > static_cast<double>(quota);
      nlohmann::json exhaustion = nullptr;
      if (x.used >= quota) {
        exhaustion = "exhausted";
      } else if (rate > 0) {
        const double days_left = static_cast<double>(quota - x.used) / rate;
        const UnixNanos at = now + static_cast<UnixNanos>(days_left * kNanosPerDayL);
        if (at < x.period.end) exhaustion = FormatIso8601(at);
      }
      e["projected_exhaustion"] = exhaustion;
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace sinyal::billing
