// A per-kernel time profile: while a Profiler is running, every call<Slot>() is timed, and
// report() prints where the time went, by slot and backend, most expensive first:
//
//   bitgrad::Profiler profiler;
//   profiler.start();
//   ...train a few steps...
//   profiler.stop();
//   std::cout << profiler.report();
//
// Times are exclusive (a kernel that calls another slot is not charged for it) and wall-clock:
// for GPU kernels, which return before the device finishes, synchronize to get device times.
// Each kernel's process CPU time is kept too; the report's "cores" column, CPU time over wall
// time, says how many cores it kept busy. OpenMP threads spin while they wait, which counts as
// busy: run with OMP_WAIT_POLICY=passive to see a kernel's idle threads.
// When no profiler runs, the cost in call<>() is one branch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bitgrad {

struct KernelTime {
  std::string slot;
  std::string backend;
  int64_t calls = 0;
  double seconds = 0;      // exclusive wall time
  double cpu_seconds = 0;  // exclusive CPU time of the whole process (all threads)
};

// One kernel call, in the order the calls began (examples/tour prints them).
struct KernelCall {
  std::string slot;
  std::string backend;
  int depth = 0;        // 0: called from outside any kernel; 1: from inside one; ...
  double seconds = 0;   // inclusive wall time
};

class Profiler {
 public:
  // Clears earlier results; one profiler runs at a time (per process). With record_calls, every
  // call is also kept, in order (memory grows with the calls: for a step or two, not a run).
  void start(bool record_calls = false);
  void stop();
  std::vector<KernelTime> results() const;  // most expensive first
  std::string report() const;               // a table with calls, ms, ms/call, % of total
  const std::vector<KernelCall>& calls() const { return calls_; }

 private:
  std::vector<KernelTime> results_;
  std::vector<KernelCall> calls_;
};

namespace detail {

extern bool profiler_running;

// Times one kernel call (constructed only while a profiler runs).
class KernelTimer {
 public:
  KernelTimer(const char* slot, const char* backend);
  ~KernelTimer();
  KernelTimer(const KernelTimer&) = delete;
  KernelTimer& operator=(const KernelTimer&) = delete;

 private:
  const char* slot_;
  const char* backend_;
  int64_t start_ns_, start_cpu_ns_;
  int64_t child_ns_ = 0, child_cpu_ns_ = 0;
  KernelTimer* parent_;
  int64_t call_index_ = -1;  // in the recorded calls, when recording
};

}  // namespace detail
}  // namespace bitgrad
