#include "billing/meter.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "billing/sql_util.h"
#include "core/log.h"
#include "core/time.h"
#include "store/database.h"
#include "store/soci.h"
#include "store/system_path.h"

namespace sinyal::billing {

namespace {

constexpr int kShards = 16;
constexpr int64_t kMaxUnits = 10000;

Status QuotaExceeded(const Plan& plan, UnixNanos period_end) {
  return Status(StatusCode::kQuotaExceeded,
                "the " + plan.name + " plan's quota of " + std::to_string(plan.monthly_quota) +
                    " predictions is used up for the period ending " + FormatIso8601(period_end) +
                    "; upgrade the plan or wait for the next period",
                "quota");
}

Status ValidateCall(const MeterCall& c) {
  if (!c.tenant.valid()) return Status::InvalidArgument("invalid tenant id", "tenant");
  if (c.endpoint.empty() || c.endpoint.size() > 64) {
    return Status::InvalidArgument("endpoint must be 1-64 characters", "endpoint");
  }
  if (c.units < 1 || c.units > kMaxUnits) {
    return Status::InvalidArgument("units must be in [1, 10000]", "units");
  }
  if (c.idempotency_key.size() > 255) {
    return Status::InvalidArgument("Idempotency-Key must be at most 255 characters",
                                   "Idempotency-Key");
  }
  for (char ch : c.idempotency_key) {
    if (ch < 0x20 || ch > 0x7e) {
      return Status::InvalidArgument("Idempotency-Key must be printable ASCII", "Idempotency-Key");
    }
  }
  if (c.request_hash.size() > 128) {
    return Status::InvalidArgument("request hash too long", "request_hash");
  }
  return Status::Ok();
}

Status KeyReused() {
  return Status::InvalidArgument("this Idempotency-Key was already used with a different request",
                                 "Idempotency-Key");
}

// Returned inside a bulk transaction when an idempotency key was stored concurrently.
Status BulkRace() { return Status::Conflict("idempotency key stored concurrently", "bulk"); }
bool IsBulkRace(const Status& s) {
  return s.code() == StatusCode::kConflict && s.field() == "bulk";
}

// The quota rule, once: how many of `units` fall beyond the plan's monthly quota when `used` are
// already used (0 for an unlimited plan or within the quota); empty when the plan refuses them
// (beyond the quota without overage).
std::optional<int64_t> UnitsOverQuota(const Plan& plan, int64_t used, int64_t units) {
  if (plan.unlimited()) return 0;
  const int64_t room = std::max<int64_t>(0, plan.monthly_quota - used);
  if (units <= room) return 0;
  if (!plan.overage_allowed) return std::nullopt;
  return units - room;
}

struct KeyId {
  int64_t tenant;
  std::string key;
  bool operator==(const KeyId&) const = default;
};
struct KeyIdHash {
  size_t operator()(const KeyId& k) const {
    return std::hash<std::string>()(k.key) * 31 + std::hash<int64_t>()(k.tenant);
  }
};
struct CounterId {
  int64_t tenant;
  UnixNanos period_start;
  bool operator==(const CounterId&) const = default;
};
struct CounterIdHash {
  size_t operator()(const CounterId& k) const {
    return std::hash<int64_t>()(k.tenant) * 1000003 ^ std::hash<int64_t>()(k.period_start);
  }
};

struct Counter {
  bool loaded = false;
  int64_t used = 0;      // authoritative, as last read from the database by this process
  int64_t reserved = 0;  // units reserved and not yet committed or released
};

struct StoredResponse {
  std::string hash;
  int status = 200;
  std::shared_ptr<const std::string> body;
};

struct Shard {
  std::mutex mu;
  std::unordered_map<CounterId, Counter, CounterIdHash> counters;  // GUARDED_BY(mu)
  std::unordered_map<KeyId, std::string, KeyIdHash> inflight;      // key -> hash
  std::unordered_map<KeyId, StoredResponse, KeyIdHash> recent;     // committed keys
  std::deque<KeyId> recent_order;                                  // FIFO eviction
};

}  // namespace

struct Reservation::State {
  Meter::Impl* meter = nullptr;
  MeterCall call;
  std::shared_ptr<const Plan> plan;
  UnixNanos period_start = 0, period_end = 0;
  UnixNanos at = 0;
  bool done = false;  // committed or handed to the writer: the destructor releases nothing
};

struct Pending {
  Reservation::State* r = nullptr;
  nlohmann::json body;
  std::optional<Meter::PreparedBody> prepared;  // instead of body (Meter::PreparedBody)
  // CommitAsync: the pending call owns its reservation and is deleted after `on_done` ran.
  std::unique_ptr<Reservation> owned;
  std::function<void(Result<std::string>)> on_done;
  std::optional<Result<std::string>> result;
  bool charged = false;   // ledger row written
  bool replayed = false;  // key found committed by another process
  std::atomic<bool> done{false};
};

// A call whose Idempotency-Key another process (or this one before a restart) committed: answers
// `p` with the stored response when the request is the same, KeyReused when it is not. False when
// the key is not stored.
bool AnswerFromStoredKey(soci::session& sql, long long tenant, const MeterCall& call, Pending& p) {
  std::string h, b;
  sql << "SELECT request_hash, body FROM idempotency_keys WHERE tenant_id = :t AND idem_key = :k",
      soci::use(tenant, "t"), soci::use(call.idempotency_key, "k"), soci::into(h), soci::into(b);
  if (!sql.got_data()) return false;
  if (h == call.request_hash) {
    p.result = std::move(b);
    p.replayed = true;
  } else {
    p.result = KeyReused();
  }
  return true;
}

struct Meter::Impl {
  store::Database& db;
  Subscriptions& subs;
  MeterOptions options;
  Shard shards[kShards];

  std::mutex q_mu;
  std::condition_variable q_cv;
  std::condition_variable flushed_cv;
  std::vector<Pending*> queue;  // GUARDED_BY(q_mu)
  int64_t submitted = 0;        // GUARDED_BY(q_mu)
  int64_t finished = 0;         // GUARDED_BY(q_mu)
  bool stop = false;            // GUARDED_BY(q_mu)
  std::thread writer;

  std::atomic<int64_t> committed{0}, transactions{0}, db_key_lookups{0}, counter_loads{0};

  Impl(store::Database& d, Subscriptions& s, MeterOptions o) : db(d), subs(s), options(o) {
    options.max_batch = std::clamp(options.max_batch, 1, 10000);
    options.max_linger = std::clamp(options.max_linger, std::chrono::microseconds(0),
                                    std::chrono::microseconds(10000));
    writer = std::thread([this] { WriterLoop(); });
  }

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(q_mu);
      stop = true;
    }
    q_cv.notify_all();
    writer.join();
  }

  Shard& ShardOf(TenantId t) { return shards[static_cast<uint64_t>(t.value()) % kShards]; }

  Result<int64_t> LoadCounter(TenantId tenant, UnixNanos period_start) {
    counter_loads.fetch_add(1, std::memory_order_relaxed);
    long long used = 0;
    SINYAL_RETURN_IF_ERROR(db.WithTenantReadTx(tenant, [&](soci::session& sql) -> Status {
      long long t = tenant.value(), p = period_start;
      sql << "SELECT used FROM usage_counters WHERE tenant_id = :t AND period_start = :p",
          soci::use(t, "t"), soci::use(p, "p"), soci::into(used);
      if (!sql.got_data()) used = 0;
      return Status::Ok();
    }));
    return static_cast<int64_t>(used);
  }

  Result<std::optional<StoredResponse>> LookupKey(TenantId tenant, const std::string& key) {
    db_key_lookups.fetch_add(1, std::memory_order_relaxed);
    std::optional<StoredResponse> out;
    SINYAL_RETURN_IF_ERROR(db.WithTenantReadTx(tenant, [&](soci::session& sql) -> Status {
      long long t = tenant.value();
      std::string hash, body;
      int status = 200;
      sql << "SELECT request_hash, status, body FROM idempotency_keys WHERE tenant_id = :t AND "
             "idem_key = :k",
          soci::use(t, "t"), soci::use(key, "k"), soci::into(hash), soci::into(status),
          soci::into(body);
      if (sql.got_data()) {
        out = StoredResponse{hash, status, std::make_shared<const std::string>(std::move(body))};
      }
      return Status::Ok();
    }));
    return out;
  }

  void RememberLocked(Shard& sh, const KeyId& id, StoredResponse resp) {
    auto [it, inserted] = sh.recent.insert_or_assign(id, std::move(resp));
    if (inserted) sh.recent_order.push_back(id);
    const size_t cap = std::max<size_t>(1, options.recent_keys / kShards);
    while (sh.recent_order.size() > cap) {
      sh.recent.erase(sh.recent_order.front());
      sh.recent_order.pop_front();
    }
  }

  // Outcome of a key found committed: replay when the hash matches.
  static Result<ReserveOutcome> Replay(const StoredResponse& s, const std::string& hash) {
    if (s.hash != hash) return KeyReused();
    ReserveOutcome out;
    out.replay = *s.body;
    out.replay_status = s.status;
    return out;
  }

  // The answer for a key this process already knows: the stored response of a committed call,
  // or a conflict while a call with the key is in flight. Empty when the key is new here.
  static std::optional<Result<ReserveOutcome>> KnownKeyLocked(const Shard& sh, const KeyId& kid,
                                                              const std::string& hash) {
    if (auto it = sh.recent.find(kid); it != sh.recent.end()) return Replay(it->second, hash);
    if (auto it = sh.inflight.find(kid); it != sh.inflight.end()) {
      if (it->second != hash) return Result<ReserveOutcome>(KeyReused());
      return Result<ReserveOutcome>(Status::Conflict(
          "a request with this Idempotency-Key is in progress", "Idempotency-Key"));
    }
    return std::nullopt;
  }

  // On success without replay, *state is the new reservation's state.
  Result<ReserveOutcome> Reserve(const MeterCall& call, UnixNanos now,
                                 std::unique_ptr<Reservation::State>* state_out) {
    SINYAL_RETURN_IF_ERROR(ValidateCall(call));
    SINYAL_ASSIGN_OR_RETURN(Subscription sub, subs.Current(call.tenant, now));
    SINYAL_ASSIGN_OR_RETURN(std::shared_ptr<const Plan> plan, subs.plans().GetShared(sub.plan));
    Shard& sh = ShardOf(call.tenant);
    const bool keyed = !call.idempotency_key.empty();
    const KeyId kid{call.tenant.value(), call.idempotency_key};
    const CounterId cid{call.tenant.value(), sub.period_start};

    // 1. Idempotency (memory first) and whether the counter is loaded.
    bool need_key_lookup = false, need_counter = false;
    {
      std::lock_guard<std::mutex> lock(sh.mu);
      if (keyed) {
        if (auto known = KnownKeyLocked(sh, kid, call.request_hash)) return std::move(*known);
        need_key_lookup = options.verify_keys_at_reserve;
      }
      auto it = sh.counters.find(cid);
      need_counter = it == sh.counters.end() || !it->second.loaded;
    }
    // 2. Database reads, only when memory can't answer.
    if (need_key_lookup) {
      SINYAL_ASSIGN_OR_RETURN(auto stored, LookupKey(call.tenant, call.idempotency_key));
      if (stored) {
        std::lock_guard<std::mutex> lock(sh.mu);
        RememberLocked(sh, kid, *stored);
        return Replay(*stored, call.request_hash);
      }
    }
    int64_t loaded_used = 0;
    if (need_counter) {
      SINYAL_ASSIGN_OR_RETURN(loaded_used, LoadCounter(call.tenant, sub.period_start));
    }
    // 3. Re-check under the lock (another thread may have moved meanwhile), then reserve.
    ReserveOutcome out;
    bool refused = false;
    {
      std::lock_guard<std::mutex> lock(sh.mu);
      if (keyed) {
        if (auto known = KnownKeyLocked(sh, kid, call.request_hash)) return std::move(*known);
      }
      Counter& c = sh.counters[cid];
      if (!c.loaded && need_counter) {
        c.loaded = true;
        c.used = loaded_used;
      }
      refused = !UnitsOverQuota(*plan, c.used + c.reserved, call.units).has_value();
      out.remaining_estimate =
          plan->unlimited()
              ? -1
              : std::max<int64_t>(0, plan->monthly_quota - (c.used + c.reserved + call.units));
      if (!refused) {
        c.reserved += call.units;
        if (keyed) sh.inflight.emplace(kid, call.request_hash);
      }
    }
    if (refused) {
      // A retry of a call committed before (another process, a restart) is replayed even at
      // the quota: look the key up now if it was not looked up above.
      if (keyed && !need_key_lookup) {
        SINYAL_ASSIGN_OR_RETURN(auto stored, LookupKey(call.tenant, call.idempotency_key));
        if (stored) {
          std::lock_guard<std::mutex> lock(sh.mu);
          RememberLocked(sh, kid, *stored);
          return Replay(*stored, call.request_hash);
        }
      }
      return QuotaExceeded(*plan, sub.period_end);
    }
    auto state = std::make_unique<Reservation::State>();
    state->meter = this;
    state->call = call;
    state->plan = std::move(plan);
    state->period_start = sub.period_start;
    state->period_end = sub.period_end;
    state->at = now;
    *state_out = std::move(state);
    return out;
  }

  // Frees a reservation that was never committed.
  void Release(const Reservation::State& s) {
    Shard& sh = ShardOf(s.call.tenant);
    std::lock_guard<std::mutex> lock(sh.mu);
    auto it = sh.counters.find(CounterId{s.call.tenant.value(), s.period_start});
    if (it != sh.counters.end()) it->second.reserved -= s.call.units;
    if (!s.call.idempotency_key.empty()) {
      sh.inflight.erase(KeyId{s.call.tenant.value(), s.call.idempotency_key});
    }
  }

  Status CheckCommit(Reservation::State* state, const nlohmann::json& body) {
    if (state == nullptr || state->meter != this || state->done) {
      return Status::InvalidArgument("not a live reservation of this meter", "reservation");
    }
    if (!body.is_object()) {
      return Status::InvalidArgument("response body must be a JSON object", "body");
    }
    return Status::Ok();
  }

  static Status CheckPrepared(const Meter::PreparedBody& b) {
    if (b.text.empty() || b.text.front() != '{' || !(b.cost_credits_at < b.remaining_quota_at) ||
        !(b.remaining_quota_at < b.usage_cost_at) || b.usage_cost_at > b.text.size()) {
      return Status::InvalidArgument(
          "prepared response body must be a JSON object with ordered usage slots", "body");
    }
    return Status::Ok();
  }

  // The final body text: the usage fields filled in (overwritten on a retried attempt).
  static std::string FinalBody(Pending* p, int64_t units, int64_t cost, const Plan& plan,
                               int64_t used_after) {
    const std::string remaining =
        plan.unlimited() ? "null"
                         : std::to_string(std::max<int64_t>(0, plan.monthly_quota - used_after));
    if (p->prepared) {
      const Meter::PreparedBody& b = *p->prepared;
      const std::string units_text = std::to_string(units), cost_text = std::to_string(cost);
      std::string out;
      out.reserve(b.text.size() + units_text.size() + cost_text.size() + remaining.size());
      std::string_view t = b.text;
      out.append(t.substr(0, b.cost_credits_at));
      out += units_text;
      out.append(t.substr(b.cost_credits_at, b.remaining_quota_at - b.cost_credits_at));
      out += remaining;
      out.append(t.substr(b.remaining_quota_at, b.usage_cost_at - b.remaining_quota_at));
      out += cost_text;
      out.append(t.substr(b.usage_cost_at));
      return out;
    }
    nlohmann::json& body = p->body;
    body["cost_credits"] = units;
    body["usage_cost"] = cost;
    body["remaining_quota"] =
        plan.unlimited() ? nlohmann::json(nullptr)
                         : nlohmann::json(std::max<int64_t>(0, plan.monthly_quota - used_after));
    return body.dump();
  }

  // Queues p for the writer. False when the meter is stopping (p not queued).
  bool Enqueue(Pending* p) {
    p->r->done = true;  // from here the writer accounts for the reserved units
    {
      std::lock_guard<std::mutex> lock(q_mu);
      if (stop) {
        p->r->done = false;  // released by the reservation's destructor
        return false;
      }
      queue.push_back(p);
      ++submitted;
    }
    q_cv.notify_one();
    return true;
  }

  // REQUIRES: state is owned by a live Reservation for the duration of the call.
  Result<std::string> Commit(Reservation::State* state, nlohmann::json body) {
    SINYAL_RETURN_IF_ERROR(CheckCommit(state, body));
    Pending p;
    p.r = state;
    p.body = std::move(body);
    if (!Enqueue(&p)) return Status::Unavailable("meter is shutting down");
    p.done.wait(false, std::memory_order_acquire);
    return std::move(*p.result);
  }

  // An asynchronous call owning its reservation; the caller sets its body.
  static std::unique_ptr<Pending> NewPending(std::unique_ptr<Reservation> r,
                                             Reservation::State* state,
                                             std::function<void(Result<std::string>)> done) {
    auto p = std::make_unique<Pending>();
    p->r = state;
    p->owned = std::move(r);
    p->on_done = std::move(done);
    return p;
  }

  void CommitAsync(std::unique_ptr<Reservation> r, Reservation::State* state, nlohmann::json body,
                   std::function<void(Result<std::string>)> done) {
    if (Status st = CheckCommit(state, body); !st.ok()) {
      done(st);
      return;
    }
    auto p = NewPending(std::move(r), state, std::move(done));
    p->body = std::move(body);
    EnqueueOwned(std::move(p));
  }

  void CommitAsync(std::unique_ptr<Reservation> r, Reservation::State* state,
                   Meter::PreparedBody body, std::function<void(Result<std::string>)> done) {
    Status st = CheckPrepared(body);
    if (st.ok()) st = CheckCommit(state, nlohmann::json::object());
    if (!st.ok()) {
      done(st);
      return;
    }
    auto p = NewPending(std::move(r), state, std::move(done));
    p->prepared = std::move(body);
    EnqueueOwned(std::move(p));
  }

  // Hands an asynchronous call (owning its reservation and callback) to the writer, which deletes
  // it after on_done; when the meter is shutting down, releases the reservation and calls back
  // with Unavailable instead.
  void EnqueueOwned(std::unique_ptr<Pending> p) {
    if (!Enqueue(p.get())) {
      auto cb = std::move(p->on_done);
      p.reset();  // releases the reservation
      cb(Status::Unavailable("meter is shutting down"));
      return;
    }
    p.release();  // deleted by the writer after on_done
  }

  void WriterLoop() {
    std::vector<Pending*> batch;
    int64_t last_batch = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(q_mu);
        q_cv.wait(lock, [&] { return stop || !queue.empty(); });
        if (queue.empty()) return;  // stop, and nothing pending
        // Linger only when callers are concurrent (the last batch had several calls): a lone
        // caller is committed at once.
        if (options.max_linger.count() > 0 && last_batch >= 2 &&
            static_cast<int>(queue.size()) < options.max_batch && !stop) {
          q_cv.wait_for(lock, options.max_linger, [&] {
            return stop || static_cast<int>(queue.size()) >= options.max_batch;
          });
        }
        const size_t n = std::min<size_t>(queue.size(), options.max_batch);
        batch.assign(queue.begin(), queue.begin() + n);
        queue.erase(queue.begin(), queue.begin() + n);
      }
      ProcessBatch(batch);
      const auto n = static_cast<int64_t>(batch.size());
      last_batch = n;
      for (Pending* p : batch) {
        if (p->on_done) {
          std::unique_ptr<Pending> owned(p);
          owned->on_done(std::move(*owned->result));
          continue;
        }
        p->done.store(true, std::memory_order_release);
        p->done.notify_one();  // p may be gone after this
      }
      batch.clear();
      {
        std::lock_guard<std::mutex> lock(q_mu);
        finished += n;
      }
      flushed_cv.notify_all();
    }
  }

  struct Group {
    int64_t tenant;
    UnixNanos period_start, period_end;
    std::vector<Pending*> items;
    int64_t final_used = 0;
  };

  // Bulk mode of one (tenant, period) group, with its counter row locked: one SELECT for the
  // keys already stored, then multi-row INSERTs for the idempotency records and the ledger rows
  // (a few statements per group instead of one or two per call: round trips matter on
  // PostgreSQL). `used`/`overage` come in as read from the counter and go out updated.
  Status GroupBulk(soci::session& sql, Group& g, long long& used, long long& overage) {
    constexpr size_t kChunk = 64;
    const std::string t = std::to_string(g.tenant), ps = std::to_string(g.period_start);
    // a. Keys of this group already stored (by another process, or before a restart).
    std::vector<const std::string*> keys;
    for (Pending* p : g.items) {
      if (!p->r->call.idempotency_key.empty()) keys.push_back(&p->r->call.idempotency_key);
    }
    std::unordered_map<std::string, std::pair<std::string, std::string>> stored;
    for (size_t i = 0; i < keys.size(); i += kChunk) {
      const size_t n = std::min(kChunk, keys.size() - i);
      std::string q =
          "SELECT idem_key, request_hash, body FROM idempotency_keys WHERE tenant_id = " + t +
          " AND idem_key IN (";
      soci::statement st(sql);
      for (size_t j = 0; j < n; ++j) {
        q += (j ? ",:k" : ":k") + std::to_string(j);
        st.exchange(soci::use(*keys[i + j], "k" + std::to_string(j)));
      }
      q += ")";
      std::string k, h, b;
      st.exchange(soci::into(k));
      st.exchange(soci::into(h));
      st.exchange(soci::into(b));
      st.alloc();
      st.prepare(q);
      st.define_and_bind();
      st.execute(false);
      while (st.fetch()) stored[k] = {h, b};
    }
    // b. Charges, in order.
    struct Charge {
      Pending* p;
      int64_t over, price, cost;
      std::string text;
    };
    std::vector<Charge> charges;
    charges.reserve(g.items.size());
    for (Pending* p : g.items) {
      const Reservation::State& r = *p->r;
      const Plan& plan = *r.plan;
      if (!r.call.idempotency_key.empty()) {
        if (auto it = stored.find(r.call.idempotency_key); it != stored.end()) {
          if (it->second.first == r.call.request_hash) {
            p->result = it->second.second;
            p->replayed = true;
          } else {
            p->result = KeyReused();
          }
          continue;
        }
      }
      const int64_t units = r.call.units;
      const std::optional<int64_t> beyond = UnitsOverQuota(plan, used, units);
      if (!beyond) {
        p->result = QuotaExceeded(plan, r.period_end);
        continue;
      }
      const int64_t over = *beyond;
      // Graduated by volume band (billing/overage.h), from the period's overage so far.
      const int64_t cost = plan.OverageCost(overage, over);
      charges.push_back(
          {p, over,
           over > 0 ? OverageUnitPrice(plan.overage_bands, plan.overage_price_idr, overage + 1) : 0,
           cost, FinalBody(p, units, cost, plan, used + units)});
      used += units;
      overage += over;
    }
    // c. Idempotency records; a conflict means a key appeared since (a): redo per call.
    std::vector<Charge*> keyed;
    for (Charge& c : charges) {
      if (!c.p->r->call.idempotency_key.empty()) keyed.push_back(&c);
    }
    for (size_t i = 0; i < keyed.size(); i += kChunk) {
      const size_t n = std::min(kChunk, keyed.size() - i);
      std::string q =
          "INSERT INTO idempotency_keys (tenant_id, idem_key, request_hash, status, body, "
          "created_at) VALUES ";
      soci::statement st(sql);
      for (size_t j = 0; j < n; ++j) {
        const Charge& c = *keyed[i + j];
        const std::string js = std::to_string(j);
        q += (j ? ",(" : "(") + t + ",:k" + js + ",:h" + js + ",200,:b" + js + "," +
             std::to_string(c.p->r->at) + ")";
        st.exchange(soci::use(c.p->r->call.idempotency_key, "k" + js));
        st.exchange(soci::use(c.p->r->call.request_hash, "h" + js));
        st.exchange(soci::use(c.text, "b" + js));
      }
      q += " ON CONFLICT DO NOTHING";
      st.alloc();
      st.prepare(q);
      st.define_and_bind();
      st.execute(true);
      if (st.get_affected_rows() != static_cast<long long>(n)) return BulkRace();
    }
    // d. Ledger rows.
    for (size_t i = 0; i < charges.size(); i += kChunk) {
      const size_t n = std::min(kChunk, charges.size() - i);
      std::string q =
          "INSERT INTO usage_ledger (tenant_id, period_start, at, endpoint, plan, units, "
          "overage_units, unit_price_idr, cost_idr, user_id, api_key_id, idempotency_key) "
          "VALUES ";
      soci::statement st(sql);
      for (size_t j = 0; j < n; ++j) {
        const Charge& c = charges[i + j];
        const Reservation::State& r = *c.p->r;
        const std::string js = std::to_string(j);
        q += (j ? ",(" : "(") + t + "," + ps + "," + std::to_string(r.at) + ",:e" + js + ",:p" +
             js + "," + std::to_string(r.call.units) + "," + std::to_string(c.over) + "," +
             std::to_string(c.price) + "," + std::to_string(c.cost) + "," +
             (r.call.user.valid() ? std::to_string(r.call.user.value()) : "NULL") + "," +
             (r.call.api_key ? std::to_string(r.call.api_key->value()) : "NULL") + "," +
             (r.call.idempotency_key.empty() ? "NULL" : ":k" + js) + ")";
        st.exchange(soci::use(r.call.endpoint, "e" + js));
        st.exchange(soci::use(r.plan->name, "p" + js));
        if (!r.call.idempotency_key.empty()) {
          st.exchange(soci::use(r.call.idempotency_key, "k" + js));
        }
      }
      st.alloc();
      st.prepare(q);
      st.define_and_bind();
      st.execute(true);
    }
    for (Charge& c : charges) {
      c.p->result = std::move(c.text);
      c.p->charged = true;
    }
    return Status::Ok();
  }

  void ProcessBatch(std::vector<Pending*>& batch) {
    // The meter writer's own role (PostgreSQL): INSERT-only on the ledger (store/system_path.h).
    store::ScopedSystemPath as_meter_writer(store::SystemPath::kMeterWriter);
    // Group by (tenant, period), tenants in ascending order: every process locks counter rows
    // in the same order, so concurrent batches can't deadlock.
    std::map<std::pair<int64_t, UnixNanos>, Group> groups;
    for (Pending* p : batch) {
      auto& g = groups[{p->r->call.tenant.value(), p->r->period_start}];
      g.tenant = p->r->call.tenant.value();
      g.period_start = p->r->period_start;
      g.period_end = p->r->period_end;
      g.items.push_back(p);
    }
    const bool pg = db.dialect() == store::Dialect::kPostgres;
    auto run = [&](bool bulk) {
      return db.WithTx([&](soci::session& sql) -> Status {
        for (Pending* p : batch) {
          p->result.reset();
          p->charged = p->replayed = false;
        }
        // Statements prepared once per transaction, re-executed with the bound variables.
        long long l_tenant = 0, l_period = 0, l_at = 0, l_units = 0, l_over = 0, l_price = 0,
                  l_cost = 0, l_user = 0, l_key_id = 0;
        std::string l_endpoint, l_plan, l_idem;
        soci::indicator user_ind = soci::i_null, key_id_ind = soci::i_null, idem_ind = soci::i_null;
        std::optional<soci::statement> ledger;  // per-call mode: prepared on first use
        std::string k_hash, k_body;
        long long k_created = 0;
        std::optional<soci::statement> idem;  // prepared on first keyed call
        for (auto& [gk, g] : groups) {
          long long t = g.tenant, ps = g.period_start, pe = g.period_end, now = 0;
          for (Pending* p : g.items) now = std::max<long long>(now, p->r->at);
          long long used = 0, overage_total = 0;
          const std::string select_counter =
              std::string(
                  "SELECT used, overage_units FROM usage_counters WHERE tenant_id = :t "
                  "AND period_start = :ps") +
              (pg ? " FOR UPDATE" : "");
          sql << select_counter, soci::use(t, "t"), soci::use(ps, "ps"), soci::into(used),
              soci::into(overage_total);
          if (!sql.got_data()) {  // first commit of the period (concurrent creators meet here)
            sql << "INSERT INTO usage_counters (tenant_id, period_start, period_end, used, "
                   "overage_units, updated_at) VALUES (:t, :ps, :pe, 0, 0, :now) "
                   "ON CONFLICT DO NOTHING",
                soci::use(t, "t"), soci::use(ps, "ps"), soci::use(pe, "pe"), soci::use(now, "now");
            sql << select_counter, soci::use(t, "t"), soci::use(ps, "ps"), soci::into(used),
                soci::into(overage_total);
            if (!sql.got_data()) return Status::Internal("usage counter row missing");
          }
          if (bulk) {
            SINYAL_RETURN_IF_ERROR(GroupBulk(sql, g, used, overage_total));
          } else {
            for (Pending* p : g.items) {
              const Reservation::State& r = *p->r;
              const Plan& plan = *r.plan;
              const int64_t units = r.call.units;
              const std::optional<int64_t> beyond = UnitsOverQuota(plan, used, units);
              if (!beyond) {
                p->result = QuotaExceeded(plan, r.period_end);
                // Committed before by another process or before a restart: replay it.
                if (!r.call.idempotency_key.empty()) AnswerFromStoredKey(sql, t, r.call, *p);
                continue;
              }
              const int64_t over = *beyond;
              const int64_t cost = plan.OverageCost(overage_total, over);  // graduated
              std::string text = FinalBody(p, units, cost, plan, used + units);
              if (!r.call.idempotency_key.empty()) {
                if (!idem) {
                  idem.emplace(
                      (sql.prepare << "INSERT INTO idempotency_keys (tenant_id, idem_key, "
                                      "request_hash, status, body, created_at) VALUES (:t, :k, :h, "
                                      "200, :b, :at) ON CONFLICT DO NOTHING",
                       soci::use(l_tenant, "t"), soci::use(l_idem, "k"), soci::use(k_hash, "h"),
                       soci::use(k_body, "b"), soci::use(k_created, "at")));
                }
                l_tenant = t;
                l_idem = r.call.idempotency_key;
                k_hash = r.call.request_hash;
                k_body = text;
                k_created = r.at;
                idem->execute(true);
                if (idem->get_affected_rows() == 0) {
                  // Committed meanwhile by another process: answer with its response, no charge.
                  if (!AnswerFromStoredKey(sql, t, r.call, *p)) p->result = KeyReused();
                  continue;
                }
              }
              l_tenant = t;
              l_period = ps;
              l_at = r.at;
              l_endpoint = r.call.endpoint;
              l_plan = plan.name;
              l_units = units;
              l_over = over;
              l_price = over > 0 ? OverageUnitPrice(plan.overage_bands, plan.overage_price_idr,
                                                    overage_total + 1)
                                 : 0;
              l_cost = cost;
              l_user = r.call.user.value();
              user_ind = r.call.user.valid() ? soci::i_ok : soci::i_null;
              l_key_id = r.call.api_key ? r.call.api_key->value() : 0;
              key_id_ind = r.call.api_key ? soci::i_ok : soci::i_null;
              l_idem = r.call.idempotency_key;
              idem_ind = l_idem.empty() ? soci::i_null : soci::i_ok;
              if (!ledger) {
                ledger.emplace(
                    (
                        sql.prepare
                            << "INSERT INTO usage_ledger (tenant_id, period_start, at, endpoint, "
                               "plan, units, overage_units, unit_price_idr, cost_idr, user_id, "
                               "api_key_id, idempotency_key) VALUES (:t, :p, :at, :ep, :pl, :u, "
                               ":ou, :up, :c, :uid, :kid, :k)",
                        soci::use(l_tenant, "t"), soci::use(l_period, "p"), soci::use(l_at, "at"),
                        soci::use(l_endpoint, "ep"), soci::use(l_plan, "pl"),
                        soci::use(l_units, "u"), soci::use(l_over, "ou"), soci::use(l_price, "up"),
                        soci::use(l_cost, "c"), soci::use(l_user, user_ind, "uid"),
                        soci::use(l_key_id, key_id_ind, "kid"), soci::use(l_idem, idem_ind, "k")));
              }
              ledger->execute(true);
              used += units;
              overage_total += over;
              p->result = std::move(text);
              p->charged = true;
            }
          }  // per-call mode
          sql << "UPDATE usage_counters SET used = :u, overage_units = :o, updated_at = :now "
                 "WHERE tenant_id = :t AND period_start = :ps",
              soci::use(used, "u"), soci::use(overage_total, "o"), soci::use(now, "now"),
              soci::use(t, "t"), soci::use(ps, "ps");
          g.final_used = used;
        }
        return Status::Ok();
      });
    };
    Status st = run(options.bulk_statements.value_or(pg));
    if (IsBulkRace(st)) {
      // A key was stored by another process after this batch looked (a period boundary):
      // redo the batch one statement per call, which handles that case call by call.
      transactions.fetch_add(1, std::memory_order_relaxed);
      st = run(false);
    }
    transactions.fetch_add(1, std::memory_order_relaxed);
    if (!st.ok() && batch.size() > 1 && st.code() != StatusCode::kUnavailable) {
      // One call may have failed the whole transaction (e.g. its tenant was deleted): commit
      // each call on its own so the others don't pay for it. (Unavailable: the database is
      // down or the outcome unknown; retrying here would not help.)
      LogEvent(spdlog::level::warn, "meter_batch_split",
               {{"error", st.ToString()}, {"calls", static_cast<int64_t>(batch.size())}});
      for (Pending* p : batch) {
        std::vector<Pending*> one{p};
        ProcessBatch(one);
      }
      return;
    }
    if (!st.ok()) {
      LogEvent(spdlog::level::err, "meter_commit_failed",
               {{"error", st.ToString()}, {"calls", static_cast<int64_t>(batch.size())}});
      for (Pending* p : batch) {
        p->result = st;
        p->charged = p->replayed = false;
      }
    }
    int64_t charged = 0;
    for (auto& [gk, g] : groups) {
      Shard& sh = shards[static_cast<uint64_t>(g.tenant) % kShards];
      std::lock_guard<std::mutex> lock(sh.mu);
      Counter& c = sh.counters[CounterId{g.tenant, g.period_start}];
      if (st.ok()) {
        c.loaded = true;
        c.used = g.final_used;
      }
      for (Pending* p : g.items) {
        const Reservation::State& r = *p->r;
        c.reserved -= r.call.units;
        if (p->charged) ++charged;
        if (r.call.idempotency_key.empty()) continue;
        const KeyId kid{g.tenant, r.call.idempotency_key};
        sh.inflight.erase(kid);
        if (p->charged || p->replayed) {
          RememberLocked(sh, kid,
                         StoredResponse{r.call.request_hash, 200,
                                        std::make_shared<const std::string>(**p->result)});
        }
      }
    }
    committed.fetch_add(charged, std::memory_order_relaxed);
  }

  void Flush() {
    std::unique_lock<std::mutex> lock(q_mu);
    const int64_t target = submitted;
    flushed_cv.wait(lock, [&] { return finished >= target; });
  }

  Result<nlohmann::json> Usage(TenantId tenant, UnixNanos now, int periods_back) {
    if (periods_back < 0) {
      return Status::InvalidArgument("period offset must be >= 0", "period");
    }
    SINYAL_ASSIGN_OR_RETURN(Subscription sub, subs.Current(tenant, now));
    const Period cur = PeriodAt(sub.anchor, now);
    const int64_t k = std::max<int64_t>(cur.index, 0) - periods_back;
    if (k < 0) {
      return Status::InvalidArgument("that period precedes the subscription's start", "period");
    }
    const Period per = PeriodIndex(sub.anchor, k);
    SINYAL_ASSIGN_OR_RETURN(auto plans_held, subs.PlansDuring(tenant, per.start, per.end));
    const std::string plan_name =
        k == std::max<int64_t>(cur.index, 0) || plans_held.empty() ? sub.plan : plans_held.back();
    SINYAL_ASSIGN_OR_RETURN(auto plan, subs.plans().GetShared(plan_name));

    nlohmann::json out;
    out["plan"] = plan_name;
    out["plans"] = plans_held;
    out["period"] = {{"index", k},
                     {"start", FormatIso8601(per.start)},
                     {"end", FormatIso8601(per.end)},
                     {"current", k == std::max<int64_t>(cur.index, 0)}};
    int64_t calls = 0, units = 0, over = 0, cost = 0;
    nlohmann::json by_day = nlohmann::json::array(), by_endpoint = nlohmann::json::array();
    SINYAL_RETURN_IF_ERROR(db.WithTenantReadTx(tenant, [&](soci::session& sql) -> Status {
      long long t = tenant.value(), ps = per.start;
      auto entry = [](const soci::row& row, size_t i) {
        return nlohmann::json{{"calls", internal::I64(row, i)},
                              {"units", internal::I64(row, i + 1)},
                              {"overage_units", internal::I64(row, i + 2)},
                              {"cost_idr", internal::I64(row, i + 3)}};
      };
      constexpr const char* kAgg =
          "COUNT(*), CAST(COALESCE(SUM(units), 0) AS BIGINT), "
          "CAST(COALESCE(SUM(overage_units), 0) AS BIGINT), CAST(COALESCE(SUM(cost_idr), 0) AS "
          "BIGINT)";
      // The period's ledger grouped by `key` (selected first, as `k`), in key order.
      auto grouped = [&](const std::string& key) {
        return soci::rowset<soci::row>(
            (sql.prepare << "SELECT " + key + " AS k, " + kAgg +
                                " FROM usage_ledger WHERE tenant_id = :t AND period_start = :p "
                                "GROUP BY " +
                                key + " ORDER BY k",
             soci::use(t, "t"), soci::use(ps, "p")));
      };
      {
        for (const soci::row& row : grouped("at / 86400000000000")) {
          nlohmann::json e = entry(row, 1);
          int y = 0, m = 0, d = 0;
          CivilFromDays(internal::I64(row, 0), &y, &m, &d);
          char buf[16];
          std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d", y, m, d);
          e["date"] = buf;
          calls += e["calls"].get<int64_t>();
          units += e["units"].get<int64_t>();
          over += e["overage_units"].get<int64_t>();
          cost += e["cost_idr"].get<int64_t>();
          by_day.push_back(std::move(e));
        }
      }
      {
        for (const soci::row& row : grouped("endpoint")) {
          nlohmann::json e = entry(row, 1);
          e["endpoint"] = internal::Str(row, 0);
          by_endpoint.push_back(std::move(e));
        }
      }
      return Status::Ok();
    }));
    out["calls"] = calls;
    out["used"] = units;
    out["overage_units"] = over;
    out["cost_idr"] = cost;
    if (plan->unlimited()) {
      out["quota"] = nullptr;
      out["remaining"] = nullptr;
    } else {
      out["quota"] = plan->monthly_quota;
      out["remaining"] = std::max<int64_t>(0, plan->monthly_quota - units);
    }
    out["by_day"] = std::move(by_day);
    out["by_endpoint"] = std::move(by_endpoint);
    return out;
  }
};

Reservation::Reservation(std::unique_ptr<State> state) : state_(std::move(state)) {}
Reservation::~Reservation() {
  if (state_ != nullptr && !state_->done) state_->meter->Release(*state_);
}
TenantId Reservation::tenant() const { return state_->call.tenant; }
int64_t Reservation::units() const { return state_->call.units; }
const std::string& Reservation::plan() const { return state_->plan->name; }
UnixNanos Reservation::period_start() const { return state_->period_start; }
UnixNanos Reservation::period_end() const { return state_->period_end; }

Meter::Meter(store::Database& db, Subscriptions& subscriptions, MeterOptions options)
    : impl_(std::make_unique<Impl>(db, subscriptions, options)) {}
Meter::~Meter() = default;

Result<ReserveOutcome> Meter::Reserve(const MeterCall& call, UnixNanos now) {
  std::unique_ptr<Reservation::State> state;
  auto out = impl_->Reserve(call, now, &state);
  if (out.ok() && state != nullptr) out->reservation.reset(new Reservation(std::move(state)));
  return out;
}
Result<std::string> Meter::Commit(std::unique_ptr<Reservation> r, nlohmann::json body) {
  if (r == nullptr) return Status::InvalidArgument("no reservation", "reservation");
  // r stays alive (and owns the state) until the writer has finished with it.
  return impl_->Commit(r->state_.get(), std::move(body));
}
Result<nlohmann::json> Meter::Usage(TenantId tenant, UnixNanos now, int periods_back) {
  return impl_->Usage(tenant, now, periods_back);
}
void Meter::CommitAsync(std::unique_ptr<Reservation> r, nlohmann::json body,
                        std::function<void(Result<std::string>)> done) {
  if (r == nullptr) return done(Status::InvalidArgument("no reservation", "reservation"));
  Reservation::State* state = r->state_.get();
  impl_->CommitAsync(std::move(r), state, std::move(body), std::move(done));
}
void Meter::CommitPreparedAsync(std::unique_ptr<Reservation> r, PreparedBody body,
                                std::function<void(Result<std::string>)> done) {
  if (r == nullptr) return done(Status::InvalidArgument("no reservation", "reservation"));
  Reservation::State* state = r->state_.get();
  impl_->CommitAsync(std::move(r), state, std::move(body), std::move(done));
}
void Meter::Flush() { impl_->Flush(); }
Meter::Stats Meter::stats() const {
  return Stats{impl_->committed.load(), impl_->transactions.load(), impl_->db_key_lookups.load(),
               impl_->counter_loads.load()};
}

}  // namespace sinyal::billing
