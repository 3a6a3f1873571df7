#include "ops/shape_ops.h"

#include <cstdint>
#include <vector>

#include "core/random.h"
#include "gtest/gtest.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "tests/testing/assertions.h"
#include "tests/testing/gradcheck.h"

namespace bitgrad {
namespace {

using testing::all_close;
using testing::gradcheck;
using testing::same_bits;
using testing::throws_error;

// Every test runs the reference kernels, whatever faster backends are linked in.
class ShapeOpsTest : public ::testing::Test {
  BackendOverride reference_{Backend::kRef};
};

// 0, 1, 2, ... in `shape`, as float64: every element tells where it came from.
Tensor counting(const Shape& shape, DType dtype = DType::kFloat64) {
  std::vector<double> values(shape.numel());
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<double>(i);
  return from_vector<double>(values, shape).to(dtype);
}

TEST_F(ShapeOpsTest, TransposeOfAMatrix) {
  Tensor x = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor expected = from_vector<float>({1, 4, 2, 5, 3, 6}, {3, 2});
  EXPECT_TRUE(all_close(transpose(x, 0, 1), expected, 0, 0));
  EXPECT_TRUE(all_close(transpose(x, -1, -2), expected, 0, 0));
  EXPECT_TRUE(all_close(permute(x, {1, 0}), expected, 0, 0));
  EXPECT_TRUE(all_close(transpose(x, 1, 1), x, 0, 0));  // a dim with itself: a copy
}

TEST_F(ShapeOpsTest, PermuteOfARank3Tensor) {
  // x[i][j][k] = 100 i + 10 j + k, shape (2, 3, 4); y = x.permute(2, 0, 1) has y[k][i][j].
  std::vector<int64_t> values;
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t k = 0; k < 4; ++k) values.push_back(100 * i + 10 * j + k);
  Tensor x = from_vector<int64_t>(values, {2, 3, 4});
  Tensor y = permute(x, {2, 0, 1});
  ASSERT_EQ(y.shape(), Shape({4, 2, 3}));
  EXPECT_EQ(y.dtype(), DType::kInt64);
  EXPECT_EQ(y.to_vector<int64_t>(),
            std::vector<int64_t>({0, 10, 20, 100, 110, 120, 1, 11, 21, 101, 111, 121,
                                  2, 12, 22, 102, 112, 122, 3, 13, 23, 103, 113, 123}));
  // Negative dims count from the back: (-1, 0, -2) is (2, 0, 1).
  EXPECT_TRUE(same_bits(permute(x, {-1, 0, -2}), y));
}

TEST_F(ShapeOpsTest, PermuteOfARank4TensorAgainstIndexing) {
  Tensor x = counting({2, 3, 4, 5});
  Tensor y = permute(x, {3, 1, 0, 2});
  ASSERT_EQ(y.shape(), Shape({5, 3, 2, 4}));
  for (int64_t a = 0; a < 5; ++a)
    for (int64_t b = 0; b < 3; ++b)
      for (int64_t c = 0; c < 2; ++c)
        for (int64_t d = 0; d < 4; ++d) {
          // y[a, b, c, d] = x[c, b, d, a]: output dim k is input dim dims[k].
          ASSERT_EQ(y.at<double>({a, b, c, d}), x.at<double>({c, b, d, a}));
        }
  // NCHW -> NHWC and back again.
  Tensor nhwc = permute(x, {0, 2, 3, 1});
  EXPECT_EQ(nhwc.shape(), Shape({2, 4, 5, 3}));
  EXPECT_TRUE(same_bits(permute(nhwc, {0, 3, 1, 2}), x));
}

TEST_F(ShapeOpsTest, PermuteOfRanksZeroAndOneAndOfEmptyTensors) {
  Tensor scalar = scalar_tensor(2.5, DType::kFloat64);
  EXPECT_TRUE(same_bits(permute(scalar, {}), scalar));
  Tensor v = from_vector<float>({1, 2, 3}, {3});
  Tensor same = permute(v, {-1});
  EXPECT_TRUE(same_bits(same, v));
  EXPECT_FALSE(same.is_same(v));  // a new tensor, as every shape op returns
  EXPECT_EQ(transpose(zeros({0, 3, 2}), 0, 2).shape(), Shape({2, 3, 0}));
}

TEST_F(ShapeOpsTest, EveryDtypeMovesUnchanged) {
  Tensor x = counting({3, 5});
  for (DType dtype : {DType::kFloat32, DType::kFloat64, DType::kInt64, DType::kUInt8,
                      DType::kBFloat16, DType::kFloat16}) {
    SCOPED_TRACE(dtype_name(dtype));
    Tensor typed = x.to(dtype);
    // The values 0..14 are exact in every dtype, so converting back compares exactly.
    EXPECT_TRUE(same_bits(transpose(typed, 0, 1).to(DType::kFloat64), transpose(x, 0, 1)));
    EXPECT_TRUE(same_bits(cat({typed, typed}, 1).to(DType::kFloat64), cat({x, x}, 1)));
    EXPECT_TRUE(same_bits(narrow(typed, 1, 1, 3).to(DType::kFloat64), narrow(x, 1, 1, 3)));
    EXPECT_EQ(transpose(typed, 0, 1).dtype(), dtype);
  }
}

TEST_F(ShapeOpsTest, CatAlongEachDim) {
  Tensor a = from_vector<float>({1, 2, 3, 4}, {2, 2});
  Tensor b = from_vector<float>({5, 6}, {2, 1});
  Tensor c = from_vector<float>({7, 8}, {1, 2});
  EXPECT_TRUE(all_close(cat({a, b}, 1), from_vector<float>({1, 2, 5, 3, 4, 6}, {2, 3}), 0, 0));
  EXPECT_TRUE(all_close(cat({a, b}, -1), from_vector<float>({1, 2, 5, 3, 4, 6}, {2, 3}), 0, 0));
  EXPECT_TRUE(all_close(cat({a, c, a}, 0),
                        from_vector<float>({1, 2, 3, 4, 7, 8, 1, 2, 3, 4}, {5, 2}), 0, 0));
  // Rank 1, and one tensor alone (a copy).
  Tensor v = from_vector<int64_t>({1, 2, 3}, {3});
  EXPECT_EQ(cat({v, from_vector<int64_t>({4}, {1})}, 0).to_vector<int64_t>(),
            std::vector<int64_t>({1, 2, 3, 4}));
  Tensor alone = cat({a}, 0);
  EXPECT_TRUE(same_bits(alone, a));
  EXPECT_FALSE(alone.is_same(a));
}

TEST_F(ShapeOpsTest, CatOfOddRank4PiecesAgainstIndexing) {
  Tensor p = counting({2, 3, 1, 5}), q = counting({2, 3, 4, 5}) + 1000.0;
  Tensor y = cat({p, q}, -2);
  ASSERT_EQ(y.shape(), Shape({2, 3, 5, 5}));
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t h = 0; h < 5; ++h)
        for (int64_t w = 0; w < 5; ++w) {
          double expected = h < 1 ? p.at<double>({n, c, h, w}) : q.at<double>({n, c, h - 1, w});
          ASSERT_EQ(y.at<double>({n, c, h, w}), expected);
        }
}

TEST_F(ShapeOpsTest, CatSkipsNothingForAZeroLengthPiece) {
  Tensor a = counting({3, 2});
  Tensor empty_piece = zeros({3, 0}, DType::kFloat64);
  Tensor y = cat({empty_piece, a, empty_piece}, 1);
  EXPECT_TRUE(same_bits(y, a));
  EXPECT_EQ(cat({empty_piece, empty_piece}, 1).shape(), Shape({3, 0}));
  EXPECT_EQ(cat({empty_piece, empty_piece}, 0).shape(), Shape({6, 0}));
}

TEST_F(ShapeOpsTest, NarrowTakesASlice) {
  Tensor x = from_vector<float>({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {3, 4});
  EXPECT_TRUE(all_close(narrow(x, 1, 1, 2), from_vector<float>({2, 3, 6, 7, 10, 11}, {3, 2}),
                        0, 0));
  EXPECT_TRUE(all_close(narrow(x, 0, 2, 1), from_vector<float>({9, 10, 11, 12}, {1, 4}), 0, 0));
  // Negative dim and start count from the back.
  EXPECT_TRUE(all_close(narrow(x, -1, -1, 1), from_vector<float>({4, 8, 12}, {3, 1}), 0, 0));
  EXPECT_TRUE(same_bits(narrow(x, 0, 0, 3), x));
  EXPECT_EQ(narrow(x, 1, 4, 0).shape(), Shape({3, 0}));  // an empty slice at the end
  EXPECT_EQ(narrow(x, 0, 1, 0).shape(), Shape({0, 4}));
  Tensor v = from_vector<int64_t>({5, 6, 7, 8, 9}, {5});
  EXPECT_EQ(narrow(v, 0, 1, 3).to_vector<int64_t>(), std::vector<int64_t>({6, 7, 8}));
}

TEST_F(ShapeOpsTest, NarrowOfARank4TensorAgainstIndexing) {
  Tensor x = counting({3, 4, 5, 2});
  Tensor y = narrow(x, 2, 1, 3);
  ASSERT_EQ(y.shape(), Shape({3, 4, 3, 2}));
  for (int64_t a = 0; a < 3; ++a)
    for (int64_t b = 0; b < 4; ++b)
      for (int64_t c = 0; c < 3; ++c)
        for (int64_t d = 0; d < 2; ++d) {
          ASSERT_EQ(y.at<double>({a, b, c, d}), x.at<double>({a, b, c + 1, d}));
        }
}

TEST_F(ShapeOpsTest, CatUndoesNarrow) {
  Tensor x = randn({4, 7, 3}, DType::kFloat32);
  Tensor joined = cat({narrow(x, 1, 0, 2), narrow(x, 1, 2, 0), narrow(x, 1, 2, 5)}, 1);
  EXPECT_TRUE(same_bits(joined, x));
}

TEST_F(ShapeOpsTest, BackwardValues) {
  // Each gradient by hand: y = permute/cat/narrow, loss = sum(w * y).
  Tensor x = from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3}).set_requires_grad();
  Tensor w = from_vector<double>({10, 20, 30, 40, 50, 60}, {3, 2});
  sum(transpose(x, 0, 1) * w).backward();
  EXPECT_TRUE(all_close(x.grad(), from_vector<double>({10, 30, 50, 20, 40, 60}, {2, 3}), 0, 0));

  Tensor a = from_vector<double>({1, 2}, {2}).set_requires_grad();
  Tensor b = from_vector<double>({3, 4, 5}, {3}).set_requires_grad();
  sum(cat({a, b}, 0) * from_vector<double>({1, 2, 3, 4, 5}, {5})).backward();
  EXPECT_TRUE(all_close(a.grad(), from_vector<double>({1, 2}, {2}), 0, 0));
  EXPECT_TRUE(all_close(b.grad(), from_vector<double>({3, 4, 5}, {3}), 0, 0));

  Tensor v = from_vector<double>({1, 2, 3, 4, 5}, {5}).set_requires_grad();
  sum(narrow(v, 0, 1, 3) * from_vector<double>({7, 8, 9}, {3})).backward();
  EXPECT_TRUE(all_close(v.grad(), from_vector<double>({0, 7, 8, 9, 0}, {5}), 0, 0));
}

TEST_F(ShapeOpsTest, GradcheckPermuteAndTranspose) {
  const std::vector<std::pair<Shape, std::vector<int64_t>>> cases = {
      {{7}, {0}},
      {{3, 5}, {1, 0}},
      {{2, 3, 5}, {2, 0, 1}},
      {{2, 3, 4, 5}, {0, 2, 3, 1}},   // NCHW -> NHWC
      {{3, 1, 2, 5}, {-1, -3, 0, 2}},  // negative dims, an extent of 1
  };
  for (const auto& [shape, dims] : cases) {
    SCOPED_TRACE(::testing::Message() << "shape " << shape << " dims " << Shape(dims));
    Tensor x = randn(shape, DType::kFloat64).set_requires_grad();
    std::vector<int64_t> order = dims;
    EXPECT_TRUE(gradcheck([order](const std::vector<Tensor>& in) { return permute(in[0], order); },
                          {x}));
  }
  Tensor x = randn({3, 4, 5}, DType::kFloat64).set_requires_grad();
  EXPECT_TRUE(
      gradcheck([](const std::vector<Tensor>& in) { return transpose(in[0], -1, 0); }, {x}));
}

TEST_F(ShapeOpsTest, GradcheckCat) {
  Tensor a = randn({2, 3, 4}, DType::kFloat64).set_requires_grad();
  Tensor b = randn({2, 1, 4}, DType::kFloat64).set_requires_grad();
  Tensor c = randn({2, 5, 4}, DType::kFloat64);  // no gradient wanted: backward skips it
  Tensor empty_piece = randn({2, 0, 4}, DType::kFloat64).set_requires_grad();
  EXPECT_TRUE(gradcheck(
      [](const std::vector<Tensor>& in) { return cat({in[0], in[1], in[2], in[3]}, 1); },
      {a, empty_piece, b, c}));
  Tensor v = randn({5}, DType::kFloat64).set_requires_grad();
  Tensor w = randn({3}, DType::kFloat64).set_requires_grad();
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return cat({in[0], in[1]}, -1); },
                        {v, w}));
  Tensor p = randn({3, 2, 2, 3}, DType::kFloat64).set_requires_grad();
  Tensor q = randn({3, 2, 2, 1}, DType::kFloat64).set_requires_grad();
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return cat({in[0], in[1]}, 3); },
                        {p, q}));
  // A tensor given twice gets both slices' gradients summed.
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return cat({in[0], in[1], in[0]}, 0); },
                        {v, w}));
}

TEST_F(ShapeOpsTest, GradcheckNarrow) {
  struct Case {
    Shape shape;
    int64_t dim, start, length;
  };
  const std::vector<Case> cases = {
      {{7}, 0, 2, 4},         {{3, 5}, 1, 0, 5},     {{3, 5}, -2, -2, 2},
      {{2, 3, 5}, 2, 3, 2},   {{2, 3, 4, 5}, 1, 1, 1}, {{2, 3, 4, 5}, 3, 2, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << "shape " << c.shape << " dim " << c.dim << " start "
                                      << c.start << " length " << c.length);
    Tensor x = randn(c.shape, DType::kFloat64).set_requires_grad();
    EXPECT_TRUE(gradcheck(
        [c](const std::vector<Tensor>& in) { return narrow(in[0], c.dim, c.start, c.length); },
        {x}));
  }
}

TEST_F(ShapeOpsTest, PermuteErrorsNameTheOpTheDimsAndTheShape) {
  Tensor x = zeros({2, 3, 4});
  EXPECT_TRUE(throws_error([&] { permute(x, {0, 1}); },
                           {"permute", "expected 3 dims", "(2, 3, 4)", "got 2"}));
  EXPECT_TRUE(throws_error([&] { permute(x, {0, 3, 1}); },
                           {"permute", "dimension 3", "out of range", "(2, 3, 4)"}));
  EXPECT_TRUE(throws_error([&] { permute(x, {0, -4, 1}); }, {"permute", "dimension -4"}));
  EXPECT_TRUE(throws_error([&] { permute(x, {1, 1, 0}); },
                           {"permute", "dimension 1 appears twice", "(1, 1, 0)", "(2, 3, 4)"}));
  EXPECT_TRUE(throws_error([&] { permute(x, {2, -1, 0}); },
                           {"permute", "dimension 2 appears twice"}));
  EXPECT_TRUE(throws_error([&] { permute(Tensor(), {}); }, {"permute", "undefined"}));
  EXPECT_TRUE(throws_error([&] { transpose(x, 0, 3); },
                           {"transpose", "dimension 3", "out of range", "(2, 3, 4)"}));
  EXPECT_TRUE(throws_error([&] { transpose(x, -4, 0); }, {"transpose", "dimension -4"}));
  // The kernel checks its own contract: non-negative dims, each once.
  EXPECT_TRUE(throws_error([&] { call<PermuteFwd>(x, std::vector<int64_t>{0, -1, 1}); },
                           {"permute", "dimension -1", "(2, 3, 4)"}));
}

TEST_F(ShapeOpsTest, CatErrorsNameTheOpAndTheTensors) {
  Tensor a = zeros({2, 3});
  EXPECT_TRUE(throws_error([&] { cat({}, 0); }, {"cat", "at least one tensor"}));
  EXPECT_TRUE(throws_error([&] { cat({a, zeros({3, 3})}, 1); },
                           {"cat", "except in dimension 1", "(2, 3) (tensor 0)",
                            "(3, 3) (tensor 1)"}));
  EXPECT_TRUE(throws_error([&] { cat({a, a, zeros({2, 3, 1})}, 0); },
                           {"cat", "(2, 3, 1) (tensor 2)"}));
  EXPECT_TRUE(throws_error([&] { cat({a, zeros({2, 3}, DType::kFloat64)}, 0); },
                           {"cat", "one dtype", "float32 (tensor 0)", "float64 (tensor 1)"}));
  EXPECT_TRUE(throws_error([&] { cat({a, Tensor()}, 0); }, {"cat", "tensor 1 of 2", "undefined"}));
  EXPECT_TRUE(throws_error([&] { cat({a, a}, 2); },
                           {"cat", "dimension 2", "out of range", "(2, 3)"}));
  EXPECT_TRUE(throws_error([&] { cat({a, a}, -3); }, {"cat", "dimension -3"}));
  EXPECT_TRUE(throws_error([&] { cat({scalar_tensor(1.0), scalar_tensor(2.0)}, 0); },
                           {"cat", "dimension 0", "shape ()"}));
  EXPECT_TRUE(throws_error([&] { call<CatFwd>(std::vector<Tensor>{a, zeros({2, 4})}, 0); },
                           {"cat", "except in dimension 0"}));
}

TEST_F(ShapeOpsTest, NarrowErrorsNameTheOpTheRangeAndTheShape) {
  Tensor x = zeros({2, 5});
  EXPECT_TRUE(throws_error([&] { narrow(x, 1, 3, 3); },
                           {"narrow", "length 3 from start 3", "dimension 1", "(2, 5)",
                            "expected 0 to 2"}));
  // The start as given, not normalised.
  EXPECT_TRUE(throws_error([&] { narrow(x, 1, -2, 3); },
                           {"narrow", "length 3 from start -2", "expected 0 to 2"}));
  EXPECT_TRUE(throws_error([&] { narrow(x, 1, 6, 0); }, {"narrow", "start 6", "-5 to 5"}));
  EXPECT_TRUE(throws_error([&] { narrow(x, 1, -6, 1); }, {"narrow", "start -6", "(2, 5)"}));
  EXPECT_TRUE(throws_error([&] { narrow(x, 0, 0, -1); }, {"narrow", "length -1"}));
  EXPECT_TRUE(throws_error([&] { narrow(x, 2, 0, 1); },
                           {"narrow", "dimension 2", "out of range", "(2, 5)"}));
  EXPECT_TRUE(throws_error([&] { narrow(Tensor(), 0, 0, 1); }, {"narrow", "undefined"}));
  EXPECT_TRUE(throws_error([&] { call<NarrowFwd>(x, int64_t{1}, int64_t{-1}, int64_t{1}); },
                           {"narrow", "start -1", "(2, 5)"}));
}

}  // namespace
}  // namespace bitgrad
