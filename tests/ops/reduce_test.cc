#include "ops/reduce.h"

#include <numeric>

#include "core/random.h"
#include "gtest/gtest.h"
#include "tests/testing/assertions.h"
#include "tests/testing/gradcheck.h"

namespace bitgrad {
namespace {

using testing::all_close;
using testing::gradcheck;
using testing::throws_error;

// 0, 1, 2, ... in `shape`.
Tensor iota(const Shape& shape, DType dtype = DType::kFloat64) {
  std::vector<double> values(shape.numel());
  std::iota(values.begin(), values.end(), 0.0);
  return from_vector(values, shape).to(dtype);
}

// The (2, 3, 4) tensor 0..23 summed over each dim set, written out by hand:
// x[i][j][k] = 12 i + 4 j + k.
TEST(SumTest, HandComputedSumsOverEachDimSet) {
  Tensor x = iota({2, 3, 4});
  // Over i: 12 + 2 (4 j + k).
  EXPECT_TRUE(all_close(
      sum(x, {0}),
      from_vector<double>({12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34}, {3, 4})));
  // Over j: 3 (12 i + k) + 12.
  EXPECT_TRUE(
      all_close(sum(x, {1}), from_vector<double>({12, 15, 18, 21, 48, 51, 54, 57}, {2, 4})));
  // Over k: 4 (12 i + 4 j) + 6.
  EXPECT_TRUE(all_close(sum(x, {2}), from_vector<double>({6, 22, 38, 54, 70, 86}, {2, 3})));
  // Over i and k: 8 * 4 j + 2 * 6 + 4 * 12.
  EXPECT_TRUE(all_close(sum(x, {0, 2}), from_vector<double>({60, 92, 124}, {3})));
  // Everything: 0 + ... + 23.
  Tensor total = sum(x);
  EXPECT_EQ(total.shape(), Shape{});
  EXPECT_EQ(total.item<double>(), 276.0);
}

TEST(SumTest, KeepdimAndNegativeDimsWorkAndRepeatedOnesAreRefused) {
  Tensor x = iota({2, 3, 4});
  Tensor kept = sum(x, {1}, /*keepdim=*/true);
  EXPECT_EQ(kept.shape(), Shape({2, 1, 4}));
  EXPECT_TRUE(all_close(kept.view({2, 4}), sum(x, {1})));
  EXPECT_TRUE(all_close(sum(x, {-1}), sum(x, {2})));
  EXPECT_TRUE(all_close(sum(x, {-3, -1}, true), sum(x, {0, 2}, true)));
  EXPECT_EQ(sum(x, {-3, -1}, true).shape(), Shape({1, 3, 1}));
  // One dim named twice is refused, as numpy and PyTorch refuse it.
  EXPECT_TRUE(throws_error([&] { sum(x, {1, -2}); }, {"sum: dimension 1 is given twice"}));
  EXPECT_TRUE(throws_error([&] { mean(x, {0, 0}); }, {"mean: dimension 0 is given twice"}));
  EXPECT_TRUE(all_close(sum(x, {2, 0}), sum(x, {0, 2})));
  Tensor all_kept = sum(x, {}, true);
  EXPECT_EQ(all_kept.shape(), Shape({1, 1, 1}));
  EXPECT_EQ(all_kept.item<double>(), 276.0);
}

TEST(SumTest, ZeroDimInputsAndEmptyReductions) {
  Tensor scalar = scalar_tensor(2.5, DType::kFloat64);
  EXPECT_EQ(sum(scalar).shape(), Shape{});
  EXPECT_EQ(sum(scalar).item<double>(), 2.5);
  // Summing over an empty dim gives zeros.
  Tensor empty_rows = zeros({0, 3});
  EXPECT_TRUE(all_close(sum(empty_rows, {0}), zeros({3})));
}

TEST(SumTest, Float32AccumulatesAccurately) {
  // 100000 copies of 0.1f summed in a float accumulator drift by far more than 1e-2.
  Tensor x = full({100000}, 0.1, DType::kFloat32);
  EXPECT_NEAR(sum(x).item<double>(), 100000 * static_cast<double>(0.1f), 1e-2);
}

TEST(MeanTest, HandComputedAndKeepdim) {
  Tensor x = iota({2, 3, 4});
  EXPECT_EQ(mean(x).item<double>(), 11.5);
  EXPECT_TRUE(all_close(mean(x, {-1}), from_vector<double>({1.5, 5.5, 9.5, 13.5, 17.5, 21.5},
                                                           {2, 3})));
  Tensor kept = mean(x, {0, 1}, true);
  EXPECT_EQ(kept.shape(), Shape({1, 1, 4}));
  EXPECT_TRUE(all_close(kept, from_vector<double>({10, 11, 12, 13}, {1, 1, 4})));
  EXPECT_TRUE(all_close(mean(iota({4}, DType::kFloat32)), scalar_tensor(1.5)));
}

TEST(ExpandTest, BroadcastsSizeOneAndLeadingDims) {
  Tensor column = from_vector<double>({1, 2, 3}, {3, 1});
  EXPECT_TRUE(all_close(expand(column, {2, 3, 2}),
                        from_vector<double>({1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}, {2, 3, 2})));
  Tensor scalar = scalar_tensor(7, DType::kFloat64);
  EXPECT_TRUE(all_close(expand(scalar, {2, 2}), full({2, 2}, 7, DType::kFloat64)));
  Tensor same = iota({2, 3});
  EXPECT_TRUE(all_close(expand(same, {2, 3}), same));
}

TEST(ReduceTest, GradcheckSumMeanExpand) {
  Tensor x = randn({2, 3, 4}, DType::kFloat64).set_requires_grad();
  for (bool keepdim : {false, true}) {
    for (const std::vector<int64_t>& dims :
         {std::vector<int64_t>{}, {0}, {-1}, {0, 2}, {1, 2}}) {
      auto sum_fn = [&](const std::vector<Tensor>& t) { return sum(t[0], dims, keepdim); };
      auto mean_fn = [&](const std::vector<Tensor>& t) { return mean(t[0], dims, keepdim); };
      EXPECT_TRUE(gradcheck(sum_fn, {x}));
      EXPECT_TRUE(gradcheck(mean_fn, {x}));
    }
  }
  Tensor row = randn({1, 4}, DType::kFloat64).set_requires_grad();
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& t) { return expand(t[0], {3, 2, 4}); },
                        {row}));
  Tensor scalar = scalar_tensor(0.3, DType::kFloat64).set_requires_grad();
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& t) { return expand(t[0], {2, 3}); },
                        {scalar}));
}

TEST(ReduceTest, ErrorsNameTheOpAndShapes) {
  Tensor x = zeros({2, 3, 4});
  EXPECT_TRUE(throws_error([&] { sum(x, {3}); }, {"sum", "dimension 3", "rank 3"}));
  EXPECT_TRUE(throws_error([&] { mean(x, {-4}); }, {"mean", "dimension -4", "rank 3"}));
  EXPECT_TRUE(throws_error([&] { mean(zeros({2, 0}), {1}); }, {"mean", "empty", "(2, 0)"}));
  EXPECT_TRUE(throws_error([&] { expand(zeros({3, 2}), {2, 3}); }, {"expand", "(3, 2)", "(2, 3)"}));
  EXPECT_TRUE(throws_error([&] { expand(zeros({2, 3}), {3}); }, {"expand", "(2, 3)", "(3)"}));
  EXPECT_TRUE(throws_error([&] { sum(zeros({2}, DType::kInt64)); }, {"sum", "int64"}));
  EXPECT_TRUE(throws_error([&] { mean(zeros({2}, DType::kInt64)); }, {"mean: expected", "int64"}));
}

}  // namespace
}  // namespace bitgrad
