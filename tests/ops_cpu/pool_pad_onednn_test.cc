// The oneDNN max_pool2d and pad kernels against the reference kernels.
#include "autograd/grad_mode.h"
#include <cmath>

#include "core/random.h"
#include "gtest/gtest.h"
#include "ops/conv.h"
#include "ops/cpu/common/cpu_isa.h"
#include "ops/cpu/common/onednn_layout.h"
#include "ops/pad.h"
#include "ops/pool.h"
#include "tests/ops_cpu/cpu_kernel_testing.h"
#include "tests/testing/parity.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using testing::blocked_input;
using testing::isas_to_test;
using testing::close_to;
using testing::matches_reference;
using testing::random_input;
using testing::throws_error;
using testing::with_channel_block;

TEST(PoolOnednnTest, MaxPoolMatchesReference) {
  struct Case {
    Shape x;
    Pool2dAttrs attrs;
  };
  for (const Case& c : std::vector<Case>{{{2, 16, 9, 9}, {{3, 3}, {2, 2}, {0, 0}}},
                                         {{2, 16, 8, 8}, {{2, 2}, {2, 2}, {0, 0}}},
                                         {{2, 5, 7, 9}, {{3, 3}, {2, 2}, {1, 1}}},
                                         {{1, 24, 6, 5}, {{3, 2}, {1, 2}, {1, 0}}}}) {
    SCOPED_TRACE(c.x.str());
    Pool2dAttrs attrs = c.attrs;
    auto fn = [&](const std::vector<Tensor>& in) { return max_pool2d(in[0], attrs); };
    EXPECT_TRUE(matches_reference(fn, {random_input(c.x)}));  // plain input
    // Blocked input: the gradient reaching the conv's input covers the backward too.
    EXPECT_TRUE(matches_reference(
        [&](const std::vector<Tensor>& in) {
          return max_pool2d(conv2d(in[0], in[1]), attrs);
        },
        {random_input({c.x[0], 8, c.x[2], c.x[3]}), random_input({c.x[1], 8, 1, 1})}));
  }
}

TEST(PoolOnednnTest, OutputKeepsTheBlockedLayout) {
  Tensor y = max_pool2d(blocked_input({2, 16, 9, 9}), {{3, 3}, {2, 2}, {0, 0}});
  EXPECT_FALSE(y.is_plain());
}

// Without a gradient to compute, max_pool2d runs the inference slot (no workspace): the same y
// as the training forward, and as the reference, on blocked and plain inputs.
TEST(PoolOnednnTest, InferenceForwardMatchesTrainingForwardAndReference) {
  for (const Shape& shape : {Shape{2, 16, 66, 66}, Shape{3, 5, 9, 7}}) {
    for (bool blocked : {true, false}) {
      SCOPED_TRACE(shape.str() + (blocked ? " blocked" : " plain"));
      Tensor x = blocked ? blocked_input(shape) : randn(shape);
      Pool2dAttrs attrs{{3, 3}, {2, 2}, {1, 1}};
      Tensor y;
      {
        NoGradGuard inference;
        y = max_pool2d(x, attrs);
      }
      EXPECT_TRUE(close_to(y, call<MaxPool2dFwd>(x, attrs).y, {0, 0}));
      Tensor expected;
      {
        BackendOverride reference(Backend::kRef);
        expected = call<MaxPool2dInference>(x, attrs);
      }
      EXPECT_TRUE(close_to(y, expected, {0, 0}));
    }
  }
}

TEST(PoolOnednnTest, BackwardRejectsAnotherBackendsWorkspace) {
  Tensor x = randn({1, 8, 4, 4});
  Pool2dAttrs attrs{{2, 2}, {2, 2}, {0, 0}};
  MaxPool2dResult ref_result;
  {
    BackendOverride reference(Backend::kRef);
    ref_result = call<MaxPool2dFwd>(x, attrs);
  }
  EXPECT_TRUE(
      throws_error([&] { call<MaxPool2dBwd>(ref_result.y, x, ref_result.workspace, attrs); },
                   {"max_pool2d backward", "workspace", "int64", "(1, 8, 2, 2)"}));
  MaxPool2dResult cpu_result = call<MaxPool2dFwd>(x, attrs);
  EXPECT_TRUE(throws_error(
      [&] { call<MaxPool2dBwd>(zeros({1, 8, 3, 3}), x, cpu_result.workspace, attrs); },
      {"max_pool2d backward", "(1, 8, 3, 3)", "(1, 8, 2, 2)"}));
}

// On channel-blocked input the forward keeps no workspace and the backward recomputes each
// window's maximum from x (ops/cpu/pool/max_pool_bwd_kernel.h), on every ISA; on plain input
// oneDNN's workspace routes the gradient.
TEST(PoolOnednnTest, BlockedBackwardRecomputesTheMaxima) {
  Pool2dAttrs root{{3, 3}, {2, 2}, {0, 0}};
  EXPECT_FALSE(call<MaxPool2dFwd>(blocked_input({2, 16, 9, 9}), root).workspace.defined());
  EXPECT_TRUE(call<MaxPool2dFwd>(randn({2, 16, 9, 9}), root).workspace.defined());
  struct Case {
    Shape x;
    Pool2dAttrs attrs;
  };
  for (cpu::CpuIsa isa : isas_to_test()) {
    cpu::ScopedCpuIsaCap cap(isa);
    for (const Case& c : std::vector<Case>{{{2, 16, 11, 11}, root},
                                           {{2, 5, 7, 9}, {{3, 3}, {2, 2}, {1, 1}}},
                                           {{1, 24, 6, 5}, {{3, 2}, {1, 2}, {1, 0}}},
                                           {{3, 8, 8, 8}, {{2, 2}, {2, 2}, {0, 0}}}}) {
      SCOPED_TRACE(std::string(cpu::cpu_isa_name(isa)) + " " + c.x.str());
      Pool2dAttrs attrs = c.attrs;
      EXPECT_TRUE(matches_reference(
          [&](const std::vector<Tensor>& in) { return max_pool2d(conv2d(in[0], in[1]), attrs); },
          {random_input({c.x[0], 8, c.x[2], c.x[3]}), random_input({c.x[1], 8, 1, 1})}));
      // Both blocks, whichever this CPU's convs choose: dx from x alone, against the reference.
      Tensor plain = randn(c.x), dy = randn(max_pool2d_output_shape(c.x, attrs));
      Tensor expected;
      {
        BackendOverride reference(Backend::kRef);
        expected = call<MaxPool2dBwd>(dy, plain, call<MaxPool2dFwd>(plain, attrs).workspace, attrs);
      }
      for (int64_t block : {8, 16}) {
        Tensor dx = call<MaxPool2dBwd>(dy, with_channel_block(plain, block), Tensor(), attrs);
        EXPECT_EQ(onednn::channel_block(dx), block);
        EXPECT_TRUE(close_to(dx, expected)) << "block " << block;  // overlaps add in any order
        EXPECT_TRUE(testing::padding_channels_are_zero(dx)) << "block " << block;
      }
    }
  }
}

// Ties send the gradient to the first position of the window in row-major order, and a NaN
// wins, as in the reference kernel: on every ISA and with 8- and 16-channel blocks.
TEST(PoolOnednnTest, BlockedBackwardFollowsTheReferenceOnTiesAndNaN) {
  Pool2dAttrs attrs{{3, 3}, {2, 2}, {0, 0}};
  Tensor plain = full({1, 32, 5, 5}, 1.0f);
  float* values = plain.mutable_data<float>();
  for (int64_t c : {0, 9}) values[c * 25 + 3 * 5 + 3] = std::nanf("");  // a NaN at (3, 3)
  for (int64_t c : {1, 14}) values[c * 25 + 1 * 5 + 2] = 2.0f;  // a unique maximum at (1, 2)
  Tensor dy = randn({1, 32, 2, 2});
  Tensor expected;
  {
    BackendOverride reference(Backend::kRef);
    expected = call<MaxPool2dBwd>(dy, plain, call<MaxPool2dFwd>(plain, attrs).workspace, attrs);
  }
  for (cpu::CpuIsa isa : isas_to_test()) {
    cpu::ScopedCpuIsaCap cap(isa);
    SCOPED_TRACE(cpu::cpu_isa_name(isa));
    // The whole path on the block this CPU's convs choose: forward, then backward.
    Tensor x = onednn::to_layout_of(plain, blocked_input({1, 32, 5, 5}));
    ASSERT_FALSE(x.is_plain());
    MaxPool2dResult result = call<MaxPool2dFwd>(x, attrs);
    EXPECT_TRUE(testing::all_close(call<MaxPool2dBwd>(dy, x, result.workspace, attrs), expected,
                                   0, 0));
    for (int64_t block : {8, 16}) {
      Tensor dx = call<MaxPool2dBwd>(dy, with_channel_block(plain, block), Tensor(), attrs);
      EXPECT_TRUE(testing::all_close(dx, expected, 0, 0)) << "block " << block;
    }
  }
}

TEST(PadOnednnTest, BlockedZeroPadStaysBlockedAndMatchesReference) {
  Tensor x = blocked_input({2, 16, 5, 6});
  Tensor y = pad(x, {1, 1, 1, 1});
  EXPECT_FALSE(y.is_plain());
  EXPECT_EQ(y.shape(), (Shape{2, 16, 7, 8}));
  BackendOverride reference(Backend::kRef);
  EXPECT_TRUE(close_to(y, pad(x, {1, 1, 1, 1}), {0, 0}));
}

TEST(PadOnednnTest, PadsAndCropsMatchReference) {
  struct Case {
    Shape x;
    std::vector<int64_t> pads;
    double value;
  };
  for (const Case& c : std::vector<Case>{{{2, 16, 5, 6}, {1, 1, 1, 1}, 0.0},
                                         {{2, 16, 5, 6}, {-1, -2, 0, -1}, 0.0},
                                         {{2, 16, 5, 6}, {2, -1, -1, 3}, 0.0},
                                         {{2, 5, 5, 6}, {1, 0, 0, 2}, 0.0},
                                         {{2, 5, 5, 6}, {-1, -1, -2, 0}, 0.0},
                                         {{2, 16, 5, 6}, {1, 1, 1, 1}, -2.5},
                                         {{2, 16, 5, 6}, {0, 0, 0, 0, 1, 2}, 0.0},
                                         {{2, 16, 5, 6}, {0, 0, 0, 0, -3, 0}, 0.0},
                                         // x's columns all cropped, or all pushed out.
                                         {{2, 16, 5, 6}, {-6, 2, 0, -1}, 0.0},
                                         {{2, 16, 5, 6}, {3, -7, -1, 1}, 0.0}}) {
    SCOPED_TRACE(c.x.str());
    std::vector<int64_t> pads = c.pads;
    double value = c.value;
    EXPECT_TRUE(matches_reference(
        [&](const std::vector<Tensor>& in) { return pad(conv2d(in[0], in[1]), pads, value); },
        {random_input({c.x[0], 8, c.x[2], c.x[3]}), random_input({c.x[1], 8, 1, 1})}));
    EXPECT_TRUE(matches_reference(
        [&](const std::vector<Tensor>& in) { return pad(in[0], pads, value); },
        {random_input(c.x)}));
  }
  // Other ranks, plain only.
  EXPECT_TRUE(matches_reference([](const std::vector<Tensor>& in) { return pad(in[0], {2, -1}); },
                                {random_input({3, 7})}));
  EXPECT_TRUE(matches_reference(
      [](const std::vector<Tensor>& in) { return pad(in[0], {1, 2, 0, 1, -1, 1}, 1.5); },
      {random_input({4, 3, 5})}));
}

TEST(PadOnednnTest, BlockedChannelPaddingStaysZero) {
  // C = 5: each pixel holds a whole block of floats, and the lanes past 5 must be 0.
  for (const std::vector<int64_t>& pads : {std::vector<int64_t>{1, 1, 1, 1}, {-1, -1, -2, 0}}) {
    Tensor y = pad(blocked_input({2, 5, 5, 6}), pads);
    ASSERT_FALSE(y.is_plain());
    EXPECT_TRUE(testing::padding_channels_are_zero(y));
  }
}

TEST(PadOnednnTest, CropAwayEverythingGivesTheFillValue) {
  Tensor y = pad(randn({2, 3}), {-3, 2}, 4.0);
  EXPECT_EQ(y.shape(), (Shape{2, 2}));
  EXPECT_TRUE(testing::all_close(y, full({2, 2}, 4.0)));
}

TEST(PoolPadOnednnTest, BitRootConvPadPoolMatchesReference) {
  // Root conv 7x7/s2/p3 -> zero pad 1 -> max pool 3x3/s2, where the zero border can win.
  EXPECT_TRUE(matches_reference(
      [](const std::vector<Tensor>& in) {
        Tensor y = conv2d(in[0], in[1], Tensor(), {{2, 2}, {3, 3}});
        return max_pool2d(pad(y, {1, 1, 1, 1}), {{3, 3}, {2, 2}, {0, 0}});
      },
      {random_input({2, 3, 32, 32}), random_input({16, 3, 7, 7})}));
}

TEST(PadOnednnTest, ErrorsNameTheOpAndShapes) {
  EXPECT_TRUE(throws_error(
      [] { call<ConstantPadFwd>(zeros({2, 3}), PadAttrs{{1}, {1}, 0.0}); },
      {"pad", "(2, 3)"}));
  EXPECT_TRUE(throws_error(
      [] { call<ConstantPadFwd>(zeros({2, 3}), PadAttrs{{0, -2}, {0, -2}, 0.0}); },
      {"pad", "(2, 3)", "below zero"}));
}

}  // namespace
}  // namespace bitgrad
