// permute and cat: the kCpu kernels (ops/cpu/shape_ops, strided copies with memcpy of contiguous
// runs) against the reference kernels (element loops), forward only: permute's backward is a
// permute. Best of 7 calls each.
//
//   bazel run //tools/bench/kernels:shape_ops_bench [-- --cpu_time]
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "core/dispatch.h"
#include "core/random.h"
#include "ops/shape_ops.h"
#include "tools/bench/bench_clock.h"

ABSL_FLAG(bool, cpu_time, false,
          "report process CPU time divided by the thread count instead of wall time");

namespace bitgrad {
namespace {

using bench::now_ms;
using bench::use_cpu_time;

double best_ms(Backend backend, const std::function<Tensor()>& op) {
  BackendOverride use(backend);
  double best = 1e30;
  for (int rep = 0; rep < 7; ++rep) {
    const double start = now_ms();
    op();
    best = std::min(best, now_ms() - start);
  }
  return best;
}

int run() {
  Tensor nchw = randn({16, 64, 56, 56});
  Tensor square = randn({2048, 2048});
  Tensor rows = randn({64, 128, 512});
  Tensor half = randn({16, 128, 28, 28});
  Tensor seven = randn({65536, 7}), nine = randn({65536, 9});
  struct Case {
    std::string name;
    std::function<Tensor()> op;
  };
  const std::vector<Case> cases = {
      {"permute (16,64,56,56) NCHW->NHWC", [&] { return permute(nchw, {0, 2, 3, 1}); }},
      {"transpose (2048,2048)", [&] { return transpose(square, 0, 1); }},
      {"permute (64,128,512) {1,0,2}", [&] { return permute(rows, {1, 0, 2}); }},
      {"cat 2x (16,128,28,28) dim 1", [&] { return cat({half, half}, 1); }},
      {"cat (65536,7) + (65536,9) dim 1", [&] { return cat({seven, nine}, 1); }},
  };
  std::printf("float32, %d threads, %s\n", omp_get_max_threads(),
              use_cpu_time ? "CPU time / threads" : "wall time");
  std::printf("%-42s %10s %10s %8s\n", "case", "cpu ms", "ref ms", "ref/cpu");
  for (const Case& c : cases) {
    const double cpu = best_ms(Backend::kCpu, c.op), ref = best_ms(Backend::kRef, c.op);
    std::printf("%-42s %10.2f %10.2f %7.1fx\n", c.name.c_str(), cpu, ref, ref / cpu);
  }
  return 0;
}

}  // namespace
}  // namespace bitgrad

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("shape_ops_bench [--cpu_time]");
  absl::ParseCommandLine(argc, argv);
  bitgrad::bench::use_cpu_time = absl::GetFlag(FLAGS_cpu_time);
  return bitgrad::run();
}
