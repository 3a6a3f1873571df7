// Whether other work takes the cores a run's threads need. Two OpenMP threads on two cores that
// something else also wants wait on each other at every barrier, spinning (libgomp's barriers and
// oneDNN's own), so a run goes many times slower than the share it gives up: 4 to 30 times
// beside one busy loop (docs/performance.md, "Threads: never more than the cores"). A run says
// so once, rather than leaving its images/s and ETA to explain it. The CPUs it may use are the
// main thread's (sched_getaffinity): under OMP_PROC_BIND, which pins that thread to one, it
// would see other work only there.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace bitgrad {

// CPU time spent on the CPUs in `cpus` (user, nice, system and steal: not idle, iowait or
// interrupts), from the text of /proc/stat; nullopt when a CPU's line is missing or malformed.
std::optional<double> busy_seconds_of(absl::string_view proc_stat, const std::vector<int>& cpus,
                                      double ticks_per_second);

// The note for a process whose `threads` compute on `cores` CPUs, of which the rest of the
// machine used `others` on average; "" when the threads had the cores they need. More threads
// than cores get a note of their own.
std::string contention_note(double others, int threads, int cores);

class CpuContentionWatch {
 public:
  // For a process computing with `threads` threads on the CPUs it may run on.
  explicit CpuContentionWatch(int threads, double every_seconds = 10.0);

  // Call often (after each update): every `every_seconds` it measures what the rest of the
  // machine used of this process's CPUs since the last time; the first time that leaves fewer
  // cores than its threads, returns the note to print. "" otherwise, and ever after.
  std::string poll();

 private:
  struct Sample {
    std::chrono::steady_clock::time_point when;
    double busy_seconds;  // all processes', on `cpus_`
    double own_seconds;   // this process's
  };
  std::optional<Sample> sample() const;

  int threads_;
  double every_seconds_;
  std::vector<int> cpus_;
  std::optional<Sample> last_;
  bool noted_ = false;
};

}  // namespace bitgrad
