// The benchmarks' clock: wall time, or (kernel microbenchmarks, --cpu_time) the process's CPU
// time divided by the thread count. On a machine shared with other jobs, a run measured in CPU
// time is not inflated by time slicing.
#pragma once

#include <omp.h>

#include <chrono>
#include <ctime>

namespace bitgrad::bench {

inline bool use_cpu_time = false;  // set from --cpu_time

inline double now_ms() {
  if (use_cpu_time) {
    timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (t.tv_sec * 1e3 + t.tv_nsec * 1e-6) / omp_get_max_threads();
  }
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace bitgrad::bench
