// The CPU kernels of exp, log, sigmoid, tanh, softmax and log_softmax against the reference
// kernels, forward and backward, on plain tensors of odd sizes and on channel-blocked ones.
#include "core/random.h"
#include "gtest/gtest.h"
#include "ops/conv.h"
#include "ops/elementwise.h"
#include "ops/unary.h"
#include "tests/testing/assertions.h"
#include "tests/testing/parity.h"

namespace bitgrad {
namespace {

using testing::matches_reference;
using testing::random_input;

using UnaryFn = Tensor (*)(const Tensor&);
struct NamedUnary {
  const char* name;
  UnaryFn fn;
};
const NamedUnary kUnaryOps[] = {{"exp", &exp}, {"log", &log}, {"sigmoid", &sigmoid},
                                {"tanh", &tanh}};

// Inputs in each op's domain: positive for log.
Tensor input_for(UnaryFn fn, const Shape& shape) {
  if (fn == &log) return rand(shape, 0.05, 4.0).set_requires_grad();
  return random_input(shape);
}

// x through a 1x1 conv with w: a channel-blocked tensor with w.size(0) channels.
Tensor blocked(const Tensor& x, const Tensor& w) { return conv2d(x, w); }

TEST(UnaryOnednnTest, ElementwiseOpsMatchReferenceOnOddSizes) {
  // 1 << 15 + 3 and up: past the log loop's threading threshold.
  for (const Shape& shape : {Shape{7}, Shape{3, 5, 7}, Shape{2, 3, 1, 5, 3}, Shape{},
                             Shape{32771}, Shape{3, 101, 129}}) {
    for (const NamedUnary& op : kUnaryOps) {
      SCOPED_TRACE(std::string(op.name) + " " + shape.str());
      EXPECT_TRUE(matches_reference([&](const std::vector<Tensor>& in) { return op.fn(in[0]); },
                                    {input_for(op.fn, shape)}));
    }
  }
}

// What the CPU kernels hand to the reference ones (matches_reference wants some fast kernel
// in the run, so these are compared directly): float64 and empty tensors.
TEST(UnaryOnednnTest, Float64AndEmptyTensorsRunTheReferenceKernels) {
  for (const Shape& shape : {Shape{5, 3}, Shape{0, 4}}) {
    for (UnaryOp op : {UnaryOp::kExp, UnaryOp::kLog, UnaryOp::kSigmoid, UnaryOp::kTanh}) {
      SCOPED_TRACE(std::string(unary_op_name(op)) + " " + shape.str());
      Tensor x = rand(shape, 0.1, 2.0, DType::kFloat64), dy = randn(shape, DType::kFloat64);
      Tensor y = call<UnaryFwd>(x, op), dx = call<UnaryBwd>(dy, x, op);
      BackendOverride reference(Backend::kRef);
      EXPECT_TRUE(testing::same_bits(y, call<UnaryFwd>(x, op)));
      EXPECT_TRUE(testing::same_bits(dx, call<UnaryBwd>(dy, x, op)));
    }
    for (SoftmaxOp op : {SoftmaxOp::kSoftmax, SoftmaxOp::kLogSoftmax}) {
      SCOPED_TRACE(std::string(softmax_op_name(op)) + " " + shape.str());
      Tensor x = randn(shape, DType::kFloat64), dy = randn(shape, DType::kFloat64);
      Tensor y = call<SoftmaxFwd>(x, 1, op), dx = call<SoftmaxBwd>(dy, y, 1, op);
      BackendOverride reference(Backend::kRef);
      EXPECT_TRUE(testing::same_bits(y, call<SoftmaxFwd>(x, 1, op)));
      EXPECT_TRUE(testing::same_bits(dx, call<SoftmaxBwd>(dy, y, 1, op)));
    }
  }
  // Empty float32 tensors too.
  Tensor empty32 = zeros({0, 4});
  EXPECT_EQ(call<UnaryFwd>(empty32, UnaryOp::kExp).shape(), (Shape{0, 4}));
  EXPECT_EQ(call<SoftmaxFwd>(empty32, 0, SoftmaxOp::kSoftmax).shape(), (Shape{0, 4}));
  EXPECT_EQ(call<SoftmaxBwd>(empty32, empty32, 1, SoftmaxOp::kLogSoftmax).shape(), (Shape{0, 4}));
}

TEST(UnaryOnednnTest, LogIsAccurateNearOne) {
  // log(1 + d) ~ d: oneDNN 2.6's eltwise log gets 1.0001 1.4% wrong, std::log to a rounding.
  std::vector<float> near_one;
  for (int k = -50; k <= 50; ++k) near_one.push_back(1.0f + 1e-5f * k);
  Tensor x = from_vector(near_one, {101});
  Tensor expected;
  {
    BackendOverride reference(Backend::kRef);
    expected = log(x);
  }
  EXPECT_TRUE(testing::all_close(log(x), expected, 1e-6, 0));
}

TEST(UnaryOnednnTest, ElementwiseOpsOnBlockedInputs) {
  // 16 channels fill whole blocks; 5 leave padding lanes, which must stay zero. Positive conv
  // inputs and weights give a positive blocked tensor, for log.
  for (int64_t channels : {16, 5}) {
    for (const NamedUnary& op : kUnaryOps) {
      SCOPED_TRACE(std::string(op.name) + " with " + std::to_string(channels) + " channels");
      std::vector<Tensor> inputs = {rand({2, 8, 3, 5}, 0.1, 1.0).set_requires_grad(),
                                    rand({channels, 8, 1, 1}, 0.1, 1.0).set_requires_grad()};
      if (op.fn != &log) inputs = {random_input({2, 8, 3, 5}), random_input({channels, 8, 1, 1})};
      EXPECT_TRUE(matches_reference(
          [&](const std::vector<Tensor>& in) { return op.fn(blocked(in[0], in[1])); }, inputs));
    }
  }
}

TEST(UnaryOnednnTest, LayoutIsKeptWhereThePaddingStaysZero) {
  Tensor whole = blocked(rand({2, 8, 3, 3}, 0.1, 1.0), rand({16, 8, 1, 1}, 0.1, 1.0));
  Tensor padded = blocked(rand({2, 8, 3, 3}, 0.1, 1.0), rand({5, 8, 1, 1}, 0.1, 1.0));
  ASSERT_FALSE(whole.is_plain());
  ASSERT_FALSE(padded.is_plain());
  for (const NamedUnary& op : kUnaryOps) {
    SCOPED_TRACE(op.name);
    Tensor y = op.fn(whole);
    ASSERT_FALSE(y.is_plain());
    EXPECT_TRUE(y.opaque_layout()->same_as(*whole.opaque_layout()));
    // tanh(0) = 0 keeps the padded layout; exp, log and sigmoid would fill the padding.
    Tensor y_padded = op.fn(padded);
    EXPECT_EQ(y_padded.is_plain(), op.fn != &tanh);
    if (!y_padded.is_plain()) {
      EXPECT_TRUE(testing::padding_channels_are_zero(y_padded));
    }
  }
}

TEST(UnaryOnednnTest, BackwardWithMixedLayoutsKeepsThePaddingZero) {
  // dy plain, the saved tensor blocked with padding (and the other way round).
  Tensor padded = blocked(rand({2, 8, 4, 4}, 0.1, 1.0), rand({5, 8, 1, 1}, 0.1, 1.0));
  Tensor dy = randn({2, 5, 4, 4});
  Tensor dy_padded = blocked(randn({2, 8, 4, 4}), randn({5, 8, 1, 1}));
  for (UnaryOp op : {UnaryOp::kExp, UnaryOp::kLog, UnaryOp::kSigmoid, UnaryOp::kTanh}) {
    SCOPED_TRACE(unary_op_name(op));
    Tensor saved = unary_grad_uses_output(op) ? call<UnaryFwd>(padded, op) : padded;
    for (const Tensor& gradient : {dy, dy_padded}) {
      Tensor dx = call<UnaryBwd>(gradient, saved, op);
      if (!dx.is_plain()) {
        EXPECT_TRUE(testing::padding_channels_are_zero(dx));
      }
      BackendOverride reference(Backend::kRef);
      EXPECT_TRUE(testing::close_to(dx, call<UnaryBwd>(gradient, saved, op)));
    }
  }
}

TEST(UnaryOnednnTest, SoftmaxMatchesReferenceAlongEveryDim) {
  const std::vector<std::pair<Shape, std::vector<int64_t>>> cases = {
      {{1031}, {0}},
      {{5, 1}, {0, 1}},
      {{3, 5, 7}, {0, 1, 2, -1}},
      {{2, 3, 1, 5, 3}, {0, 1, 2, 3, 4}},
      {{7, 1003}, {1, 0}},  // a classifier's logits, and across the batch
      {{4, 21, 33, 17}, {1}},  // per-pixel class scores
  };
  for (const auto& [shape, dims] : cases) {
    for (int64_t dim : dims) {
      SCOPED_TRACE(shape.str() + " dim " + std::to_string(dim));
      EXPECT_TRUE(matches_reference(
          [&](const std::vector<Tensor>& in) { return softmax(in[0], dim); },
          {random_input(shape)}));
      EXPECT_TRUE(matches_reference(
          [&](const std::vector<Tensor>& in) { return log_softmax(in[0], dim); },
          {random_input(shape)}));
    }
  }
}

TEST(UnaryOnednnTest, SoftmaxOfBlockedAndLargeInputs) {
  // A conv's blocked output (padded channels) along the channels and along W.
  for (int64_t dim : {1, 3}) {
    SCOPED_TRACE(dim);
    EXPECT_TRUE(matches_reference(
        [&](const std::vector<Tensor>& in) {
          return log_softmax(blocked(in[0], in[1]), dim) + softmax(blocked(in[0], in[1]), dim);
        },
        {random_input({2, 8, 3, 5}), random_input({5, 8, 1, 1})}));
  }
  // Values up to about 1000: the maximum is subtracted.
  EXPECT_TRUE(matches_reference(
      [](const std::vector<Tensor>& in) {
        Tensor large = in[0] * 300.0;
        return softmax(large, 0) + log_softmax(large, 1);
      },
      {random_input({6, 9})}));
}

}  // namespace
}  // namespace bitgrad
