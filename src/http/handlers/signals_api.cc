// Signal routes (the live signal, its history with resolutions, live performance) and the market
// correlations route. Handlers parse the query, call signals::SignalService / DbSignalLog /
// cross_asset.h, and map the result to JSON. Every call is scoped to the caller's tenant: a
// tenant sees its own models' signals and the platform models' signals, never another tenant's.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

#include "core/time.h"
#include "http/api.h"
#include "http/query.h"
#include "market/edge_parse.h"
#include "market/timeframe.h"
#include "models/service.h"
#include "signals/cross_asset.h"
#include "signals/db_signal_log.h"
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

Result<int64_t> ParseInt(const std::string& text, const std::string& field, int64_t lo, int64_t hi) {
  int64_t v = 0;
  const char* b = text.data();
  const char* e = b + text.size();
  auto [p, ec] = std::from_chars(b, e, v);
  if (text.empty() || ec != std::errc() || p != e) {
    return Status::InvalidArgument(field + " must be an integer", field);
  }
  if (v < lo || v > hi) {
    return Status::InvalidArgument(field + " must be in [" + std::to_string(lo) + ", " +
                                       std::to_string(hi) + "], got " + text,
                                   field);
  }
  return v;
}

Status Entitle(const SignalsDeps& deps, const Context& ctx, std::string_view feature) {
  if (!deps.entitle) return Status::Ok();
  return deps.entitle(ctx, feature);
}

// Removes from a signal's JSON what the caller's plan lacks (see SignalsDeps) and lists it in
// "gated" with the reason (the plan needed). Errors other than PermissionDenied propagate.
Result<json> GateSignalJson(const SignalsDeps& deps, const Context& ctx, json j) {
  json gated = json::object();
  auto lacks = [&](std::string_view feature) -> Result<bool> {
    Status st = Entitle(deps, ctx, feature);
    if (st.ok()) return false;
    if (st.code() != StatusCode::kPermissionDenied) return st;
    gated[std::string(feature)] = st.message();
    return true;
  };
  json* resolution = j.contains("resolution") && j["resolution"].is_object() ? &j["resolution"] : nullptr;
  SINYAL_ASSIGN_OR_RETURN(bool no_confidence, lacks("confidence"));
  if (no_confidence) {
    for (const char* k : {"p_up", "confidence", "uncertainty", "abstain_reason"}) j.erase(k);
    // Brier score and log loss are functions of p_up.
    if (resolution) {
      resolution->erase("brier");
      resolution->erase("log_loss");
    }
  }
  SINYAL_ASSIGN_OR_RETURN(bool no_intervals, lacks("intervals"));
  if (no_intervals) {
    for (const char* k : {"intervals", "expected_return", "expected_abs_move"}) j.erase(k);
    if (resolution) resolution->erase("covered");
  }
  SINYAL_ASSIGN_OR_RETURN(bool no_regime, lacks("regime"));
  if (no_regime) {
    for (const char* k : {"regime", "drivers", "model_version"}) j.erase(k);
  }
  SINYAL_ASSIGN_OR_RETURN(bool no_correlations, lacks("correlations"));
  if (no_correlations) j.erase("cross_asset");
  if (!gated.empty()) j["gated"] = std::move(gated);
  return j;
}

// not_after for the caller: now, or now minus its plan's data delay.
Result<UnixNanos> NotAfter(const SignalsDeps& deps, const Context& ctx) {
  if (!deps.data_delay_nanos) return ctx.now;
  SINYAL_ASSIGN_OR_RETURN(int64_t delay, deps.data_delay_nanos(ctx));
  return ctx.now - std::max<int64_t>(delay, 0);
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
  SINYAL_RETURN_IF_ERROR(Entitle(deps, ctx, "correlations"));
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
    auto norm = models::ModelService::NormalizeSymbol(item);
    if (!norm.ok()) {
      return Status::InvalidArgument("symbols: '" + item + "': " + norm.error().message(), "symbols");
    }
    if (seen.insert(*norm).second) symbols.push_back(*norm);
    if (symbols.size() > SignalsDeps::kMaxCorrelationSymbols) {
      return Status::InvalidArgument("at most " + std::to_string(SignalsDeps::kMaxCorrelationSymbols) +
                                         " symbols per request",
                                     "symbols");
    }
  }
  if (symbols.size() < 2) {
    return Status::InvalidArgument("at least 2 distinct symbols are needed, comma-separated", "symbols");
  }
  SINYAL_ASSIGN_OR_RETURN(std::string tf_text, RequiredQueryParam(ctx, "timeframe"));
  SINYAL_ASSIGN_OR_RETURN(std::string tf_name, models::ModelService::NormalizeTimeframe(tf_text));
  SINYAL_ASSIGN_OR_RETURN(market::Timeframe tf, market::ParseTimeframe(tf_name));
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
        return Status::NotFound("unknown symbol " + s + ": no " + tf_name + " bars are stored for it",
                                "symbols");
      }
      return page.error();
    }
    series.push_back({s, std::move(page->bars)});
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
          "the series share only " + std::to_string(panel->rows()) + " common " + tf_name + " bars (" +
              std::to_string(valid) + " aligned returns); at least " +
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
    breaks.push_back({{"a", b.a}, {"b", b.b}, {"rolling", Num(b.rolling)}, {"long_run", Num(b.long_run)},
                      {"z", Num(b.z)}, {"break", b.flagged}});
  }
  // Lead-lag over the same last `window` rows (plus the lags).
  json lead_lag = json::array();
  const size_t rows = panel->rows();
  const size_t from_row = rows - std::min(rows, static_cast<size_t>(window + max_lag + 1));
  for (size_t i = 0; i < symbols.size(); ++i) {
    for (size_t j = i + 1; j < symbols.size(); ++j) {
      auto ll = signals::LeadLag(*panel, symbols[i], symbols[j], static_cast<int>(max_lag), from_row);
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

}  // namespace

void AddSignalRoutes(RouteTable& routes, SignalsDeps deps) {
  auto d = std::make_shared<SignalsDeps>(std::move(deps));

  routes.Add({.method = "GET",
              .pattern = "/api/v1/signals/latest",
              .auth = AuthMode::kAny,
              .required_scope = "read",
              .handler = [d](Context& ctx) -> Result<Response> {
                SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {"symbol", "timeframe", "threshold"}));
                SINYAL_ASSIGN_OR_RETURN(Key k, QueryKey(ctx));
                if (d->timeframe_allowed) SINYAL_RETURN_IF_ERROR(d->timeframe_allowed(ctx, k.timeframe));
                double threshold = 0.5;
                if (auto t = QueryParam(ctx, "threshold")) {
                  SINYAL_ASSIGN_OR_RETURN(threshold, ParseDouble(*t, "threshold"));
                  if (threshold < 0 || threshold > 1) {
                    return Status::InvalidArgument("threshold must be in [0, 1] (below 0.5 acts as 0.5)",
                                                   "threshold");
                  }
                }
                SINYAL_ASSIGN_OR_RETURN(UnixNanos not_after, NotAfter(*d, ctx));
                SINYAL_ASSIGN_OR_RETURN(std::shared_ptr<const signals::Signal> s,
                                        d->signals->Latest(Tenant(ctx), k.series, not_after));
                const signals::Signal out = signals::SignalService::WithThreshold(*s, threshold);
                SINYAL_ASSIGN_OR_RETURN(json body, GateSignalJson(*d, ctx, out.ToJson()));
                return Response::Json(200, body);
              }});

  routes.Add({.method = "GET",
              .pattern = "/api/v1/signals/performance",
              .auth = AuthMode::kAny,
              .required_scope = "read",
              .handler = [d](Context& ctx) -> Result<Response> {
                SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {"symbol", "timeframe", "limit"}));
                SINYAL_ASSIGN_OR_RETURN(Key k, QueryKey(ctx));
                int64_t limit = 500;
                if (auto l = QueryParam(ctx, "limit")) {
                  SINYAL_ASSIGN_OR_RETURN(limit, ParseInt(*l, "limit", 1, 10000));
                }
                SINYAL_ASSIGN_OR_RETURN(signals::SignalPerformance p,
                                        d->signals->Performance(Tenant(ctx), k.series, static_cast<size_t>(limit)));
                json out = p.ToJson();
                out["symbol"] = k.symbol;
                out["timeframe"] = k.timeframe;
                return Response::Json(200, out);
              }});

  routes.Add({.method = "GET",
              .pattern = "/api/v1/signals",
              .auth = AuthMode::kAny,
              .required_scope = "read",
              .handler = [d](Context& ctx) -> Result<Response> {
                SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {"symbol", "timeframe", "limit", "before"}));
                signals::SignalListQuery q;
                if (auto s = QueryParam(ctx, "symbol")) {
                  SINYAL_ASSIGN_OR_RETURN(q.symbol, models::ModelService::NormalizeSymbol(*s));
                }
                if (auto tf = QueryParam(ctx, "timeframe")) {
                  SINYAL_ASSIGN_OR_RETURN(q.timeframe, models::ModelService::NormalizeTimeframe(*tf));
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
                SINYAL_ASSIGN_OR_RETURN(auto list, d->log->ListVisible(Tenant(ctx), q));
                json items = json::array();
                for (const auto& s : list) {
                  SINYAL_ASSIGN_OR_RETURN(json item, GateSignalJson(*d, ctx, signals::StoredSignalJson(s)));
                  items.push_back(std::move(item));
                }
                json out = {{"signals", items}, {"next_before", nullptr}};
                if (list.size() == q.limit) out["next_before"] = FormatIso8601(list.back().signal.bar_time());
                return Response::Json(200, out);
              }});

  routes.Add({.method = "GET",
              .pattern = "/api/v1/signals/:id",
              .auth = AuthMode::kAny,
              .required_scope = "read",
              .handler = [d](Context& ctx) -> Result<Response> {
                SINYAL_RETURN_IF_ERROR(OnlyQueryParams(ctx, {}));
                const std::string id = ctx.request.params.count("id") ? ctx.request.params.at("id") : "";
                if (id.size() != 16 || id.find_first_not_of("0123456789abcdef") != std::string::npos) {
                  return Status::NotFound("no signal " + id, "id");
                }
                SINYAL_ASSIGN_OR_RETURN(signals::StoredSignal s, d->log->GetVisible(Tenant(ctx), id));
                SINYAL_ASSIGN_OR_RETURN(json body, GateSignalJson(*d, ctx, signals::StoredSignalJson(s)));
                return Response::Json(200, body);
              }});

  routes.Add({.method = "GET",
              .pattern = "/api/v1/market/correlations",
              .auth = AuthMode::kAny,
              .required_scope = "read",
              .handler = [d](Context& ctx) -> Result<Response> { return Correlations(*d, ctx); }});
}

}  // namespace sinyal::http
