#include "app/first_run.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "app/models_cli.h"
#include "core/log.h"
#include "core/time.h"
#include "market/csv_import.h"
#include "market/timeframe.h"
#include "models/service.h"
#include "signals/service.h"
#include "store/bar_store.h"

namespace sinyal::app {
namespace {

std::vector<std::string> SplitTabs(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  for (std::string cell; std::getline(ss, cell, '\t');) out.push_back(cell);
  return out;
}

struct Loaded {
  SampleFile file;
  std::vector<market::Bar> held_back;  // replayed through the live path after training
};

}  // namespace

Result<std::vector<SampleFile>> ReadSampleManifest(const std::string& sample_dir) {
  const std::filesystem::path path = std::filesystem::path(sample_dir) / "first_run.tsv";
  std::ifstream in(path);
  if (!in) return Status::NotFound("no " + path.string(), "first_run.sample_dir");
  std::vector<SampleFile> files;
  int line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    auto cells = SplitTabs(line);
    const std::string where = path.string() + " line " + std::to_string(line_no);
    if (cells.size() != 4)
      return Status::InvalidArgument(where + ": want file, symbol, timeframe, timezone",
                                     "first_run.tsv");
    auto tf = market::ParseTimeframe(cells[2]);
    if (!tf.ok())
      return Status::InvalidArgument(where + ": " + tf.error().message(), "first_run.tsv");
    if (!TimeZone::Parse(cells[3]).ok())
      return Status::InvalidArgument(where + ": bad time zone " + cells[3], "first_run.tsv");
    if (cells[0].find('/') != std::string::npos)
      return Status::InvalidArgument(where + ": file must be in the folder", "first_run.tsv");
    files.push_back({.file = cells[0], .key = {cells[1], *tf}, .timezone = cells[3]});
  }
  return files;
}

FirstRun::FirstRun(store::BarStore& bars, models::ModelService& models,
                   signals::SignalService& signals, FirstRunOptions options)
    : bars_(bars), models_(models), signals_(signals), options_(std::move(options)) {}

FirstRun::~FirstRun() { Stop(); }

Result<FirstRunReport> FirstRun::Run() {
  FirstRunReport report;
  SINYAL_ASSIGN_OR_RETURN(auto existing, bars_.ListSeries(std::nullopt));
  if (!existing.empty()) {
    report.skipped = true;
    return report;
  }
  SINYAL_ASSIGN_OR_RETURN(std::vector<SampleFile> files, ReadSampleManifest(options_.sample_dir));
  LogEvent(spdlog::level::info, "first_run",
           {{"stage", "import"}, {"sample_dir", options_.sample_dir}, {"files", files.size()}});

  // 1. Import, holding back the newest bars of every series long enough to train on.
  std::vector<Loaded> loaded;
  for (const SampleFile& f : files) {
    if (stop_.load()) return report;
    market::CsvImportOptions o;
    o.source_tz = *TimeZone::Parse(f.timezone);
    o.timeframe = f.key.timeframe;
    const auto path = std::filesystem::path(options_.sample_dir) / f.file;
    SINYAL_ASSIGN_OR_RETURN(market::CsvImportResult csv, market::ImportBarsCsvFile(path, o));
    std::vector<market::Bar> bars = std::move(csv.bars);
    size_t hold =
        bars.size() >= options_.min_bars + options_.replay_bars ? options_.replay_bars : 0;
    std::vector<market::Bar> tail(bars.end() - static_cast<std::ptrdiff_t>(hold), bars.end());
    bars.erase(bars.end() - static_cast<std::ptrdiff_t>(hold), bars.end());
    if (bars.empty()) continue;
    SINYAL_ASSIGN_OR_RETURN(store::BarImportReport r,
                            bars_.Import(store::SeriesOwner::Platform(), f.key, bars,
                                         {.source = "sample " + f.file + " " + f.timezone}));
    report.series++;
    report.bars_imported += static_cast<size_t>(r.inserted);
    LogEvent(spdlog::level::info, "first_run",
             {{"stage", "imported"},
              {"series", f.key.ToString()},
              {"bars", r.inserted},
              {"held_back", tail.size()},
              {"last", r.last ? FormatIso8601(*r.last) : ""}});
    loaded.push_back({f, std::move(tail)});
  }

  // 2. The platform default models, as `sinyal admin train-defaults` makes them.
  const std::vector<int> horizons =
      options_.horizons.empty() ? DefaultPlatformHorizons() : options_.horizons;
  LogEvent(spdlog::level::info, "first_run",
           {{"stage", "train"}, {"min_bars", options_.min_bars}, {"horizons", horizons}});
  SINYAL_ASSIGN_OR_RETURN(
      size_t found,
      TrainPlatformDefaults(
          models_,
          {.min_bars = options_.min_bars,
           .trees = options_.trees,
           .horizons = horizons,
           .actor = "first-run",
           .stop = [this] { return stop_.load(); }},
          [&report](const std::string& symbol, const std::string& timeframe, int horizon,
                    const Result<models::TrainSummary>& s) {
            if (!s.ok()) {
              report.models_failed++;
              LogEvent(spdlog::level::warn, "first_run",
                       {{"stage", "train_failed"},
                        {"symbol", symbol},
                        {"timeframe", timeframe},
                        {"horizon", horizon},
                        {"error", s.error().ToString()}});
              return;
            }
            report.models_trained++;
            const auto& wf = s->record.metrics["walk_forward"];
            LogEvent(spdlog::level::info, "first_run",
                     {{"stage", "trained"},
                      {"symbol", symbol},
                      {"timeframe", timeframe},
                      {"version", s->record.version},
                      {"horizon", s->record.schema.horizon},
                      {"seconds", s->total_seconds},
                      {"walk_forward_accuracy", wf.is_object() ? wf.value("accuracy", 0.0) : 0.0},
                      {"walk_forward_n", wf.is_object() ? wf.value("n", 0LL) : 0LL}});
          }));
  (void)found;

  // 3. The held-back bars through the live path, in time order across series (so the cross-asset
  // reference has its bar when another series' signal is made).
  std::map<UnixNanos, std::vector<std::pair<const Loaded*, market::Bar>>> by_time;
  for (const Loaded& l : loaded) {
    if (l.held_back.empty()) continue;
    for (int horizon : horizons) {
      Status s = signals_.Track(models::kPlatformTenant, l.file.key, horizon);
      if (s.code() == StatusCode::kUnavailable) {
        // The version's interval calibration is being fitted on the service's thread (its fit at
        // training failed or was not wired): wait for it once.
        signals_.Drain();
        s = signals_.Track(models::kPlatformTenant, l.file.key, horizon);
      }
      if (!s.ok()) {
        LogEvent(spdlog::level::info, "first_run",
                 {{"stage", "not_tracked"},
                  {"series", l.file.key.ToString()},
                  {"horizon", horizon},
                  {"reason", s.ToString()}});
      }
    }
    for (const market::Bar& b : l.held_back) by_time[b.time()].emplace_back(&l, b);
  }
  LogEvent(spdlog::level::info, "first_run", {{"stage", "replay"}, {"bar_times", by_time.size()}});
  for (const auto& [time, group] : by_time) {
    if (stop_.load()) break;
    for (const auto& [l, bar] : group) {
      SINYAL_RETURN_IF_ERROR(
          bars_
              .Import(store::SeriesOwner::Platform(), l->file.key, std::span(&bar, 1),
                      {.source = "sample " + l->file.file + " " + l->file.timezone})
              .status());
      report.bars_replayed++;
    }
    for (const auto& [l, bar] : group) signals_.OnBarClosed(l->file.key, bar);
    // One bar at a time, as a live feed delivers them: the service catches up on every stored bar
    // at once and signals only the newest, so the next bar is stored after this one is processed.
    signals_.Drain();
  }
  return report;
}

void FirstRun::Start() {
  thread_ = std::thread([this] {
    auto r = Run();
    if (!r.ok() && r.error().code() == StatusCode::kNotFound) {
      LogEvent(spdlog::level::warn, "first_run",
               {{"stage", "skipped"},
                {"reason", r.error().ToString()},
                {"hint", "run serve from the repository root, or set first_run.sample_dir"}});
      return;
    }
    if (!r.ok()) {
      LogEvent(spdlog::level::err, "first_run",
               {{"stage", "failed"}, {"error", r.error().ToString()}});
      return;
    }
    if (r->skipped) {
      LogEvent(spdlog::level::info, "first_run",
               {{"stage", "skipped"}, {"reason", "the database has market data"}});
      return;
    }
    LogEvent(spdlog::level::info, "first_run",
             {{"stage", stop_.load() ? "stopped" : "done"},
              {"series", r->series},
              {"bars_imported", r->bars_imported},
              {"models_trained", r->models_trained},
              {"models_failed", r->models_failed},
              {"bars_replayed", r->bars_replayed}});
  });
}

void FirstRun::Stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

}  // namespace sinyal::app
