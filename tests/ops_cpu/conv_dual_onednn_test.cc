// Conv passes run as the other pass of the dual conv (ops/cpu/conv/dual.h, rule in
// conv/algo.h): the forward of stride-1 convs as a backward-data, and the backward-data of
// 1x1 convs as a forward. Against the reference kernels and against oneDNN's own pass.
#include <functional>

#include "gtest/gtest.h"
#include "ops/conv.h"
#include "ops/cpu/common/onednn_layout.h"
#include "ops/cpu/conv/algo.h"
#include "tests/testing/parity.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using onednn::ConvAlgo;
using onednn::ScopedConvAlgo;
using onednn::use_dual_for_backward_data;
using onednn::use_dual_for_forward;
using testing::blocked_input;
using testing::close_to;
using testing::matches_reference;
using testing::random_input;

struct PointwiseCase {
  const char* name;
  Shape x;
  int64_t out_channels;
  std::array<int64_t, 2> stride;
};

// Every case takes the transposed-forward path under the auto rule (checked below).
std::vector<PointwiseCase> pointwise_cases() {
  return {
      {"bit_b1_reduce", {2, 256, 8, 8}, 64, {1, 1}},
      {"bit_projection_s2", {2, 64, 10, 10}, 128, {2, 2}},
      {"medium_map_expand", {2, 16, 8, 8}, 64, {1, 1}},
      {"odd_channels_reduce", {2, 21, 7, 9}, 13, {1, 1}},
      {"odd_channels_s2_odd_map", {3, 13, 11, 9}, 19, {2, 2}},
      {"stride_3", {2, 16, 14, 13}, 8, {3, 3}},
      {"asymmetric_stride", {2, 16, 9, 6}, 32, {2, 1}},
  };
}

// fn's result under conv algorithm `algo`: auto takes the dual paths, direct oneDNN's own.
Tensor run_under(ConvAlgo algo, const std::function<Tensor()>& fn) {
  ScopedConvAlgo scoped(algo);
  return fn();
}

Conv2dAttrs attrs_of(const PointwiseCase& c) { return Conv2dAttrs{c.stride, {0, 0}}; }
Shape weights_of(const PointwiseCase& c) { return {c.out_channels, c.x[1], 1, 1}; }

TEST(ConvDualTest, PointwiseCasesTakeTheDualBackwardData) {
  const onednn::ScopedConvRules avx2_rules(onednn::ConvRules::kAvx2);  // these kernels' rule
  ScopedConvAlgo scoped(ConvAlgo::kAuto);
  for (const PointwiseCase& c : pointwise_cases()) {
    SCOPED_TRACE(c.name);
    EXPECT_TRUE(use_dual_for_backward_data(c.x, weights_of(c), attrs_of(c)));
  }
}

// The rule: not on 4x4 maps, not for convs that expand the channels on maps above 8x8, not for
// other kernel sizes or padded convs, and not outside auto mode.
TEST(ConvDualTest, RuleLeavesOtherBackwardDataToOnednn) {
  const onednn::ScopedConvRules avx2_rules(onednn::ConvRules::kAvx2);  // these kernels' rule
  Conv2dAttrs unit;
  ScopedConvAlgo scoped(ConvAlgo::kAuto);
  EXPECT_FALSE(use_dual_for_backward_data({16, 2048, 4, 4}, {512, 2048, 1, 1}, unit));
  EXPECT_FALSE(use_dual_for_backward_data({16, 64, 32, 32}, {256, 64, 1, 1}, unit));
  EXPECT_TRUE(use_dual_for_backward_data({16, 256, 32, 32}, {64, 256, 1, 1}, unit));
  EXPECT_TRUE(use_dual_for_backward_data({16, 256, 8, 8}, {1024, 256, 1, 1}, unit));
  EXPECT_FALSE(
      use_dual_for_backward_data({16, 1024, 8, 8}, {2048, 1024, 1, 1}, {{2, 2}, {0, 0}}));
  EXPECT_FALSE(
      use_dual_for_backward_data({16, 64, 32, 32}, {64, 64, 3, 3}, {{1, 1}, {1, 1}}));
  EXPECT_FALSE(use_dual_for_backward_data({16, 64, 8, 8}, {32, 64, 1, 1}, {{1, 1}, {1, 1}}));
  ScopedConvAlgo direct(ConvAlgo::kDirect);
  EXPECT_FALSE(use_dual_for_backward_data({16, 256, 32, 32}, {64, 256, 1, 1}, unit));
}

// conv -> 1x1 conv -> conv, so that the 1x1 conv's dy arrives channel-blocked, as in training;
// and the 1x1 conv on a plain input.
TEST(ConvDualTest, PointwiseGradientsMatchReference) {
  const onednn::ScopedConvRules avx2_rules(onednn::ConvRules::kAvx2);  // these kernels' rule
  ScopedConvAlgo scoped(ConvAlgo::kAuto);
  for (const PointwiseCase& c : pointwise_cases()) {
    SCOPED_TRACE(c.name);
    Conv2dAttrs attrs = attrs_of(c);
    EXPECT_TRUE(matches_reference(
        [&](const std::vector<Tensor>& t) {
          Tensor x = conv2d(t[0], t[1], Tensor(), {{1, 1}, {1, 1}});
          return conv2d(conv2d(x, t[2], Tensor(), attrs), t[3], Tensor(), {});
        },
        {random_input({c.x[0], 5, c.x[2], c.x[3]}), random_input({c.x[1], 5, 3, 3}),
         random_input(weights_of(c)), random_input({7, c.out_channels, 1, 1})}));
    EXPECT_TRUE(matches_reference(
        [&](const std::vector<Tensor>& t) { return conv2d(t[0], t[1], Tensor(), attrs); },
        {random_input(c.x), random_input(weights_of(c))}));
  }
}

// The same dx as oneDNN's own backward-data, in the same layout where oneDNN's is blocked; the
// strided cases' pixels between the sampled ones are exactly zero.
TEST(ConvDualTest, PointwiseBackwardDataAgreesWithOnednn) {
  for (const PointwiseCase& c : pointwise_cases()) {
    SCOPED_TRACE(c.name);
    Conv2dAttrs attrs = attrs_of(c);
    Tensor w = random_input(weights_of(c), false);
    Tensor dy = conv2d(blocked_input(c.x), w, Tensor(), attrs);
    auto backward_data = [&] { return call<Conv2dBwdData>(dy, w, c.x, attrs); };
    Tensor by_forward = run_under(ConvAlgo::kAuto, backward_data);
    Tensor by_onednn = run_under(ConvAlgo::kDirect, backward_data);
    ASSERT_FALSE(by_forward.is_plain());
    if (!by_onednn.is_plain()) {  // oneDNN runs asymmetric strides on plain layouts
      EXPECT_EQ(by_forward.opaque_layout()->name(), by_onednn.opaque_layout()->name());
    }
    EXPECT_TRUE(close_to(by_forward, by_onednn));
    Tensor dx = by_forward.to_plain();
    const float* values = dx.data<float>();
    for (int64_t i = 0; i < dx.numel(); ++i) {
      int64_t w_index = i % c.x[3], h_index = i / c.x[3] % c.x[2];
      if (h_index % c.stride[0] != 0 || w_index % c.stride[1] != 0) {
        ASSERT_EQ(values[i], 0.0f) << "pixel (" << h_index << ", " << w_index << ")";
      }
    }
  }
}

struct ForwardCase {
  const char* name;
  Shape x, w;
  Conv2dAttrs attrs;
};

// Every case takes the dual forward under the auto rule (checked below).
std::vector<ForwardCase> forward_cases() {
  return {
      {"bit_b3_3x3", {2, 64, 8, 8}, {64, 64, 3, 3}, {{1, 1}, {1, 1}}},
      {"odd_channels", {2, 5, 9, 7}, {7, 5, 3, 3}, {{1, 1}, {1, 1}}},
      {"unpadded", {2, 8, 9, 9}, {16, 8, 3, 3}, {{1, 1}, {0, 0}}},
      {"padding_2", {2, 16, 6, 7}, {8, 16, 3, 3}, {{1, 1}, {2, 2}}},
      {"asymmetric_padding", {3, 13, 7, 10}, {11, 13, 3, 3}, {{1, 1}, {0, 1}}},
  };
}

TEST(ConvDualTest, ForwardCasesTakeTheDualForward) {
  const onednn::ScopedConvRules avx2_rules(onednn::ConvRules::kAvx2);  // these kernels' rule
  ScopedConvAlgo scoped(ConvAlgo::kAuto);
  for (const ForwardCase& c : forward_cases()) {
    SCOPED_TRACE(c.name);
    EXPECT_TRUE(use_dual_for_forward(c.x, c.w, c.attrs));
  }
}

// Not on 4x4 maps (GEMM), strided, dilated or grouped convs, other kernel sizes, or outside auto.
TEST(ConvDualTest, RuleLeavesOtherForwardsToOnednn) {
  const onednn::ScopedConvRules avx2_rules(onednn::ConvRules::kAvx2);  // these kernels' rule
  ScopedConvAlgo scoped(ConvAlgo::kAuto);
  Conv2dAttrs same{{1, 1}, {1, 1}};
  EXPECT_TRUE(use_dual_for_forward({16, 256, 8, 8}, {256, 256, 3, 3}, same));
  EXPECT_FALSE(use_dual_for_forward({16, 512, 4, 4}, {512, 512, 3, 3}, same));
  EXPECT_FALSE(use_dual_for_forward({16, 128, 32, 32}, {128, 128, 3, 3}, {{2, 2}, {1, 1}}));
  EXPECT_FALSE(use_dual_for_forward({16, 64, 32, 32}, {64, 64, 3, 3}, {{1, 1}, {2, 2}, {2, 2}}));
  EXPECT_FALSE(
      use_dual_for_forward({16, 64, 32, 32}, {64, 16, 3, 3}, {{1, 1}, {1, 1}, {1, 1}, 4}));
  EXPECT_FALSE(use_dual_for_forward({16, 64, 32, 32}, {64, 64, 1, 1}, {}));
  EXPECT_FALSE(use_dual_for_forward({2, 3, 64, 64}, {64, 3, 7, 7}, {{1, 1}, {3, 3}}));
  ScopedConvAlgo direct(ConvAlgo::kDirect);
  EXPECT_FALSE(use_dual_for_forward({16, 256, 8, 8}, {256, 256, 3, 3}, same));
}

// The conv reads a channel-blocked x, as in training, and its gradients flow through the other
// passes.
TEST(ConvDualTest, ForwardMatchesReference) {
  const onednn::ScopedConvRules avx2_rules(onednn::ConvRules::kAvx2);  // these kernels' rule
  ScopedConvAlgo scoped(ConvAlgo::kAuto);
  for (const ForwardCase& c : forward_cases()) {
    SCOPED_TRACE(c.name);
    Conv2dAttrs attrs = c.attrs;
    EXPECT_TRUE(matches_reference(
        [&](const std::vector<Tensor>& t) {
          return conv2d(conv2d(t[0], t[1], Tensor(), {}), t[2], Tensor(), attrs);
        },
        {random_input({c.x[0], 4, c.x[2], c.x[3]}), random_input({c.x[1], 4, 1, 1}),
         random_input(c.w)}));
    EXPECT_TRUE(matches_reference(
        [&](const std::vector<Tensor>& t) { return conv2d(t[0], t[1], Tensor(), attrs); },
        {random_input(c.x), random_input(c.w)}));
  }
}

TEST(ConvDualTest, ForwardAgreesWithOnednnForward) {
  const onednn::ScopedConvRules avx2_rules(onednn::ConvRules::kAvx2);  // these kernels' rule
  for (const ForwardCase& c : forward_cases()) {
    SCOPED_TRACE(c.name);
    Tensor x = blocked_input(c.x);
    Tensor w = random_input(c.w, false);
    auto forward = [&] { return conv2d(x, w, Tensor(), c.attrs); };
    Tensor by_dual = run_under(ConvAlgo::kAuto, forward);
    Tensor by_onednn = run_under(ConvAlgo::kDirect, forward);
    ASSERT_FALSE(by_dual.is_plain());
    ASSERT_FALSE(by_onednn.is_plain());
    EXPECT_EQ(by_dual.opaque_layout()->name(), by_onednn.opaque_layout()->name());
    EXPECT_TRUE(close_to(by_dual, by_onednn));
  }
}

}  // namespace
}  // namespace bitgrad
