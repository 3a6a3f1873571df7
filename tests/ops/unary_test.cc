#include "ops/unary.h"

#include <cmath>
#include <limits>

#include "core/random.h"
#include "gtest/gtest.h"
#include "ops/elementwise.h"
#include "tests/testing/assertions.h"
#include "tests/testing/gradcheck.h"

// Outside namespace bitgrad both names resolve: exp(double) is the C library's, exp(Tensor) is
// found by argument-dependent lookup.
static double scalar_and_tensor_exp(double v) {
  bitgrad::Tensor t = bitgrad::scalar_tensor(v, bitgrad::DType::kFloat64);
  return exp(v) - exp(t).item<double>();
}

namespace bitgrad {
namespace {

using testing::all_close;
using testing::gradcheck;
using testing::GradcheckOptions;
using testing::throws_error;

constexpr double kInf = std::numeric_limits<double>::infinity();

// Values are checked on both CPU backends: the reference kernels and the oneDNN ones.
const Backend kCpuBackends[] = {Backend::kRef, Backend::kCpu};
const DType kFloatTypes[] = {DType::kFloat32, DType::kFloat64};

Tensor values(const std::vector<double>& v, const Shape& shape, DType dtype) {
  return from_vector<double>(v, shape).to(dtype);
}

// float32 is compared to float rounding, float64 to double rounding.
::testing::AssertionResult near(const Tensor& actual, const std::vector<double>& expected,
                                const Shape& shape) {
  double tolerance = actual.dtype() == DType::kFloat32 ? 2e-6 : 1e-12;
  return all_close(actual, values(expected, shape, DType::kFloat64), tolerance, tolerance);
}

TEST(UnaryTest, ElementwiseValuesMatchHandComputedOnes) {
  for (Backend backend : kCpuBackends) {
    BackendOverride use(backend);
    for (DType dtype : kFloatTypes) {
      SCOPED_TRACE(std::string(backend_name(backend)) + " " + dtype_name(dtype));
      // e = 2.718281828459045, 1 / e = 0.36787944117144233, e^2 = 7.38905609893065
      EXPECT_TRUE(near(exp(values({0, 1, -1, 2}, {4}, dtype)),
                       {1, 2.718281828459045, 0.36787944117144233, 7.38905609893065}, {4}));
      // ln 1 = 0, ln e = 1, ln 0.5 = -0.6931471805599453, ln 10 = 2.302585092994046
      EXPECT_TRUE(near(log(values({1, 2.718281828459045, 0.5, 10}, {2, 2}, dtype)),
                       {0, 1, -0.6931471805599453, 2.302585092994046}, {2, 2}));
      // 1 / (1 + e^-2) = 0.8807970779778823
      EXPECT_TRUE(near(sigmoid(values({0, 2, -2}, {3}, dtype)),
                       {0.5, 0.8807970779778823, 0.11920292202211755}, {3}));
      // tanh(0.5) = (e - 1) / (e + 1) = 0.46211715726000974
      EXPECT_TRUE(near(tanh(values({0, 0.5, -1}, {3}, dtype)),
                       {0, 0.46211715726000974, -0.7615941559557649}, {3}));
    }
  }
}

TEST(UnaryTest, ExtremeInputsGiveWhatPyTorchGives) {
  for (Backend backend : kCpuBackends) {
    BackendOverride use(backend);
    for (DType dtype : kFloatTypes) {
      SCOPED_TRACE(std::string(backend_name(backend)) + " " + dtype_name(dtype));
      // log(0) = -inf, log(-1) = NaN; the gradient at 0 is +inf.
      Tensor x = values({0, -1, 1}, {3}, dtype).set_requires_grad();
      Tensor y = log(x);
      std::vector<double> got = y.to_vector<double>();
      EXPECT_EQ(got[0], -kInf);
      EXPECT_TRUE(std::isnan(got[1]));
      EXPECT_EQ(got[2], 0);
      y.backward(ones({3}, dtype));
      EXPECT_EQ(x.grad().to_vector<double>()[0], kInf);
      // Saturation without NaN: exp overflows to inf, sigmoid and tanh reach their limits, and
      // their gradients there are 0.
      Tensor big = values({-1000, 1000}, {2}, dtype).set_requires_grad();
      EXPECT_EQ(exp(big).to_vector<double>(), (std::vector<double>{0, kInf}));
      Tensor s = sigmoid(big);
      EXPECT_EQ(s.to_vector<double>(), (std::vector<double>{0, 1}));
      EXPECT_EQ(tanh(big).to_vector<double>(), (std::vector<double>{-1, 1}));
      s.backward(ones({2}, dtype));
      EXPECT_EQ(big.grad().to_vector<double>(), (std::vector<double>{0, 0}));
    }
  }
}

TEST(UnaryTest, SoftmaxValuesAlongEveryDim) {
  for (Backend backend : kCpuBackends) {
    BackendOverride use(backend);
    for (DType dtype : kFloatTypes) {
      SCOPED_TRACE(std::string(backend_name(backend)) + " " + dtype_name(dtype));
      // Rows: softmax(1, 2, 3) = e^k / (e + e^2 + e^3); a constant row is uniform.
      Tensor rows = values({1, 2, 3, 5, 5, 5}, {2, 3}, dtype);
      const std::vector<double> expected = {0.09003057317038046, 0.24472847105479767,
                                            0.6652409557748219,  1.0 / 3, 1.0 / 3, 1.0 / 3};
      EXPECT_TRUE(near(softmax(rows, 1), expected, {2, 3}));
      EXPECT_TRUE(near(softmax(rows, -1), expected, {2, 3}));
      // log_softmax(1, 2, 3) = k - 3 - ln(1 + e^-1 + e^-2) = k - 3.40760596444438
      EXPECT_TRUE(near(log_softmax(rows, 1),
                       {-2.40760596444438, -1.40760596444438, -0.40760596444438,
                        -1.0986122886681098, -1.0986122886681098, -1.0986122886681098},
                       {2, 3}));
      // Columns: softmax(0, ln 3) = (1/4, 3/4); softmax(1, 1) = (1/2, 1/2).
      Tensor columns = values({0, 1, std::log(3.0), 1}, {2, 2}, dtype);
      EXPECT_TRUE(near(softmax(columns, 0), {0.25, 0.5, 0.75, 0.5}, {2, 2}));
      EXPECT_TRUE(near(log_softmax(columns, -2),
                       {std::log(0.25), std::log(0.5), std::log(0.75), std::log(0.5)}, {2, 2}));
      // The middle dim of (2, 2, 2): pairs (x[i, 0, k], x[i, 1, k]).
      Tensor middle = values({0, 1, std::log(3.0), 1, 2, 0, 2, 0}, {2, 2, 2}, dtype);
      EXPECT_TRUE(near(softmax(middle, 1), {0.25, 0.5, 0.75, 0.5, 0.5, 0.5, 0.5, 0.5}, {2, 2, 2}));
    }
  }
}

TEST(UnaryTest, SoftmaxOfLargeInputsStaysFinite) {
  for (Backend backend : kCpuBackends) {
    BackendOverride use(backend);
    for (DType dtype : kFloatTypes) {
      SCOPED_TRACE(std::string(backend_name(backend)) + " " + dtype_name(dtype));
      // exp(1000) overflows; subtracting the maximum leaves softmax(0, 1).
      for (double shift : {1000.0, -1001.0}) {
        Tensor x = values({shift, shift + 1}, {2}, dtype);
        EXPECT_TRUE(near(softmax(x, 0), {0.2689414213699951, 0.7310585786300049}, {2}));
        EXPECT_TRUE(near(log_softmax(x, 0), {-1.3132616875182228, -0.31326168751822286}, {2}));
      }
      // Far apart: the small one underflows to 0 (log_softmax keeps -1000 exactly).
      Tensor apart = values({0, 1000}, {2}, dtype);
      EXPECT_TRUE(near(softmax(apart, 0), {0, 1}, {2}));
      EXPECT_TRUE(near(log_softmax(apart, 0), {-1000, 0}, {2}));
    }
  }
}

TEST(UnaryTest, LogSoftmaxOfAConfidentClassIsAccurate) {
  // log_softmax(20, 0)[0] = -log(1 + e^-20): a log-probability just below 0, which a log(sum)
  // 1e-6 off (oneDNN's) would turn positive.
  for (Backend backend : kCpuBackends) {
    BackendOverride use(backend);
    for (DType dtype : kFloatTypes) {
      SCOPED_TRACE(std::string(backend_name(backend)) + " " + dtype_name(dtype));
      std::vector<double> y = log_softmax(values({20, 0}, {2}, dtype), 0).to_vector<double>();
      EXPECT_NEAR(y[0] / -2.061153620314381e-09, 1.0, 1e-6);
      EXPECT_NEAR(y[1], -20.000000002061153, dtype == DType::kFloat32 ? 2e-6 : 1e-12);
    }
  }
}

TEST(UnaryTest, ZeroDimAndEmptySoftmax) {
  // A 0-d tensor is a softmax of one element, along dim 0 or -1, as in PyTorch.
  Tensor scalar = scalar_tensor(3.5, DType::kFloat64).set_requires_grad();
  Tensor y = softmax(scalar, -1);
  EXPECT_EQ(y.dim(), 0);
  EXPECT_EQ(y.item<double>(), 1.0);
  EXPECT_EQ(log_softmax(scalar, 0).item<double>(), 0.0);
  y.backward();
  EXPECT_EQ(scalar.grad().item<double>(), 0.0);
  // Empty tensors give empty results, along an empty dim or another one.
  EXPECT_EQ(softmax(zeros({0, 3}), 1).shape(), (Shape{0, 3}));
  EXPECT_EQ(log_softmax(zeros({2, 0}), 1).shape(), (Shape{2, 0}));
  EXPECT_EQ(exp(zeros({0})).shape(), (Shape{0}));
}

TEST(UnaryTest, GradcheckElementwise) {
  // Tight tolerances: an elementwise gradient 0.1% off would pass gradcheck's defaults.
  GradcheckOptions tight;
  tight.rtol = 1e-6;
  tight.atol = 1e-8;
  Tensor x = randn({3, 7}, DType::kFloat64).set_requires_grad();
  Tensor positive = rand({3, 7}, 0.2, 3.0, DType::kFloat64).set_requires_grad();
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return exp(in[0]); }, {x}, tight));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return log(in[0]); }, {positive},
                        tight));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return sigmoid(in[0]); }, {x}, tight));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return tanh(in[0]); }, {x}, tight));
  // Composed, so that each backward receives a gradient that is not all ones.
  EXPECT_TRUE(gradcheck(
      [](const std::vector<Tensor>& in) { return tanh(sigmoid(exp(in[0]) * in[0])); }, {x}));
}

TEST(UnaryTest, GradcheckSoftmaxAlongEveryDim) {
  Tensor x = randn({3, 4, 5}, DType::kFloat64).set_requires_grad();
  for (int64_t dim : {0, 1, 2, -1}) {
    SCOPED_TRACE(dim);
    EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return softmax(in[0], dim); }, {x}));
    EXPECT_TRUE(
        gradcheck([&](const std::vector<Tensor>& in) { return log_softmax(in[0], dim); }, {x}));
  }
  // Large inputs: the gradients stay finite and right.
  Tensor large = (randn({2, 6}, DType::kFloat64) + 1000.0).detach().set_requires_grad();
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return softmax(in[0], 1); }, {large}));
  EXPECT_TRUE(
      gradcheck([](const std::vector<Tensor>& in) { return log_softmax(in[0], 1); }, {large}));
}

TEST(UnaryTest, OpsAgreeWithEachOther) {
  // log(softmax) = log_softmax, exp(log_softmax) = softmax, and sigmoid is the two-class
  // softmax: sigmoid(a - b) = softmax(a, b)[0].
  Tensor x = randn({4, 6}, DType::kFloat64);
  EXPECT_TRUE(all_close(log(softmax(x, 1)), log_softmax(x, 1), 1e-12, 1e-12));
  EXPECT_TRUE(all_close(exp(log_softmax(x, 0)), softmax(x, 0), 1e-12, 1e-12));
  Tensor a = from_vector<double>({0.3, -2, 5}, {3, 1});
  Tensor b = from_vector<double>({1, 0.5, 4}, {3, 1});
  Tensor pair = from_vector<double>({0.3, 1, -2, 0.5, 5, 4}, {3, 2});
  std::vector<double> two_class = softmax(pair, 1).to_vector<double>();
  std::vector<double> s = sigmoid(a - b).to_vector<double>();
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(s[i], two_class[2 * i], 1e-15);
  // tanh(v) = 2 sigmoid(2v) - 1
  EXPECT_TRUE(all_close(tanh(x), 2.0 * sigmoid(2.0 * x) - 1.0, 1e-12, 1e-12));
}

TEST(UnaryTest, ScalarAndTensorNamesCoexist) {
  EXPECT_NEAR(scalar_and_tensor_exp(0.75), 0.0, 1e-15);
  // Inside namespace bitgrad the scalar function is spelled std::exp.
  EXPECT_NEAR(exp(scalar_tensor(1.5, DType::kFloat64)).item<double>(), std::exp(1.5), 1e-15);
}

TEST(UnaryTest, BadDimsAndDtypesAreRefused) {
  Tensor x = zeros({2, 3});
  EXPECT_TRUE(throws_error([&] { softmax(x, 2); },
                           {"softmax: dim 2 is out of range for shape (2, 3)", "-2 <= dim < 2"}));
  EXPECT_TRUE(throws_error([&] { log_softmax(x, -3); },
                           {"log_softmax: dim -3 is out of range", "-2 <= dim < 2"}));
  EXPECT_TRUE(throws_error([&] { softmax(scalar_tensor(1.0), 1); },
                           {"softmax: dim 1 is out of range for shape ()", "-1 <= dim < 1"}));
  EXPECT_TRUE(throws_error([&] { exp(zeros({2}, DType::kInt64)); },
                           {"exp", "expected a float32 or float64 tensor", "int64", "(2)"}));
  EXPECT_TRUE(throws_error([&] { tanh(zeros({2, 2}, DType::kBFloat16)); },
                           {"tanh", "bfloat16", "(2, 2)"}));
  EXPECT_TRUE(throws_error([&] { softmax(zeros({4}, DType::kUInt8), 0); },
                           {"softmax", "expected a float32 or float64 tensor", "uint8"}));
  EXPECT_TRUE(throws_error([] { sigmoid(Tensor()); }, {"sigmoid", "undefined"}));
  EXPECT_TRUE(throws_error([] { log(Tensor()); }, {"log", "undefined"}));
  // A backward kernel called with mismatched tensors names both.
  EXPECT_TRUE(throws_error([&] { call<UnaryBwd>(zeros({2, 3}), zeros({3, 2}), UnaryOp::kExp); },
                           {"exp backward", "(2, 3)", "(3, 2)"}));
  EXPECT_TRUE(throws_error(
      [&] { call<SoftmaxBwd>(zeros({2, 3}), zeros({2, 4}), 1, SoftmaxOp::kLogSoftmax); },
      {"log_softmax backward", "(2, 3)", "(2, 4)"}));
}

}  // namespace
}  // namespace bitgrad
