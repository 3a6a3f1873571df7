#include "ops/elementwise.h"

#include "core/random.h"
#include "ops/reduce.h"
#include "gtest/gtest.h"
#include "tests/testing/assertions.h"
#include "tests/testing/gradcheck.h"

namespace bitgrad {
namespace {

using testing::all_close;
using testing::gradcheck;
using testing::throws_error;

Tensor random64(const Shape& shape) {
  return randn(shape, DType::kFloat64).set_requires_grad();
}

TEST(ElementwiseTest, AddBroadcastsLikeNumPy) {
  Tensor a = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = from_vector<float>({10, 20, 30}, {3});
  EXPECT_TRUE(all_close(add(a, b), from_vector<float>({11, 22, 33, 14, 25, 36}, {2, 3})));
  Tensor column = from_vector<float>({100, 200}, {2, 1});
  EXPECT_TRUE(all_close(a + column, from_vector<float>({101, 102, 103, 204, 205, 206}, {2, 3})));
}

// Extent 1 broadcasts against extent 0 to 0, as in NumPy, from either side: the result is
// empty, not of the larger extent 1. The gradient of the extent-1 side sums nothing: zeros.
TEST(ElementwiseTest, ExtentOneBroadcastsAgainstZeroToAnEmptyResult) {
  for (Backend backend : {Backend::kRef, Backend::kCpu}) {
    BackendOverride use(backend);
    Tensor column = ones({2, 1}, DType::kFloat64).set_requires_grad();
    Tensor nothing = zeros({0}, DType::kFloat64).set_requires_grad();
    EXPECT_EQ((nothing + column).shape(), Shape({2, 0})) << backend_name(backend);
    Tensor product = column * nothing;
    EXPECT_EQ(product.shape(), Shape({2, 0}));
    sum(product).backward();
    EXPECT_TRUE(all_close(column.grad(), zeros({2, 1}, DType::kFloat64)));
    EXPECT_EQ(nothing.grad().shape(), Shape({0}));
  }
}

TEST(ElementwiseTest, SubMulDivAndScalars) {
  Tensor a = from_vector<double>({1, -2, 3}, {3});
  Tensor b = from_vector<double>({4, 5, -6}, {3});
  EXPECT_TRUE(all_close(a - b, from_vector<double>({-3, -7, 9}, {3})));
  EXPECT_TRUE(all_close(a * b, from_vector<double>({4, -10, -18}, {3})));
  EXPECT_TRUE(all_close(a / b, from_vector<double>({0.25, -0.4, -0.5}, {3})));
  EXPECT_TRUE(all_close(2.0 * a + 1.0, from_vector<double>({3, -3, 7}, {3})));
  EXPECT_TRUE(all_close(1.0 - a, from_vector<double>({0, 3, -2}, {3})));
  EXPECT_TRUE(all_close(-a / 2.0, from_vector<double>({-0.5, 1, -1.5}, {3})));
}

TEST(ElementwiseTest, Relu) {
  Tensor x = from_vector<float>({-1, 0, 2.5, -0.1}, {4});
  EXPECT_TRUE(all_close(relu(x), from_vector<float>({0, 0, 2.5, 0}, {4})));
}

TEST(ElementwiseTest, GradcheckBinaryOpsWithBroadcasting) {
  // Either operand broadcast, and both at once; divisors kept away from zero.
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{2, 3, 4}, {3, 1}}, {{3, 1}, {2, 3, 4}}, {{5, 1}, {1, 7}}};
  for (auto op : {add, sub, mul, div}) {
    for (const auto& [a_shape, b_shape] : shapes) {
      Tensor a = random64(a_shape);
      Tensor b = rand(b_shape, 1.0, 2.0, DType::kFloat64).set_requires_grad();
      EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return op(in[0], in[1]); },
                            {a, b}))
          << a_shape.str() << " and " << b_shape.str();
    }
  }
}

TEST(ElementwiseTest, GradcheckDivAwayFromZero) {
  Tensor a = random64({5});
  Tensor b = (rand({5}, 1.0, 2.0, DType::kFloat64)).set_requires_grad();
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return in[0] / in[1]; }, {a, b}));
}

TEST(ElementwiseTest, GradcheckAffineAndRelu) {
  // Values kept away from relu's kink at 0.
  Tensor x = (rand({4, 5}, 0.1, 1.0, DType::kFloat64) * 2.0 - 1.0).detach();
  for (int64_t i = 0; i < 20; ++i) {
    double& v = x.mutable_data<double>()[i];
    if (std::abs(v) < 0.05) v = 0.5;
  }
  x.set_requires_grad();
  EXPECT_TRUE(gradcheck(
      [](const std::vector<Tensor>& in) { return relu(3.0 * in[0] - 0.5 * in[0]); }, {x}));
  // A shift must not reach the gradient.
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return 2.0 * in[0] + 1.0; }, {x}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return 1.0 - in[0]; }, {x}));
}

TEST(ElementwiseTest, ErrorsNameTheOpAndShapes) {
  Tensor a = zeros({2, 3});
  EXPECT_TRUE(throws_error([&] { add(a, zeros({4})); }, {"add", "(2, 3)", "(4)"}));
  EXPECT_TRUE(throws_error([&] { mul(a, zeros({2, 3}, DType::kFloat64)); },
                           {"mul", "float32", "float64"}));
  EXPECT_TRUE(throws_error([&] { relu(zeros({2}, DType::kInt64)); }, {"relu", "int64"}));
}

}  // namespace
}  // namespace bitgrad
