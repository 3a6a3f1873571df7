// The CUDA permute, cat and narrow kernels against the reference kernels.
#include <numeric>
#include <vector>

#include "core/random.h"
#include "ops/shape_ops.h"
#include "tests/ops_cuda/gpu_parity.h"
#include "tests/testing/assertions.h"
#include "tests/testing/gpu.h"

namespace bitgrad {
namespace {

using testing::matches_reference;
using testing::on_gpu;
using testing::random_float32_input_as;
using testing::random_input;
using testing::same_bits;
using testing::throws_error;

TEST(ShapeOpsCudaTest, PermuteAndTransposeMatchTheReference) {
  BG_REQUIRE_GPU();
  const std::vector<std::pair<Shape, std::vector<int64_t>>> cases = {
      {{7}, {0}},
      {{33, 17}, {1, 0}},
      {{3, 5, 7}, {2, 0, 1}},
      {{2, 3, 17, 9}, {0, 2, 3, 1}},   // NCHW -> NHWC
      {{3, 1, 5, 2, 4}, {4, -2, 0, 1, 2}},
      {{0, 4, 3}, {2, 1, 0}},
  };
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    for (const auto& [shape, dims] : cases) {
      SCOPED_TRACE(shape.str() + " dims " + Shape(dims).str() + " " + dtype_name(dtype));
      // permute's backward is the inverse permute, so forward and backward are both covered.
      EXPECT_TRUE(matches_reference(
          [&](const std::vector<Tensor>& in) { return permute(in[0], dims); },
          {random_float32_input_as(shape, dtype)}, on_gpu(dtype)));
    }
  }
  EXPECT_TRUE(
      matches_reference([](const std::vector<Tensor>& in) { return transpose(in[0], 0, 1); },
                        {random_input({1031, 257})}, on_gpu()));
}

TEST(ShapeOpsCudaTest, CatAndNarrowMatchTheReference) {
  BG_REQUIRE_GPU();
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    SCOPED_TRACE(dtype_name(dtype));
    // cat's backward narrows; narrow's backward pads: the three kernels in both directions.
    EXPECT_TRUE(matches_reference(
        [](const std::vector<Tensor>& in) { return cat({in[0], in[1], in[2], in[0]}, 1); },
        {random_float32_input_as({3, 5, 7}, dtype), random_float32_input_as({3, 0, 7}, dtype),
         random_float32_input_as({3, 2, 7}, dtype)},
        on_gpu(dtype)));
    EXPECT_TRUE(matches_reference(
        [](const std::vector<Tensor>& in) { return cat({in[0], in[1]}, -1); },
        {random_float32_input_as({2, 3, 5, 1}, dtype),
         random_float32_input_as({2, 3, 5, 4}, dtype)},
        on_gpu(dtype)));
    EXPECT_TRUE(matches_reference(
        [](const std::vector<Tensor>& in) { return narrow(in[0], 2, 3, 9); },
        {random_float32_input_as({2, 3, 17, 5}, dtype)}, on_gpu(dtype)));
    EXPECT_TRUE(matches_reference(
        [](const std::vector<Tensor>& in) { return narrow(in[0], -1, -4, 4); },
        {random_float32_input_as({7, 11}, dtype)}, on_gpu(dtype)));
  }
  // More elements than one grid of threads covers (65535 blocks of 256): the grid-stride loop.
  EXPECT_TRUE(matches_reference(
      [](const std::vector<Tensor>& in) { return narrow(cat({in[0], in[0]}, 0), 0, 5, 8000); },
      {random_input({4099, 2053})}, on_gpu()));
}

TEST(ShapeOpsCudaTest, EveryDtypeMatchesTheReference) {
  BG_REQUIRE_GPU();
  Tensor values = rand({5, 6, 7}, 0.0, 250.0, DType::kFloat64);
  for (DType dtype : {DType::kFloat32, DType::kFloat64, DType::kInt64, DType::kUInt8,
                      DType::kBFloat16, DType::kFloat16}) {
    SCOPED_TRACE(dtype_name(dtype));
    Tensor x = values.to(dtype), on_device = x.to(Device::cuda());
    EXPECT_TRUE(same_bits(permute(on_device, {2, 0, 1}).to(Device::cpu()), permute(x, {2, 0, 1})));
    EXPECT_TRUE(same_bits(cat({on_device, on_device}, 1).to(Device::cpu()), cat({x, x}, 1)));
    EXPECT_TRUE(same_bits(narrow(on_device, 2, 1, 5).to(Device::cpu()), narrow(x, 2, 1, 5)));
  }
}

TEST(ShapeOpsCudaTest, ErrorsNameTheOp) {
  BG_REQUIRE_GPU();
  Tensor on_device = zeros({2, 3}, DType::kFloat32, Device::cuda());
  EXPECT_TRUE(throws_error([&] { cat({zeros({2, 3}), on_device}, 0); },
                           {"cat", "one device", "cpu", "cuda"}));
  // Nine dims that no merging can reduce: more than the kernel's kMaxDims (8).
  Shape nine{2, 2, 2, 2, 2, 2, 2, 2, 2};
  std::vector<int64_t> reversed(9);
  std::iota(reversed.rbegin(), reversed.rend(), 0);
  EXPECT_TRUE(throws_error(
      [&] { permute(zeros(nine, DType::kFloat32, Device::cuda()), reversed); },
      {"PermuteFwd", "up to 8 dims", "got 9"}));
}

}  // namespace
}  // namespace bitgrad
