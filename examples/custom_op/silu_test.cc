// Tests for the SiLU custom op (step 4 of docs/custom_ops.md): gradcheck in float64, forward
// against an independent formula, the CPU kernel against the reference kernel (plain and blocked
// inputs), and errors. The CUDA kernel's test is silu_cuda_test.cc.
#include "examples/custom_op/silu.h"

#include <cmath>
#include <cstdio>
#include <vector>

#include "autograd/engine.h"
#include "core/random.h"
#include "examples/custom_op/silu_testing.h"
#include "gtest/gtest.h"
#include "ops/conv.h"
#include "ops/elementwise.h"
#include "tests/testing/assertions.h"
#include "tests/testing/gradcheck.h"
#include "tests/testing/parity.h"

namespace custom_op {
namespace {

using bitgrad::Backend;
using bitgrad::BackendOverride;
using bitgrad::Device;
using bitgrad::DType;
using bitgrad::Shape;
using bitgrad::Tensor;
using bitgrad::testing::all_close;
using bitgrad::testing::gradcheck;
using bitgrad::testing::matches_reference;
using bitgrad::testing::throws_error;

// sigmoid(v) = (1 + tanh(v / 2)) / 2: a different formula from the kernels' 1 / (1 + exp(-v)).
double silu_by_tanh(double v) { return v * 0.5 * (1.0 + std::tanh(0.5 * v)); }
double silu_derivative_by_tanh(double v) {
  double s = 0.5 * (1.0 + std::tanh(0.5 * v));
  return s + v * s * (1.0 - s);  // product rule on v * s, with s' = s (1 - s)
}

Tensor map_values(const Tensor& x, double (*f)(double)) {
  std::vector<double> values = x.to_vector<double>();
  for (double& v : values) v = f(v);
  return bitgrad::from_vector(values, x.shape()).to(x.dtype());
}

// Odd sizes, an empty tensor, and sizes on both sides of the CPU kernel's threading threshold.
const std::vector<int64_t> kSizes = {0, 1, 7, 33, 1000, 40961};

TEST(SiluTest, ForwardMatchesAnIndependentFormula) {
  Tensor x = bitgrad::from_vector<double>({-30, -3, -1, -0.5, 0, 0.25, 1, 2.5, 30}, {3, 3});
  EXPECT_TRUE(all_close(silu(x), map_values(x, silu_by_tanh), 1e-14, 1e-15));
  EXPECT_DOUBLE_EQ(silu(x).at<double>({1, 1}), 0.0);
  EXPECT_NEAR(silu(x).at<double>({2, 0}), 1.0 / (1.0 + std::exp(-1.0)), 1e-15);

  Tensor x32 = x.to(DType::kFloat32);
  Tensor y32 = silu(x32);
  EXPECT_EQ(y32.dtype(), DType::kFloat32);
  EXPECT_TRUE(all_close(y32, map_values(x32, silu_by_tanh), 1e-6, 1e-6));
}

TEST(SiluTest, BackwardMatchesAnIndependentDerivative) {
  Tensor x = bitgrad::from_vector<double>({-4, -1, 0, 0.5, 3}, {5});
  x.set_requires_grad();
  Tensor dy = bitgrad::from_vector<double>({1, 2, -1, 0.5, 3}, {5});
  silu(x).backward(dy);
  Tensor expected = bitgrad::mul(map_values(x.detach(), silu_derivative_by_tanh), dy);
  EXPECT_TRUE(all_close(x.grad(), expected, 1e-13, 1e-15));
}

TEST(SiluTest, GradcheckFloat64) {
  // SiLU is smooth everywhere, so no input needs to be kept away from a kink.
  auto fn = [](const std::vector<Tensor>& in) { return silu(in[0]); };
  Tensor x = (bitgrad::randn({3, 4, 5}, DType::kFloat64) * 3.0).detach().set_requires_grad();
  EXPECT_TRUE(gradcheck(fn, {x}));  // reference kernels
  bitgrad::testing::GradcheckOptions cpu_kernels;
  cpu_kernels.backend = Backend::kCpu;
  EXPECT_TRUE(gradcheck(fn, {x}, cpu_kernels));
}

TEST(SiluTest, TheReferenceAndCpuKernelsAreRegistered) {
  for (auto* registered : {&SiluFwd::registered, &SiluBwd::registered}) {
    auto backends = registered();
    EXPECT_TRUE(backends[static_cast<int>(Backend::kRef)]);
    EXPECT_TRUE(backends[static_cast<int>(Backend::kCpu)]);
  }
}

// matches_reference runs SiLU forward and backward on the CPU kernels and on the reference
// kernels and compares the two; it also fails when a reference kernel ran in the first run, as
// it would if the CPU kernel library were not linked (a BUILD rule without alwayslink).
TEST(SiluTest, CpuKernelMatchesReference) {
  bitgrad::Generator generator(7);
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    for (int64_t n : kSizes) {
      Tensor x = (bitgrad::randn({n}, dtype, Device::cpu(), generator) * 4.0).detach();
      EXPECT_TRUE(matches_reference(silu_of_input, {x.set_requires_grad()},
                                    parity_options(dtype, Device::cpu())))
          << bitgrad::dtype_name(dtype) << ", " << n << " elements";
    }
  }
}

// A conv's output is blocked (nChw8c or nChw16c, as oneDNN chose); 5 and 13 channels leave
// padding in the last block. The CPU kernel must keep the layout and match the reference on the
// plain values, forward and backward, with dy and x in the same or different layouts.
TEST(SiluTest, CpuKernelKeepsABlockedLayoutAndMatchesReference) {
  bitgrad::Generator generator(5);
  for (int64_t channels : {5, 13}) {
    Tensor image = bitgrad::randn({2, 3, 9, 7}, DType::kFloat32, Device::cpu(), generator);
    Tensor weight = bitgrad::randn({channels, 3, 3, 3}, DType::kFloat32, Device::cpu(), generator);
    Tensor x = bitgrad::conv2d(image, weight);
    ASSERT_FALSE(x.is_plain()) << "the conv was to leave x blocked, so that this tests something";
    Tensor y = silu(x);
    std::printf("%lld channels: x is %s\n", static_cast<long long>(channels),
                x.opaque_layout()->name().c_str());
    ASSERT_FALSE(y.is_plain());
    EXPECT_TRUE(y.opaque_layout()->same_as(*x.opaque_layout()))
        << y.opaque_layout()->name() << " vs " << x.opaque_layout()->name();
    EXPECT_TRUE(all_close(y.to_plain(), reference_forward(x.to_plain()), 2e-6, 1e-6)) << channels;

    Tensor dy_blocked = silu(bitgrad::conv2d(image, weight * 0.5));  // blocked like x
    for (const Tensor& dy : {dy_blocked, dy_blocked.to_plain()}) {
      Tensor dx = bitgrad::call<SiluBwd>(dy, x);
      EXPECT_EQ(dx.is_plain(), dy.is_plain());
      EXPECT_TRUE(all_close(dx.to_plain(), reference_backward(dy.to_plain(), x.to_plain()), 2e-6,
                            1e-6))
          << channels << " channels, dy " << (dy.is_plain() ? "plain" : "blocked");
    }
  }
}

TEST(SiluTest, ErrorsNameTheOpTheDtypeAndTheShape) {
  EXPECT_TRUE(throws_error([] { silu(bitgrad::zeros({2, 3}, DType::kInt64)); },
                           {"silu", "float32 or float64", "int64", "(2, 3)"}));
  EXPECT_TRUE(throws_error([] { silu(bitgrad::zeros({4}, DType::kUInt8)); }, {"silu", "uint8"}));
  EXPECT_TRUE(throws_error([] { silu(Tensor()); }, {"silu", "undefined"}));
  // The kernels check dtypes too, for callers that go around the op.
  EXPECT_TRUE(throws_error([] { bitgrad::call<SiluFwd>(bitgrad::zeros({2}, DType::kInt64)); },
                           {"silu", "int64"}));
}

}  // namespace
}  // namespace custom_op
