// GroupNorm(32) + ReLU forward and backward on the CPU kernels, at BiT-R50's activation shapes
// for 128x128 inputs and batch 16: N = 16, C in {256, 512, 1024}, H = W in {32, 16, 8}.
// Times the plain NCHW path (block 1) and oneDNN's nChw8c (block 8) through the raw entry
// points, the registered kCpu kernel on tensors, and, with --portable, the non-AVX2 path.
//
//   bazel run //tools/bench/kernels:gn_bench [-- --portable --cpu_time]
//   bazel run //tools/bench/kernels:gn_bench -- --narrow   # bit_finetune's default's shapes
//   python3 tools/bench/kernels/gn_torch_bench.py   # the PyTorch baseline, same shapes
//
// GB/s counts compulsory traffic only: forward reads x and writes y; backward reads dy and x and
// writes dx. Times are the best of repeated runs after a warm-up. --cpu_time reports the
// process's CPU time divided by the thread count instead of wall time: on a machine shared with
// other jobs, a single-threaded run measured this way is not inflated by time slicing.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "core/dispatch.h"
#include "core/random.h"
#include "ops/cpu/common/cpu_isa.h"
#include "ops/cpu/conv/direct.h"
#include "ops/cpu/norm/group_norm_kernel.h"
#include "ops/norm.h"
#include "tools/bench/bench_clock.h"

ABSL_FLAG(bool, portable, false, "also time the portable (non-AVX2) kernels");
ABSL_FLAG(bool, narrow, false,
          "bit_finetune's default experiment's shapes instead: N = 64, 4 groups, C from 8 to 256 "
          "at 8x8 down to 1x1 (base width 8, 32x32 inputs), in the active ISA's channel blocks");
ABSL_FLAG(bool, cpu_time, false,
          "report process CPU time divided by the thread count instead of wall time");

namespace bitgrad {
namespace {

using bench::now_ms;
using bench::use_cpu_time;

// The fastest of several repetitions: on a machine shared with other jobs the minimum is the
// most repeatable statistic.
double best_ms(const std::function<void()>& fn) {
  fn();  // warm-up: page faults, caches
  fn();
  std::vector<double> times;
  double total = 0;
  while (times.size() < 5 || (total < 400.0 && times.size() < 200)) {
    const double start = now_ms();
    fn();
    const double ms = now_ms() - start;
    times.push_back(ms);
    total += ms;
  }
  return *std::min_element(times.begin(), times.end());
}

struct Timing {
  double fwd_ms, bwd_ms;
};

Timing time_raw(const cpu::ChannelBlockedShape& shape, const GroupNormAttrs& attrs) {
  const size_t size = shape.padded_numel();
  Generator gen(1);
  std::vector<float> x(size), dy(size), y(size), dx(size);
  for (size_t i = 0; i < size; ++i) {
    x[i] = static_cast<float>(gen.normal());
    dy[i] = static_cast<float>(gen.normal());
  }
  std::vector<float> gamma(shape.channels, 1.0f), beta(shape.channels, 0.1f);
  std::vector<float> dgamma(shape.channels), dbeta(shape.channels);
  std::vector<float> mean(shape.batch * attrs.groups), rstd(shape.batch * attrs.groups);
  Timing t;
  t.fwd_ms = best_ms([&] {
    cpu::group_norm_fwd_blocked<float>(shape, attrs, x.data(), gamma.data(), beta.data(), y.data(),
                                       mean.data(), rstd.data());
  });
  t.bwd_ms = best_ms([&] {
    cpu::group_norm_bwd_blocked<float>(shape, attrs, dy.data(), x.data(), gamma.data(),
                                       beta.data(), mean.data(), rstd.data(), nullptr, dx.data(),
                                       dgamma.data(), dbeta.data());
  });
  return t;
}

// Through call<>: includes the output allocations (the CPU allocator caches exact sizes).
Timing time_tensors(int64_t n, int64_t c, int64_t hw, const GroupNormAttrs& attrs) {
  BackendOverride use(Backend::kCpu);
  Tensor x = randn({n, c, hw, hw}), dy = randn({n, c, hw, hw});
  Tensor gamma = ones({c}), beta = zeros({c});
  GroupNormResult fwd;
  Timing t;
  t.fwd_ms = best_ms([&] { fwd = call<GroupNormFwd>(x, gamma, beta, attrs); });
  t.bwd_ms = best_ms(
      [&] { call<GroupNormBwd>(dy, x, gamma, beta, fwd.mean, fwd.rstd, Tensor(), attrs); });
  return t;
}

void print_row(const char* path, int64_t n, int64_t c, int64_t hw, const Timing& t) {
  const double mb = n * c * hw * hw * 4.0 / 1e6;  // one tensor, MB
  std::printf(
      "%-14s C=%4lld %2lldx%-2lld  %6.1f MB  fwd %7.3f ms %6.1f GB/s   bwd %7.3f ms %6.1f GB/s\n",
      path, static_cast<long long>(c), static_cast<long long>(hw), static_cast<long long>(hw), mb,
      t.fwd_ms, 2 * mb / t.fwd_ms, t.bwd_ms, 3 * mb / t.bwd_ms);
}

// The default experiment's GroupNorms: each block's widths at its map size (docs/performance.md,
// "The main job's model"), where a call is tens of microseconds and its fixed costs show.
int run_narrow() {
  GroupNormAttrs attrs;
  attrs.groups = 4;
  attrs.relu = true;
  const int64_t n = 64, block = onednn::activation_channel_block();
  std::printf("GroupNorm(4)+ReLU float32, N=%lld, nChw%lldc, %d OpenMP threads, ISA %s, %s\n",
              static_cast<long long>(n), static_cast<long long>(block), omp_get_max_threads(),
              cpu::cpu_isa_name(cpu::active_cpu_isa()),
              use_cpu_time ? "CPU time / threads" : "wall time");
  const std::pair<int64_t, int64_t> shapes[] = {{8, 8},  {32, 8},  {16, 4}, {64, 4},
                                                {32, 2}, {128, 2}, {64, 1}, {256, 1}};
  for (auto [c, hw] : shapes) {
    print_row("blocked (raw)", n, c, hw, time_raw({n, c, hw * hw, block}, attrs));
  }
  return 0;
}

int run(bool with_portable) {
  GroupNormAttrs attrs;  // 32 groups
  attrs.relu = true;
  const int64_t n = 16;
  std::printf("GroupNorm(32)+ReLU float32, N=%lld, %d OpenMP threads, ISA %s, %s\n",
              static_cast<long long>(n), omp_get_max_threads(),
              cpu::cpu_isa_name(cpu::active_cpu_isa()),
              use_cpu_time ? "CPU time / threads" : "wall time");
  for (int64_t c : {256, 512, 1024}) {
    for (int64_t hw : {32, 16, 8}) {
      print_row("plain (raw)", n, c, hw, time_raw({n, c, hw * hw, 1}, attrs));
      print_row("nChw8c (raw)", n, c, hw, time_raw({n, c, hw * hw, 8}, attrs));
      print_row("plain tensors", n, c, hw, time_tensors(n, c, hw, attrs));
      if (with_portable) {
        cpu::ScopedCpuIsaCap cap(cpu::CpuIsa::kPortable);
        print_row("plain portable", n, c, hw, time_raw({n, c, hw * hw, 1}, attrs));
        print_row("8c portable", n, c, hw, time_raw({n, c, hw * hw, 8}, attrs));
      }
    }
  }
  return 0;
}

}  // namespace
}  // namespace bitgrad

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("gn_bench [--portable] [--cpu_time]");
  absl::ParseCommandLine(argc, argv);
  bitgrad::bench::use_cpu_time = absl::GetFlag(FLAGS_cpu_time);
  if (absl::GetFlag(FLAGS_narrow)) return bitgrad::run_narrow();
  return bitgrad::run(absl::GetFlag(FLAGS_portable));
}
