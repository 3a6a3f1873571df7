// The CUDA exp, log, sigmoid, tanh, softmax and log_softmax kernels against the reference kernels.
#include <limits>

#include "core/random.h"
#include "ops/elementwise.h"
#include "ops/unary.h"
#include "tests/ops_cuda/gpu_parity.h"
#include "tests/testing/assertions.h"
#include "tests/testing/gpu.h"

namespace bitgrad {
namespace {

using testing::matches_reference;
using testing::on_gpu;
using testing::random_float32_input_as;
using testing::random_input;

// Positive inputs, for log.
Tensor positive_of(const Shape& shape, DType dtype) {
  return rand(shape, 0.05, 4.0, dtype).set_requires_grad();
}

TEST(UnaryCudaTest, ElementwiseOpsMatchTheReference) {
  BG_REQUIRE_GPU();
  using UnaryFn = Tensor (*)(const Tensor&);
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    for (const Shape& shape : {Shape{7}, Shape{3, 17, 5, 9}, Shape{}, Shape{100003}, Shape{0, 4}}) {
      SCOPED_TRACE(shape.str() + " " + dtype_name(dtype));
      for (UnaryFn op : {&exp, &sigmoid, &tanh}) {
        EXPECT_TRUE(matches_reference([&](const std::vector<Tensor>& in) { return op(in[0]); },
                                      {random_float32_input_as(shape, dtype)}, on_gpu(dtype)));
      }
      EXPECT_TRUE(matches_reference([](const std::vector<Tensor>& in) { return log(in[0]); },
                                    {positive_of(shape, dtype)}, on_gpu(dtype)));
    }
  }
}

TEST(UnaryCudaTest, SoftmaxAlongEveryDimMatchesTheReference) {
  BG_REQUIRE_GPU();
  // The last dim runs one block per row from 32 elements on, the others and shorter rows one
  // thread per softmax; (3, 1000) has rows longer than a block, (4, 21, 33, 17) along dim 1 many
  // strided softmaxes, (67, 31) and (67, 32) rows either side of the switch.
  const std::vector<std::pair<Shape, std::vector<int64_t>>> cases = {
      {{1031}, {0}},
      {{5, 1}, {0, 1}},
      {{3, 5, 7}, {0, 1, 2}},
      {{3, 1000}, {0, 1}},
      {{4, 21, 33, 17}, {1, 3}},
      {{67, 31}, {1}},
      {{67, 32}, {1}},
      {{0, 4}, {0, 1}},
  };
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    for (const auto& [shape, dims] : cases) {
      for (int64_t dim : dims) {
        SCOPED_TRACE(shape.str() + " dim " + std::to_string(dim) + " " + dtype_name(dtype));
        EXPECT_TRUE(matches_reference(
            [&](const std::vector<Tensor>& in) { return softmax(in[0], dim); },
            {random_float32_input_as(shape, dtype)}, on_gpu(dtype)));
        EXPECT_TRUE(matches_reference(
            [&](const std::vector<Tensor>& in) { return log_softmax(in[0], dim); },
            {random_float32_input_as(shape, dtype)}, on_gpu(dtype)));
      }
    }
  }
}

TEST(UnaryCudaTest, LargeAndExtremeInputs) {
  BG_REQUIRE_GPU();
  // Softmax of values near +-1000 stays finite; exp overflows to inf and log(0) is -inf, as on
  // the CPU. Rows of 9 take a thread each, rows of 40 a block.
  for (const Shape& shape : {Shape{6, 9}, Shape{6, 40}}) {
    EXPECT_TRUE(matches_reference(
        [](const std::vector<Tensor>& in) {
          Tensor large = in[0] * 300.0;
          return softmax(large, 1) + log_softmax(large, 0);
        },
        {random_input(shape)}, on_gpu()));
  }
  Tensor x = from_vector<float>({1000, 1001}, {2}).to(Device::cuda());
  std::vector<float> p = softmax(x, 0).to_vector<float>();
  EXPECT_NEAR(p[0], 0.2689414f, 1e-6);
  EXPECT_NEAR(p[1], 0.7310586f, 1e-6);
  std::vector<float> special =
      log(from_vector<float>({0, 1}, {2}).to(Device::cuda())).to_vector<float>();
  EXPECT_EQ(special[0], -std::numeric_limits<float>::infinity());
  EXPECT_EQ(special[1], 0.0f);
  EXPECT_EQ(exp(from_vector<float>({100}, {1}).to(Device::cuda())).item<float>(),
            std::numeric_limits<float>::infinity());
}

}  // namespace
}  // namespace bitgrad
