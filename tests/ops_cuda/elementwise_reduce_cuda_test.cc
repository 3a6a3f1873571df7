// The CUDA elementwise, sum and expand kernels against the reference kernels.
#include "core/random.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "tests/ops_cuda/gpu_parity.h"
#include "tests/testing/assertions.h"
#include "tests/testing/gpu.h"

namespace bitgrad {
namespace {

using testing::matches_reference;
using testing::on_gpu;
using testing::random_float32_input_as;
using testing::random_input;
using testing::throws_error;

TEST(ElementwiseCudaTest, BinaryOpsBroadcastLikeTheReference) {
  BG_REQUIRE_GPU();
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{3, 5, 7}, {3, 5, 7}}, {{3, 5, 7}, {7}}, {{3, 1, 7}, {1, 5, 1}},
      {{2, 3, 1, 5}, {4, 1}}, {{}, {3, 4}},     {{1031}, {1}}};
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    for (const auto& [a, b] : shapes) {
      SCOPED_TRACE(a.str() + " with " + b.str() + " " + dtype_name(dtype));
      for (auto op : {add, sub, mul}) {
        EXPECT_TRUE(matches_reference(
            [&](const std::vector<Tensor>& in) { return op(in[0], in[1]); },
            {random_float32_input_as(a, dtype), random_float32_input_as(b, dtype)},
            on_gpu(dtype)));
      }
      // Divisors kept away from 0, so the comparison is about the kernel, not conditioning.
      EXPECT_TRUE(matches_reference(
          [&](const std::vector<Tensor>& in) { return div(in[0], in[1] * in[1] + 0.5); },
          {random_float32_input_as(a, dtype), random_float32_input_as(b, dtype)}, on_gpu(dtype)));
    }
  }
}

TEST(ElementwiseCudaTest, AffineReluAndTheGradientSumMatchTheReference) {
  BG_REQUIRE_GPU();
  for (const Shape& shape : {Shape{7}, Shape{3, 17, 5, 9}, Shape{0, 4}}) {
    SCOPED_TRACE(shape.str());
    // x feeds three ops, so its gradient is summed by AccumulateGrad on the GPU.
    EXPECT_TRUE(matches_reference(
        [](const std::vector<Tensor>& in) {
          return relu(in[0] * 1.5 - 0.25) + relu(in[0]) * in[0];
        },
        {random_input(shape)}, on_gpu()));
  }
}

// Same shapes need no IndexMap, so they run past its 8 dims: x feeds two ops, and the engine's
// gradient sum (AccumulateGrad, itself a same-shape add) adds the two. A broadcast at 9 dims
// is refused by name.
TEST(ElementwiseCudaTest, SameShapeOpsRunPastTheIndexMapRank) {
  BG_REQUIRE_GPU();
  const Shape shape{2, 1, 3, 1, 2, 1, 2, 1, 3};
  EXPECT_TRUE(matches_reference(
      [](const std::vector<Tensor>& in) { return in[0] * in[1] + in[0]; },
      {random_input(shape), random_input(shape)}, on_gpu()));
  Tensor x = randn(shape).to(Device::cuda());
  Tensor row = randn({3}).to(Device::cuda());
  EXPECT_TRUE(throws_error([&] { add(x, row); }, {"add", "up to 8 dims"}));
}

TEST(ReduceCudaTest, SumsAndMeansOverAnyDimsMatchTheReference) {
  BG_REQUIRE_GPU();
  const Shape shape{3, 5, 7, 11};
  const std::vector<std::vector<int64_t>> dim_sets = {
      {}, {0}, {1}, {3}, {0, 2}, {1, 2, 3}, {-1, 0}};
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    for (const auto& dims : dim_sets) {
      for (bool keepdim : {false, true}) {
        SCOPED_TRACE(::testing::Message() << "dims " << dims.size() << " keepdim " << keepdim);
        // sum's backward is expand, so both kernels are covered.
        EXPECT_TRUE(matches_reference(
            [&](const std::vector<Tensor>& in) { return sum(in[0], dims, keepdim); },
            {random_float32_input_as(shape, dtype)}, on_gpu(dtype)));
        EXPECT_TRUE(matches_reference(
            [&](const std::vector<Tensor>& in) { return mean(in[0], dims, keepdim); },
            {random_float32_input_as(shape, dtype)}, on_gpu(dtype)));
      }
    }
  }
  // A long sum (more elements than a block has threads) and an empty one.
  EXPECT_TRUE(matches_reference([](const std::vector<Tensor>& in) { return sum(in[0]); },
                                {random_input({100003})}, on_gpu()));
  EXPECT_TRUE(matches_reference([](const std::vector<Tensor>& in) { return sum(in[0], {1}); },
                                {random_input({4, 0})}, on_gpu()));
}

TEST(ReduceCudaTest, ExpandBroadcastsLikeTheReference) {
  BG_REQUIRE_GPU();
  EXPECT_TRUE(matches_reference(
      [](const std::vector<Tensor>& in) { return expand(in[0], {2, 3, 5, 7}); },
      {random_input({3, 1, 7})}, on_gpu()));
}

}  // namespace
}  // namespace bitgrad
