// Market data routes: CSV bar imports, paged bar queries, the live tick feed (HTTP batches and a
// WebSocket), feature sets and feature vectors. Handlers parse into typed values, call
// store::BarStore / store::LiveFeed / models::FeatureService, and map results to JSON.
#include <algorithm>
#include <cmath>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "billing/metered_call.h"
#include "core/log.h"
#include "core/time.h"
#include "features/feature_set.h"
#include "http/api.h"
#include "http/handlers/metered.h"
#include "http/json_body.h"
#include "http/problem.h"
#include "http/query.h"
#include "market/csv_import.h"
#include "market/instrument.h"
#include "market/timeframe.h"
#include "models/feature_service.h"
#include "models/input_resolver.h"
#include "models/registry.h"
#include "store/bar_store.h"
#include "store/feature_set_store.h"
#include "store/live_feed.h"

namespace sinyal::http {

using nlohmann::json;

namespace {

// ---------------------------------------------------------------------------------------------
// Request parsing helpers.

Result<market::SeriesKey> ParseSeriesKey(const Context& ctx) {
  SINYAL_ASSIGN_OR_RETURN(std::string sym, RequiredQueryParam(ctx, "symbol"));
  SINYAL_ASSIGN_OR_RETURN(std::string tf, RequiredQueryParam(ctx, "timeframe"));
  auto symbol = market::NormalizeSymbol(sym);
  if (!symbol.ok()) return symbol.error().WithField("symbol");
  auto timeframe = market::ParseTimeframe(tf);
  if (!timeframe.ok()) return timeframe.error().WithField("timeframe");
  return market::SeriesKey{*symbol, *timeframe};
}

Result<std::optional<UnixNanos>> TimeParam(const Context& ctx, std::string_view name) {
  auto v = QueryParam(ctx, name);
  if (!v) return std::optional<UnixNanos>();
  auto t = ParseIso8601(*v);
  if (!t.ok()) {
    return Status::InvalidArgument(std::string(name) + ": " + t.error().message(),
                                   std::string(name));
  }
  return std::optional<UnixNanos>(*t);
}

Result<size_t> LimitParam(const Context& ctx, size_t def) {
  auto v = QueryParam(ctx, "limit");
  if (!v) return def;
  if (v->empty() || v->size() > 6 || v->find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(*v) < 1 || std::stoul(*v) > store::kMaxBarPage) {
    return Status::InvalidArgument(
        "limit must be an integer from 1 to " + std::to_string(store::kMaxBarPage), "limit");
  }
  return static_cast<size_t>(std::stoul(*v));
}

std::optional<TenantId> Viewer(const Context& ctx) {
  if (ctx.principal->is_operator()) return std::nullopt;
  return ctx.principal->tenant;
}

Status RequireTenantAdmin(const Context& ctx, const std::string& what) {
  const accounts::Role r = ctx.principal->role;
  if (r != accounts::Role::kOwner && r != accounts::Role::kAdmin) {
    return Status::PermissionDenied("only owners and admins may " + what);
  }
  return Status::Ok();
}

json BarJson(const market::Bar& b) {
  return {{"time", FormatIso8601(b.time())},
          {"open", b.open()},
          {"high", b.high()},
          {"low", b.low()},
          {"close", b.close()},
          {"volume", b.volume()},
          {"spread", b.spread()},
          {"real_volume", b.real_volume()}};
}

json SeriesJson(const store::SeriesInfo& s) {
  return {{"symbol", s.key.symbol},
          {"timeframe", market::TimeframeName(s.key.timeframe)},
          {"owner", s.tenant ? "tenant" : "platform"},
          {"source", s.source}};
}

json OptTimeJson(const std::optional<UnixNanos>& t) {
  return t ? json(FormatIso8601(*t)) : json(nullptr);
}

// ---------------------------------------------------------------------------------------------
// Tick batches (POST body and WebSocket messages share this parser).

Result<UnixNanos> TickTime(const json& v, const std::string& field) {
  if (v.is_string()) {
    auto t = ParseIso8601(v.get<std::string>());
    if (!t.ok()) return Status::InvalidArgument(field + ": " + t.error().message(), field);
    return *t;
  }
  if (v.is_number_integer()) {
    const int64_t ms = v.get<int64_t>();
    if (ms < 0 || ms > 4'102'444'800'000LL) {
      return Status::InvalidArgument(field + ": Unix milliseconds out of range", field);
    }
    return ms * 1'000'000;
  }
  return Status::InvalidArgument(field + " must be an ISO-8601 string or Unix milliseconds", field);
}

Result<double> Num(const json& obj, const std::string& key, const std::string& field,
                   bool required) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (required)
      return Status::InvalidArgument(field + "." + key + " is required", field + "." + key);
    return 0.0;
  }
  if (!it->is_number()) {
    return Status::InvalidArgument(field + "." + key + " must be a number", field + "." + key);
  }
  return it->get<double>();
}

Status CheckKeys(const json& obj, const std::string& field,
                 std::initializer_list<std::string_view> allowed) {
  if (!obj.is_object()) return Status::InvalidArgument(field + " must be an object", field);
  for (const auto& [k, _] : obj.items()) {
    bool ok = false;
    for (auto a : allowed) ok = ok || k == a;
    if (!ok)
      return Status::InvalidArgument("unknown field " + field + "." + k.substr(0, 40),
                                     field + "." + k.substr(0, 40));
  }
  return Status::Ok();
}

Result<std::string> SymbolOf(const json& obj, const std::string& field) {
  auto it = obj.find("symbol");
  if (it == obj.end() || !it->is_string()) {
    return Status::InvalidArgument(field + ".symbol must be a string", field + ".symbol");
  }
  return it->get<std::string>();  // validated by the feed (counted as rejected)
}

struct ParsedBatch {
  std::vector<store::FeedEvent> events;
  bool flush = false;
};

// {"ticks": [{symbol, time, bid, ask?, last?, volume?}], "bars": [{symbol, time, open, high, low,
// close, volume?}], "flush": bool} or a single tick object.
Result<ParsedBatch> ParseBatch(const json& body, size_t max_events) {
  ParsedBatch out;
  json wrapped;
  const json* root = &body;
  if (body.is_object() && body.contains("bid")) {  // a single tick
    wrapped = json{{"ticks", json::array({body})}};
    root = &wrapped;
  }
  SINYAL_RETURN_IF_ERROR(CheckKeys(*root, "body", {"ticks", "bars", "flush"}));
  if (auto f = root->find("flush"); f != root->end()) {
    if (!f->is_boolean()) return Status::InvalidArgument("flush must be a boolean", "flush");
    out.flush = f->get<bool>();
  }
  size_t total = 0;
  for (const char* k : {"ticks", "bars"}) {
    if (auto a = root->find(k); a != root->end()) {
      if (!a->is_array()) return Status::InvalidArgument(std::string(k) + " must be an array", k);
      total += a->size();
    }
  }
  if (total > max_events) {
    return Status::InvalidArgument("at most " + std::to_string(max_events) +
                                       " ticks and bars per batch (got " + std::to_string(total) +
                                       ")",
                                   "ticks");
  }
  out.events.reserve(total);
  if (auto a = root->find("ticks"); a != root->end()) {
    for (size_t i = 0; i < a->size(); ++i) {
      const json& t = (*a)[i];
      const std::string f = "ticks[" + std::to_string(i) + "]";
      SINYAL_RETURN_IF_ERROR(CheckKeys(t, f, {"symbol", "time", "bid", "ask", "last", "volume"}));
      store::FeedEvent e;
      SINYAL_ASSIGN_OR_RETURN(e.symbol, SymbolOf(t, f));
      if (!t.contains("time")) return Status::InvalidArgument(f + ".time is required", f + ".time");
      market::Tick tick;
      SINYAL_ASSIGN_OR_RETURN(tick.time, TickTime(t["time"], f + ".time"));
      SINYAL_ASSIGN_OR_RETURN(tick.bid, Num(t, "bid", f, true));
      SINYAL_ASSIGN_OR_RETURN(tick.ask, Num(t, "ask", f, false));
      SINYAL_ASSIGN_OR_RETURN(tick.last, Num(t, "last", f, false));
      SINYAL_ASSIGN_OR_RETURN(tick.volume, Num(t, "volume", f, false));
      e.payload = tick;
      out.events.push_back(std::move(e));
    }
  }
  if (auto a = root->find("bars"); a != root->end()) {
    for (size_t i = 0; i < a->size(); ++i) {
      const json& b = (*a)[i];
      const std::string f = "bars[" + std::to_string(i) + "]";
      SINYAL_RETURN_IF_ERROR(
          CheckKeys(b, f, {"symbol", "time", "open", "high", "low", "close", "volume"}));
      store::FeedEvent e;
      SINYAL_ASSIGN_OR_RETURN(e.symbol, SymbolOf(b, f));
      if (!b.contains("time")) return Status::InvalidArgument(f + ".time is required", f + ".time");
      SINYAL_ASSIGN_OR_RETURN(UnixNanos t, TickTime(b["time"], f + ".time"));
      SINYAL_ASSIGN_OR_RETURN(double o, Num(b, "open", f, true));
      SINYAL_ASSIGN_OR_RETURN(double h, Num(b, "high", f, true));
      SINYAL_ASSIGN_OR_RETURN(double l, Num(b, "low", f, true));
      SINYAL_ASSIGN_OR_RETURN(double c, Num(b, "close", f, true));
      SINYAL_ASSIGN_OR_RETURN(double v, Num(b, "volume", f, false));
      auto bar = market::Bar::Create(t, o, h, l, c, v);
      if (!bar.ok()) {
        return Status::InvalidArgument(f + ": " + bar.error().message(),
                                       f + "." + bar.error().field());
      }
      e.payload = *bar;
      out.events.push_back(std::move(e));
    }
  }
  return out;
}

json FeedResultJson(const store::FeedResult& r) {
  json errors = json::array();
  for (const auto& e : r.errors) {
    errors.push_back({{"index", e.index}, {"reason", e.reason}, {"late", e.late}});
  }
  return {{"accepted", r.accepted},
          {"late", r.late},
          {"rejected", r.rejected},
          {"errors", errors},
          {"bars_closed", r.bars_closed},
          {"bars_written", r.bars_written},
          {"bars_conflicting", r.bars_conflicting}};
}

void Merge(store::FeedResult& into, const store::FeedResult& r) {
  into.bars_closed += r.bars_closed;
  into.bars_written += r.bars_written;
  into.bars_conflicting += r.bars_conflicting;
}

Result<store::FeedResult> ApplyBatch(store::LiveFeed& feed, const ParsedBatch& batch) {
  SINYAL_ASSIGN_OR_RETURN(store::FeedResult result, feed.Add(batch.events));
  if (batch.flush) {
    std::set<std::string> symbols;
    for (const auto& e : batch.events) symbols.insert(e.symbol);
    for (const auto& s : symbols) {
      auto r = feed.Flush(s);
      if (r.ok())
        Merge(result, *r);
      else if (r.error().code() != StatusCode::kNotFound)
        return r.error();
    }
  }
  return result;
}

// One operator feed connection: each text message is a tick, or a batch as in POST /ticks.
// Answers every message with {"type":"ack",...} or {"type":"error",...}; closes with 1008
// after 10 consecutive bad messages.
class FeedSocket final : public WebSocketHandler {
 public:
  FeedSocket(store::LiveFeed& feed, size_t max_events, std::string request_id)
      : feed_(feed), max_events_(max_events), request_id_(std::move(request_id)) {}

  void OnText(WebSocketConnection& conn, std::string_view text) override {
    ++seq_;
    json msg = json::parse(text, nullptr, /*allow_exceptions=*/false);
    Result<ParsedBatch> batch =
        msg.is_discarded()
            ? Result<ParsedBatch>(Status::InvalidArgument("malformed JSON message", "message"))
            : ParseBatch(msg, max_events_);
    Result<store::FeedResult> result =
        batch.ok() ? ApplyBatch(feed_, *batch) : Result<store::FeedResult>(batch.error());
    if (!result.ok()) {
      const Status& s = result.error();
      const bool server = HttpStatusFor(s.code()) >= 500;
      conn.SendText(json{
          {"type", "error"},
          {"seq", seq_},
          {"status", HttpStatusFor(s.code())},
          {"detail", server ? "internal error; quote the request id" : s.message()},
          {"field", s.field()},
          {"request_id",
           request_id_}}.dump());
      if (server) {
        LogEvent(spdlog::level::err, "feed_socket_error",
                 {{"request_id", request_id_}, {"error", s.ToString()}});
      }
      if (++consecutive_errors_ >= kMaxConsecutiveErrors) {
        conn.Close(1008, "too many bad messages");
      }
      return;
    }
    consecutive_errors_ = 0;
    json ack = FeedResultJson(*result);
    ack["type"] = "ack";
    ack["seq"] = seq_;
    conn.SendText(ack.dump());
  }

 private:
  static constexpr int kMaxConsecutiveErrors = 10;
  store::LiveFeed& feed_;
  size_t max_events_;
  std::string request_id_;
  int64_t seq_ = 0;
  int consecutive_errors_ = 0;
};

json FeatureSetJson(const features::FeatureSetConfig& c, const std::string& owner) {
  json j = json::parse(c.ToJson());
  j["owner"] = owner;
  j["hash"] = features::ConfigHash(c);
  j["names"] = features::FeatureNames(c);
  return j;
}

// GET /api/v1/business/features: feature values are sold like predictions (docs/billing.md, "What
// is metered"): one metered unit per call, the timeframe gated by plan, and only vectors of bars
// closed by the call's NotAfter (the plan's data delay).
Result<Response> BusinessFeatures(const MarketDeps& d, Context& ctx) {
  models::FeatureService& fs = *d.features;
  SINYAL_RETURN_IF_ERROR(
      OnlyQueryParams(ctx, {"symbol", "timeframe", "set", "from", "to", "limit"}));
  SINYAL_ASSIGN_OR_RETURN(market::SeriesKey key, ParseSeriesKey(ctx));
  const std::string set_spec = QueryParam(ctx, "set").value_or(features::DefaultFeatureSet().name);
  SINYAL_ASSIGN_OR_RETURN(auto set, fs.Resolve(ctx.principal->tenant, set_spec));
  SINYAL_ASSIGN_OR_RETURN(auto from, TimeParam(ctx, "from"));
  SINYAL_ASSIGN_OR_RETURN(auto to, TimeParam(ctx, "to"));
  SINYAL_ASSIGN_OR_RETURN(size_t limit, LimitParam(ctx, 1000));
  std::optional<std::pair<UnixNanos, UnixNanos>> range;
  if (from || to) {
    range = {from.value_or(INT64_MIN), to.value_or(INT64_MAX)};
    if (range->first > range->second) return Status::InvalidArgument("from is after to", "from");
  }
  billing::MeteredCall& call = Metered(ctx);
  SINYAL_RETURN_IF_ERROR(call.Gate(key.timeframe, "timeframe"));
  SINYAL_ASSIGN_OR_RETURN(Charge charge, Reserve(ctx, billing::kEndpointBusinessFeatures, 1));
  if (charge.replay) return std::move(*charge.replay);
  const UnixNanos newest_open = call.NotAfter() - market::TimeframeNanos(key.timeframe);
  SINYAL_ASSIGN_OR_RETURN(
      auto v, fs.Compute(ctx.principal->tenant, key, set.config, range, limit, newest_open));
  json vectors = json::array();
  for (const auto& fv : v.vectors) {
    json values = json::array();
    for (double x : fv.values) values.push_back(std::isfinite(x) ? json(x) : json(nullptr));
    vectors.push_back(
        {{"time", FormatIso8601(fv.time)}, {"values", values}, {"complete", fv.complete}});
  }
  json body = {{"series", SeriesJson(v.series)},
               {"set",
                {{"name", set.config.name},
                 {"version", set.config.version},
                 {"owner", set.owner},
                 {"hash", v.hash}}},
               {"names", v.names},
               {"vectors", vectors},
               {"data_delay_seconds", call.DataDelaySeconds()}};
  return CommitDeferred(ctx, std::move(charge.reservation), std::move(body));
}

// The query options of a CSV import (timezone, layout, date_format, on_bad_row, on_overlap).
struct ImportParams {
  market::CsvImportOptions csv;
  store::BarImportOptions store;
};

Result<ImportParams> ImportQuery(const Context& ctx) {
  ImportParams p;
  market::CsvImportOptions& options = p.csv;
  if (auto tz = QueryParam(ctx, "timezone")) {
    auto parsed = TimeZone::Parse(*tz);
    if (!parsed.ok()) return parsed.error().WithField("timezone");
    options.source_tz = *parsed;
  }
  if (auto layout = QueryParam(ctx, "layout")) {
    auto parsed = market::ParseCsvLayout(*layout);
    if (!parsed.ok()) return parsed.error().WithField("layout");
    options.layout = *parsed;
  }
  if (auto df = QueryParam(ctx, "date_format")) {
    auto parsed = market::ParseDateFormat(*df);
    if (!parsed.ok()) return parsed.error().WithField("date_format");
    options.date_format = *parsed;
  }
  const std::string bad_row = QueryParam(ctx, "on_bad_row").value_or("reject");
  if (bad_row == "skip") {
    options.on_bad_row = market::BadRowPolicy::kSkipRow;
  } else if (bad_row != "reject") {
    return Status::InvalidArgument("on_bad_row must be reject or skip", "on_bad_row");
  }
  if (auto ov = QueryParam(ctx, "on_overlap")) {
    auto parsed = market::ParseOverlapPolicy(*ov);
    if (!parsed.ok()) return parsed.error().WithField("on_overlap");
    p.store.overlap = *parsed;
  }
  return p;
}

json ImportReportJson(const market::SeriesKey& key, const store::SeriesOwner& owner,
                      const market::CsvImportOptions& options, const market::CsvImportResult& csv,
                      const store::BarImportReport& report) {
  json bad = json::array();
  for (const auto& e : csv.report.errors) {
    bad.push_back({{"line", e.line}, {"column", e.column}, {"reason", e.reason}});
  }
  json conflicts = json::array();
  for (const auto& c : report.first_conflicts) {
    conflicts.push_back({{"time", FormatIso8601(c.incoming.time())},
                         {"stored", BarJson(c.existing)},
                         {"incoming", BarJson(c.incoming)}});
  }
  return {{"symbol", key.symbol},
          {"timeframe", market::TimeframeName(key.timeframe)},
          {"owner", owner.is_platform() ? "platform" : "tenant"},
          {"series_created", report.series_created},
          {"layout", market::CsvLayoutName(csv.report.layout)},
          {"timezone", options.source_tz.Name()},
          {"rows_read", csv.report.data_rows},
          {"bars", csv.report.bars},
          {"skipped_rows", csv.report.skipped_rows},
          {"bad_rows", bad},
          {"bad_rows_truncated", csv.report.errors_truncated},
          {"inserted", report.inserted},
          {"identical", report.identical},
          {"replaced", report.replaced},
          {"conflicts", report.conflicts},
          {"first_conflicts", conflicts},
          {"first", OptTimeJson(report.first)},
          {"last", OptTimeJson(report.last)}};
}

// POST /api/v1/market/bars/import: a CSV file of bars into the caller's series (operators: the
// platform's).
Result<Response> ImportBars(const MarketDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {"symbol", "timeframe", "timezone", "layout",
                                               "on_bad_row", "on_overlap", "date_format"}));
  store::SeriesOwner owner;
  if (!ctx.principal->is_operator()) {
    SINYAL_RETURN_IF_ERROR(RequireTenantAdmin(ctx, "import bars"));
    owner = store::SeriesOwner::Tenant(ctx.principal->tenant);
  }
  const std::string_view ct = ctx.request.Header("content-type");
  if (ct.substr(0, 8) != "text/csv") {
    return Status(StatusCode::kUnsupportedMediaType, "Content-Type must be text/csv",
                  "content-type");
  }
  SINYAL_ASSIGN_OR_RETURN(market::SeriesKey key, ParseSeriesKey(ctx));
  SINYAL_ASSIGN_OR_RETURN(ImportParams params, ImportQuery(ctx));
  const market::CsvImportOptions& options = params.csv;
  store::BarImportOptions& import = params.store;
  std::istringstream in(ctx.request.body);
  SINYAL_ASSIGN_OR_RETURN(market::CsvImportResult csv, market::ImportBarsCsv(in, options));
  if (csv.bars.empty()) {
    return Status::InvalidArgument("the file has no valid rows", "body");
  }
  import.source =
      std::string(market::CsvLayoutName(csv.report.layout)) + " " + options.source_tz.Name();
  import.actor = ctx.principal->api_key
                     ? "api_key:" + std::to_string(ctx.principal->api_key->value())
                     : "user:" + std::to_string(ctx.principal->user.value());
  SINYAL_ASSIGN_OR_RETURN(store::BarImportReport report,
                          d.bars->Import(owner, key, csv.bars, import));
  return Response::Json(200, ImportReportJson(key, owner, options, csv, report));
}

// GET /api/v1/market/bars: a page of a series' bars.
Result<Response> QueryBars(const MarketDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(
      OnlyQueryParams(ctx, {"symbol", "timeframe", "from", "to", "limit", "cursor"}));
  SINYAL_ASSIGN_OR_RETURN(market::SeriesKey key, ParseSeriesKey(ctx));
  store::BarQuery q{.key = key};
  SINYAL_ASSIGN_OR_RETURN(auto from, TimeParam(ctx, "from"));
  SINYAL_ASSIGN_OR_RETURN(auto to, TimeParam(ctx, "to"));
  if (from) q.from = *from;
  if (to) q.to = *to;
  if (q.from > q.to) return Status::InvalidArgument("from is after to", "from");
  SINYAL_ASSIGN_OR_RETURN(q.limit, LimitParam(ctx, 1000));
  if (auto c = QueryParam(ctx, "cursor")) {
    const bool digits =
        !c->empty() && c->size() <= 19 && c->find_first_not_of("0123456789") == std::string::npos;
    if (!digits) {
      return Status::InvalidArgument("cursor must be a next_cursor value", "cursor");
    }
    q.cursor = std::stoll(*c);
  }
  SINYAL_ASSIGN_OR_RETURN(store::BarPage page, d.bars->Query(Viewer(ctx), q));
  json out_bars = json::array();
  for (const auto& b : page.bars) out_bars.push_back(BarJson(b));
  return Response::Json(
      200, {{"series", SeriesJson(page.series)},
            {"bars", out_bars},
            {"next_cursor",
             page.next_cursor ? json(std::to_string(*page.next_cursor)) : json(nullptr)}});
}

// GET /api/v1/market/series
Result<Response> ListSeries(const MarketDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {}));
  SINYAL_ASSIGN_OR_RETURN(std::vector<store::SeriesInfo> all, d.bars->ListSeries(Viewer(ctx)));
  json items = json::array();
  for (const auto& s : all) {
    json item = SeriesJson(s);
    SINYAL_ASSIGN_OR_RETURN(store::BarPage last, d.bars->Latest(s.tenant, s.key, 1));
    item["last_bar_time"] =
        last.bars.empty() ? json(nullptr) : json(FormatIso8601(last.bars.back().time()));
    items.push_back(std::move(item));
  }
  return Response::Json(200, {{"items", std::move(items)}});
}

// POST /api/v1/market/ticks: a batch of ticks and bars (as a WebSocket message of /feed).
Result<Response> PostTicks(const MarketDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {}));
  SINYAL_ASSIGN_OR_RETURN(auto body, JsonBody::Parse(ctx.request));
  const json* ticks = body.Raw("ticks");
  const json* bars_json = body.Raw("bars");
  SINYAL_ASSIGN_OR_RETURN(auto flush, body.OptionalBool("flush"));
  SINYAL_RETURN_IF_ERROR(body.Finish());
  json root = json::object();
  if (ticks) root["ticks"] = *ticks;
  if (bars_json) root["bars"] = *bars_json;
  if (flush) root["flush"] = *flush;
  SINYAL_ASSIGN_OR_RETURN(ParsedBatch batch, ParseBatch(root, d.max_ticks_per_batch));
  SINYAL_ASSIGN_OR_RETURN(store::FeedResult r, ApplyBatch(*d.feed, batch));
  return Response::Json(200, FeedResultJson(r));
}

// GET /api/v1/market/feed: the operators' WebSocket feed (FeedSocket); 426 without an upgrade.
Result<Response> FeedUpgrade(const MarketDeps& d, Context& ctx) {
  if (!IsWebSocketUpgrade(ctx.request)) {
    Response r = ProblemResponse(426, "upgrade-required",
                                 "this endpoint is a WebSocket; send an upgrade request", "upgrade",
                                 ctx.request_id);
    r.headers.emplace_back("upgrade", "websocket");
    return r;
  }
  return Response::WebSocket(
      std::make_shared<FeedSocket>(*d.feed, d.max_ticks_per_batch, ctx.request_id));
}

// GET /api/v1/feature-sets: the platform default and the tenant's own sets.
Result<Response> ListFeatureSets(const MarketDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {}));
  json items = json::array();
  items.push_back(FeatureSetJson(features::DefaultFeatureSet(), "platform"));
  SINYAL_ASSIGN_OR_RETURN(auto own, d.features->sets().List(ctx.principal->tenant));
  for (const auto& s : own) {
    SINYAL_ASSIGN_OR_RETURN(auto config, features::FeatureSetConfig::FromJson(s.config_json));
    items.push_back(FeatureSetJson(config, "tenant"));
  }
  return Response::Json(200, {{"items", items}});
}

// POST /api/v1/feature-sets
Result<Response> CreateFeatureSet(const MarketDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {}));
  SINYAL_RETURN_IF_ERROR(RequireTenantAdmin(ctx, "define feature sets"));
  // Content type and JSON syntax as every JSON route; the features library then
  // reads it strictly (unknown keys, bounds, names of the offending field).
  SINYAL_ASSIGN_OR_RETURN(auto body, JsonBody::Parse(ctx.request));
  (void)body;
  SINYAL_ASSIGN_OR_RETURN(features::FeatureSetConfig config,
                          features::FeatureSetConfig::FromJson(ctx.request.body));
  if (config.name == features::DefaultFeatureSet().name) {
    return Status::AlreadyExists("the name " + config.name + " is the platform default's", "name");
  }
  const std::string canonical = config.ToJson();
  SINYAL_RETURN_IF_ERROR(d.features->sets()
                             .Create(ctx.principal->tenant, config.name, config.version, canonical,
                                     features::ConfigHash(config))
                             .status());
  return Response::Json(201, FeatureSetJson(config, "tenant"));
}

}  // namespace

void AddMarketRoutes(RouteTable& routes, MarketDeps deps) {
  auto d = std::make_shared<const MarketDeps>(std::move(deps));
  auto bind = [d](Result<Response> (*handler)(const MarketDeps&, Context&)) {
    return [d, handler](Context& ctx) { return handler(*d, ctx); };
  };
  routes.Add({.method = "POST",
              .pattern = "/api/v1/market/bars/import",
              .auth = AuthMode::kAnyOrOperator,
              .blocking = true,
              .max_body_bytes = d->max_import_bytes,
              .required_scope = "admin",
              .handler = bind(&ImportBars)});
  routes.Add({.method = "GET",
              .pattern = "/api/v1/market/bars",
              .auth = AuthMode::kAnyOrOperator,
              .required_scope = "read",
              .handler = bind(&QueryBars)});
  // The series the caller can read, with the time of each one's newest bar (the dashboard's
  // symbol picker and the operators' feed freshness). Bar metadata only: no prices, features or
  // signals, so it is free and undelayed like /market/bars.
  routes.Add({.method = "GET",
              .pattern = "/api/v1/market/series",
              .auth = AuthMode::kAnyOrOperator,
              .required_scope = "read",
              .handler = bind(&ListSeries)});
  routes.Add({.method = "POST",
              .pattern = "/api/v1/market/ticks",
              .auth = AuthMode::kOperator,
              .max_body_bytes = 4u << 20,
              .required_scope = "feed",  // operator feed keys (JWT operators hold every scope)
              .handler = bind(&PostTicks)});
  routes.Add({.method = "GET",
              .pattern = "/api/v1/market/feed",
              .auth = AuthMode::kOperator,
              .required_scope = "feed",
              .handler = bind(&FeedUpgrade)});

  if (d->features == nullptr) return;

  routes.Add({.method = "GET",
              .pattern = "/api/v1/feature-sets",
              .auth = AuthMode::kAny,
              .required_scope = "read",
              .handler = bind(&ListFeatureSets)});
  routes.Add({.method = "POST",
              .pattern = "/api/v1/feature-sets",
              .auth = AuthMode::kAny,
              .max_body_bytes = 64u << 10,
              .required_scope = "admin",
              .handler = bind(&CreateFeatureSet)});
  routes.Add({.method = "GET",
              .pattern = "/api/v1/business/features",
              .auth = AuthMode::kAny,
              .required_scope = "predict",
              .billable = true,
              .handler = bind(&BusinessFeatures)});
}

}  // namespace sinyal::http
