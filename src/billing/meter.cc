// Placeholder: implementation in progress (issue 6, H3). Shapes in meter.h are final.
#include "billing/meter.h"

namespace sinyal::billing {

struct Reservation::State {};
struct Meter::Impl {};
Reservation::Reservation(std::unique_ptr<State> state) : state_(std::move(state)) {}
Reservation::~Reservation() = default;

Meter::Meter(store::Database&, Subscriptions&, MeterOptions) {}
Meter::~Meter() = default;
Result<ReserveOutcome> Meter::Reserve(const MeterCall&, UnixNanos) {
  return Status::Unavailable("not implemented");
}
Result<std::string> Meter::Commit(std::unique_ptr<Reservation>, nlohmann::json) {
  return Status::Unavailable("not implemented");
}
Result<nlohmann::json> Meter::Usage(TenantId, UnixNanos, int) {
  return Status::Unavailable("not implemented");
}
void Meter::Flush() {}
Meter::Stats Meter::stats() const { return {}; }

}  // namespace sinyal::billing
