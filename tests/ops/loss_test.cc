#include "ops/loss.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/random.h"
#include "gtest/gtest.h"
#include "ops/elementwise.h"
#include "tests/testing/assertions.h"
#include "tests/testing/gradcheck.h"

namespace bitgrad {
namespace {

using testing::all_close;
using testing::gradcheck;
using testing::throws_error;

// One-hot rows (N, K) in `dtype` for class indices.
Tensor one_hot(const std::vector<int64_t>& labels, int64_t classes,
               DType dtype = DType::kFloat64) {
  std::vector<double> rows(labels.size() * classes, 0.0);
  for (size_t n = 0; n < labels.size(); ++n) rows[n * classes + labels[n]] = 1.0;
  return from_vector(rows, {static_cast<int64_t>(labels.size()), classes}).to(dtype);
}

Tensor labels_tensor(const std::vector<int64_t>& labels) {
  return from_vector(labels, {static_cast<int64_t>(labels.size())});
}

TEST(CrossEntropyTest, HandComputedLosses) {
  // Two equal logits: -log(1/2).
  Tensor even = from_vector<double>({0, 0}, {1, 2});
  EXPECT_NEAR(cross_entropy(even, labels_tensor({0})).item<double>(), std::log(2.0), 1e-12);
  // Mean over rows of -log softmax at the label.
  Tensor logits = from_vector<double>({1, 2, 3, 0, 0, 1}, {2, 3});
  double row0 = std::log(std::exp(1) + std::exp(2) + std::exp(3)) - 3;
  double row1 = std::log(2 + std::exp(1)) - 0;
  Tensor loss = cross_entropy(logits, labels_tensor({2, 0}));
  EXPECT_EQ(loss.dim(), 0);
  EXPECT_NEAR(loss.item<double>(), (row0 + row1) / 2, 1e-12);
  // float32 logits give a float32 loss.
  Tensor loss32 = cross_entropy(logits.to(DType::kFloat32), labels_tensor({2, 0}));
  EXPECT_EQ(loss32.dtype(), DType::kFloat32);
  EXPECT_NEAR(loss32.item<double>(), (row0 + row1) / 2, 1e-6);
}

TEST(CrossEntropyTest, LargeLogitsDoNotOverflow) {
  // exp(1000) overflows; with the row max subtracted the loss is exactly 1000 and 0, wherever
  // in the row the large logit is (the max must be taken over every class).
  for (Backend backend : {Backend::kRef, Backend::kCpu}) {
    BackendOverride use(backend);
    for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
      for (int64_t large : {0, 1, 2}) {
        SCOPED_TRACE(std::string(backend_name(backend)) + " " + dtype_name(dtype) +
                     " large logit at " + std::to_string(large));
        std::vector<double> row(3, 0.0);
        row[large] = 1000;
        Tensor logits = from_vector<double>(row, {1, 3}).to(dtype);
        const int64_t other = (large + 1) % 3;
        EXPECT_NEAR(cross_entropy(logits, labels_tensor({other})).item<double>(), 1000.0, 1e-3);
        EXPECT_NEAR(cross_entropy(logits, labels_tensor({large})).item<double>(), 0.0, 1e-6);
      }
      Tensor shifted = from_vector<double>({-1000, -1001}, {1, 2}).to(dtype);
      EXPECT_NEAR(cross_entropy(shifted, labels_tensor({1})).item<double>(),
                  std::log(1 + std::exp(1.0)), 1e-5);
    }
  }
}

TEST(CrossEntropyTest, ProbsAreTheSoftmax) {
  Tensor logits = from_vector<double>({0, std::log(3.0), 2, 2}, {2, 2});
  CrossEntropyResult result = call<CrossEntropyFwd>(logits, labels_tensor({0, 1}));
  EXPECT_TRUE(all_close(result.probs, from_vector<double>({0.25, 0.75, 0.5, 0.5}, {2, 2}),
                        1e-12, 1e-12));
}

TEST(LossTest, OneHotSoftTargetsReproduceClassIndexLoss) {
  std::vector<int64_t> labels = {3, 0, 4, 4, 1};
  for (LossFunction loss : {cross_entropy, sigmoid_cross_entropy}) {
    for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
      Tensor logits = (randn({5, 6}, DType::kFloat64) * 3.0).to(dtype);
      Tensor hard = loss(logits, labels_tensor(labels));
      Tensor soft = loss(logits, one_hot(labels, 6, dtype));
      EXPECT_TRUE(all_close(soft, hard, 1e-6, 1e-6));
    }
  }
}

// A class a row rules out (logit -inf, as masking does) has log_softmax -inf there; its zero
// soft target must add nothing, not 0 * -inf = NaN, so one-hot rows still give the class-index
// loss. Row 0 is softmax (1/4, 0, 3/4) with label 2; row 1 is (1/(1+e), e/(1+e), 0), label 0.
TEST(CrossEntropyTest, AZeroSoftTargetOnAMinusInfinityLogitAddsNothing) {
  const double inf = std::numeric_limits<double>::infinity();
  Tensor logits = from_vector<double>({0, -inf, std::log(3.0), 1, 2, -inf}, {2, 3});
  const double expected = (std::log(4.0 / 3.0) + std::log1p(std::exp(1.0))) / 2;
  for (Backend backend : {Backend::kRef, Backend::kCpu}) {
    BackendOverride use(backend);
    for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
      Tensor z = logits.to(dtype);
      EXPECT_NEAR(cross_entropy(z, one_hot({2, 0}, 3, dtype)).item<double>(), expected, 1e-6)
          << backend_name(backend) << " " << dtype_name(dtype);
      EXPECT_NEAR(cross_entropy(z, labels_tensor({2, 0})).item<double>(), expected, 1e-6);
    }
  }
}

TEST(CrossEntropyTest, MixupBlendIsLinearInTheTargets) {
  // lambda * CE(y1) + (1 - lambda) * CE(y2) == CE(lambda * onehot(y1) + (1 - lambda) * onehot(y2))
  Tensor logits = randn({4, 5}, DType::kFloat64);
  std::vector<int64_t> y1 = {0, 1, 2, 3}, y2 = {4, 1, 0, 2};
  double lambda = 0.3;
  double blended_losses = lambda * cross_entropy(logits, labels_tensor(y1)).item<double>() +
                          (1 - lambda) * cross_entropy(logits, labels_tensor(y2)).item<double>();
  Tensor targets = lambda * one_hot(y1, 5) + (1 - lambda) * one_hot(y2, 5);
  EXPECT_NEAR(cross_entropy(logits, targets).item<double>(), blended_losses, 1e-12);
}

TEST(CrossEntropyTest, GradientOfMeanLossIsProbsMinusOneHotOverN) {
  Tensor logits = randn({3, 4}, DType::kFloat64).set_requires_grad();
  std::vector<int64_t> labels = {1, 3, 0};
  cross_entropy(logits, labels_tensor(labels)).backward();
  // The softmax written out here, not taken from the kernel under test.
  std::vector<double> expected = logits.detach().to_vector<double>();
  const std::vector<double> t = one_hot(labels, 4).to_vector<double>();
  for (size_t row = 0; row < 3; ++row) {
    double* z = &expected[row * 4];
    const double top = *std::max_element(z, z + 4);
    double total = 0;
    for (int k = 0; k < 4; ++k) total += std::exp(z[k] - top);
    for (int k = 0; k < 4; ++k) z[k] = (std::exp(z[k] - top) / total - t[row * 4 + k]) / 3.0;
  }
  EXPECT_TRUE(all_close(logits.grad(), from_vector(expected, {3, 4}), 1e-12, 1e-12));
}

TEST(CrossEntropyTest, GradcheckHardAndSoftTargets) {
  Tensor logits = randn({4, 5}, DType::kFloat64).set_requires_grad();
  auto fn = [](const std::vector<Tensor>& t) { return cross_entropy(t[0], t[1]); };
  EXPECT_TRUE(gradcheck(fn, {logits, labels_tensor({0, 4, 2, 2})}));
  // Soft rows that sum to 1 (mixup) and rows that do not (the p * sum(t) term).
  Tensor blended = 0.7 * one_hot({1, 0, 3, 4}, 5) + 0.3 * one_hot({2, 0, 1, 1}, 5);
  EXPECT_TRUE(gradcheck(fn, {logits, blended}));
  EXPECT_TRUE(gradcheck(fn, {logits, rand({4, 5}, 0.0, 1.0, DType::kFloat64)}));
}

TEST(CrossEntropyTest, ErrorsNameTheOpLabelRowAndShapes) {
  Tensor logits = zeros({2, 3});
  EXPECT_TRUE(throws_error([&] { cross_entropy(logits, labels_tensor({0, 5})); },
                           {"cross_entropy", "label 5", "row 1", "K = 3"}));
  EXPECT_TRUE(throws_error([&] { cross_entropy(logits, labels_tensor({-1, 0})); },
                           {"cross_entropy", "label -1", "row 0", "K = 3"}));
  EXPECT_TRUE(throws_error([&] { cross_entropy(logits, labels_tensor({0, 1, 2})); },
                           {"cross_entropy", "(N) = (2)", "(3)"}));
  EXPECT_TRUE(throws_error([&] { cross_entropy(logits, zeros({2, 4})); },
                           {"cross_entropy", "soft targets", "(2, 3)", "(2, 4)"}));
  EXPECT_TRUE(throws_error([&] { cross_entropy(logits, zeros({2, 3}, DType::kFloat64)); },
                           {"cross_entropy", "float64", "float32"}));
  EXPECT_TRUE(throws_error([&] { cross_entropy(zeros({6}), labels_tensor({0})); },
                           {"cross_entropy", "(N, K)", "(6)"}));
  EXPECT_TRUE(throws_error([&] { cross_entropy(zeros({0, 3}), zeros({0}, DType::kInt64)); },
                           {"cross_entropy", "N, K > 0", "(0, 3)"}));
  EXPECT_TRUE(throws_error([&] { cross_entropy(zeros({2, 0}), zeros({2, 0})); },
                           {"cross_entropy", "N, K > 0", "(2, 0)"}));
  EXPECT_TRUE(throws_error(
      [&] { cross_entropy(zeros({2, 3}, DType::kInt64), labels_tensor({0, 1})); },
      {"cross_entropy", "int64"}));
  // Soft targets get no gradient: one that asks for it is refused, not silently left at zero.
  Tensor learned = zeros({2, 3}).set_requires_grad();
  EXPECT_TRUE(throws_error([&] { cross_entropy(logits, learned); },
                           {"cross_entropy", "targets receive no gradient", "detach()"}));
}

TEST(SigmoidCrossEntropyTest, HandComputedLosses) {
  // z = 0: each class costs log 2 whatever its target; the row sums them, the batch averages.
  EXPECT_NEAR(sigmoid_cross_entropy(zeros({2, 3}, DType::kFloat64), labels_tensor({0, 2}))
                  .item<double>(),
              3 * std::log(2.0), 1e-12);
  // One row, z = (2, -1), t = (1, 0.25): softplus(z) - z * t is softplus(2) - 2 = log(1 + e^-2)
  // and softplus(-1) + 0.25 = log(1 + e^-1) + 0.25.
  Tensor logits = from_vector<double>({2.0, -1.0}, {1, 2});
  Tensor target = from_vector<double>({1.0, 0.25}, {1, 2});
  const double expected = std::log1p(std::exp(-2.0)) + std::log1p(std::exp(-1.0)) + 0.25;
  EXPECT_NEAR(sigmoid_cross_entropy(logits, target).item<double>(), expected, 1e-12);
}

TEST(SigmoidCrossEntropyTest, LargeLogitsDoNotOverflow) {
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    Tensor logits = from_vector<double>({1000.0, -1000.0}, {1, 2}).to(dtype);
    // Class 0 right and sure, class 1 right and sure: no loss.
    EXPECT_NEAR(sigmoid_cross_entropy(logits, labels_tensor({0})).item<double>(), 0.0, 1e-6);
    // Both wrong by 1000.
    EXPECT_NEAR(sigmoid_cross_entropy(logits, labels_tensor({1})).item<double>(), 2000.0, 1e-3);
  }
}

TEST(SigmoidCrossEntropyTest, GradientIsSigmoidMinusTargetOverN) {
  Tensor logits = randn({3, 4}, DType::kFloat64).set_requires_grad();
  std::vector<int64_t> labels = {1, 3, 0};
  sigmoid_cross_entropy(logits, labels_tensor(labels)).backward();
  std::vector<double> expected = logits.detach().to_vector<double>();
  const std::vector<double> t = one_hot(labels, 4).to_vector<double>();
  for (size_t i = 0; i < expected.size(); ++i) {
    expected[i] = (1 / (1 + std::exp(-expected[i])) - t[i]) / 3.0;
  }
  EXPECT_TRUE(all_close(logits.grad(), from_vector(expected, {3, 4}), 1e-12, 1e-12));
}

TEST(SigmoidCrossEntropyTest, GradcheckHardSoftAndMultiLabelTargets) {
  Tensor logits = (randn({4, 5}, DType::kFloat64) * 2.0).set_requires_grad();
  auto fn = [](const std::vector<Tensor>& t) { return sigmoid_cross_entropy(t[0], t[1]); };
  EXPECT_TRUE(gradcheck(fn, {logits, labels_tensor({0, 4, 2, 2})}));
  EXPECT_TRUE(gradcheck(fn, {logits, 0.7 * one_hot({1, 0, 3, 4}, 5) +
                                         0.3 * one_hot({2, 0, 1, 1}, 5)}));
  EXPECT_TRUE(gradcheck(fn, {logits, rand({4, 5}, 0.0, 1.0, DType::kFloat64)}));
}

TEST(SigmoidCrossEntropyTest, ErrorsNameTheOpLabelRowAndShapes) {
  Tensor logits = zeros({2, 3});
  EXPECT_TRUE(throws_error([&] { sigmoid_cross_entropy(logits, labels_tensor({0, 3})); },
                           {"sigmoid_cross_entropy", "label 3", "row 1", "K = 3"}));
  EXPECT_TRUE(throws_error([&] { sigmoid_cross_entropy(logits, zeros({2, 4})); },
                           {"sigmoid_cross_entropy", "soft targets", "(2, 3)", "(2, 4)"}));
  EXPECT_TRUE(throws_error([&] { sigmoid_cross_entropy(zeros({6}), labels_tensor({0})); },
                           {"sigmoid_cross_entropy", "(N, K)", "(6)"}));
  Tensor learned = zeros({2, 3}).set_requires_grad();
  EXPECT_TRUE(throws_error([&] { sigmoid_cross_entropy(logits, learned); },
                           {"sigmoid_cross_entropy", "targets receive no gradient"}));
}

}  // namespace
}  // namespace bitgrad
