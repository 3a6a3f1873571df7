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

namespace custom_op {
namespace {

using bitgrad::Backend;
using bitgrad::Device;
using bitgrad::DType;
using bitgrad::Tensor;
using bitgrad::testing::all_close;

TEST(SiluCudaTest, TheCudaKernelsAreRegistered) {
  for (auto* registered : {&SiluFwd::registered, &SiluBwd::registered}) {
    EXPECT_TRUE(registered()[static_cast<int>(Backend::kCuda)]);
  }
}

TEST(SiluCudaTest, CudaKernelMatchesReference) {
  BG_REQUIRE_GPU();
  bitgrad::Generator generator(11);
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{7}, int64_t{4099}, int64_t{(1 << 20) + 3}}) {
      Tensor x = (bitgrad::randn({n}, dtype, Device::cpu(), generator) * 4.0).detach();
      Tensor dy = bitgrad::randn({n}, dtype, Device::cpu(), generator);
      Tensor x_gpu = x.to(Device::cuda()).set_requires_grad();
      Tensor y_gpu = silu(x_gpu);
      EXPECT_EQ(y_gpu.device(), Device::cuda());
      y_gpu.backward(dy.to(Device::cuda()));  // autograd end to end on the GPU
      EXPECT_TRUE(all_close(y_gpu.to(Device::cpu()), reference_forward(x), rtol_for(dtype),
                            atol_for(dtype)))
          << bitgrad::dtype_name(dtype) << ", " << n << " elements";
      EXPECT_TRUE(all_close(x_gpu.grad().to(Device::cpu()), reference_backward(dy, x),
                            rtol_for(dtype), atol_for(dtype)))
          << bitgrad::dtype_name(dtype) << ", " << n << " elements";
    }
  }
}

}  // namespace
}  // namespace custom_op
