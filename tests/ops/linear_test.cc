#include "ops/linear.h"

#include "core/random.h"
#include "gtest/gtest.h"
#include "tests/testing/assertions.h"
#include "tests/testing/gradcheck.h"

namespace bitgrad {
namespace {

using testing::all_close;
using testing::gradcheck;
using testing::throws_error;

// The transpose of a 2-D tensor, by explicit copying (for feeding the transpose flags).
Tensor transposed(const Tensor& t) {
  std::vector<double> v = t.to_vector<double>(), out(v.size());
  int64_t rows = t.size(0), cols = t.size(1);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) out[j * rows + i] = v[i * cols + j];
  }
  return from_vector(out, {cols, rows}).to(t.dtype());
}

// a @ b by the textbook sum, in double.
Tensor expected_matmul(const Tensor& a, const Tensor& b) {
  std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  int64_t m = a.size(0), k = a.size(1), n = b.size(1);
  std::vector<double> out(m * n, 0.0);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t p = 0; p < k; ++p) {
      for (int64_t j = 0; j < n; ++j) out[i * n + j] += va[i * k + p] * vb[p * n + j];
    }
  }
  return from_vector(out, {m, n});
}

TEST(MatmulTest, HandComputedProduct) {
  Tensor a = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = from_vector<float>({7, 8, 9, 10, 11, 12}, {3, 2});
  EXPECT_TRUE(all_close(matmul(a, b), from_vector<float>({58, 64, 139, 154}, {2, 2})));
  // A row times a column, and a column times a row.
  Tensor row = from_vector<double>({1, -2, 3}, {1, 3});
  Tensor column = from_vector<double>({4, 5, 6}, {3, 1});
  EXPECT_TRUE(all_close(matmul(row, column), from_vector<double>({12}, {1, 1})));
  EXPECT_TRUE(all_close(matmul(column, row),
                        from_vector<double>({4, -8, 12, 5, -10, 15, 6, -12, 18}, {3, 3})));
}

TEST(MatmulTest, TransposeFlagsReadTheOperandsTransposed) {
  Tensor a = randn({4, 5}, DType::kFloat64), b = randn({5, 3}, DType::kFloat64);
  Tensor expected = expected_matmul(a, b);
  Tensor at = transposed(a), bt = transposed(b);
  EXPECT_TRUE(all_close(call<MatmulFwd>(a, b, false, false), expected, 1e-12, 1e-12));
  EXPECT_TRUE(all_close(call<MatmulFwd>(at, b, true, false), expected, 1e-12, 1e-12));
  EXPECT_TRUE(all_close(call<MatmulFwd>(a, bt, false, true), expected, 1e-12, 1e-12));
  EXPECT_TRUE(all_close(call<MatmulFwd>(at, bt, true, true), expected, 1e-12, 1e-12));
}

TEST(MatmulTest, Float32MatchesDoubleSum) {
  Tensor a = randn({17, 33}), b = randn({33, 9});
  EXPECT_TRUE(all_close(matmul(a, b), expected_matmul(a, b).to(DType::kFloat32), 1e-5, 1e-5));
}

TEST(MatmulTest, GradcheckBothInputs) {
  Tensor a = randn({3, 4}, DType::kFloat64).set_requires_grad();
  Tensor b = randn({4, 5}, DType::kFloat64).set_requires_grad();
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& t) { return matmul(t[0], t[1]); }, {a, b}));
  Tensor c = randn({4, 5}, DType::kFloat64);  // b without grad: only a is checked
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& t) { return matmul(t[0], t[1]); }, {a, c}));
}

TEST(LinearTest, HandComputedWithAndWithoutBias) {
  Tensor x = from_vector<double>({1, 2, 3, -1, 0, 1}, {2, 3});
  Tensor w = from_vector<double>({1, 0, 0, 1, 1, 1}, {2, 3});  // (out=2, in=3)
  Tensor bias = from_vector<double>({10, -10}, {2});
  EXPECT_TRUE(all_close(linear(x, w), from_vector<double>({1, 6, -1, 0}, {2, 2})));
  EXPECT_TRUE(all_close(linear(x, w, bias), from_vector<double>({11, -4, 9, -10}, {2, 2})));
}

TEST(LinearTest, EqualsMatmulWithTransposedWeight) {
  Tensor x = randn({6, 8}), w = randn({5, 8});
  EXPECT_TRUE(all_close(linear(x, w), expected_matmul(x, transposed(w)).to(DType::kFloat32),
                        1e-5, 1e-5));
}

TEST(LinearTest, GradcheckInputWeightAndBias) {
  Tensor x = randn({3, 4}, DType::kFloat64).set_requires_grad();
  Tensor w = randn({5, 4}, DType::kFloat64).set_requires_grad();
  Tensor bias = randn({5}, DType::kFloat64).set_requires_grad();
  auto fn = [](const std::vector<Tensor>& t) { return linear(t[0], t[1], t[2]); };
  EXPECT_TRUE(gradcheck(fn, {x, w, bias}));
  EXPECT_TRUE(gradcheck(fn, {x, w, Tensor()}));
}

TEST(LinearTest, ErrorsNameTheOpAndShapes) {
  EXPECT_TRUE(throws_error([] { matmul(zeros({2, 3}), zeros({4, 2})); },
                           {"matmul", "(M, K) @ (K, N)", "(2, 3)", "(4, 2)"}));
  EXPECT_TRUE(throws_error([] { matmul(zeros({3}), zeros({3, 2})); }, {"matmul", "(3)", "(3, 2)"}));
  EXPECT_TRUE(throws_error([] { matmul(zeros({2, 3}), zeros({3, 2}, DType::kFloat64)); },
                           {"matmul", "float32", "float64"}));
  EXPECT_TRUE(throws_error(
      [] { matmul(zeros({2, 3}, DType::kInt64), zeros({3, 2}, DType::kInt64)); },
      {"matmul", "int64"}));
  EXPECT_TRUE(throws_error([] { call<MatmulFwd>(zeros({2, 3}), zeros({2, 3}), false, false); },
                           {"matmul", "(2, 3)", "(2, 3)"}));
  EXPECT_TRUE(throws_error([] { linear(zeros({2, 3}), zeros({4, 5})); },
                           {"linear", "(N, in)", "(2, 3)", "(4, 5)"}));
  EXPECT_TRUE(throws_error([] { linear(zeros({2, 3}), zeros({4, 3}), zeros({3})); },
                           {"linear", "bias", "(4)", "(3)"}));
  EXPECT_TRUE(throws_error([] { linear(zeros({2, 3}), zeros({4, 3}, DType::kFloat64)); },
                           {"linear", "float32", "float64"}));
  EXPECT_TRUE(throws_error(
      [] { linear(zeros({2, 3}), zeros({4, 3}), zeros({4}, DType::kFloat64)); },
      {"linear", "bias", "float64"}));
}

}  // namespace
}  // namespace bitgrad
