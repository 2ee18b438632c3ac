#include "app/market_cli.h"

#include <curl/curl.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/time.h"
#include "market/csv_import.h"
#include "market/instrument.h"
#include "market/merge.h"
#include "market/replay.h"
#include "market/timeframe.h"
#include "store/bar_store.h"
#include "store/database.h"

namespace sinyal::app {
namespace {

using nlohmann::json;

int Usage(const Status& s) {
  std::fprintf(stderr, "sinyal: %s\n", s.ToString().c_str());
  return 2;
}
int Rejected(const std::string& what, const Status& s) {
  std::fprintf(stderr, "sinyal: %s rejected: %s%s%s\n", what.c_str(), s.message().c_str(),
               s.field().empty() ? "" : " (at ",
               s.field().empty() ? "" : (s.field() + ")").c_str());
  return 1;
}

std::string Iso(const std::optional<UnixNanos>& t) { return t ? FormatIso8601(*t) : "-"; }

size_t CurlWrite(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

}  // namespace

int RunIngest(const Config& config, const IngestArgs& args) {
  auto symbol = market::NormalizeSymbol(args.symbol);
  if (!symbol.ok()) return Usage(symbol.error().WithField("--symbol"));
  auto tf = market::ParseTimeframe(args.timeframe);
  if (!tf.ok()) return Usage(tf.error().WithField("--timeframe"));
  market::CsvImportOptions options;
  auto layout = market::ParseCsvLayout(args.layout);
  if (!layout.ok()) return Usage(layout.error().WithField("--layout"));
  options.layout = *layout;
  auto tz = TimeZone::Parse(args.timezone);
  if (!tz.ok()) return Usage(tz.error().WithField("--timezone"));
  options.source_tz = *tz;
  auto df = market::ParseDateFormat(args.date_format);
  if (!df.ok()) return Usage(df.error().WithField("--date-format"));
  options.date_format = *df;
  if (args.on_bad_row == "skip") {
    options.on_bad_row = market::BadRowPolicy::kSkipRow;
  } else if (args.on_bad_row != "reject") {
    return Usage(Status::InvalidArgument("use reject or skip", "--on-bad-row"));
  }
  auto overlap = market::ParseOverlapPolicy(args.on_overlap);
  if (!overlap.ok()) return Usage(overlap.error().WithField("--on-overlap"));

  const auto start = std::chrono::steady_clock::now();
  auto csv = market::ImportBarsCsvFile(args.file, options);
  if (!csv.ok()) return Rejected(args.file, csv.error());
  const auto parsed = std::chrono::steady_clock::now();
  const auto& rep = csv->report;
  std::printf(
      "file %s: layout %s, time zone %s, %lld rows read, %lld bars, %lld bad rows skipped\n",
      args.file.c_str(), std::string(market::CsvLayoutName(rep.layout)).c_str(),
      options.source_tz.Name().c_str(), static_cast<long long>(rep.data_rows),
      static_cast<long long>(rep.bars), static_cast<long long>(rep.skipped_rows));
  for (const auto& e : rep.errors) std::printf("  skipped %s\n", e.ToString().c_str());
  if (rep.errors_truncated) std::printf("  (more bad rows not listed)\n");
  if (csv->bars.empty())
    return Rejected(args.file, Status::InvalidArgument("no valid rows", "file"));

  store::DatabaseOptions db_options{.url = config.database.url, .pool_size = 1};
  auto db = store::Database::Open(db_options);
  if (!db.ok()) return Rejected("database", db.error());
  if (Status s = (*db)->Migrate(); !s.ok()) return Rejected("database", s);
  store::BarStore bars(**db, SystemClock::Instance());
  auto report = bars.Import(
      store::SeriesOwner::Platform(), {*symbol, *tf}, csv->bars,
      {.overlap = *overlap,
       .source = std::string(market::CsvLayoutName(rep.layout)) + " " + options.source_tz.Name()});
  const auto done = std::chrono::steady_clock::now();
  if (!report.ok()) {
    (*db)->Close();
    return Rejected("import into " + *symbol + ":" + args.timeframe, report.error());
  }
  const double secs = std::chrono::duration<double>(done - start).count();
  const double store_secs = std::chrono::duration<double>(done - parsed).count();
  std::printf(
      "series %s:%s (platform%s): %lld inserted, %lld identical skipped, %lld replaced, "
      "%lld conflicts\nfirst %s, last %s (UTC)\n%lld bars in %.3f s (%.0f rows/s; store %.0f "
      "rows/s)\n",
      symbol->c_str(), std::string(market::TimeframeName(*tf)).c_str(),
      report->series_created ? ", created" : "", static_cast<long long>(report->inserted),
      static_cast<long long>(report->identical), static_cast<long long>(report->replaced),
      static_cast<long long>(report->conflicts), Iso(report->first).c_str(),
      Iso(report->last).c_str(), static_cast<long long>(report->received), secs,
      report->received / secs, report->received / store_secs);
  for (const auto& c : report->first_conflicts) {
    std::printf("  conflict at %s: stored close %.10g, file close %.10g (kept %s)\n",
                FormatIso8601(c.incoming.time()).c_str(), c.existing.close(), c.incoming.close(),
                *overlap == market::OverlapPolicy::kOverwrite ? "file" : "stored");
  }
  (*db)->Close();
  return 0;
}

int RunReplay(const ReplayArgs& args) {
  auto symbol = market::NormalizeSymbol(args.symbol);
  if (!symbol.ok()) return Usage(symbol.error().WithField("--symbol"));
  auto tz = TimeZone::Parse(args.timezone);
  if (!tz.ok()) return Usage(tz.error().WithField("--timezone"));
  if (args.speed < 0) return Usage(Status::InvalidArgument("must be >= 0", "--speed"));
  if (args.key.empty())
    return Usage(Status::InvalidArgument("an operator token is required", "--key"));
  if (args.batch < 1 || args.batch > 10000) {
    return Usage(Status::InvalidArgument("must be 1..10000", "--batch"));
  }

  std::unique_ptr<market::ReplaySource> source;
  std::ifstream tick_file;
  if (args.kind == "bars") {
    market::CsvImportOptions options;
    options.source_tz = *tz;
    auto layout = market::ParseCsvLayout(args.layout);
    if (!layout.ok()) return Usage(layout.error().WithField("--layout"));
    options.layout = *layout;
    auto csv = market::ImportBarsCsvFile(args.file, options);
    if (!csv.ok()) return Rejected(args.file, csv.error());
    source = std::make_unique<market::BarVectorSource>(std::move(csv->bars));
  } else if (args.kind == "ticks") {
    tick_file.open(args.file);
    if (!tick_file) return Rejected(args.file, Status::NotFound("cannot open file", "--file"));
    source = std::make_unique<market::TickCsvSource>(tick_file, *tz);
  } else {
    return Usage(Status::InvalidArgument("use bars or ticks", "--kind"));
  }

  CURL* curl = curl_easy_init();
  if (curl == nullptr) return Rejected("replay", Status::Internal("libcurl failed to start"));
  const std::string endpoint = args.url + "/api/v1/market/ticks";
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, ("Authorization: Bearer " + args.key).c_str());

  int64_t sent = 0, accepted = 0, late = 0, rejected = 0, written = 0;
  json ticks = json::array(), bars = json::array();
  Clock& clock = SystemClock::Instance();
  int64_t last_post = clock.MonotonicNanos();
  Status post_error;

  auto post = [&](bool flush) -> Status {
    json body = json::object();
    if (!ticks.empty()) body["ticks"] = std::move(ticks);
    if (!bars.empty()) body["bars"] = std::move(bars);
    if (flush) body["flush"] = true;
    ticks = json::array();
    bars = json::array();
    const std::string payload = body.dump();
    std::string response;
    long status = 0;
    curl_easy_setopt(curl, CURLOPT_URL, endpoint.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(payload.size()));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, CurlWrite);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
    CURLcode rc = curl_easy_perform(curl);
    if (rc != CURLE_OK)
      return Status::Unavailable(std::string("POST failed: ") + curl_easy_strerror(rc));
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    json r = json::parse(response, nullptr, false);
    if (status != 200) {
      std::string detail = r.is_object() && r.contains("detail") ? r["detail"].get<std::string>()
                                                                 : response.substr(0, 300);
      return Status::FailedPrecondition("server answered " + std::to_string(status) + ": " +
                                        detail);
    }
    accepted += r.value("accepted", 0);
    late += r.value("late", 0);
    rejected += r.value("rejected", 0);
    written += r.value("bars_written", 0);
    last_post = clock.MonotonicNanos();
    return Status::Ok();
  };

  market::ReplaySink sink = [&](const market::ReplayEvent& e) -> Status {
    if (const auto* t = std::get_if<market::Tick>(&e.payload)) {
      json j = {{"symbol", *symbol}, {"time", FormatIso8601(t->time)}, {"bid", t->bid}};
      if (t->ask > 0) j["ask"] = t->ask;
      if (t->last > 0) j["last"] = t->last;
      if (t->volume > 0) j["volume"] = t->volume;
      ticks.push_back(std::move(j));
    } else {
      const auto& b = std::get<market::Bar>(e.payload);
      bars.push_back({{"symbol", *symbol},
                      {"time", FormatIso8601(b.time())},
                      {"open", b.open()},
                      {"high", b.high()},
                      {"low", b.low()},
                      {"close", b.close()},
                      {"volume", b.volume()}});
    }
    ++sent;
    // Send a full batch, or what is pending every 200 ms so paced replays look live.
    const bool full = static_cast<int>(ticks.size() + bars.size()) >= args.batch;
    const bool stale = args.speed > 0 && clock.MonotonicNanos() - last_post > 200'000'000;
    if (full || stale) {
      Status s = post(false);
      if (!s.ok()) return Status::Unavailable(s.message());  // stops the replay
    }
    return Status::Ok();
  };

  market::ThreadSleeper sleeper(clock);
  const auto start = std::chrono::steady_clock::now();
  auto stats = market::Replay(*source, sink, clock, sleeper, {.speed = args.speed});
  Status final = stats.ok() ? post(args.flush) : stats.error();
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  std::printf(
      "replayed %lld events of %s in %.2f s: %lld accepted, %lld late, %lld rejected, "
      "%lld bars written\n",
      static_cast<long long>(sent), args.file.c_str(), secs, static_cast<long long>(accepted),
      static_cast<long long>(late), static_cast<long long>(rejected),
      static_cast<long long>(written));
  if (!final.ok()) return Rejected("replay", final);
  return 0;
}

}  // namespace sinyal::app
