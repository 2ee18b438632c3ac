// Replay: plays an M1 bar file or a tick file into a sink (normally a TickAggregator) at a
// chosen speed. Source, sink, clock and sleeping are injected, so tests run on a ManualClock and
// the HTTP layer can plug in a network source or sink later.
//
// Pacing: event i is released at start + (time_i - time_0) / speed on Clock::MonotonicNanos();
// speed 0 releases everything at once. Sink errors of client kind (late or invalid ticks) are
// counted and the replay goes on; a server-kind error (kInternal, kUnavailable, kDataLoss) stops
// it and is returned.
//
// Thread safety: Replay runs on the caller's thread; `cancel` may be set from another thread.
#pragma once

#include <atomic>
#include <functional>
#include <istream>
#include <memory>
#include <span>
#include <variant>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "core/time.h"
#include "market/bar.h"
#include "market/line_reader.h"
#include "market/tick_aggregator.h"

namespace sinyal::market {

struct ReplayEvent {
  UnixNanos time = 0;
  std::variant<Tick, Bar> payload;
};

class ReplaySource {
 public:
  virtual ~ReplaySource() = default;
  // Fills *event and returns true; false at the end. Errors stop the replay.
  [[nodiscard]] virtual Result<bool> Next(ReplayEvent* event) = 0;
};

// Bars already imported (e.g. ImportBarsCsvFile of an M1 file). Holds a copy.
class BarVectorSource final : public ReplaySource {
 public:
  explicit BarVectorSource(std::vector<Bar> bars) : bars_(std::move(bars)) {}
  Result<bool> Next(ReplayEvent* event) override;

 private:
  std::vector<Bar> bars_;
  size_t i_ = 0;
};

class TickVectorSource final : public ReplaySource {
 public:
  explicit TickVectorSource(std::vector<Tick> ticks) : ticks_(std::move(ticks)) {}
  Result<bool> Next(ReplayEvent* event) override;

 private:
  std::vector<Tick> ticks_;
  size_t i_ = 0;
};

// Streams a tick CSV: header with "time" (or "date" and "time"), "bid", optional "ask", "last",
// "volume"; separator ',', tab or ';'; time as "YYYY.MM.DD HH:MM:SS[.fff]", ISO, or Unix
// seconds / milliseconds, read in `tz` and converted to UTC. Bad lines fail with their number.
class TickCsvSource final : public ReplaySource {
 public:
  // `in` must outlive the source.
  TickCsvSource(std::istream& in, TimeZone tz, size_t max_line_bytes = 4096);
  Result<bool> Next(ReplayEvent* event) override;

 private:
  Status ReadHeader();
  LineReader reader_;
  TimeZone tz_;
  bool header_done_ = false;
  char sep_ = ',';
  int time_ = -1, date_ = -1, bid_ = -1, ask_ = -1, last_ = -1, volume_ = -1;
  size_t nfields_ = 0;
  UnixNanos prev_ = INT64_MIN;
};

// Waits until a monotonic time. Injected so tests do not sleep.
class Sleeper {
 public:
  virtual ~Sleeper() = default;
  virtual void SleepUntil(int64_t monotonic_nanos) = 0;
};
// Really sleeps (std::this_thread), measuring with the given clock.
class ThreadSleeper final : public Sleeper {
 public:
  explicit ThreadSleeper(const Clock& clock) : clock_(clock) {}
  void SleepUntil(int64_t monotonic_nanos) override;

 private:
  const Clock& clock_;
};
// Advances a ManualClock instead of sleeping; records the waits (tests).
class ManualClockSleeper final : public Sleeper {
 public:
  explicit ManualClockSleeper(ManualClock& clock) : clock_(clock) {}
  void SleepUntil(int64_t monotonic_nanos) override;
  const std::vector<int64_t>& waits() const { return waits_; }

 private:
  ManualClock& clock_;
  std::vector<int64_t> waits_;
};

struct ReplayOptions {
  double speed = 1.0;      // Default real time; 60 = a minute per second; 0 = no pacing.
  int64_t max_events = 0;  // Default 0 = all.
  const std::atomic<bool>* cancel = nullptr;  // Optional: stop when set.
};

struct ReplayStats {
  int64_t events = 0;
  int64_t rejected = 0;  // sink returned a client error (late, invalid)
  bool cancelled = false;
};

using ReplaySink = std::function<Status(const ReplayEvent&)>;

// Feeds ticks with Add() and bars with AddM1Bar().
ReplaySink AggregatorSink(TickAggregator& aggregator);

[[nodiscard]] Result<ReplayStats> Replay(ReplaySource& source, const ReplaySink& sink,
                                         const Clock& clock, Sleeper& sleeper,
                                         const ReplayOptions& options);

}  // namespace sinyal::market
