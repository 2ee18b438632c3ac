// Placeholder: implementation in progress (issue 6, H3). Shapes in plans.h are final.
#include "billing/plans.h"

namespace sinyal::billing {

struct PlanStore::Snapshot {};

PlanStore::PlanStore(store::Database& db, Clock& clock, PlanStoreOptions options)
    : db_(db), clock_(clock), options_(options) {}
PlanStore::~PlanStore() = default;
Result<std::vector<Plan>> PlanStore::List() { return Status::Unavailable("not implemented"); }
Result<Plan> PlanStore::Get(std::string_view) { return Status::Unavailable("not implemented"); }
Result<std::shared_ptr<const Plan>> PlanStore::GetShared(std::string_view) {
  return Status::Unavailable("not implemented");
}
Result<Plan> PlanStore::Update(std::string_view, const nlohmann::json&, std::string) {
  return Status::Unavailable("not implemented");
}
Result<Plan> PlanStore::Create(const Plan&, std::string) {
  return Status::Unavailable("not implemented");
}
Result<std::string> PlanStore::CheapestWith(std::string_view) {
  return Status::Unavailable("not implemented");
}
void PlanStore::Invalidate() {}
bool Plan::Has(std::string_view f) const { return features.count(std::string(f)) > 0; }
nlohmann::json Plan::ToJson() const { return nlohmann::json::object(); }
Status Plan::Validate() const { return Status::Ok(); }

Subscriptions::Subscriptions(store::Database& db, PlanStore& plans, Clock& clock,
                             SubscriptionsOptions options)
    : db_(db), plans_(plans), clock_(clock), options_(options) {}
Subscriptions::~Subscriptions() = default;
Result<Subscription> Subscriptions::Current(TenantId, UnixNanos) {
  return Status::Unavailable("not implemented");
}
Status Subscriptions::ChangePlan(TenantId, std::string, UnixNanos, std::string) {
  return Status::Unavailable("not implemented");
}
Result<std::vector<std::string>> Subscriptions::PlansDuring(TenantId, UnixNanos, UnixNanos) {
  return Status::Unavailable("not implemented");
}
void Subscriptions::Invalidate(TenantId) {}

}  // namespace sinyal::billing
