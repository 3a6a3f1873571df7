// The cuDNN convolutions and the cuBLAS matrix product against the reference kernels, with TF32
// off (float32-exact) and, for a looser bound, on.
#include <tuple>

#include "core/random.h"
#include "ops/conv.h"
#include "ops/cuda/math_mode.h"
#include "ops/math_mode.h"
#include "ops/elementwise.h"
#include "ops/linear.h"
#include "tests/ops_cuda/gpu_parity.h"
#include "tests/testing/assertions.h"
#include "tests/testing/gpu.h"

namespace bitgrad {
namespace {

using testing::matches_reference;
using testing::ParityOptions;
using testing::on_gpu;
using testing::random_input;

class Tf32Off : public ::testing::Test {
 protected:
  void SetUp() override { set_cuda_tf32_enabled(false); }
  void TearDown() override { set_cuda_tf32_enabled(true); }
};

using ConvCudaTest = Tf32Off;

TEST_F(ConvCudaTest, ForwardAndBothBackwardsMatchTheReference) {
  BG_REQUIRE_GPU();
  struct Case {
    Shape x, w;
    Conv2dAttrs attrs;
    bool bias;
  };
  for (const Case& c : std::vector<Case>{
           {{2, 3, 17, 17}, {8, 3, 7, 7}, {{2, 2}, {3, 3}, {1, 1}, 1}, false},  // BiT's stem
           {{3, 16, 9, 9}, {24, 16, 3, 3}, {{1, 1}, {1, 1}, {1, 1}, 1}, true},
           {{2, 12, 10, 10}, {20, 12, 1, 1}, {{2, 2}, {0, 0}, {1, 1}, 1}, false},
           {{1, 8, 11, 7}, {8, 2, 3, 3}, {{1, 2}, {1, 0}, {2, 1}, 4}, true}}) {
    for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
      SCOPED_TRACE(c.x.str() + " * " + c.w.str() + " " + dtype_name(dtype));
      Tensor bias = c.bias ? random_input({c.w[0]}, dtype) : Tensor();
      EXPECT_TRUE(matches_reference(
          [&](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], c.attrs); },
          {random_input(c.x, dtype), random_input(c.w, dtype), bias}, on_gpu(dtype)));
    }
  }
}

// No input channels: every output is the bias, as in the reference (not zeros).
TEST_F(ConvCudaTest, AnEmptyInputGivesTheBias) {
  BG_REQUIRE_GPU();
  const Tensor bias = random_input({4});
  const Tensor y = conv2d(zeros({1, 0, 4, 4}).to(Device::cuda(0)),
                          zeros({4, 0, 3, 3}).to(Device::cuda(0)), bias.to(Device::cuda(0)), {})
                       .to(Device::cpu());
  ASSERT_EQ(y.shape(), Shape({1, 4, 2, 2}));
  const std::vector<float> b = bias.to_vector<float>(), values = y.to_vector<float>();
  for (int64_t i = 0; i < y.numel(); ++i) EXPECT_EQ(values[i], b[i / 4]) << "output " << i;
}

// A 1x1 shortcut, a strided 3x3 and a padded 3x3 with odd sizes, in both dtypes.
TEST_F(ConvCudaTest, ConvAddMatchesTheReference) {
  BG_REQUIRE_GPU();
  for (const auto& [x, w, attrs] : std::vector<std::tuple<Shape, Shape, Conv2dAttrs>>{
           {{2, 16, 7, 9}, {24, 16, 1, 1}, {}},
           {{2, 8, 9, 9}, {12, 8, 3, 3}, {{2, 2}, {1, 1}}},
           {{1, 5, 6, 7}, {7, 5, 3, 3}, {{1, 1}, {1, 1}}}}) {
    for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
      SCOPED_TRACE(x.str() + " * " + w.str() + " " + dtype_name(dtype));
      const Conv2dAttrs a = attrs;
      const Shape y = conv2d_output_shape(x, w, a);
      EXPECT_TRUE(matches_reference(
          [a](const std::vector<Tensor>& in) { return conv2d_add(in[0], in[1], in[2], a); },
          {random_input(x, dtype), random_input(w, dtype), random_input(y, dtype)},
          on_gpu(dtype)));
    }
  }
}

// cuDNN adds into the addend's memory only when it was given up and is not shared.
TEST_F(ConvCudaTest, ConvAddReusesOnlyAnAddendGivenUpAndUnshared) {
  BG_REQUIRE_GPU();
  const Tensor x = randn({2, 16, 7, 9}).to(Device::cuda());
  const Tensor w = randn({24, 16, 1, 1}).to(Device::cuda());
  const Tensor values = randn({2, 24, 7, 9}).to(Device::cuda());
  const Tensor expected = conv2d(x, w) + values;
  Tensor kept = values.clone();
  EXPECT_TRUE(testing::all_close(conv2d_add(x, w, kept), expected, 1e-5, 1e-5));
  EXPECT_TRUE(testing::all_close(kept, values, 0, 0));
  Tensor alone = values.clone();
  const void* memory = alone.raw_data();
  Tensor y = conv2d_add(x, w, std::move(alone));
  EXPECT_EQ(y.raw_data(), memory);
  EXPECT_TRUE(testing::all_close(y, expected, 1e-5, 1e-5));
}

TEST(ConvTf32CudaTest, Tf32StaysWithinItsRounding) {
  BG_REQUIRE_GPU();
  ASSERT_TRUE(cuda_tf32_enabled());  // the default
  ParityOptions loose = on_gpu();
  loose.rtol = 1e-2;
  loose.atol = 5e-3;  // TF32 keeps 10 mantissa bits: ~1e-3 relative per product
  EXPECT_TRUE(matches_reference(
      [](const std::vector<Tensor>& in) {
        return conv2d(in[0], in[1], Tensor(), {{1, 1}, {1, 1}});
      },
      {random_input({2, 64, 8, 8}), random_input({64, 64, 3, 3})}, loose));
}

// bf16 autocast: the convolutions run on bf16 copies (8 mantissa bits, float32 accumulation)
// and hand back float32; forward and both backwards stay within bf16's rounding of the
// reference.
TEST(ConvBf16CudaTest, AutocastStaysWithinBf16Rounding) {
  BG_REQUIRE_GPU();
  ScopedBf16Autocast bf16;
  ParityOptions loose = on_gpu();
  loose.rtol = 5e-2;
  loose.atol = 2e-2;  // ~2^-8 relative per product, summed over up to 576 of them
  for (const auto& [x, w, attrs] : std::vector<std::tuple<Shape, Shape, Conv2dAttrs>>{
           {{2, 64, 8, 8}, {64, 64, 3, 3}, {{1, 1}, {1, 1}}},
           {{2, 16, 9, 7}, {24, 16, 1, 1}, {{2, 2}, {0, 0}}}}) {
    SCOPED_TRACE(x.str() + " * " + w.str());
    Conv2dAttrs a = attrs;
    EXPECT_TRUE(matches_reference(
        [a](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], a); },
        {random_input(x), random_input(w), random_input({w[0]})}, loose));
  }
  Tensor y = conv2d(randn({1, 8, 5, 5}).to(Device::cuda()), randn({8, 8, 3, 3}).to(Device::cuda()));
  EXPECT_EQ(y.dtype(), DType::kFloat32);
}

using MatmulCudaTest = Tf32Off;

TEST_F(MatmulCudaTest, LinearAndMatmulMatchTheReference) {
  BG_REQUIRE_GPU();
  for (const auto& [m, k, n] :
       std::vector<std::array<int64_t, 3>>{{1, 1, 1}, {7, 13, 5}, {33, 2048, 10}}) {
    for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
      SCOPED_TRACE(::testing::Message() << m << "x" << k << "x" << n << " " << dtype_name(dtype));
      EXPECT_TRUE(matches_reference(
          [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); },
          {random_input({m, k}, dtype), random_input({n, k}, dtype), random_input({n}, dtype)},
          on_gpu(dtype)));
      EXPECT_TRUE(matches_reference(
          [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); },
          {random_input({m, k}, dtype), random_input({k, n}, dtype)}, on_gpu(dtype)));
    }
  }
}

}  // namespace
}  // namespace bitgrad
