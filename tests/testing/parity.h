// Backend parity: runs one computation on a fast backend (the CPU's oneDNN and hand-written
// kernels, or the CUDA kernels) and on the reference kernels, and compares the outputs and the
// gradients of every input that requires grad.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "gtest/gtest.h"

namespace bitgrad::testing {

struct ParityOptions {
  // |cpu - ref| <= rtol * |ref| + atol * max|ref|: float32 sums differ in rounding order, so the
  // absolute part scales with the tensor's magnitude.
  double rtol = 1e-4;
  double atol = 1e-5;
  uint64_t seed = 7;  // of the random output gradient
  // Where the fast run happens: the inputs are copied there (Device::cuda() tests the CUDA
  // kernels); the reference run is always on the CPU.
  Device device = Device::cpu();
  // Slots whose fast kernel may hand these inputs to the reference kernel, as it does for what
  // its backend lacks (float64, a broadcast pattern oneDNN has no primitive for). The fast run
  // sending any other slot to kRef fails: a kernel that stops taking the case it was written for
  // is caught, not compared with itself.
  std::vector<std::string> reference_fallbacks;
};

using Computation = std::function<Tensor(const std::vector<Tensor>& inputs)>;

// Runs `fn` twice on fresh leaves holding the inputs' values (requires_grad copied), once on
// options.device with its fast kernels and once on the CPU under BackendOverride(kRef),
// backpropagates the same random output gradient through both and compares.
::testing::AssertionResult matches_reference(const Computation& fn,
                                             const std::vector<Tensor>& inputs,
                                             const ParityOptions& options = {});

// The default ParityOptions with `slots` as reference_fallbacks.
ParityOptions allowing_reference_kernels(std::vector<std::string> slots);

// all_close with the tolerance of ParityOptions.
::testing::AssertionResult close_to(const Tensor& actual, const Tensor& expected,
                                    const ParityOptions& options = {});

// Random normal float32 (or `dtype`) values, requiring grad when asked.
Tensor random_input(const Shape& shape, bool requires_grad = true);
Tensor random_input(const Shape& shape, DType dtype, bool requires_grad = true);
// Random normal float32 values converted to `dtype`, requiring grad: the same numbers whichever
// float type a test runs in.
Tensor random_float32_input_as(const Shape& shape, DType dtype);

// A plain (N, C, H, W) float32 tensor's values packed as nChw<block>c (C a multiple of block),
// and back: the buffers the hand-written blocked kernels take.
std::vector<float> pack_blocked(const Tensor& plain, int64_t block);
Tensor unpack_blocked(const std::vector<float>& packed, const Shape& shape, int64_t block);

// A channel-blocked activation of `shape`, as the oneDNN convs leave them (nChw8c or nChw16c,
// whichever this CPU's convs choose): a 1x1 conv of a plain random input. Not requiring grad
// unless asked.
Tensor blocked_input(const Shape& shape, bool requires_grad = false);

// The layout name of the activations this CPU's convs write: "onednn:aBcd8b" with AVX2,
// "onednn:aBcd16b" with AVX-512 (onednn::activation_channel_block()).
std::string native_blocked_layout_name();

// A plain (N, C, H, W) float32 tensor's values stored as nChw<block>c (block 4, 8 or 16),
// whatever block this CPU's convs choose: the kernels for both blocks are tested on every
// machine.
Tensor with_channel_block(const Tensor& plain, int64_t block);

// Whether every padding lane of a channel-blocked tensor (channels C..ceil(C / k) * k - 1 of each
// pixel) holds 0.
::testing::AssertionResult padding_channels_are_zero(const Tensor& blocked);

}  // namespace bitgrad::testing
