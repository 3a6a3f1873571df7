// The SiLU op's CUDA kernel against its reference kernel (step 4 of docs/custom_ops.md), in a
// test of its own: it links the CUDA kernels, so it builds only where CUDA was found, and skips
// at run time without a GPU. silu_test.cc holds the tests that run everywhere.
#include "core/random.h"
#include "examples/custom_op/silu.h"
#include "examples/custom_op/silu_testing.h"
#include "gtest/gtest.h"
#include "ops/elementwise.h"
#include "tests/testing/assertions.h"
#include "tests/testing/gpu.h"
#include "tests/testing/parity.h"

namespace custom_op {
namespace {

using bitgrad::Backend;
using bitgrad::Device;
using bitgrad::DType;
using bitgrad::Tensor;

TEST(SiluCudaTest, TheCudaKernelsAreRegistered) {
  for (auto* registered : {&SiluFwd::registered, &SiluBwd::registered}) {
    EXPECT_TRUE(registered()[static_cast<int>(Backend::kCuda)]);
  }
}

// Forward and backward through autograd on the GPU against the reference kernels on the CPU;
// fails too when a reference kernel ran on the GPU run's behalf (silu_test.cc says why).
TEST(SiluCudaTest, CudaKernelMatchesReference) {
  BG_REQUIRE_GPU();
  bitgrad::Generator generator(11);
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{7}, int64_t{4099}, int64_t{(1 << 20) + 3}}) {
      Tensor x = (bitgrad::randn({n}, dtype, Device::cpu(), generator) * 4.0).detach();
      EXPECT_TRUE(bitgrad::testing::matches_reference(silu_of_input, {x.set_requires_grad()},
                                                      parity_options(dtype, Device::cuda())))
          << bitgrad::dtype_name(dtype) << ", " << n << " elements";
    }
  }
}

}  // namespace
}  // namespace custom_op
