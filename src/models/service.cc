#include "models/service.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <set>
#include <utility>

#include "core/time.h"
#include "features/feature_set.h"
#include "market/edge_parse.h"
#include "market/instrument.h"
#include "market/timeframe.h"
#include "models/basic_features.h"
#include "models/input_resolver.h"
#include "models/market_adapter.h"
#include "models/registry_key.h"
#include "models/report.h"
#include "store/bar_store.h"
#include "store/database.h"
#include "store/feature_set_store.h"
#include "store/soci.h"

namespace sinyal::models {

using nlohmann::json;

namespace {

constexpr double kMinAutoDeadBand = 1e-5;  // 0.1 bp: floor of the "auto" dead band

bool IsPlatform(TenantId t) { return t == kPlatformTenant; }

std::optional<TenantId> Viewer(TenantId owner) {
  if (IsPlatform(owner)) return std::nullopt;
  return owner;
}

// ---------------------------------------------------------------------------------------------
// Configuration JSON (see service.h), applied strictly onto a draft.

struct Draft {
  TrainConfig config;
  bool dead_band_auto = true;
};

Status TypeError(const std::string& field, const char* what) {
  return Status::InvalidArgument(field + " must be " + what, field);
}

Result<int> GetInt(const json& v, const std::string& field) {
  if (!v.is_number_integer()) return TypeError(field, "an integer");
  const int64_t x = v.get<int64_t>();
  if (x < -1'000'000'000 || x > 1'000'000'000)
    return TypeError(field, "an integer of sensible size");
  return static_cast<int>(x);
}
Result<double> GetNumber(const json& v, const std::string& field) {
  if (!v.is_number()) return TypeError(field, "a number");
  const double x = v.get<double>();
  if (!std::isfinite(x)) return TypeError(field, "a finite number");
  return x;
}
Result<std::string> GetString(const json& v, const std::string& field, size_t max_len) {
  if (!v.is_string()) return TypeError(field, "a string");
  std::string s = v.get<std::string>();
  if (s.empty() || s.size() > max_len) {
    return Status::InvalidArgument(field + " must be 1-" + std::to_string(max_len) + " characters",
                                   field);
  }
  return s;
}

// A member's numeric fields: one row each, read by type.
constexpr std::pair<const char*, int MemberParams::*> kIntFields[] = {
    {"trees", &MemberParams::trees},
    {"max_depth", &MemberParams::max_depth},
    {"max_leaves", &MemberParams::max_leaves}};
constexpr std::pair<const char*, double MemberParams::*> kNumberFields[] = {
    {"eta", &MemberParams::eta},
    {"subsample", &MemberParams::subsample},
    {"colsample_bytree", &MemberParams::colsample_bytree},
    {"min_child_weight", &MemberParams::min_child_weight},
    {"lambda", &MemberParams::lambda}};

Status ApplyMember(const json& j, const std::string& prefix, MemberParams& m) {
  if (!j.is_object()) return TypeError(prefix.substr(0, prefix.size() - 1), "an object");
  for (const auto& [key, v] : j.items()) {
    const std::string f = prefix + key;
    auto named = [&k = key](const auto& e) { return k == e.first; };
    const auto int_field = std::find_if(std::begin(kIntFields), std::end(kIntFields), named);
    const auto number_field =
        std::find_if(std::begin(kNumberFields), std::end(kNumberFields), named);
    if (int_field != std::end(kIntFields)) {
      SINYAL_ASSIGN_OR_RETURN(m.*(int_field->second), GetInt(v, f));
    } else if (number_field != std::end(kNumberFields)) {
      SINYAL_ASSIGN_OR_RETURN(m.*(number_field->second), GetNumber(v, f));
    } else if (key == "name") {
      SINYAL_ASSIGN_OR_RETURN(m.name, GetString(v, f, 64));
    } else if (key == "grow_policy") {
      SINYAL_ASSIGN_OR_RETURN(std::string gp, GetString(v, f, 16));
      if (gp != "depthwise" && gp != "lossguide") {
        return Status::InvalidArgument(f + " must be 'depthwise' or 'lossguide'", f);
      }
      m.grow_policy = gp == "lossguide" ? GrowPolicy::kLossguide : GrowPolicy::kDepthwise;
    } else if (key == "seed") {
      if (!v.is_number_unsigned()) return TypeError(f, "a non-negative integer");
      m.seed = v.get<uint64_t>();
    } else {
      return Status::InvalidArgument("unknown field " + f, f);
    }
  }
  return Status::Ok();
}

Status ApplyConfigJson(const json& j, Draft& d) {
  if (!j.is_object())
    return Status::InvalidArgument("the configuration must be a JSON object", "body");
  TrainConfig& c = d.config;
  // Members first, so the shortcuts below apply on top of an explicit list.
  if (j.contains("members")) {
    const json& ms = j["members"];
    if (!ms.is_array()) return TypeError("members", "an array");
    if (ms.size() > 64) return Status::InvalidArgument("members has too many entries", "members");
    const auto defaults = DefaultMembers();
    std::vector<MemberParams> out;
    for (size_t i = 0; i < ms.size(); ++i) {
      MemberParams m = i < c.members.size() ? c.members[i] : defaults[i % defaults.size()];
      if (i >= c.members.size()) {
        m.name = "xgb_extra_" + std::to_string(i);
        m.seed = 101 + 17 * i;
      }
      SINYAL_RETURN_IF_ERROR(ApplyMember(ms[i], "members[" + std::to_string(i) + "].", m));
      out.push_back(std::move(m));
    }
    c.members = std::move(out);
  }
  for (const auto& [key, v] : j.items()) {
    if (key == "members") continue;
    if (key == "horizon") {
      SINYAL_ASSIGN_OR_RETURN(c.horizon, GetInt(v, key));
    } else if (key == "feature_set") {
      SINYAL_ASSIGN_OR_RETURN(c.feature_set, GetString(v, key, 60));
    } else if (key == "dead_band") {
      if (v.is_string() && v.get<std::string>() == "auto") {
        d.dead_band_auto = true;
      } else {
        if (!v.is_number()) return TypeError(key, "a number (fraction of price) or \"auto\"");
        SINYAL_ASSIGN_OR_RETURN(c.dead_band, GetNumber(v, key));
        d.dead_band_auto = false;
      }
    } else if (key == "neutral") {
      SINYAL_ASSIGN_OR_RETURN(std::string n, GetString(v, key, 16));
      if (n != "exclude" && n != "third_class") {
        return Status::InvalidArgument("neutral must be 'exclude' or 'third_class'", key);
      }
      c.neutral = n == "third_class" ? NeutralMode::kThirdClass : NeutralMode::kExclude;
    } else if (key == "trees" || key == "max_depth" || key == "max_leaves") {
      SINYAL_ASSIGN_OR_RETURN(int x, GetInt(v, key));
      for (auto& m : c.members) {
        if (key == "trees") m.trees = x;
        if (key == "max_depth" && m.grow_policy == GrowPolicy::kDepthwise) m.max_depth = x;
        if (key == "max_leaves" && m.grow_policy == GrowPolicy::kLossguide) m.max_leaves = x;
      }
    } else if (key == "eta" || key == "subsample" || key == "colsample_bytree" ||
               key == "min_child_weight" || key == "lambda") {
      SINYAL_ASSIGN_OR_RETURN(double x, GetNumber(v, key));
      for (auto& m : c.members) {
        if (key == "eta") m.eta = x;
        if (key == "subsample") m.subsample = x;
        if (key == "colsample_bytree") m.colsample_bytree = x;
        if (key == "min_child_weight") m.min_child_weight = x;
        if (key == "lambda") m.lambda = x;
      }
    } else {
      return Status::InvalidArgument("unknown field " + key, key);
    }
  }
  return Status::Ok();
}

// Shortcut keys apply to every member, so a failing member field is reported under the key the
// caller used when that key was a shortcut.
Status Validate(const Draft& d, const PlanBounds& bounds, const json& changes) {
  Status s = ValidateTrainConfig(d.config, bounds);
  if (s.ok() || !changes.is_object() || changes.contains("members")) return s;
  const std::string& f = s.field();
  const size_t dot = f.find("].");
  if (f.rfind("members[", 0) == 0 && dot != std::string::npos) {
    const std::string leaf = f.substr(dot + 2);
    if (changes.contains(leaf)) return Status::InvalidArgument(leaf + ": " + s.message(), leaf);
  }
  return s;
}

// The stored configuration with a request's overrides applied and validated (the "auto" dead band
// holds a placeholder until the bars are read).
Result<Draft> Overridden(const ModelConfigView& v, const json& overrides, int nthread) {
  Draft d{v.config, v.dead_band_auto};
  SINYAL_RETURN_IF_ERROR(ApplyConfigJson(overrides, d));
  d.config.nthread = std::clamp(nthread, 1, 64);
  if (d.dead_band_auto) d.config.dead_band = kMinAutoDeadBand;  // placeholder for validation
  SINYAL_RETURN_IF_ERROR(Validate(d, v.bounds, overrides));
  return d;
}

// The configuration's feature set through the seam; an unknown name is the request's error
// (InvalidArgument "feature_set").
Result<InputSpec> ConfiguredInputs(const InputResolver& resolver, TenantId owner,
                                   const std::string& feature_set) {
  auto spec = resolver.ForName(owner, feature_set, "feature_set");
  if (!spec.ok() && spec.error().code() == StatusCode::kNotFound) {
    return Status::InvalidArgument(spec.error().message(), "feature_set");
  }
  return spec;
}

json DraftJson(const Draft& d) {
  json j = ToJson(d.config);
  json out = {{"horizon", j["horizon"]},
              {"feature_set", j["feature_set"]},
              {"neutral", j["neutral"]},
              {"members", j["members"]}};
  out["dead_band"] = d.dead_band_auto ? json("auto") : json(d.config.dead_band);
  return out;
}

Draft DefaultDraft(const std::string& symbol, const std::string& timeframe) {
  Draft d;
  d.config = DefaultTrainConfig(symbol, timeframe);
  d.config.feature_set = features::DefaultFeatureSet().name;
  d.dead_band_auto = true;
  return d;
}

// Walk-forward splits whose first training window holds min_train_rows fitting rows after the
// calibration hold-back (the initial window grows from 40% of the rows up to 80% when needed).
Result<WalkForwardConfig> WalkForwardFor(const Dataset& ds, const TrainConfig& config, int folds) {
  WalkForwardConfig wf;
  wf.folds = folds;
  const double need =
      1.1 * static_cast<double>(config.min_train_rows) / (1.0 - config.calibration_fraction);
  wf.initial_train_fraction =
      std::max(0.4, need / static_cast<double>(std::max<size_t>(1, ds.size())));
  if (wf.initial_train_fraction > 0.8) {
    return Status::FailedPrecondition(
        "too little data for " + ds.symbol + " " + ds.timeframe + ": " + std::to_string(ds.size()) +
            " labelled rows; training with its walk-forward evaluation needs at least " +
            std::to_string(static_cast<int64_t>(need / 0.8)),
        "symbol");
  }
  return wf;
}

json MetricsSummary(const ClassificationMetrics& m) {
  return {{"n", m.n},
          {"accuracy", m.accuracy},
          {"accuracy_ci95", {m.accuracy_ci.lo, m.accuracy_ci.hi}},
          {"balanced_accuracy", m.balanced_accuracy},
          {"log_loss", m.log_loss},
          {"brier", m.brier},
          {"roc_auc", m.roc_auc},
          {"reliability_gap", m.reliability_gap}};
}

}  // namespace

// ---------------------------------------------------------------------------------------------

json ModelConfigView::ToJson() const {
  Draft d{config, dead_band_auto};
  json b = {
      {"max_symbols", bounds.max_symbols}, {"allowed_timeframes", bounds.allowed_timeframes},
      {"max_horizon", bounds.max_horizon}, {"members", {bounds.min_members, bounds.max_members}},
      {"max_trees", bounds.max_trees},     {"max_depth", bounds.max_depth},
      {"max_leaves", bounds.max_leaves},   {"eta", {bounds.min_eta, bounds.max_eta}},
      {"min_sample", bounds.min_sample},   {"max_min_child_weight", bounds.max_min_child_weight},
      {"max_lambda", bounds.max_lambda},   {"max_dead_band", bounds.max_dead_band}};
  return {{"symbol", series.symbol}, {"timeframe", KeyTimeframe(series.timeframe)},
          {"stored", stored},        {"plan", plan},
          {"config", DraftJson(d)},  {"bounds", b}};
}

json TrainSummary::ToJson() const {
  return {{"model", ModelVersionJson(record, std::nullopt)},
          {"activated", activated},
          {"bars", bars},
          {"train_seconds", train_seconds},
          {"total_seconds", total_seconds}};
}

json ModelVersionJson(const ModelRecord& r, std::optional<int64_t> active_version) {
  json j = {{"symbol", r.symbol},
            {"timeframe", r.timeframe},
            {"version", r.version},
            {"owner", r.tenant == kPlatformTenant ? "platform" : "tenant"},
            {"data_from", FormatIso8601(r.data_from)},
            {"data_to", FormatIso8601(r.data_to)},
            {"feature_set", r.schema.feature_set},
            {"feature_set_version", r.schema.feature_set_version},
            {"features", r.schema.feature_names.size()},
            {"horizon", r.schema.horizon},
            {"dead_band", r.schema.dead_band},
            {"classes", r.schema.num_classes},
            {"params", r.params},
            {"metrics", r.metrics},
            {"code_version", r.code_version},
            {"xgboost_version", r.xgboost_version},
            {"content_hash", r.content_hash},
            {"created_at", FormatIso8601(r.created_at)}};
  if (active_version) j["active"] = *active_version == r.version;
  return j;
}

struct ModelService::Prepared {
  TrainConfig config;
  std::string plan;
  PlanBounds bounds;
  std::vector<market::Bar> bars;
  BarColumns columns;
  FeatureFrame frame;
  Dataset dataset;
};

ModelService::ModelService(store::Database& db, store::BarStore& bars,
                           store::FeatureSetStore* feature_sets, DbModelRegistry& registry,
                           store::JobQueue* jobs, const Clock& clock, ModelServiceOptions options)
    : db_(db),
      bars_(bars),
      feature_sets_(feature_sets),
      registry_(registry),
      jobs_(jobs),
      clock_(clock),
      options_(std::move(options)) {}

Result<std::pair<std::string, PlanBounds>> ModelService::PlanOf(TenantId owner) const {
  if (IsPlatform(owner) || !options_.bounds_of)
    return std::make_pair(std::string("platform"), PlanBounds{});
  SINYAL_ASSIGN_OR_RETURN(OwnerBounds b, options_.bounds_of(owner));
  return std::make_pair(std::move(b.plan), std::move(b.bounds));
}

Result<ModelConfigView> ModelService::CurrentConfig(TenantId owner,
                                                    const market::SeriesKey& series) {
  SINYAL_RETURN_IF_ERROR(market::ValidateSymbol(series.symbol));
  const std::string& symbol = series.symbol;
  const std::string timeframe = KeyTimeframe(series.timeframe);  // stored text: "H1"
  SINYAL_ASSIGN_OR_RETURN(auto plan, PlanOf(owner));
  Draft d = DefaultDraft(symbol, timeframe);
  bool stored = false;
  if (!IsPlatform(owner)) {
    std::string text;
    SINYAL_RETURN_IF_ERROR(db_.WithTenantReadTx(owner, [&](soci::session& sql) -> Status {
      long long t = owner.value();
      sql << "SELECT config FROM model_configs WHERE tenant_id = :t AND symbol = :s AND "
             "timeframe = :tf",
          soci::use(t, "t"), soci::use(symbol, "s"), soci::use(timeframe, "tf"), soci::into(text);
      stored = sql.got_data();
      return Status::Ok();
    }));
    if (stored) {
      auto j = json::parse(text, nullptr, false);
      if (j.is_discarded()) return Status::DataLoss("stored model configuration is corrupted");
      Status s = ApplyConfigJson(j, d);
      if (!s.ok()) return Status::DataLoss("stored model configuration is invalid: " + s.message());
    }
  }
  ModelConfigView v;
  v.series = series;
  v.config = std::move(d.config);
  v.dead_band_auto = d.dead_band_auto;
  v.stored = stored;
  v.plan = plan.first;
  v.bounds = plan.second;
  return v;
}

Result<ModelConfigView> ModelService::GetConfig(TenantId tenant, const market::SeriesKey& series) {
  if (!tenant.valid()) return Status::InvalidArgument("a tenant is required", "tenant");
  return CurrentConfig(tenant, series);
}

Result<ModelConfigView> ModelService::PutConfig(TenantId tenant, const market::SeriesKey& series,
                                                const json& changes) {
  if (!tenant.valid()) return Status::InvalidArgument("a tenant is required", "tenant");
  SINYAL_ASSIGN_OR_RETURN(ModelConfigView v, CurrentConfig(tenant, series));
  Draft d{v.config, v.dead_band_auto};
  SINYAL_RETURN_IF_ERROR(ApplyConfigJson(changes, d));
  SINYAL_RETURN_IF_ERROR(Validate(d, v.bounds, changes));
  const std::string text = DraftJson(d).dump();
  SINYAL_RETURN_IF_ERROR(db_.WithTenantTx(tenant, [&](soci::session& sql) -> Status {
    long long t = tenant.value(), now = clock_.Now();
    const std::string timeframe = KeyTimeframe(v.series.timeframe);
    // The plan bounds the number of configured symbols.
    std::vector<std::string> symbols(100);
    int others = 0;
    sql << "SELECT COUNT(DISTINCT symbol) FROM model_configs WHERE tenant_id = :t AND symbol <> :s",
        soci::use(t, "t"), soci::use(v.series.symbol, "s"), soci::into(others);
    if (others + 1 > v.bounds.max_symbols) {
      return Status::InvalidArgument(
          "the " + v.plan + " plan allows models for " + std::to_string(v.bounds.max_symbols) +
              " symbols; this tenant has configured " + std::to_string(others),
          "symbol");
    }
    long long n = 0;
    sql << "SELECT COUNT(*) FROM model_configs WHERE tenant_id = :t AND symbol = :s AND timeframe "
           "= :tf",
        soci::use(t, "t"), soci::use(v.series.symbol, "s"), soci::use(timeframe, "tf"),
        soci::into(n);
    if (n > 0) {
      sql << "UPDATE model_configs SET config = :c, updated_at = :now WHERE tenant_id = :t AND "
             "symbol = :s AND timeframe = :tf",
          soci::use(text, "c"), soci::use(now, "now"), soci::use(t, "t"),
          soci::use(v.series.symbol, "s"), soci::use(timeframe, "tf");
    } else {
      sql << "INSERT INTO model_configs (tenant_id, symbol, timeframe, config, updated_at) VALUES "
             "(:t, :s, :tf, :c, :now)",
          soci::use(t, "t"), soci::use(v.series.symbol, "s"), soci::use(timeframe, "tf"),
          soci::use(text, "c"), soci::use(now, "now");
    }
    return Status::Ok();
  }));
  v.config = d.config;
  v.dead_band_auto = d.dead_band_auto;
  v.stored = true;
  return v;
}

Result<ModelService::BacktestSetup> ModelService::SetupForBacktest(TenantId owner,
                                                                   const market::SeriesKey& series,
                                                                   const json& overrides) {
  SINYAL_ASSIGN_OR_RETURN(ModelConfigView v, CurrentConfig(owner, series));
  SINYAL_ASSIGN_OR_RETURN(Draft d, Overridden(v, overrides, options_.nthread));
  auto spec = ConfiguredInputs(InputResolver(feature_sets_), owner, d.config.feature_set);
  if (!spec.ok()) return spec.error();
  d.config.feature_set = spec->set_name();
  return BacktestSetup{.config = std::move(d.config),
                       .dead_band_auto = d.dead_band_auto,
                       .spec = std::move(spec).value(),
                       .plan = v.plan,
                       .bounds = v.bounds};
}

double ModelService::MinAutoDeadBand() { return kMinAutoDeadBand; }

Result<ModelService::Prepared> ModelService::Prepare(TenantId owner,
                                                     const market::SeriesKey& series,
                                                     const json& overrides, bool check_lookahead) {
  SINYAL_ASSIGN_OR_RETURN(ModelConfigView v, CurrentConfig(owner, series));
  SINYAL_ASSIGN_OR_RETURN(Draft d, Overridden(v, overrides, options_.nthread));

  Prepared p;
  p.plan = v.plan;
  p.bounds = v.bounds;
  const market::SeriesKey& key = v.series;
  SINYAL_RETURN_IF_ERROR(bars_.Resolve(Viewer(owner), key).status());
  // The newest max_bars bars; the first of them is the anchor of the model's rows (inputs.h).
  SINYAL_ASSIGN_OR_RETURN(p.bars,
                          bars_.ReadBars(Viewer(owner), key, {.newest = options_.max_bars}));
  const int digits = InferDigits(p.bars);
  SINYAL_ASSIGN_OR_RETURN(p.columns, ToBarColumns(key.symbol, KeyTimeframe(key.timeframe), p.bars,
                                                  std::pow(10.0, -digits)));
  if (d.dead_band_auto) {
    d.config.dead_band = std::max(MedianRelativeSpread(p.columns), kMinAutoDeadBand);
    SINYAL_RETURN_IF_ERROR(Validate(d, v.bounds, overrides));
  }

  // The configured feature set, through the seam.
  auto spec = ConfiguredInputs(InputResolver(feature_sets_), owner, d.config.feature_set);
  if (!spec.ok()) return spec.error();
  auto compute = [&p, &spec](size_t n) {
    return ComputeInputs(*spec, std::span<const market::Bar>(p.bars.data(), n));
  };
  if (check_lookahead && !p.bars.empty()) {
    Status leak = CheckNoLookahead(compute, std::min<size_t>(p.bars.size(), 2000));
    if (!leak.ok()) return leak.WithContext("look-ahead check").WithField("feature_set");
  }
  SINYAL_ASSIGN_OR_RETURN(p.frame, compute(p.bars.size()));
  d.config.feature_set = p.frame.set_name;
  LabelConfig lc;
  lc.horizon = d.config.horizon;
  lc.dead_band = d.config.dead_band;
  lc.neutral = d.config.neutral;
  auto ds = BuildDataset(p.columns, p.frame, lc, d.config.min_train_rows);
  if (!ds.ok()) {
    if (ds.error().code() == StatusCode::kFailedPrecondition) {
      return Status::FailedPrecondition("too little data for " + KeyText(key) + ": " +
                                            std::to_string(p.bars.size()) + " bars; " +
                                            ds.error().message(),
                                        "symbol");
    }
    return ds.error();
  }
  p.dataset = std::move(ds).value();
  p.config = std::move(d.config);
  return p;
}

Result<TrainSummary> ModelService::Train(TenantId owner, const TrainRequest& request,
                                         const TrainProgress& progress) {
  const int64_t t0 = clock_.MonotonicNanos();
  auto report_progress = [&](double f, std::string_view stage) {
    if (progress) progress(f, stage);
  };
  report_progress(0.0, "loading bars and features");
  SINYAL_ASSIGN_OR_RETURN(
      Prepared p, Prepare(owner, request.series, request.overrides, /*check_lookahead=*/true));
  const Dataset& ds = p.dataset;
  // Walk-forward evaluation: the version's report.
  SINYAL_ASSIGN_OR_RETURN(WalkForwardConfig wf,
                          WalkForwardFor(ds, p.config, options_.report_folds));
  report_progress(0.05, "walk-forward evaluation (" + std::to_string(wf.folds) + " folds)");
  SINYAL_ASSIGN_OR_RETURN(WalkForwardResult wfr, RunWalkForward(ds, p.config, wf, &clock_));
  report_progress(0.6, "training the final ensemble");
  auto train_progress = [&](double f, std::string_view stage) {
    report_progress(0.6 + 0.35 * f, stage);
  };
  SINYAL_ASSIGN_OR_RETURN(TrainOutput out, TrainModel(ds, p.config, p.bounds, options_.code_version,
                                                      clock_, train_progress));
  out.record.metrics["walk_forward"] = MetricsSummary(wfr.pooled);
  out.record.metrics["walk_forward"]["folds"] = wfr.folds.size();
  out.record.metrics["walk_forward"]["uncalibrated_reliability_gap"] =
      wfr.pooled_raw.reliability_gap;
  json baselines = json::object();
  for (const auto& b : wfr.pooled_baselines) {
    baselines[b.name] = {{"accuracy", b.metrics.accuracy},
                         {"model_minus_baseline", b.model_vs_baseline.accuracy_difference},
                         {"mcnemar_p", b.model_vs_baseline.p_value}};
  }
  out.record.metrics["walk_forward"]["baselines"] = baselines;
  // The version's skill over the base rate (models/skill.h): signals abstain unless it is shown.
  out.record.metrics["skill"] = wfr.skill.ToJson();
  out.record.metrics["walk_forward"]["served"] = MetricsSummary(wfr.served);
  out.record.metrics["plan"] = p.plan;

  const std::string base = ds.symbol + "_" + ds.timeframe + "_h" + std::to_string(ds.horizon);
  EvaluationReport rep = RenderEvaluationReport(
      wfr, base, "sinyal train --symbol " + ds.symbol + " --timeframe " + ds.timeframe);
  StoredReport stored{rep.json, rep.markdown, rep.reliability_svg, rep.coverage_svg};
  // Served under .../versions/N/report?format=md: point the images at the report routes.
  for (const auto& [from, to] :
       {std::pair{rep.reliability_svg_name, std::string("report/reliability.svg")},
        std::pair{rep.coverage_svg_name, std::string("report/coverage.svg")}}) {
    for (size_t pos = stored.markdown.find(from); pos != std::string::npos;
         pos = stored.markdown.find(from, pos + to.size())) {
      stored.markdown.replace(pos, from.size(), to);
    }
  }
  report_progress(0.96, "storing the model");
  SINYAL_ASSIGN_OR_RETURN(ModelRecord rec,
                          registry_.RegisterWithReport(owner, out.ensemble, out.record, &stored));
  if (options_.on_version_stored) options_.on_version_stored(owner, request.series, rec);
  TrainSummary s;
  s.record = std::move(rec);
  s.bars = p.bars.size();
  s.train_seconds = out.train_seconds;
  if (request.activate) {
    SINYAL_RETURN_IF_ERROR(
        registry_.ActivateAs(owner, request.series, s.record.version, request.actor));
    s.activated = true;
  }
  s.total_seconds = static_cast<double>(clock_.MonotonicNanos() - t0) / 1e9;
  return s;
}

Result<int64_t> ModelService::EnqueueTraining(TenantId tenant, const TrainRequest& request) {
  if (jobs_ == nullptr) return Status::Unavailable("no job queue");
  if (!tenant.valid()) return Status::InvalidArgument("a tenant is required", "tenant");
  SINYAL_ASSIGN_OR_RETURN(ModelConfigView v, CurrentConfig(tenant, request.series));
  Draft d{v.config, v.dead_band_auto};
  SINYAL_RETURN_IF_ERROR(ApplyConfigJson(request.overrides, d));
  if (d.dead_band_auto) d.config.dead_band = kMinAutoDeadBand;
  SINYAL_RETURN_IF_ERROR(Validate(d, v.bounds, request.overrides));
  // Data visible to the tenant, and plausibly enough of it (the job checks exactly).
  const market::SeriesKey& key = v.series;
  const std::string timeframe = KeyTimeframe(key.timeframe);  // the job payload's text: "H1"
  SINYAL_RETURN_IF_ERROR(bars_.Resolve(tenant, key).status());
  const size_t need = std::min<size_t>(
      store::kMaxBarPage, static_cast<size_t>(static_cast<double>(d.config.min_train_rows) /
                                              (1.0 - d.config.calibration_fraction)) +
                              static_cast<size_t>(d.config.horizon) + 50);
  SINYAL_ASSIGN_OR_RETURN(store::BarPage latest, bars_.Latest(tenant, key, need));
  if (latest.bars.size() < need) {
    return Status::InvalidArgument(
        "too little data: " + std::to_string(latest.bars.size()) + " bars of " + KeyText(key) +
            " are stored; training needs at least " + std::to_string(need),
        "symbol");
  }
  json payload = {{"symbol", key.symbol},
                  {"timeframe", timeframe},
                  {"overrides", request.overrides},
                  {"activate", request.activate},
                  {"actor", request.actor}};
  return jobs_->Enqueue({.tenant = tenant,
                         .kind = kTrainJobKind,
                         .payload = payload.dump(),
                         .dedupe_key = "train:" + key.symbol + ":" + timeframe,
                         .max_attempts = 2});
}

Result<std::string> ModelService::RunTrainJob(const store::Job& job,
                                              const store::JobWorker::ProgressFn& progress) {
  auto payload = json::parse(job.payload, nullptr, false);
  if (payload.is_discarded() || !payload.is_object()) {
    return Status::InvalidArgument("job payload is not JSON", "payload");
  }
  TrainRequest req;
  try {
    // The payload is text (EnqueueTraining wrote "EURUSD", "H1"): parsed once here.
    SINYAL_ASSIGN_OR_RETURN(req.series,
                            market::ParseSeriesKey(payload.at("symbol").get<std::string>(),
                                                   payload.at("timeframe").get<std::string>()));
    req.overrides = payload.value("overrides", json::object());
    req.activate = payload.value("activate", false);
    req.actor = payload.value("actor", std::string());
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("bad job payload: ") + e.what(), "payload");
  }
  const TenantId owner = job.tenant.value_or(kPlatformTenant);
  SINYAL_ASSIGN_OR_RETURN(TrainSummary s, Train(owner, req, [&](double f, std::string_view stage) {
                            progress(f, stage);
                          }));
  return s.ToJson().dump();
}

Result<WalkForwardResult> ModelService::Evaluate(TenantId owner, const market::SeriesKey& series,
                                                 const json& overrides, int folds) {
  SINYAL_ASSIGN_OR_RETURN(Prepared p, Prepare(owner, series, overrides, true));
  SINYAL_ASSIGN_OR_RETURN(WalkForwardConfig wf, WalkForwardFor(p.dataset, p.config, folds));
  return RunWalkForward(p.dataset, p.config, wf, &clock_);
}

Result<LatestPrediction> ModelService::PredictLatest(TenantId owner,
                                                     const market::SeriesKey& series, size_t top_n,
                                                     int horizon) {
  SINYAL_RETURN_IF_ERROR(market::ValidateSymbol(series.symbol));
  LatestPrediction out;
  TenantId model_owner = owner;
  auto active = registry_.ActiveVersion(owner, series, horizon);
  if (!active.ok() && active.error().code() == StatusCode::kNotFound && !IsPlatform(owner)) {
    model_owner = kPlatformTenant;
    out.from_platform = true;
    active = registry_.ActiveVersion(kPlatformTenant, series, horizon);
  }
  if (!active.ok()) return active.error();
  SINYAL_ASSIGN_OR_RETURN(out.record, registry_.GetRecord(model_owner, series, *active));
  SINYAL_ASSIGN_OR_RETURN(Ensemble ens, registry_.Load(model_owner, series, *active));
  // The model's rows over its stored bars, through the seam (as training computed them).
  SINYAL_ASSIGN_OR_RETURN(std::vector<market::Bar> bars,
                          ReadInputBars(bars_, model_owner, series, ens.schema()));
  if (bars.empty()) return Status::NotFound("no bars for " + KeyText(series), "symbol");
  SINYAL_ASSIGN_OR_RETURN(FeatureFrame frame,
                          InputResolver(feature_sets_).Rows(model_owner, ens.schema(), bars));
  const float* row = frame.Row(frame.rows - 1);
  for (size_t i = 0; i < frame.cols(); ++i) {
    if (std::isnan(row[i])) {
      return Status::FailedPrecondition(
          "too little history to compute feature " + frame.names[i] + " on the latest bar",
          "symbol");
    }
  }
  out.bar_time = bars.back().time();
  out.prediction = ens.Predict(row);
  SINYAL_ASSIGN_OR_RETURN(std::vector<FeatureContribution> contribs, ens.Contributions(row));
  contribs.erase(std::remove_if(contribs.begin(), contribs.end(),
                                [](const auto& c) { return c.feature == "(bias)"; }),
                 contribs.end());
  std::sort(contribs.begin(), contribs.end(), [](const auto& a, const auto& b) {
    return std::fabs(a.contribution) > std::fabs(b.contribution);
  });
  if (contribs.size() > top_n) contribs.resize(top_n);
  out.top = std::move(contribs);
  return out;
}

Result<std::vector<market::SeriesKey>> ModelService::PlatformSeries(size_t min_bars) {
  SINYAL_ASSIGN_OR_RETURN(std::vector<store::SeriesInfo> all, bars_.ListSeries(std::nullopt));
  std::vector<market::SeriesKey> out;
  for (const auto& s : all) {
    if (s.tenant) continue;
    SINYAL_ASSIGN_OR_RETURN(std::vector<market::Bar> head,
                            bars_.ReadBars(std::nullopt, s.key, {.oldest = min_bars}));
    if (head.size() < min_bars) continue;
    out.push_back(s.key);
  }
  return out;
}

}  // namespace sinyal::models
