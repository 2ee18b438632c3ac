#include "backtest/broker.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>

#include "core/time.h"

namespace sinyal::backtest {
namespace {

constexpr double kQtyEps = 1e-9;

int64_t UtcDay(UnixNanos t) {
  int64_t d = t / kNanosPerDay;
  if (t % kNanosPerDay < 0) --d;
  return d;
}

std::string Money(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

std::string Pct(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f%%", v * 100);
  return buf;
}

bool Finite(double v) { return std::isfinite(v); }

}  // namespace

std::string_view BrokerEventKindName(BrokerEvent::Kind k) {
  switch (k) {
    case BrokerEvent::Kind::kOrderAccepted:
      return "order_accepted";
    case BrokerEvent::Kind::kOrderRejected:
      return "order_rejected";
    case BrokerEvent::Kind::kOrderCancelled:
      return "order_cancelled";
    case BrokerEvent::Kind::kOrderExpired:
      return "order_expired";
    case BrokerEvent::Kind::kOrderUpdated:
      return "order_updated";
    case BrokerEvent::Kind::kOrderFilled:
      return "order_filled";
    case BrokerEvent::Kind::kRiskState:
      return "risk_state";
  }
  return "unknown";
}

nlohmann::json ToJson(const BrokerEvent& e) {
  nlohmann::json j = {{"seq", e.seq},
                      {"type", BrokerEventKindName(e.kind)},
                      {"time", FormatIso8601(e.time)},
                      {"time_ns", e.time}};
  if (e.kind == BrokerEvent::Kind::kRiskState) {
    j["risk"] = {{"from", TradingStateName(e.risk.from)},
                 {"to", TradingStateName(e.risk.to)},
                 {"reason", e.risk.reason},
                 {"equity", e.risk.equity}};
  } else {
    j["order"] = ToJson(e.order);
  }
  if (e.fill) j["fill"] = ToJson(*e.fill);
  return j;
}

SimulatedBroker::SimulatedBroker(BrokerOptions options) : options_(std::move(options)) {
  balance_ = equity_ = peak_equity_ = day_start_equity_ = options_.initial_balance;
}

Result<SimulatedBroker> SimulatedBroker::Create(BrokerOptions options) {
  if (!Finite(options.initial_balance) || options.initial_balance <= 0) {
    return Status::InvalidArgument("initial_balance must be > 0", "initial_balance");
  }
  if (options.account_currency.size() != 3) {
    return Status::InvalidArgument("currency must be a 3-letter code such as USD", "currency");
  }
  SINYAL_RETURN_IF_ERROR(ValidateRiskLimits(options.risk));
  return SimulatedBroker(std::move(options));
}

Status SimulatedBroker::AddInstrument(const InstrumentSpec& spec, market::Timeframe timeframe) {
  if (symbol_index_.count(spec.symbol)) {
    return Status::InvalidArgument("symbol " + spec.symbol + " listed twice", "symbol");
  }
  auto nonneg = [](double v, const char* name) -> Status {
    if (!Finite(v) || v < 0) {
      return Status::InvalidArgument(
          std::string(name) + " must be a number >= 0, got " + std::to_string(v),
          std::string("costs.") + name);
    }
    return Status::Ok();
  };
  SINYAL_RETURN_IF_ERROR(nonneg(spec.spread_points, "spread_points"));
  SINYAL_RETURN_IF_ERROR(nonneg(spec.slippage_points, "slippage_points"));
  SINYAL_RETURN_IF_ERROR(nonneg(spec.commission_per_lot, "commission_per_lot"));
  SINYAL_RETURN_IF_ERROR(nonneg(spec.commission_rate, "commission_rate"));
  if (spec.commission_rate >= 0.1) {
    return Status::InvalidArgument("commission_rate is a fraction of the notional below 0.1",
                                   "costs.commission_rate");
  }
  if (!Finite(spec.swap_long_points) || !Finite(spec.swap_short_points)) {
    return Status::InvalidArgument("swap points must be finite", "costs.swap_long_points");
  }
  if (!Finite(spec.contract_size) || spec.contract_size <= 0 || !Finite(spec.lot_step) ||
      spec.lot_step <= 0) {
    return Status::InvalidArgument("contract_size and lot_step must be > 0", "contract_size");
  }
  SymbolState s;
  s.spec = spec;
  s.timeframe = timeframe;
  s.position.symbol = spec.symbol;
  symbol_index_[spec.symbol] = static_cast<int>(symbols_.size());
  symbols_.push_back(std::move(s));
  return Status::Ok();
}

int SimulatedBroker::SymbolIndex(std::string_view symbol) const {
  auto it = symbol_index_.find(std::string(symbol));
  return it == symbol_index_.end() ? -1 : it->second;
}

const Order* SimulatedBroker::order(OrderId id) const {
  auto it = orders_.find(id);
  return it == orders_.end() ? nullptr : &it->second;
}

double SimulatedBroker::ToAccount(const SymbolState& s, double quote_money, double price) const {
  return s.spec.divide_by_price ? quote_money / price : quote_money;
}

double SimulatedBroker::Commission(const SymbolState& s, double qty, double price) const {
  const double lots = qty / s.spec.contract_size;
  return lots * s.spec.commission_per_lot +
         s.spec.commission_rate * ToAccount(s, qty * price, price);
}

SimulatedBroker::Quote SimulatedBroker::QuoteOf(const InstrumentSpec& spec,
                                                const market::Bar& bar) const {
  const double points = spec.use_bar_spread && bar.spread() > 0 ? bar.spread() : spec.spread_points;
  const double spread = points * spec.point();
  const double shift = spec.bars_are_mid ? spread / 2 : 0;
  return Quote{bar.open() - shift, bar.high() - shift, bar.low() - shift, bar.close() - shift,
               spread};
}

double SimulatedBroker::ReducibleQuantity(const SymbolState& s, Side side) const {
  const double pos = s.position.quantity;
  return pos * Sign(side) < 0 ? std::abs(pos) : 0;
}

Status SimulatedBroker::RiskCheck(const SymbolState& s, Side side, double qty, double price,
                                  bool reduce, std::string* reason) const {
  if (state_ == TradingState::kHalted) {
    *reason = "risk: account halted (" + risk_reason_ + ")";
    return Status::FailedPrecondition(*reason, "risk");
  }
  const double reducible = ReducibleQuantity(s, side);
  const bool reduces = reducible > kQtyEps && qty <= reducible + kQtyEps;
  if (reduce || reduces) {
    if (reducible <= kQtyEps) {
      *reason = "reduce_only: no " + std::string(side == Side::kBuy ? "short" : "long") +
                " position in " + s.spec.symbol + " to reduce";
      return Status::FailedPrecondition(*reason, "reduce_only");
    }
    return Status::Ok();
  }
  if (state_ == TradingState::kReducing) {
    *reason = "risk: account reducing-only (" + risk_reason_ +
              "): only orders that reduce a position are accepted";
    return Status::FailedPrecondition(*reason, "risk");
  }
  const RiskLimits& l = options_.risk;
  const double new_qty = std::abs(s.position.quantity + Sign(side) * qty);
  if (l.max_position_units > 0 && new_qty > l.max_position_units + kQtyEps) {
    *reason = "risk: position of " + std::to_string(new_qty) + " units in " + s.spec.symbol +
              " would exceed max_position_units " + std::to_string(l.max_position_units);
    return Status::FailedPrecondition(*reason, "risk.max_position_units");
  }
  if (l.max_notional > 0 && price > 0) {
    const double order_notional = ToAccount(s, qty * price, price);
    const double pos_notional = ToAccount(s, new_qty * price, price);
    if (order_notional > l.max_notional + 1e-6 || pos_notional > l.max_notional + 1e-6) {
      *reason = "risk: notional " + Money(std::max(order_notional, pos_notional)) +
                " would exceed max_notional " + Money(l.max_notional);
      return Status::FailedPrecondition(*reason, "risk.max_notional");
    }
  }
  if (l.max_open_positions > 0 && std::abs(s.position.quantity) <= kQtyEps &&
      open_positions() >= l.max_open_positions) {
    *reason = "risk: " + std::to_string(open_positions()) +
              " positions open, max_open_positions is " + std::to_string(l.max_open_positions);
    return Status::FailedPrecondition(*reason, "risk.max_open_positions");
  }
  return Status::Ok();
}

OrderId SimulatedBroker::NewOrder(OrderRequest req, OrderStatus status, UnixNanos now) {
  Order o;
  o.id = next_order_id_++;
  o.request = std::move(req);
  o.status = status;
  o.created_at = o.updated_at = now;
  o.active_from = now;
  o.stop_price = o.request.type == OrderType::kStop ? o.request.price : 0;
  const OrderId id = o.id;
  orders_.emplace(id, std::move(o));
  return id;
}

Result<OrderId> SimulatedBroker::Submit(const OrderRequest& in, UnixNanos now) {
  const int sym = SymbolIndex(in.symbol);
  if (sym < 0) {
    return Status::InvalidArgument("symbol '" + in.symbol + "' is not traded by this account",
                                   "symbol");
  }
  SymbolState& s = symbols_[sym];
  OrderRequest req = in;
  if (!Finite(req.quantity) || req.quantity <= 0) {
    return Status::InvalidArgument("quantity must be > 0 units", "quantity");
  }
  const double step = s.spec.lot_step * s.spec.contract_size;
  req.quantity = std::floor(req.quantity / step + 1e-9) * step;
  if (req.quantity <= 0) {
    return Status::InvalidArgument(
        "quantity is below one lot step (" + std::to_string(step) + " units)", "quantity");
  }
  if (req.type == OrderType::kMarket) {
    if (req.price != 0) return Status::InvalidArgument("market orders take no price", "price");
  } else if (!Finite(req.price) || req.price <= 0) {
    return Status::InvalidArgument("limit and stop orders need a price > 0", "price");
  } else {
    req.price = s.spec.Round(req.price);
  }
  if (req.tif == TimeInForce::kGtd) {
    if (req.expire_at <= now) {
      return Status::InvalidArgument("a GTD order needs expire_at after now", "expire_at");
    }
  } else if (req.expire_at != 0) {
    return Status::InvalidArgument("expire_at is only for GTD orders", "expire_at");
  }
  for (auto [v, name] :
       {std::pair{req.stop_loss, "stop_loss"}, std::pair{req.take_profit, "take_profit"},
        std::pair{req.stop_loss_distance, "stop_loss_distance"},
        std::pair{req.take_profit_distance, "take_profit_distance"},
        std::pair{req.trailing_distance, "trailing_distance"}}) {
    if (!Finite(v) || v < 0)
      return Status::InvalidArgument(std::string(name) + " must be >= 0", name);
  }
  if (req.stop_loss > 0 && req.stop_loss_distance > 0) {
    return Status::InvalidArgument("give stop_loss or stop_loss_distance, not both", "stop_loss");
  }
  if (req.take_profit > 0 && req.take_profit_distance > 0) {
    return Status::InvalidArgument("give take_profit or take_profit_distance, not both",
                                   "take_profit");
  }
  const bool bracket = req.stop_loss > 0 || req.take_profit > 0 || req.stop_loss_distance > 0 ||
                       req.take_profit_distance > 0;
  if (bracket && req.reduce_only) {
    return Status::InvalidArgument("a reduce_only order can't carry a stop-loss/take-profit",
                                   "reduce_only");
  }
  if (req.trailing_distance > 0 && req.stop_loss <= 0 && req.stop_loss_distance <= 0) {
    return Status::InvalidArgument("a trailing stop needs a stop_loss or stop_loss_distance",
                                   "trailing_distance");
  }
  // Absolute bracket prices must lie on the right side of the entry's reference price.
  double ref =
      req.type == OrderType::kMarket ? (s.last_bar ? s.last_bar->close() : 0.0) : req.price;
  if (ref > 0) {
    const int dir = Sign(req.side);
    if (req.stop_loss > 0 && (req.stop_loss - ref) * dir >= 0) {
      return Status::InvalidArgument(std::string("stop_loss must be ") +
                                         (dir > 0 ? "below" : "above") + " the entry price " +
                                         std::to_string(ref),
                                     "stop_loss");
    }
    if (req.take_profit > 0 && (req.take_profit - ref) * dir <= 0) {
      return Status::InvalidArgument(std::string("take_profit must be ") +
                                         (dir > 0 ? "above" : "below") + " the entry price " +
                                         std::to_string(ref),
                                     "take_profit");
    }
  }
  if (req.tag.size() > 64) return Status::InvalidArgument("tag is longer than 64", "tag");

  // Well-formed: now the risk rules decide, and a refusal is recorded.
  const double est_price =
      req.type == OrderType::kMarket ? (s.last_bar ? s.last_bar->close() : 0.0) : req.price;
  std::string reason;
  Status risk = RiskCheck(s, req.side, req.quantity, est_price, req.reduce_only, &reason);
  if (!risk.ok()) {
    const OrderId id = NewOrder(std::move(req), OrderStatus::kRejected, now);
    Order& o = mut(id);
    o.reason = reason;
    Emit(BrokerEvent::Kind::kOrderRejected, now, &o);
    return id;
  }
  const OrderId id = NewOrder(std::move(req), OrderStatus::kWorking, now);
  s.open.push_back(id);
  Emit(BrokerEvent::Kind::kOrderAccepted, now, &mut(id));
  return id;
}

void SimulatedBroker::RemoveOpen(int sym, OrderId id) {
  auto& open = symbols_[sym].open;
  auto it = std::find(open.begin(), open.end(), id);
  if (it != open.end()) open.erase(it);
}

void SimulatedBroker::CloseOrder(Order& o, OrderStatus status, std::string reason, UnixNanos t) {
  o.status = status;
  o.reason = std::move(reason);
  o.updated_at = t;
  RemoveOpen(SymbolIndex(o.request.symbol), o.id);
  Emit(status == OrderStatus::kExpired ? BrokerEvent::Kind::kOrderExpired
                                       : BrokerEvent::Kind::kOrderCancelled,
       t, &o);
}

Status SimulatedBroker::Cancel(OrderId id, UnixNanos now, std::string reason) {
  auto it = orders_.find(id);
  if (it == orders_.end()) return Status::NotFound("no order " + std::to_string(id), "id");
  if (it->second.status != OrderStatus::kWorking) {
    return Status::FailedPrecondition(
        "order " + std::to_string(id) + " is " + std::string(OrderStatusName(it->second.status)),
        "status");
  }
  CloseOrder(it->second, OrderStatus::kCancelled, std::move(reason), now);
  return Status::Ok();
}

void SimulatedBroker::CloseAll(UnixNanos now, OrderRole role, const std::string& reason) {
  for (size_t i = 0; i < symbols_.size(); ++i) {
    SymbolState& s = symbols_[i];
    for (OrderId id : std::vector<OrderId>(s.open)) {
      Order& o = mut(id);
      if (!o.request.reduce_only) CloseOrder(o, OrderStatus::kCancelled, reason, now);
    }
    const double pos = s.position.quantity;
    if (std::abs(pos) <= kQtyEps) continue;
    // One market close per position is enough: skip when one is already working.
    bool pending_close = false;
    for (OrderId id : s.open) {
      const Order& o = mut(id);
      if (o.request.type == OrderType::kMarket && o.request.reduce_only &&
          o.request.quantity >= std::abs(pos) - kQtyEps) {
        pending_close = true;
      }
    }
    if (pending_close) continue;
    OrderRequest req;
    req.symbol = s.spec.symbol;
    req.side = pos > 0 ? Side::kSell : Side::kBuy;
    req.type = OrderType::kMarket;
    req.quantity = std::abs(pos);
    req.reduce_only = true;
    req.role = role;
    req.tag = reason.substr(0, 64);
    const OrderId id = NewOrder(std::move(req), OrderStatus::kWorking, now);
    s.open.push_back(id);
    Emit(BrokerEvent::Kind::kOrderAccepted, now, &mut(id));
  }
}

void SimulatedBroker::SettleAtLastClose(UnixNanos now) {
  CloseAll(now, OrderRole::kEndOfTest, "end of test");
  for (size_t i = 0; i < symbols_.size(); ++i) {
    SymbolState& s = symbols_[i];
    const int sym = static_cast<int>(i);
    if (s.last_bar) {
      Quote q = QuoteOf(s.spec, *s.last_bar);
      q.bid_open = q.bid_high = q.bid_low = q.bid_close;
      OpenPhase(sym, q, now);
      Mark(sym, q);
    }
    for (OrderId id : std::vector<OrderId>(s.open)) {
      CloseOrder(mut(id), OrderStatus::kCancelled, "end of test", now);
    }
  }
  peak_equity_ = std::max(peak_equity_, equity_);
}

int SimulatedBroker::open_positions() const {
  int n = 0;
  for (const auto& s : symbols_) n += std::abs(s.position.quantity) > kQtyEps;
  return n;
}

std::vector<Position> SimulatedBroker::OpenPositions() const {
  std::vector<Position> out;
  for (const auto& s : symbols_) {
    if (std::abs(s.position.quantity) > kQtyEps) out.push_back(s.position);
  }
  return out;
}

std::vector<OrderId> SimulatedBroker::OpenOrderIds() const {
  std::vector<OrderId> out;
  for (const auto& s : symbols_) out.insert(out.end(), s.open.begin(), s.open.end());
  std::sort(out.begin(), out.end());
  return out;
}

void SimulatedBroker::OnBar(int sym, const market::Bar& bar, UnixNanos now) {
  SymbolState& s = symbols_[sym];
  RollDay(now);
  ChargeSwap(sym, bar);
  for (OrderId id : std::vector<OrderId>(s.open)) {
    Order& o = mut(id);
    if (o.request.tif == TimeInForce::kGtd && o.request.expire_at <= bar.time()) {
      CloseOrder(o, OrderStatus::kExpired, "expired (GTD)", bar.time());
    }
  }
  const Quote q = QuoteOf(s.spec, bar);
  OpenPhase(sym, q, bar.time());
  for (OrderId id : std::vector<OrderId>(s.open)) {
    Order& o = mut(id);
    if (o.request.tif == TimeInForce::kIoc && o.created_at <= bar.time()) {
      CloseOrder(o, OrderStatus::kCancelled, "IOC: not filled at the open", bar.time());
    }
  }
  std::span<const market::Bar> minutes;
  if (options_.minute_bars) {
    minutes = options_.minute_bars(s.spec.symbol, bar.time(),
                                   bar.time() + market::TimeframeNanos(s.timeframe));
  }
  if (!minutes.empty()) {
    for (const market::Bar& m : minutes) {
      const Quote qm = QuoteOf(s.spec, m);
      if (m.time() > bar.time()) OpenPhase(sym, qm, m.time());
      RangePhase(sym, qm, m.time());
    }
  } else {
    RangePhase(sym, q, bar.time());
  }
  // Trailing stops follow the bar's extreme.
  const double pos = s.position.quantity;
  for (OrderId id : s.open) {
    Order& o = mut(id);
    if (o.request.trailing_distance <= 0 || o.request.type != OrderType::kStop) continue;
    double next = o.stop_price;
    if (pos > 0 && o.request.side == Side::kSell) {
      next = std::max(o.stop_price, s.spec.Round(q.bid_high - o.request.trailing_distance));
    } else if (pos < 0 && o.request.side == Side::kBuy) {
      next =
          std::min(o.stop_price, s.spec.Round(q.bid_low + q.spread + o.request.trailing_distance));
    }
    if (next != o.stop_price) {
      o.stop_price = next;
      o.updated_at = now;
      Emit(BrokerEvent::Kind::kOrderUpdated, now, &o);
    }
  }
  if (std::abs(s.position.quantity) > kQtyEps) ++s.position.bars_held;
  s.last_bar = bar;
  Mark(sym, q);
  UpdateRisk(now);
}

void SimulatedBroker::OpenPhase(int sym, const Quote& q, UnixNanos t) {
  SymbolState& s = symbols_[sym];
  // Restart after each fill: a fill changes the book (OCO, brackets, reduce-only pruning).
  for (size_t guard = 0; guard < 10000; ++guard) {
    bool filled = false;
    for (OrderId id : s.open) {
      Order& o = mut(id);
      if (o.created_at > t || o.active_from > t) continue;
      if (TryFillAtOpen(sym, o, q, t)) {
        filled = true;
        break;
      }
    }
    if (!filled) return;
  }
}

bool SimulatedBroker::TryFillAtOpen(int sym, Order& o, const Quote& q, UnixNanos t) {
  const InstrumentSpec& spec = symbols_[sym].spec;
  const double slip = spec.slippage_points * spec.point();
  const bool buy = o.request.side == Side::kBuy;
  const double open = buy ? q.bid_open + q.spread : q.bid_open;  // the side's price
  const double adverse = buy ? slip : -slip;
  switch (o.request.type) {
    case OrderType::kMarket:
      ApplyFill(sym, o.id, open + adverse, FillKind::kOpen, slip, q, t);
      return true;
    case OrderType::kStop:
      if (buy ? open >= o.stop_price : open <= o.stop_price) {
        ApplyFill(sym, o.id, open + adverse, FillKind::kOpen, slip, q, t);
        return true;
      }
      return false;
    case OrderType::kLimit:
      if (buy ? open <= o.request.price : open >= o.request.price) {
        ApplyFill(sym, o.id, open, FillKind::kOpen, 0, q, t);
        return true;
      }
      return false;
  }
  return false;
}

void SimulatedBroker::RangePhase(int sym, const Quote& q, UnixNanos t) {
  SymbolState& s = symbols_[sym];
  const double slip = s.spec.slippage_points * s.spec.point();
  const double ask_high = q.bid_high + q.spread, ask_low = q.bid_low + q.spread;
  for (size_t guard = 0; guard < 10000; ++guard) {
    OrderId hit = 0;
    double price = 0, slippage = 0;
    // Stops first (a bracket's stop-loss before its take-profit), then limits; id order within.
    for (OrderType pass : {OrderType::kStop, OrderType::kLimit}) {
      for (OrderId id : s.open) {
        const Order& o = mut(id);
        if (o.request.type != pass || o.created_at > t || o.active_from > t) continue;
        const bool buy = o.request.side == Side::kBuy;
        if (pass == OrderType::kStop) {
          if (buy && ask_high >= o.stop_price) {
            price = std::min(o.stop_price + slip, ask_high);
          } else if (!buy && q.bid_low <= o.stop_price) {
            price = std::max(o.stop_price - slip, q.bid_low);
          } else {
            continue;
          }
          slippage = std::abs(price - o.stop_price);
        } else {
          if (buy ? ask_low <= o.request.price : q.bid_high >= o.request.price) {
            price = o.request.price;
            slippage = 0;
          } else {
            continue;
          }
        }
        hit = id;
        break;
      }
      if (hit) break;
    }
    if (!hit) return;
    ApplyFill(sym, hit, price, FillKind::kTouch, slippage, q, t);
  }
}

void SimulatedBroker::ApplyFill(int sym, OrderId id, double price, FillKind kind, double slippage,
                                const Quote& q, UnixNanos t) {
  SymbolState& s = symbols_[sym];
  Order& o = mut(id);
  price = s.spec.Round(price);
  const Side side = o.request.side;
  double qty = o.request.quantity - o.filled_quantity;
  const double reducible = ReducibleQuantity(s, side);
  const bool reduce_only = o.request.reduce_only || state_ != TradingState::kActive;
  if (reduce_only) {
    if (reducible <= kQtyEps) {
      CloseOrder(o, OrderStatus::kCancelled,
                 o.request.reduce_only ? "reduce_only: no position to reduce"
                                       : "risk: account " + std::string(TradingStateName(state_)) +
                                             ": order would open exposure",
                 t);
      return;
    }
    qty = std::min(qty, reducible);
  } else if (qty > reducible + kQtyEps) {
    std::string reason;
    if (!RiskCheck(s, side, qty, price, false, &reason).ok()) {
      CloseOrder(o, OrderStatus::kCancelled, reason, t);
      return;
    }
  }

  Fill f;
  f.id = next_fill_id_++;
  f.order_id = id;
  f.symbol = s.spec.symbol;
  f.side = side;
  f.role = o.request.role;
  f.kind = kind;
  f.quantity = qty;
  f.price = price;
  f.time = t;
  f.commission = Commission(s, qty, price);
  f.spread_cost = ToAccount(s, q.spread / 2 * qty, price);
  f.slippage_cost = ToAccount(s, slippage * qty, price);

  Position& p = s.position;
  const double closing = std::min(qty, reducible);
  if (closing > kQtyEps) {
    const int dir = p.quantity > 0 ? 1 : -1;
    const double share = closing / std::abs(p.quantity);
    const double gross = ToAccount(s, (price - p.avg_price) * closing * dir, price);
    const double entry_comm = p.entry_commission * share;
    const double swap = p.swap * share;
    const double risk = p.initial_risk * share;
    p.entry_commission -= entry_comm;
    p.swap -= swap;
    p.initial_risk -= risk;
    Trade tr;
    tr.id = next_trade_id_++;
    tr.symbol = s.spec.symbol;
    tr.side = dir > 0 ? Side::kBuy : Side::kSell;
    tr.quantity = closing;
    tr.entry_time = p.opened_at;
    tr.exit_time = t;
    tr.entry_price = p.avg_price;
    tr.exit_price = price;
    tr.gross_pnl = gross;
    tr.commission = entry_comm + f.commission * closing / qty;
    tr.swap = swap;
    tr.net_pnl = gross - tr.commission + swap;
    tr.r_multiple = risk > 0 ? tr.net_pnl / risk : 0;
    tr.bars_held = p.bars_held;
    tr.exit_role = o.request.role;
    trades_.push_back(std::move(tr));
    balance_ += gross;
    f.realized_pnl = gross;
    p.quantity -= dir * closing;
    if (std::abs(p.quantity) <= kQtyEps) {
      p = Position{};
      p.symbol = s.spec.symbol;
    }
  }
  const double opening = qty - closing;
  if (opening > kQtyEps) {
    if (std::abs(p.quantity) <= kQtyEps) {
      p.quantity = Sign(side) * opening;
      p.avg_price = price;
      p.opened_at = t;
      p.bars_held = 0;
    } else {
      const double held = std::abs(p.quantity);
      p.avg_price = (p.avg_price * held + price * opening) / (held + opening);
      p.quantity += Sign(side) * opening;
    }
    p.entry_commission += f.commission * opening / qty;
  }
  balance_ -= f.commission;
  costs_.commission += f.commission;
  costs_.spread += f.spread_cost;
  costs_.slippage += f.slippage_cost;

  o.filled_quantity += qty;
  o.fill_price = price;
  o.status = OrderStatus::kFilled;
  o.updated_at = t;
  if (qty < o.request.quantity - kQtyEps) o.reason = "reduce_only: clipped to the position";
  RemoveOpen(sym, id);
  fills_.push_back(f);
  Emit(BrokerEvent::Kind::kOrderFilled, t, &o, &fills_.back());

  if (o.oco) {
    auto sib = orders_.find(o.oco);
    if (sib != orders_.end() && sib->second.status == OrderStatus::kWorking) {
      CloseOrder(sib->second, OrderStatus::kCancelled,
                 "oco: " + std::string(OrderRoleName(o.request.role)) + " filled", t);
    }
  }
  if (opening > kQtyEps) CreateBracket(sym, mut(id), opening, price, kind, t);
  PruneReduceOnly(sym, t);
  // The fill moves the mark of this symbol's position at once (equity is recomputed at the mark).
}

void SimulatedBroker::CreateBracket(int sym, const Order& entry, double qty, double price,
                                    FillKind kind, UnixNanos t) {
  SymbolState& s = symbols_[sym];
  const OrderRequest& r = entry.request;
  const int dir = Sign(r.side);
  double sl = r.stop_loss > 0 ? r.stop_loss
                              : (r.stop_loss_distance > 0 ? price - dir * r.stop_loss_distance : 0);
  double tp = r.take_profit > 0
                  ? r.take_profit
                  : (r.take_profit_distance > 0 ? price + dir * r.take_profit_distance : 0);
  if (sl <= 0 && tp <= 0) return;
  const OrderId entry_id = entry.id;
  const std::string tag = r.tag;
  const double trailing = r.trailing_distance;
  auto child = [&](OrderType type, double px, OrderRole role) {
    OrderRequest c;
    c.symbol = s.spec.symbol;
    c.side = Opposite(r.side);
    c.type = type;
    c.quantity = qty;
    c.price = s.spec.Round(px);
    c.tif = TimeInForce::kGtc;
    c.reduce_only = true;
    c.role = role;
    c.tag = tag;
    if (role == OrderRole::kStopLoss) c.trailing_distance = trailing;
    const OrderId id = NewOrder(std::move(c), OrderStatus::kWorking, t);
    Order& o = mut(id);
    o.parent = entry_id;
    // Activated inside the bar: the stop may still trigger in it, the take-profit may not.
    if (kind == FillKind::kTouch && type == OrderType::kLimit) o.active_from = t + 1;
    s.open.push_back(id);
    return id;
  };
  OrderId sl_id = 0, tp_id = 0;
  if (sl > 0) {
    sl_id = child(OrderType::kStop, sl, OrderRole::kStopLoss);
    s.position.initial_risk += ToAccount(s, std::abs(price - s.spec.Round(sl)) * qty, price);
  }
  if (tp > 0) tp_id = child(OrderType::kLimit, tp, OrderRole::kTakeProfit);
  if (sl_id && tp_id) {
    mut(sl_id).oco = tp_id;
    mut(tp_id).oco = sl_id;
  }
  if (sl_id) Emit(BrokerEvent::Kind::kOrderAccepted, t, &mut(sl_id));
  if (tp_id) Emit(BrokerEvent::Kind::kOrderAccepted, t, &mut(tp_id));
}

void SimulatedBroker::PruneReduceOnly(int sym, UnixNanos t) {
  SymbolState& s = symbols_[sym];
  for (OrderId id : std::vector<OrderId>(s.open)) {
    Order& o = mut(id);
    if (!o.request.reduce_only) continue;
    if (ReducibleQuantity(s, o.request.side) <= kQtyEps) {
      CloseOrder(o, OrderStatus::kCancelled, "position closed", t);
    }
  }
}

void SimulatedBroker::Mark(int sym, const Quote& q) {
  SymbolState& s = symbols_[sym];
  Position& p = s.position;
  if (std::abs(p.quantity) > kQtyEps) {
    p.mark_price = p.quantity > 0 ? q.bid_close : q.bid_close + q.spread;
    p.unrealized_pnl = ToAccount(s, (p.mark_price - p.avg_price) * p.quantity, p.mark_price);
  } else {
    p.mark_price = 0;
    p.unrealized_pnl = 0;
  }
  double unrealized = 0;
  for (const auto& x : symbols_) unrealized += x.position.unrealized_pnl;
  equity_ = balance_ + unrealized;
}

void SimulatedBroker::RollDay(UnixNanos now) {
  const int64_t day = UtcDay(now);
  if (day == day_) return;
  day_ = day;
  day_start_equity_ = equity_;
  if (state_ == TradingState::kReducing && cause_ == ReduceCause::kDailyLoss) {
    SetState(TradingState::kActive, ReduceCause::kNone, now,
             "new UTC day: the daily loss limit starts again");
  }
}

void SimulatedBroker::ChargeSwap(int sym, const market::Bar& bar) {
  SymbolState& s = symbols_[sym];
  Position& p = s.position;
  if (!s.last_bar || std::abs(p.quantity) <= kQtyEps) return;
  const int64_t nights = UtcDay(bar.time()) - UtcDay(s.last_bar->time());
  if (nights <= 0) return;
  const double points = p.quantity > 0 ? s.spec.swap_long_points : s.spec.swap_short_points;
  if (points == 0) return;
  const double money =
      ToAccount(s, points * s.spec.point() * std::abs(p.quantity), bar.open()) * nights;
  balance_ += money;
  p.swap += money;
  costs_.swap += money;
}

void SimulatedBroker::UpdateRisk(UnixNanos now) {
  peak_equity_ = std::max(peak_equity_, equity_);
  if (state_ == TradingState::kHalted) return;
  const RiskLimits& l = options_.risk;
  if (l.max_drawdown > 0 && cause_ != ReduceCause::kDrawdown &&
      equity_ <= peak_equity_ * (1 - l.max_drawdown)) {
    SetState(TradingState::kReducing, ReduceCause::kDrawdown, now,
             "max_drawdown " + Pct(l.max_drawdown) + " reached: equity " + Money(equity_) +
                 " vs peak " + Money(peak_equity_));
    if (l.flatten_on_breach) CloseAll(now, OrderRole::kLiquidation, "risk: max_drawdown");
  } else if (l.max_daily_loss > 0 && state_ == TradingState::kActive &&
             equity_ <= day_start_equity_ * (1 - l.max_daily_loss)) {
    SetState(TradingState::kReducing, ReduceCause::kDailyLoss, now,
             "max_daily_loss " + Pct(l.max_daily_loss) + " reached: equity " + Money(equity_) +
                 " vs day start " + Money(day_start_equity_));
    if (l.flatten_on_breach) CloseAll(now, OrderRole::kLiquidation, "risk: max_daily_loss");
  }
  if (state_ == TradingState::kReducing && cause_ == ReduceCause::kDrawdown &&
      open_positions() == 0) {
    SetState(TradingState::kHalted, ReduceCause::kDrawdown, now,
             "flat after the max_drawdown breach: no more orders until reset");
  }
}

void SimulatedBroker::SetState(TradingState to, ReduceCause cause, UnixNanos now,
                               std::string reason) {
  RiskEvent ev{now, state_, to, std::move(reason), equity_};
  risk_reason_ = ev.reason;
  state_ = to;
  cause_ = cause;
  risk_events_.push_back(ev);
  Emit(BrokerEvent::Kind::kRiskState, now, nullptr, nullptr, &risk_events_.back());
}

void SimulatedBroker::Emit(BrokerEvent::Kind kind, UnixNanos t, const Order* o, const Fill* f,
                           const RiskEvent* r) {
  if (!options_.record_events) return;
  BrokerEvent e;
  e.seq = next_seq_++;
  e.kind = kind;
  e.time = t;
  if (o) e.order = *o;
  if (f) e.fill = *f;
  if (r) e.risk = *r;
  events_.push_back(std::move(e));
}

std::vector<BrokerEvent> SimulatedBroker::TakeEvents() {
  std::vector<BrokerEvent> out;
  out.swap(events_);
  return out;
}

void SimulatedBroker::DropHistory() {
  for (auto it = orders_.begin(); it != orders_.end();) {
    it = it->second.status == OrderStatus::kWorking ? std::next(it) : orders_.erase(it);
  }
  fills_.clear();
  trades_.clear();
  risk_events_.clear();
}

void SimulatedBroker::MoveHistoryTo(std::vector<Order>* orders, std::vector<Fill>* fills,
                                    std::vector<Trade>* trades,
                                    std::vector<RiskEvent>* risk_events) {
  orders->clear();
  orders->reserve(orders_.size());
  for (auto& [id, o] : orders_) orders->push_back(std::move(o));
  orders_.clear();
  for (auto& s : symbols_) s.open.clear();
  *fills = std::move(fills_);
  *trades = std::move(trades_);
  *risk_events = std::move(risk_events_);
  fills_.clear();
  trades_.clear();
  risk_events_.clear();
}

nlohmann::json SimulatedBroker::Snapshot() const {
  nlohmann::json j;
  j["version"] = 1;
  j["balance"] = balance_;
  j["equity"] = equity_;
  j["peak_equity"] = peak_equity_;
  j["day_start_equity"] = day_start_equity_;
  j["day"] = day_;
  j["state"] = TradingStateName(state_);
  j["cause"] = static_cast<int>(cause_);
  j["next_order_id"] = next_order_id_;
  j["next_fill_id"] = next_fill_id_;
  j["next_trade_id"] = next_trade_id_;
  j["next_seq"] = next_seq_;
  j["costs"] = {{"commission", costs_.commission},
                {"spread", costs_.spread},
                {"slippage", costs_.slippage},
                {"swap", costs_.swap}};
  j["risk_reason"] = risk_reason_;
  nlohmann::json syms = nlohmann::json::array();
  for (const auto& s : symbols_) {
    nlohmann::json js = {{"symbol", s.spec.symbol}, {"position", ToJson(s.position)}};
    nlohmann::json open = nlohmann::json::array();
    for (OrderId id : s.open) open.push_back(ToJson(orders_.at(id)));
    js["open_orders"] = std::move(open);
    if (s.last_bar) {
      const auto& b = *s.last_bar;
      js["last_bar"] = {b.time(),  b.open(),   b.high(),   b.low(),
                        b.close(), b.volume(), b.spread(), b.real_volume()};
    }
    syms.push_back(std::move(js));
  }
  j["symbols"] = std::move(syms);
  return j;
}

Status SimulatedBroker::Restore(const nlohmann::json& j) {
  try {
    if (j.at("version").get<int>() != 1) {
      return Status::InvalidArgument("unknown snapshot version", "snapshot");
    }
    const auto& syms = j.at("symbols");
    if (syms.size() != symbols_.size()) {
      return Status::InvalidArgument("snapshot has other instruments", "snapshot");
    }
    balance_ = j.at("balance").get<double>();
    equity_ = j.at("equity").get<double>();
    peak_equity_ = j.at("peak_equity").get<double>();
    day_start_equity_ = j.at("day_start_equity").get<double>();
    day_ = j.at("day").get<int64_t>();
    SINYAL_ASSIGN_OR_RETURN(state_, ParseTradingState(j.at("state").get<std::string>()));
    cause_ = static_cast<ReduceCause>(j.at("cause").get<int>());
    next_order_id_ = j.at("next_order_id").get<int64_t>();
    next_fill_id_ = j.at("next_fill_id").get<int64_t>();
    next_trade_id_ = j.at("next_trade_id").get<int64_t>();
    next_seq_ = j.at("next_seq").get<int64_t>();
    const auto& c = j.at("costs");
    costs_ = {c.at("commission").get<double>(), c.at("spread").get<double>(),
              c.at("slippage").get<double>(), c.at("swap").get<double>()};
    orders_.clear();
    for (size_t i = 0; i < symbols_.size(); ++i) {
      const auto& js = syms[i];
      SymbolState& s = symbols_[i];
      if (js.at("symbol").get<std::string>() != s.spec.symbol) {
        return Status::InvalidArgument("snapshot instruments are in another order", "snapshot");
      }
      SINYAL_ASSIGN_OR_RETURN(s.position, PositionFromJson(js.at("position")));
      s.open.clear();
      for (const auto& jo : js.at("open_orders")) {
        SINYAL_ASSIGN_OR_RETURN(Order o, OrderFromJson(jo));
        s.open.push_back(o.id);
        orders_.emplace(o.id, std::move(o));
      }
      s.last_bar.reset();
      if (js.contains("last_bar")) {
        const auto& b = js.at("last_bar");
        SINYAL_ASSIGN_OR_RETURN(
            market::Bar bar,
            market::Bar::Create(b[0].get<int64_t>(), b[1].get<double>(), b[2].get<double>(),
                                b[3].get<double>(), b[4].get<double>(), b[5].get<double>(),
                                b[6].get<int32_t>(), b[7].get<double>()));
        s.last_bar = bar;
      }
    }
    fills_.clear();
    trades_.clear();
    risk_events_.clear();
    events_.clear();
    risk_reason_ = j.at("risk_reason").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("malformed snapshot: ") + e.what(), "snapshot");
  }
  return Status::Ok();
}

}  // namespace sinyal::backtest
