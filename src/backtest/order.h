// Orders, fills, positions and closed trades of the simulated broker (broker.h), and the
// per-instrument trading terms (contract size, costs) that price them.
//
// Units. Quantities are in units of the base asset (EURUSD: euros; XAUUSD: troy ounces); a lot is
// InstrumentSpec::contract_size units. Prices are quotes of the instrument (doubles, rounded to
// its point, see market/bar.h for why prices are doubles). Money (P&L, commission, balance) is in
// the account currency, as a double; every money figure is computed by one function of
// broker.cc (ToAccount) so the conversion rule lives once.
//
// Thread safety: value types.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/status.h"

namespace sinyal::backtest {

enum class Side : int8_t { kBuy = 1, kSell = -1 };
enum class OrderType : uint8_t {
  kMarket,  // fills at the next bar's open (ask for buys, bid for sells) +/- slippage
  kLimit,   // buy at or below / sell at or above `price`
  kStop,    // stop-market: buy when the ask reaches `price` / sell when the bid falls to it
};
enum class TimeInForce : uint8_t {
  kGtc,  // good till cancelled
  kGtd,  // good till `expire_at` (cancelled as expired at the first bar opening at/after it)
  kIoc,  // immediate or cancel: fills at the open of the next bar or is cancelled
};
enum class OrderStatus : uint8_t {
  kWorking,  // accepted, resting until it fills, is cancelled or expires
  kFilled,
  kCancelled,
  kExpired,
  kRejected,  // refused at submission (validation or risk); never worked
};
// Why an order exists; kept on fills and trades (exit reasons).
enum class OrderRole : uint8_t {
  kEntry,        // opens or adds to a position (strategy or manual)
  kExit,         // strategy exit (opposite signal, neutral, holding period)
  kStopLoss,     // bracket child
  kTakeProfit,   // bracket child
  kManual,       // a user's order (paper accounts)
  kLiquidation,  // risk flattening after a breach
  kEndOfTest,    // closing what is open when a backtest ends
};

std::string_view SideName(Side s);                // "buy", "sell"
std::string_view OrderTypeName(OrderType t);      // "market", "limit", "stop"
std::string_view TimeInForceName(TimeInForce t);  // "gtc", "gtd", "ioc"
std::string_view OrderStatusName(OrderStatus s);  // "working", "filled", "cancelled", ...
std::string_view OrderRoleName(OrderRole r);      // "entry", "exit", "stop_loss", ...
[[nodiscard]] Result<Side> ParseSide(std::string_view text);
[[nodiscard]] Result<OrderType> ParseOrderType(std::string_view text);
[[nodiscard]] Result<TimeInForce> ParseTimeInForce(std::string_view text);
[[nodiscard]] Result<OrderStatus> ParseOrderStatus(std::string_view text);
[[nodiscard]] Result<OrderRole> ParseOrderRole(std::string_view text);
inline int Sign(Side s) { return static_cast<int>(s); }
inline Side Opposite(Side s) { return s == Side::kBuy ? Side::kSell : Side::kBuy; }

using OrderId = int64_t;

// What a caller submits. Validation (broker.h Submit) names the field at fault.
struct OrderRequest {
  std::string symbol;
  Side side = Side::kBuy;
  OrderType type = OrderType::kMarket;
  double quantity = 0;  // units, > 0; rounded down to the instrument's lot step
  double price = 0;     // limit price or stop trigger; must be 0 for market orders
  TimeInForce tif = TimeInForce::kGtc;
  UnixNanos expire_at = 0;   // kGtd only: > the submission time
  bool reduce_only = false;  // may only shrink a position; clipped to it, cancelled when flat
  // Entry bracket: a stop-loss (stop) and a take-profit (limit), reduce-only and one-cancels-the-
  // other, created when the entry fills (so an EA mirroring the account sees them then). Either an absolute
  // price or a distance from the entry's fill price (price units, > 0); 0 = none.
  double stop_loss = 0, take_profit = 0;
  double stop_loss_distance = 0, take_profit_distance = 0;
  // Trailing stop-loss: the stop follows the best price by this distance (price units, > 0;
  // 0 = fixed stop). Needs a stop-loss (price or distance).
  double trailing_distance = 0;
  OrderRole role = OrderRole::kEntry;
  std::string tag;  // free text, <= 64 chars (e.g. the signal id)
};

struct Order {
  OrderId id = 0;
  OrderRequest request;
  OrderStatus status = OrderStatus::kWorking;
  OrderId parent = 0;  // the entry of a bracket child
  OrderId oco = 0;     // the other child of a bracket (cancelled when this one fills)
  UnixNanos created_at = 0, updated_at = 0;
  double filled_quantity = 0;
  double fill_price = 0;  // 0 until filled
  double stop_price = 0;  // for stops: the current trigger (moves when trailing)
  std::string reason;     // why rejected / cancelled / expired; empty otherwise
  // Set when activated by a fill inside a bar (not at its open): a take-profit activated that way
  // may not fill in the same bar (we can't know whether the extreme came before the entry).
  UnixNanos active_from = 0;
};

// How a fill was priced. kOpen: at the bar's open (market order, or a resting order the open
// gapped through); kTouch: at the order's price, reached inside the bar.
enum class FillKind : uint8_t { kOpen, kTouch };
std::string_view FillKindName(FillKind k);  // "open", "touch"

struct Fill {
  int64_t id = 0;
  OrderId order_id = 0;
  std::string symbol;
  Side side = Side::kBuy;
  OrderRole role = OrderRole::kEntry;
  FillKind kind = FillKind::kOpen;
  double quantity = 0;       // units
  double price = 0;          // executed price (ask for buys, bid for sells, incl. slippage)
  double commission = 0;     // account currency, >= 0
  double spread_cost = 0;    // half the spread x quantity, account currency (attribution only)
  double slippage_cost = 0;  // |slippage| x quantity, account currency (attribution only)
  double realized_pnl = 0;   // gross P&L of the part that closed a position, account currency
  UnixNanos time = 0;        // open time of the bar (or M1 bar) the fill happened in
  friend bool operator==(const Fill&, const Fill&) = default;
};

// One netted position per symbol. quantity > 0 long, < 0 short.
struct Position {
  std::string symbol;
  double quantity = 0;
  double avg_price = 0;
  UnixNanos opened_at = 0;
  double entry_commission = 0;  // commission of the entries not yet attributed to closed trades
  double swap = 0;              // swap accrued since opening, not yet attributed
  double initial_risk = 0;      // |entry - stop-loss| x quantity at entry (account ccy); 0 = none
  double mark_price = 0;        // price it was last marked at (bid for long, ask for short)
  double unrealized_pnl = 0;    // at mark_price, account currency
  int64_t bars_held = 0;
};

// A closed trade: each reduction of a position is one trade (a partial close is a trade of its
// own, with its share of the entry commission and swap).
struct Trade {
  int64_t id = 0;
  std::string symbol;
  Side side = Side::kBuy;  // of the position: kBuy = long
  double quantity = 0;
  UnixNanos entry_time = 0, exit_time = 0;
  double entry_price = 0, exit_price = 0;
  double gross_pnl = 0;   // price move x quantity, account currency
  double commission = 0;  // entry share + exit
  double swap = 0;        // share of the accrued swap (negative = paid)
  double net_pnl = 0;     // gross - commission + swap
  double r_multiple = 0;  // net_pnl / initial risk; 0 when there was no stop
  int64_t bars_held = 0;
  OrderRole exit_role = OrderRole::kExit;
};

// Trading terms and costs of one instrument.
struct InstrumentSpec {
  std::string symbol;
  int digits = 5;                 // decimals of a quote; point = 10^-digits
  double contract_size = 100000;  // units per lot (FX 100,000; XAUUSD 100 oz)
  double lot_step = 0.01;         // lots; quantities are rounded down to a multiple
  // The bar prices are bids (MT5 exports: ask = bid + spread) or mids (ask/bid = mid +/- half).
  bool bars_are_mid = false;
  double spread_points = 0;       // used when a bar has no spread (0) or use_bar_spread is false
  bool use_bar_spread = true;     // take the bar's spread column when it is > 0
  double slippage_points = 0;     // adverse, on market and stop fills (not limits)
  double commission_per_lot = 0;  // account currency per lot per side
  double commission_rate = 0;     // fraction of the notional per side
  double swap_long_points = 0;    // per lot per night, in points (negative = paid)
  double swap_short_points = 0;
  // How quote-currency money becomes account money: 1 when the quote currency is the account's
  // (EURUSD, XAUUSD for a USD account); when the base is the account's (USDJPY), divide by the
  // price. Set by SpecFor().
  bool divide_by_price = false;

  double point() const;
  // Rounds a price to the instrument's point.
  double Round(double price) const;
};

// The default terms of a symbol for an account currency: digits given; contract size 100 for XAU,
// 5,000 for XAG, 100,000 for 6-letter FX pairs, 1 otherwise; divide_by_price when the symbol
// starts with the account currency. InvalidArgument ("symbol") when neither the base nor the
// quote is the account currency (no conversion rate available).
[[nodiscard]] Result<InstrumentSpec> SpecFor(const std::string& symbol, int digits,
                                             const std::string& account_currency);

// JSON forms (API, reports, snapshots). Times as UnixNanos integers ("*_ns") and ISO-8601 text.
nlohmann::json ToJson(const OrderRequest& r);
nlohmann::json ToJson(const Order& o);
nlohmann::json ToJson(const Fill& f);
nlohmann::json ToJson(const Position& p);
nlohmann::json ToJson(const Trade& t);
// Inverses of the above (snapshots and stored rows). InvalidArgument naming the field.
[[nodiscard]] Result<Order> OrderFromJson(const nlohmann::json& j);
[[nodiscard]] Result<Fill> FillFromJson(const nlohmann::json& j);
[[nodiscard]] Result<Position> PositionFromJson(const nlohmann::json& j);
[[nodiscard]] Result<Trade> TradeFromJson(const nlohmann::json& j);

}  // namespace sinyal::backtest
