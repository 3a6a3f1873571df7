// Wall-clock seconds, for progress lines and the timings runs report.
#pragma once

#include <chrono>

namespace bitgrad {

using SteadyClock = std::chrono::steady_clock;

// Seconds from `start` to now.
inline double seconds_since(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

}  // namespace bitgrad
