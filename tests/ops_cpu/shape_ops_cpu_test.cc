// The CPU kernels of permute and cat (ops/cpu/shape_ops) against the reference kernels. They only
// move elements, so they must match bit for bit. narrow has no CPU kernel (its reference kernel
// is as fast): it runs in cat's backward here.
#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "core/random.h"
#include "gtest/gtest.h"
#include "ops/shape_ops.h"
#include "tests/testing/assertions.h"
#include "tests/testing/parity.h"

namespace bitgrad {
namespace {

using testing::allowing_reference_kernels;
using testing::blocked_input;
using testing::matches_reference;
using testing::random_input;
using testing::same_bits;

const DType kEveryDtype[] = {DType::kFloat32, DType::kFloat64, DType::kInt64,
                             DType::kUInt8,   DType::kBFloat16, DType::kFloat16};

// Random values of `shape` in `dtype`, spread over [0, 250] so that integer dtypes (uint8
// included) get many different values too.
Tensor random_of(const Shape& shape, DType dtype, Generator& gen) {
  return rand(shape, 0.0, 250.0, DType::kFloat64, Device::cpu(), gen).to(dtype);
}

// A shape of `rank` random extents from 1 to max_extent (odd sizes mostly).
Shape random_shape(int64_t rank, int64_t max_extent, Generator& gen) {
  Shape shape;
  for (int64_t d = 0; d < rank; ++d) shape.push_back(1 + gen.randint(max_extent));
  return shape;
}

template <typename Fn>
Tensor on(Backend backend, const Fn& fn) {
  BackendOverride use(backend);
  return fn();
}

// Runs fn on the CPU kernels and on the reference kernels and expects the same bytes.
template <typename Fn>
::testing::AssertionResult cpu_matches_reference(const Fn& fn) {
  Tensor cpu = on(Backend::kCpu, fn), ref = on(Backend::kRef, fn);
  if (same_bits(cpu, ref)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "cpu " << cpu.shape() << " differs from ref "
                                       << ref.shape();
}

TEST(ShapeOpsCpuTest, PermuteMatchesTheReferenceOnRandomShapes) {
  Generator gen(11);
  for (int trial = 0; trial < 60; ++trial) {
    const int64_t rank = 1 + trial % 5;
    const Shape shape = random_shape(rank, 9, gen);
    std::vector<int64_t> dims(rank);
    std::iota(dims.begin(), dims.end(), 0);
    for (int64_t i = rank - 1; i > 0; --i) std::swap(dims[i], dims[gen.randint(i + 1)]);
    const DType dtype = kEveryDtype[trial % 6];
    SCOPED_TRACE(::testing::Message() << shape << " dims " << Shape(dims) << " "
                                      << dtype_name(dtype));
    Tensor x = random_of(shape, dtype, gen);
    EXPECT_TRUE(cpu_matches_reference([&] { return permute(x, dims); }));
  }
}

TEST(ShapeOpsCpuTest, CatMatchesTheReferenceOnRandomShapes) {
  Generator gen(13);
  for (int trial = 0; trial < 60; ++trial) {
    const int64_t rank = 1 + trial % 4;
    const Shape shape = random_shape(rank, 7, gen);
    const int64_t dim = gen.randint(rank);
    const DType dtype = kEveryDtype[trial % 6];
    std::vector<Tensor> pieces;
    for (int64_t i = 0, count = 1 + gen.randint(4); i < count; ++i) {
      Shape piece = shape;
      piece[dim] = gen.randint(6);  // 0 included
      pieces.push_back(random_of(piece, dtype, gen));
    }
    SCOPED_TRACE(::testing::Message() << pieces.size() << " pieces like " << shape << " dim "
                                      << dim << " " << dtype_name(dtype));
    EXPECT_TRUE(cpu_matches_reference([&] { return cat(pieces, dim); }));
  }
}

// Above kParallelMinElements (ops/cpu/common/parallel.h), where the threads share the rows.
TEST(ShapeOpsCpuTest, LargeTensorsMatchTheReference) {
  Generator gen(14);
  Tensor x = random_of({3, 37, 41, 29}, DType::kFloat32, gen);
  EXPECT_TRUE(cpu_matches_reference([&] { return permute(x, {0, 2, 3, 1}); }));
  EXPECT_TRUE(cpu_matches_reference([&] { return permute(x, {3, 2, 1, 0}); }));
  EXPECT_TRUE(cpu_matches_reference([&] { return transpose(x, 1, 2); }));
  Tensor y = random_of({3, 37, 41, 3}, DType::kFloat32, gen);
  EXPECT_TRUE(cpu_matches_reference([&] { return cat({x, y, x}, 3); }));
  EXPECT_TRUE(cpu_matches_reference([&] { return cat({x, x}, 0); }));
  Tensor wide = random_of({700, 513}, DType::kFloat64, gen);
  EXPECT_TRUE(cpu_matches_reference([&] { return transpose(wide, 0, 1); }));
}

// Forward and backward through autograd, float32, on the CPU kernels. cat's backward narrows,
// which runs the reference kernel, as does oneDNN's pad (narrow's backward) for an empty
// gradient.
TEST(ShapeOpsCpuTest, GradientsMatchTheReference) {
  EXPECT_TRUE(matches_reference(
      [](const std::vector<Tensor>& in) { return permute(in[0], {2, 0, 3, 1}); },
      {random_input({3, 5, 7, 2})}));
  EXPECT_TRUE(matches_reference(
      [](const std::vector<Tensor>& in) { return cat({in[0], in[1], in[0]}, -2); },
      {random_input({2, 3, 5}), random_input({2, 7, 5})},
      allowing_reference_kernels({"NarrowFwd"})));
  EXPECT_TRUE(matches_reference(
      [](const std::vector<Tensor>& in) { return cat({in[0], narrow(in[1], 0, 1, 0)}, 0); },
      {random_input({2, 3}), random_input({4, 3})},
      allowing_reference_kernels({"NarrowFwd", "ConstantPadFwd"})));
}

// A conv's channel-blocked output reaches the plain-only kernels as a plain copy (the
// dispatcher's, core/dispatch.h); 13 channels leave the last block padded.
TEST(ShapeOpsCpuTest, BlockedInputsArriveAsPlainCopies) {
  Tensor x = blocked_input({2, 13, 5, 3});
  ASSERT_FALSE(x.is_plain());
  Tensor plain = x.to_plain();
  const auto expect_plain_and_same = [](const Tensor& from_blocked, const Tensor& expected) {
    EXPECT_TRUE(from_blocked.is_plain());
    EXPECT_TRUE(same_bits(from_blocked, expected));
  };
  expect_plain_and_same(permute(x, {0, 2, 3, 1}),
                        on(Backend::kRef, [&] { return permute(plain, {0, 2, 3, 1}); }));
  expect_plain_and_same(narrow(x, 1, 3, 9),
                        on(Backend::kRef, [&] { return narrow(plain, 1, 3, 9); }));
  expect_plain_and_same(cat({x, plain}, 1),
                        on(Backend::kRef, [&] { return cat({plain, plain}, 1); }));
}

}  // namespace
}  // namespace bitgrad
