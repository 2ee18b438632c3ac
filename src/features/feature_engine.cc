#include "features/feature_engine.h"

#include <algorithm>
#include <cmath>

#include "core/time.h"

namespace sinyal::features {

struct FeatureEngine::Entry {
  explicit Entry(FeatureComputer c) : computer(std::move(c)) {}
  std::mutex mu;
  FeatureComputer computer;          // GUARDED_BY(mu)
  std::deque<FeatureVector> history;  // GUARDED_BY(mu)
  UnixNanos last_time = INT64_MIN;    // GUARDED_BY(mu)
  std::vector<double> scratch;        // GUARDED_BY(mu)
};

FeatureEngine::FeatureEngine(FeatureEngineOptions options) : options_(options) {
  if (options_.history == 0) options_.history = 1;
}
FeatureEngine::~FeatureEngine() = default;

Result<std::string> FeatureEngine::Register(const market::SeriesKey& series,
                                            const FeatureSetConfig& config) {
  SINYAL_RETURN_IF_ERROR(market::ValidateSymbol(series.symbol));
  SINYAL_ASSIGN_OR_RETURN(FeatureComputer computer, FeatureComputer::Create(config));
  std::string hash = ConfigHash(config);
  std::unique_lock lock(mu_);
  auto& per_series = entries_[series];
  if (per_series.find(hash) == per_series.end()) {
    per_series.emplace(hash, std::make_shared<Entry>(std::move(computer)));
    names_.emplace(hash, FeatureNames(config));
  }
  return hash;
}

std::shared_ptr<FeatureEngine::Entry> FeatureEngine::Find(const market::SeriesKey& series,
                                                          const std::string& hash) const {
  std::shared_lock lock(mu_);
  auto it = entries_.find(series);
  if (it == entries_.end()) return nullptr;
  auto jt = it->second.find(hash);
  return jt == it->second.end() ? nullptr : jt->second;
}

Status FeatureEngine::FeedLocked(Entry& e, const market::Bar& bar) {
  if (bar.time() <= e.last_time) {
    return Status::InvalidArgument("bar at " + FormatIso8601(bar.time()) +
                                       " is not after the last bar at " + FormatIso8601(e.last_time),
                                   "time");
  }
  e.last_time = bar.time();
  e.computer.Update(bar, &e.scratch);
  FeatureVector v;
  v.time = bar.time();
  v.values = e.scratch;
  v.complete = std::none_of(v.values.begin(), v.values.end(), [](double x) { return std::isnan(x); });
  e.history.push_back(std::move(v));
  while (e.history.size() > options_.history) e.history.pop_front();
  return Status::Ok();
}

Status FeatureEngine::Warm(const market::SeriesKey& series, const std::string& hash,
                           std::span<const market::Bar> bars) {
  auto e = Find(series, hash);
  if (!e) return Status::NotFound("feature set " + hash + " is not registered for " + series.ToString(), "set");
  std::lock_guard lock(e->mu);
  for (const market::Bar& b : bars) SINYAL_RETURN_IF_ERROR(FeedLocked(*e, b));
  return Status::Ok();
}

Status FeatureEngine::OnBar(const market::SeriesKey& series, const market::Bar& bar) {
  std::vector<std::shared_ptr<Entry>> targets;
  {
    std::shared_lock lock(mu_);
    auto it = entries_.find(series);
    if (it == entries_.end()) return Status::Ok();
    for (auto& [hash, e] : it->second) targets.push_back(e);
  }
  Status first_error;
  for (auto& e : targets) {
    std::lock_guard lock(e->mu);
    Status s = FeedLocked(*e, bar);
    if (!s.ok() && first_error.ok()) first_error = s;
  }
  return first_error;
}

Result<FeatureVector> FeatureEngine::Latest(const market::SeriesKey& series,
                                            const std::string& hash) const {
  auto e = Find(series, hash);
  if (!e) return Status::NotFound("feature set " + hash + " is not registered for " + series.ToString(), "set");
  std::lock_guard lock(e->mu);
  if (e->history.empty()) return Status::NotFound("no bars yet for " + series.ToString(), "set");
  return e->history.back();
}

Result<std::vector<FeatureVector>> FeatureEngine::Range(const market::SeriesKey& series,
                                                        const std::string& hash, UnixNanos from,
                                                        UnixNanos to, size_t limit) const {
  auto e = Find(series, hash);
  if (!e) return Status::NotFound("feature set " + hash + " is not registered for " + series.ToString(), "set");
  std::lock_guard lock(e->mu);
  auto it = std::lower_bound(e->history.begin(), e->history.end(), from,
                             [](const FeatureVector& v, UnixNanos t) { return v.time < t; });
  std::vector<FeatureVector> out;
  for (; it != e->history.end() && it->time < to; ++it) {
    if (limit != 0 && out.size() >= limit) break;
    out.push_back(*it);
  }
  return out;
}

Result<std::vector<std::string>> FeatureEngine::Names(const std::string& hash) const {
  std::shared_lock lock(mu_);
  auto it = names_.find(hash);
  if (it == names_.end()) return Status::NotFound("unknown feature set hash " + hash, "set");
  return it->second;
}

size_t FeatureEngine::EntryCount() const {
  std::shared_lock lock(mu_);
  size_t n = 0;
  for (const auto& [s, m] : entries_) n += m.size();
  return n;
}

}  // namespace sinyal::features
