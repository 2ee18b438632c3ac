#include "backtest/paper.h"

#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

#include "backtest/backtest.h"
#include "core/log.h"
#include "core/time.h"
#include "models/market_adapter.h"
#include "store/bar_store.h"
#include "store/database.h"
#include "store/soci.h"

namespace sinyal::backtest {

using nlohmann::json;

namespace {

constexpr int kMaxAttempts = 5;  // optimistic-revision retries

Status RevisionConflict() { return Status::Conflict("account changed meanwhile", "revision"); }

std::string SymbolsColumn(const StrategyConfig& c) {
  std::string s = ",";
  for (const auto& x : c.symbols) s += x + ",";
  return s;
}

std::string Hex(const unsigned char* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += d[p[i] >> 4];
    out += d[p[i] & 15];
  }
  return out;
}

Result<std::string> NewSecret() {
  unsigned char buf[32];
  if (RAND_bytes(buf, sizeof buf) != 1) return Status::Internal("no random bytes");
  return "whsec_" + Hex(buf, sizeof buf);
}

// https:// to a public host (or http(s) to anything when private webhooks are allowed).
Status CheckWebhookUrl(const std::string& url, bool allow_private) {
  if (url.size() > 2000)
    return Status::InvalidArgument("longer than 2000 characters", "webhook_url");
  const bool https = url.rfind("https://", 0) == 0, http = url.rfind("http://", 0) == 0;
  if (!https && !(http && allow_private)) {
    return Status::InvalidArgument("must be an https:// URL", "webhook_url");
  }
  std::string host = url.substr(https ? 8 : 7);
  host = host.substr(0, host.find_first_of("/?#"));
  if (host.find('@') != std::string::npos) {
    return Status::InvalidArgument("credentials in the URL are not accepted", "webhook_url");
  }
  if (host.empty()) return Status::InvalidArgument("no host", "webhook_url");
  if (!allow_private) {
    std::string h = host;
    if (h.front() == '[')
      h = h.substr(1, h.find(']') - 1);
    else
      h = h.substr(0, h.find(':'));
    for (auto& ch : h) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    auto starts = [&](const char* p) { return h.rfind(p, 0) == 0; };
    bool priv = h == "localhost" || h.ends_with(".localhost") || h.ends_with(".local") ||
                h.ends_with(".internal") || starts("127.") || starts("10.") || starts("192.168.") ||
                starts("169.254.") || starts("0.") || h == "::1" || starts("fc") || starts("fd") ||
                starts("fe80");
    for (int b = 16; b < 32; ++b) priv |= starts(("172." + std::to_string(b) + ".").c_str());
    if (priv) {
      return Status::InvalidArgument("private and loopback hosts are not accepted", "webhook_url");
    }
  }
  return Status::Ok();
}

// Returns the signal fetched before the account's transaction, once.
class FixedSource : public SignalSource {
 public:
  explicit FixedSource(std::optional<BarSignal> s) : s_(std::move(s)) {}
  Result<std::optional<BarSignal>> OnBarClosed(int, const market::SeriesKey&, const market::Bar&,
                                               UnixNanos) override {
    return s_;
  }

 private:
  std::optional<BarSignal> s_;
};

std::vector<market::SeriesKey> KeysOf(const StrategyConfig& c) {
  std::vector<market::SeriesKey> keys;
  for (const auto& s : c.symbols) keys.push_back({s, c.timeframe});
  return keys;
}

struct Row {
  long long id = 0, user = 0, revision = 0, created = 0, updated = 0, last_bar = 0, delivered = 0;
  int attempts = 0;
  std::string name, strategy, status, snapshot, state, webhook_url, last_error;
  double equity = 0, balance = 0;
  soci::indicator last_bar_ind = soci::i_null, url_ind = soci::i_null, err_ind = soci::i_null;
};

constexpr const char* kRowColumns =
    "id, user_id, name, strategy, status, snapshot, revision, equity, balance, trading_state, "
    "last_bar_time, webhook_url, webhook_delivered_seq, webhook_attempts, webhook_last_error, "
    "created_at, updated_at";

// Reads one account row; false when absent. `user` empty: any user of the tenant (live bars).
Result<bool> ReadRow(soci::session& sql, TenantId tenant, std::optional<UserId> user, int64_t id,
                     Row* r) {
  const long long t = tenant.value(), i = id, u = user ? user->value() : 0;
  const int any_user = user ? 0 : 1;
  sql << std::string("SELECT ") + kRowColumns +
             " FROM paper_accounts WHERE id = :i AND tenant_id = :t AND (user_id = :u OR :any = 1)",
      soci::use(i, "i"), soci::use(t, "t"), soci::use(u, "u"), soci::use(any_user, "any"),
      soci::into(r->id), soci::into(r->user), soci::into(r->name), soci::into(r->strategy),
      soci::into(r->status), soci::into(r->snapshot), soci::into(r->revision),
      soci::into(r->equity), soci::into(r->balance), soci::into(r->state),
      soci::into(r->last_bar, r->last_bar_ind), soci::into(r->webhook_url, r->url_ind),
      soci::into(r->delivered), soci::into(r->attempts), soci::into(r->last_error, r->err_ind),
      soci::into(r->created), soci::into(r->updated);
  return sql.got_data();
}

long long LastSeq(soci::session& sql, TenantId tenant, int64_t id) {
  long long seq = 0;
  soci::indicator ind = soci::i_null;
  const long long t = tenant.value(), i = id;
  sql << "SELECT MAX(seq) FROM paper_events WHERE account_id = :i AND tenant_id = :t",
      soci::use(i, "i"), soci::use(t, "t"), soci::into(seq, ind);
  return ind == soci::i_ok ? seq : 0;
}

Result<PaperAccount> ToAccount(TenantId tenant, const Row& r, long long last_seq) {
  PaperAccount a;
  a.id = r.id;
  a.tenant = tenant;
  a.user = UserId(r.user);
  a.name = r.name;
  SINYAL_ASSIGN_OR_RETURN(a.strategy, ParseStrategy(r.strategy));
  a.status = r.status;
  a.initial_balance = a.strategy.initial_balance;
  a.balance = r.balance;
  a.equity = r.equity;
  SINYAL_ASSIGN_OR_RETURN(a.trading_state, ParseTradingState(r.state));
  const json snap = json::parse(r.snapshot, nullptr, false);
  if (snap.is_object()) a.risk_reason = snap["broker"].value("risk_reason", "");
  a.last_bar_time = r.last_bar_ind == soci::i_ok ? r.last_bar : 0;
  a.revision = r.revision;
  a.webhook_url = r.url_ind == soci::i_ok ? r.webhook_url : "";
  a.webhook_delivered_seq = r.delivered;
  a.webhook_attempts = r.attempts;
  a.webhook_last_error = r.err_ind == soci::i_ok ? r.last_error : "";
  a.last_event_seq = last_seq;
  a.created_at = r.created;
  a.updated_at = r.updated;
  return a;
}

json TimeOrNull(UnixNanos t) { return t ? json(FormatIso8601(t)) : json(nullptr); }

}  // namespace

// An account loaded for one change: its strategy, broker and strategy state.
struct PaperService::Runtime {
  Row row;
  TenantId tenant;
  StrategyConfig config;
  std::vector<int> digits;
  std::unique_ptr<SimulatedBroker> broker;
  std::unique_ptr<SignalStrategy> strategy;
  ManualClock clock;
  std::vector<EquityPoint> equity;                         // points to store
  std::vector<std::pair<std::string, json>> extra_events;  // (type, body) beside the broker's
  bool changed = true;
  bool wipe_history = false;  // Reset
};

nlohmann::json PaperAccount::ToJson() const {
  return {{"id", id},
          {"user_id", user.value()},
          {"name", name},
          {"status", status},
          {"currency", strategy.currency},
          {"initial_balance", initial_balance},
          {"balance", balance},
          {"equity", equity},
          {"return", initial_balance > 0 ? equity / initial_balance - 1 : 0},
          {"trading_state", TradingStateName(trading_state)},
          {"risk_reason", risk_reason},
          {"last_bar_time", TimeOrNull(last_bar_time)},
          {"strategy", strategy.ToJson()},
          {"webhook", webhook_url.empty() ? json(nullptr)
                                          : json{{"url", webhook_url},
                                                 {"delivered_seq", webhook_delivered_seq},
                                                 {"attempts", webhook_attempts},
                                                 {"last_error", webhook_last_error.empty()
                                                                    ? json(nullptr)
                                                                    : json(webhook_last_error)}}},
          {"last_event_seq", last_event_seq},
          {"created_at", FormatIso8601(created_at)},
          {"updated_at", FormatIso8601(updated_at)}};
}

PaperService::PaperService(store::Database& db, store::BarStore& bars, PaperSignalProvider& signals,
                           const Clock& clock, PaperOptions options)
    : db_(db), bars_(bars), signals_(signals), clock_(clock), options_(std::move(options)) {}

std::string PaperService::SignWebhook(const std::string& secret, int64_t unix_seconds,
                                      const std::string& body) {
  const std::string payload = std::to_string(unix_seconds) + "." + body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), mac, &len);
  return "t=" + std::to_string(unix_seconds) + ",v1=" + Hex(mac, len);
}

Result<PaperCreated> PaperService::Create(TenantId tenant, UserId user,
                                          const PaperCreateRequest& req) {
  auto parsed = StrategyFromJson(req.strategy);
  if (!parsed.ok()) {
    const Status& e = parsed.error();
    return Status(e.code(), e.message(),
                  e.field().empty() || e.field() == "strategy" ? std::string("strategy")
                                                               : "strategy." + e.field());
  }
  StrategyConfig config = *parsed;
  if (req.initial_balance) {
    if (!std::isfinite(*req.initial_balance) || *req.initial_balance <= 0 ||
        *req.initial_balance > 1e12) {
      return Status::InvalidArgument("must be > 0 and at most 1e12", "initial_balance");
    }
    config.initial_balance = *req.initial_balance;
  }
  if (req.name.size() > 100) return Status::InvalidArgument("at most 100 characters", "name");
  if (!req.webhook_url.empty()) {
    SINYAL_RETURN_IF_ERROR(CheckWebhookUrl(req.webhook_url, options_.allow_private_webhooks));
  }
  // Each symbol must have bars of the timeframe visible to the tenant; their decimals fix the
  // instrument's point.
  std::vector<int> digits;
  for (size_t i = 0; i < config.symbols.size(); ++i) {
    auto latest = bars_.Latest(tenant, {config.symbols[i], config.timeframe}, 500);
    if (!latest.ok() || latest->bars.empty()) {
      if (!latest.ok() && !latest.error().IsNotFound()) return latest.error();
      return Status::InvalidArgument("unknown symbol: no " +
                                         std::string(market::TimeframeName(config.timeframe)) +
                                         " bars of " + config.symbols[i] + " are available",
                                     "strategy.symbols[" + std::to_string(i) + "]");
    }
    digits.push_back(models::InferDigits(latest->bars));
  }
  auto broker = BrokerFor(config, digits, /*with_risk=*/true, {}, /*record_events=*/true);
  if (!broker.ok()) {
    return Status(broker.error().code(), broker.error().message(),
                  "strategy." + broker.error().field());
  }
  SignalStrategy strategy(config, *broker);
  const json snapshot = {
      {"broker", broker->Snapshot()}, {"strategy", strategy.Snapshot()}, {"digits", digits}};
  std::string secret;
  if (!req.webhook_url.empty()) {
    SINYAL_ASSIGN_OR_RETURN(secret, NewSecret());
  }
  const int limit =
      options_.max_accounts_of ? options_.max_accounts_of(tenant) : options_.max_accounts_per_user;
  long long id = 0;
  SINYAL_RETURN_IF_ERROR(db_.WithTenantTx(tenant, [&](soci::session& sql) -> Status {
    const long long t = tenant.value(), u = user.value(), now = clock_.Now();
    long long active = 0;
    sql << "SELECT COUNT(*) FROM paper_accounts WHERE tenant_id = :t AND user_id = :u "
           "AND status = 'active'",
        soci::use(t, "t"), soci::use(u, "u"), soci::into(active);
    if (active >= limit) {
      return Status::FailedPrecondition(std::to_string(active) +
                                            " paper accounts are active; your plan allows " +
                                            std::to_string(limit) + " (close one first)",
                                        "accounts");
    }
    const std::string name = req.name.empty() ? "paper " + std::to_string(active + 1) : req.name;
    const std::string strat = config.ToJson().dump(), snap = snapshot.dump(),
                      symbols = SymbolsColumn(config), tf(market::TimeframeName(config.timeframe));
    const double bal = config.initial_balance;
    soci::indicator url_ind = req.webhook_url.empty() ? soci::i_null : soci::i_ok;
    sql << "INSERT INTO paper_accounts (tenant_id, user_id, name, strategy, symbols, timeframe, "
           "status, snapshot, revision, equity, balance, trading_state, webhook_url, "
           "webhook_secret, created_at, updated_at) VALUES (:t, :u, :n, :s, :sy, :tf, 'active', "
           ":snap, 0, :b, :b2, 'active', :url, :sec, :c, :c2) RETURNING id",
        soci::use(t, "t"), soci::use(u, "u"), soci::use(name, "n"), soci::use(strat, "s"),
        soci::use(symbols, "sy"), soci::use(tf, "tf"), soci::use(snap, "snap"), soci::use(bal, "b"),
        soci::use(bal, "b2"), soci::use(req.webhook_url, url_ind, "url"),
        soci::use(secret, url_ind, "sec"), soci::use(now, "c"), soci::use(now, "c2"),
        soci::into(id);
    return Status::Ok();
  }));
  PaperCreated out;
  SINYAL_ASSIGN_OR_RETURN(out.account, Get(tenant, user, id));
  out.webhook_secret = secret;
  return out;
}

Result<PaperAccount> PaperService::Get(TenantId tenant, UserId user, int64_t id) {
  Row r;
  bool found = false;
  long long seq = 0;
  SINYAL_RETURN_IF_ERROR(db_.WithTenantReadTx(tenant, [&](soci::session& sql) -> Status {
    SINYAL_ASSIGN_OR_RETURN(found, ReadRow(sql, tenant, user, id, &r));
    if (found) seq = LastSeq(sql, tenant, id);
    return Status::Ok();
  }));
  if (!found) return Status::NotFound("no paper account " + std::to_string(id), "id");
  return ToAccount(tenant, r, seq);
}

Result<std::vector<PaperAccount>> PaperService::List(TenantId tenant, UserId user) {
  std::vector<long long> ids;
  SINYAL_RETURN_IF_ERROR(db_.WithTenantReadTx(tenant, [&](soci::session& sql) -> Status {
    const long long t = tenant.value(), u = user.value();
    long long id = 0;
    soci::statement st = (sql.prepare << "SELECT id FROM paper_accounts WHERE tenant_id = :t AND "
                                         "user_id = :u ORDER BY id",
                          soci::use(t, "t"), soci::use(u, "u"), soci::into(id));
    st.execute();
    while (st.fetch()) ids.push_back(id);
    return Status::Ok();
  }));
  std::vector<PaperAccount> out;
  for (long long id : ids) {
    SINYAL_ASSIGN_OR_RETURN(PaperAccount a, Get(tenant, user, id));
    out.push_back(std::move(a));
  }
  return out;
}

Result<PaperAccount> PaperService::Mutate(TenantId tenant, std::optional<UserId> user, int64_t id,
                                          const std::function<Status(Runtime&)>& change) {
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    bool found = false;
    Status s = db_.WithTenantTx(tenant, [&](soci::session& sql) -> Status {
      Runtime rt;
      rt.tenant = tenant;
      SINYAL_ASSIGN_OR_RETURN(found, ReadRow(sql, tenant, user, id, &rt.row));
      if (!found) return Status::NotFound("no paper account " + std::to_string(id), "id");
      SINYAL_ASSIGN_OR_RETURN(rt.config, ParseStrategy(rt.row.strategy));
      const json snap = json::parse(rt.row.snapshot, nullptr, false);
      if (!snap.is_object()) return Status::DataLoss("paper account snapshot is corrupted");
      rt.digits = snap.at("digits").get<std::vector<int>>();
      SINYAL_ASSIGN_OR_RETURN(SimulatedBroker broker,
                              BrokerFor(rt.config, rt.digits, true, {}, /*record_events=*/true));
      rt.broker = std::make_unique<SimulatedBroker>(std::move(broker));
      SINYAL_RETURN_IF_ERROR(rt.broker->Restore(snap.at("broker")));
      rt.strategy = std::make_unique<SignalStrategy>(rt.config, *rt.broker);
      SINYAL_RETURN_IF_ERROR(rt.strategy->Restore(snap.at("strategy")));
      rt.clock.Set(clock_.Now());

      std::map<OrderId, json> before;
      for (const auto& [oid, o] : rt.broker->orders()) before[oid] = ToJson(o);

      SINYAL_RETURN_IF_ERROR(change(rt));
      if (!rt.changed) return Status::Ok();

      const long long t = tenant.value(), i = id;
      if (rt.wipe_history) {
        for (const char* table : {"paper_orders", "paper_fills", "paper_trades", "paper_equity"}) {
          sql << std::string("DELETE FROM ") + table + " WHERE account_id = :i AND tenant_id = :t",
              soci::use(i, "i"), soci::use(t, "t");
        }
      }
      for (const auto& [oid, o] : rt.broker->orders()) {
        json j = ToJson(o);
        auto was = before.find(oid);
        if (!rt.wipe_history && was != before.end() && was->second == j) continue;  // unchanged
        const long long order_id = oid, at = o.updated_at;
        const std::string status(OrderStatusName(o.status)), body = j.dump();
        sql << "INSERT INTO paper_orders (account_id, tenant_id, order_id, status, body, "
               "updated_at) "
               "VALUES (:i, :t, :o, :s, :b, :u) ON CONFLICT (account_id, order_id) DO UPDATE SET "
               "status = excluded.status, body = excluded.body, updated_at = excluded.updated_at",
            soci::use(i, "i"), soci::use(t, "t"), soci::use(order_id, "o"), soci::use(status, "s"),
            soci::use(body, "b"), soci::use(at, "u");
      }
      for (const Fill& f : rt.broker->fills()) {
        const long long fid = f.id, at = f.time;
        const std::string body = ToJson(f).dump();
        sql << "INSERT INTO paper_fills (account_id, tenant_id, fill_id, time, body) "
               "VALUES (:i, :t, :f, :at, :b)",
            soci::use(i, "i"), soci::use(t, "t"), soci::use(fid, "f"), soci::use(at, "at"),
            soci::use(body, "b");
      }
      for (const Trade& tr : rt.broker->trades()) {
        const long long tid = tr.id, at = tr.exit_time;
        const std::string body = ToJson(tr).dump();
        sql << "INSERT INTO paper_trades (account_id, tenant_id, trade_id, exit_time, body) "
               "VALUES (:i, :t, :tr, :at, :b)",
            soci::use(i, "i"), soci::use(t, "t"), soci::use(tid, "tr"), soci::use(at, "at"),
            soci::use(body, "b");
      }
      for (const EquityPoint& p : rt.equity) {
        const long long at = p.time;
        const int exposed = p.exposed ? 1 : 0;
        sql << "INSERT INTO paper_equity (account_id, tenant_id, time, equity, balance, exposed) "
               "VALUES (:i, :t, :at, :e, :b, :x) ON CONFLICT (account_id, time) DO UPDATE SET "
               "equity = excluded.equity, balance = excluded.balance, exposed = excluded.exposed",
            soci::use(i, "i"), soci::use(t, "t"), soci::use(at, "at"), soci::use(p.equity, "e"),
            soci::use(p.balance, "b"), soci::use(exposed, "x");
      }
      const long long now = clock_.Now();
      auto add_event = [&](long long seq, const std::string& type, const json& body) {
        const std::string text = body.dump();
        sql << "INSERT INTO paper_events (account_id, tenant_id, seq, type, body, created_at) "
               "VALUES (:i, :t, :q, :ty, :b, :c)",
            soci::use(i, "i"), soci::use(t, "t"), soci::use(seq, "q"), soci::use(type, "ty"),
            soci::use(text, "b"), soci::use(now, "c");
      };
      for (const BrokerEvent& e : rt.broker->TakeEvents()) {
        json body = ToJson(e);
        body["account_id"] = id;
        add_event(e.seq, std::string(BrokerEventKindName(e.kind)), body);
      }
      json broker_snap = rt.broker->Snapshot();
      for (auto& [type, body] : rt.extra_events) {
        const long long seq = broker_snap["next_seq"].get<long long>();
        broker_snap["next_seq"] = seq + 1;
        body["seq"] = seq;
        body["type"] = type;
        body["account_id"] = id;
        add_event(seq, type, body);
      }
      const std::string snap_text = json{
          {"broker", broker_snap},
          {"strategy", rt.strategy->Snapshot()},
          {"digits", rt.digits}}.dump();
      UnixNanos last_bar = 0;
      for (size_t k = 0; k < rt.broker->num_symbols(); ++k) {
        const auto& b = rt.broker->last_bar(static_cast<int>(k));
        if (b) last_bar = std::max(last_bar, b->time());
      }
      const long long old_rev = rt.row.revision, lb = last_bar;
      soci::indicator lb_ind = last_bar ? soci::i_ok : soci::i_null;
      const double eq = rt.broker->equity(), bal = rt.broker->balance();
      const std::string state(TradingStateName(rt.broker->state()));
      soci::statement st =
          (sql.prepare << "UPDATE paper_accounts SET snapshot = :s, revision = revision + 1, "
                          "equity = :e, balance = :b, trading_state = :st, last_bar_time = :lb, "
                          "status = :status, updated_at = :n "
                          "WHERE id = :i AND tenant_id = :t AND revision = :r",
           soci::use(snap_text, "s"), soci::use(eq, "e"), soci::use(bal, "b"),
           soci::use(state, "st"), soci::use(lb, lb_ind, "lb"), soci::use(rt.row.status, "status"),
           soci::use(now, "n"), soci::use(i, "i"), soci::use(t, "t"), soci::use(old_rev, "r"));
      st.execute(true);
      if (st.get_affected_rows() != 1) return RevisionConflict();
      return Status::Ok();
    });
    if (s.code() == StatusCode::kConflict && s.field() == "revision") continue;
    SINYAL_RETURN_IF_ERROR(s);
    if (!user) {
      Row r;
      long long seq = 0;
      bool ok = false;
      SINYAL_RETURN_IF_ERROR(db_.WithTenantReadTx(tenant, [&](soci::session& sql) -> Status {
        SINYAL_ASSIGN_OR_RETURN(ok, ReadRow(sql, tenant, std::nullopt, id, &r));
        seq = LastSeq(sql, tenant, id);
        return Status::Ok();
      }));
      return ToAccount(tenant, r, seq);
    }
    return Get(tenant, *user, id);
  }
  return Status::Unavailable("paper account " + std::to_string(id) +
                             " is changing too often; try again");
}

Status PaperService::ApplyBar(TenantId tenant, int64_t id, const market::SeriesKey& key,
                              const market::Bar& bar) {
  // The signal first, outside the account's transaction (the live signal path may compute).
  // An account's strategy never changes, so it is read once and kept.
  StrategyConfig config;
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = strategies_.find(id);
    if (it != strategies_.end() && it->second.first == tenant) config = it->second.second;
  }
  if (config.symbols.empty()) {
    SINYAL_RETURN_IF_ERROR(db_.WithTenantReadTx(tenant, [&](soci::session& sql) -> Status {
      Row r;
      SINYAL_ASSIGN_OR_RETURN(bool found, ReadRow(sql, tenant, std::nullopt, id, &r));
      if (!found) return Status::NotFound("no paper account " + std::to_string(id), "id");
      SINYAL_ASSIGN_OR_RETURN(config, ParseStrategy(r.strategy));
      return Status::Ok();
    }));
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (strategies_.size() > 10000) strategies_.clear();
    strategies_[id] = {tenant, config};
  }
  const auto it = std::find(config.symbols.begin(), config.symbols.end(), key.symbol);
  if (it == config.symbols.end() || key.timeframe != config.timeframe) return Status::Ok();
  const int sym = static_cast<int>(it - config.symbols.begin());
  const UnixNanos close = bar.time() + market::TimeframeNanos(key.timeframe);
  SINYAL_ASSIGN_OR_RETURN(std::optional<BarSignal> signal,
                          signals_.SignalAt(tenant, config, key, bar, close));
  auto r = Mutate(tenant, std::nullopt, id, [&](Runtime& rt) -> Status {
    const auto& last = rt.broker->last_bar(sym);
    if (rt.row.status != "active" || (last && bar.time() <= last->time())) {
      rt.changed = false;  // already applied (a replay) or closed meanwhile
      return Status::Ok();
    }
    FixedSource source(signal);
    Engine engine(rt.clock, *rt.broker, *rt.strategy, source, KeysOf(rt.config));
    SINYAL_RETURN_IF_ERROR(engine.OnBar(sym, bar));
    rt.equity = engine.equity_curve();
    return Status::Ok();
  });
  return r.status();
}

Result<int> PaperService::OnBarClosed(const market::SeriesKey& key, const market::Bar& bar) {
  std::vector<std::pair<long long, long long>> accounts;  // (id, tenant)
  const std::string pattern = "%," + key.symbol + ",%";
  const std::string tf(market::TimeframeName(key.timeframe));
  // System scope: the dispatcher needs every tenant's accounts of the series (ids only); each
  // account is then changed in its own tenant's scope.
  SINYAL_RETURN_IF_ERROR(db_.WithReadTx([&](soci::session& sql) -> Status {
    long long id = 0, t = 0;
    soci::statement st =
        (sql.prepare << "SELECT id, tenant_id FROM paper_accounts WHERE status = 'active' AND "
                        "timeframe = :tf AND symbols LIKE :p ORDER BY id",
         soci::use(tf, "tf"), soci::use(pattern, "p"), soci::into(id), soci::into(t));
    st.execute();
    while (st.fetch()) accounts.push_back({id, t});
    return Status::Ok();
  }));
  int changed = 0;
  for (const auto& [id, t] : accounts) {
    Status s = ApplyBar(TenantId(t), id, key, bar);
    if (s.ok()) {
      ++changed;
    } else {
      LogEvent(
          spdlog::level::warn, "paper_bar_failed",
          {{"account", id}, {"tenant", t}, {"series", key.ToString()}, {"error", s.ToString()}});
    }
  }
  return changed;
}

Result<Order> PaperService::SubmitOrder(TenantId tenant, UserId user, int64_t id,
                                        OrderRequest request) {
  if (request.role != OrderRole::kEntry && request.role != OrderRole::kManual) {
    return Status::InvalidArgument("manual orders have role manual", "role");
  }
  request.role = OrderRole::kManual;
  OrderId oid = 0;
  Status refused;
  auto r = Mutate(tenant, user, id, [&](Runtime& rt) -> Status {
    if (rt.row.status != "active") {
      return Status::FailedPrecondition("the account is closed", "status");
    }
    SINYAL_ASSIGN_OR_RETURN(oid, rt.broker->Submit(request, clock_.Now()));
    return Status::Ok();
  });
  SINYAL_RETURN_IF_ERROR(r.status());
  auto orders = Orders(tenant, user, id, false, 1, oid + 1);
  SINYAL_RETURN_IF_ERROR(orders.status());
  if (orders->empty() || orders->front().id != oid) return Status::Internal("order not stored");
  return orders->front();
}

Result<Order> PaperService::CancelOrder(TenantId tenant, UserId user, int64_t id, OrderId order) {
  auto r = Mutate(tenant, user, id, [&](Runtime& rt) -> Status {
    const Order* o = rt.broker->order(order);
    if (!o) {
      // Closed orders are not in the snapshot: they are in the table.
      return Status::FailedPrecondition(
          "order " + std::to_string(order) + " is not working (or does not exist)", "order_id");
    }
    return rt.broker->Cancel(order, clock_.Now(), "cancelled by the user");
  });
  SINYAL_RETURN_IF_ERROR(r.status());
  auto orders = Orders(tenant, user, id, false, 1, order + 1);
  SINYAL_RETURN_IF_ERROR(orders.status());
  if (orders->empty() || orders->front().id != order) {
    return Status::NotFound("no order " + std::to_string(order), "order_id");
  }
  return orders->front();
}

Result<PaperAccount> PaperService::ClosePositions(TenantId tenant, UserId user, int64_t id) {
  return Mutate(tenant, user, id, [&](Runtime& rt) -> Status {
    rt.broker->CloseAll(clock_.Now(), OrderRole::kManual, "closed by the user");
    return Status::Ok();
  });
}

Result<PaperAccount> PaperService::Reset(TenantId tenant, UserId user, int64_t id) {
  return Mutate(tenant, user, id, [&](Runtime& rt) -> Status {
    // A fresh broker and strategy that continue the id and sequence counters, so the order
    // stream and order ids never repeat within an account.
    SINYAL_ASSIGN_OR_RETURN(SimulatedBroker fresh,
                            BrokerFor(rt.config, rt.digits, true, {}, /*record_events=*/true));
    json snap = fresh.Snapshot();
    const json old = rt.broker->Snapshot();
    for (const char* k : {"next_order_id", "next_fill_id", "next_trade_id", "next_seq"}) {
      snap[k] = old[k];
    }
    // The events of the cancelled working orders first, then the reset itself.
    for (OrderId oid : rt.broker->OpenOrderIds()) {
      (void)rt.broker->Cancel(oid, clock_.Now(), "account reset");
    }
    std::vector<BrokerEvent> cancels = rt.broker->TakeEvents();
    SINYAL_RETURN_IF_ERROR(fresh.Restore(snap));
    rt.broker = std::make_unique<SimulatedBroker>(std::move(fresh));
    rt.strategy = std::make_unique<SignalStrategy>(rt.config, *rt.broker);
    rt.wipe_history = true;
    for (const BrokerEvent& e : cancels) {
      json body = ToJson(e);
      rt.extra_events.push_back({std::string(BrokerEventKindName(e.kind)), body});
    }
    rt.extra_events.push_back(
        {"account_reset",
         {{"time", FormatIso8601(clock_.Now())}, {"balance", rt.config.initial_balance}}});
    return Status::Ok();
  });
}

Result<PaperAccount> PaperService::CloseAccount(TenantId tenant, UserId user, int64_t id) {
  return Mutate(tenant, user, id, [&](Runtime& rt) -> Status {
    if (rt.row.status == "closed") {
      rt.changed = false;
      return Status::Ok();
    }
    for (OrderId oid : rt.broker->OpenOrderIds()) {
      (void)rt.broker->Cancel(oid, clock_.Now(), "account closed");
    }
    rt.row.status = "closed";
    rt.extra_events.push_back({"account_closed", {{"time", FormatIso8601(clock_.Now())}}});
    return Status::Ok();
  });
}

Result<std::vector<Position>> PaperService::Positions(TenantId tenant, UserId user, int64_t id) {
  Row r;
  bool found = false;
  SINYAL_RETURN_IF_ERROR(db_.WithTenantReadTx(tenant, [&](soci::session& sql) -> Status {
    SINYAL_ASSIGN_OR_RETURN(found, ReadRow(sql, tenant, user, id, &r));
    return Status::Ok();
  }));
  if (!found) return Status::NotFound("no paper account " + std::to_string(id), "id");
  const json snap = json::parse(r.snapshot, nullptr, false);
  std::vector<Position> out;
  for (const auto& s : snap["broker"]["symbols"]) {
    SINYAL_ASSIGN_OR_RETURN(Position p, PositionFromJson(s.at("position")));
    if (p.quantity != 0) out.push_back(std::move(p));
  }
  return out;
}

namespace {

// Runs `query` (selecting one TEXT body column, filtered by :i and :t, with :n as the limit)
// after checking that the account belongs to (tenant, user).
Result<std::vector<std::string>> Bodies(store::Database& db, TenantId tenant, UserId user,
                                        int64_t id, const std::string& query, size_t limit,
                                        long long after = 0) {
  std::vector<std::string> out;
  bool found = false;
  SINYAL_RETURN_IF_ERROR(db.WithTenantReadTx(tenant, [&](soci::session& sql) -> Status {
    Row r;
    SINYAL_ASSIGN_OR_RETURN(found, ReadRow(sql, tenant, user, id, &r));
    if (!found) return Status::Ok();
    const long long t = tenant.value(), i = id, n = static_cast<long long>(limit);
    std::string body;
    soci::statement st = (sql.prepare << query, soci::use(i, "i"), soci::use(t, "t"),
                          soci::use(n, "n"), soci::use(after, "a"), soci::into(body));
    st.execute();
    while (st.fetch()) out.push_back(body);
    return Status::Ok();
  }));
  if (!found) return Status::NotFound("no paper account " + std::to_string(id), "id");
  return out;
}

Status CheckLimit(size_t limit, size_t max) {
  if (limit < 1 || limit > max) {
    return Status::InvalidArgument("limit must be 1.." + std::to_string(max), "limit");
  }
  return Status::Ok();
}

// One page of an account's stored records, newest first: `query` as for Bodies, with :a the
// exclusive upper id (`before`, 0 = from the newest); each body parsed with `parse`.
template <typename T, typename Parse>
Result<std::vector<T>> NewestFirst(store::Database& db, TenantId tenant, UserId user, int64_t id,
                                   const std::string& query, size_t limit, int64_t before,
                                   Parse parse) {
  SINYAL_RETURN_IF_ERROR(CheckLimit(limit, 1000));
  SINYAL_ASSIGN_OR_RETURN(
      std::vector<std::string> bodies,
      Bodies(db, tenant, user, id, query, limit, before > 0 ? before : INT64_MAX));
  std::vector<T> out;
  out.reserve(bodies.size());
  for (const auto& b : bodies) {
    SINYAL_ASSIGN_OR_RETURN(T v, parse(json::parse(b)));
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace

Result<std::vector<Order>> PaperService::Orders(TenantId tenant, UserId user, int64_t id,
                                                bool open_only, size_t limit, int64_t before) {
  return NewestFirst<Order>(
      db_, tenant, user, id,
      std::string("SELECT body FROM paper_orders WHERE account_id = :i AND tenant_id = :t "
                  "AND order_id < :a") +
          (open_only ? " AND status = 'working'" : "") + " ORDER BY order_id DESC LIMIT :n",
      limit, before, OrderFromJson);
}

Result<std::vector<Fill>> PaperService::Fills(TenantId tenant, UserId user, int64_t id,
                                              size_t limit, int64_t before) {
  return NewestFirst<Fill>(db_, tenant, user, id,
                           "SELECT body FROM paper_fills WHERE account_id = :i AND tenant_id = :t "
                           "AND fill_id < :a ORDER BY fill_id DESC LIMIT :n",
                           limit, before, FillFromJson);
}

Result<std::vector<Trade>> PaperService::Trades(TenantId tenant, UserId user, int64_t id,
                                                size_t limit, int64_t before) {
  return NewestFirst<Trade>(db_, tenant, user, id,
                            "SELECT body FROM paper_trades WHERE account_id = :i AND tenant_id = "
                            ":t AND trade_id < :a ORDER BY trade_id DESC LIMIT :n",
                            limit, before, TradeFromJson);
}

Result<std::vector<nlohmann::json>> PaperService::Events(TenantId tenant, UserId user, int64_t id,
                                                         int64_t after, size_t limit) {
  SINYAL_RETURN_IF_ERROR(CheckLimit(limit, 1000));
  if (after < 0) return Status::InvalidArgument("after must be >= 0", "after");
  SINYAL_ASSIGN_OR_RETURN(
      std::vector<std::string> bodies,
      Bodies(db_, tenant, user, id,
             "SELECT body FROM paper_events WHERE account_id = :i AND tenant_id = :t AND "
             "seq > :a ORDER BY seq LIMIT :n",
             limit, after));
  std::vector<json> out;
  for (const auto& b : bodies) out.push_back(json::parse(b));
  return out;
}

Result<std::vector<EquityPoint>> PaperService::Equity(TenantId tenant, UserId user, int64_t id,
                                                      size_t limit) {
  SINYAL_RETURN_IF_ERROR(CheckLimit(limit, 10000));
  std::vector<EquityPoint> out;
  bool found = false;
  SINYAL_RETURN_IF_ERROR(db_.WithTenantReadTx(tenant, [&](soci::session& sql) -> Status {
    Row r;
    SINYAL_ASSIGN_OR_RETURN(found, ReadRow(sql, tenant, user, id, &r));
    if (!found) return Status::Ok();
    const long long t = tenant.value(), i = id, n = static_cast<long long>(limit);
    long long at = 0;
    int exposed = 0;
    double e = 0, b = 0;
    soci::statement st =
        (sql.prepare << "SELECT time, equity, balance, exposed FROM paper_equity WHERE "
                        "account_id = :i AND tenant_id = :t ORDER BY time DESC LIMIT :n",
         soci::use(i, "i"), soci::use(t, "t"), soci::use(n, "n"), soci::into(at), soci::into(e),
         soci::into(b), soci::into(exposed));
    st.execute();
    while (st.fetch()) out.push_back({at, e, b, exposed != 0});
    return Status::Ok();
  }));
  if (!found) return Status::NotFound("no paper account " + std::to_string(id), "id");
  std::reverse(out.begin(), out.end());
  return out;
}

Result<std::vector<PaperSummary>> PaperService::Summaries(TenantId tenant, UserId user) {
  SINYAL_ASSIGN_OR_RETURN(std::vector<PaperAccount> accounts, List(tenant, user));
  std::vector<PaperSummary> out;
  for (const PaperAccount& a : accounts) {
    PaperSummary s;
    s.id = a.id;
    s.name = a.name;
    s.status = a.status;
    s.currency = a.strategy.currency;
    s.initial_balance = a.initial_balance;
    s.balance = a.balance;
    s.equity = a.equity;
    s.return_fraction = a.initial_balance > 0 ? a.equity / a.initial_balance - 1 : 0;
    s.trading_state = a.trading_state;
    s.last_bar_time = a.last_bar_time;
    SINYAL_ASSIGN_OR_RETURN(s.positions, Positions(tenant, user, a.id));
    out.push_back(std::move(s));
  }
  return out;
}

Result<int> PaperService::DeliverWebhooks(WebhookTransport& transport, size_t max_accounts) {
  const long long now = clock_.Now();
  std::vector<std::pair<long long, long long>> due;  // (id, tenant)
  // System scope: the sender serves every tenant's accounts (ids only), like a job claim.
  SINYAL_RETURN_IF_ERROR(db_.WithReadTx([&](soci::session& sql) -> Status {
    long long id = 0, t = 0;
    const long long n = static_cast<long long>(max_accounts);
    soci::statement st =
        (sql.prepare
             << "SELECT a.id, a.tenant_id FROM paper_accounts a WHERE "
                "a.webhook_url IS NOT NULL AND a.webhook_next_at <= :now AND EXISTS "
                "(SELECT 1 FROM paper_events e WHERE e.account_id = a.id AND "
                "e.seq > a.webhook_delivered_seq) ORDER BY a.webhook_next_at, a.id LIMIT :n",
         soci::use(now, "now"), soci::use(n, "n"), soci::into(id), soci::into(t));
    st.execute();
    while (st.fetch()) due.push_back({id, t});
    return Status::Ok();
  }));
  int delivered = 0;
  for (const auto& [id, t] : due) {
    const TenantId tenant(t);
    std::string url, secret;
    long long from_seq = 0;
    int attempts = 0;
    std::vector<std::pair<long long, std::string>> events;
    SINYAL_RETURN_IF_ERROR(db_.WithTenantReadTx(tenant, [&](soci::session& sql) -> Status {
      sql << "SELECT webhook_url, webhook_secret, webhook_delivered_seq, webhook_attempts FROM "
             "paper_accounts WHERE id = :i AND tenant_id = :t",
          soci::use(id, "i"), soci::use(t, "t"), soci::into(url), soci::into(secret),
          soci::into(from_seq), soci::into(attempts);
      long long seq = 0;
      std::string body;
      const long long n = static_cast<long long>(options_.webhook_batch);
      soci::statement st =
          (sql.prepare << "SELECT seq, body FROM paper_events WHERE account_id = :i AND "
                          "tenant_id = :t AND seq > :s ORDER BY seq LIMIT :n",
           soci::use(id, "i"), soci::use(t, "t"), soci::use(from_seq, "s"), soci::use(n, "n"),
           soci::into(seq), soci::into(body));
      st.execute();
      while (st.fetch()) events.push_back({seq, body});
      return Status::Ok();
    }));
    if (events.empty()) continue;
    json batch = json::array();
    for (const auto& [seq, body] : events) batch.push_back(json::parse(body));
    const std::string body = json{{"account_id", id}, {"events", batch}}.dump();
    const int64_t unix_s = now / kNanosPerSecond;
    const std::vector<std::pair<std::string, std::string>> headers = {
        {"Content-Type", "application/json"},
        {"Sinyal-Signature", SignWebhook(secret, unix_s, body)},
        {"Sinyal-Delivery", std::to_string(id) + ":" + std::to_string(events.front().first) + "-" +
                                std::to_string(events.back().first)}};
    auto code = transport.Post(url, headers, body);
    const bool ok = code.ok() && *code >= 200 && *code < 300;
    const std::string error =
        ok ? "" : (code.ok() ? "HTTP " + std::to_string(*code) : code.error().message());
    SINYAL_RETURN_IF_ERROR(db_.WithTenantTx(tenant, [&](soci::session& sql) -> Status {
      if (ok) {
        const long long last = events.back().first;
        sql << "UPDATE paper_accounts SET webhook_delivered_seq = :s, webhook_attempts = 0, "
               "webhook_next_at = 0, webhook_last_error = NULL WHERE id = :i AND tenant_id = :t "
               "AND webhook_delivered_seq = :f",
            soci::use(last, "s"), soci::use(id, "i"), soci::use(t, "t"), soci::use(from_seq, "f");
      } else {
        const int next_attempts = attempts + 1;
        const long long backoff =
            std::min<long long>(options_.webhook_max_backoff_ns,
                                kNanosPerSecond * (1LL << std::min(next_attempts, 30)));
        const long long next_at = now + backoff;
        sql << "UPDATE paper_accounts SET webhook_attempts = :a, webhook_next_at = :n, "
               "webhook_last_error = :e WHERE id = :i AND tenant_id = :t",
            soci::use(next_attempts, "a"), soci::use(next_at, "n"), soci::use(error, "e"),
            soci::use(id, "i"), soci::use(t, "t");
      }
      return Status::Ok();
    }));
    if (ok) delivered += static_cast<int>(events.size());
  }
  return delivered;
}

}  // namespace sinyal::backtest
