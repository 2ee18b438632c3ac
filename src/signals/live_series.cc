#include "signals/live_series.h"

#include "signals/cross_asset.h"
#include "store/bar_store.h"

namespace sinyal::signals {

namespace {
constexpr const char* kDxySymbol = "DXY";
}  // namespace

LiveSeries::LiveSeries(store::BarStore& bars, store::FeatureSetStore* feature_sets,
                       const Clock& clock, LiveSeriesOptions options)
    : bars_(bars), inputs_(feature_sets), clock_(clock), options_(std::move(options)) {}

Result<SeriesWindow> LiveSeries::Open(TenantId owner, const market::SeriesKey& key,
                                      const models::ModelSchema& schema, size_t keep) {
  SINYAL_ASSIGN_OR_RETURN(models::InputSpec spec, inputs_.ForSchema(owner, schema));
  SINYAL_ASSIGN_OR_RETURN(SeriesWindow w,
                          SeriesWindow::Create(spec, schema.inputs_from, key.symbol, key.timeframe,
                                               {.keep = keep, .regime = options_.regime}));
  SINYAL_ASSIGN_OR_RETURN(
      std::vector<market::Bar> history,
      models::ReadInputBars(bars_, owner, key, schema, INT64_MAX, options_.max_input_bars));
  for (const auto& bar : history) SINYAL_RETURN_IF_ERROR(w.Push(bar).status());
  return w;
}

Result<size_t> LiveSeries::CatchUp(TenantId owner, const models::ModelSchema& schema,
                                   SeriesWindow& window) {
  SINYAL_ASSIGN_OR_RETURN(
      std::vector<market::Bar> newer,
      bars_.ReadBars(models::ViewerOf(owner), {window.symbol(), window.timeframe()},
                     {.from = schema.inputs_from, .after = window.last_time()}));
  size_t added = 0;
  for (const auto& bar : newer) {
    SINYAL_ASSIGN_OR_RETURN(bool pushed, window.Push(bar));
    added += pushed ? 1 : 0;
  }
  return added;
}

Result<std::vector<market::Bar>> LiveSeries::BarsAfter(TenantId owner, const market::SeriesKey& key,
                                                       UnixNanos after, size_t max) {
  return bars_.ReadBars(models::ViewerOf(owner), key, {.after = after, .oldest = max});
}

std::shared_ptr<const CrossAssetReference> LiveSeries::Reference(market::Timeframe tf) {
  std::lock_guard lock(ref_mu_);
  Cached& c = refs_[tf];
  const int64_t now = clock_.MonotonicNanos();
  if (!c.ref || now - c.loaded_mono >= options_.reference_interval_nanos) {
    c.ref = std::make_shared<const CrossAssetReference>(LoadReference(tf));
    c.loaded_mono = now;
  }
  return c.ref;
}

CrossAssetReference LiveSeries::LoadReference(market::Timeframe tf) {
  CrossAssetReference ref;
  auto dxy = bars_.Latest(std::nullopt, {kDxySymbol, tf}, store::kMaxBarPage);
  if (dxy.ok() && dxy->bars.size() > static_cast<size_t>(kMinCorrelationWindow)) {
    ref.name = kDxySymbol;
    for (const auto& b : dxy->bars) {
      ref.times.push_back(b.time());
      ref.values.push_back(b.close());
    }
    return ref;
  }
  std::vector<SymbolSeries> series;
  for (const auto& c : kDxyComponents) {
    if (std::string(c.symbol) == "USDSEK") continue;
    auto page = bars_.Latest(std::nullopt, {c.symbol, tf}, store::kMaxBarPage);
    if (!page.ok()) return ref;  // a component is missing: no reference
    series.push_back({c.symbol, std::move(page->bars)});
  }
  auto panel = AlignPanel(series, tf);
  if (!panel.ok()) return ref;
  auto values = SyntheticDxy(*panel, SekMode::kDropSek);
  if (!values.ok()) return ref;
  ref.name = "synthetic_dxy_5";
  ref.times = panel->times;
  ref.values = std::move(*values);
  return ref;
}

}  // namespace sinyal::signals
