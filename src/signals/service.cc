// SignalService: stub for the first commit (contract only); the implementation follows.
#include "signals/service.h"

namespace sinyal::signals {

struct SignalService::Impl {};

SignalService::Subscription::Subscription(Subscription&& o) noexcept
    : service_(o.service_), id_(o.id_) {
  o.service_ = nullptr;
}
SignalService::Subscription& SignalService::Subscription::operator=(Subscription&& o) noexcept {
  if (this != &o) {
    Reset();
    service_ = o.service_;
    id_ = o.id_;
    o.service_ = nullptr;
  }
  return *this;
}
SignalService::Subscription::~Subscription() { Reset(); }
void SignalService::Subscription::Reset() {
  if (service_ != nullptr) service_->Unsubscribe(id_);
  service_ = nullptr;
}

SignalService::SignalService(store::Database&, store::BarStore&, models::DbModelRegistry&,
                             store::FeatureSetStore*, SignalLog&, const Clock&,
                             SignalServiceOptions)
    : impl_(std::make_unique<Impl>()) {}
SignalService::~SignalService() = default;

Result<std::shared_ptr<const Signal>> SignalService::Latest(TenantId, const std::string&,
                                                            const std::string&, UnixNanos) {
  return Status::Internal("SignalService::Latest: not implemented yet");
}
Signal SignalService::WithThreshold(const Signal& s, double, double) { return s; }
Result<TenantId> SignalService::ModelOwner(TenantId, const std::string&, const std::string&) {
  return Status::Internal("not implemented yet");
}
SignalService::Subscription SignalService::Subscribe(Listener) { return {}; }
Status SignalService::Track(TenantId, const std::string&, const std::string&) {
  return Status::Internal("not implemented yet");
}
void SignalService::OnBarClosed(const market::SeriesKey&, const market::Bar&) {}
void SignalService::Drain() {}
Result<size_t> SignalService::ResolveSeries(TenantId, const std::string&, const std::string&) {
  return Status::Internal("not implemented yet");
}
Result<SignalPerformance> SignalService::Performance(TenantId, const std::string&,
                                                     const std::string&, size_t) {
  return Status::Internal("not implemented yet");
}
Result<SignalCalibration> SignalService::Calibration(TenantId, const std::string&,
                                                     const std::string&, int64_t) {
  return Status::Internal("not implemented yet");
}
std::string SignalService::ReferenceName(const std::string&) { return ""; }
SignalService::Stats SignalService::stats() const { return {}; }
void SignalService::Unsubscribe(uint64_t) {}
nlohmann::json SignalCalibration::ToJson() const { return nlohmann::json::object(); }
nlohmann::json SignalPerformance::ToJson() const { return nlohmann::json::object(); }

}  // namespace sinyal::signals
