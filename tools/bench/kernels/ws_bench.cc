// Weight Standardization forward + backward over every conv weight of BiT-R50 (53 kernels,
// 23.5M weights at R50x1's root width of 64, 0.37M at bit_finetune's default of 8), once per
// training step. Compares the kCpu kernels with the reference kernels.
//
//   bazel run //tools/bench/kernels:ws_bench [-- --cpu_time] [--base_width=8]
//   python3 tools/bench/kernels/ws_torch_bench.py   # BiT's StdConv2d standardization in PyTorch
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "core/dispatch.h"
#include "core/random.h"
#include "ops/elementwise.h"
#include "ops/norm.h"
#include "tools/bench/bench_clock.h"

ABSL_FLAG(int64_t, base_width, 64,
          "the root width: 64 is BiT-R50x1, 8 the model of bit_finetune's default");
ABSL_FLAG(bool, cpu_time, false,
          "report process CPU time divided by the thread count instead of wall time");

namespace bitgrad {
namespace {

using bench::now_ms;
using bench::use_cpu_time;

// OIHW shapes of BiT-R50's convolutions: the 7x7 root, then per bottleneck block 1x1, 3x3, 1x1
// and, in each stage's first block, the 1x1 projection.
std::vector<Shape> bit_r50_weights(int64_t base_width) {
  std::vector<Shape> shapes{{base_width, 3, 7, 7}};
  int64_t in = base_width;
  const int64_t blocks[] = {3, 4, 6, 3};
  for (int stage = 0; stage < 4; ++stage) {
    const int64_t mid = base_width << stage, out = 4 * mid;
    for (int64_t b = 0; b < blocks[stage]; ++b) {
      if (b == 0) shapes.push_back({out, in, 1, 1});
      shapes.push_back({mid, b == 0 ? in : out, 1, 1});
      shapes.push_back({mid, mid, 3, 3});
      shapes.push_back({out, mid, 1, 1});
    }
    in = out;
  }
  return shapes;
}

double best_step_ms(Backend backend, const std::vector<Tensor>& weights,
                    const std::vector<Tensor>& grads) {
  BackendOverride use(backend);
  double best = 1e30;
  for (int rep = 0; rep < 7; ++rep) {
    const double start = now_ms();
    for (size_t i = 0; i < weights.size(); ++i) {
      call<WeightStandardizeFwd>(weights[i], 1e-10);
      call<WeightStandardizeBwd>(grads[i], weights[i], 1e-10);
    }
    best = std::min(best, now_ms() - start);
  }
  return best;
}

int run() {
  std::vector<Tensor> weights, grads;
  int64_t total = 0;
  for (const Shape& shape : bit_r50_weights(absl::GetFlag(FLAGS_base_width))) {
    weights.push_back(randn(shape) * 0.05);
    grads.push_back(randn(shape));
    total += shape.numel();
  }
  std::printf("WS fwd+bwd over BiT-R50's %zu conv weights (%.1fM values), %d threads, %s\n",
              weights.size(), total / 1e6, omp_get_max_threads(),
              use_cpu_time ? "CPU time / threads" : "wall time");
  std::printf("cpu kernels %8.2f ms\n", best_step_ms(Backend::kCpu, weights, grads));
  std::printf("ref kernels %8.2f ms\n", best_step_ms(Backend::kRef, weights, grads));
  return 0;
}

}  // namespace
}  // namespace bitgrad

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("ws_bench [--cpu_time] [--base_width=N]");
  absl::ParseCommandLine(argc, argv);
  if (const int64_t width = absl::GetFlag(FLAGS_base_width); width < 1 || width > 1024) {
    std::fprintf(stderr, "ws_bench: --base_width=%lld must be from 1 to 1024\n",
                 static_cast<long long>(width));
    return 2;
  }
  bitgrad::bench::use_cpu_time = absl::GetFlag(FLAGS_cpu_time);
  return bitgrad::run();
}
