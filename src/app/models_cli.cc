#include "app/models_cli.h"

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "app/trading.h"
#include "core/log.h"
#include "core/time.h"
#include "market/edge_parse.h"
#include "market/timeframe.h"
#include "models/report.h"
#include "signals/db_audit_log.h"
#include "signals/db_signal_log.h"
#include "store/bar_store.h"
#include "store/database.h"
#include "store/feature_set_store.h"

namespace sinyal::app {

namespace {
constexpr const char* kCodeVersion = "sinyal-0.1.0";
}  // namespace

void SetOpenMpDefaults(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  ::setenv("OMP_WAIT_POLICY", "PASSIVE", /*overwrite=*/0);
  // libgomp reads OMP_WAIT_POLICY in its load-time constructor, before main() runs, so setting
  // it here affects only a new image of this program: re-execute once (the variable is now set,
  // so the new image does not repeat this). Measured: `sinyal evaluate` of 9,000 H1 bars took
  // 77 s with spinning OpenMP threads on a busy machine and 0.5 s after the re-exec.
  ::execv("/proc/self/exe", argv);
  // exec failed (no /proc): carry on with the default policy.
}

models::ModelServiceOptions ModelServiceOptionsFrom(const Config& config,
                                                    billing::Entitlements& entitlements,
                                                    const Clock& clock) {
  models::ModelServiceOptions o;
  o.code_version = kCodeVersion;
  o.report_folds = static_cast<int>(config.models.report_folds);
  o.nthread = static_cast<int>(config.worker.xgboost_threads);
  // A tenant trains within its subscription plan's training bounds (billing::Plan::training).
  o.bounds_of = [&entitlements, &clock](TenantId tenant) -> Result<models::OwnerBounds> {
    SINYAL_ASSIGN_OR_RETURN(billing::CallerPlan p, entitlements.Resolve(tenant, clock.Now()));
    return models::OwnerBounds{p.plan->name, p.plan->training};
  };
  return o;
}

void FitIntervalCalibrationsOnTrainAndActivate(models::ModelServiceOptions& options,
                                               models::DbModelRegistry& registry,
                                               signals::IntervalCalibrationStore& store) {
  auto fit = [&store](TenantId owner, const market::SeriesKey& series, int64_t version) {
    auto c = store.Fit(owner, series, version);
    if (!c.ok()) {
      LogEvent(spdlog::level::warn, "interval_calibration_fit_failed",
               {{"symbol", series.symbol},
                {"timeframe", std::string(market::TimeframeName(series.timeframe))},
                {"version", version},
                {"error", c.error().ToString()}});
    }
  };
  options.on_version_stored = [fit](TenantId owner, const market::SeriesKey& series,
                                    const models::ModelRecord& r) {
    fit(owner, series, r.version);
  };
  registry.SetActivationListener(fit);
}

signals::RetrainingJobOptions RetrainingOptionsFrom(const Config& config) {
  signals::RetrainingJobOptions o;
  o.train_window_bars = static_cast<size_t>(config.worker.retrain_window_bars);
  o.cooldown_bars = static_cast<size_t>(config.worker.retrain_cooldown_bars);
  o.cooldown_seconds = config.worker.retrain_cooldown_seconds;
  o.drift.window = static_cast<size_t>(config.worker.drift_window_rows);
  o.drift.min_features = static_cast<int>(config.worker.drift_min_features);
  return o;
}

std::unique_ptr<store::JobWorker> MakeJobWorker(const Config& config, store::JobQueue& jobs,
                                                models::ModelService& service,
                                                const std::string& tag,
                                                signals::RetrainingService* retraining) {
  char host[256] = "host";
  ::gethostname(host, sizeof host - 1);
  store::JobWorker::Options o;
  o.worker_id = std::string(host).substr(0, 60) + ":" + std::to_string(::getpid()) + ":" + tag;
  o.poll_interval_ns = config.worker.poll_interval_ms * 1'000'000;
  o.heartbeat_interval_ns = std::max<int64_t>(1, config.worker.lease_seconds / 4) * kNanosPerSecond;
  auto worker = std::make_unique<store::JobWorker>(jobs, o);
  worker->Register(models::kTrainJobKind,
                   [&service](const store::Job& job, const store::JobWorker::ProgressFn& progress) {
                     return service.RunTrainJob(job, progress);
                   });
  if (retraining != nullptr) {
    worker->Register(
        signals::kRetrainCheckJobKind,
        [retraining](const store::Job& job, const store::JobWorker::ProgressFn& progress) {
          return retraining->RunCheckJob(job, progress);
        });
  }
  return worker;
}

struct ModelCommands {
  CLI::App* train = nullptr;
  CLI::App* evaluate = nullptr;
  CLI::App* predict = nullptr;
  CLI::App* worker = nullptr;
  CLI::App* train_defaults = nullptr;
  std::string symbol, timeframe, out, feature_set;
  int64_t tenant_id = 0;
  bool platform = false, activate = false, once = false;
  int horizon = 0, trees = 0, folds = 5, top = 5;
  std::string horizons;  // empty: DefaultPlatformHorizons()
  size_t min_bars = 3000;
};

void ModelCommandsDeleter::operator()(ModelCommands* c) const { delete c; }

ModelCommandsPtr AddModelCommands(CLI::App& app, CLI::App& admin,
                                  const std::function<void(CLI::App*)>& add_common) {
  ModelCommandsPtr c(new ModelCommands);
  auto owner_options = [&](CLI::App* cmd) {
    cmd->add_option("--tenant-id", c->tenant_id,
                    "a tenant's models and data (private series first)");
    cmd->add_flag("--platform", c->platform, "the platform default models (default)");
  };
  auto model_options = [&](CLI::App* cmd) {
    cmd->add_option("--symbol", c->symbol, "symbol, e.g. EURUSD")->required();
    cmd->add_option("--timeframe", c->timeframe, "timeframe, e.g. H1")->required();
  };
  auto config_options = [&](CLI::App* cmd) {
    cmd->add_option("--horizon", c->horizon,
                    "bars ahead (default: the stored configuration, else 1)");
    cmd->add_option("--trees", c->trees, "trees of every member (default: the configuration)");
    cmd->add_option("--feature-set", c->feature_set, "core-v1 (default), basic, or a tenant's set");
  };

  c->train =
      app.add_subcommand("train", "train a model from stored bars, with its walk-forward report");
  add_common(c->train);
  model_options(c->train);
  owner_options(c->train);
  config_options(c->train);
  c->train->add_flag("--activate", c->activate, "make the new version active");

  c->evaluate = app.add_subcommand(
      "evaluate", "walk-forward evaluation from stored bars; writes JSON, Markdown and SVGs");
  add_common(c->evaluate);
  model_options(c->evaluate);
  owner_options(c->evaluate);
  config_options(c->evaluate);
  c->evaluate->add_option("--out", c->out, "report directory")->required();
  c->evaluate->add_option("--folds", c->folds, "test folds (default 5)");

  c->predict = app.add_subcommand("predict", "apply the active model to the latest stored bar");
  add_common(c->predict);
  model_options(c->predict);
  c->predict->add_option("--tenant-id", c->tenant_id,
                         "the tenant (its model, else the platform default)");
  c->predict->add_option("--top", c->top, "feature contributions shown (default 5)");
  c->predict->add_option("--horizon", c->horizon,
                         "bars ahead: the model of that horizon (default 1)");

  c->worker = app.add_subcommand("worker", "run queued jobs (model training) until SIGTERM/SIGINT");
  add_common(c->worker);
  c->worker->add_flag("--once", c->once, "run at most one job, then exit");

  c->train_defaults = admin.add_subcommand(
      "train-defaults",
      "train and activate platform default models for every platform series with enough data");
  add_common(c->train_defaults);
  c->train_defaults->add_option("--min-bars", c->min_bars,
                                "skip series with fewer bars (default 3000)");
  c->train_defaults->add_option("--trees", c->trees,
                                "trees of every member (default: the defaults)");
  c->train_defaults->add_option("--horizons", c->horizons,
                                "bars ahead, one model each (default 1,4,24)");
  return c;
}

namespace {

int Fail(const Status& s) {
  std::fprintf(stderr, "sinyal: %s\n", s.ToString().c_str());
  return s.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

// Everything a model command needs, built from the configuration.
struct Env {
  std::unique_ptr<store::Database> db;
  std::unique_ptr<store::BarStore> bars;
  std::unique_ptr<store::FeatureSetStore> feature_sets;
  std::unique_ptr<models::DbModelRegistry> registry;
  std::unique_ptr<signals::IntervalCalibrationStore> calibrations;
  std::unique_ptr<store::JobQueue> jobs;
  std::unique_ptr<billing::PlanStore> plans;
  std::unique_ptr<billing::Subscriptions> subscriptions;
  std::unique_ptr<billing::Entitlements> entitlements;
  std::unique_ptr<models::ModelService> service;
  std::unique_ptr<signals::DbSignalLog> signal_log;
  std::unique_ptr<signals::DbAuditLog> retraining_audit;
  std::unique_ptr<signals::RetrainingService> retraining;
  ~Env() {
    retraining.reset();
    service.reset();
    if (db) db->Close();
  }
};

Result<std::unique_ptr<Env>> Open(const Config& config) {
  auto env = std::make_unique<Env>();
  store::DatabaseOptions options;
  options.url = config.database.url;
  options.pool_size = static_cast<int>(config.database.pool_size);
  SINYAL_ASSIGN_OR_RETURN(env->db, store::Database::Open(options));
  SINYAL_RETURN_IF_ERROR(env->db->Migrate());
  Clock& clock = SystemClock::Instance();
  env->bars = std::make_unique<store::BarStore>(*env->db, clock);
  env->feature_sets = std::make_unique<store::FeatureSetStore>(*env->db, clock);
  env->registry = std::make_unique<models::DbModelRegistry>(*env->db, clock);
  env->jobs = std::make_unique<store::JobQueue>(
      *env->db, clock,
      store::JobQueueOptions{.lease_ns = config.worker.lease_seconds * kNanosPerSecond});
  env->plans = std::make_unique<billing::PlanStore>(*env->db, clock);
  env->subscriptions = std::make_unique<billing::Subscriptions>(*env->db, *env->plans, clock);
  env->entitlements = std::make_unique<billing::Entitlements>(*env->plans, *env->subscriptions);
  env->calibrations = std::make_unique<signals::IntervalCalibrationStore>(
      *env->db, *env->bars, *env->registry, env->feature_sets.get(), clock);
  models::ModelServiceOptions model_options =
      ModelServiceOptionsFrom(config, *env->entitlements, clock);
  FitIntervalCalibrationsOnTrainAndActivate(model_options, *env->registry, *env->calibrations);
  env->service =
      std::make_unique<models::ModelService>(*env->db, *env->bars, env->feature_sets.get(),
                                             *env->registry, env->jobs.get(), clock, model_options);
  env->signal_log = std::make_unique<signals::DbSignalLog>(*env->db);
  env->retraining_audit = std::make_unique<signals::DbAuditLog>(*env->db);
  env->retraining = std::make_unique<signals::RetrainingService>(
      *env->db, *env->bars, env->feature_sets.get(), *env->registry, env->jobs.get(),
      env->signal_log.get(), *env->retraining_audit, clock, model_options,
      RetrainingOptionsFrom(config));
  return env;
}

Result<TenantId> Owner(const ModelCommands& c) {
  if (c.tenant_id != 0 && c.platform) {
    return Status::InvalidArgument("give --tenant-id or --platform, not both", "--platform");
  }
  if (c.tenant_id < 0) return Status::InvalidArgument("tenant ids are positive", "--tenant-id");
  return c.tenant_id > 0 ? TenantId(c.tenant_id) : models::kPlatformTenant;
}

nlohmann::json Overrides(const ModelCommands& c) {
  nlohmann::json o = nlohmann::json::object();
  if (c.horizon != 0) o["horizon"] = c.horizon;
  if (c.trees != 0) o["trees"] = c.trees;
  if (!c.feature_set.empty()) o["feature_set"] = c.feature_set;
  return o;
}

std::string Pct(double x) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f%%", 100 * x);
  return b;
}

void PrintTrained(const models::TrainSummary& s) {
  const auto& r = s.record;
  const auto& wf = r.metrics["walk_forward"];
  std::printf("trained %s %s version %lld (%s)%s\n", r.symbol.c_str(), r.timeframe.c_str(),
              static_cast<long long>(r.version),
              r.tenant == models::kPlatformTenant
                  ? "platform"
                  : ("tenant " + std::to_string(r.tenant.value())).c_str(),
              s.activated ? ", activated" : "");
  std::printf(
      "  data: %zu bars, training rows %s .. %s UTC; features %s v%d (%zu), horizon %d, dead band "
      "%.2f bp\n",
      s.bars, FormatIso8601(r.data_from).c_str(), FormatIso8601(r.data_to).c_str(),
      r.schema.feature_set.c_str(), r.schema.feature_set_version, r.schema.feature_names.size(),
      r.schema.horizon, r.schema.dead_band * 1e4);
  if (wf.is_object()) {
    std::printf(
        "  walk-forward (%d folds, n=%lld, out of sample): accuracy %s [%s, %s], log loss %.4f, "
        "Brier %.4f, AUC %.3f, reliability gap %.4f\n",
        wf.value("folds", 0), wf.value("n", 0LL), Pct(wf.value("accuracy", 0.0)).c_str(),
        Pct(wf["accuracy_ci95"][0].get<double>()).c_str(),
        Pct(wf["accuracy_ci95"][1].get<double>()).c_str(), wf.value("log_loss", 0.0),
        wf.value("brier", 0.0), wf.value("roc_auc", 0.0), wf.value("reliability_gap", 0.0));
    for (const auto& [name, b] : wf["baselines"].items()) {
      std::printf("    vs %-24s %s (model %+.2f pp, McNemar p=%.3g)\n", name.c_str(),
                  Pct(b.value("accuracy", 0.0)).c_str(), 100 * b.value("model_minus_baseline", 0.0),
                  b.value("mcnemar_p", 1.0));
    }
  }
  std::printf("  final ensemble trained in %.2f s; total %.2f s; content hash %s; code %s\n",
              s.train_seconds, s.total_seconds, r.content_hash.c_str(), r.code_version.c_str());
}

int RunTrain(const ModelCommands& c, Env& env) {
  auto owner = Owner(c);
  if (!owner.ok()) return Fail(owner.error());
  auto series = market::ParseSeriesKey(c.symbol, c.timeframe);
  if (!series.ok()) return Fail(series.error());
  models::TrainRequest req{
      .series = *series, .overrides = Overrides(c), .activate = c.activate, .actor = "cli"};
  auto s = env.service->Train(*owner, req, [](double f, std::string_view stage) {
    std::fprintf(stderr, "  %3.0f%% %.*s\n", 100 * f, static_cast<int>(stage.size()), stage.data());
  });
  if (!s.ok()) return Fail(s.error());
  PrintTrained(*s);
  return 0;
}

int RunEvaluate(const ModelCommands& c, Env& env) {
  auto owner = Owner(c);
  if (!owner.ok()) return Fail(owner.error());
  auto series = market::ParseSeriesKey(c.symbol, c.timeframe);
  if (!series.ok()) return Fail(series.error());
  auto res = env.service->Evaluate(*owner, *series, Overrides(c), c.folds);
  if (!res.ok()) return Fail(res.error());
  const std::string base = res->symbol + "_" + res->timeframe + "_h" + std::to_string(res->horizon);
  std::string command = "sinyal evaluate --symbol " + c.symbol + " --timeframe " + c.timeframe +
                        " --out " + c.out + " --folds " + std::to_string(c.folds);
  if (c.horizon) command += " --horizon " + std::to_string(c.horizon);
  if (c.trees) command += " --trees " + std::to_string(c.trees);
  if (!c.feature_set.empty()) command += " --feature-set " + c.feature_set;
  auto rep = models::RenderEvaluationReport(*res, base, command);
  if (Status s = models::WriteEvaluationReport(rep, c.out, base); !s.ok()) return Fail(s);
  const auto& p = res->pooled;
  std::printf("%s %s: %zu rows %s .. %s UTC, features %s v%d, horizon %d\n", res->symbol.c_str(),
              res->timeframe.c_str(), res->rows, FormatIso8601(res->data_from).c_str(),
              FormatIso8601(res->data_to).c_str(), res->feature_set.c_str(),
              res->feature_set_version, res->horizon);
  std::printf(
      "pooled (%zu folds, n=%zu): accuracy %s [%s, %s], log loss %.4f, Brier %.4f, AUC %.3f, "
      "reliability gap %.4f (uncalibrated %.4f); training %.1f s\n",
      res->folds.size(), p.n, Pct(p.accuracy).c_str(), Pct(p.accuracy_ci.lo).c_str(),
      Pct(p.accuracy_ci.hi).c_str(), p.log_loss, p.brier, p.roc_auc, p.reliability_gap,
      res->pooled_raw.reliability_gap, res->total_train_seconds);
  std::printf("report: %s/%s.{json,md}, %s, %s\n", c.out.c_str(), base.c_str(),
              rep.reliability_svg_name.c_str(), rep.coverage_svg_name.c_str());
  return 0;
}

int RunPredict(const ModelCommands& c, Env& env) {
  if (c.tenant_id < 0)
    return Fail(Status::InvalidArgument("tenant ids are positive", "--tenant-id"));
  const TenantId owner = c.tenant_id > 0 ? TenantId(c.tenant_id) : models::kPlatformTenant;
  auto series = market::ParseSeriesKey(c.symbol, c.timeframe);
  if (!series.ok()) return Fail(series.error());
  auto p = env.service->PredictLatest(owner, *series, static_cast<size_t>(std::max(0, c.top)),
                                      c.horizon ? c.horizon : models::kDefaultHorizon);
  if (!p.ok()) return Fail(p.error());
  const auto& r = p->record;
  const auto& pr = p->prediction;
  const char* dir = pr.direction == models::kUp     ? "up"
                    : pr.direction == models::kDown ? "down"
                                                    : "neutral";
  std::printf("%s %s, bar %s UTC (latest closed bar, horizon %d)\n", r.symbol.c_str(),
              r.timeframe.c_str(), FormatIso8601(p->bar_time).c_str(), r.schema.horizon);
  std::printf(
      "  direction %s, confidence %.4f (calibrated), P(up) %.4f, uncertainty %.4f (members' sd)\n",
      dir, pr.confidence, pr.proba[models::kUp], pr.uncertainty);
  std::printf(
      "  model: version %lld (%s), content hash %.12s...\n", static_cast<long long>(r.version),
      p->from_platform || r.tenant == models::kPlatformTenant ? "platform default" : "tenant",
      r.content_hash.c_str());
  for (const auto& f : p->top) {
    std::printf("    %-28s value %-12.6g contribution %+.5f (log-odds)\n", f.feature.c_str(),
                f.value, f.contribution);
  }
  return 0;
}

int RunWorker(const ModelCommands& c, const Config& config, Env& env) {
  auto worker = MakeJobWorker(config, *env.jobs, *env.service, "worker", env.retraining.get());
  // Backtest jobs too (app/trading.h); no live signals here, so no paper accounts are driven.
  Trading trading(config, *env.db, *env.bars, *env.jobs, *env.service, env.feature_sets.get(),
                  nullptr, SystemClock::Instance());
  trading.RegisterJobs(*worker);
  if (c.once) {
    auto ran = worker->RunOnce();
    if (!ran.ok()) return Fail(ran.error());
    std::printf("%s\n", *ran ? "ran one job" : "no job queued");
    return 0;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  worker->Start();
  // Scheduled retraining checks of every active model (worker.retrain_check_seconds).
  std::unique_ptr<signals::RetrainScheduler> scheduler;
  if (config.worker.retrain_check_seconds > 0) {
    scheduler = std::make_unique<signals::RetrainScheduler>(
        *env.retraining, std::chrono::seconds(config.worker.retrain_check_seconds),
        [w = worker.get()] { w->Wake(); });
    scheduler->Start();
  }
  LogEvent(spdlog::level::info, "worker_started", {});
  int sig = 0;
  sigwait(&signals, &sig);
  LogEvent(spdlog::level::info, "worker_stopping", {{"jobs_run", worker->jobs_run()}});
  if (scheduler) scheduler->Stop();
  worker->Stop();  // finishes the current job first
  return 0;
}

int RunTrainDefaults(const ModelCommands& c, Env& env) {
  int failed = 0;
  auto horizons = ParseHorizonList(c.horizons, "--horizons");
  if (!horizons.ok()) return Fail(horizons.error());
  auto trained = TrainPlatformDefaults(
      *env.service, {.min_bars = c.min_bars, .trees = c.trees, .horizons = *horizons},
      [&failed](const std::string& symbol, const std::string& timeframe, int horizon,
                const Result<models::TrainSummary>& s) {
        if (!s.ok()) {
          ++failed;
          std::printf("%s %s horizon %d: FAILED: %s\n", symbol.c_str(), timeframe.c_str(), horizon,
                      s.error().ToString().c_str());
          return;
        }
        PrintTrained(*s);
      });
  if (!trained.ok()) return Fail(trained.error());
  if (*trained == 0) {
    std::printf("no platform series with at least %zu bars: ingest data first (sinyal ingest)\n",
                c.min_bars);
    return 0;
  }
  std::printf("%zu series, %d failed\n", *trained, failed);
  return failed ? 1 : 0;
}

}  // namespace

std::vector<int> DefaultPlatformHorizons() { return {1, 4, 24}; }

Result<std::vector<int>> ParseHorizonList(const std::string& text, const std::string& field) {
  if (text.empty()) return DefaultPlatformHorizons();
  std::vector<int> out;
  std::stringstream ss(text);
  for (std::string cell; std::getline(ss, cell, ',');) {
    const int max = models::PlanBounds{}.max_horizon;
    int h = 0;
    auto [end, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), h);
    if (cell.empty() || ec != std::errc() || end != cell.data() + cell.size() || h < 1 || h > max) {
      return Status::InvalidArgument("'" + cell +
                                         "' is not a horizon: want whole numbers of bars in [1, " +
                                         std::to_string(max) + "], comma-separated (e.g. 1,4,24)",
                                     field);
    }
    if (!out.empty() && h <= out.back()) {
      return Status::InvalidArgument("horizons must be ascending and distinct (e.g. 1,4,24)",
                                     field);
    }
    out.push_back(h);
  }
  return out;
}

Result<size_t> TrainPlatformDefaults(models::ModelService& service,
                                     const TrainDefaultsOptions& options,
                                     const TrainDefaultsCallback& on_trained) {
  SINYAL_ASSIGN_OR_RETURN(auto series, service.PlatformSeries(options.min_bars));
  for (int horizon : options.horizons) {
    for (const market::SeriesKey& key : series) {
      if (options.stop && options.stop()) return series.size();
      nlohmann::json o = {{"horizon", horizon}};
      if (options.trees) o["trees"] = options.trees;
      auto s =
          service.Train(models::kPlatformTenant,
                        {.series = key, .overrides = o, .activate = true, .actor = options.actor});
      if (on_trained) {
        on_trained(key.symbol, std::string(market::TimeframeName(key.timeframe)), horizon, s);
      }
    }
  }
  return series.size();
}

std::optional<int> RunModelCommand(const ModelCommands& c, const Config& config) {
  const bool any = c.train->parsed() || c.evaluate->parsed() || c.predict->parsed() ||
                   c.worker->parsed() || c.train_defaults->parsed();
  if (!any) return std::nullopt;
  auto env = Open(config);
  if (!env.ok()) return Fail(env.error());
  if (c.train->parsed()) return RunTrain(c, **env);
  if (c.evaluate->parsed()) return RunEvaluate(c, **env);
  if (c.predict->parsed()) return RunPredict(c, **env);
  if (c.worker->parsed()) return RunWorker(c, config, **env);
  return RunTrainDefaults(c, **env);
}

}  // namespace sinyal::app
