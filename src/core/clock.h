// Clock: the only source of "now" in domain code (nautilus TestClock, leveldb Env).
// Pass a Clock& into constructors; tests and the backtest use ManualClock.
#pragma once

#include <atomic>
#include <cstdint>

namespace sinyal {

// Nanoseconds since the Unix epoch, UTC. The one time representation of the domain.
using UnixNanos = int64_t;

constexpr int64_t kNanosPerSecond = 1'000'000'000;
constexpr int64_t kNanosPerMinute = 60 * kNanosPerSecond;
constexpr int64_t kNanosPerHour = 60 * kNanosPerMinute;
constexpr int64_t kNanosPerDay = 24 * kNanosPerHour;

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, UTC. Thread-safe.
  virtual UnixNanos Now() const = 0;
  // Monotonic time for measuring durations; unrelated to the wall clock. Thread-safe.
  virtual int64_t MonotonicNanos() const = 0;
};

// The real clock. Thread-safe; stateless.
class SystemClock final : public Clock {
 public:
  UnixNanos Now() const override;
  int64_t MonotonicNanos() const override;
  // A process-wide instance (stateless, so sharing it is not a hidden dependency).
  static SystemClock& Instance();
};

// A clock that moves only when told. Thread-safe (atomic).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(UnixNanos start = 0) : now_(start) {}
  UnixNanos Now() const override { return now_.load(std::memory_order_relaxed); }
  int64_t MonotonicNanos() const override { return Now(); }
  void Set(UnixNanos t) { now_.store(t, std::memory_order_relaxed); }
  void Advance(int64_t nanos) { now_.fetch_add(nanos, std::memory_order_relaxed); }

 private:
  std::atomic<UnixNanos> now_;
};

}  // namespace sinyal
