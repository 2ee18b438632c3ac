// Prometheus text-format metrics for the HTTP server (no prometheus-cpp in Debian 12, so this is
// a small fixed-shape registry). Routes are registered once at start; Observe() is lock-free.
//
// Exposed series:
//   sinyal_http_requests_total{method,route,status}            counter
//   sinyal_http_request_duration_seconds{method,route}         histogram
//   sinyal_stage_duration_seconds{stage}                       histogram (per pipeline stage)
//   sinyal_stage_seconds{method,route,stage}                   histogram (per route, per request stage:
//                                                              auth, ratelimit, handler stages; Context::Time)
//   sinyal_ratelimit_decisions_total{result}                   counter (allowed, refused, error = failed open)
//   sinyal_http_in_flight                                      gauge
//   sinyal_stream_undelivered_total                            counter (stream pushes charged whose
//                                                              connection had closed: never sent)
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace sinyal::http {

class Histogram {
 public:
  // From 10 us: request stages (a rate-limit check, a cached signal) take microseconds.
  static constexpr std::array<double, 19> kBucketsSeconds = {
      0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
      0.025,   0.05,     0.1,     0.25,   0.5,     1.0,    2.5,   5.0,    10.0};
  void Observe(int64_t nanos);
  // Appends "<name>_bucket{<labels>,le=..} n" lines etc.
  void Render(std::string& out, std::string_view name, std::string_view labels) const;
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  std::array<std::atomic<uint64_t>, kBucketsSeconds.size()> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_nanos_{0};
};

// Thread-safe. RegisterRoute/RegisterStage must happen before concurrent Observe calls on them.
class Metrics {
 public:
  size_t RegisterRoute(std::string method, std::string route);
  void ObserveRequest(size_t route, int status, int64_t nanos);
  size_t RegisterStage(std::string stage);
  void ObserveStage(size_t stage, int64_t nanos);
  // One request stage of a registered route (Context::stages). A route keeps up to
  // kMaxStagesPerRoute distinct stage names; later new names are counted as "other".
  // Lock-free once a name has been seen on the route.
  static constexpr size_t kMaxStagesPerRoute = 16;
  void ObserveRouteStage(size_t route, std::string_view stage, int64_t nanos);
  enum class RateLimitResult { kAllowed = 0, kRefused = 1, kError = 2 };
  void CountRateLimit(RateLimitResult r) {
    rate_limit_[static_cast<size_t>(r)].fetch_add(1, std::memory_order_relaxed);
  }
  void InFlight(int delta) { in_flight_.fetch_add(delta, std::memory_order_relaxed); }
  // A stream push whose ledger row is durable but whose connection closed before it was sent.
  void CountStreamUndelivered() { stream_undelivered_.fetch_add(1, std::memory_order_relaxed); }
  std::string RenderPrometheus() const;

 private:
  struct StageMetrics {
    std::string name;
    Histogram latency;
  };
  struct RouteMetrics {
    std::string method, route;
    std::array<std::atomic<uint64_t>, 500> by_status{};  // index = status - 100
    Histogram latency;
    // stages[0, n_stages) are published (name written before the release store of n_stages).
    std::array<StageMetrics, kMaxStagesPerRoute> stages;
    std::atomic<size_t> n_stages{0};
    std::mutex stage_mu;  // serializes adding a stage name
  };
  mutable std::mutex mu_;  // guards growth of the deques (elements are stable)
  std::deque<RouteMetrics> routes_;
  std::deque<StageMetrics> stages_;
  std::atomic<int64_t> in_flight_{0};
  std::array<std::atomic<uint64_t>, 3> rate_limit_{};
  std::atomic<uint64_t> stream_undelivered_{0};
};

}  // namespace sinyal::http
