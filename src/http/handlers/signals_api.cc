// Signal routes (the live signal, its history with resolutions, live performance), the market
// correlations route and the indicator odds route. Handlers parse the query, call signals::SignalService / DbSignalLog /
// cross_asset.h, and map the result to JSON. Every call is scoped to the caller's tenant: a
// tenant sees its own models' signals and the platform models' signals, never another tenant's.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "billing/metered_call.h"
#include "core/time.h"
#include "http/api.h"
#include "http/handlers/horizon_param.h"
#include "http/handlers/metered.h"
#include "http/query.h"
#include "market/edge_parse.h"
#include "market/timeframe.h"
#include "models/service.h"
#include "signals/cross_asset.h"
#include "signals/db_signal_log.h"
#include "signals/indicator_odds.h"
#include "signals/service.h"
#include "store/bar_store.h"

namespace sinyal::http {

using nlohmann::json;

namespace {

TenantId Tenant(const Context& ctx) { return ctx.principal->tenant; }

// The series of a query, parsed once (market::ParseSeriesKey); `timeframe` is its canonical name.
struct Key {
  std::string symbol, timeframe;
  market::SeriesKey series;
};

Result<Key> QueryKey(const Context& ctx) {
  SINYAL_ASSIGN_OR_RETURN(std::string s, RequiredQueryParam(ctx, "symbol"));
  SINYAL_ASSIGN_OR_RETURN(std::string tf, RequiredQueryParam(ctx, "timeframe"));
  Key k;
  SINYAL_ASSIGN_OR_RETURN(k.series, market::ParseSeriesKey(s, tf));
  k.symbol = k.series.symbol;
  k.timeframe = std::string(market::TimeframeName(k.series.timeframe));
  return k;
}

Result<double> ParseDouble(const std::string& text, const std::string& field) {
  double v = 0;
  const char* b = text.data();
  const char* e = b + text.size();
  auto [p, ec] = std::from_chars(b, e, v);
  if (text.empty() || ec != std::errc() || p != e || !std::isfinite(v)) {
    return Status::InvalidArgument(field + " must be a number", field);
  }
  return v;
}

Result<int64_t> ParseInt(const std::string& text, const std::string& field, int64_t lo,
                         int64_t hi) {
  int64_t v = 0;
  const char* b = text.data();
  const char* e = b + text.size();
  auto [p, ec] = std::from_chars(b, e, v);
  if (text.empty() || ec != std::errc() || p != e) {
    return Status::InvalidArgument(field + " must be an integer", field);
  }
  if (v < lo || v > hi) {
    return Status::InvalidArgument(
        field + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + text,
        field);
  }
  return v;
}

// Removes from a signal's JSON what the caller's plan lacks (see SignalsDeps) and lists it in
// "gated" with the plan needed.
json GateSignalJson(billing::MeteredCall& call, json j) {
  json gated = json::object();
  auto lacks = [&](std::string_view feature) -> bool {
    if (call.plan().Has(feature)) return false;
    gated[std::string(feature)] = call.PlanNeeded(feature);
    return true;
  };
  json* resolution =
      j.contains("resolution") && j["resolution"].is_object() ? &j["resolution"] : nullptr;
  if (lacks(billing::kFeatConfidence)) {
    for (const char* k : {"p_up", "confidence", "uncertainty", "abstain_reason"}) j.erase(k);
    // Brier score and log loss are functions of p_up.
    if (resolution) {
      resolution->erase("brier");
      resolution->erase("log_loss");
    }
  }
  if (lacks(billing::kFeatIntervals)) {
    for (const char* k : {"intervals", "expected_return", "expected_abs_move"}) j.erase(k);
    if (resolution) resolution->erase("covered");
  }
  if (lacks(billing::kFeatRegime)) {
    for (const char* k : {"regime", "drivers", "model_version"}) j.erase(k);
  }
  if (lacks(billing::kFeatCorrelations)) j.erase("cross_asset");
  if (!gated.empty()) j["gated"] = std::move(gated);
  return j;
}

json MatrixJson(const signals::CorrelationMatrix& m) {
  json rows = json::array();
  const size_t k = m.symbols.size();
  for (size_t i = 0; i < k; ++i) {
    json row = json::array();
    for (size_t j = 0; j < k; ++j) {
      const double v = m.at(i, j);
      row.push_back(std::isfinite(v) ? json(v) : json(nullptr));
    }
    rows.push_back(std::move(row));
  }
  return {{"method", std::string(signals::CorrelationMethodName(m.method))},
          {"symbols", m.symbols},
          {"window", m.window},
          {"from", FormatIso8601(m.from_time)},
          {"to", FormatIso8601(m.to_time)},
          {"matrix", rows}};
}

json Num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

// GET /api/v1/market/correlations
Result<Response> Correlations(const SignalsDeps& deps, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {"symbols", "timeframe", "window", "max_lag"}));
  SINYAL_RETURN_IF_ERROR(
      Metered(ctx).Gate(billing::kFeatCorrelations, "correlations", "correlations"));
  SINYAL_ASSIGN_OR_RETURN(std::string list, RequiredQueryParam(ctx, "symbols"));
  std::vector<std::string> symbols;
  std::set<std::string> seen;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    std::string item = list.substr(start, comma - start);
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    start = comma + 1;
    if (item.empty()) return Status::InvalidArgument("symbols has an empty item", "symbols");
    auto norm = market::ParseSymbolText(item);
    if (!norm.ok()) {
      return Status::InvalidArgument("symbols: '" + item + "': " + norm.error().message(),
                                     "symbols");
    }
    if (seen.insert(*norm).second) symbols.push_back(*norm);
    if (symbols.size() > SignalsDeps::kMaxCorrelationSymbols) {
      return Status::InvalidArgument(
          "at most " + std::to_string(SignalsDeps::kMaxCorrelationSymbols) + " symbols per request",
          "symbols");
    }
  }
  if (symbols.size() < 2) {
    return Status::InvalidArgument("at least 2 distinct symbols are needed, comma-separated",
                                   "symbols");
  }
  SINYAL_ASSIGN_OR_RETURN(std::string tf_text, RequiredQueryParam(ctx, "timeframe"));
  SINYAL_ASSIGN_OR_RETURN(market::Timeframe tf, market::ParseTimeframeText(tf_text));
  const std::string tf_name(market::TimeframeName(tf));
  int64_t window = 200;
  if (auto w = QueryParam(ctx, "window")) {
    SINYAL_ASSIGN_OR_RETURN(window, ParseInt(*w, "window", signals::kMinCorrelationWindow,
                                             SignalsDeps::kMaxCorrelationWindow));
  }
  int64_t max_lag = 3;
  if (auto l = QueryParam(ctx, "max_lag")) {
    SINYAL_ASSIGN_OR_RETURN(max_lag, ParseInt(*l, "max_lag", 0, 24));
  }

  // Newest bars of each series the caller can read (its private series, else the platform's).
  std::vector<signals::SymbolSeries> series;
  for (const auto& s : symbols) {
    auto page = deps.bars->Latest(Tenant(ctx), {s, tf}, store::kMaxBarPage);
    if (!page.ok()) {
      if (page.error().code() == StatusCode::kNotFound) {
        return Status::NotFound(
            "unknown symbol " + s + ": no " + tf_name + " bars are stored for it", "symbols");
      }
      return page.error();
    }
    // The plan's data delay: only bars closed by the call's NotAfter.
    auto& got = page->bars;
    while (!got.empty() && got.back().time() + market::TimeframeNanos(tf) > Metered(ctx).NotAfter())
      got.pop_back();
    series.push_back({s, std::move(got)});
  }
  auto panel = signals::AlignPanel(series, tf);
  if (!panel.ok()) {
    const Status& e = panel.error();
    if (e.code() == StatusCode::kNotFound) return Status::NotFound(e.message(), "symbols");
    // Misaligned series (off the timeframe grid) or too little overlap: name the input.
    return Status::InvalidArgument("the series cannot be aligned: " + e.message(), "symbols");
  }
  size_t valid = 0;
  for (size_t i = 1; i < panel->rows(); ++i) valid += panel->return_valid[i] ? 1 : 0;
  if (valid < static_cast<size_t>(window)) {
    if (valid < static_cast<size_t>(signals::kMinCorrelationWindow)) {
      return Status::InvalidArgument(
          "the series share only " + std::to_string(panel->rows()) + " common " + tf_name +
              " bars (" + std::to_string(valid) + " aligned returns); at least " +
              std::to_string(signals::kMinCorrelationWindow) + " are needed",
          "symbols");
    }
    return Status::InvalidArgument("window " + std::to_string(window) + " is longer than the " +
                                       std::to_string(valid) + " aligned returns of the " +
                                       std::to_string(panel->rows()) +
                                       " common bars; use window <= " + std::to_string(valid),
                                   "window");
  }
  SINYAL_ASSIGN_OR_RETURN(signals::CorrelationReport report,
                          signals::BuildCorrelationReport(*panel, static_cast<int>(window)));
  json breaks = json::array();
  for (const auto& b : report.breaks) {
    breaks.push_back({{"a", b.a},
                      {"b", b.b},
                      {"rolling", Num(b.rolling)},
                      {"long_run", Num(b.long_run)},
                      {"z", Num(b.z)},
                      {"break", b.flagged}});
  }
  // Lead-lag over the same last `window` rows (plus the lags).
  json lead_lag = json::array();
  const size_t rows = panel->rows();
  const size_t from_row = rows - std::min(rows, static_cast<size_t>(window + max_lag + 1));
  for (size_t i = 0; i < symbols.size(); ++i) {
    for (size_t j = i + 1; j < symbols.size(); ++j) {
      auto ll =
          signals::LeadLag(*panel, symbols[i], symbols[j], static_cast<int>(max_lag), from_row);
      json item = {{"a", symbols[i]}, {"b", symbols[j]}};
      if (!ll.ok()) {
        item["lags"] = nullptr;
        item["note"] = ll.error().message();
      } else {
        json lags = json::array();
        int best = 0;
        double best_abs = -1;
        for (const auto& l : *ll) {
          lags.push_back({{"lag", l.lag}, {"pearson", Num(l.pearson)}, {"n", l.n}});
          if (l.lag != 0 && std::isfinite(l.pearson) && std::fabs(l.pearson) > best_abs) {
            best_abs = std::fabs(l.pearson);
            best = l.lag;
          }
        }
        item["lags"] = lags;
        item["strongest_nonzero_lag"] = best_abs >= 0 ? json(best) : json(nullptr);
      }
      lead_lag.push_back(std::move(item));
    }
  }
  json out = {{"symbols", symbols},
              {"timeframe", tf_name},
              {"window", window},
              {"common_bars", rows},
              {"aligned_returns", valid},
              {"as_of", FormatIso8601(report.as_of)},
              {"pearson", MatrixJson(report.pearson)},
              {"spearman", MatrixJson(report.spearman)},
              {"breaks", breaks},
              {"lead_lag", lead_lag},
              {"notes",
               "Inner join of UTC bar open times; a return exists only between bars exactly one "
               "period apart (never across gaps). Breaks: Fisher z of the rolling correlation vs "
               "the long-run correlation before the window, |z| > 3 flagged. Lead-lag: "
               "corr(r_a[t], r_b[t+k]); k > 0 means a leads b."}};
  return Response::Json(200, out);
}

// Splits a comma-separated list at commas outside parentheses ("macd(12,26,9)_cross_up,rsi<30").
std::vector<std::string> SplitTopLevel(const std::string& list) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  for (char ch : list) {
    if (ch == '(') ++depth;
    if (ch == ')') --depth;
    if (ch == ',' && depth <= 0) {
      out.push_back(cur);
      cur.clear();
      continue;
    }
    cur += ch;
  }
  out.push_back(cur);
  return out;
}

// GET /api/v1/market/indicator-odds: for each indicator state, the historical share of up moves
// over each horizon after the state held, with its Wilson interval, thinned n, the base rate and
// a before/after holdout (signals/indicator_odds.h), as of the newest bar the caller's plan may
// see. Probabilities: plan feature "confidence"; the plan's data delay and timeframes apply.
Result<Response> IndicatorOddsRoute(const SignalsDeps& deps, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {"symbol", "timeframe", "states", "horizons"}));
  SINYAL_ASSIGN_OR_RETURN(Key k, QueryKey(ctx));
  billing::MeteredCall& call = Metered(ctx);
  SINYAL_RETURN_IF_ERROR(call.Gate(k.series.timeframe, "timeframe"));
  SINYAL_RETURN_IF_ERROR(call.Gate(billing::kFeatConfidence, "confidence", "indicator odds"));
  SINYAL_ASSIGN_OR_RETURN(std::string list, RequiredQueryParam(ctx, "states"));
  std::vector<signals::IndicatorState> states;
  const std::vector<std::string> items = SplitTopLevel(list);
  if (items.size() > SignalsDeps::kMaxIndicatorStates) {
    return Status::InvalidArgument(
        "at most " + std::to_string(SignalsDeps::kMaxIndicatorStates) + " states per request",
        "states");
  }
  for (size_t i = 0; i < items.size(); ++i) {
    SINYAL_ASSIGN_OR_RETURN(
        signals::IndicatorState st,
        signals::ParseIndicatorState(items[i], "states[" + std::to_string(i) + "]"));
    states.push_back(std::move(st));
  }
  std::vector<int> horizons;
  const std::string hl = QueryParam(ctx, "horizons").value_or("1,4,24");
  size_t start = 0;
  while (start <= hl.size()) {
    size_t comma = hl.find(',', start);
    if (comma == std::string::npos) comma = hl.size();
    const std::string field = "horizons[" + std::to_string(horizons.size()) + "]";
    SINYAL_ASSIGN_OR_RETURN(int64_t h, ParseInt(hl.substr(start, comma - start), field, 1, 500));
    horizons.push_back(static_cast<int>(h));
    start = comma + 1;
    if (horizons.size() > SignalsDeps::kMaxIndicatorHorizons) {
      return Status::InvalidArgument(
          "at most " + std::to_string(SignalsDeps::kMaxIndicatorHorizons) + " horizons per request",
          "horizons");
    }
  }
  SINYAL_ASSIGN_OR_RETURN(market::Timeframe tf, market::ParseTimeframe(k.timeframe));
  const UnixNanos not_after = call.NotAfter();
  // Bars closed by not_after (open + one period <= not_after), the newest kIndicatorOddsBars.
  store::BarRange range;
  range.to = not_after - market::TimeframeNanos(tf);
  range.newest = SignalsDeps::kIndicatorOddsBars;
  SINYAL_ASSIGN_OR_RETURN(std::vector<market::Bar> bars,
                          deps.bars->ReadBars(Tenant(ctx), {k.symbol, tf}, range));
  if (bars.empty()) {
    return Status::NotFound(
        "no " + k.timeframe + " bars of " + k.symbol + " closed by " + FormatIso8601(not_after),
        "symbol");
  }
  SINYAL_ASSIGN_OR_RETURN(std::vector<signals::IndicatorOdds> odds,
                          signals::ComputeIndicatorOdds(bars, states, horizons, bars.size() - 1));
  json list_json = json::array();
  for (const auto& o : odds) list_json.push_back(o.ToJson());
  json out = {
      {"symbol", k.symbol},
      {"timeframe", k.timeframe},
      {"as_of", FormatIso8601(bars.back().time())},
      {"bars", bars.size()},
      {"odds", list_json},
      {"notes",
       "rate = share of up moves (close h bars later above the close) after bars where the state "
       "held, counting only occurrences at least h bars apart (n) and only outcomes known at "
       "as_of; ci95 is Wilson's. base_rate is the same share over every bar; holdout splits the "
       "counted occurrences at the middle of the history. Historical frequencies, not a forecast "
       "of the model."}};
  return Response::Json(200, out);
}

// ---- The signal views and the one rule that prices them (docs/billing.md, "What is metered") ----
//
// A signal is shown to a caller only once its bar closed at or before the call's NotAfter (the
// plan's data delay). Then:
//   - an open forecast (no outcome bar closed by NotAfter) is what plans sell: one metered unit per
//     signal, its timeframe gated, through the metered-call flow (as predict and the stream);
//   - a resolved signal whose outcome bar closed by NotAfter is the track record, shown with its
//     outcome: free (it can no longer be traded on; /signals/performance aggregates the same rows).
// GET /signals lists the track record only; GET /signals/latest and GET /signals/:id of an open
// signal are metered.
enum class SignalView { kTooNew, kMetered, kTrackRecord };

SignalView ViewOf(const signals::StoredSignal& s, UnixNanos not_after) {
  auto tf = market::ParseTimeframe(s.signal.fields().timeframe);
  const int64_t period = tf.ok() ? market::TimeframeNanos(*tf) : 0;
  if (s.signal.bar_time() + period > not_after) return SignalView::kTooNew;
  if (s.resolution && s.resolution->resolved_bar_time + period <= not_after)
    return SignalView::kTrackRecord;
  return SignalView::kMetered;
}

Result<double> ThresholdParam(const Context& ctx) {
  double threshold = 0.5;
  if (auto t = QueryParam(ctx, "threshold")) {
    SINYAL_ASSIGN_OR_RETURN(threshold, ParseDouble(*t, "threshold"));
    if (threshold < 0 || threshold > 1) {
      return Status::InvalidArgument("threshold must be in [0, 1] (below 0.5 acts as 0.5)",
                                     "threshold");
    }
  }
  return threshold;
}

// GET /api/v1/signals/latest: an open forecast, metered (one unit), at the plan's data delay.
Result<Response> LatestSignal(const SignalsDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {"symbol", "timeframe", "threshold", "horizon"}));
  SINYAL_ASSIGN_OR_RETURN(Key k, QueryKey(ctx));
  SINYAL_ASSIGN_OR_RETURN(double threshold, ThresholdParam(ctx));
  SINYAL_ASSIGN_OR_RETURN(int horizon, HorizonQueryParam(ctx));
  billing::MeteredCall& call = Metered(ctx);
  SINYAL_RETURN_IF_ERROR(call.Gate(market::ParseTimeframe(k.timeframe).value(), "timeframe"));
  SINYAL_ASSIGN_OR_RETURN(Charge charge, Reserve(ctx, billing::kEndpointSignalsLatest, 1));
  if (charge.replay) return std::move(*charge.replay);
  ScopedStage stage(ctx, "signal");
  SINYAL_ASSIGN_OR_RETURN(std::shared_ptr<const signals::Signal> s,
                          d.signals->Latest(Tenant(ctx), k.series, horizon, call.NotAfter()));
  json body = GateSignalJson(call, signals::SignalService::WithThreshold(*s, threshold).ToJson());
  body["data_delay_seconds"] = call.DataDelaySeconds();
  stage.Stop();
  return CommitDeferred(ctx, std::move(charge.reservation), std::move(body));
}

// GET /api/v1/signals/performance: aggregates of resolved signals (no signal, no probability).
Result<Response> SignalPerformance(const SignalsDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {"symbol", "timeframe", "limit", "horizon"}));
  SINYAL_ASSIGN_OR_RETURN(Key k, QueryKey(ctx));
  int64_t limit = 500;
  if (auto l = QueryParam(ctx, "limit")) {
    SINYAL_ASSIGN_OR_RETURN(limit, ParseInt(*l, "limit", 1, 10000));
  }
  SINYAL_ASSIGN_OR_RETURN(int horizon, HorizonQueryParam(ctx));
  SINYAL_ASSIGN_OR_RETURN(
      signals::SignalPerformance p,
      d.signals->Performance(Tenant(ctx), k.series, static_cast<size_t>(limit), horizon));
  json out = p.ToJson();
  out["symbol"] = k.symbol;
  out["timeframe"] = k.timeframe;
  out["horizon"] = horizon;
  return Response::Json(200, out);
}

// GET /api/v1/signals: the track record (resolved signals whose outcome the plan may see), free.
Result<Response> SignalHistory(const SignalsDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(
      OnlyQueryParams(ctx, {"symbol", "timeframe", "limit", "before", "horizon"}));
  signals::SignalListQuery q;
  SINYAL_ASSIGN_OR_RETURN(q.horizon, HorizonQueryParam(ctx));  // one model line: default 1 bar
  if (auto s = QueryParam(ctx, "symbol")) {
    SINYAL_ASSIGN_OR_RETURN(q.symbol, market::ParseSymbolText(*s));
  }
  if (auto tf = QueryParam(ctx, "timeframe")) {
    SINYAL_ASSIGN_OR_RETURN(market::Timeframe t, market::ParseTimeframeText(*tf));
    q.timeframe = std::string(market::TimeframeName(t));
  }
  if (auto l = QueryParam(ctx, "limit")) {
    SINYAL_ASSIGN_OR_RETURN(int64_t lim, ParseInt(*l, "limit", 1, signals::kMaxSignalPage));
    q.limit = static_cast<size_t>(lim);
  }
  if (auto b = QueryParam(ctx, "before")) {
    auto t = ParseIso8601(*b);
    if (!t.ok()) return Status::InvalidArgument("before must be an ISO-8601 time", "before");
    q.before = *t;
  }
  billing::MeteredCall& call = Metered(ctx);
  const UnixNanos not_after = call.NotAfter();
  // Only resolved rows, and none whose bar opened at or after NotAfter (it can't have closed by it).
  q.resolved_only = true;
  if (!q.before || *q.before > not_after) q.before = not_after;
  SINYAL_ASSIGN_OR_RETURN(auto list, d.log->ListVisible(Tenant(ctx), q));
  json items = json::array();
  for (const auto& s : list) {
    // The newest rows of a page may have an outcome newer than the delay: left out (they appear
    // once it has passed); the page cursor still moves past them.
    if (ViewOf(s, not_after) != SignalView::kTrackRecord) continue;
    items.push_back(GateSignalJson(call, signals::StoredSignalJson(s)));
  }
  json out = {{"signals", items},
              {"next_before", nullptr},
              {"data_delay_seconds", call.DataDelaySeconds()}};
  if (list.size() == q.limit) out["next_before"] = FormatIso8601(list.back().signal.bar_time());
  return Response::Json(200, out);
}

// GET /api/v1/signals/:id: free once it is track record, metered (one unit) while open, refused
// (403, the plan with real-time data) while its bar is newer than the plan's data delay.
Result<Response> OneSignal(const SignalsDeps& d, Context& ctx) {
  SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {}));
  const std::string id = ctx.request.params.count("id") ? ctx.request.params.at("id") : "";
  if (id.size() != 16 || id.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return Status::NotFound("no signal " + id, "id");
  }
  SINYAL_ASSIGN_OR_RETURN(signals::StoredSignal s, d.log->GetVisible(Tenant(ctx), id));
  billing::MeteredCall& call = Metered(ctx);
  switch (ViewOf(s, call.NotAfter())) {
    case SignalView::kTooNew:
      return call.Gate(billing::kFeatRealtime, "id",
                       "signal " + id + " (its bar closed less than " +
                           std::to_string(call.DataDelaySeconds()) + " s ago)");
    case SignalView::kTrackRecord:
      return Response::Json(200, GateSignalJson(call, signals::StoredSignalJson(s)));
    case SignalView::kMetered:
      break;
  }
  SINYAL_ASSIGN_OR_RETURN(market::Timeframe tf,
                          market::ParseTimeframe(s.signal.fields().timeframe));
  SINYAL_RETURN_IF_ERROR(call.Gate(tf, "id"));
  SINYAL_ASSIGN_OR_RETURN(Charge charge, Reserve(ctx, billing::kEndpointSignalsGet, 1));
  if (charge.replay) return std::move(*charge.replay);
  return CommitDeferred(ctx, std::move(charge.reservation),
                        GateSignalJson(call, signals::StoredSignalJson(s)));
}

}  // namespace

void AddSignalRoutes(RouteTable& routes, SignalsDeps deps) {
  auto d = std::make_shared<const SignalsDeps>(std::move(deps));
  auto bind = [d](Result<Response> (*handler)(const SignalsDeps&, Context&)) {
    return [d, handler](Context& ctx) { return handler(*d, ctx); };
  };
  // All billable: the plan is resolved once and its rate limit applies (pipeline); each handler
  // meters or not by the rule above.
  routes.Add({.method = "GET",
              .pattern = "/api/v1/signals/latest",
              .auth = AuthMode::kAny,
              .required_scope = "read",
              .billable = true,
              .handler = bind(&LatestSignal)});
  routes.Add({.method = "GET",
              .pattern = "/api/v1/signals/performance",
              .auth = AuthMode::kAny,
              .required_scope = "read",
              .handler = bind(&SignalPerformance)});
  routes.Add({.method = "GET",
              .pattern = "/api/v1/signals",
              .auth = AuthMode::kAny,
              .required_scope = "read",
              .billable = true,
              .handler = bind(&SignalHistory)});
  routes.Add({.method = "GET",
              .pattern = "/api/v1/signals/:id",
              .auth = AuthMode::kAny,
              .required_scope = "read",
              .billable = true,
              .handler = bind(&OneSignal)});
  routes.Add({.method = "GET",
              .pattern = "/api/v1/market/indicator-odds",
              .auth = AuthMode::kAny,
              .required_scope = "read",
              .billable = true,
              .handler = bind(&IndicatorOddsRoute)});
  routes.Add({.method = "GET",
              .pattern = "/api/v1/market/correlations",
              .auth = AuthMode::kAny,
              .required_scope = "read",
              .billable = true,
              .handler = bind(&Correlations)});
}

}  // namespace sinyal::http
