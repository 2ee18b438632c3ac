// Plans and subscriptions (issue 6). What a plan sells is decided by billing/entitlements.h
// (the features list is billing/features.h).
//
// A Plan is a row of table `plans` (migration 8 seeds free / pro / enterprise, migration 20 adds
// their training bounds; docs/billing.md justifies the figures). Operators edit plans through PlanStore::Update, which validates every
// field (InvalidArgument naming it), writes an audit row (plan_audit) and refreshes the cache.
// Every tenant has one Subscription (table `subscriptions`): its plan and the anchor of its
// monthly periods. The first call for a tenant without one creates a "free" subscription
// anchored at that moment.
//
// Periods: monthly, in UTC, anchored on the subscription's start (the anchor). Period k is
// [AddMonths(anchor, k), AddMonths(anchor, k + 1)), where AddMonths keeps the anchor's time of
// day and clamps its day of month to the month's length (anchor Jan 31 -> Feb 28/29 -> Mar 31,
// always computed from the anchor, never chained). Changing plans keeps the anchor, so the
// current period continues with the new plan's quota.
//
// Caching: both classes keep what they read in memory, so the request path (Meter::Reserve)
// does no database read in steady state. Writes through this process refresh its cache at once;
// edits made by another process are seen within `cache_ttl` (default 5 s).
//
// Thread safety: PlanStore and Subscriptions are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "billing/features.h"
#include "billing/overage.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/status.h"
#include "models/config.h"
#include "store/fwd.h"

namespace sinyal::store {
class Database;
enum class Dialect;
}  // namespace sinyal::store

namespace sinyal::billing {

struct Plan {
  std::string name;  // "free" | "pro" | "enterprise" (operators may add more)
  std::string display_name;
  int64_t price_idr = 0;  // per monthly period, integer rupiah
  // Price of a yearly term paid at once (self-service checkout, billing/account.h). Default
  // (seeds): 10 x price_idr, two months free. 0 on a free plan.
  int64_t yearly_price_idr = 0;
  int64_t monthly_quota = 0;  // billable units per period; -1 = unlimited (fair use)
  bool overage_allowed = false;
  int64_t overage_price_idr = 0;  // per unit beyond the quota (when allowed)
  // Graduated overage (billing/overage.h): price per unit by volume band. Empty: every overage
  // unit costs overage_price_idr. Non-empty: overage_price_idr equals the first band's price.
  std::vector<OverageBand> overage_bands;
  double rate_per_second = 1;      // sustained rate limit per API key / per user
  int64_t burst = 5;               // bucket depth
  int64_t data_delay_seconds = 0;  // Free: 3600 (signals of bars closed at least this long ago)
  std::vector<std::string> timeframes;  // allowed without all_timeframes (e.g. {"H1","D1"})
  std::set<std::string> features;       // entitlements: names of billing/features.h
  // Bounds of the tenant's own model training (models::ModelService validates every
  // configuration against them; app/ passes them in). Defaults: the platform's hard limits.
  models::PlanBounds training;

  bool Has(std::string_view feature) const;
  bool unlimited() const { return monthly_quota < 0; }
  // IDR cost of `units` overage units following `overage_before` of the period (the bands, or
  // the flat overage price): the one overage rule (billing/overage.h).
  int64_t OverageCost(int64_t overage_before, int64_t units) const {
    return billing::OverageCost(overage_bands, overage_price_idr, overage_before, units);
  }
  // {"name","display_name","price_idr","yearly_price_idr","monthly_quota" (null when
  //  unlimited),"unlimited","overage_allowed","overage_price_idr","overage_bands","rate_per_second",
  //  "burst","data_delay_seconds","timeframes","features","training":{TrainingJson}}
  nlohmann::json ToJson() const;
  // OK, or InvalidArgument naming the first bad field.
  [[nodiscard]] Status Validate() const;
};

// {"max_symbols","timeframes","max_horizon","min_members","max_members","max_trees","max_depth",
//  "max_leaves","min_eta","max_eta","min_sample","max_min_child_weight","max_lambda",
//  "max_dead_band"}: a plan's training bounds as the API shows them and operators edit them.
nlohmann::json TrainingJson(const models::PlanBounds& bounds);
// OK, or InvalidArgument naming "training.<field>": every bound within the platform's hard limits
// (models::PlanBounds' defaults), minima below maxima, canonical timeframes.
[[nodiscard]] Status ValidateTraining(const models::PlanBounds& bounds);

// A new plan named `name` from the fields of Plan::ToJson in `fields` (all optional, as an
// operator's PUT of an unknown plan): defaults display_name = name, unlimited quota, and
// Plan's other defaults. Validated; InvalidArgument naming the field (as PlanStore::Update).
[[nodiscard]] Result<Plan> NewPlanFromJson(std::string_view name, const nlohmann::json& fields);

struct PlanStoreOptions {
  // How long a cached plan table is trusted before it is re-read (edits by other processes).
  // Default: 5 s. 0 re-reads on every call (tests).
  std::chrono::milliseconds cache_ttl{5000};
};

// DB-backed (table plans, seeded by migration 8), cached in memory.
class PlanStore {
 public:
  // REQUIRES: db and clock outlive the store; db is migrated.
  PlanStore(store::Database& db, Clock& clock, PlanStoreOptions options = {});
  ~PlanStore();
  PlanStore(const PlanStore&) = delete;
  PlanStore& operator=(const PlanStore&) = delete;

  // Every plan, cheapest first (ties by name).
  [[nodiscard]] Result<std::vector<Plan>> List();
  // NotFound("plan") for an unknown name.
  [[nodiscard]] Result<Plan> Get(std::string_view name);
  // As Get, without copying (the hot path). The pointee is immutable.
  [[nodiscard]] Result<std::shared_ptr<const Plan>> GetShared(std::string_view name);
  // Operators: applies `changes` (a JSON object with any of the fields of Plan::ToJson except
  // "name" and "unlimited"; "monthly_quota": null or -1 means unlimited) to plan `name`,
  // validates the result, stores it and an audit row (actor, before, after, time), refreshes
  // the cache, and returns the new plan. Errors: NotFound("plan"); InvalidArgument naming the
  // field (unknown field, wrong type, out of range, unknown feature or timeframe).
  [[nodiscard]] Result<Plan> Update(std::string_view name, const nlohmann::json& changes,
                                    std::string actor);
  // Operators: adds a new plan (validated). AlreadyExists("plan") if the name is taken.
  [[nodiscard]] Result<Plan> Create(const Plan& plan, std::string actor);
  // Smallest plan (by price, then name) that has `feature`; used in 403 problems
  // ("requires plan pro"). NotFound("feature") when no plan has it.
  [[nodiscard]] Result<std::string> CheapestWith(std::string_view feature);
  // Drops the cache; the next call re-reads the table.
  void Invalidate();

 private:
  struct Snapshot;
  Result<std::shared_ptr<const Snapshot>> Load();

  store::Database& db_;
  Clock& clock_;
  PlanStoreOptions options_;
  std::mutex mu_;
  std::shared_ptr<const Snapshot> snapshot_;  // GUARDED_BY(mu_)
  UnixNanos loaded_at_ = 0;                   // GUARDED_BY(mu_)
  bool reloading_ = false;  // GUARDED_BY(mu_): one thread re-reads; others use the old snapshot
};

// The tenant's subscription: plan + current monthly period [start, end) (UTC, anchored on the
// subscription's start).
struct Subscription {
  TenantId tenant;
  std::string plan;
  UnixNanos period_start = 0, period_end = 0;
  std::string status;    // "active"
  UnixNanos anchor = 0;  // subscription start: the periods' anchor
};

// The calendar helper behind periods: `t` plus `months` months, keeping the time of day and
// clamping the day of month (see the file comment). months may be negative.
UnixNanos AddMonths(UnixNanos t, int64_t months);
// Index k >= 0 of the period holding `now` (k = -1 when now < anchor), and its bounds.
struct Period {
  int64_t index = 0;
  UnixNanos start = 0, end = 0;
};
Period PeriodAt(UnixNanos anchor, UnixNanos now);
// Period with index `k` (k may be any integer).
Period PeriodIndex(UnixNanos anchor, int64_t k);

struct SubscriptionsOptions {
  // Cached subscriptions are re-read after this long (plan changes by other processes).
  // Default: 5 s. 0 re-reads on every call.
  std::chrono::milliseconds cache_ttl{5000};
};

class Subscriptions {
 public:
  // REQUIRES: db, plans and clock outlive this; db is migrated.
  Subscriptions(store::Database& db, PlanStore& plans, Clock& clock,
                SubscriptionsOptions options = {});
  ~Subscriptions();
  Subscriptions(const Subscriptions&) = delete;
  Subscriptions& operator=(const Subscriptions&) = delete;

  // The subscription with the period holding `now`. Creates a "free" subscription anchored at
  // `now` on first use (an event row records it). Errors: InvalidArgument("tenant") for an
  // invalid id; FailedPrecondition when the tenant does not exist; Unavailable/Internal from
  // the database. Steady state: no database read (cache, see the file comment).
  [[nodiscard]] Result<Subscription> Current(TenantId tenant, UnixNanos now);
  // Switches the tenant to `plan` from `now` (the anchor is kept, so the current period
  // continues with the new plan's quota); records an event (from, to, actor, time). Creates the
  // subscription first if the tenant has none. NotFound("plan") for an unknown plan. Changing to
  // the same plan is OK and records nothing.
  [[nodiscard]] Status ChangePlan(TenantId tenant, std::string plan, UnixNanos now,
                                  std::string actor);
  // As ChangePlan, inside the caller's tenant transaction `tx` (the payments flow switches
  // the plan in the transaction that records the payment). The caller calls Invalidate(tenant)
  // after the commit. REQUIRES: `plan` exists.
  [[nodiscard]] static Status ChangePlanInTx(soci::session& tx, store::Dialect dialect,
                                             TenantId tenant, const std::string& plan, UnixNanos at,
                                             const std::string& actor);
  // Plans the tenant held during [start, end) (from the event rows), in order; for invoices.
  // unpaid_only: only holdings not switched to by self-service billing (actor "billing:..."),
  // i.e. plans set by an operator, billed in arrears; self-service terms are paid in advance.
  [[nodiscard]] Result<std::vector<std::string>> PlansDuring(TenantId tenant, UnixNanos start,
                                                             UnixNanos end,
                                                             bool unpaid_only = false);
  // Drops the tenant's cached subscription (or all when tenant is invalid).
  void Invalidate(TenantId tenant = TenantId());

  PlanStore& plans() { return plans_; }

 private:
  struct Entry {
    std::string plan;
    std::string status;
    UnixNanos anchor = 0;
    UnixNanos loaded_at = 0;
    Period period;            // the last period computed (saves the calendar arithmetic per call)
    bool refreshing = false;  // one thread re-reads a stale entry; others use it meanwhile
  };
  Result<Entry> LoadOrCreate(TenantId tenant, UnixNanos now);

  store::Database& db_;
  PlanStore& plans_;
  Clock& clock_;
  SubscriptionsOptions options_;
  std::mutex mu_;
  std::unordered_map<TenantId, Entry> cache_;  // GUARDED_BY(mu_)
};

}  // namespace sinyal::billing
