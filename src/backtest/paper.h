// PaperService: paper trading accounts. Each account belongs to one user of one tenant, trades a
// strategy (strategy.h: symbols, timeframe, threshold, sizing, stops, risk limits) from a starting
// balance, and follows live closed bars through the same Engine, SimulatedBroker and
// SignalStrategy as a backtest. Its state between bars is the broker's and the strategy's
// snapshot (table paper_accounts), so a bar replayed through a paper account gives exactly the
// orders and fills a backtest gives for the same bars and signals (tested).
//
// Storage (migration 41): paper_accounts (snapshot + summary + webhook progress), paper_orders
// (latest state of every order), paper_fills and paper_trades (append-only), paper_equity (one
// point per processed bar close), paper_events (the outbound order stream, seq per account).
// Every change is one tenant-scoped transaction with an optimistic revision check (retried), so a
// bar and a manual order arriving together never lose each other's effect.
//
// Live bars: OnBarClosed(key, bar) is the hook app/ wires to the bar feed. It finds the active
// accounts trading the series (a system-scope read of (account, tenant) pairs, like a job claim),
// asks the signal provider for the signal of the bar (the live signal path for the account's
// tenant), and applies the bar to each account in its tenant's scope. A bar an account already
// has (same or older time for that symbol) is ignored, so replays are idempotent.
//
// The order stream: every order state change, fill and risk state change becomes an event
// (broker.h BrokerEvent, JSON) with a per-account sequence number. External executors (an MT5
// Expert Advisor) read them by polling Events(after=seq) or receive them by signed webhook
// (DeliverWebhooks: HMAC-SHA256 over "<timestamp>.<body>", retried with exponential backoff,
// in order; docs/paper-trading.md).
//
// Isolation: every query filters on tenant_id AND user_id (RLS on PostgreSQL by tenant); another
// user's account id is NotFound.
//
// Thread safety: thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backtest/broker.h"
#include "backtest/engine.h"
#include "backtest/order.h"
#include "backtest/strategy.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/status.h"
#include "market/bar.h"
#include "market/instrument.h"
#include "store/fwd.h"

namespace sinyal::backtest {

// Live signals for paper accounts: app/ wires the live signal path (signals::SignalService).
class PaperSignalProvider {
 public:
  virtual ~PaperSignalProvider() = default;
  // The signal made at the close of `bar` of `key` for `tenant` (its model, else the platform
  // default), or nullopt when none exists for that bar. Must not look past the bar.
  [[nodiscard]] virtual Result<std::optional<BarSignal>> SignalAt(TenantId tenant,
                                                                  const StrategyConfig& config,
                                                                  const market::SeriesKey& key,
                                                                  const market::Bar& bar,
                                                                  UnixNanos close) = 0;
};

// HTTP POST for webhooks (app/ wires libcurl). Returns the response status code, or an error
// when no response came (connection refused, timeout).
class WebhookTransport {
 public:
  virtual ~WebhookTransport() = default;
  [[nodiscard]] virtual Result<int> Post(
      const std::string& url, const std::vector<std::pair<std::string, std::string>>& headers,
      const std::string& body) = 0;
};

struct PaperAccount {
  int64_t id = 0;
  TenantId tenant;
  UserId user;
  std::string name;
  StrategyConfig strategy;
  std::string status;  // "active" or "closed"
  double initial_balance = 0, balance = 0, equity = 0;
  TradingState trading_state = TradingState::kActive;
  std::string risk_reason;
  UnixNanos last_bar_time = 0;
  int64_t revision = 0;
  std::string webhook_url;  // empty: none
  int64_t webhook_delivered_seq = 0;
  int webhook_attempts = 0;
  std::string webhook_last_error;
  int64_t last_event_seq = 0;
  UnixNanos created_at = 0, updated_at = 0;
  nlohmann::json ToJson() const;  // the API's account object (no secret)
};

struct PaperCreateRequest {
  std::string name;                       // 1..100 chars; default "paper <n>"
  nlohmann::json strategy;                // strategy.h JSON
  std::optional<double> initial_balance;  // overrides strategy.initial_balance
  std::string webhook_url;                // optional
};

struct PaperCreated {
  PaperAccount account;
  std::string webhook_secret;  // shown once; empty without a webhook
};

// What a chat command (Telegram /paper) shows: the read API for other modules.
struct PaperSummary {
  int64_t id = 0;
  std::string name;
  std::string status;
  std::string currency;
  double initial_balance = 0, balance = 0, equity = 0;
  double return_fraction = 0;  // equity / initial - 1
  TradingState trading_state = TradingState::kActive;
  std::vector<Position> positions;
  UnixNanos last_bar_time = 0;
};

struct PaperOptions {
  int max_accounts_per_user = 5;                 // active accounts. Default 5.
  std::function<int(TenantId)> max_accounts_of;  // plan override; may be empty
  bool allow_private_webhooks = false;           // tests: allow http://127.0.0.1
  size_t webhook_batch = 100;                    // events per webhook call. Default 100.
  int64_t webhook_max_backoff_ns = kNanosPerHour;
};

class PaperService {
 public:
  // REQUIRES: every reference outlives the service.
  PaperService(store::Database& db, store::BarStore& bars, PaperSignalProvider& signals,
               const Clock& clock, PaperOptions options = {});

  // Validates the strategy (field-named errors as backtests: "strategy.signal.threshold"), that
  // each symbol has bars of the timeframe (InvalidArgument "strategy.symbols[i]"), the balance
  // ("initial_balance") and the webhook URL ("webhook_url"). FailedPrecondition ("accounts") at
  // the per-user account limit.
  [[nodiscard]] Result<PaperCreated> Create(TenantId tenant, UserId user,
                                            const PaperCreateRequest& request);
  [[nodiscard]] Result<std::vector<PaperAccount>> List(TenantId tenant, UserId user);
  [[nodiscard]] Result<PaperAccount> Get(TenantId tenant, UserId user, int64_t id);
  [[nodiscard]] Result<std::vector<Position>> Positions(TenantId tenant, UserId user, int64_t id);
  // Orders, newest first; open_only: working orders only; limit 1..1000; `before` (an id, 0 =
  // none) pages back: only ids below it. Fills and trades likewise.
  [[nodiscard]] Result<std::vector<Order>> Orders(TenantId tenant, UserId user, int64_t id,
                                                  bool open_only, size_t limit, int64_t before = 0);
  [[nodiscard]] Result<std::vector<Fill>> Fills(TenantId tenant, UserId user, int64_t id,
                                                size_t limit, int64_t before = 0);
  [[nodiscard]] Result<std::vector<Trade>> Trades(TenantId tenant, UserId user, int64_t id,
                                                  size_t limit, int64_t before = 0);
  // Equity points, oldest first, the newest `limit` (1..10000).
  [[nodiscard]] Result<std::vector<EquityPoint>> Equity(TenantId tenant, UserId user, int64_t id,
                                                        size_t limit);
  // Events with seq > after, ascending, at most limit (1..1000): the polling order stream.
  [[nodiscard]] Result<std::vector<nlohmann::json>> Events(TenantId tenant, UserId user, int64_t id,
                                                           int64_t after, size_t limit);

  // A manual order (role kManual unless reduce_only exit). Errors name the field; a risk refusal
  // is an order with status "rejected" and its reason. FailedPrecondition ("status") on a closed
  // account.
  [[nodiscard]] Result<Order> SubmitOrder(TenantId tenant, UserId user, int64_t id,
                                          OrderRequest request);
  [[nodiscard]] Result<Order> CancelOrder(TenantId tenant, UserId user, int64_t id, OrderId order);
  // Closes every position at the next bar's open and cancels working entries.
  [[nodiscard]] Result<PaperAccount> ClosePositions(TenantId tenant, UserId user, int64_t id);
  // Back to the starting balance with no positions, orders, fills or equity history (the event
  // stream continues with an "account_reset" event).
  [[nodiscard]] Result<PaperAccount> Reset(TenantId tenant, UserId user, int64_t id);
  // Stops following bars (status "closed"); the history stays readable.
  [[nodiscard]] Result<PaperAccount> CloseAccount(TenantId tenant, UserId user, int64_t id);

  // The read API for other modules (Telegram /paper): the user's accounts with positions.
  [[nodiscard]] Result<std::vector<PaperSummary>> Summaries(TenantId tenant, UserId user);

  // Live hook: applies a closed bar to every active account trading the series. Returns how many
  // accounts changed. An account's failure is logged into its result and does not stop others.
  [[nodiscard]] Result<int> OnBarClosed(const market::SeriesKey& key, const market::Bar& bar);
  // Applies one closed bar to one account (OnBarClosed per account; tests and replays).
  [[nodiscard]] Status ApplyBar(TenantId tenant, int64_t id, const market::SeriesKey& key,
                                const market::Bar& bar);

  // One delivery round: for up to `max_accounts` accounts with a webhook, pending events and a due
  // retry time, POSTs the next batch (in seq order), signed; on 2xx advances the delivered seq,
  // otherwise backs off (2^attempts seconds, at most webhook_max_backoff_ns). Returns the number
  // of events delivered.
  [[nodiscard]] Result<int> DeliverWebhooks(WebhookTransport& transport, size_t max_accounts = 50);

  // The signature header value of a webhook body: "t=<unix seconds>,v1=<hex HMAC-SHA256 of
  // '<unix seconds>.<body>' keyed by the secret>".
  static std::string SignWebhook(const std::string& secret, int64_t unix_seconds,
                                 const std::string& body);

  struct Runtime;  // an account loaded for one change (paper.cc)

 private:
  Result<PaperAccount> Mutate(TenantId tenant, std::optional<UserId> user, int64_t id,
                              const std::function<Status(Runtime&)>& change);

  store::Database& db_;
  store::BarStore& bars_;
  PaperSignalProvider& signals_;
  const Clock& clock_;
  PaperOptions options_;
  std::mutex cache_mu_;
  std::map<int64_t, std::pair<TenantId, StrategyConfig>> strategies_;  // GUARDED_BY(cache_mu_)
};

}  // namespace sinyal::backtest
