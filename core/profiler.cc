#include "core/profiler.h"

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
  int64_t ns = 0;
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

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

KernelTimer::KernelTimer(const char* slot, const char* backend)
    : slot_(slot), backend_(backend), start_ns_(now_ns()), parent_(innermost) {
  innermost = this;
}

KernelTimer::~KernelTimer() {
  int64_t elapsed = now_ns() - start_ns_;
  innermost = parent_;
  if (parent_ != nullptr) parent_->child_ns_ += elapsed;
  std::lock_guard<std::mutex> lock(totals_mutex());
  Totals& t = totals()[{slot_, backend_}];
  t.calls += 1;
  t.ns += elapsed - child_ns_;
}

}  // namespace detail

void Profiler::start() {
  BG_CHECK(!detail::profiler_running, "Profiler::start: a profiler is already running");
  std::lock_guard<std::mutex> lock(detail::totals_mutex());
  detail::totals().clear();
  results_.clear();
  detail::profiler_running = true;
}

void Profiler::stop() {
  detail::profiler_running = false;
  std::lock_guard<std::mutex> lock(detail::totals_mutex());
  results_.clear();
  for (const auto& [key, totals] : detail::totals()) {
    results_.push_back({key.first, key.second, totals.calls, totals.ns * 1e-9});
  }
  std::sort(results_.begin(), results_.end(),
            [](const KernelTime& a, const KernelTime& b) { return a.seconds > b.seconds; });
}

std::vector<KernelTime> Profiler::results() const { return results_; }

std::string Profiler::report() const {
  double total = 0;
  for (const KernelTime& k : results_) total += k.seconds;
  std::string out = "kernel                     backend   calls    total ms   ms/call      %\n";
  char line[160];
  for (const KernelTime& k : results_) {
    std::snprintf(line, sizeof line, "%-26s %-7s %7lld %11.2f %9.3f %6.1f\n", k.slot.c_str(),
                  k.backend.c_str(), static_cast<long long>(k.calls), k.seconds * 1e3,
                  k.seconds * 1e3 / std::max<int64_t>(k.calls, 1),
                  total > 0 ? 100 * k.seconds / total : 0.0);
    out += line;
  }
  std::snprintf(line, sizeof line, "%-26s %-7s %7s %11.2f\n", "total (in kernels)", "", "",
                total * 1e3);
  return out + line;
}

}  // namespace bitgrad
