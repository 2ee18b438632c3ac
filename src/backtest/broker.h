// SimulatedBroker: one trading account (cash, netted positions, orders) matched against bars.
// The same object serves backtests and paper accounts; only who feeds the bars differs.
//
// Fill rules (research-tranche2.md A.2; docs/backtests.md "Fills"):
//   - An order submitted at time T can only fill in a bar that opens at or after T. The engine
//     submits at a bar's close, so a signal's order fills in the NEXT bar: never on the bar the
//     signal saw.
//   - Quotes: bars are bids (ask = bid + spread) or mids (bid/ask = mid -/+ half the spread).
//     The spread is the bar's spread column (points) when it is > 0 and use_bar_spread, else the
//     instrument's configured spread_points.
//   - Open: market orders fill at the open (buy at the ask, sell at the bid) with adverse
//     slippage; a resting stop or limit the open has already gone through fills at the open too
//     (a gap: a stop fills worse than its price, a limit better).
//   - Inside the bar: a buy stop fills at its price when the ask high reaches it (plus slippage,
//     capped at the ask high), a sell stop when the bid low does; a buy limit at its price when the
//     ask low reaches it, a sell limit when the bid high does (no slippage). When several resting
//     orders of a symbol trigger in one bar, stops fill before limits (pessimistic: a bracket's
//     stop-loss before its take-profit), each in id order; after each fill the book is re-checked
//     (OCO siblings cancelled, bracket children activated).
//   - A bracket child activated by a fill inside a bar (not at its open): its stop-loss is
//     checked against the rest of that bar (pessimistic), its take-profit only from the next bar.
//   - M1 replay (BrokerOptions::minute_bars): when minute bars cover a bar, the inside-the-bar
//     step walks them in time order instead (each minute: gaps at its open, then its range, same
//     rules), which decides SL-vs-TP and the order of triggers from the real path.
//   - IOC orders not filled at the open are cancelled; GTD orders expire at the first bar of the
//     symbol that opens at or after expire_at; reduce_only fills are clipped to the position and
//     cancelled when there is nothing to reduce. Reduce-only orders left on the wrong side of a
//     position (or with none) after a fill are cancelled ("position closed").
//   - Trailing stops move at the end of each bar: a long's stop to max(stop, bid high - distance),
//     a short's to min(stop, ask low + distance).
//   - Costs per fill: commission_per_lot x lots + commission_rate x notional; swap per lot per
//     UTC midnight a position is held across (a weekend counts its nights).
//   - Marking: longs at the bid close, shorts at the ask close; equity = balance + unrealized.
// Risk (risk.h) is checked at submission and again at fill (a fill that would break a limit or
// open exposure while not ACTIVE is cancelled with the reason), and the latches are evaluated after
// every bar's mark.
//
// Thread safety: not synchronized; one account is driven by one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "backtest/order.h"
#include "backtest/risk.h"
#include "core/clock.h"
#include "core/status.h"
#include "market/bar.h"
#include "market/timeframe.h"

namespace sinyal::backtest {

// Minute bars of `symbol` whose open time is in [from, to), ascending; empty when none.
using MinuteBarSource = std::function<std::span<const market::Bar>(std::string_view symbol,
                                                                   UnixNanos from, UnixNanos to)>;

struct BrokerOptions {
  std::string account_currency = "USD";
  double initial_balance = 10000;  // > 0
  RiskLimits risk;
  MinuteBarSource minute_bars;  // empty: no M1 replay. Default: none.
  bool record_events = false;   // keep the BrokerEvent journal (paper accounts' order stream)
};

// One entry of the account's journal: every order state change, fill and risk state change, in
// the order they happened. `seq` increases by one per event per account.
struct BrokerEvent {
  enum class Kind : uint8_t {
    kOrderAccepted,
    kOrderRejected,
    kOrderCancelled,
    kOrderExpired,
    kOrderUpdated,
    kOrderFilled,
    kRiskState
  };
  int64_t seq = 0;
  Kind kind = Kind::kOrderAccepted;
  UnixNanos time = 0;
  Order order;               // snapshot after the change (order events)
  std::optional<Fill> fill;  // kOrderFilled
  RiskEvent risk;            // kRiskState
};
std::string_view BrokerEventKindName(BrokerEvent::Kind k);  // "order_accepted", ...
nlohmann::json ToJson(const BrokerEvent& e);

class SimulatedBroker {
 public:
  // InvalidArgument naming the field for a bad initial balance or risk limit.
  [[nodiscard]] static Result<SimulatedBroker> Create(BrokerOptions options);

  // Registers an instrument and the timeframe of its bars. InvalidArgument ("symbol") when
  // already added; fields of the spec named ("costs.spread_points", ...) when out of range.
  [[nodiscard]] Status AddInstrument(const InstrumentSpec& spec, market::Timeframe timeframe);
  // -1 when not registered.
  int SymbolIndex(std::string_view symbol) const;
  const InstrumentSpec& spec(int symbol) const { return symbols_[symbol].spec; }
  size_t num_symbols() const { return symbols_.size(); }

  // Validates and accepts an order at time `now`. InvalidArgument naming the field
  // ("symbol", "quantity", "price", "expire_at", "stop_loss", ...) for a malformed request;
  // nothing is recorded then. A well-formed order the risk rules refuse is recorded as REJECTED
  // with the reason, and its id returned (check order(id).status).
  [[nodiscard]] Result<OrderId> Submit(const OrderRequest& request, UnixNanos now);
  // Cancels a working order. (A bracket's children exist only once its entry has filled.)
  // NotFound("id"); FailedPrecondition("status") when it is no longer working.
  [[nodiscard]] Status Cancel(OrderId id, UnixNanos now, std::string reason = "cancelled");

  // Processes one closed bar of `symbol` (index from SymbolIndex): day roll and swap, expiry,
  // fills, trailing stops, mark, risk latches. `now` is the bar's close time. REQUIRES: bars of a
  // symbol arrive in increasing time, and no bar is given before orders submitted after its open
  // were meant to fill (the engine guarantees both).
  void OnBar(int symbol, const market::Bar& bar, UnixNanos now);

  // Submits reduce-only market orders closing every position (role kLiquidation unless given)
  // and cancels working entries. Used at the end of a backtest (kEndOfTest) and by "close" on a
  // paper account (kManual).
  void CloseAll(UnixNanos now, OrderRole role, const std::string& reason);
  // End of a backtest: closes every position at its symbol's last close (bid for longs, ask for
  // shorts, with that bar's spread and the slippage), cancels every working order, and marks.
  void SettleAtLastClose(UnixNanos now);

  double balance() const { return balance_; }
  double equity() const { return equity_; }
  double peak_equity() const { return peak_equity_; }
  TradingState state() const { return state_; }
  double initial_balance() const { return options_.initial_balance; }
  const std::string& account_currency() const { return options_.account_currency; }
  // Every order of this account since it was created or restored (or since DropHistory), by id.
  const std::map<OrderId, Order>& orders() const { return orders_; }
  const Order* order(OrderId id) const;
  const std::vector<Fill>& fills() const { return fills_; }
  const std::vector<Trade>& trades() const { return trades_; }
  const std::vector<RiskEvent>& risk_events() const { return risk_events_; }
  // The position of a symbol (quantity 0 when flat).
  const Position& position(int symbol) const { return symbols_[symbol].position; }
  // Non-flat positions, in symbol order.
  std::vector<Position> OpenPositions() const;
  int open_positions() const;
  // Ids of the working orders, ascending.
  std::vector<OrderId> OpenOrderIds() const;
  // Ids of the working orders of one symbol, ascending.
  const std::vector<OrderId>& open_orders(int symbol) const { return symbols_[symbol].open; }
  // The last bar seen of a symbol (nullopt before the first).
  const std::optional<market::Bar>& last_bar(int symbol) const { return symbols_[symbol].last_bar; }
  // Cost totals over all fills and swaps, account currency.
  struct Costs {
    double commission = 0, spread = 0, slippage = 0, swap = 0;
  };
  const Costs& costs() const { return costs_; }

  // The journal since the last call (record_events only).
  std::vector<BrokerEvent> TakeEvents();
  int64_t next_event_seq() const { return next_seq_; }

  // Everything needed to continue the account later (paper accounts): balance, peak and day
  // marks, state, positions, open orders, counters, last bars. Closed orders, fills and trades are
  // not included (their owners store them). Restore() REQUIRES the same instruments added, in the
  // same order, to a fresh broker.
  nlohmann::json Snapshot() const;
  [[nodiscard]] Status Restore(const nlohmann::json& snapshot);
  // Forgets closed orders, fills, trades and risk events (after the caller stored them); open
  // orders, positions, balance and counters stay.
  void DropHistory();
  // Moves every order (in id order), fill, trade and risk event out (end of a run: no copies);
  // the broker keeps none of them afterwards.
  void MoveHistoryTo(std::vector<Order>* orders, std::vector<Fill>* fills,
                     std::vector<Trade>* trades, std::vector<RiskEvent>* risk_events);

 private:
  struct Quote {
    double bid_open, bid_high, bid_low, bid_close, spread;  // spread in price units
  };
  struct SymbolState {
    InstrumentSpec spec;
    market::Timeframe timeframe = market::Timeframe::kH1;
    Position position;
    std::vector<OrderId> open;  // working, ascending
    std::optional<market::Bar> last_bar;
  };
  enum class ReduceCause : uint8_t { kNone, kDailyLoss, kDrawdown };

  explicit SimulatedBroker(BrokerOptions options);
  Order& mut(OrderId id) { return orders_.find(id)->second; }
  Quote QuoteOf(const InstrumentSpec& spec, const market::Bar& bar) const;
  double ToAccount(const SymbolState& s, double quote_money, double price) const;
  double Commission(const SymbolState& s, double qty, double price) const;
  Status RiskCheck(const SymbolState& s, Side side, double qty, double price, bool reduce,
                   std::string* reason) const;
  double ReducibleQuantity(const SymbolState& s, Side side) const;
  void OpenPhase(int sym, const Quote& q, UnixNanos t);
  void RangePhase(int sym, const Quote& q, UnixNanos t);
  bool TryFillAtOpen(int sym, Order& o, const Quote& q, UnixNanos t);
  void ApplyFill(int sym, OrderId id, double price, FillKind kind, double slippage, const Quote& q,
                 UnixNanos t);
  void CreateBracket(int sym, const Order& entry, double qty, double price, FillKind kind,
                     UnixNanos t);
  void CloseOrder(Order& o, OrderStatus status, std::string reason, UnixNanos t);
  void PruneReduceOnly(int sym, UnixNanos t);
  void RemoveOpen(int sym, OrderId id);
  void Mark(int sym, const Quote& q);
  void RollDay(UnixNanos now);
  void ChargeSwap(int sym, const market::Bar& bar);
  void UpdateRisk(UnixNanos now);
  void SetState(TradingState to, ReduceCause cause, UnixNanos now, std::string reason);
  void Emit(BrokerEvent::Kind kind, UnixNanos t, const Order* o, const Fill* f = nullptr,
            const RiskEvent* r = nullptr);
  OrderId NewOrder(OrderRequest req, OrderStatus status, UnixNanos now);

  BrokerOptions options_;
  std::vector<SymbolState> symbols_;
  std::unordered_map<std::string, int> symbol_index_;
  std::map<OrderId, Order> orders_;
  std::vector<Fill> fills_;
  std::vector<Trade> trades_;
  std::vector<RiskEvent> risk_events_;
  std::vector<BrokerEvent> events_;
  Costs costs_;
  double balance_ = 0, equity_ = 0, peak_equity_ = 0, day_start_equity_ = 0;
  int64_t day_ = INT64_MIN;  // UTC day number of the last bar's close
  TradingState state_ = TradingState::kActive;
  ReduceCause cause_ = ReduceCause::kNone;
  std::string risk_reason_;  // reason of the latest state change (rejection messages)
  OrderId next_order_id_ = 1;
  int64_t next_fill_id_ = 1, next_trade_id_ = 1, next_seq_ = 1;
};

}  // namespace sinyal::backtest
