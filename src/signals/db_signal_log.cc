#include "signals/db_signal_log.h"

#include <cmath>
#include <limits>

#include "core/time.h"
#include "store/database.h"
#include "store/soci.h"
#include "store/soci_row.h"

namespace sinyal::signals {

using nlohmann::json;

namespace {

constexpr TenantId kPlatform{0};  // models::kPlatformTenant (not included: signals/ core only)

bool IsPlatform(TenantId t) { return t == kPlatform; }

double Num(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::numeric_limits<double>::quiet_NaN();
  return it->get<double>();
}

Result<TrendState> TrendFromName(const std::string& s) {
  for (int i = 0; i < kNumTrendStates; ++i) {
    if (TrendStateName(static_cast<TrendState>(i)) == s) return static_cast<TrendState>(i);
  }
  return Status::InvalidArgument("unknown trend '" + s + "'", "regime.trend");
}
Result<VolState> VolFromName(const std::string& s) {
  for (int i = 0; i < kNumVolStates; ++i) {
    if (VolStateName(static_cast<VolState>(i)) == s) return static_cast<VolState>(i);
  }
  return Status::InvalidArgument("unknown volatility '" + s + "'", "regime.volatility");
}

Status Tx(store::Database& db, TenantId owner, bool read,
          const std::function<Status(soci::session&)>& fn) {
  if (IsPlatform(owner)) return read ? db.WithReadTx(fn) : db.WithTx(fn);
  return read ? db.WithTenantReadTx(owner, fn) : db.WithTenantTx(owner, fn);
}

// Queries select one owner's rows with COALESCE(tenant_id, 0) = :t (the unique index's
// expression; 0 = the platform, tenant_id NULL).

// Row: COALESCE(tenant_id, 0), body, resolved, resolution.
Result<StoredSignal> ParseRow(const soci::row& row) {
  const int64_t t = store::RowInt64(row, 0);
  json body = json::parse(row.get<std::string>(1), nullptr, false);
  if (body.is_discarded()) return Status::DataLoss("stored signal body is not JSON");
  SINYAL_ASSIGN_OR_RETURN(Signal s, SignalFromJson(body));
  std::optional<Resolution> res;
  if (store::RowInt64(row, 2) != 0 && row.get_indicator(3) == soci::i_ok) {
    json rj = json::parse(row.get<std::string>(3), nullptr, false);
    if (rj.is_discarded()) return Status::DataLoss("stored resolution is not JSON");
    SINYAL_ASSIGN_OR_RETURN(Resolution r, ResolutionFromJson(rj));
    res = std::move(r);
  }
  return StoredSignal{TenantId{t}, std::move(s), std::move(res)};
}

constexpr const char* kCols = "COALESCE(tenant_id, 0), body, resolved, resolution";

}  // namespace

Result<Signal> SignalFromJson(const json& j) {
  try {
    SignalFields f;
    f.id = j.at("id").get<std::string>();
    f.symbol = j.at("symbol").get<std::string>();
    f.timeframe = j.at("timeframe").get<std::string>();
    f.horizon = j.at("horizon").get<int>();
    SINYAL_ASSIGN_OR_RETURN(f.bar_time, ParseIso8601(j.at("bar_time").get<std::string>()));
    SINYAL_ASSIGN_OR_RETURN(f.issued_at, ParseIso8601(j.at("timestamp").get<std::string>()));
    f.reference_price = j.at("reference_price").get<double>();
    const std::string dir = j.at("prediction").get<std::string>();
    if (dir == "bullish") {
      f.direction = Direction::kBullish;
    } else if (dir == "bearish") {
      f.direction = Direction::kBearish;
    } else if (dir == "neutral") {
      f.direction = Direction::kNeutral;
    } else {
      return Status::InvalidArgument("unknown prediction '" + dir + "'", "prediction");
    }
    f.abstained = j.at("abstained").get<bool>();
    f.abstain_reason = j.value("abstain_reason", "");
    // A signal without skill abstains at every threshold; its reason is the no-skill reason.
    f.skill_shown = j.value("skill_shown", true);
    if (!f.skill_shown) f.no_skill_reason = f.abstain_reason;
    f.p_up = j.at("p_up").get<double>();
    f.confidence = j.at("confidence").get<double>();
    f.confidence_threshold = j.at("confidence_threshold").get<double>();
    f.uncertainty = j.at("uncertainty").get<double>();
    f.expected_return = j.at("expected_return").get<double>();
    f.expected_abs_move = j.at("expected_abs_move").get<double>();
    for (const auto& iv : j.at("intervals")) {
      f.intervals.push_back(
          {iv.at("coverage").get<double>(), iv.at("lo").get<double>(), iv.at("hi").get<double>()});
    }
    const json& r = j.at("regime");
    f.regime_code = r.at("code").get<int>();
    f.regime_name = r.at("name").get<std::string>();
    SINYAL_ASSIGN_OR_RETURN(f.regime.trend, TrendFromName(r.at("trend").get<std::string>()));
    SINYAL_ASSIGN_OR_RETURN(f.regime.vol, VolFromName(r.at("volatility").get<std::string>()));
    f.regime.adx = Num(r, "adx");
    f.regime.slope = Num(r, "slope");
    f.regime.rv = Num(r, "rv");
    f.regime.rv_percentile = Num(r, "rv_percentile");
    f.regime.ready = f.regime_code >= 0;
    f.regime.time = f.bar_time;
    const json& x = j.at("cross_asset");
    if (!x.is_null()) {
      f.cross_asset.available = true;
      f.cross_asset.ref_return_1 = Num(x, "ref_return_1");
      f.cross_asset.ref_return_long = Num(x, "ref_return_long");
      f.cross_asset.corr_to_ref = Num(x, "corr_to_ref");
      f.cross_asset.corr_break_z = Num(x, "corr_break_z");
      f.cross_asset.correlation_break = x.at("correlation_break").get<bool>();
    }
    for (const auto& d : j.at("drivers")) {
      f.drivers.push_back(
          {d.at("feature").get<std::string>(), Num(d, "value"), Num(d, "contribution")});
    }
    f.model_version = j.at("model_version").get<std::string>();
    return Signal::FromFields(std::move(f));
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("signal JSON: ") + e.what(), "signal");
  }
}

json ResolutionToJson(const Resolution& r) {
  json cov = json::array();
  for (const auto& [c, in] : r.covered) cov.push_back({{"coverage", c}, {"covered", in}});
  return {{"resolved_bar_time", FormatIso8601(r.resolved_bar_time)},
          {"exit_price", r.exit_price},
          {"realized_return", r.realized_return},
          {"up", r.up},
          {"hit", r.hit ? json(*r.hit) : json(nullptr)},
          {"covered", cov},
          {"brier", r.brier},
          {"log_loss", r.log_loss}};
}

Result<Resolution> ResolutionFromJson(const json& j) {
  try {
    Resolution r;
    SINYAL_ASSIGN_OR_RETURN(r.resolved_bar_time,
                            ParseIso8601(j.at("resolved_bar_time").get<std::string>()));
    r.exit_price = j.at("exit_price").get<double>();
    r.realized_return = j.at("realized_return").get<double>();
    r.up = j.at("up").get<bool>();
    if (!j.at("hit").is_null()) r.hit = j.at("hit").get<bool>();
    for (const auto& c : j.at("covered")) {
      r.covered.emplace_back(c.at("coverage").get<double>(), c.at("covered").get<bool>());
    }
    r.brier = j.at("brier").get<double>();
    r.log_loss = j.at("log_loss").get<double>();
    return r;
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("resolution JSON: ") + e.what(), "resolution");
  }
}

json StoredSignalJson(const StoredSignal& s) {
  json j = s.signal.ToJson();
  j["owner"] = IsPlatform(s.tenant) ? "platform" : "tenant";
  j["resolved"] = s.resolution.has_value();
  j["resolution"] = s.resolution ? ResolutionToJson(*s.resolution) : json(nullptr);
  return j;
}

Status DbSignalLog::Append(TenantId owner, const Signal& signal) {
  const auto& f = signal.fields();
  const std::string body = signal.ToJson().dump();
  Status s = Tx(db_, owner, false, [&](soci::session& sql) -> Status {
    long long t = owner.value();
    soci::indicator ti = IsPlatform(owner) ? soci::i_null : soci::i_ok;
    long long bar = f.bar_time, issued = f.issued_at;
    int horizon = f.horizon;
    sql << "INSERT INTO signals (tenant_id, signal_id, symbol, timeframe, model_version, bar_time, "
           "issued_at, body, horizon) VALUES (:t, :id, :s, :tf, :mv, :b, :i, :body, :h)",
        soci::use(t, ti, "t"), soci::use(f.id, "id"), soci::use(f.symbol, "s"),
        soci::use(f.timeframe, "tf"), soci::use(f.model_version, "mv"), soci::use(bar, "b"),
        soci::use(issued, "i"), soci::use(body, "body"), soci::use(horizon, "h");
    return Status::Ok();
  });
  if (s.code() == StatusCode::kAlreadyExists) {
    return Status::AlreadyExists("signal " + f.id + " is already stored", "id");
  }
  return s;
}

namespace {

// Appends every row of a query of kCols, parsed, to `out`.
Status AppendSignals(soci::rowset<soci::row>& rows, std::vector<StoredSignal>& out) {
  for (const soci::row& row : rows) {
    SINYAL_ASSIGN_OR_RETURN(StoredSignal s, ParseRow(row));
    out.push_back(std::move(s));
  }
  return Status::Ok();
}

// The signal `id` from a query of kCols that matches at most one row: parsed, or NotFound naming
// it.
Result<StoredSignal> OnlySignal(soci::rowset<soci::row>& rows, const std::string& id) {
  auto it = rows.begin();
  if (it == rows.end()) return Status::NotFound("no signal " + id, "id");
  return ParseRow(*it);
}

}  // namespace

Result<StoredSignal> DbSignalLog::Get(TenantId owner, const std::string& id) const {
  Result<StoredSignal> out = Status::NotFound("no signal " + id, "id");
  Status s = Tx(db_, owner, true, [&](soci::session& sql) -> Status {
    long long t = owner.value();
    soci::rowset<soci::row> rows =
        (sql.prepare << std::string("SELECT ") + kCols +
                            " FROM signals WHERE COALESCE(tenant_id, 0) = :t AND signal_id = :id",
         soci::use(t, "t"), soci::use(id, "id"));
    out = OnlySignal(rows, id);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<Signal>> DbSignalLog::Unresolved(TenantId owner,
                                                    const market::SeriesKey& series) const {
  const std::string& symbol = series.symbol;
  const std::string timeframe(market::TimeframeName(series.timeframe));
  std::vector<Signal> out;
  Status s = Tx(db_, owner, true, [&](soci::session& sql) -> Status {
    out.clear();
    long long t = owner.value();
    soci::rowset<soci::row> rows =
        (sql.prepare << std::string("SELECT ") + kCols +
                            " FROM signals WHERE COALESCE(tenant_id, 0) = :t AND symbol = :s AND "
                            "timeframe = :tf AND resolved = 0 ORDER BY bar_time, id",
         soci::use(t, "t"), soci::use(symbol, "s"), soci::use(timeframe, "tf"));
    for (const soci::row& row : rows) {
      SINYAL_ASSIGN_OR_RETURN(StoredSignal st, ParseRow(row));
      out.push_back(std::move(st.signal));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Status DbSignalLog::Resolve(TenantId owner, const std::string& id, const Resolution& resolution) {
  const std::string text = ResolutionToJson(resolution).dump();
  return Tx(db_, owner, false, [&](soci::session& sql) -> Status {
    long long t = owner.value();
    long long rb = resolution.resolved_bar_time;
    int resolved = -1;
    soci::indicator ind = soci::i_null;
    sql << "SELECT resolved FROM signals WHERE COALESCE(tenant_id, 0) = :t AND signal_id = :id",
        soci::use(t, "t"), soci::use(id, "id"), soci::into(resolved, ind);
    if (!sql.got_data() || ind != soci::i_ok) return Status::NotFound("no signal " + id, "id");
    if (resolved != 0) {
      return Status::FailedPrecondition("signal " + id + " is already resolved", "id");
    }
    sql << "UPDATE signals SET resolved = 1, resolution = :r, resolved_bar_time = :rb "
           "WHERE COALESCE(tenant_id, 0) = :t AND signal_id = :id AND resolved = 0",
        soci::use(text, "r"), soci::use(rb, "rb"), soci::use(t, "t"), soci::use(id, "id");
    return Status::Ok();
  });
}

Result<std::vector<StoredSignal>> DbSignalLog::RecentResolved(TenantId owner,
                                                              const market::SeriesKey& series,
                                                              const std::string& model_version,
                                                              size_t limit) const {
  const std::string& symbol = series.symbol;
  const std::string timeframe(market::TimeframeName(series.timeframe));
  std::vector<StoredSignal> out;
  Status s = Tx(db_, owner, true, [&](soci::session& sql) -> Status {
    out.clear();
    long long t = owner.value();
    long long lim = static_cast<long long>(std::min<size_t>(limit, 1000000));
    soci::rowset<soci::row> rows =
        (sql.prepare
             << std::string("SELECT ") + kCols +
                    " FROM signals WHERE COALESCE(tenant_id, 0) = :t AND symbol = :s "
                    "AND timeframe = :tf AND resolved = 1 AND (:m1 = '' OR model_version = :m2) "
                    "ORDER BY bar_time DESC, id DESC LIMIT :lim",
         soci::use(t, "t"), soci::use(symbol, "s"), soci::use(timeframe, "tf"),
         soci::use(model_version, "m1"), soci::use(model_version, "m2"), soci::use(lim, "lim"));
    return AppendSignals(rows, out);
  });
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<StoredSignal>> DbSignalLog::ListVisible(TenantId viewer,
                                                           const SignalListQuery& query) const {
  if (query.limit < 1 || query.limit > kMaxSignalPage) {
    return Status::InvalidArgument("limit must be in [1, " + std::to_string(kMaxSignalPage) + "]",
                                   "limit");
  }
  std::vector<StoredSignal> out;
  Status s = Tx(db_, viewer, true, [&](soci::session& sql) -> Status {
    out.clear();
    long long t = viewer.value();
    long long lim = static_cast<long long>(query.limit);
    long long before = query.before.value_or(std::numeric_limits<int64_t>::max());
    long long after = query.after.value_or(std::numeric_limits<int64_t>::min());
    int resolved_only = query.resolved_only ? 1 : 0;
    int h = query.horizon;
    soci::rowset<soci::row> rows =
        (sql.prepare << std::string("SELECT ") + kCols +
                            " FROM signals WHERE (tenant_id IS NULL OR tenant_id = :t) "
                            "AND (:s1 = '' OR symbol = :s2) AND (:f1 = '' OR timeframe = :f2) "
                            "AND bar_time < :b AND bar_time > :a AND (:r = 0 OR resolved = 1) "
                            "AND (:h1 = 0 OR horizon = :h2) " +
                            (query.after ? "ORDER BY bar_time ASC, id ASC"
                                         : "ORDER BY bar_time DESC, id DESC") +
                            " LIMIT :lim",
         soci::use(t, "t"), soci::use(query.symbol, "s1"), soci::use(query.symbol, "s2"),
         soci::use(query.timeframe, "f1"), soci::use(query.timeframe, "f2"), soci::use(before, "b"),
         soci::use(after, "a"), soci::use(resolved_only, "r"), soci::use(h, "h1"),
         soci::use(h, "h2"), soci::use(lim, "lim"));
    return AppendSignals(rows, out);
  });
  if (!s.ok()) return s;
  return out;
}

Result<StoredSignal> DbSignalLog::GetVisible(TenantId viewer, const std::string& id) const {
  if (!IsPlatform(viewer)) {
    auto own = Get(viewer, id);
    if (own.ok() || own.error().code() != StatusCode::kNotFound) return own;
  }
  // Platform rows, read in the viewer's scope (RLS lets tenants read tenant_id NULL rows).
  Result<StoredSignal> out = Status::NotFound("no signal " + id, "id");
  Status s = Tx(db_, viewer, true, [&](soci::session& sql) -> Status {
    soci::rowset<soci::row> rows =
        (sql.prepare << std::string("SELECT ") + kCols +
                            " FROM signals WHERE tenant_id IS NULL AND signal_id = :id",
         soci::use(id, "id"));
    out = OnlySignal(rows, id);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

}  // namespace sinyal::signals
