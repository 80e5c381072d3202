// Clock is how time enters minetrace code: libraries take a Clock& (or receive times in
// events) and never read the system clock themselves, so tests and the simulator control
// time. SystemClock is the one real implementation; ManualClock is for tests.
// Thread-safety: SystemClock is; ManualClock is not.
#pragma once

#include <chrono>
#include <cstdint>

namespace minetrace {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch (wall time; used for block and device times).
  virtual int64_t NowUnixMs() const = 0;
  // Monotonic time for timeouts.
  virtual std::chrono::steady_clock::time_point NowSteady() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowUnixMs() const override;
  std::chrono::steady_clock::time_point NowSteady() const override;
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t unix_ms) : unix_ms_(unix_ms) {}
  int64_t NowUnixMs() const override { return unix_ms_; }
  std::chrono::steady_clock::time_point NowSteady() const override {
    return std::chrono::steady_clock::time_point(std::chrono::milliseconds(unix_ms_));
  }
  void Advance(std::chrono::milliseconds d) { unix_ms_ += d.count(); }

 private:
  int64_t unix_ms_ = 0;
};

}  // namespace minetrace
