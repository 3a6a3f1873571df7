// Backend parity: runs one computation on the CPU backend (oneDNN) and on the reference kernels
// and compares the outputs and the gradients of every input that requires grad.
#pragma once

#include <functional>
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
};

using Computation = std::function<Tensor(const std::vector<Tensor>& inputs)>;

// Runs `fn` twice on fresh leaves holding the inputs' values (requires_grad copied), once with
// the CPU kernels and once under BackendOverride(kRef), backpropagates the same random output
// gradient through both and compares.
::testing::AssertionResult matches_reference(const Computation& fn,
                                             const std::vector<Tensor>& inputs,
                                             const ParityOptions& options = {});

// all_close with the tolerance of ParityOptions.
::testing::AssertionResult close_to(const Tensor& actual, const Tensor& expected,
                                    const ParityOptions& options = {});

// Random normal float32 values, requiring grad when asked.
Tensor random_input(const Shape& shape, bool requires_grad = true);

// A plain (N, C, H, W) float32 tensor's values packed as nChw8c (C a multiple of 8), and back:
// the buffers the hand-written blocked kernels take.
std::vector<float> pack_nchw8c(const Tensor& plain);
Tensor unpack_nchw8c(const std::vector<float>& packed, const Shape& shape);

// A channel-blocked (nChw8c) activation of `shape`, as the oneDNN convs leave them: a 1x1 conv
// of a plain random input. Not requiring grad unless asked.
Tensor blocked_input(const Shape& shape, bool requires_grad = false);

}  // namespace bitgrad::testing
