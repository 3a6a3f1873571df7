// When is a layout-aware kernel worth it? On a conv's output, BiT-like shapes, times SiLU and the
// next conv with SiLU's CPU kernel taking the blocked output as it is (what silu_cpu.cc does),
// against the path a plain-only kernel forces: a reorder to plain before SiLU, and one back to
// blocked in the next conv. docs/custom_ops.md quotes the result.
//
//   bazel run //examples/custom_op:layout_bench
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

#include "core/random.h"
#include "examples/custom_op/silu.h"
#include "ops/conv.h"
#include "ops/elementwise.h"

using bitgrad::Tensor;

namespace {

// Median milliseconds of `run` over `repeats` calls, after 3 warm-up calls.
double median_ms(const std::function<void()>& run, int repeats = 30) {
  for (int i = 0; i < 3; ++i) run();
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    auto start = std::chrono::steady_clock::now();
    run();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
  }
  std::nth_element(ms.begin(), ms.begin() + repeats / 2, ms.end());
  return ms[repeats / 2];
}

}  // namespace

int main() {
  bitgrad::Generator generator(0);
  std::printf("%-22s %12s %12s %8s\n", "x (N, C, H, W)", "blocked ms", "plain ms", "ratio");
  const std::vector<std::array<int64_t, 3>> shapes = {{8, 64, 56}, {8, 256, 14}, {32, 16, 32}};
  for (auto [n, c, hw] : shapes) {
    Tensor image = bitgrad::randn({n, c, hw, hw}, bitgrad::DType::kFloat32,
                                  bitgrad::Device::cpu(), generator);
    Tensor w = bitgrad::randn({c, c, 3, 3}, bitgrad::DType::kFloat32, bitgrad::Device::cpu(),
                              generator) * 0.05;
    bitgrad::Conv2dAttrs same{.padding = {1, 1}};
    Tensor x = bitgrad::conv2d(image, w, Tensor(), same);  // blocked where oneDNN blocks
    const double blocked =
        median_ms([&] { bitgrad::conv2d(custom_op::silu(x), w, Tensor(), same); });
    const double plain =  // both reorders timed: to plain here, back to blocked in the conv
        median_ms([&] { bitgrad::conv2d(custom_op::silu(x.to_plain()), w, Tensor(), same); });
    std::printf("(%lld, %lld, %lld, %lld) %-6s %12.3f %12.3f %7.2fx\n", (long long)n, (long long)c,
                (long long)hw, (long long)hw, x.is_plain() ? "plain" : "", blocked, plain,
                plain / blocked);
  }
  return 0;
}
