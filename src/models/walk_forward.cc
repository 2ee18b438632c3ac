#include "models/walk_forward.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "models/ensemble.h"

namespace sinyal::models {

namespace {

struct Span {
  uint32_t first = 0, last = 0;
};

Span EvalSpan(const Dataset& ds, std::span<const size_t> eval) {
  Span s{std::numeric_limits<uint32_t>::max(), 0};
  for (size_t i : eval) {
    s.first = std::min(s.first, ds.rows[i].bar);
    s.last = std::max(s.last, ds.rows[i].label_last);
  }
  return s;
}

// Why row r may not train against span s; nullptr when it may.
const char* Violation(const DatasetRow& r, Span s, int embargo) {
  // Training label window [label_first, label_last] vs the evaluation span [first, last].
  if (r.label_last >= s.first && r.label_first <= s.last) return "label window overlaps";
  if (r.bar >= s.first && r.bar <= s.last) return "prediction bar inside";
  if (r.bar > s.last && r.bar <= static_cast<uint64_t>(s.last) + static_cast<uint64_t>(embargo)) {
    return "prediction bar within the embargo after";
  }
  return nullptr;
}

}  // namespace

std::vector<size_t> Purge(const Dataset& ds, std::span<const size_t> train,
                          std::span<const size_t> eval, int embargo_bars) {
  if (eval.empty()) return {train.begin(), train.end()};
  const Span s = EvalSpan(ds, eval);
  std::vector<size_t> out;
  out.reserve(train.size());
  for (size_t i : train) {
    if (Violation(ds.rows[i], s, embargo_bars) == nullptr) out.push_back(i);
  }
  return out;
}

Status CheckPurged(const Dataset& ds, std::span<const size_t> train, std::span<const size_t> eval,
                   int embargo_bars) {
  if (eval.empty()) return Status::Ok();
  const Span s = EvalSpan(ds, eval);
  for (size_t i : train) {
    if (const char* why = Violation(ds.rows[i], s, embargo_bars)) {
      return Status::FailedPrecondition("training row " + std::to_string(i) + " (bar " +
                                            std::to_string(ds.rows[i].bar) + ", label bars " +
                                            std::to_string(ds.rows[i].label_first) + ".." +
                                            std::to_string(ds.rows[i].label_last) + "): " + why +
                                            " the evaluation span of bars " +
                                            std::to_string(s.first) + ".." + std::to_string(s.last),
                                        "split");
    }
  }
  return Status::Ok();
}

Result<std::vector<FoldSplit>> MakeWalkForwardSplits(const Dataset& ds, const WalkForwardConfig& c,
                                                     double calibration_fraction) {
  if (c.folds < 1 || c.folds > 50)
    return Status::InvalidArgument("folds must be in [1, 50]", "folds");
  if (!(c.initial_train_fraction >= 0.1 && c.initial_train_fraction <= 0.9)) {
    return Status::InvalidArgument("initial_train_fraction must be in [0.1, 0.9]",
                                   "initial_train_fraction");
  }
  if (c.embargo_bars < -1 || c.embargo_bars > 10000) {
    return Status::InvalidArgument("embargo_bars must be in [-1, 10000]", "embargo_bars");
  }
  if (!(calibration_fraction > 0 && calibration_fraction < 1)) {
    return Status::InvalidArgument("calibration_fraction must be in (0, 1)",
                                   "calibration_fraction");
  }
  const int embargo = c.embargo_bars < 0 ? ds.horizon : c.embargo_bars;
  const size_t n = ds.size();
  const size_t start = static_cast<size_t>(static_cast<double>(n) * c.initial_train_fraction);
  const size_t block = (n - start) / static_cast<size_t>(c.folds);
  if (block == 0 || start == 0) {
    return Status::FailedPrecondition("too little data for " + std::to_string(c.folds) + " folds",
                                      "data");
  }
  std::vector<FoldSplit> out;
  for (int k = 0; k < c.folds; ++k) {
    FoldSplit s;
    const size_t t0 = start + block * k;
    const size_t t1 = k + 1 == c.folds ? n : t0 + block;
    for (size_t i = t0; i < t1; ++i) s.test.push_back(i);
    size_t from = 0;
    if (c.max_train_rows > 0 && t0 > c.max_train_rows) from = t0 - c.max_train_rows;
    std::vector<size_t> train(t0 - from);
    std::iota(train.begin(), train.end(), from);
    std::vector<size_t> kept = Purge(ds, train, s.test, embargo);
    s.purged = train.size() - kept.size();
    const size_t n_cal =
        static_cast<size_t>(static_cast<double>(kept.size()) * calibration_fraction);
    s.calib.assign(kept.end() - static_cast<std::ptrdiff_t>(n_cal), kept.end());
    std::vector<size_t> fit_candidates(kept.begin(),
                                       kept.end() - static_cast<std::ptrdiff_t>(n_cal));
    s.fit = Purge(ds, fit_candidates, s.calib, embargo);
    s.purged += fit_candidates.size() - s.fit.size();
    out.push_back(std::move(s));
  }
  return out;
}

namespace {

struct Baselines {
  std::vector<float> majority_proba, last_proba;
  std::vector<int8_t> majority_pred, last_pred, reversed_pred;
};

// Baseline predictions for `test` rows from statistics of `train` rows only.
Baselines MakeBaselines(const Dataset& ds, std::span<const size_t> train,
                        std::span<const size_t> test) {
  const int k = ds.num_classes;
  std::vector<double> freq(k, 0);
  size_t persist_n = 0, persist_hit = 0;
  for (size_t i : train) {
    const auto& r = ds.rows[i];
    freq[r.label] += 1;
    if (r.last_direction != 0) {
      ++persist_n;
      persist_hit += r.label == (r.last_direction > 0 ? kUp : kDown);
    }
  }
  for (double& v : freq) v /= std::max<size_t>(train.size(), 1);
  const int majority = static_cast<int>(std::max_element(freq.begin(), freq.end()) - freq.begin());
  // Laplace-smoothed persistence rate.
  const double q = (persist_hit + 1.0) / (persist_n + 2.0);
  Baselines b;
  for (size_t i : test) {
    const auto& r = ds.rows[i];
    for (int c = 0; c < k; ++c) b.majority_proba.push_back(static_cast<float>(freq[c]));
    b.majority_pred.push_back(static_cast<int8_t>(majority));
    if (r.last_direction == 0) {
      for (int c = 0; c < k; ++c) b.last_proba.push_back(static_cast<float>(freq[c]));
      b.last_pred.push_back(static_cast<int8_t>(majority));
      b.reversed_pred.push_back(static_cast<int8_t>(majority));
    } else {
      const int dir = r.last_direction > 0 ? kUp : kDown;
      for (int c = 0; c < k; ++c) {
        b.last_proba.push_back(static_cast<float>(c == dir ? q : (1 - q) / (k - 1)));
      }
      // With q < 0.5 the probabilities favour reversal; the hard call stays "last direction".
      b.last_pred.push_back(static_cast<int8_t>(dir));
      b.reversed_pred.push_back(static_cast<int8_t>(dir == kUp ? kDown : kUp));
    }
  }
  return b;
}

void AddBaselines(std::vector<BaselineResult>* out, const Baselines& b, int k,
                  std::span<const int8_t> labels, std::span<const int8_t> model_pred) {
  BaselineResult maj;
  maj.name = "majority_class";
  maj.metrics = ComputeMetrics(b.majority_proba, labels, k);
  maj.model_vs_baseline = ComparePaired(model_pred, b.majority_pred, labels);
  BaselineResult last;
  last.name = "last_direction";
  last.metrics = ComputeMetrics(b.last_proba, labels, k);
  // Accuracy of the hard "last direction" call (argmax of its probabilities may differ).
  {
    size_t right = 0;
    for (size_t i = 0; i < labels.size(); ++i) right += b.last_pred[i] == labels[i];
    last.metrics.correct = right;
    last.metrics.accuracy = labels.empty() ? 0 : static_cast<double>(right) / labels.size();
    last.metrics.accuracy_ci = WilsonInterval(right, labels.size());
  }
  last.model_vs_baseline = ComparePaired(model_pred, b.last_pred, labels);
  // The opposite call: hourly FX shows short-term mean reversion, so "reverse the last move"
  // is the stronger naive rule. Same probabilities as last_direction (they come from the
  // training persistence rate either way); only the hard call differs.
  BaselineResult rev;
  rev.name = "last_direction_reversed";
  rev.metrics = last.metrics;
  {
    size_t right = 0;
    for (size_t i = 0; i < labels.size(); ++i) right += b.reversed_pred[i] == labels[i];
    rev.metrics.correct = right;
    rev.metrics.accuracy = labels.empty() ? 0 : static_cast<double>(right) / labels.size();
    rev.metrics.accuracy_ci = WilsonInterval(right, labels.size());
  }
  rev.model_vs_baseline = ComparePaired(model_pred, b.reversed_pred, labels);
  out->push_back(std::move(maj));
  out->push_back(std::move(last));
  out->push_back(std::move(rev));
}

}  // namespace

Result<WalkForwardResult> RunWalkForward(const Dataset& ds, const TrainConfig& train,
                                         const WalkForwardConfig& wf, const Clock* clock) {
  SINYAL_ASSIGN_OR_RETURN(auto splits, MakeWalkForwardSplits(ds, wf, train.calibration_fraction));
  const int k = ds.num_classes;
  WalkForwardResult res;
  res.symbol = ds.symbol;
  res.timeframe = ds.timeframe;
  res.feature_set = ds.feature_set;
  res.feature_set_version = ds.feature_set_version;
  res.horizon = ds.horizon;
  res.dead_band = ds.dead_band;
  res.num_classes = k;
  res.rows = ds.size();
  res.neutral_dropped = ds.neutral_dropped;
  res.data_from = ds.rows.front().ts;
  res.data_to = ds.rows.back().ts;
  res.train_config = ToJson(train);
  res.walk_forward_config = {{"folds", wf.folds},
                             {"initial_train_fraction", wf.initial_train_fraction},
                             {"embargo_bars", wf.embargo_bars < 0 ? ds.horizon : wf.embargo_bars},
                             {"max_train_rows", wf.max_train_rows}};
  std::vector<float> all_p, all_raw, all_maj_p, all_last_p, all_base, all_served;
  std::vector<int8_t> all_y, all_pred, all_maj, all_last, all_rev;
  double unc_sum = 0;
  for (size_t f = 0; f < splits.size(); ++f) {
    const FoldSplit& s = splits[f];
    const int64_t t0 = clock ? clock->MonotonicNanos() : 0;
    auto ens = Ensemble::Train(ds, s.fit, s.calib, train);
    if (!ens.ok()) return ens.error().WithContext("fold " + std::to_string(f));
    FoldResult fr;
    fr.fold = static_cast<int>(f);
    fr.train_seconds = clock ? static_cast<double>(clock->MonotonicNanos() - t0) / 1e9 : 0;
    fr.fit_rows = s.fit.size();
    fr.calib_rows = s.calib.size();
    fr.test_rows = s.test.size();
    fr.purged_rows = s.purged;
    fr.fit_from = ds.rows[s.fit.front()].ts;
    fr.fit_to = ds.rows[s.calib.back()].ts;
    fr.test_from = ds.rows[s.test.front()].ts;
    fr.test_to = ds.rows[s.test.back()].ts;

    std::vector<float> x;
    std::vector<int8_t> y(s.test.size());
    ds.Gather(s.test, &x, nullptr);
    for (size_t i = 0; i < s.test.size(); ++i) y[i] = ds.rows[s.test[i]].label;
    std::vector<float> p(s.test.size() * k), raw(s.test.size() * k), unc(s.test.size());
    ens->PredictBatch(x.data(), s.test.size(), p.data(), unc.data());
    ens->PredictRawBatch(x.data(), s.test.size(), raw.data());
    fr.model = ComputeMetrics(p, y, k);
    fr.model_raw = ComputeMetrics(raw, y, k);
    double us = 0;
    for (float u : unc) us += u;
    fr.mean_uncertainty = us / std::max<size_t>(unc.size(), 1);
    unc_sum += us;
    const std::vector<int8_t> pred = Argmax(p, k);

    std::vector<size_t> trained(s.fit);
    trained.insert(trained.end(), s.calib.begin(), s.calib.end());
    const Baselines b = MakeBaselines(ds, trained, s.test);
    AddBaselines(&fr.baselines, b, k, y, pred);

    // Skill over the training rows' base rate, and the prequential serving rule.
    std::vector<int8_t> train_labels;
    train_labels.reserve(trained.size());
    for (size_t i : trained) train_labels.push_back(ds.rows[i].label);
    const std::vector<float> base_row = BaseRateForecast(train_labels, k, ds.horizon);
    std::vector<float> base(s.test.size() * k);
    for (size_t i = 0; i < s.test.size(); ++i) {
      for (int c = 0; c < k; ++c) base[i * k + c] = base_row[c];
    }
    fr.skill = EstimateSkill(p, base, y, k, ds.horizon);
    fr.informative = ens->calibrator().informative();
    fr.base_rate = ens->calibrator().base_rate();
    fr.served =
        f > 0 && !all_y.empty() && EstimateSkill(all_p, all_base, all_y, k, ds.horizon).shown;
    std::vector<float> served(p);
    if (!fr.served) {
      for (size_t i = 0; i < s.test.size(); ++i) {
        if (k == 2) {
          served[i * 2 + kUp] = static_cast<float>(fr.base_rate);
          served[i * 2 + kDown] = static_cast<float>(1.0 - fr.base_rate);
        } else {
          for (int c = 0; c < k; ++c) served[i * k + c] = base_row[c];
        }
      }
    }
    all_base.insert(all_base.end(), base.begin(), base.end());
    all_served.insert(all_served.end(), served.begin(), served.end());

    all_p.insert(all_p.end(), p.begin(), p.end());
    all_raw.insert(all_raw.end(), raw.begin(), raw.end());
    all_y.insert(all_y.end(), y.begin(), y.end());
    all_pred.insert(all_pred.end(), pred.begin(), pred.end());
    all_maj_p.insert(all_maj_p.end(), b.majority_proba.begin(), b.majority_proba.end());
    all_last_p.insert(all_last_p.end(), b.last_proba.begin(), b.last_proba.end());
    all_maj.insert(all_maj.end(), b.majority_pred.begin(), b.majority_pred.end());
    all_last.insert(all_last.end(), b.last_pred.begin(), b.last_pred.end());
    all_rev.insert(all_rev.end(), b.reversed_pred.begin(), b.reversed_pred.end());
    res.total_train_seconds += fr.train_seconds;
    res.folds.push_back(std::move(fr));
  }
  res.pooled = ComputeMetrics(all_p, all_y, k);
  res.pooled_raw = ComputeMetrics(all_raw, all_y, k);
  res.pooled_mean_uncertainty = unc_sum / std::max<size_t>(all_y.size(), 1);
  res.skill = EstimateSkill(all_p, all_base, all_y, k, ds.horizon);
  res.served = ComputeMetrics(all_served, all_y, k);
  res.served_skill = EstimateSkill(all_served, all_base, all_y, k, ds.horizon);
  if (k == 2) {
    for (size_t i = 0; i < all_y.size(); ++i) {
      res.pooled_p_up.push_back(all_p[i * 2 + kUp]);
      res.pooled_served_p_up.push_back(all_served[i * 2 + kUp]);
    }
  }
  res.pooled_labels = all_y;
  res.pooled_pred = all_pred;
  res.pooled_baseline_preds = {all_maj, all_last, all_rev};
  for (const FoldSplit& s : splits)
    res.pooled_rows.insert(res.pooled_rows.end(), s.test.begin(), s.test.end());
  Baselines pooled_b{all_maj_p, all_last_p, all_maj, all_last, all_rev};
  AddBaselines(&res.pooled_baselines, pooled_b, k, all_y, all_pred);
  return res;
}

namespace {
nlohmann::json Num(double v) {
  if (std::isnan(v) || std::isinf(v)) return nullptr;
  return v;
}
}  // namespace

nlohmann::json ToJson(const ClassificationMetrics& m) {
  nlohmann::json rel = nlohmann::json::array();
  for (const auto& b : m.reliability) {
    rel.push_back({{"lo", b.lo},
                   {"hi", b.hi},
                   {"count", b.count},
                   {"mean_predicted", Num(b.mean_predicted)},
                   {"observed", Num(b.observed)}});
  }
  nlohmann::json ab = nlohmann::json::array();
  for (const auto& a : m.abstention) {
    ab.push_back({{"threshold", a.threshold},
                  {"n", a.n},
                  {"coverage", a.coverage},
                  {"accuracy", Num(a.accuracy)},
                  {"accuracy_ci95", {a.accuracy_ci.lo, a.accuracy_ci.hi}}});
  }
  return {{"n", m.n},
          {"correct", m.correct},
          {"accuracy", Num(m.accuracy)},
          {"accuracy_ci95", {m.accuracy_ci.lo, m.accuracy_ci.hi}},
          {"balanced_accuracy", Num(m.balanced_accuracy)},
          {"log_loss", Num(m.log_loss)},
          {"brier", Num(m.brier)},
          {"roc_auc", Num(m.roc_auc)},
          {"class_counts", m.class_counts},
          {"reliability", rel},
          {"reliability_mean_abs_gap", Num(m.reliability_gap)},
          {"abstention", ab}};
}

namespace {
nlohmann::json BaselinesJson(const std::vector<BaselineResult>& bs) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& b : bs) {
    out[b.name] = {{"metrics", ToJson(b.metrics)},
                   {"model_vs_baseline",
                    {{"n", b.model_vs_baseline.n},
                     {"model_only_correct", b.model_vs_baseline.model_only_correct},
                     {"baseline_only_correct", b.model_vs_baseline.baseline_only_correct},
                     {"accuracy_difference", b.model_vs_baseline.accuracy_difference},
                     {"mcnemar_exact_p", b.model_vs_baseline.p_value}}}};
  }
  return out;
}
}  // namespace

nlohmann::json ToJson(const WalkForwardResult& r) {
  nlohmann::json folds = nlohmann::json::array();
  for (const auto& f : r.folds) {
    folds.push_back({{"fold", f.fold},
                     {"fit_from_ns", f.fit_from},
                     {"fit_to_ns", f.fit_to},
                     {"test_from_ns", f.test_from},
                     {"test_to_ns", f.test_to},
                     {"fit_rows", f.fit_rows},
                     {"calib_rows", f.calib_rows},
                     {"test_rows", f.test_rows},
                     {"purged_rows", f.purged_rows},
                     {"train_seconds", f.train_seconds},
                     {"mean_uncertainty", f.mean_uncertainty},
                     {"model", ToJson(f.model)},
                     {"model_uncalibrated", ToJson(f.model_raw)},
                     {"skill", f.skill.ToJson()},
                     {"informative", f.informative},
                     {"base_rate", f.base_rate},
                     {"served", f.served},
                     {"baselines", BaselinesJson(f.baselines)}});
  }
  return {{"symbol", r.symbol},
          {"timeframe", r.timeframe},
          {"feature_set", r.feature_set},
          {"feature_set_version", r.feature_set_version},
          {"horizon", r.horizon},
          {"dead_band", r.dead_band},
          {"num_classes", r.num_classes},
          {"rows", r.rows},
          {"neutral_dropped", r.neutral_dropped},
          {"data_from_ns", r.data_from},
          {"data_to_ns", r.data_to},
          {"train_config", r.train_config},
          {"walk_forward_config", r.walk_forward_config},
          {"total_train_seconds", r.total_train_seconds},
          {"pooled",
           {{"model", ToJson(r.pooled)},
            {"model_uncalibrated", ToJson(r.pooled_raw)},
            {"mean_uncertainty", r.pooled_mean_uncertainty},
            {"skill", r.skill.ToJson()},
            {"served", ToJson(r.served)},
            {"served_skill", r.served_skill.ToJson()},
            {"baselines", BaselinesJson(r.pooled_baselines)}}},
          {"folds", folds}};
}

}  // namespace sinyal::models
