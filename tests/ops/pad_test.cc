#include "ops/pad.h"

#include <cmath>
#include <limits>
#include <vector>

#include "core/random.h"
#include "gtest/gtest.h"
#include "tests/testing/assertions.h"
#include "tests/testing/gradcheck.h"

namespace bitgrad {
namespace {

using testing::all_close;
using testing::gradcheck;
using testing::throws_error;

// Every test runs the reference kernel, whatever faster backends are linked in.
class PadTest : public ::testing::Test {
  BackendOverride reference_{Backend::kRef};
};

TEST_F(PadTest, PadsTheLastDimWithZeros) {
  Tensor x = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_TRUE(all_close(pad(x, {1, 2}),
                        from_vector<float>({0, 1, 2, 3, 0, 0, 0, 4, 5, 6, 0, 0}, {2, 6})));
}

TEST_F(PadTest, PadsHeightAndWidthWithAValue) {
  Tensor x = from_vector<double>({1, 2, 3, 4}, {1, 1, 2, 2});
  // {left, right, top, bottom}, as F.pad.
  EXPECT_TRUE(all_close(pad(x, {1, 0, 0, 1}, -7.5),
                        from_vector<double>({-7.5, 1, 2, -7.5, 3, 4, -7.5, -7.5, -7.5},
                                            {1, 1, 3, 3})));
  Tensor minus_inf = pad(x, {1, 1, 1, 1}, -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isinf(minus_inf.at<double>({0, 0, 0, 0})));
  EXPECT_LT(minus_inf.at<double>({0, 0, 3, 2}), 0.0);
  EXPECT_EQ(minus_inf.at<double>({0, 0, 2, 2}), 4.0);
}

TEST_F(PadTest, NegativeAmountsCrop) {
  Tensor x = from_vector<float>({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {3, 4});
  EXPECT_TRUE(all_close(pad(x, {-1, -1, -1, 0}), from_vector<float>({6, 7, 10, 11}, {2, 2})));
  // Crop one end, pad the other, in the same dim.
  EXPECT_TRUE(all_close(pad(x, {-3, 1, 0, -2}), from_vector<float>({4, 0}, {1, 2})));
  EXPECT_EQ(pad(x, {-4, 0}).shape(), Shape({3, 0}));
}

TEST_F(PadTest, EveryDimOfARank5Tensor) {
  const std::vector<int64_t> pads = {1, 0, -1, 2, 0, 1, 2, -1, 1, 1};  // last dim first
  Tensor x = randn({3, 4, 2, 3, 4}, DType::kFloat64);
  Tensor y = pad(x, pads, 0.25);
  ASSERT_EQ(y.shape(), Shape({5, 5, 3, 4, 5}));
  // y[i] = x[i - before] where that is inside x, else the value.
  const int64_t b0 = 1, b1 = 2, b2 = 0, b3 = -1, b4 = 1;
  int64_t copied = 0;
  for (int64_t i0 = 0; i0 < 5; ++i0)
    for (int64_t i1 = 0; i1 < 5; ++i1)
      for (int64_t i2 = 0; i2 < 3; ++i2)
        for (int64_t i3 = 0; i3 < 4; ++i3)
          for (int64_t i4 = 0; i4 < 5; ++i4) {
            int64_t s0 = i0 - b0, s1 = i1 - b1, s2 = i2 - b2, s3 = i3 - b3, s4 = i4 - b4;
            bool inside = s0 >= 0 && s0 < 3 && s1 >= 0 && s1 < 4 && s2 >= 0 && s2 < 2 &&
                          s3 >= 0 && s3 < 3 && s4 >= 0 && s4 < 4;
            double expected = inside ? x.at<double>({s0, s1, s2, s3, s4}) : 0.25;
            ASSERT_EQ(y.at<double>({i0, i1, i2, i3, i4}), expected)
                << "at (" << i0 << ", " << i1 << ", " << i2 << ", " << i3 << ", " << i4 << ")";
            copied += inside;
          }
  EXPECT_EQ(copied, 3 * 3 * 2 * 2 * 4);  // dims 1 and 3 lose an element each to the crops
}

TEST_F(PadTest, RankOneAndNoPadsAtAll) {
  Tensor v = from_vector<double>({1, 2, 3}, {3});
  EXPECT_TRUE(all_close(pad(v, {2, -1}), from_vector<double>({0, 0, 1, 2}, {4})));
  Tensor same = pad(v, {});  // a new tensor: autograd attaches its history to the output
  EXPECT_TRUE(all_close(same, v));
  EXPECT_FALSE(same.is_same(v));
}

TEST_F(PadTest, CropUndoesPad) {
  Tensor x = randn({2, 3, 5, 4}, DType::kFloat32);
  Tensor round_trip = pad(pad(x, {1, 2, 3, 0}, 9.0), {-1, -2, -3, 0});
  EXPECT_TRUE(all_close(round_trip, x, 0, 0));
}

TEST_F(PadTest, GradcheckPadCropAndMixed) {
  const std::vector<std::pair<Shape, std::vector<int64_t>>> cases = {
      {{2, 3, 5, 5}, {1, 1, 1, 1}},         // BiT's stem pad
      {{1, 2, 7, 6}, {3, 3, 3, 3}},         // the 7x7 root conv's padding
      {{2, 3, 5, 6}, {-1, -2, -1, 0}},      // crop
      {{3, 4, 5}, {2, -1, -1, 3, 1, 0}},    // pad and crop mixed, odd sizes
      {{7}, {-3, 2}},
  };
  for (const auto& [shape, pads] : cases) {
    SCOPED_TRACE(::testing::Message() << "shape " << shape);
    Tensor x = randn(shape, DType::kFloat64).set_requires_grad();
    std::vector<int64_t> amounts = pads;
    EXPECT_TRUE(gradcheck(
        [amounts](const std::vector<Tensor>& in) { return pad(in[0], amounts, 0.5); }, {x}));
  }
}

TEST_F(PadTest, ErrorsNameTheOpAndShapes) {
  Tensor x = zeros({2, 3});
  EXPECT_TRUE(throws_error([&] { pad(x, {1, 1, 1}); }, {"pad", "(2, 3)", "3 values"}));
  EXPECT_TRUE(throws_error([&] { pad(x, {1, 1, 1, 1, 1, 1}); }, {"pad", "(2, 3)", "6 values"}));
  EXPECT_TRUE(throws_error([&] { pad(x, {-2, -2}); }, {"pad", "(2, 3)", "below zero"}));
  EXPECT_TRUE(throws_error([&] { pad(zeros({2, 3}, DType::kInt64), {1, 1}); }, {"pad", "int64"}));
  EXPECT_TRUE(throws_error([&] { pad(Tensor(), {1, 1}); }, {"pad", "undefined"}));
  // The kernel checks its own contract too: amounts for every dim.
  EXPECT_TRUE(throws_error([&] { call<ConstantPadFwd>(x, PadAttrs{{1}, {1}, 0.0}); },
                           {"pad", "(2, 3)", "all 2 dims"}));
}

}  // namespace
}  // namespace bitgrad
