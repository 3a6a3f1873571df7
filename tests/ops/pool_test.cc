#include "ops/pool.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/random.h"
#include "gtest/gtest.h"
#include "ops/elementwise.h"
#include "ops/pad.h"
#include "tests/testing/assertions.h"
#include "tests/testing/gradcheck.h"

namespace bitgrad {
namespace {

using testing::all_close;
using testing::gradcheck;
using testing::throws_error;

constexpr double kInf = std::numeric_limits<double>::infinity();

Pool2dAttrs make_attrs(int64_t kernel, int64_t stride, int64_t padding) {
  return Pool2dAttrs{{kernel, kernel}, {stride, stride}, {padding, padding}};
}

// Distinct values 0.1 apart, about half negative, none within 0.05 of zero, in random places:
// no two elements of a window tie, nor does a zero pad, so finite differences cross no kink.
Tensor distinct_values(const Shape& shape) {
  Tensor order = randperm(shape.numel()).to(DType::kFloat64);
  double middle = static_cast<double>(shape.numel() / 2);
  return ((order - middle) * 0.1 + 0.05).detach().view(shape);
}

// Every test runs the reference kernels, whatever faster backends are linked in.
class MaxPool2dTest : public ::testing::Test {
  BackendOverride reference_{Backend::kRef};
};

// ---------------------------------------------------------------------------------------------
// Forward values and the workspace.

TEST_F(MaxPool2dTest, HandComputedTwoByTwo) {
  Tensor x = from_vector<float>({1, 5, 2, 0,    //
                                 3, -1, 7, 8,   //
                                 -4, 6, 9, 2,   //
                                 0, 2, 3, 10},  //
                                {1, 1, 4, 4});
  MaxPool2dResult result = call<MaxPool2dFwd>(x, make_attrs(2, 2, 0));
  EXPECT_TRUE(all_close(result.y, from_vector<float>({5, 8, 6, 10}, {1, 1, 2, 2})));
  // Flat indices h * W + w of the maxima within the 4x4 plane.
  EXPECT_EQ(result.workspace.dtype(), DType::kInt64);
  EXPECT_EQ(result.workspace.to_vector<int64_t>(), (std::vector<int64_t>{1, 7, 9, 15}));
}

TEST_F(MaxPool2dTest, PaddingIsMinusInfinity) {
  // All negative: a zero pad would win every border window; -inf padding never wins.
  Tensor x = from_vector<double>({-1, -2, -3,   //
                                  -4, -5, -6,   //
                                  -7, -8, -9},  //
                                 {1, 1, 3, 3});
  MaxPool2dResult result = call<MaxPool2dFwd>(x, make_attrs(3, 2, 1));
  EXPECT_TRUE(all_close(result.y, from_vector<double>({-1, -2, -4, -5}, {1, 1, 2, 2})));
  EXPECT_EQ(result.workspace.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 3, 4}));
}

TEST_F(MaxPool2dTest, TiesPickTheFirstElementInRowMajorWindowOrder) {
  Tensor x = from_vector<double>({1, 3, 3,   //
                                  3, 3, 0,   //
                                  2, 3, 3},  //
                                 {1, 1, 3, 3});
  MaxPool2dResult result = call<MaxPool2dFwd>(x, make_attrs(2, 1, 0));
  EXPECT_TRUE(all_close(result.y, from_vector<double>({3, 3, 3, 3}, {1, 1, 2, 2})));
  EXPECT_EQ(result.workspace.to_vector<int64_t>(), (std::vector<int64_t>{1, 1, 3, 4}));
  // Through autograd: each output's gradient goes to its window's first maximum only.
  Tensor leaf = x.detach().set_requires_grad();
  max_pool2d(leaf, make_attrs(2, 1, 0))
      .backward(from_vector<double>({1, 10, 100, 1000}, {1, 1, 2, 2}));
  EXPECT_TRUE(all_close(leaf.grad(), from_vector<double>({0, 11, 0, 100, 1000, 0, 0, 0, 0},
                                                         {1, 1, 3, 3})));
}

TEST_F(MaxPool2dTest, NanPropagates) {
  Tensor x = from_vector<double>({1, std::nan(""), 2, 3}, {1, 1, 2, 2});
  EXPECT_TRUE(std::isnan(max_pool2d(x, make_attrs(2, 2, 0)).item<double>()));
}

struct PoolCase {
  Shape x;
  Pool2dAttrs attrs;
};

std::vector<PoolCase> pool_cases() {
  return {
      {{2, 3, 7, 7}, make_attrs(3, 2, 1)},  // BiT-like 3x3/s2 with -inf padding, odd size
      {{1, 2, 6, 5}, make_attrs(2, 2, 0)},  // floor: the last column is dropped
      {{1, 2, 7, 6}, make_attrs(3, 1, 1)},  // overlapping windows share maxima
      {{2, 1, 5, 8}, Pool2dAttrs{{3, 2}, {1, 2}, {1, 0}}},
      {{1, 1, 4, 4}, make_attrs(1, 2, 0)},
  };
}

TEST_F(MaxPool2dTest, PaddingEqualsMinusInfPadThenUnpaddedPool) {
  for (const PoolCase& c : pool_cases()) {
    SCOPED_TRACE(::testing::Message() << "x " << c.x);
    Tensor x = randn(c.x, DType::kFloat64);
    Pool2dAttrs unpadded = c.attrs;
    unpadded.padding = {0, 0};
    const int64_t ph = c.attrs.padding[0], pw = c.attrs.padding[1];
    Tensor expected = max_pool2d(pad(x, {pw, pw, ph, ph}, -kInf), unpadded);
    EXPECT_TRUE(all_close(max_pool2d(x, c.attrs), expected, 0, 0));
    // float32 picks the same maxima.
    EXPECT_TRUE(all_close(max_pool2d(x.to(DType::kFloat32), c.attrs), expected, 1e-6, 1e-6));
  }
}

TEST_F(MaxPool2dTest, EachOutputIsTheMaxOfItsWindow) {
  // Brute force over the definition, one output at a time, plus the workspace's pointers.
  for (const PoolCase& c : pool_cases()) {
    SCOPED_TRACE(::testing::Message() << "x " << c.x);
    Tensor x = distinct_values(c.x);
    MaxPool2dResult result = call<MaxPool2dFwd>(x, c.attrs);
    const Shape& out = result.y.shape();
    ASSERT_EQ(out, max_pool2d_output_shape(c.x, c.attrs));
    for (int64_t n = 0; n < out[0]; ++n)
      for (int64_t ch = 0; ch < out[1]; ++ch)
        for (int64_t i = 0; i < out[2]; ++i)
          for (int64_t j = 0; j < out[3]; ++j) {
            double best = -kInf;
            for (int64_t h = i * c.attrs.stride[0] - c.attrs.padding[0];
                 h < i * c.attrs.stride[0] - c.attrs.padding[0] + c.attrs.kernel[0]; ++h)
              for (int64_t w = j * c.attrs.stride[1] - c.attrs.padding[1];
                   w < j * c.attrs.stride[1] - c.attrs.padding[1] + c.attrs.kernel[1]; ++w)
                if (h >= 0 && h < c.x[2] && w >= 0 && w < c.x[3])
                  best = std::max(best, x.at<double>({n, ch, h, w}));
            ASSERT_EQ(result.y.at<double>({n, ch, i, j}), best);
            int64_t index = result.workspace.at<int64_t>({n, ch, i, j});
            ASSERT_EQ(x.at<double>({n, ch, index / c.x[3], index % c.x[3]}), best);
          }
  }
}

// ---------------------------------------------------------------------------------------------
// Gradients.

TEST_F(MaxPool2dTest, GradcheckWithoutTies) {
  for (const PoolCase& c : pool_cases()) {
    SCOPED_TRACE(::testing::Message() << "x " << c.x);
    Tensor x = distinct_values(c.x).set_requires_grad();
    Pool2dAttrs attrs = c.attrs;
    EXPECT_TRUE(gradcheck(
        [attrs](const std::vector<Tensor>& in) { return max_pool2d(in[0], attrs); }, {x}));
  }
}

TEST_F(MaxPool2dTest, GradcheckBitStemZeroPadThenPool) {
  // Half the values are negative, so border windows route some gradients into the zero pad.
  for (Shape shape : {Shape{2, 3, 7, 7}, Shape{1, 2, 8, 6}}) {
    Tensor x = distinct_values(shape).set_requires_grad();
    EXPECT_TRUE(gradcheck(
        [](const std::vector<Tensor>& in) {
          return max_pool2d(pad(in[0], {1, 1, 1, 1}, 0.0), make_attrs(3, 2, 0));
        },
        {x}));
  }
}

TEST_F(MaxPool2dTest, Float32BackwardAgreesWithFloat64) {
  Pool2dAttrs attrs = make_attrs(3, 1, 1);
  Tensor x = distinct_values({2, 2, 5, 6});
  MaxPool2dResult forward = call<MaxPool2dFwd>(x, attrs);
  Tensor dy = randn(forward.y.shape(), DType::kFloat64);
  Tensor dx64 = call<MaxPool2dBwd>(dy, x, forward.workspace, attrs);
  Tensor x32 = x.to(DType::kFloat32);
  Tensor dx32 = call<MaxPool2dBwd>(dy.to(DType::kFloat32), x32,
                                   call<MaxPool2dFwd>(x32, attrs).workspace, attrs);
  EXPECT_EQ(dx32.dtype(), DType::kFloat32);
  EXPECT_TRUE(all_close(dx32, dx64, 1e-5, 1e-5));
}

// ---------------------------------------------------------------------------------------------
// BiT's stem (reference/bit.md 1.4): zero padding then an unpadded pool is not a padded pool.

TEST_F(MaxPool2dTest, BitStemZeroPadDiffersFromMinusInfPaddingExactlyAtTheBorder) {
  // A negative input, as the root conv's output can be (no ReLU before the pool).
  Tensor x = (rand({1, 2, 7, 7}, 0.5, 2.0, DType::kFloat64) * -1.0).detach();
  Tensor zero_padded = max_pool2d(pad(x, {1, 1, 1, 1}, 0.0), make_attrs(3, 2, 0));
  Tensor inf_padded = max_pool2d(x, make_attrs(3, 2, 1));
  ASSERT_EQ(zero_padded.shape(), Shape({1, 2, 4, 4}));
  ASSERT_EQ(inf_padded.shape(), Shape({1, 2, 4, 4}));
  for (int64_t c = 0; c < 2; ++c)
    for (int64_t i = 0; i < 4; ++i)
      for (int64_t j = 0; j < 4; ++j) {
        // Window rows 2i-1 .. 2i+1 of a 7-row input touch the pad for i = 0 and i = 3.
        bool border = i == 0 || i == 3 || j == 0 || j == 3;
        double zero_pad = zero_padded.at<double>({0, c, i, j});
        double inf_pad = inf_padded.at<double>({0, c, i, j});
        if (border) {
          EXPECT_EQ(zero_pad, 0.0) << "(" << i << ", " << j << ")";
          EXPECT_LT(inf_pad, 0.0) << "(" << i << ", " << j << ")";
        } else {
          EXPECT_EQ(zero_pad, inf_pad) << "(" << i << ", " << j << ")";
        }
      }
  // For a positive input (after a ReLU, say) the two agree everywhere.
  Tensor positive = rand({1, 2, 7, 7}, 0.5, 2.0, DType::kFloat64);
  EXPECT_TRUE(all_close(max_pool2d(pad(positive, {1, 1, 1, 1}, 0.0), make_attrs(3, 2, 0)),
                        max_pool2d(positive, make_attrs(3, 2, 1)), 0, 0));
}

// ---------------------------------------------------------------------------------------------
// Errors.

TEST_F(MaxPool2dTest, ErrorsNameTheOpAndShapes) {
  Pool2dAttrs attrs = make_attrs(3, 2, 1);
  EXPECT_TRUE(throws_error([&] { max_pool2d(zeros({1, 5, 5}), attrs); },
                           {"max_pool2d", "(1, 5, 5)"}));
  EXPECT_TRUE(throws_error([&] { max_pool2d(zeros({1, 1, 2, 2}), make_attrs(5, 1, 1)); },
                           {"max_pool2d", "5-wide window", "(1, 1, 2, 2)"}));
  EXPECT_TRUE(throws_error([&] { max_pool2d(zeros({1, 1, 5, 5}), make_attrs(3, 2, 2)); },
                           {"max_pool2d", "padding 2", "kernel (3)"}));
  EXPECT_TRUE(throws_error([&] { max_pool2d(zeros({1, 1, 5, 5}), make_attrs(0, 2, 0)); },
                           {"max_pool2d", "kernel 0"}));
  EXPECT_TRUE(throws_error([&] { max_pool2d(zeros({1, 1, 5, 5}, DType::kInt64), attrs); },
                           {"max_pool2d", "int64"}));
  EXPECT_TRUE(throws_error([&] { max_pool2d(Tensor(), attrs); }, {"max_pool2d", "undefined"}));
}

TEST_F(MaxPool2dTest, BackwardRejectsAWorkspaceItDidNotMake) {
  Pool2dAttrs attrs = make_attrs(3, 2, 1);
  Tensor x = zeros({1, 2, 7, 7});  // output (1, 2, 4, 4)
  Tensor dy = zeros({1, 2, 4, 4});
  // Another backend's opaque bytes, e.g. oneDNN's uint8 workspace.
  Tensor foreign = zeros({1, 2, 4, 4}, DType::kUInt8);
  EXPECT_TRUE(throws_error([&] { call<MaxPool2dBwd>(dy, x, foreign, attrs); },
                           {"max_pool2d backward", "int64", "(1, 2, 4, 4)", "uint8"}));
  EXPECT_TRUE(throws_error([&] { call<MaxPool2dBwd>(dy, x, zeros({64}, DType::kInt64), attrs); },
                           {"max_pool2d backward", "int64", "(1, 2, 4, 4)", "(64)"}));
  EXPECT_TRUE(throws_error([&] { call<MaxPool2dBwd>(dy, x, Tensor(), attrs); },
                           {"max_pool2d backward", "no workspace"}));
  Tensor out_of_plane = full({1, 2, 4, 4}, 49.0, DType::kInt64);
  EXPECT_TRUE(throws_error([&] { call<MaxPool2dBwd>(dy, x, out_of_plane, attrs); },
                           {"max_pool2d backward", "49", "(1, 2, 7, 7)"}));
  Tensor workspace = call<MaxPool2dFwd>(x, attrs).workspace;
  EXPECT_TRUE(throws_error([&] { call<MaxPool2dBwd>(zeros({1, 2, 3, 3}), x, workspace, attrs); },
                           {"max_pool2d backward", "(1, 2, 4, 4)", "(1, 2, 3, 3)"}));
  EXPECT_TRUE(throws_error(
      [&] { call<MaxPool2dBwd>(zeros({1, 2, 4, 4}, DType::kFloat64), x, workspace, attrs); },
      {"max_pool2d backward", "float64", "float32"}));
}

}  // namespace
}  // namespace bitgrad
