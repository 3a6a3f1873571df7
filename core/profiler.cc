#include "core/profiler.h"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <utility>

#include "core/check.h"

namespace bitgrad {
namespace detail {

bool profiler_running = false;

namespace {

struct Totals {
  int64_t calls = 0;
  int64_t ns = 0, cpu_ns = 0;
};

std::mutex& totals_mutex() {
  static std::mutex mutex;
  return mutex;
}

std::map<std::pair<std::string, std::string>, Totals>& totals() {
  static auto* table = new std::map<std::pair<std::string, std::string>, Totals>();
  return *table;
}

thread_local KernelTimer* innermost = nullptr;
bool recording_calls = false;

std::vector<KernelCall>& recorded_calls() {  // guarded by totals_mutex()
  static auto* calls = new std::vector<KernelCall>();
  return *calls;
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t process_cpu_ns() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

}  // namespace

KernelTimer::KernelTimer(const char* slot, const char* backend)
    : slot_(slot),
      backend_(backend),
      start_ns_(now_ns()),
      start_cpu_ns_(process_cpu_ns()),
      parent_(innermost) {
  innermost = this;
  if (recording_calls) {
    int depth = 0;
    for (const KernelTimer* outer = parent_; outer != nullptr; outer = outer->parent_) ++depth;
    std::lock_guard<std::mutex> lock(totals_mutex());
    call_index_ = static_cast<int64_t>(recorded_calls().size());
    recorded_calls().push_back({slot, backend, depth, 0.0});
  }
}

KernelTimer::~KernelTimer() {
  const int64_t elapsed = now_ns() - start_ns_, cpu = process_cpu_ns() - start_cpu_ns_;
  innermost = parent_;
  if (parent_ != nullptr) {
    parent_->child_ns_ += elapsed;
    parent_->child_cpu_ns_ += cpu;
  }
  std::lock_guard<std::mutex> lock(totals_mutex());
  Totals& t = totals()[{slot_, backend_}];
  t.calls += 1;
  t.ns += elapsed - child_ns_;
  t.cpu_ns += cpu - child_cpu_ns_;
  if (call_index_ >= 0) recorded_calls()[call_index_].seconds = elapsed * 1e-9;
}

}  // namespace detail

void Profiler::start(bool record_calls) {
  BG_CHECK(!detail::profiler_running, "Profiler::start: a profiler is already running");
  std::lock_guard<std::mutex> lock(detail::totals_mutex());
  detail::totals().clear();
  detail::recorded_calls().clear();
  detail::recording_calls = record_calls;
  results_.clear();
  calls_.clear();
  detail::profiler_running = true;
}

void Profiler::stop() {
  detail::profiler_running = false;
  std::lock_guard<std::mutex> lock(detail::totals_mutex());
  detail::recording_calls = false;
  calls_.swap(detail::recorded_calls());
  results_.clear();
  for (const auto& [key, totals] : detail::totals()) {
    results_.push_back(
        {key.first, key.second, totals.calls, totals.ns * 1e-9, totals.cpu_ns * 1e-9});
  }
  std::sort(results_.begin(), results_.end(),
            [](const KernelTime& a, const KernelTime& b) { return a.seconds > b.seconds; });
}

std::vector<KernelTime> Profiler::results() const { return results_; }

std::string Profiler::report() const {
  double total = 0, total_cpu = 0;
  for (const KernelTime& k : results_) {
    total += k.seconds;
    total_cpu += k.cpu_seconds;
  }
  auto cores = [](double cpu, double wall) { return wall > 0 ? cpu / wall : 0.0; };
  std::string out =
      "kernel                     backend   calls    total ms   ms/call      %  cores\n";
  char line[160];
  for (const KernelTime& k : results_) {
    std::snprintf(line, sizeof line, "%-26s %-7s %7lld %11.2f %9.3f %6.1f %6.2f\n",
                  k.slot.c_str(), k.backend.c_str(), static_cast<long long>(k.calls),
                  k.seconds * 1e3, k.seconds * 1e3 / std::max<int64_t>(k.calls, 1),
                  total > 0 ? 100 * k.seconds / total : 0.0, cores(k.cpu_seconds, k.seconds));
    out += line;
  }
  std::snprintf(line, sizeof line, "%-26s %-7s %7s %11.2f %9s %6s %6.2f\n", "total (in kernels)",
                "", "", total * 1e3, "", "", cores(total_cpu, total));
  return out + line;
}

}  // namespace bitgrad
