#include "billing/plans.h"

#include <algorithm>
#include <cmath>

#include "market/timeframe.h"
#include "store/database.h"
#include "store/soci.h"

namespace sinyal::billing {

const std::vector<FeatureInfo>& AllFeatures() {
#define SINYAL_FEATURE_INFO(constant, name, what) FeatureInfo{name, what},
  static const std::vector<FeatureInfo> kAll = {SINYAL_BILLING_FEATURES(SINYAL_FEATURE_INFO)};
#undef SINYAL_FEATURE_INFO
  return kAll;
}

bool IsFeature(std::string_view name) {
  for (const FeatureInfo& f : AllFeatures()) {
    if (f.name == name) return true;
  }
  return false;
}

bool Plan::Has(std::string_view feature) const {
  return features.find(std::string(feature)) != features.end();
}

nlohmann::json Plan::ToJson() const {
  nlohmann::json j;
  j["name"] = name;
  j["display_name"] = display_name;
  j["price_idr"] = price_idr;
  j["yearly_price_idr"] = yearly_price_idr;
  j["monthly_quota"] = unlimited() ? nlohmann::json(nullptr) : nlohmann::json(monthly_quota);
  j["unlimited"] = unlimited();
  j["overage_allowed"] = overage_allowed;
  j["overage_price_idr"] = overage_price_idr;
  j["overage_bands"] = OverageBandsToJson(overage_bands);
  j["rate_per_second"] = rate_per_second;
  j["burst"] = burst;
  j["data_delay_seconds"] = data_delay_seconds;
  j["timeframes"] = timeframes;
  j["features"] = nlohmann::json::array();
  for (const auto& f : features) j["features"].push_back(f);
  j["training"] = TrainingJson(training);
  return j;
}

namespace {

// The numeric training bounds by their JSON name (TrainingJson, ApplyTraining).
const std::pair<const char*, int models::PlanBounds::*> kTrainingInts[] = {
    {"max_symbols", &models::PlanBounds::max_symbols},
    {"max_horizon", &models::PlanBounds::max_horizon},
    {"min_members", &models::PlanBounds::min_members},
    {"max_members", &models::PlanBounds::max_members},
    {"max_trees", &models::PlanBounds::max_trees},
    {"max_depth", &models::PlanBounds::max_depth},
    {"max_leaves", &models::PlanBounds::max_leaves}};
const std::pair<const char*, double models::PlanBounds::*> kTrainingNums[] = {
    {"min_eta", &models::PlanBounds::min_eta},
    {"max_eta", &models::PlanBounds::max_eta},
    {"min_sample", &models::PlanBounds::min_sample},
    {"max_min_child_weight", &models::PlanBounds::max_min_child_weight},
    {"max_lambda", &models::PlanBounds::max_lambda},
    {"max_dead_band", &models::PlanBounds::max_dead_band}};

}  // namespace

nlohmann::json TrainingJson(const models::PlanBounds& b) {
  nlohmann::json j = {{"timeframes", b.allowed_timeframes}};
  for (const auto& [name, member] : kTrainingInts) j[name] = b.*member;
  for (const auto& [name, member] : kTrainingNums) j[name] = b.*member;
  return j;
}

namespace {

constexpr int64_t kMaxMoney = 1'000'000'000'000;  // Rp 1 trillion: far above any plan
constexpr int64_t kMaxQuota = 1'000'000'000'000;

bool ValidPlanName(std::string_view n) {
  return !n.empty() && n.size() <= 32 && std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

}  // namespace

Status Plan::Validate() const {
  if (!ValidPlanName(name)) {
    return Status::InvalidArgument("name must be 1-32 characters of a-z, 0-9, '_' or '-'", "name");
  }
  if (display_name.empty() || display_name.size() > 100) {
    return Status::InvalidArgument("display_name must be 1-100 characters", "display_name");
  }
  if (price_idr < 0 || price_idr > kMaxMoney) {
    return Status::InvalidArgument("price_idr must be a whole number of rupiah in [0, 1e12]",
                                   "price_idr");
  }
  if (yearly_price_idr < 0 || yearly_price_idr > kMaxMoney) {
    return Status::InvalidArgument("yearly_price_idr must be a whole number of rupiah in [0, 1e12]",
                                   "yearly_price_idr");
  }
  if (monthly_quota < -1 || monthly_quota > kMaxQuota) {
    return Status::InvalidArgument("monthly_quota must be null/-1 (unlimited) or in [0, 1e12]",
                                   "monthly_quota");
  }
  if (overage_price_idr < 0 || overage_price_idr > kMaxMoney) {
    return Status::InvalidArgument("overage_price_idr must be in [0, 1e12]", "overage_price_idr");
  }
  SINYAL_RETURN_IF_ERROR(ValidateOverageBands(overage_bands));
  if (!overage_bands.empty() && overage_price_idr != overage_bands.front().price_idr) {
    return Status::InvalidArgument("overage_price_idr must equal the first overage band's price",
                                   "overage_price_idr");
  }
  if (!std::isfinite(rate_per_second) || rate_per_second <= 0 || rate_per_second > 1e6) {
    return Status::InvalidArgument("rate_per_second must be in (0, 1e6]", "rate_per_second");
  }
  if (burst < 1 || burst > 1'000'000) {
    return Status::InvalidArgument("burst must be in [1, 1e6]", "burst");
  }
  if (data_delay_seconds < 0 || data_delay_seconds > 7 * 86400) {
    return Status::InvalidArgument("data_delay_seconds must be in [0, 604800]",
                                   "data_delay_seconds");
  }
  std::set<std::string> seen;
  for (const auto& tf : timeframes) {
    auto parsed = market::ParseTimeframe(tf);
    if (!parsed.ok() || market::TimeframeName(*parsed) != tf) {
      return Status::InvalidArgument("unknown timeframe '" + tf +
                                         "' (use M1, M5, M15, M30, H1, "
                                         "H4 or D1)",
                                     "timeframes");
    }
    if (!seen.insert(tf).second) {
      return Status::InvalidArgument("timeframe '" + tf + "' listed twice", "timeframes");
    }
  }
  for (const auto& f : features) {
    if (!IsFeature(f)) return Status::InvalidArgument("unknown feature '" + f + "'", "features");
  }
  return ValidateTraining(training);
}

Status ValidateTraining(const models::PlanBounds& b) {
  const models::PlanBounds hard;  // the platform's limits
  auto int_in = [](int v, int lo, int hi, const char* name) -> Status {
    if (v < lo || v > hi) {
      return Status::InvalidArgument(std::string("training.") + name + " must be in [" +
                                         std::to_string(lo) + ", " + std::to_string(hi) + "]",
                                     std::string("training.") + name);
    }
    return Status::Ok();
  };
  auto num_in = [](double v, double lo, double hi, const char* name) -> Status {
    if (!std::isfinite(v) || v < lo || v > hi) {
      return Status::InvalidArgument(std::string("training.") + name + " must be in [" +
                                         nlohmann::json(lo).dump() + ", " +
                                         nlohmann::json(hi).dump() + "]",
                                     std::string("training.") + name);
    }
    return Status::Ok();
  };
  SINYAL_RETURN_IF_ERROR(int_in(b.max_symbols, 1, hard.max_symbols, "max_symbols"));
  SINYAL_RETURN_IF_ERROR(int_in(b.max_horizon, 1, hard.max_horizon, "max_horizon"));
  SINYAL_RETURN_IF_ERROR(int_in(b.min_members, 1, hard.max_members, "min_members"));
  SINYAL_RETURN_IF_ERROR(int_in(b.max_members, b.min_members, hard.max_members, "max_members"));
  SINYAL_RETURN_IF_ERROR(int_in(b.max_trees, 1, hard.max_trees, "max_trees"));
  SINYAL_RETURN_IF_ERROR(int_in(b.max_depth, 1, hard.max_depth, "max_depth"));
  SINYAL_RETURN_IF_ERROR(int_in(b.max_leaves, 2, hard.max_leaves, "max_leaves"));
  SINYAL_RETURN_IF_ERROR(num_in(b.min_eta, hard.min_eta, hard.max_eta, "min_eta"));
  SINYAL_RETURN_IF_ERROR(num_in(b.max_eta, b.min_eta, hard.max_eta, "max_eta"));
  SINYAL_RETURN_IF_ERROR(num_in(b.min_sample, hard.min_sample, 1.0, "min_sample"));
  SINYAL_RETURN_IF_ERROR(
      num_in(b.max_min_child_weight, 0, hard.max_min_child_weight, "max_min_child_weight"));
  SINYAL_RETURN_IF_ERROR(num_in(b.max_lambda, 0, hard.max_lambda, "max_lambda"));
  SINYAL_RETURN_IF_ERROR(num_in(b.max_dead_band, 0, hard.max_dead_band, "max_dead_band"));
  if (b.allowed_timeframes.empty()) {
    return Status::InvalidArgument("training.timeframes must list at least one timeframe",
                                   "training.timeframes");
  }
  std::set<std::string> seen;
  for (const auto& tf : b.allowed_timeframes) {
    auto parsed = market::ParseTimeframe(tf);
    if (!parsed.ok() || market::TimeframeName(*parsed) != tf || !seen.insert(tf).second) {
      return Status::InvalidArgument("training.timeframes: '" + tf +
                                         "' is unknown or listed twice (use M1, M5, "
                                         "M15, M30, H1, H4 or D1)",
                                     "training.timeframes");
    }
  }
  return Status::Ok();
}

namespace {

Result<int64_t> IntField(const nlohmann::json& v, const std::string& field, bool null_is_minus1) {
  if (null_is_minus1 && v.is_null()) return int64_t{-1};
  if (!v.is_number_integer()) {
    return Status::InvalidArgument(field + " must be an integer", field);
  }
  return v.get<int64_t>();
}

Result<std::vector<std::string>> StringArray(const nlohmann::json& v, const std::string& field);

// Applies the fields of `j` (any of TrainingJson's) to `b`. Unknown fields and wrong types are
// InvalidArgument naming "training.<field>"; ranges are checked by ValidateTraining.
Status ApplyTraining(const nlohmann::json& j, models::PlanBounds* b) {
  if (!j.is_object()) return Status::InvalidArgument("training must be a JSON object", "training");
  for (const auto& [key, v] : j.items()) {
    const std::string field = "training." + key.substr(0, 40);
    auto as_int = [&](int* out) -> Status {
      if (!v.is_number_integer() || v.get<int64_t>() < INT32_MIN || v.get<int64_t>() > INT32_MAX) {
        return Status::InvalidArgument(field + " must be an integer", field);
      }
      *out = static_cast<int>(v.get<int64_t>());
      return Status::Ok();
    };
    auto as_num = [&](double* out) -> Status {
      if (!v.is_number()) return Status::InvalidArgument(field + " must be a number", field);
      *out = v.get<double>();
      return Status::Ok();
    };
    bool known = false;
    for (const auto& [name, member] : kTrainingInts) {
      if (key == name) {
        SINYAL_RETURN_IF_ERROR(as_int(&(b->*member)));
        known = true;
      }
    }
    for (const auto& [name, member] : kTrainingNums) {
      if (key == name) {
        SINYAL_RETURN_IF_ERROR(as_num(&(b->*member)));
        known = true;
      }
    }
    if (key == "timeframes") {
      SINYAL_ASSIGN_OR_RETURN(b->allowed_timeframes, StringArray(v, field));
      known = true;
    }
    if (!known)
      return Status::InvalidArgument("unknown training field '" + key.substr(0, 40) + "'", field);
  }
  return Status::Ok();
}

Result<std::vector<std::string>> StringArray(const nlohmann::json& v, const std::string& field) {
  if (!v.is_array()) return Status::InvalidArgument(field + " must be an array of strings", field);
  std::vector<std::string> out;
  for (const auto& e : v) {
    if (!e.is_string()) {
      return Status::InvalidArgument(field + " must be an array of strings", field);
    }
    out.push_back(e.get<std::string>());
  }
  return out;
}

// Applies operator `changes` to `plan`. Unknown fields and wrong types are InvalidArgument.
Status ApplyChanges(const nlohmann::json& changes, Plan* plan) {
  if (!changes.is_object()) return Status::InvalidArgument("changes must be a JSON object", "body");
  if (changes.empty()) return Status::InvalidArgument("no field to change", "body");
  // New bands without a new flat price: the flat (entry) price follows the first band. A new
  // flat price without bands makes the overage flat (the bands are dropped).
  if (changes.contains("overage_bands") && !changes.contains("overage_price_idr")) {
    SINYAL_ASSIGN_OR_RETURN(auto bands, OverageBandsFromJson(changes["overage_bands"]));
    if (!bands.empty()) plan->overage_price_idr = bands.front().price_idr;
  }
  if (changes.contains("overage_price_idr") && !changes.contains("overage_bands")) {
    plan->overage_bands.clear();
  }
  for (const auto& [key, v] : changes.items()) {
    if (key == "display_name") {
      if (!v.is_string()) return Status::InvalidArgument("display_name must be a string", key);
      plan->display_name = v.get<std::string>();
    } else if (key == "price_idr") {
      SINYAL_ASSIGN_OR_RETURN(plan->price_idr, IntField(v, key, false));
    } else if (key == "monthly_quota") {
      SINYAL_ASSIGN_OR_RETURN(plan->monthly_quota, IntField(v, key, true));
    } else if (key == "overage_allowed") {
      if (!v.is_boolean()) return Status::InvalidArgument("overage_allowed must be a boolean", key);
      plan->overage_allowed = v.get<bool>();
    } else if (key == "overage_price_idr") {
      SINYAL_ASSIGN_OR_RETURN(plan->overage_price_idr, IntField(v, key, false));
    } else if (key == "yearly_price_idr") {
      SINYAL_ASSIGN_OR_RETURN(plan->yearly_price_idr, IntField(v, key, false));
    } else if (key == "overage_bands") {
      SINYAL_ASSIGN_OR_RETURN(plan->overage_bands, OverageBandsFromJson(v));
    } else if (key == "rate_per_second") {
      if (!v.is_number()) return Status::InvalidArgument("rate_per_second must be a number", key);
      plan->rate_per_second = v.get<double>();
    } else if (key == "burst") {
      SINYAL_ASSIGN_OR_RETURN(plan->burst, IntField(v, key, false));
    } else if (key == "data_delay_seconds") {
      SINYAL_ASSIGN_OR_RETURN(plan->data_delay_seconds, IntField(v, key, false));
    } else if (key == "timeframes") {
      SINYAL_ASSIGN_OR_RETURN(plan->timeframes, StringArray(v, key));
    } else if (key == "features") {
      SINYAL_ASSIGN_OR_RETURN(auto list, StringArray(v, key));
      plan->features = std::set<std::string>(list.begin(), list.end());
    } else if (key == "training") {
      SINYAL_RETURN_IF_ERROR(ApplyTraining(v, &plan->training));
    } else if (key == "name" || key == "unlimited") {
      return Status::InvalidArgument(key + " can't be changed", key);
    } else {
      return Status::InvalidArgument("unknown plan field '" + key + "'", key);
    }
  }
  return plan->Validate();
}

std::string JoinJson(const std::vector<std::string>& v) { return nlohmann::json(v).dump(); }

}  // namespace

Result<Plan> NewPlanFromJson(std::string_view name, const nlohmann::json& fields) {
  Plan p;
  p.name = std::string(name);
  p.display_name = p.name;
  p.monthly_quota = -1;  // unlimited unless given
  if (fields.is_object() && fields.empty()) {
    SINYAL_RETURN_IF_ERROR(p.Validate());
    return p;
  }
  SINYAL_RETURN_IF_ERROR(ApplyChanges(fields, &p));
  return p;
}

namespace {

Result<std::vector<std::string>> ParseJsonList(const std::string& text, const std::string& what) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return Status::DataLoss("plans." + what + " is not a JSON array");
  std::vector<std::string> out;
  for (const auto& e : j) {
    if (!e.is_string()) return Status::DataLoss("plans." + what + " holds a non-string");
    out.push_back(e.get<std::string>());
  }
  return out;
}

constexpr const char* kPlanColumns =
    "name, display_name, price_idr, monthly_quota, overage_allowed, overage_price_idr, "
    "rate_per_second, burst, data_delay_seconds, timeframes, features, training, yearly_price_idr, "
    "overage_bands";

struct PlanRow {
  std::string name, display_name, timeframes, features, training, bands;
  long long price = 0, quota = 0, overage_price = 0, burst = 0, delay = 0, yearly = 0;
  int overage_allowed = 0;
  double rate = 0;
};

Result<Plan> FromRow(const PlanRow& r) {
  Plan p;
  p.name = r.name;
  p.display_name = r.display_name;
  p.price_idr = r.price;
  p.monthly_quota = r.quota;
  p.overage_allowed = r.overage_allowed != 0;
  p.overage_price_idr = r.overage_price;
  p.rate_per_second = r.rate;
  p.burst = r.burst;
  p.data_delay_seconds = r.delay;
  SINYAL_ASSIGN_OR_RETURN(p.timeframes, ParseJsonList(r.timeframes, "timeframes"));
  SINYAL_ASSIGN_OR_RETURN(auto f, ParseJsonList(r.features, "features"));
  p.features = std::set<std::string>(f.begin(), f.end());
  // Stored JSON of TrainingJson; fields absent keep the platform limits (PlanBounds' defaults).
  auto training = nlohmann::json::parse(r.training, nullptr, /*allow_exceptions=*/false);
  if (training.is_discarded() || !ApplyTraining(training, &p.training).ok()) {
    return Status::DataLoss("plans.training of plan '" + r.name + "' is not valid training JSON");
  }
  p.yearly_price_idr = r.yearly;
  auto bands = OverageBandsFromJson(nlohmann::json::parse(r.bands, nullptr, false));
  if (!bands.ok()) return Status::DataLoss("plans.overage_bands: " + bands.error().message());
  p.overage_bands = std::move(bands).value();
  return p;
}

// Reads plans (all, or the one named `only`: the table is small, so it is filtered here);
// PostgreSQL locks the rows read when `for_update`.
Result<std::vector<Plan>> ReadPlans(soci::session& sql, const std::string& only, bool for_update,
                                    bool pg) {
  PlanRow r;
  const std::string q = std::string("SELECT ") + kPlanColumns + " FROM plans ORDER BY name" +
                        ((for_update && pg) ? " FOR UPDATE" : "");
  soci::statement st =
      (sql.prepare << q, soci::into(r.name), soci::into(r.display_name), soci::into(r.price),
       soci::into(r.quota), soci::into(r.overage_allowed), soci::into(r.overage_price),
       soci::into(r.rate), soci::into(r.burst), soci::into(r.delay), soci::into(r.timeframes),
       soci::into(r.features), soci::into(r.training), soci::into(r.yearly), soci::into(r.bands));
  st.execute();
  std::vector<Plan> out;
  while (st.fetch()) {
    if (!only.empty() && r.name != only) continue;
    SINYAL_ASSIGN_OR_RETURN(auto p, FromRow(r));
    out.push_back(std::move(p));
  }
  return out;
}

void SortPlans(std::vector<Plan>& plans) {
  std::sort(plans.begin(), plans.end(), [](const Plan& a, const Plan& b) {
    return a.price_idr != b.price_idr ? a.price_idr < b.price_idr : a.name < b.name;
  });
}

}  // namespace

struct PlanStore::Snapshot {
  std::vector<std::shared_ptr<const Plan>> ordered;  // cheapest first
};

PlanStore::PlanStore(store::Database& db, Clock& clock, PlanStoreOptions options)
    : db_(db), clock_(clock), options_(options) {}
PlanStore::~PlanStore() = default;

Result<std::shared_ptr<const PlanStore::Snapshot>> PlanStore::Load() {
  const UnixNanos now = clock_.Now();
  std::shared_ptr<const Snapshot> stale;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (snapshot_ != nullptr &&
        (now - loaded_at_ < std::chrono::nanoseconds(options_.cache_ttl).count() || reloading_)) {
      return snapshot_;  // fresh, or another thread is re-reading it
    }
    stale = snapshot_;
    if (stale != nullptr) reloading_ = true;
  }
  std::vector<Plan> plans;
  const bool pg = db_.dialect() == store::Dialect::kPostgres;
  Status st = db_.WithReadTx([&](soci::session& sql) -> Status {
    SINYAL_ASSIGN_OR_RETURN(plans, ReadPlans(sql, "", false, pg));
    return Status::Ok();
  });
  if (!st.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    reloading_ = false;
    if (stale != nullptr && snapshot_ == stale) return stale;  // keep serving the last read
    return st;
  }
  SortPlans(plans);
  auto snap = std::make_shared<Snapshot>();
  for (auto& p : plans) snap->ordered.push_back(std::make_shared<const Plan>(std::move(p)));
  std::lock_guard<std::mutex> lock(mu_);
  reloading_ = false;
  snapshot_ = snap;
  loaded_at_ = now;
  return std::shared_ptr<const Snapshot>(snap);
}

void PlanStore::Invalidate() {
  std::lock_guard<std::mutex> lock(mu_);
  snapshot_.reset();
  reloading_ = false;
}

Result<std::vector<Plan>> PlanStore::List() {
  SINYAL_ASSIGN_OR_RETURN(auto snap, Load());
  std::vector<Plan> out;
  for (const auto& p : snap->ordered) out.push_back(*p);
  return out;
}

Result<std::shared_ptr<const Plan>> PlanStore::GetShared(std::string_view name) {
  SINYAL_ASSIGN_OR_RETURN(auto snap, Load());
  for (const auto& p : snap->ordered) {
    if (p->name == name) return p;
  }
  return Status::NotFound("no plan named '" + std::string(name) + "'", "plan");
}

Result<Plan> PlanStore::Get(std::string_view name) {
  SINYAL_ASSIGN_OR_RETURN(auto p, GetShared(name));
  return *p;
}

Result<std::string> PlanStore::CheapestWith(std::string_view feature) {
  SINYAL_ASSIGN_OR_RETURN(auto snap, Load());
  for (const auto& p : snap->ordered) {
    if (p->Has(feature)) return p->name;
  }
  return Status::NotFound("no plan has feature '" + std::string(feature) + "'", "feature");
}

Result<Plan> PlanStore::Update(std::string_view name, const nlohmann::json& changes,
                               std::string actor) {
  if (actor.empty()) return Status::InvalidArgument("actor is required", "actor");
  const bool pg = db_.dialect() == store::Dialect::kPostgres;
  const std::string plan_name(name);
  const UnixNanos now = clock_.Now();
  Plan after;
  Status st = db_.WithTx([&](soci::session& sql) -> Status {
    SINYAL_ASSIGN_OR_RETURN(auto rows, ReadPlans(sql, plan_name, /*for_update=*/true, pg));
    if (rows.empty()) return Status::NotFound("no plan named '" + plan_name + "'", "plan");
    const Plan before = rows.front();
    after = before;
    SINYAL_RETURN_IF_ERROR(ApplyChanges(changes, &after));
    long long price = after.price_idr, quota = after.monthly_quota,
              overage_price = after.overage_price_idr, burst = after.burst,
              delay = after.data_delay_seconds, at = now, yearly = after.yearly_price_idr;
    int overage = after.overage_allowed ? 1 : 0;
    double rate = after.rate_per_second;
    std::string tfs = JoinJson(after.timeframes);
    std::string feats = after.ToJson()["features"].dump();
    std::string training = TrainingJson(after.training).dump();
    std::string bands = OverageBandsToJson(after.overage_bands).dump();
    sql << "UPDATE plans SET display_name = :dn, price_idr = :p, monthly_quota = :q, "
           "overage_allowed = :oa, overage_price_idr = :op, rate_per_second = :r, burst = :b, "
           "data_delay_seconds = :d, timeframes = :tf, features = :f, training = :tr, updated_at = "
           ":at, "
           "updated_by = :by, yearly_price_idr = :y, overage_bands = :ob WHERE name = :n",
        soci::use(after.display_name, "dn"), soci::use(price, "p"), soci::use(quota, "q"),
        soci::use(overage, "oa"), soci::use(overage_price, "op"), soci::use(rate, "r"),
        soci::use(burst, "b"), soci::use(delay, "d"), soci::use(tfs, "tf"), soci::use(feats, "f"),
        soci::use(training, "tr"), soci::use(at, "at"), soci::use(actor, "by"),
        soci::use(yearly, "y"), soci::use(bands, "ob"), soci::use(plan_name, "n");
    std::string before_json = before.ToJson().dump(), after_json = after.ToJson().dump();
    sql << "INSERT INTO plan_audit (plan, action, actor, before_json, after_json, at) "
           "VALUES (:n, 'update', :by, :b, :a, :at)",
        soci::use(plan_name, "n"), soci::use(actor, "by"), soci::use(before_json, "b"),
        soci::use(after_json, "a"), soci::use(at, "at");
    return Status::Ok();
  });
  Invalidate();
  if (!st.ok()) return st;
  return after;
}

Result<Plan> PlanStore::Create(const Plan& plan, std::string actor) {
  if (actor.empty()) return Status::InvalidArgument("actor is required", "actor");
  SINYAL_RETURN_IF_ERROR(plan.Validate());
  const UnixNanos now = clock_.Now();
  Status st = db_.WithTx([&](soci::session& sql) -> Status {
    long long price = plan.price_idr, quota = plan.monthly_quota,
              overage_price = plan.overage_price_idr, burst = plan.burst,
              delay = plan.data_delay_seconds, at = now, yearly = plan.yearly_price_idr;
    int overage = plan.overage_allowed ? 1 : 0;
    int exists = 0;
    std::string bands = OverageBandsToJson(plan.overage_bands).dump();
    std::string name = plan.name, display = plan.display_name;
    sql << "SELECT COUNT(*) FROM plans WHERE name = :n", soci::use(name, "n"), soci::into(exists);
    if (exists > 0) return Status::AlreadyExists("plan '" + name + "' exists", "plan");
    double rate = plan.rate_per_second;
    std::string tfs = JoinJson(plan.timeframes);
    std::string feats = plan.ToJson()["features"].dump();
    std::string training = TrainingJson(plan.training).dump();
    sql << "INSERT INTO plans (name, display_name, price_idr, monthly_quota, overage_allowed, "
           "overage_price_idr, rate_per_second, burst, data_delay_seconds, timeframes, features, "
           "training, updated_at, updated_by, yearly_price_idr, overage_bands) VALUES (:n, :dn, "
           ":p, :q, "
           ":oa, :op, :r, :b, :d, :tf, :f, :tr, :at, :by, :y, :ob)",
        soci::use(name, "n"), soci::use(display, "dn"), soci::use(price, "p"),
        soci::use(quota, "q"), soci::use(overage, "oa"), soci::use(overage_price, "op"),
        soci::use(rate, "r"), soci::use(burst, "b"), soci::use(delay, "d"), soci::use(tfs, "tf"),
        soci::use(feats, "f"), soci::use(training, "tr"), soci::use(at, "at"),
        soci::use(actor, "by"), soci::use(yearly, "y"), soci::use(bands, "ob");
    std::string after_json = plan.ToJson().dump(), empty = "{}";
    sql << "INSERT INTO plan_audit (plan, action, actor, before_json, after_json, at) "
           "VALUES (:n, 'create', :by, :b, :a, :at)",
        soci::use(name, "n"), soci::use(actor, "by"), soci::use(empty, "b"),
        soci::use(after_json, "a"), soci::use(at, "at");
    return Status::Ok();
  });
  Invalidate();
  if (!st.ok()) {
    if (st.code() == StatusCode::kAlreadyExists) {
      return Status::AlreadyExists("plan '" + plan.name + "' exists", "plan");
    }
    return st;
  }
  return plan;
}

}  // namespace sinyal::billing
