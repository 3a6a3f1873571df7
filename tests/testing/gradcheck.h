// gradcheck: compares an op's backward with central finite differences, in float64.
//
// It checks the vector-Jacobian product for a random cotangent w: the analytic gradient of
// L(x) = sum(w * f(x)) from backward() against (L(x + eps*e) - L(x - eps*e)) / (2 eps), for every
// element e of every input that requires grad (or, for large inputs, for random directions e).
// A random w makes every output element matter, so a wrong gradient anywhere shows up.
//
//   Tensor x = randn({2, 3, 5, 5}, DType::kFloat64).set_requires_grad();
//   EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return relu(in[0]); }, {x}));
//
// Keep inputs away from kinks (relu at 0, max-pool ties): finite differences straddling a kink
// disagree with any correct gradient.
#pragma once

#include <functional>
#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "gtest/gtest.h"

namespace bitgrad::testing {

struct GradcheckOptions {
  double eps = 1e-6;   // finite-difference step
  double atol = 1e-5;  // |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 1e-3;
  // Inputs with more elements are checked along `random_directions` random directions.
  int64_t max_elementwise = 2048;
  int random_directions = 16;
  uint64_t seed = 1234;
  Backend backend = Backend::kRef;  // whose kernels run (CPU tensors)
};

using TensorFunction = std::function<Tensor(const std::vector<Tensor>& inputs)>;

::testing::AssertionResult gradcheck(const TensorFunction& fn, const std::vector<Tensor>& inputs,
                                     const GradcheckOptions& options = {});

}  // namespace bitgrad::testing
