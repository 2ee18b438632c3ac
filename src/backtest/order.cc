#include "backtest/order.h"

#include <array>
#include <cmath>
#include <utility>

#include "core/time.h"

namespace sinyal::backtest {
namespace {

template <typename E, size_t N>
Result<E> ParseName(std::string_view text,
                    const std::array<std::pair<E, std::string_view>, N>& names, const char* field) {
  for (const auto& [value, name] : names) {
    if (name == text) return value;
  }
  std::string accepted;
  for (const auto& [value, name] : names) {
    if (!accepted.empty()) accepted += ", ";
    accepted += name;
  }
  std::string msg = "'";
  msg.append(text);
  msg.append("' is not one of: ");
  msg.append(accepted);
  return Status::InvalidArgument(std::move(msg), field);
}

template <typename E, size_t N>
std::string_view NameOf(E v, const std::array<std::pair<E, std::string_view>, N>& names) {
  for (const auto& [value, name] : names) {
    if (value == v) return name;
  }
  return "unknown";
}

constexpr std::array<std::pair<Side, std::string_view>, 2> kSides{
    {{Side::kBuy, "buy"}, {Side::kSell, "sell"}}};
constexpr std::array<std::pair<OrderType, std::string_view>, 3> kTypes{
    {{OrderType::kMarket, "market"}, {OrderType::kLimit, "limit"}, {OrderType::kStop, "stop"}}};
constexpr std::array<std::pair<TimeInForce, std::string_view>, 3> kTifs{
    {{TimeInForce::kGtc, "gtc"}, {TimeInForce::kGtd, "gtd"}, {TimeInForce::kIoc, "ioc"}}};
constexpr std::array<std::pair<OrderStatus, std::string_view>, 5> kStatuses{
    {{OrderStatus::kWorking, "working"},
     {OrderStatus::kFilled, "filled"},
     {OrderStatus::kCancelled, "cancelled"},
     {OrderStatus::kExpired, "expired"},
     {OrderStatus::kRejected, "rejected"}}};
constexpr std::array<std::pair<OrderRole, std::string_view>, 7> kRoles{
    {{OrderRole::kEntry, "entry"},
     {OrderRole::kExit, "exit"},
     {OrderRole::kStopLoss, "stop_loss"},
     {OrderRole::kTakeProfit, "take_profit"},
     {OrderRole::kManual, "manual"},
     {OrderRole::kLiquidation, "liquidation"},
     {OrderRole::kEndOfTest, "end_of_test"}}};

bool AllAlpha(std::string_view s) {
  for (char c : s) {
    if (c < 'A' || c > 'Z') return false;
  }
  return true;
}

}  // namespace

std::string_view SideName(Side s) { return NameOf(s, kSides); }
std::string_view OrderTypeName(OrderType t) { return NameOf(t, kTypes); }
std::string_view TimeInForceName(TimeInForce t) { return NameOf(t, kTifs); }
std::string_view OrderStatusName(OrderStatus s) { return NameOf(s, kStatuses); }
std::string_view OrderRoleName(OrderRole r) { return NameOf(r, kRoles); }
std::string_view FillKindName(FillKind k) { return k == FillKind::kOpen ? "open" : "touch"; }
Result<Side> ParseSide(std::string_view text) { return ParseName(text, kSides, "side"); }
Result<OrderType> ParseOrderType(std::string_view text) { return ParseName(text, kTypes, "type"); }
Result<TimeInForce> ParseTimeInForce(std::string_view text) {
  return ParseName(text, kTifs, "time_in_force");
}
Result<OrderStatus> ParseOrderStatus(std::string_view text) {
  return ParseName(text, kStatuses, "status");
}
Result<OrderRole> ParseOrderRole(std::string_view text) { return ParseName(text, kRoles, "role"); }

double InstrumentSpec::point() const { return std::pow(10.0, -digits); }

double InstrumentSpec::Round(double price) const {
  // Bid-based quotes are whole points; mid-based ones may sit on half points (mid +/- half spread).
  const double tick = bars_are_mid ? point() / 2 : point();
  return std::round(price / tick) * tick;
}

Result<InstrumentSpec> SpecFor(const std::string& symbol, int digits,
                               const std::string& account_currency) {
  if (digits < 0 || digits > 10) return Status::InvalidArgument("digits must be 0..10", "digits");
  InstrumentSpec spec;
  spec.symbol = symbol;
  spec.digits = digits;
  if (symbol.size() == 6 && AllAlpha(symbol)) {
    const std::string base = symbol.substr(0, 3), quote = symbol.substr(3);
    if (base == "XAU") {
      spec.contract_size = 100;
    } else if (base == "XAG") {
      spec.contract_size = 5000;
    } else {
      spec.contract_size = 100000;
    }
    if (quote == account_currency) {
      spec.divide_by_price = false;
    } else if (base == account_currency) {
      spec.divide_by_price = true;
    } else {
      return Status::InvalidArgument("no conversion from " + quote + " to the account currency " +
                                         account_currency + " for " + symbol +
                                         " (only pairs quoted in, or based on, it are supported)",
                                     "symbol");
    }
  } else {
    // Indices and CFDs (US500, DXY): one unit per lot, quoted in the account currency.
    spec.contract_size = 1;
    spec.lot_step = 1;
  }
  return spec;
}

namespace {

// Reads j[key] into *out; InvalidArgument naming the key when missing or of the wrong type.
template <typename T>
Status Read(const nlohmann::json& j, const char* key, T* out) {
  auto it = j.find(key);
  if (it == j.end()) return Status::InvalidArgument(std::string("missing ") + key, key);
  try {
    *out = it->get<T>();
  } catch (const nlohmann::json::exception&) {
    return Status::InvalidArgument(std::string("wrong type for ") + key, key);
  }
  return Status::Ok();
}

template <typename E>
Status ReadEnum(const nlohmann::json& j, const char* key, Result<E> (*parse)(std::string_view),
                E* out) {
  std::string text;
  SINYAL_RETURN_IF_ERROR(Read(j, key, &text));
  auto v = parse(text);
  if (!v.ok()) return v.error().WithField(key);
  *out = *v;
  return Status::Ok();
}

nlohmann::json Time(UnixNanos t) {
  return t == 0 ? nlohmann::json(nullptr) : nlohmann::json(FormatIso8601(t));
}

}  // namespace

nlohmann::json ToJson(const OrderRequest& r) {
  nlohmann::json j = {{"symbol", r.symbol},
                      {"side", SideName(r.side)},
                      {"type", OrderTypeName(r.type)},
                      {"quantity", r.quantity},
                      {"price", r.price},
                      {"time_in_force", TimeInForceName(r.tif)},
                      {"expire_at_ns", r.expire_at},
                      {"reduce_only", r.reduce_only},
                      {"stop_loss", r.stop_loss},
                      {"take_profit", r.take_profit},
                      {"stop_loss_distance", r.stop_loss_distance},
                      {"take_profit_distance", r.take_profit_distance},
                      {"trailing_distance", r.trailing_distance},
                      {"role", OrderRoleName(r.role)},
                      {"tag", r.tag}};
  return j;
}

nlohmann::json ToJson(const Order& o) {
  nlohmann::json j = ToJson(o.request);
  j["id"] = o.id;
  j["status"] = OrderStatusName(o.status);
  j["parent_id"] = o.parent;
  j["oco_id"] = o.oco;
  j["created_at"] = Time(o.created_at);
  j["updated_at"] = Time(o.updated_at);
  j["created_at_ns"] = o.created_at;
  j["updated_at_ns"] = o.updated_at;
  j["active_from_ns"] = o.active_from;
  j["filled_quantity"] = o.filled_quantity;
  j["fill_price"] = o.fill_price;
  j["stop_price"] = o.stop_price;
  j["reason"] = o.reason;
  return j;
}

Result<Order> OrderFromJson(const nlohmann::json& j) {
  Order o;
  OrderRequest& r = o.request;
  SINYAL_RETURN_IF_ERROR(Read(j, "symbol", &r.symbol));
  SINYAL_RETURN_IF_ERROR(ReadEnum(j, "side", ParseSide, &r.side));
  SINYAL_RETURN_IF_ERROR(ReadEnum(j, "type", ParseOrderType, &r.type));
  SINYAL_RETURN_IF_ERROR(Read(j, "quantity", &r.quantity));
  SINYAL_RETURN_IF_ERROR(Read(j, "price", &r.price));
  SINYAL_RETURN_IF_ERROR(ReadEnum(j, "time_in_force", ParseTimeInForce, &r.tif));
  SINYAL_RETURN_IF_ERROR(Read(j, "expire_at_ns", &r.expire_at));
  SINYAL_RETURN_IF_ERROR(Read(j, "reduce_only", &r.reduce_only));
  SINYAL_RETURN_IF_ERROR(Read(j, "stop_loss", &r.stop_loss));
  SINYAL_RETURN_IF_ERROR(Read(j, "take_profit", &r.take_profit));
  SINYAL_RETURN_IF_ERROR(Read(j, "stop_loss_distance", &r.stop_loss_distance));
  SINYAL_RETURN_IF_ERROR(Read(j, "take_profit_distance", &r.take_profit_distance));
  SINYAL_RETURN_IF_ERROR(Read(j, "trailing_distance", &r.trailing_distance));
  SINYAL_RETURN_IF_ERROR(ReadEnum(j, "role", ParseOrderRole, &r.role));
  SINYAL_RETURN_IF_ERROR(Read(j, "tag", &r.tag));
  SINYAL_RETURN_IF_ERROR(Read(j, "id", &o.id));
  SINYAL_RETURN_IF_ERROR(ReadEnum(j, "status", ParseOrderStatus, &o.status));
  SINYAL_RETURN_IF_ERROR(Read(j, "parent_id", &o.parent));
  SINYAL_RETURN_IF_ERROR(Read(j, "oco_id", &o.oco));
  SINYAL_RETURN_IF_ERROR(Read(j, "created_at_ns", &o.created_at));
  SINYAL_RETURN_IF_ERROR(Read(j, "updated_at_ns", &o.updated_at));
  SINYAL_RETURN_IF_ERROR(Read(j, "active_from_ns", &o.active_from));
  SINYAL_RETURN_IF_ERROR(Read(j, "filled_quantity", &o.filled_quantity));
  SINYAL_RETURN_IF_ERROR(Read(j, "fill_price", &o.fill_price));
  SINYAL_RETURN_IF_ERROR(Read(j, "stop_price", &o.stop_price));
  SINYAL_RETURN_IF_ERROR(Read(j, "reason", &o.reason));
  return o;
}

nlohmann::json ToJson(const Fill& f) {
  return {{"id", f.id},
          {"order_id", f.order_id},
          {"symbol", f.symbol},
          {"side", SideName(f.side)},
          {"role", OrderRoleName(f.role)},
          {"kind", FillKindName(f.kind)},
          {"quantity", f.quantity},
          {"price", f.price},
          {"commission", f.commission},
          {"spread_cost", f.spread_cost},
          {"slippage_cost", f.slippage_cost},
          {"realized_pnl", f.realized_pnl},
          {"time", Time(f.time)},
          {"time_ns", f.time}};
}

Result<Fill> FillFromJson(const nlohmann::json& j) {
  Fill f;
  std::string kind;
  SINYAL_RETURN_IF_ERROR(Read(j, "id", &f.id));
  SINYAL_RETURN_IF_ERROR(Read(j, "order_id", &f.order_id));
  SINYAL_RETURN_IF_ERROR(Read(j, "symbol", &f.symbol));
  SINYAL_RETURN_IF_ERROR(ReadEnum(j, "side", ParseSide, &f.side));
  SINYAL_RETURN_IF_ERROR(ReadEnum(j, "role", ParseOrderRole, &f.role));
  SINYAL_RETURN_IF_ERROR(Read(j, "kind", &kind));
  f.kind = kind == "open" ? FillKind::kOpen : FillKind::kTouch;
  SINYAL_RETURN_IF_ERROR(Read(j, "quantity", &f.quantity));
  SINYAL_RETURN_IF_ERROR(Read(j, "price", &f.price));
  SINYAL_RETURN_IF_ERROR(Read(j, "commission", &f.commission));
  SINYAL_RETURN_IF_ERROR(Read(j, "spread_cost", &f.spread_cost));
  SINYAL_RETURN_IF_ERROR(Read(j, "slippage_cost", &f.slippage_cost));
  SINYAL_RETURN_IF_ERROR(Read(j, "realized_pnl", &f.realized_pnl));
  SINYAL_RETURN_IF_ERROR(Read(j, "time_ns", &f.time));
  return f;
}

nlohmann::json ToJson(const Position& p) {
  return {{"symbol", p.symbol},
          {"side", p.quantity >= 0 ? "long" : "short"},
          {"quantity", p.quantity},
          {"avg_price", p.avg_price},
          {"opened_at", Time(p.opened_at)},
          {"opened_at_ns", p.opened_at},
          {"entry_commission", p.entry_commission},
          {"swap", p.swap},
          {"initial_risk", p.initial_risk},
          {"mark_price", p.mark_price},
          {"unrealized_pnl", p.unrealized_pnl},
          {"bars_held", p.bars_held}};
}

Result<Position> PositionFromJson(const nlohmann::json& j) {
  Position p;
  SINYAL_RETURN_IF_ERROR(Read(j, "symbol", &p.symbol));
  SINYAL_RETURN_IF_ERROR(Read(j, "quantity", &p.quantity));
  SINYAL_RETURN_IF_ERROR(Read(j, "avg_price", &p.avg_price));
  SINYAL_RETURN_IF_ERROR(Read(j, "opened_at_ns", &p.opened_at));
  SINYAL_RETURN_IF_ERROR(Read(j, "entry_commission", &p.entry_commission));
  SINYAL_RETURN_IF_ERROR(Read(j, "swap", &p.swap));
  SINYAL_RETURN_IF_ERROR(Read(j, "initial_risk", &p.initial_risk));
  SINYAL_RETURN_IF_ERROR(Read(j, "mark_price", &p.mark_price));
  SINYAL_RETURN_IF_ERROR(Read(j, "unrealized_pnl", &p.unrealized_pnl));
  SINYAL_RETURN_IF_ERROR(Read(j, "bars_held", &p.bars_held));
  return p;
}

nlohmann::json ToJson(const Trade& t) {
  return {{"id", t.id},
          {"symbol", t.symbol},
          {"side", t.side == Side::kBuy ? "long" : "short"},
          {"quantity", t.quantity},
          {"entry_time", Time(t.entry_time)},
          {"exit_time", Time(t.exit_time)},
          {"entry_time_ns", t.entry_time},
          {"exit_time_ns", t.exit_time},
          {"entry_price", t.entry_price},
          {"exit_price", t.exit_price},
          {"gross_pnl", t.gross_pnl},
          {"commission", t.commission},
          {"swap", t.swap},
          {"net_pnl", t.net_pnl},
          {"r_multiple", t.r_multiple},
          {"bars_held", t.bars_held},
          {"exit_reason", OrderRoleName(t.exit_role)}};
}

Result<Trade> TradeFromJson(const nlohmann::json& j) {
  Trade t;
  std::string side;
  SINYAL_RETURN_IF_ERROR(Read(j, "id", &t.id));
  SINYAL_RETURN_IF_ERROR(Read(j, "symbol", &t.symbol));
  SINYAL_RETURN_IF_ERROR(Read(j, "side", &side));
  t.side = side == "long" ? Side::kBuy : Side::kSell;
  SINYAL_RETURN_IF_ERROR(Read(j, "quantity", &t.quantity));
  SINYAL_RETURN_IF_ERROR(Read(j, "entry_time_ns", &t.entry_time));
  SINYAL_RETURN_IF_ERROR(Read(j, "exit_time_ns", &t.exit_time));
  SINYAL_RETURN_IF_ERROR(Read(j, "entry_price", &t.entry_price));
  SINYAL_RETURN_IF_ERROR(Read(j, "exit_price", &t.exit_price));
  SINYAL_RETURN_IF_ERROR(Read(j, "gross_pnl", &t.gross_pnl));
  SINYAL_RETURN_IF_ERROR(Read(j, "commission", &t.commission));
  SINYAL_RETURN_IF_ERROR(Read(j, "swap", &t.swap));
  SINYAL_RETURN_IF_ERROR(Read(j, "net_pnl", &t.net_pnl));
  SINYAL_RETURN_IF_ERROR(Read(j, "r_multiple", &t.r_multiple));
  SINYAL_RETURN_IF_ERROR(Read(j, "bars_held", &t.bars_held));
  SINYAL_RETURN_IF_ERROR(ReadEnum(j, "exit_reason", ParseOrderRole, &t.exit_role));
  return t;
}

}  // namespace sinyal::backtest
