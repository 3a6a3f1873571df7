#include "train/cpu_contention.h"

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace bitgrad {
namespace {

std::vector<int> cpus_this_process_may_use() {
  std::vector<int> cpus;
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &allowed)) cpus.push_back(cpu);
  }
  return cpus;
}

double seconds_of(const timeval& time) { return time.tv_sec + time.tv_usec * 1e-6; }

}  // namespace

std::optional<double> busy_seconds_of(absl::string_view proc_stat, const std::vector<int>& cpus,
                                      double ticks_per_second) {
  double ticks = 0;
  size_t found = 0;
  for (absl::string_view line : absl::StrSplit(proc_stat, '\n')) {
    // "cpuN user nice system idle iowait irq softirq steal guest guest_nice"
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    int cpu = -1;
    if (fields.size() < 9 || fields[0].substr(0, 3) != "cpu" ||
        !absl::SimpleAtoi(fields[0].substr(3), &cpu) ||
        std::find(cpus.begin(), cpus.end(), cpu) == cpus.end()) {
      continue;
    }
    // Not irq and softirq: the interrupts of this process's own I/O are not in its rusage.
    for (int busy : {1, 2, 3, 8}) {  // user nice system, steal
      double value = 0;
      if (!absl::SimpleAtod(fields[busy], &value)) return std::nullopt;
      ticks += value;
    }
    ++found;
  }
  if (found != cpus.size() || cpus.empty()) return std::nullopt;
  return ticks / ticks_per_second;
}

std::string contention_note(double others, int threads, int cores) {
  if (threads > cores && threads >= 2) {
    return absl::StrFormat(
        "this run computes with %d threads on the %d cores it may use: threads that wait for a "
        "core at each barrier can make it 10 or more times slower (its images/s and ETA with "
        "it). Set OMP_NUM_THREADS to at most %d (docs/performance.md, \"Threads\")",
        threads, cores, cores);
  }
  // Half a core of others' work already stalls a thread that needs it at every barrier.
  if (threads < 2 || others < 0.5 || cores - others >= threads) return "";
  return absl::StrFormat(
      "other work used %.1f of the %d cores this run's %d threads compute on: threads that wait "
      "for a core at each barrier can make it 10 or more times slower than alone (its images/s "
      "and ETA with it). Run it when they are free, or with OMP_NUM_THREADS at most the free "
      "cores (docs/performance.md, \"Threads\")",
      others, cores, threads);
}

CpuContentionWatch::CpuContentionWatch(int threads, double every_seconds)
    : threads_(threads), every_seconds_(every_seconds), cpus_(cpus_this_process_may_use()) {
  last_ = sample();
}

std::optional<CpuContentionWatch::Sample> CpuContentionWatch::sample() const {
  std::ifstream in("/proc/stat");
  std::stringstream text;
  text << in.rdbuf();
  const std::optional<double> busy =
      busy_seconds_of(text.str(), cpus_, static_cast<double>(sysconf(_SC_CLK_TCK)));
  rusage own;
  if (!busy || getrusage(RUSAGE_SELF, &own) != 0) return std::nullopt;
  return Sample{std::chrono::steady_clock::now(), *busy,
                seconds_of(own.ru_utime) + seconds_of(own.ru_stime)};
}

std::string CpuContentionWatch::poll() {
  if (noted_ || !last_) return "";
  const auto now = std::chrono::steady_clock::now();
  const double wall = std::chrono::duration<double>(now - last_->when).count();
  if (wall < every_seconds_) return "";
  const std::optional<Sample> current = sample();
  if (!current) return "";
  const double busy = current->busy_seconds - last_->busy_seconds;
  const double own = current->own_seconds - last_->own_seconds;
  const double others = (busy - own) / wall;
  last_ = current;
  std::string note = contention_note(others, threads_, static_cast<int>(cpus_.size()));
  noted_ = !note.empty();
  return note;
}

}  // namespace bitgrad
