#include "http/metrics.h"

#include <cstdio>

namespace sinyal::http {
namespace {

std::string Escape(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

void Histogram::Observe(int64_t nanos) {
  if (nanos < 0) nanos = 0;
  double seconds = static_cast<double>(nanos) * 1e-9;
  for (size_t i = 0; i < kBucketsSeconds.size(); ++i) {
    if (seconds <= kBucketsSeconds[i]) {
      buckets_[i].fetch_add(1, std::memory_order_relaxed);
      break;
    }
  }
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_nanos_.fetch_add(static_cast<uint64_t>(nanos), std::memory_order_relaxed);
}

void Histogram::Render(std::string& out, std::string_view name, std::string_view labels) const {
  uint64_t cumulative = 0;
  char buf[64];
  std::string sep = labels.empty() ? "" : ",";
  for (size_t i = 0; i < kBucketsSeconds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    std::snprintf(buf, sizeof buf, "%g", kBucketsSeconds[i]);
    out += std::string(name) + "_bucket{" + std::string(labels) + sep + "le=\"" + buf + "\"} " +
           std::to_string(cumulative) + "\n";
  }
  uint64_t count = count_.load(std::memory_order_relaxed);
  out += std::string(name) + "_bucket{" + std::string(labels) + sep + "le=\"+Inf\"} " +
         std::to_string(count) + "\n";
  std::snprintf(buf, sizeof buf, "%.9f", static_cast<double>(sum_nanos_.load()) * 1e-9);
  out += std::string(name) + "_sum{" + std::string(labels) + "} " + buf + "\n";
  out += std::string(name) + "_count{" + std::string(labels) + "} " + std::to_string(count) + "\n";
}

size_t Metrics::RegisterRoute(std::string method, std::string route) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& r = routes_.emplace_back();
  r.method = std::move(method);
  r.route = std::move(route);
  return routes_.size() - 1;
}

void Metrics::ObserveRequest(size_t route, int status, int64_t nanos) {
  RouteMetrics& r = routes_[route];
  if (status >= 100 && status < 600)
    r.by_status[status - 100].fetch_add(1, std::memory_order_relaxed);
  r.latency.Observe(nanos);
}

size_t Metrics::RegisterStage(std::string stage) {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < stages_.size(); ++i) {
    if (stages_[i].name == stage) return i;
  }
  auto& s = stages_.emplace_back();
  s.name = std::move(stage);
  return stages_.size() - 1;
}

void Metrics::ObserveStage(size_t stage, int64_t nanos) { stages_[stage].latency.Observe(nanos); }

void Metrics::ObserveRouteStage(size_t route, std::string_view stage, int64_t nanos) {
  RouteMetrics& r = routes_[route];
  size_t n = r.n_stages.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) {
    if (r.stages[i].name == stage) {
      r.stages[i].latency.Observe(nanos);
      return;
    }
  }
  std::lock_guard<std::mutex> lock(r.stage_mu);
  n = r.n_stages.load(std::memory_order_relaxed);
  for (size_t i = 0; i < n; ++i) {
    if (r.stages[i].name == stage) {
      r.stages[i].latency.Observe(nanos);
      return;
    }
  }
  if (n >= kMaxStagesPerRoute - 1) {  // the last slot collects every further name
    if (n == kMaxStagesPerRoute) {
      r.stages[n - 1].latency.Observe(nanos);
      return;
    }
    stage = "other";
  }
  r.stages[n].name = std::string(stage);
  r.stages[n].latency.Observe(nanos);
  r.n_stages.store(n + 1, std::memory_order_release);
}

std::string Metrics::RenderPrometheus() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  out += "# HELP sinyal_http_requests_total HTTP requests by route and status.\n";
  out += "# TYPE sinyal_http_requests_total counter\n";
  for (const auto& r : routes_) {
    for (size_t i = 0; i < r.by_status.size(); ++i) {
      uint64_t n = r.by_status[i].load(std::memory_order_relaxed);
      if (n == 0) continue;
      out += "sinyal_http_requests_total{method=\"" + Escape(r.method) + "\",route=\"" +
             Escape(r.route) + "\",status=\"" + std::to_string(i + 100) + "\"} " +
             std::to_string(n) + "\n";
    }
  }
  out +=
      "# HELP sinyal_http_request_duration_seconds Time from request parsed to response ready.\n";
  out += "# TYPE sinyal_http_request_duration_seconds histogram\n";
  for (const auto& r : routes_) {
    if (r.latency.count() == 0) continue;
    r.latency.Render(out, "sinyal_http_request_duration_seconds",
                     "method=\"" + Escape(r.method) + "\",route=\"" + Escape(r.route) + "\"");
  }
  out += "# HELP sinyal_stage_duration_seconds Time spent per request pipeline stage.\n";
  out += "# TYPE sinyal_stage_duration_seconds histogram\n";
  for (const auto& s : stages_) {
    if (s.latency.count() == 0) continue;
    s.latency.Render(out, "sinyal_stage_duration_seconds", "stage=\"" + Escape(s.name) + "\"");
  }
  out += "# HELP sinyal_stage_seconds Time spent per request stage, per route.\n";
  out += "# TYPE sinyal_stage_seconds histogram\n";
  for (const auto& r : routes_) {
    size_t n = r.n_stages.load(std::memory_order_acquire);
    for (size_t i = 0; i < n; ++i) {
      r.stages[i].latency.Render(out, "sinyal_stage_seconds",
                                 "method=\"" + Escape(r.method) + "\",route=\"" + Escape(r.route) +
                                     "\",stage=\"" + Escape(r.stages[i].name) + "\"");
    }
  }
  out +=
      "# HELP sinyal_ratelimit_decisions_total Rate-limit checks by result (error = store "
      "unavailable, request let through).\n";
  out += "# TYPE sinyal_ratelimit_decisions_total counter\n";
  static constexpr const char* kResults[] = {"allowed", "refused", "error"};
  for (size_t i = 0; i < rate_limit_.size(); ++i) {
    out += std::string("sinyal_ratelimit_decisions_total{result=\"") + kResults[i] + "\"} " +
           std::to_string(rate_limit_[i].load(std::memory_order_relaxed)) + "\n";
  }
  out += "# HELP sinyal_http_in_flight Requests being handled now.\n";
  out += "# TYPE sinyal_http_in_flight gauge\n";
  out += "sinyal_http_in_flight " + std::to_string(in_flight_.load()) + "\n";
  out +=
      "# HELP sinyal_stream_undelivered_total Stream signals charged (ledger row durable) whose "
      "connection closed before the frame was queued.\n";
  out += "# TYPE sinyal_stream_undelivered_total counter\n";
  out += "sinyal_stream_undelivered_total " +
         std::to_string(stream_undelivered_.load(std::memory_order_relaxed)) + "\n";
  return out;
}

}  // namespace sinyal::http
