#include "ops/reshape.h"

#include "core/random.h"
#include "gtest/gtest.h"
#include "tests/testing/assertions.h"
#include "tests/testing/gradcheck.h"

namespace bitgrad {
namespace {

using testing::all_close;
using testing::gradcheck;
using testing::throws_error;

TEST(ReshapeTest, KeepsRowMajorOrderAndInfersMinusOne) {
  Tensor x = from_vector<float>({0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor y = reshape(x, {3, 2});
  EXPECT_EQ(y.shape(), Shape({3, 2}));
  EXPECT_EQ(y.at<float>({2, 0}), 4.0f);
  EXPECT_EQ(reshape(x, {-1}).shape(), Shape({6}));
  EXPECT_EQ(reshape(x, {1, -1, 2}).shape(), Shape({1, 3, 2}));
  EXPECT_EQ(reshape(x, {6, -1}).shape(), Shape({6, 1}));
  EXPECT_EQ(y.to_vector<float>(), x.to_vector<float>());
  // One element to 0-d and back.
  Tensor one = from_vector<float>({7}, {1, 1});
  Tensor scalar = reshape(one, {});
  EXPECT_EQ(scalar.dim(), 0);
  EXPECT_EQ(scalar.item<float>(), 7.0f);
  EXPECT_EQ(reshape(scalar, {-1}).shape(), Shape({1}));
  // Zero elements: -1 cannot be inferred, but explicit extents work.
  EXPECT_EQ(reshape(zeros({0, 4}), {2, 0, 3}).shape(), Shape({2, 0, 3}));
}

TEST(ReshapeTest, ViewsShareMemory) {
  Tensor x = zeros({2, 3});
  Tensor y = reshape(x, {3, 2});
  Tensor z = flatten(x);
  EXPECT_EQ(y.raw_data(), x.raw_data());
  EXPECT_EQ(z.raw_data(), x.raw_data());
  x.at<float>({1, 2}) = 5.0f;  // visible through both views
  EXPECT_EQ(y.at<float>({2, 1}), 5.0f);
  EXPECT_EQ(z.at<float>({5}), 5.0f);
  y.at<float>({0, 1}) = -1.0f;  // and back
  EXPECT_EQ(x.at<float>({0, 1}), -1.0f);
  EXPECT_GE(x.storage_use_count(), 3);
}

TEST(FlattenTest, MergesTheNamedDims) {
  Tensor x = zeros({2, 3, 4, 5});
  EXPECT_EQ(flatten(x).shape(), Shape({120}));
  EXPECT_EQ(flatten(x, 1).shape(), Shape({2, 60}));
  EXPECT_EQ(flatten(x, 1, 2).shape(), Shape({2, 12, 5}));
  EXPECT_EQ(flatten(x, -2, -1).shape(), Shape({2, 3, 20}));
  EXPECT_EQ(flatten(x, 2, 2).shape(), Shape({2, 3, 4, 5}));
  EXPECT_EQ(flatten(scalar_tensor(3)).shape(), Shape({1}));
  Tensor values = from_vector<double>({1, 2, 3, 4, 5, 6}, {1, 2, 3});
  EXPECT_TRUE(all_close(flatten(values, 1), from_vector<double>({1, 2, 3, 4, 5, 6}, {1, 6})));
}

TEST(ReshapeTest, GradcheckReshapeAndFlatten) {
  Tensor x = randn({2, 3, 4}, DType::kFloat64).set_requires_grad();
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& t) { return reshape(t[0], {4, -1}); }, {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& t) { return flatten(t[0], 1); }, {x}));
}

TEST(ReshapeTest, GradientHasTheInputShape) {
  Tensor x = randn({2, 3}, DType::kFloat64).set_requires_grad();
  Tensor g = from_vector<double>({1, 2, 3, 4, 5, 6}, {3, 2});
  reshape(x, {3, 2}).backward(g);
  EXPECT_TRUE(all_close(x.grad(), from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3})));
}

TEST(ReshapeTest, ErrorsNameTheOpAndShapes) {
  Tensor x = zeros({2, 3});
  EXPECT_TRUE(throws_error([&] { reshape(x, {4, 2}); },
                           {"reshape", "(2, 3)", "6 elements", "(4, 2)", "8 elements"}));
  EXPECT_TRUE(throws_error([&] { reshape(x, {4, -1}); }, {"reshape", "(2, 3)", "(4, -1)"}));
  EXPECT_TRUE(throws_error([&] { reshape(x, {-1, -1}); }, {"reshape", "only one", "(-1, -1)"}));
  EXPECT_TRUE(throws_error([&] { reshape(x, {-2, -3}); }, {"reshape", "-2", "(-2, -3)"}));
  EXPECT_TRUE(throws_error([&] { reshape(zeros({0, 3}), {-1, 0}); }, {"reshape", "(0, 3)"}));
  EXPECT_TRUE(throws_error([&] { flatten(x, 2); }, {"flatten", "2", "(2, 3)"}));
  EXPECT_TRUE(throws_error([&] { flatten(x, 1, 0); }, {"flatten", "1..0", "(2, 3)"}));
  EXPECT_TRUE(throws_error([&] { flatten(x, -3); }, {"flatten", "-3", "(2, 3)"}));
}

}  // namespace
}  // namespace bitgrad
