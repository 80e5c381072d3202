#include "minetrace/base/clock.h"

namespace minetrace {

int64_t SystemClock::NowUnixMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::chrono::steady_clock::time_point SystemClock::NowSteady() const {
  return std::chrono::steady_clock::now();
}

}  // namespace minetrace
