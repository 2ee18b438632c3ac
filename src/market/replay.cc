#include "market/replay.h"

#include <cmath>
#include <thread>

#include "market/csv_import.h"

namespace sinyal::market {

Result<bool> BarVectorSource::Next(ReplayEvent* event) {
  if (i_ >= bars_.size()) return false;
  event->time = bars_[i_].time();
  event->payload = bars_[i_++];
  return true;
}

Result<bool> TickVectorSource::Next(ReplayEvent* event) {
  if (i_ >= ticks_.size()) return false;
  event->time = ticks_[i_].time;
  event->payload = ticks_[i_++];
  return true;
}

TickCsvSource::TickCsvSource(std::istream& in, TimeZone tz, size_t max_line_bytes)
    : reader_(in, max_line_bytes), tz_(tz) {}

namespace {
std::string Norm(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '<' || c == '>' || c == ' ' || c == '_' || c == '"' || c == '\r') continue;
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return out;
}
void SplitSimple(std::string_view line, char sep, std::vector<std::string_view>* out) {
  out->clear();
  size_t i = 0;
  for (;;) {
    size_t n = line.find(sep, i);
    if (n == std::string_view::npos) {
      out->push_back(line.substr(i));
      return;
    }
    out->push_back(line.substr(i, n - i));
    i = n + 1;
  }
}
Status LineError(int64_t line, const std::string& msg) {
  return Status::InvalidArgument("line " + std::to_string(line) + ": " + msg,
                                 "line " + std::to_string(line));
}
}  // namespace

Status TickCsvSource::ReadHeader() {
  std::string_view line;
  if (!reader_.Next(&line)) {
    if (!reader_.status().ok()) return reader_.status();
    return Status::InvalidArgument("empty tick file", "line 1");
  }
  if (line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);
  for (char c : {',', '\t', ';'}) {
    if (line.find(c) != std::string_view::npos) {
      sep_ = c;
      break;
    }
  }
  std::vector<std::string_view> f;
  SplitSimple(line, sep_, &f);
  nfields_ = f.size();
  for (size_t i = 0; i < f.size(); ++i) {
    std::string n = Norm(f[i]);
    int idx = static_cast<int>(i);
    if (n == "time" || n == "datetime" || n == "timestamp")
      time_ = idx;
    else if (n == "date")
      date_ = idx;
    else if (n == "bid")
      bid_ = idx;
    else if (n == "ask")
      ask_ = idx;
    else if (n == "last" || n == "price")
      last_ = idx;
    else if (n == "volume" || n == "vol")
      volume_ = idx;
  }
  if (time_ < 0) return LineError(1, "tick file needs a 'time' column");
  if (bid_ < 0 && last_ < 0) return LineError(1, "tick file needs a 'bid' or 'last' column");
  header_done_ = true;
  return Status::Ok();
}

Result<bool> TickCsvSource::Next(ReplayEvent* event) {
  if (!header_done_) SINYAL_RETURN_IF_ERROR(ReadHeader());
  std::string_view line;
  do {
    if (!reader_.Next(&line)) {
      if (!reader_.status().ok()) return reader_.status();
      return false;
    }
  } while (line.empty());
  const int64_t ln = reader_.line_number();
  std::vector<std::string_view> f;
  SplitSimple(line, sep_, &f);
  if (f.size() != nfields_) {
    return LineError(
        ln, "expected " + std::to_string(nfields_) + " fields, found " + std::to_string(f.size()));
  }
  bool has_off = false;
  int off = 0;
  auto wall = date_ >= 0 ? ParseWallTime(f[date_], f[time_], DateFormat::kAuto, &has_off, &off)
                         : ParseWallTime(f[time_], {}, DateFormat::kAuto, &has_off, &off);
  if (!wall.ok()) return LineError(ln, wall.error().message());
  UnixNanos t;
  if (has_off) {
    t = *wall - off * kNanosPerMinute;
  } else {
    auto u = tz_.LocalToUtc(*wall);
    if (!u.ok()) return LineError(ln, u.error().message());
    t = *u;
  }
  Tick tick;
  tick.time = t;
  auto num = [&](int idx, double* out, const char* name) -> Status {
    if (idx < 0) return Status::Ok();
    std::string_view s = f[idx];
    char* end = nullptr;
    std::string tmp(s);
    *out = std::strtod(tmp.c_str(), &end);
    if (tmp.empty() || end != tmp.c_str() + tmp.size() || !std::isfinite(*out))
      return LineError(ln, std::string("column '") + name + "': '" + tmp.substr(0, 32) +
                               "' is not a finite number");
    return Status::Ok();
  };
  SINYAL_RETURN_IF_ERROR(num(bid_, &tick.bid, "bid"));
  SINYAL_RETURN_IF_ERROR(num(ask_, &tick.ask, "ask"));
  SINYAL_RETURN_IF_ERROR(num(last_, &tick.last, "last"));
  SINYAL_RETURN_IF_ERROR(num(volume_, &tick.volume, "volume"));
  prev_ = t;
  event->time = t;
  event->payload = tick;
  return true;
}

void ThreadSleeper::SleepUntil(int64_t monotonic_nanos) {
  int64_t now = clock_.MonotonicNanos();
  if (monotonic_nanos > now) {
    std::this_thread::sleep_for(std::chrono::nanoseconds(monotonic_nanos - now));
  }
}

void ManualClockSleeper::SleepUntil(int64_t monotonic_nanos) {
  waits_.push_back(monotonic_nanos);
  if (monotonic_nanos > clock_.MonotonicNanos()) clock_.Set(monotonic_nanos);
}

ReplaySink AggregatorSink(TickAggregator& aggregator) {
  return [&aggregator](const ReplayEvent& e) -> Status {
    if (const Tick* t = std::get_if<Tick>(&e.payload)) return aggregator.Add(*t);
    return aggregator.AddM1Bar(std::get<Bar>(e.payload));
  };
}

Result<ReplayStats> Replay(ReplaySource& source, const ReplaySink& sink, const Clock& clock,
                           Sleeper& sleeper, const ReplayOptions& options) {
  if (!(options.speed >= 0) || !std::isfinite(options.speed)) {
    return Status::InvalidArgument("speed must be a finite number >= 0", "speed");
  }
  ReplayStats stats;
  ReplayEvent ev;
  bool first = true;
  UnixNanos t0 = 0;
  int64_t start = clock.MonotonicNanos();
  for (;;) {
    if (options.cancel != nullptr && options.cancel->load(std::memory_order_relaxed)) {
      stats.cancelled = true;
      break;
    }
    if (options.max_events > 0 && stats.events >= options.max_events) break;
    SINYAL_ASSIGN_OR_RETURN(bool more, source.Next(&ev));
    if (!more) break;
    if (first) {
      t0 = ev.time;
      first = false;
    }
    if (options.speed > 0) {
      double offset = static_cast<double>(ev.time - t0) / options.speed;
      sleeper.SleepUntil(start + static_cast<int64_t>(offset));
    }
    Status s = sink(ev);
    ++stats.events;
    if (!s.ok()) {
      if (s.code() == StatusCode::kInternal || s.code() == StatusCode::kUnavailable ||
          s.code() == StatusCode::kDataLoss)
        return s;
      ++stats.rejected;
    }
  }
  return stats;
}

}  // namespace sinyal::market
