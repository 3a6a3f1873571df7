#include "tests/ops_cpu/parity.h"

#include <algorithm>
#include <cmath>

#include "core/dispatch.h"
#include "core/random.h"
#include "ops/conv.h"
#include "tests/testing/assertions.h"

namespace bitgrad::testing {
namespace {

struct Run {
  Tensor output;
  std::vector<Tensor> grads;
};

Run run(const Computation& fn, const std::vector<Tensor>& inputs, uint64_t seed) {
  std::vector<Tensor> leaves;
  for (const Tensor& input : inputs) {
    if (!input.defined()) {
      leaves.push_back(input);
      continue;
    }
    Tensor leaf = input.detach().clone();
    if (input.requires_grad()) leaf.set_requires_grad();
    leaves.push_back(leaf);
  }
  Run result;
  result.output = fn(leaves);
  if (result.output.requires_grad()) {
    Generator generator(seed);
    Tensor cotangent = randn(result.output.shape(), result.output.dtype(), Device::cpu(),
                             generator);
    result.output.backward(cotangent);
  }
  for (const Tensor& leaf : leaves) {
    result.grads.push_back(leaf.defined() && leaf.requires_grad() ? leaf.grad() : Tensor());
  }
  return result;
}

}  // namespace

::testing::AssertionResult close_to(const Tensor& actual, const Tensor& expected,
                                    const ParityOptions& options) {
  double scale = 0;
  for (double v : expected.to_vector<double>()) scale = std::max(scale, std::fabs(v));
  return all_close(actual, expected, options.rtol, options.atol * std::max(scale, 1e-3));
}

::testing::AssertionResult matches_reference(const Computation& fn,
                                             const std::vector<Tensor>& inputs,
                                             const ParityOptions& options) {
  Run cpu = run(fn, inputs, options.seed);
  Run ref;
  {
    BackendOverride reference(Backend::kRef);
    ref = run(fn, inputs, options.seed);
  }
  ::testing::AssertionResult same = close_to(cpu.output, ref.output, options);
  if (!same) return ::testing::AssertionFailure() << "output: " << same.message();
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!ref.grads[i].defined()) continue;
    if (!cpu.grads[i].defined()) {
      return ::testing::AssertionFailure() << "no gradient for input " << i << " on the CPU";
    }
    same = close_to(cpu.grads[i], ref.grads[i], options);
    if (!same) return ::testing::AssertionFailure() << "gradient of input " << i << ": " << same.message();
  }
  return ::testing::AssertionSuccess();
}

Tensor random_input(const Shape& shape, bool requires_grad) {
  Tensor t = randn(shape);
  if (requires_grad) t.set_requires_grad();
  return t;
}

Tensor blocked_input(const Shape& shape, bool requires_grad) {
  Tensor x = conv2d(randn({shape[0], 8, shape[2], shape[3]}), randn({shape[1], 8, 1, 1}));
  EXPECT_FALSE(x.is_plain());
  if (requires_grad) x = x.detach().set_requires_grad();
  return x;
}

}  // namespace bitgrad::testing
