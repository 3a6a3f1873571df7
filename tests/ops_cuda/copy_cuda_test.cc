// The recorded copies (ops/copy.h) between the CPU and the GPU: the gradient comes back to the
// input's device and dtype.
#include "autograd/engine.h"
#include "autograd/function.h"
#include "core/random.h"
#include "ops/copy.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "tests/testing/assertions.h"
#include "tests/testing/gpu.h"

namespace bitgrad {
namespace {

using testing::same_bits;

TEST(CopyCudaTest, GradientOfACpuLeafComesBackToTheCpu) {
  BG_REQUIRE_GPU();
  Tensor x = randn({3, 5}, DType::kFloat64).set_requires_grad();
  Tensor y = to(x, Device::cuda());
  EXPECT_TRUE(y.device().is_cuda());
  EXPECT_TRUE(same_bits(y.to(Device::cpu()), x));
  sum(y * 2.0).backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_TRUE(x.grad().device().is_cpu());
  EXPECT_TRUE(same_bits(x.grad(), full({3, 5}, 2.0, DType::kFloat64)));
}

TEST(CopyCudaTest, RoundTripThroughTheGpuAndFloat64) {
  BG_REQUIRE_GPU();
  Tensor x = randn({4, 7}).set_requires_grad();
  Tensor on_gpu = clone(to(x, Device::cuda()));
  EXPECT_TRUE(on_gpu.device().is_cuda());
  Tensor back = to(to(on_gpu, DType::kFloat64), Device::cpu());
  EXPECT_TRUE(same_bits(back, x.to(DType::kFloat64)));
  sum(back * 3.0).backward();
  EXPECT_TRUE(x.grad().device().is_cpu());
  EXPECT_TRUE(same_bits(x.grad(), full({4, 7}, 3.0)));
}

// A backward that forgets to move its gradient back: the engine refuses it, naming both devices.
struct GradientLeftOnTheGpu {
  static constexpr const char* kName = "gradient_left_on_the_gpu";
  Tensor forward(const Tensor& x) { return x.to(Device::cuda()); }
  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>&) { return {dy}; }
};

TEST(CopyCudaTest, AGradientOnTheWrongDeviceIsRefused) {
  BG_REQUIRE_GPU();
  Tensor x = randn({2, 3}).set_requires_grad();
  Tensor y = apply(GradientLeftOnTheGpu{}, x);
  EXPECT_TRUE(testing::throws_error(
      [&] { sum(y).backward(); },
      {"backward of gradient_left_on_the_gpu", "float32 on cuda:0 for input 0",
       "float32 on cpu"}));
  EXPECT_FALSE(x.grad().defined());
}

TEST(CopyCudaTest, AGradientArgumentOnAnotherDeviceIsRefused) {
  BG_REQUIRE_GPU();
  Tensor x = randn({2, 3}).set_requires_grad();
  Tensor y = to(x, Device::cuda()) * 2.0;
  EXPECT_TRUE(testing::throws_error([&] { backward(y, ones({2, 3})); },
                                    {"backward: gradient", "on cpu", "on cuda:0"}));
  Tensor leaf_on_gpu = randn({2, 3}).to(Device::cuda()).set_requires_grad();
  EXPECT_TRUE(testing::throws_error([&] { backward(leaf_on_gpu, ones({2, 3})); },
                                    {"backward: gradient", "on cpu", "on cuda:0"}));
  EXPECT_FALSE(leaf_on_gpu.grad().defined());
}

}  // namespace
}  // namespace bitgrad
