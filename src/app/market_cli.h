// `sinyal ingest` and `sinyal replay`: market data from a shell (operators, scripts).
#pragma once

#include <string>

#include "app/config.h"

namespace sinyal::app {

struct IngestArgs {
  std::string file, symbol, timeframe;
  std::string layout = "auto";        // auto | mt5 | mt5-rates | generic
  std::string timezone = "UTC";       // e.g. NY+7, EET, +03:00
  std::string date_format = "auto";   // auto | ymd | mdy | dmy | unix | unix-ms
  std::string on_bad_row = "reject";  // reject | skip
  std::string on_overlap = "reject";  // reject | keep | overwrite
};
// Imports a CSV file into the platform series symbol x timeframe of config.database.url.
// Prints the import report (rows read/inserted/skipped, first/last UTC, bad rows with their
// line numbers). Returns 0 on success, 1 when the file or the merge was rejected (reason on
// stderr, nothing written), 2 for bad arguments.
int RunIngest(const Config& config, const IngestArgs& args);

struct ReplayArgs {
  std::string file, symbol;
  std::string kind = "bars";  // bars: an M1 bar CSV; ticks: a tick CSV (market/replay.h)
  std::string layout = "auto";
  std::string timezone = "UTC";
  double speed = 60;  // 1 = real time, 60 = a minute per second, 0 = unpaced
  std::string url = "http://127.0.0.1:8080";
  std::string key;    // operator access token
  int batch = 1000;   // events per POST (at most)
  bool flush = true;  // close the last bars at the end
};
// Plays the file into POST <url>/api/v1/market/ticks. Returns 0 when every batch was accepted
// by the server (late/rejected events are counted, not errors), 1 otherwise.
int RunReplay(const ReplayArgs& args);

}  // namespace sinyal::app
