#include "backtest/service.h"

#include <algorithm>
#include <utility>

#include "backtest/report.h"
#include "core/time.h"
#include "models/market_adapter.h"
#include "store/bar_store.h"
#include "store/database.h"
#include "store/soci.h"

namespace sinyal::backtest {
namespace {

using nlohmann::json;

std::optional<TenantId> ViewerOf(TenantId owner) {
  return owner.valid() ? std::optional<TenantId>(owner) : std::nullopt;
}

json ErrorJson(const Status& s) {
  return {{"code", std::string(StatusCodeName(s.code()))},
          {"message", s.message()},
          {"field", s.field()}};
}

constexpr const char* kColumns =
    "id, user_id, job_id, status, strategy, cancel_requested, error, created_at, finished_at";

struct Row {
  long long id = 0, user_id = 0, job_id = 0, cancel = 0, created_at = 0, finished_at = 0;
  std::string status, strategy, error;
  soci::indicator user_ind = soci::i_ok, job_ind = soci::i_ok, error_ind = soci::i_ok,
                  finished_ind = soci::i_ok;
};

BacktestRecord ToRecord(TenantId tenant, const Row& r) {
  BacktestRecord b;
  b.id = r.id;
  b.tenant = tenant;
  if (r.user_ind == soci::i_ok) b.user = UserId(r.user_id);
  b.job_id = r.job_ind == soci::i_ok ? r.job_id : 0;
  b.status = r.status;
  b.strategy = json::parse(r.strategy, nullptr, false);
  b.cancel_requested = r.cancel != 0;
  if (r.error_ind == soci::i_ok && !r.error.empty()) b.error = json::parse(r.error, nullptr, false);
  b.created_at = r.created_at;
  b.finished_at = r.finished_ind == soci::i_ok ? r.finished_at : 0;
  return b;
}

}  // namespace

json BacktestRecord::ToJson() const {
  json j = {{"id", id},
            {"status", status},
            {"progress", progress},
            {"stage", stage},
            {"cancel_requested", cancel_requested},
            {"strategy", strategy},
            {"created_at", FormatIso8601(created_at)},
            {"finished_at", finished_at ? json(FormatIso8601(finished_at)) : json(nullptr)},
            {"error", error}};
  if (!result.is_null()) j["result"] = result;
  return j;
}

BacktestService::BacktestService(store::Database& db, store::BarStore& bars, store::JobQueue& jobs,
                                 SignalSourceFactory& signals, const Clock& clock,
                                 BacktestServiceOptions options)
    : db_(db),
      bars_(bars),
      jobs_(jobs),
      signals_(signals),
      clock_(clock),
      options_(std::move(options)) {}

Result<std::vector<SeriesInput>> BacktestService::LoadSeries(TenantId owner,
                                                             const StrategyConfig& c) {
  std::vector<SeriesInput> out;
  for (size_t i = 0; i < c.symbols.size(); ++i) {
    const std::string field = "symbols[" + std::to_string(i) + "]";
    const market::SeriesKey key{c.symbols[i], c.timeframe};
    SeriesInput s;
    s.symbol = c.symbols[i];
    store::BarQuery q;
    q.key = key;
    q.to = c.to ? c.to : INT64_MAX;
    q.limit = store::kMaxBarPage;
    for (;;) {
      auto page = bars_.Query(ViewerOf(owner), q);
      if (!page.ok()) {
        if (page.error().IsNotFound()) {
          return Status::InvalidArgument("no " + std::string(market::TimeframeName(c.timeframe)) +
                                             " bars of " + c.symbols[i] + " are available",
                                         field);
        }
        return page.error();
      }
      s.bars.insert(s.bars.end(), page->bars.begin(), page->bars.end());
      if (!page->next_cursor) break;
      q.cursor = page->next_cursor;
      if (s.bars.size() > 2 * options_.max_bars_per_symbol) {
        s.bars.erase(s.bars.begin(),
                     s.bars.end() - static_cast<std::ptrdiff_t>(options_.max_bars_per_symbol));
      }
    }
    if (s.bars.size() > options_.max_bars_per_symbol) {
      s.bars.erase(s.bars.begin(),
                   s.bars.end() - static_cast<std::ptrdiff_t>(options_.max_bars_per_symbol));
    }
    if (s.bars.empty()) {
      return Status::InvalidArgument("no " + std::string(market::TimeframeName(c.timeframe)) +
                                         " bars of " + c.symbols[i] + " before the period's end",
                                     field);
    }
    s.digits = models::InferDigits(s.bars);
    if (c.m1_replay) {
      store::BarQuery m;
      m.key = {c.symbols[i], market::Timeframe::kM1};
      m.from = c.from ? c.from : s.bars.front().time();
      m.to = q.to;
      m.limit = store::kMaxBarPage;
      for (;;) {
        auto page = bars_.Query(ViewerOf(owner), m);
        if (!page.ok()) {
          if (page.error().IsNotFound()) break;  // no minutes: the SL-first rule applies
          return page.error();
        }
        s.minutes.insert(s.minutes.end(), page->bars.begin(), page->bars.end());
        if (!page->next_cursor || s.minutes.size() > 20'000'000) break;
        m.cursor = page->next_cursor;
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

Status BacktestService::CheckPeriod(const StrategyConfig& c,
                                    const std::vector<SeriesInput>& series) {
  const int64_t tf = market::TimeframeNanos(c.timeframe);
  for (size_t i = 0; i < series.size(); ++i) {
    const auto& b = series[i].bars;
    const bool any = std::any_of(b.begin(), b.end(), [&](const market::Bar& x) {
      return x.time() >= c.from && (c.to == 0 || x.time() + tf <= c.to);
    });
    if (!any) {
      return Status::InvalidArgument(
          "no " + c.symbols[i] + " bars in the period; stored bars cover " +
              FormatIso8601(b.front().time()) + " .. " + FormatIso8601(b.back().time() + tf),
          "period");
    }
  }
  return Status::Ok();
}

Result<BacktestRecord> BacktestService::Submit(TenantId tenant, std::optional<UserId> user,
                                               std::string_view strategy_json) {
  SINYAL_ASSIGN_OR_RETURN(StrategyConfig config, ParseStrategy(strategy_json));
  // Cheap data checks: the series exists for the tenant and has a bar in the period.
  const int64_t tf = market::TimeframeNanos(config.timeframe);
  for (size_t i = 0; i < config.symbols.size(); ++i) {
    const std::string field = "symbols[" + std::to_string(i) + "]";
    store::BarQuery q;
    q.key = {config.symbols[i], config.timeframe};
    q.from = config.from ? config.from : INT64_MIN;
    q.to = config.to ? config.to - tf : INT64_MAX;
    q.limit = 1;
    auto page = bars_.Query(ViewerOf(tenant), q);
    if (!page.ok()) {
      if (page.error().IsNotFound()) {
        return Status::InvalidArgument("unknown symbol: no " +
                                           std::string(market::TimeframeName(config.timeframe)) +
                                           " bars of " + config.symbols[i] + " are available",
                                       field);
      }
      return page.error();
    }
    if (page->bars.empty()) {
      return Status::InvalidArgument("no " + config.symbols[i] + " bars in the period", "period");
    }
  }
  SINYAL_RETURN_IF_ERROR(signals_.Validate(tenant, config));
  const int max_active =
      options_.max_active_of ? options_.max_active_of(tenant) : options_.max_active;

  const std::string strategy = config.ToJson().dump();
  const UnixNanos now = clock_.Now();
  long long id = 0;
  Status s = db_.WithTenantTx(tenant, [&](soci::session& sql) -> Status {
    const long long t = tenant.value();
    long long active = 0;
    sql << "SELECT COUNT(*) FROM backtests WHERE tenant_id = :t AND status IN ('queued', "
           "'running')",
        soci::use(t, "t"), soci::into(active);
    if (active >= max_active) {
      return Status(StatusCode::kRateLimited,
                    std::to_string(active) + " backtests are queued or running; your plan allows " +
                        std::to_string(max_active) + " at a time",
                    "backtests");
    }
    long long u = user ? user->value() : 0;
    soci::indicator ui = user ? soci::i_ok : soci::i_null;
    long long created = now;
    sql << "INSERT INTO backtests (tenant_id, user_id, status, strategy, created_at) "
           "VALUES (:t, :u, 'queued', :s, :c) RETURNING id",
        soci::use(t, "t"), soci::use(u, ui, "u"), soci::use(strategy, "s"), soci::use(created, "c"),
        soci::into(id);
    return Status::Ok();
  });
  SINYAL_RETURN_IF_ERROR(s);
  store::JobSpec spec;
  spec.tenant = tenant;
  spec.kind = kBacktestJobKind;
  spec.payload = json{{"backtest_id", id}}.dump();
  spec.max_attempts = 1;
  auto job = jobs_.Enqueue(spec);
  if (!job.ok()) {
    // Nothing half-made stays behind.
    (void)db_.WithTenantTx(tenant, [&](soci::session& sql) -> Status {
      const long long t = tenant.value();
      sql << "DELETE FROM backtests WHERE id = :id AND tenant_id = :t", soci::use(id, "id"),
          soci::use(t, "t");
      return Status::Ok();
    });
    return job.error();
  }
  SINYAL_RETURN_IF_ERROR(db_.WithTenantTx(tenant, [&](soci::session& sql) -> Status {
    const long long t = tenant.value(), j = *job;
    sql << "UPDATE backtests SET job_id = :j WHERE id = :id AND tenant_id = :t", soci::use(j, "j"),
        soci::use(id, "id"), soci::use(t, "t");
    return Status::Ok();
  }));
  return Get(tenant, id, false);
}

Result<std::string> BacktestService::Report(TenantId tenant, int64_t id, std::string_view part) {
  if (part != "markdown" && part != "equity.svg" && part != "drawdown.svg" &&
      part != "random.svg") {
    return Status::InvalidArgument(
        "format must be markdown, equity.svg, drawdown.svg or random.svg", "format");
  }
  std::string result;
  soci::indicator ind = soci::i_null;
  std::string status;
  bool found = false;
  SINYAL_RETURN_IF_ERROR(db_.WithTenantReadTx(tenant, [&](soci::session& sql) -> Status {
    const long long t = tenant.value(), i = id;
    sql << "SELECT status, result FROM backtests WHERE id = :id AND tenant_id = :t",
        soci::use(i, "id"), soci::use(t, "t"), soci::into(status), soci::into(result, ind);
    found = sql.got_data();
    return Status::Ok();
  }));
  if (!found) return Status::NotFound("no backtest " + std::to_string(id), "id");
  if (status != "succeeded" || ind != soci::i_ok) {
    return Status::FailedPrecondition("backtest " + std::to_string(id) + " is " + status +
                                          "; the report exists once it has succeeded",
                                      "status");
  }
  const json j = json::parse(result, nullptr, false);
  if (!j.is_object() || !j.contains("report") || !j["report"].contains(part)) {
    return Status::NotFound("backtest " + std::to_string(id) + " has no stored report", "id");
  }
  return j["report"][std::string(part)].get<std::string>();
}

Result<BacktestRecord> BacktestService::Get(TenantId tenant, int64_t id, bool with_result) {
  Row r;
  std::string result;
  soci::indicator result_ind = soci::i_null;
  bool found = false;
  SINYAL_RETURN_IF_ERROR(db_.WithTenantReadTx(tenant, [&](soci::session& sql) -> Status {
    const long long t = tenant.value(), i = id;
    sql << std::string("SELECT ") + kColumns + (with_result ? ", result" : ", NULL") +
               " FROM backtests WHERE id = :id AND tenant_id = :t",
        soci::use(i, "id"), soci::use(t, "t"), soci::into(r.id), soci::into(r.user_id, r.user_ind),
        soci::into(r.job_id, r.job_ind), soci::into(r.status), soci::into(r.strategy),
        soci::into(r.cancel), soci::into(r.error, r.error_ind), soci::into(r.created_at),
        soci::into(r.finished_at, r.finished_ind), soci::into(result, result_ind);
    found = sql.got_data();
    return Status::Ok();
  }));
  if (!found) return Status::NotFound("no backtest " + std::to_string(id), "id");
  BacktestRecord b = ToRecord(tenant, r);
  if (with_result && result_ind == soci::i_ok) {
    b.result = json::parse(result, nullptr, false);
    if (b.result.is_object()) b.result.erase("report");  // served by Report()
  }
  if (b.job_id) {
    auto job = jobs_.Get(tenant, b.job_id);
    if (job.ok()) {
      b.progress = b.status == "succeeded" ? 1.0 : job->progress;
      b.stage = job->stage;
    }
  }
  return b;
}

Result<std::vector<BacktestRecord>> BacktestService::List(TenantId tenant, size_t limit) {
  if (limit < 1 || limit > 100) return Status::InvalidArgument("limit must be 1..100", "limit");
  std::vector<Row> rows;
  SINYAL_RETURN_IF_ERROR(db_.WithTenantReadTx(tenant, [&](soci::session& sql) -> Status {
    const long long t = tenant.value(), n = static_cast<long long>(limit);
    Row r;
    soci::statement st =
        (sql.prepare << std::string("SELECT ") + kColumns +
                            " FROM backtests WHERE tenant_id = :t ORDER BY id DESC LIMIT :n",
         soci::use(t, "t"), soci::use(n, "n"), soci::into(r.id), soci::into(r.user_id, r.user_ind),
         soci::into(r.job_id, r.job_ind), soci::into(r.status), soci::into(r.strategy),
         soci::into(r.cancel), soci::into(r.error, r.error_ind), soci::into(r.created_at),
         soci::into(r.finished_at, r.finished_ind));
    st.execute();
    while (st.fetch()) rows.push_back(r);
    return Status::Ok();
  }));
  std::vector<BacktestRecord> out;
  for (const Row& r : rows) out.push_back(ToRecord(tenant, r));
  return out;
}

Result<BacktestRecord> BacktestService::Cancel(TenantId tenant, int64_t id) {
  SINYAL_ASSIGN_OR_RETURN(BacktestRecord b, Get(tenant, id, false));
  if (b.status != "queued" && b.status != "running") {
    return Status::FailedPrecondition("backtest " + std::to_string(id) + " is already " + b.status,
                                      "status");
  }
  const UnixNanos now = clock_.Now();
  SINYAL_RETURN_IF_ERROR(db_.WithTenantTx(tenant, [&](soci::session& sql) -> Status {
    const long long t = tenant.value(), i = id, n = now;
    // A queued one is cancelled at once (its job will find it so and do nothing); a running one
    // stops at the job's next check.
    sql << "UPDATE backtests SET cancel_requested = 1, "
           "status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END, "
           "finished_at = CASE WHEN status = 'queued' THEN :n ELSE finished_at END "
           "WHERE id = :id AND tenant_id = :t AND status IN ('queued', 'running')",
        soci::use(n, "n"), soci::use(i, "id"), soci::use(t, "t");
    return Status::Ok();
  }));
  return Get(tenant, id, false);
}

Status BacktestService::Finish(TenantId tenant, int64_t id, const std::string& status,
                               const std::string& result, const std::string& error) {
  return db_.WithTenantTx(tenant, [&](soci::session& sql) -> Status {
    const long long t = tenant.value(), i = id, n = clock_.Now();
    soci::indicator ri = result.empty() ? soci::i_null : soci::i_ok;
    soci::indicator ei = error.empty() ? soci::i_null : soci::i_ok;
    sql << "UPDATE backtests SET status = :s, result = :r, error = :e, finished_at = :n "
           "WHERE id = :id AND tenant_id = :t",
        soci::use(status, "s"), soci::use(result, ri, "r"), soci::use(error, ei, "e"),
        soci::use(n, "n"), soci::use(i, "id"), soci::use(t, "t");
    return Status::Ok();
  });
}

Result<BacktestResult> BacktestService::RunNow(TenantId owner, const StrategyConfig& config,
                                               const RunControl& control) {
  SINYAL_ASSIGN_OR_RETURN(std::vector<SeriesInput> series, LoadSeries(owner, config));
  SINYAL_RETURN_IF_ERROR(CheckPeriod(config, series));
  SINYAL_RETURN_IF_ERROR(signals_.Validate(owner, config));
  SINYAL_ASSIGN_OR_RETURN(std::unique_ptr<SignalSource> source,
                          signals_.Create(owner, config, series, {}));
  BacktestOptions opt;
  opt.baselines = options_.baselines;
  opt.wall_clock = &clock_;
  return RunBacktest(config, series, *source, control, opt);
}

Result<std::string> BacktestService::RunJob(const store::Job& job,
                                            const store::JobWorker::ProgressFn& progress) {
  if (!job.tenant) return Status::InvalidArgument("a backtest job belongs to a tenant", "tenant");
  const TenantId tenant = *job.tenant;
  const json payload = json::parse(job.payload, nullptr, false);
  if (!payload.is_object() || !payload.contains("backtest_id")) {
    return Status::InvalidArgument("payload without backtest_id", "payload");
  }
  const int64_t id = payload["backtest_id"].get<int64_t>();
  SINYAL_ASSIGN_OR_RETURN(BacktestRecord rec, Get(tenant, id, false));
  const json done = {{"backtest_id", id}};
  if (rec.status != "queued") return done.dump();  // cancelled while queued
  SINYAL_RETURN_IF_ERROR(db_.WithTenantTx(tenant, [&](soci::session& sql) -> Status {
    const long long t = tenant.value(), i = id;
    sql << "UPDATE backtests SET status = 'running' WHERE id = :id AND tenant_id = :t "
           "AND status = 'queued'",
        soci::use(i, "id"), soci::use(t, "t");
    return Status::Ok();
  }));

  auto fail = [&](const Status& s) -> Result<std::string> {
    const bool cancelled =
        s.code() == StatusCode::kFailedPrecondition && s.message() == "cancelled";
    SINYAL_RETURN_IF_ERROR(Finish(tenant, id, cancelled ? "cancelled" : "failed", "",
                                  cancelled ? "" : ErrorJson(s).dump()));
    if (cancelled) return done.dump();
    return s;
  };
  auto config = StrategyFromJson(rec.strategy);
  if (!config.ok()) return fail(config.error());
  auto series = LoadSeries(tenant, *config);
  if (!series.ok()) return fail(series.error());
  Status period = CheckPeriod(*config, *series);
  if (!period.ok()) return fail(period);
  if (progress) progress(0.02, "training models");
  auto source = signals_.Create(tenant, *config, *series, [&](double f, std::string_view stage) {
    if (progress) progress(0.02 + 0.3 * std::clamp(f, 0.0, 1.0), stage);
  });
  if (!source.ok()) return fail(source.error());

  RunControl control;
  control.check_every = 256;  // a cancel stops within 256 bars (one indexed read each)
  control.cancelled = [&]() {
    auto r = Get(tenant, id, false);
    return r.ok() && r->cancel_requested;
  };
  control.progress = [&](double f) {
    if (progress) progress(0.32 + 0.6 * f, "trading");
  };
  BacktestOptions opt;
  opt.baselines = options_.baselines;
  opt.wall_clock = &clock_;
  auto result = RunBacktest(*config, *series, **source, control, opt);
  if (!result.ok()) return fail(result.error());
  if (progress) progress(0.97, "storing the report");
  json stored = ToJson(*result);
  const std::string name = "backtest-" + std::to_string(id);
  const BacktestReport report = RenderBacktestReport(*result, name, "POST /api/v1/backtests");
  stored["report"] = {{"markdown", report.markdown},
                      {"equity.svg", report.equity_svg},
                      {"drawdown.svg", report.drawdown_svg},
                      {"random.svg", report.random_svg}};
  SINYAL_RETURN_IF_ERROR(Finish(tenant, id, "succeeded", stored.dump(), ""));
  return done.dump();
}

}  // namespace sinyal::backtest
