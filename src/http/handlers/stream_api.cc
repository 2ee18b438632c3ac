// The WebSocket signal stream (issue 6): GET /api/v1/stream/signals.
//
// Protocol (docs in openapi.json, path /api/v1/stream/signals):
//   1. Upgrade with a user's JWT or an API key with scope "predict". The upgrade request is a
//      billable route (the metered-call flow: the plan resolved once and its rate limit). The
//      tenant's plan must hold the "stream" entitlement and be real-time ("realtime"): otherwise
//      the upgrade is refused with 403 problem+json naming the cheapest plan that has it
//      ("requires plan pro"). There is no delayed stream: plans with delayed data (Free) poll
//      POST /api/v1/business/predict.
//   2. The client sends {"symbols":["EURUSD",...],"timeframes":["H1",...],"horizons":[1,24],
//      "confidence_threshold":0.6} (threshold optional, default 0.5; horizons optional, default
//      [1], each a model line served for the series - otherwise an error naming "horizons[k]" and
//      listing the served ones; at most 20 symbols, 7 timeframes, 5 horizons). Each line
//      (symbol x timeframe x horizon) is validated and tracked (SignalService::Track: its signal
//      is computed as its bars close); a timeframe outside the plan is 403. The answer is
//      {"type":"subscribed","series":[{"symbol","timeframe","horizon","model":"tenant"|"platform"}],...}
//      or {"type":"error","status","detail","field"} (the connection stays open; 10 bad messages
//      in a row close it with 1008). A new subscribe message replaces the set.
//      Resuming: "resume_after":"<signal_id>" (the last signal the client received, on this or any
//      server) replays, before any new push, the signals of the subscribed series issued after
//      that signal's bar and missed meanwhile (a dropped connection, a server restart: they are
//      read from the signal log, which every server shares), oldest first, at most 200 (the
//      answer says "resumed":{"after","signals","truncated"}; older ones: GET /api/v1/signals).
//      Each replayed signal is a push like any other: metered, one unit. A connection never
//      receives the same series' bar twice, and never an older bar after a newer one.
//   3. Each new signal of a subscribed series (the model serving this tenant for it: its own, else
//      the platform default) is metered through the metered-call flow - the plan resolved afresh
//      (a plan change applies to the next push), gated again, one unit reserved (endpoint
//      "stream") and committed (durable group commit); no rate limit: pushes are paced by closing
//      bars, not by the client - and pushed as {"type":"signal", <the fields of
//      POST /api/v1/business/predict for the tenant's plan>, "usage_cost","cost_credits",
//      "remaining_quota"}. The frame is queued only after its ledger row is durable. A unit is
//      reserved only for a connection that is open when its push starts, and the reservation is
//      dropped (nothing charged) if it closed by the time the commit is handed to the meter. The
//      remaining window: a connection that closes during the group commit (~1 ms) is charged for
//      that one message without receiving it. That is counted (sinyal_stream_undelivered_total)
//      and logged ("stream_push_undelivered", naming the tenant and the ledger row: tenant_id,
//      endpoint "stream", at). The ledger is append-only with no credit rows, so it is not
//      refunded (docs/api.md, stream). A frame queued on a connection that then fails is not
//      detected either.
//   4. At the quota (plan without overage): {"type":"error","status":402,"detail":...} and a close
//      frame 1008 "quota exceeded". If the plan loses "stream" meanwhile: close 1008 naming it.
//
// Threads: OnText runs on an I/O thread. Signals arrive on SignalService's thread and are queued
// to the hub's own thread, which reserves a unit per connection and hands the commits to the
// meter (Meter::CommitAsync: the pushes of one signal share a group commit); the frame is queued
// by the commit's callback once the ledger row is durable.
#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <tuple>

#include "billing/meter.h"
#include "billing/metered_call.h"
#include "core/log.h"
#include "core/time.h"
#include "http/api.h"
#include "http/handlers/metered.h"
#include "http/handlers/prediction_json.h"
#include "http/json_body.h"
#include "http/problem.h"
#include "market/instrument.h"
#include "market/timeframe.h"
#include "models/config.h"
#include "models/registry.h"
#include "signals/db_signal_log.h"
#include "signals/service.h"

namespace sinyal::http {

using nlohmann::json;

namespace {

constexpr size_t kMaxSymbols = 20;
constexpr size_t kMaxTimeframes = 7;
constexpr int kMaxConsecutiveErrors = 10;
constexpr size_t kMaxQueuedSignals = 10000;
constexpr size_t kMaxReplay = 200;  // signals replayed by one "resume_after" (< kMaxSignalPage)

constexpr size_t kMaxHorizons = 5;

using SignalPtr = std::shared_ptr<const signals::Signal>;
// A subscribed line: (symbol, timeframe name, horizon in bars), as signals name it.
using LineName = std::tuple<std::string, std::string, int>;
struct Line {
  market::SeriesKey key;
  int horizon = models::kDefaultHorizon;
};
using OwnedSignal = std::pair<TenantId, SignalPtr>;  // the model owner that made it, the signal

// The fields of a pushed signal for the call's plan: those of POST /api/v1/business/predict,
// "type":"signal".
json SignalJson(billing::MeteredCall& call, const signals::Signal& stored, double threshold) {
  json j = PredictionJson(call.entitlements(), call.plan(), stored, threshold);
  j["type"] = "signal";
  return j;
}

// 403 unless the plan streams (entitlement "stream", real-time data).
Status CheckStreamPlan(billing::MeteredCall& call) {
  SINYAL_RETURN_IF_ERROR(call.Gate(billing::kFeatStream, "plan", "the signal stream"));
  return call.Gate(billing::kFeatRealtime, "plan", "the real-time signal stream");
}

billing::Caller CallerOf(const accounts::Principal& p) { return {p.tenant, p.user, p.api_key}; }

json ErrorJson(const Status& s, const std::string& request_id) {
  const int status = HttpStatusFor(s.code());
  return {{"type", "error"},
          {"status", status},
          {"detail", status >= 500 ? "internal error; quote the request id" : s.message()},
          {"field", s.field()},
          {"request_id", request_id}};
}

}  // namespace

class StreamSocket;

// Owns the SignalService subscription and the thread that meters and pushes signals.
class StreamHub {
 public:
  explicit StreamHub(StreamDeps deps) : d_(deps) {
    sub_ = d_.signals->Subscribe([this](TenantId owner, std::shared_ptr<const signals::Signal> s) {
      Enqueue(owner, std::move(s));  // every horizon: connections keep the lines they subscribed
    });
    thread_ = std::thread([this] { Run(); });
  }
  ~StreamHub();

  const StreamDeps& deps() const { return d_; }
  uint64_t Register(std::weak_ptr<StreamSocket> s) {
    std::lock_guard<std::mutex> lock(mu_);
    sockets_.emplace(next_id_, std::move(s));
    return next_id_++;
  }
  void Unregister(uint64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    sockets_.erase(id);
  }
  // Queues the replay of `missed` to one connection (its resume_after), in order with the live
  // signals: the hub thread delivers it before any signal queued after it.
  void EnqueueReplay(std::shared_ptr<StreamSocket> socket, std::vector<OwnedSignal> missed) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      queue_.push_back({.replay_for = std::move(socket), .replay = std::move(missed)});
    }
    cv_.notify_one();
  }

 private:
  // A live signal for every connection, or a replay for one.
  struct Event {
    TenantId owner;
    SignalPtr signal;
    std::shared_ptr<StreamSocket> replay_for;
    std::vector<OwnedSignal> replay;
  };

  void Enqueue(TenantId owner, std::shared_ptr<const signals::Signal> s) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      if (sockets_.empty()) return;  // nobody listens: nothing to meter or send
      if (queue_.size() >= kMaxQueuedSignals) {
        queue_.pop_front();
        LogEvent(spdlog::level::warn, "stream_queue_full", {{"dropped", 1}});
      }
      queue_.push_back({.owner = owner, .signal = std::move(s)});
    }
    cv_.notify_one();
  }
  void Run();

  StreamDeps d_;
  signals::SignalService::Subscription sub_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> queue_;                                  // GUARDED_BY(mu_)
  std::map<uint64_t, std::weak_ptr<StreamSocket>> sockets_;  // GUARDED_BY(mu_)
  uint64_t next_id_ = 1;                                     // GUARDED_BY(mu_)
  bool stop_ = false;                                        // GUARDED_BY(mu_)
  std::thread thread_;
};

// One stream connection.
class StreamSocket final : public WebSocketHandler,
                           public std::enable_shared_from_this<StreamSocket> {
 public:
  StreamSocket(StreamHub& hub, accounts::Principal principal, std::string request_id)
      : hub_(hub), principal_(std::move(principal)), request_id_(std::move(request_id)) {}

  void Start() { id_ = hub_.Register(weak_from_this()); }

  void OnText(WebSocketConnection& conn, std::string_view text) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return;
      conn_ = &conn;
    }
    Status s = Subscribe(text);
    if (!s.ok()) {
      Send(ErrorJson(s, request_id_).dump());
      if (++consecutive_errors_ >= kMaxConsecutiveErrors) CloseWith(1008, "too many bad messages");
      return;
    }
    consecutive_errors_ = 0;
  }

  void OnClose() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
      conn_ = nullptr;
    }
    hub_.Unregister(id_);
  }

  size_t MaxMessageBytes() const override { return 16u << 10; }

  // Hub thread: meters and pushes `signal` if this connection subscribed to its series and the
  // tenant is served by `owner`'s model, unless the connection already had this series' bar or
  // a newer one. `replayed`: part of this connection's resume_after replay; a live signal that
  // arrives while a replay is pending waits for it (parked), so the order holds.
  void Deliver(TenantId owner, const SignalPtr& signal_ptr, bool replayed = false) {
    const signals::Signal& signal = *signal_ptr;
    const auto& f = signal.fields();
    double threshold = 0.5;
    Line line;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_ || conn_ == nullptr) return;
      auto it = series_.find({f.symbol, f.timeframe, f.horizon});
      if (it == series_.end()) return;
      if (!replayed && replay_pending_) {
        parked_.emplace_back(owner, signal_ptr);
        return;
      }
      auto sent = delivered_up_to_.find(it->first);
      if (sent != delivered_up_to_.end() && f.bar_time <= sent->second)
        return;  // had it (or newer)
      line = it->second;
      threshold = threshold_;
    }
    const StreamDeps& d = hub_.deps();
    auto serving = d.signals->ModelOwner(principal_.tenant, line.key, line.horizon);
    if (!serving.ok() || *serving != owner) return;
    const UnixNanos now = d.clock->Now();
    // The metered-call flow for this push: plan resolved once, gated, reserved, committed.
    auto call = d.metered->Begin(CallerOf(principal_), now);
    if (!call.ok()) return LogFailure(call.error());
    if (Status gate = CheckStreamPlan(*call); !gate.ok()) {
      Send(ErrorJson(gate, request_id_).dump());
      return CloseWith(1008, "plan " + call->plan().name + " does not include the stream");
    }
    auto reserved = call->Reserve(std::string(billing::kEndpointStream), 1);
    if (!reserved.ok()) {
      if (reserved.error().code() == StatusCode::kQuotaExceeded) {
        Send(ErrorJson(reserved.error(), request_id_).dump());
        return CloseWith(1008, "quota exceeded");
      }
      return LogFailure(reserved.error());
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return;  // the reservation is dropped: not charged
      UnixNanos& sent = delivered_up_to_[{f.symbol, f.timeframe, f.horizon}];
      sent = std::max(sent, f.bar_time);
    }
    // Asynchronous: the pushes of one signal to many connections share one group commit; the
    // callback (meter's writer thread, in commit order) only queues the frame.
    call->meter().CommitAsync(
        std::move(reserved->reservation), SignalJson(*call, signal, threshold),
        [self = shared_from_this(), metrics = d.metrics, now, symbol = f.symbol,
         timeframe = f.timeframe](Result<std::string> body) {
          if (body.ok()) {
            if (!self->Send(*body)) self->RecordUndelivered(metrics, now, symbol, timeframe, *body);
            return;
          }
          if (body.error().code() == StatusCode::kQuotaExceeded) {
            self->Send(ErrorJson(body.error(), self->request_id_).dump());
            return self->CloseWith(1008, "quota exceeded");
          }
          self->LogFailure(body.error());
        });
  }

  // Hub thread: the resume_after replay, then the live signals that arrived meanwhile. A signal
  // that fails to go out is logged and skipped: the parked live signals are released either way.
  void Replay(const std::vector<OwnedSignal>& missed) {
    for (const auto& [owner, signal] : missed) {
      try {
        Deliver(owner, signal, /*replayed=*/true);
      } catch (const std::exception& e) {
        LogEvent(spdlog::level::err, "stream_replay_exception", {{"what", e.what()}});
      }
    }
    std::vector<OwnedSignal> parked;
    {
      std::lock_guard<std::mutex> lock(mu_);
      replay_pending_ = false;
      parked.swap(parked_);
    }
    for (const auto& [owner, signal] : parked) Deliver(owner, signal);
  }

 private:
  // Parses and applies a subscribe message.
  Status Subscribe(std::string_view text) {
    json msg = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (msg.is_discarded() || !msg.is_object()) {
      return Status::InvalidArgument(
          "expected a JSON object {\"symbols\":[...],\"timeframes\":[...]}", "message");
    }
    SINYAL_ASSIGN_OR_RETURN(JsonBody body, JsonBody::FromJson(std::move(msg)));
    SINYAL_ASSIGN_OR_RETURN(auto type, body.OptionalString("type", {.min_len = 1, .max_len = 32}));
    if (type && *type != "subscribe")
      return Status::InvalidArgument("only \"subscribe\" is accepted", "type");
    SINYAL_ASSIGN_OR_RETURN(auto symbols, body.OptionalStringList("symbols", kMaxSymbols,
                                                                  {.min_len = 1, .max_len = 32}));
    SINYAL_ASSIGN_OR_RETURN(
        auto timeframes,
        body.OptionalStringList("timeframes", kMaxTimeframes, {.min_len = 1, .max_len = 16}));
    SINYAL_ASSIGN_OR_RETURN(auto threshold, body.OptionalNumber("confidence_threshold", 0.0, 1.0));
    SINYAL_ASSIGN_OR_RETURN(auto resume_after,
                            body.OptionalString("resume_after", {.min_len = 1, .max_len = 64}));
    SINYAL_ASSIGN_OR_RETURN(std::vector<int> horizons, Horizons(body.Raw("horizons")));
    SINYAL_RETURN_IF_ERROR(body.Finish());
    if (!symbols || symbols->empty())
      return Status::InvalidArgument("is required (1 to 20 symbols)", "symbols");
    if (!timeframes || timeframes->empty()) {
      return Status::InvalidArgument("is required (1 to 7 timeframes)", "timeframes");
    }
    const StreamDeps& d = hub_.deps();
    SINYAL_ASSIGN_OR_RETURN(billing::MeteredCall call,
                            d.metered->Begin(CallerOf(principal_), d.clock->Now()));
    SINYAL_RETURN_IF_ERROR(CheckStreamPlan(call));

    std::vector<std::string> syms, tfs;
    std::vector<market::Timeframe> tf_keys;  // parsed once; tfs holds their names
    for (size_t i = 0; i < symbols->size(); ++i) {
      auto n = market::NormalizeSymbol((*symbols)[i]);
      if (!n.ok()) return n.error().WithField("symbols[" + std::to_string(i) + "]");
      syms.push_back(*n);
    }
    for (size_t i = 0; i < timeframes->size(); ++i) {
      const std::string field = "timeframes[" + std::to_string(i) + "]";
      auto tf = market::ParseTimeframe((*timeframes)[i]);
      if (!tf.ok()) return tf.error().WithField(field);
      SINYAL_RETURN_IF_ERROR(call.Gate(*tf, field));
      tfs.push_back(std::string(market::TimeframeName(*tf)));
      tf_keys.push_back(*tf);
    }
    std::map<LineName, Line> series;
    json listed = json::array();
    for (size_t i = 0; i < syms.size(); ++i) {
      for (size_t j = 0; j < tfs.size(); ++j) {
        for (size_t k = 0; k < horizons.size(); ++k) {
          const std::string& tf = tfs[j];
          const Line line{{syms[i], tf_keys[j]}, horizons[k]};
          if (!series.emplace(LineName{syms[i], tf, line.horizon}, line).second) continue;
          // A horizon no model serves for the series: the error lists the served ones.
          auto field_of = [&](const Status& st) {
            if (st.field() == "timeframe") return std::string("timeframes");
            if (st.field() == "horizon") return "horizons[" + std::to_string(k) + "]";
            return "symbols[" + std::to_string(i) + "]";
          };
          Status tracked = d.signals->Track(principal_.tenant, line.key, line.horizon);
          if (!tracked.ok()) return tracked.WithField(field_of(tracked));
          auto owner = d.signals->ModelOwner(principal_.tenant, line.key, line.horizon);
          if (!owner.ok()) return owner.error().WithField(field_of(owner.error()));
          listed.push_back({{"symbol", syms[i]},
                            {"timeframe", tf},
                            {"horizon", line.horizon},
                            {"model", *owner == models::kPlatformTenant ? "platform" : "tenant"}});
        }
      }
    }
    std::vector<OwnedSignal> missed;
    bool truncated = false;
    if (resume_after) {
      SINYAL_ASSIGN_OR_RETURN(missed, Missed(*resume_after, series, &truncated));
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      series_ = std::move(series);
      threshold_ = threshold.value_or(0.5);
      if (!missed.empty()) replay_pending_ = true;
    }
    json answer = {{"type", "subscribed"},
                   {"series", listed},
                   {"confidence_threshold", threshold.value_or(0.5)},
                   {"plan", call.plan().name},
                   {"metering", "one unit per pushed signal (endpoint \"stream\")"}};
    if (resume_after) {
      answer["resumed"] = {
          {"after", *resume_after}, {"signals", missed.size()}, {"truncated", truncated}};
    }
    Send(answer.dump());
    if (!missed.empty()) hub_.EnqueueReplay(shared_from_this(), std::move(missed));
    return Status::Ok();
  }

  // "horizons": 1 to kMaxHorizons distinct bar counts in [1, max_horizon]; absent: [1].
  static Result<std::vector<int>> Horizons(const json* raw) {
    if (raw == nullptr || raw->is_null()) return std::vector<int>{models::kDefaultHorizon};
    const int max_h = models::PlanBounds{}.max_horizon;
    if (!raw->is_array() || raw->empty() || raw->size() > kMaxHorizons) {
      return Status::InvalidArgument(
          "must be a list of 1 to " + std::to_string(kMaxHorizons) + " horizons in bars",
          "horizons");
    }
    std::vector<int> out;
    for (size_t k = 0; k < raw->size(); ++k) {
      const json& v = (*raw)[k];
      const std::string field = "horizons[" + std::to_string(k) + "]";
      if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > max_h) {
        return Status::InvalidArgument(
            "must be a whole number of bars in [1, " + std::to_string(max_h) + "]", field);
      }
      const int h = static_cast<int>(v.get<int64_t>());
      if (std::find(out.begin(), out.end(), h) != out.end())
        return Status::InvalidArgument("is listed twice", field);
      out.push_back(h);
    }
    return out;
  }

  // The signals of the subscribed lines issued after the bar of signal `after_id`, oldest first,
  // at most kMaxReplay (*truncated when there were more).
  Result<std::vector<OwnedSignal>> Missed(const std::string& after_id,
                                          const std::map<LineName, Line>& series, bool* truncated) {
    const StreamDeps& d = hub_.deps();
    if (d.log == nullptr)
      return Status::InvalidArgument("resuming is not available on this server", "resume_after");
    auto last = d.log->GetVisible(principal_.tenant, after_id);
    if (!last.ok()) {
      if (last.error().code() == StatusCode::kNotFound) {
        return Status::InvalidArgument("no signal " + after_id + " is visible to this account",
                                       "resume_after");
      }
      return last.error();
    }
    std::vector<OwnedSignal> out;
    for (const auto& [name, line] : series) {
      signals::SignalListQuery q{.symbol = std::get<0>(name),
                                 .timeframe = std::get<1>(name),
                                 .limit = kMaxReplay + 1,
                                 .after = last->signal.bar_time(),
                                 .horizon = line.horizon};
      SINYAL_ASSIGN_OR_RETURN(auto rows, d.log->ListVisible(principal_.tenant, q));
      for (auto& r : rows) {
        out.emplace_back(r.tenant, std::make_shared<const signals::Signal>(std::move(r.signal)));
      }
    }
    std::stable_sort(out.begin(), out.end(), [](const OwnedSignal& a, const OwnedSignal& b) {
      return a.second->bar_time() < b.second->bar_time();
    });
    *truncated = out.size() > kMaxReplay;
    if (*truncated) out.resize(kMaxReplay);
    return out;
  }

  // False when the connection has closed (nothing queued).
  bool Send(std::string text) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || conn_ == nullptr) return false;
    conn_->SendText(std::move(text));
    return true;
  }
  // A push charged (its ledger row is durable) whose connection closed during the commit. The
  // ledger row is (tenant_id, endpoint "stream", at = `at`); Meter does not return its id.
  void RecordUndelivered(Metrics* metrics, UnixNanos at, const std::string& symbol,
                         const std::string& timeframe, const std::string& body) {
    if (metrics != nullptr) metrics->CountStreamUndelivered();
    json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
    LogEvent(
        spdlog::level::warn, "stream_push_undelivered",
        {{"request_id", request_id_},
         {"tenant_id", principal_.tenant.value()},
         {"user_id", principal_.user.value()},
         {"api_key_id", principal_.api_key ? json(principal_.api_key->value()) : json(nullptr)},
         {"symbol", symbol},
         {"timeframe", timeframe},
         {"ledger_endpoint", billing::kEndpointStream},
         {"ledger_at", at},
         {"cost_credits", j.is_object() ? j.value("cost_credits", json(nullptr)) : json(nullptr)},
         {"usage_cost", j.is_object() ? j.value("usage_cost", json(nullptr)) : json(nullptr)},
         {"remaining_quota",
          j.is_object() ? j.value("remaining_quota", json(nullptr)) : json(nullptr)}});
  }
  void CloseWith(uint16_t code, std::string reason) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closed_ && conn_ != nullptr) conn_->Close(code, std::move(reason));
  }
  void LogFailure(const Status& s) {
    LogEvent(spdlog::level::err, "stream_push_failed",
             {{"request_id", request_id_}, {"error", s.ToString()}});
  }

  StreamHub& hub_;
  const accounts::Principal principal_;
  const std::string request_id_;
  uint64_t id_ = 0;
  int consecutive_errors_ = 0;  // I/O thread only
  std::mutex mu_;
  WebSocketConnection* conn_ = nullptr;  // GUARDED_BY(mu_); valid until OnClose
  bool closed_ = false;                  // GUARDED_BY(mu_)
  // Subscribed lines by (symbol, timeframe name, horizon), as signals name them.
  std::map<LineName, Line> series_;  // GUARDED_BY(mu_)
  double threshold_ = 0.5;           // GUARDED_BY(mu_)
  // Per line: the newest bar this connection was pushed (or is being charged for).
  std::map<LineName, UnixNanos> delivered_up_to_;  // GUARDED_BY(mu_)
  bool replay_pending_ = false;      // GUARDED_BY(mu_): a resume_after replay is queued
  std::vector<OwnedSignal> parked_;  // GUARDED_BY(mu_): live signals waiting for the replay
};

StreamHub::~StreamHub() {
  sub_.Reset();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StreamHub::Run() {
  for (;;) {
    Event event;
    std::vector<std::shared_ptr<StreamSocket>> targets;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      event = std::move(queue_.front());
      queue_.pop_front();
      if (event.replay_for != nullptr) {
        lock.unlock();
        try {
          event.replay_for->Replay(event.replay);
        } catch (const std::exception& e) {
          LogEvent(spdlog::level::err, "stream_push_exception", {{"what", e.what()}});
        }
        continue;
      }
      for (auto it = sockets_.begin(); it != sockets_.end();) {
        if (auto s = it->second.lock()) {
          targets.push_back(std::move(s));
          ++it;
        } else {
          it = sockets_.erase(it);  // refused upgrades never reach OnClose
        }
      }
    }
    for (auto& s : targets) {
      try {
        s->Deliver(event.owner, event.signal);
      } catch (const std::exception& e) {
        LogEvent(spdlog::level::err, "stream_push_exception", {{"what", e.what()}});
      }
    }
  }
}

void StreamHubDeleter::operator()(StreamHub* hub) const { delete hub; }

StreamHubPtr AddStreamRoutes(RouteTable& routes, StreamDeps deps) {
  StreamHubPtr hub(new StreamHub(deps));
  StreamHub* h = hub.get();
  routes.Add({.method = "GET",
              .pattern = "/api/v1/stream/signals",
              .auth = AuthMode::kAny,
              .required_scope = std::string(accounts::kScopePredict),
              .billable = true,
              .handler = [h](Context& ctx) -> Result<Response> {
                SINYAL_RETURN_IF_ERROR(CheckStreamPlan(Metered(ctx)));
                if (!IsWebSocketUpgrade(ctx.request)) {
                  Response r =
                      ProblemResponse(426, "upgrade-required",
                                      "this endpoint is a WebSocket; send an upgrade request",
                                      "upgrade", ctx.request_id);
                  r.headers.emplace_back("upgrade", "websocket");
                  return r;
                }
                auto socket = std::make_shared<StreamSocket>(*h, *ctx.principal, ctx.request_id);
                socket->Start();
                return Response::WebSocket(socket);
              }});
  return hub;
}

}  // namespace sinyal::http
