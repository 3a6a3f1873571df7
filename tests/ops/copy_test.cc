#include "ops/copy.h"

#include "autograd/grad_mode.h"
#include "autograd/node.h"
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
using testing::GradcheckOptions;
using testing::same_bits;
using testing::throws_error;

TEST(CloneTest, CopiesWithoutSharingMemory) {
  Tensor x = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor y = clone(x);
  EXPECT_TRUE(same_bits(y, x));
  EXPECT_NE(y.raw_data(), x.raw_data());
  y.at<float>({1, 2}) = -7.0f;
  EXPECT_EQ(x.at<float>({1, 2}), 6.0f);
}

TEST(CloneTest, GradientFlowsToTheInput) {
  Tensor x = randn({2, 3}, DType::kFloat64).set_requires_grad();
  Tensor y = clone(x);
  ASSERT_NE(y.grad_fn(), nullptr);
  EXPECT_STREQ(y.grad_fn()->name(), "clone");
  Tensor g = from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3});
  y.backward(g);
  EXPECT_TRUE(same_bits(x.grad(), g));
}

TEST(CopyTest, GradcheckCloneAndDtypeRoundTrip) {
  Tensor x = randn({3, 5}, DType::kFloat64).set_requires_grad();
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& t) { return clone(t[0]); }, {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& t) {
    return to(t[0], DType::kFloat64);  // no change: x itself
  }, {x}));
  // Through float32 and back: both conversions and their backward. The function is linear, so
  // a large step keeps float32's rounding out of the finite differences.
  GradcheckOptions options;
  options.eps = 1e-2;
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& t) {
    return to(to(t[0], DType::kFloat32), DType::kFloat64) * 3.0;
  }, {x}, options));
}

TEST(ToDTypeTest, Float32ResultGivesAFloat64LeafAFloat64Gradient) {
  Tensor x = from_vector<double>({0.5, -1.25, 3}, {3}).set_requires_grad();
  Tensor y = to(x, DType::kFloat32);
  EXPECT_EQ(y.dtype(), DType::kFloat32);
  EXPECT_TRUE(same_bits(y, from_vector<float>({0.5f, -1.25f, 3.0f}, {3})));
  ASSERT_NE(y.grad_fn(), nullptr);
  y.backward(from_vector<float>({1, 2, -4}, {3}));
  EXPECT_TRUE(same_bits(x.grad(), from_vector<double>({1, 2, -4}, {3})));
}

TEST(ToDTypeTest, Float64ResultGivesAFloat32LeafAFloat32Gradient) {
  Tensor x = from_vector<float>({0.5f, -1.25f, 3.0f}, {3}).set_requires_grad();
  Tensor y = to(x, DType::kFloat64);
  EXPECT_TRUE(same_bits(y, from_vector<double>({0.5, -1.25, 3}, {3})));
  y.backward(from_vector<double>({1, 2, -4}, {3}));
  EXPECT_TRUE(same_bits(x.grad(), from_vector<float>({1, 2, -4}, {3})));
}

TEST(CopyTest, ChainOfCopiesPassesTheGradientThrough) {
  Tensor x = randn({4, 3}).set_requires_grad();
  Tensor loss = sum(to(clone(x), DType::kFloat64) * 2.0);
  EXPECT_EQ(loss.dtype(), DType::kFloat64);
  EXPECT_NEAR(loss.item<double>(), 2 * sum(x.to(DType::kFloat64)).item<double>(), 1e-12);
  loss.backward();
  EXPECT_TRUE(same_bits(x.grad(), full({4, 3}, 2.0)));
}

// As PyTorch's Tensor.to: nothing to do gives x itself, with its history, and no node.
TEST(ToTest, NoChangeReturnsTheInputItself) {
  Tensor x = randn({2, 2}).set_requires_grad();
  Tensor h = x * 3.0;
  for (const Tensor& y : {to(h, DType::kFloat32), to(h, Device::cpu())}) {
    EXPECT_EQ(y.raw_data(), h.raw_data());
    EXPECT_EQ(y.grad_fn(), h.grad_fn());
  }
  Tensor same_leaf = to(x, Device::cpu());
  EXPECT_TRUE(same_leaf.is_leaf());
  sum(same_leaf).backward();
  EXPECT_TRUE(same_bits(x.grad(), ones({2, 2})));
}

TEST(CopyTest, NothingIsRecordedWithoutGrad) {
  Tensor x = randn({2, 3});
  for (const Tensor& y : {clone(x), to(x, DType::kFloat64)}) {
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
  }
  x.set_requires_grad();
  NoGradGuard no_grad;
  for (const Tensor& y : {clone(x), to(x, DType::kFloat64)}) {
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
  }
}

// An integer tensor has no gradient (and cannot require one), as in PyTorch.
TEST(ToDTypeTest, IntegerResultIsNotRecorded) {
  Tensor x = from_vector<float>({2.0f, -1.0f}, {2}).set_requires_grad();
  Tensor y = to(x, DType::kInt64);
  EXPECT_TRUE(same_bits(y, from_vector<int64_t>({2, -1}, {2})));
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(y.grad_fn(), nullptr);
}

TEST(CopyTest, UndefinedInputsAreRefused) {
  EXPECT_TRUE(throws_error([] { clone(Tensor()); }, {"clone", "undefined"}));
  EXPECT_TRUE(
      throws_error([] { to(Tensor(), DType::kFloat64); }, {"to", "undefined", "float64"}));
  EXPECT_TRUE(throws_error([] { to(Tensor(), Device::cpu()); }, {"to", "undefined", "cpu"}));
}

}  // namespace
}  // namespace bitgrad
