// The im2col + GEMM conv2d path and the per-shape algorithm choice (ops/cpu/conv/gemm.h,
// conv/algo.h) against the reference kernels: forward, backward data and backward
// weights, on BiT's late-stage shapes and on odd ones, reading and writing plain and
// channel-blocked activations.
#include <functional>

#include "gtest/gtest.h"
#include "ops/conv.h"
#include "ops/cpu/common/onednn_layout.h"
#include "ops/cpu/conv/algo.h"
#include "ops/cpu/conv/direct.h"
#include "ops/cpu/conv/gemm.h"
#include "tests/testing/parity.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using onednn::ConvAlgo;
using onednn::ScopedConvAlgo;
using testing::close_to;
using testing::matches_reference;
using testing::random_input;

struct ConvCase {
  const char* name;
  Shape x, w;
  Conv2dAttrs attrs;
};

std::vector<ConvCase> conv_cases() {
  return {
      {"bit_b4_3x3_4x4", {2, 512, 4, 4}, {512, 512, 3, 3}, {{1, 1}, {1, 1}}},
      {"bit_b4_3x3_s2_8x8", {2, 512, 8, 8}, {512, 512, 3, 3}, {{2, 2}, {1, 1}}},
      {"bit_b3_3x3_8x8", {2, 256, 8, 8}, {256, 256, 3, 3}, {{1, 1}, {1, 1}}},
      {"bit_root_7x7_s2_p3", {2, 3, 19, 19}, {8, 3, 7, 7}, {{2, 2}, {3, 3}}},
      {"odd_channels_3x3", {2, 5, 9, 7}, {7, 5, 3, 3}, {{1, 1}, {1, 1}}},
      {"odd_channels_s2", {3, 13, 7, 9}, {11, 13, 3, 3}, {{2, 2}, {1, 1}}},
      {"projection_1x1_s2", {2, 16, 9, 9}, {32, 16, 1, 1}, {{2, 2}, {0, 0}}},
      {"dilated", {2, 8, 9, 9}, {8, 8, 3, 3}, {{1, 1}, {2, 2}, {2, 2}}},
      {"asymmetric", {2, 8, 10, 7}, {16, 8, 3, 2}, {{2, 1}, {1, 0}}},
      {"unpadded_5x5", {1, 9, 8, 6}, {4, 9, 5, 5}, {}},
  };
}

Conv2dAttrs pointwise() { return {}; }

TEST(ConvGemmTest, PlainInputsMatchReference) {
  ScopedConvAlgo gemm(ConvAlgo::kGemm);
  for (const ConvCase& c : conv_cases()) {
    SCOPED_TRACE(c.name);
    Conv2dAttrs attrs = c.attrs;
    EXPECT_TRUE(matches_reference(
        [&](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], Tensor(), attrs); },
        {random_input(c.x), random_input(c.w)}));
  }
}

// 1x1 conv -> the case's conv -> 1x1 conv: the middle conv reads a channel-blocked x, and its
// backward passes get a channel-blocked dy, as in training.
TEST(ConvGemmTest, BlockedActivationsMatchReference) {
  ScopedConvAlgo gemm(ConvAlgo::kGemm);
  for (const ConvCase& c : conv_cases()) {
    if (c.x[1] == 3) continue;  // the root conv reads the plain image
    SCOPED_TRACE(c.name);
    Conv2dAttrs attrs = c.attrs;
    int64_t in = c.x[1], out = c.w[0];
    bool saw_blocked_x = false;  // on the CPU run (the reference run is plain throughout)
    EXPECT_TRUE(matches_reference(
        [&](const std::vector<Tensor>& t) {
          Tensor x = conv2d(t[0], t[1], Tensor(), pointwise());
          saw_blocked_x |= !x.is_plain();
          return conv2d(conv2d(x, t[2], Tensor(), attrs), t[3], Tensor(), pointwise());
        },
        {random_input({c.x[0], 4, c.x[2], c.x[3]}), random_input({in, 4, 1, 1}),
         random_input(c.w), random_input({5, out, 1, 1})}));
    EXPECT_TRUE(saw_blocked_x);
  }
}

TEST(ConvGemmTest, BiasIsAdded) {
  ScopedConvAlgo gemm(ConvAlgo::kGemm);
  for (Shape x : {Shape{2, 32, 1, 1}, Shape{3, 8, 6, 5}}) {
    Conv2dAttrs attrs{{1, 1}, {x[2] > 1 ? 1 : 0, x[3] > 1 ? 1 : 0}};
    Shape w = {10, x[1], x[2] > 1 ? 3 : 1, x[3] > 1 ? 3 : 1};
    // The bias's gradient over a map larger than 1x1 sums two blocks of dims, (N) and (OH, OW):
    // the CPU sum hands that to the reference kernel.
    EXPECT_TRUE(matches_reference(
        [&](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], attrs); },
        {random_input(x), random_input(w), random_input({10})},
        testing::allowing_reference_kernels(x[2] > 1 ? std::vector<std::string>{"SumFwd"}
                                                     : std::vector<std::string>{})));
  }
}

// The GEMM path writes y and dx in the layouts the direct kernels choose, so the ops around a
// conv see the same tensors whichever path ran.
TEST(ConvGemmTest, OutputLayoutsMatchTheDirectKernels) {
  Tensor image = random_input({2, 3, 16, 16}, false);
  Tensor w_root = random_input({16, 3, 7, 7}, false);
  Tensor w = random_input({13, 16, 3, 3}, false);
  Conv2dAttrs root{{2, 2}, {3, 3}}, same{{1, 1}, {1, 1}};
  auto layouts = [&] {
    Tensor x = conv2d(image, w_root, Tensor(), root);
    Tensor y = conv2d(x, w, Tensor(), same);
    Tensor dx = call<Conv2dBwdData>(y, w, x.shape(), same);
    Tensor dw = call<Conv2dBwdWeight>(y, x, w.shape(), same);
    EXPECT_TRUE(dw.is_plain());
    return std::vector<std::string>{x.opaque_layout()->name(), y.opaque_layout()->name(),
                                    dx.opaque_layout()->name()};
  };
  std::vector<std::string> direct, gemm;
  {
    ScopedConvAlgo algo(ConvAlgo::kDirect);
    direct = layouts();
  }
  {
    ScopedConvAlgo algo(ConvAlgo::kGemm);
    gemm = layouts();
  }
  EXPECT_EQ(gemm, direct);
  EXPECT_EQ(gemm[1], testing::native_blocked_layout_name());  // 13 channels: padding written too
}

// Every pass under direct, gemm and auto, on a late-stage BiT shape (4x4 maps, where auto picks
// GEMM for some passes): the paths agree within float32 tolerance, and a repeated call returns
// the identical result.
TEST(ConvGemmTest, AlgorithmChoiceKeepsResults) {
  Conv2dAttrs attrs{{1, 1}, {1, 1}};
  Tensor x = conv2d(random_input({2, 8, 4, 4}, false), random_input({64, 8, 1, 1}, false));
  Tensor w = random_input({64, 64, 3, 3}, false);
  Tensor dy = conv2d(random_input({2, 8, 4, 4}, false), random_input({64, 8, 1, 1}, false));
  auto passes = [&] {
    return std::vector<Tensor>{conv2d(x, w, Tensor(), attrs),
                               call<Conv2dBwdData>(dy, w, x.shape(), attrs),
                               call<Conv2dBwdWeight>(dy, x, w.shape(), attrs)};
  };
  std::vector<Tensor> expected;
  {
    BackendOverride reference(Backend::kRef);
    expected = passes();
  }
  for (ConvAlgo algo : {ConvAlgo::kDirect, ConvAlgo::kGemm, ConvAlgo::kAuto}) {
    SCOPED_TRACE(static_cast<int>(algo));
    ScopedConvAlgo scoped(algo);
    std::vector<Tensor> first = passes(), second = passes();
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_TRUE(close_to(first[i], expected[i])) << "pass " << i;
      EXPECT_TRUE(testing::all_close(second[i], first[i], 0, 0)) << "pass " << i;
    }
  }
}

// The rule of conv/algo.h: GEMM only on output maps of at most 4x4 pixels (of wide convs; the
// next test has the narrow ones), for backward-weights and for the forward of convs larger than
// 1x1; for backward-data only when strided.
TEST(ConvGemmTest, AutoPicksGemmOnlyOnSmallMaps) {
  const onednn::ScopedConvRules avx2_rules(onednn::ConvRules::kAvx2);  // these kernels' rule
  using onednn::ConvPass;
  using onednn::use_gemm;
  ScopedConvAlgo scoped(ConvAlgo::kAuto);
  Conv2dAttrs same{{1, 1}, {1, 1}}, pointwise_attrs;
  Shape b4_x{16, 512, 4, 4}, b3_x{16, 256, 8, 8}, w3{512, 512, 3, 3}, w1{2048, 512, 1, 1};
  EXPECT_TRUE(use_gemm(ConvPass::kForward, b4_x, w3, same));
  EXPECT_TRUE(use_gemm(ConvPass::kBackwardWeight, b4_x, w3, same));
  EXPECT_FALSE(use_gemm(ConvPass::kBackwardData, b4_x, w3, same));
  EXPECT_FALSE(use_gemm(ConvPass::kForward, b4_x, w1, pointwise_attrs));
  EXPECT_TRUE(use_gemm(ConvPass::kBackwardWeight, b4_x, w1, pointwise_attrs));
  EXPECT_FALSE(use_gemm(ConvPass::kForward, b3_x, {256, 256, 3, 3}, same));
  EXPECT_FALSE(use_gemm(ConvPass::kBackwardWeight, b3_x, {256, 256, 3, 3}, same));
  // The strided 3x3 of block 4 reads an 8x8 map but writes a 4x4 one.
  EXPECT_TRUE(use_gemm(ConvPass::kBackwardWeight, {16, 512, 8, 8}, w3, {{2, 2}, {1, 1}}));
  ScopedConvAlgo direct(ConvAlgo::kDirect);
  EXPECT_FALSE(use_gemm(ConvPass::kBackwardWeight, b4_x, w3, same));
}

// Narrow convs on 2x2 to 4x4 maps (bit_finetune's default model) stay on oneDNN's direct
// kernels; on a 1x1 output map a conv of any width takes the GEMM, and on 4x4 one with 256
// channels in and out.
TEST(ConvGemmTest, NarrowConvsTakeTheGemmOnlyOnOnePixelMaps) {
  using onednn::ConvPass;
  using onednn::use_gemm;
  for (onednn::ConvRules rules : {onednn::ConvRules::kAvx2, onednn::ConvRules::kAvx512}) {
    const onednn::ScopedConvRules scoped_rules(rules);
    ScopedConvAlgo scoped(ConvAlgo::kAuto);
    const Conv2dAttrs same{{1, 1}, {1, 1}}, strided{{2, 2}, {1, 1}}, pointwise;
    EXPECT_FALSE(use_gemm(ConvPass::kBackwardWeight, {64, 16, 4, 4}, {16, 16, 3, 3}, same));
    EXPECT_FALSE(use_gemm(ConvPass::kBackwardWeight, {64, 128, 2, 2}, {32, 128, 1, 1}, pointwise));
    EXPECT_FALSE(use_gemm(ConvPass::kBackwardData, {64, 16, 8, 8}, {16, 16, 3, 3}, strided));
    EXPECT_FALSE(use_gemm(ConvPass::kForward, {64, 32, 2, 2}, {32, 32, 3, 3}, same));
    EXPECT_FALSE(use_gemm(ConvPass::kBackwardWeight, {16, 128, 4, 4}, {128, 128, 3, 3}, same));
    EXPECT_TRUE(use_gemm(ConvPass::kBackwardWeight, {16, 256, 4, 4}, {256, 256, 3, 3}, same));
    EXPECT_TRUE(use_gemm(ConvPass::kBackwardWeight, {64, 256, 1, 1}, {64, 256, 1, 1}, pointwise));
    EXPECT_TRUE(use_gemm(ConvPass::kBackwardData, {64, 64, 2, 2}, {64, 64, 3, 3}, strided));
    EXPECT_EQ(use_gemm(ConvPass::kForward, {64, 64, 1, 1}, {64, 64, 3, 3}, same),
              rules == onednn::ConvRules::kAvx2);  // AVX-512 runs every forward direct
  }
}

// On AVX-512 oneDNN's kernels win everywhere but the small-map GEMM backward passes
// (ops/cpu/conv/algo.h; its Winograd's rule is tested in conv_winograd_onednn_test); the rule set
// follows the channel block.
TEST(ConvGemmTest, Avx512RulesKeepOnlyTheBackwardGemms) {
  using onednn::ConvPass;
  ScopedConvAlgo scoped(ConvAlgo::kAuto);
  EXPECT_EQ(onednn::conv_rules(), onednn::activation_channel_block() >= 16
                                      ? onednn::ConvRules::kAvx512
                                      : onednn::ConvRules::kAvx2);
  const onednn::ScopedConvRules avx512_rules(onednn::ConvRules::kAvx512);
  const Conv2dAttrs same{{1, 1}, {1, 1}}, strided{{2, 2}, {1, 1}};
  const Shape b4_x{16, 512, 4, 4}, b3_x{16, 256, 8, 8}, b2_x{16, 128, 16, 16};
  const Shape w512{512, 512, 3, 3}, w256{256, 256, 3, 3}, w128{128, 128, 3, 3};
  EXPECT_FALSE(onednn::use_gemm(ConvPass::kForward, b4_x, w512, same));
  EXPECT_TRUE(onednn::use_gemm(ConvPass::kBackwardWeight, b4_x, w512, same));
  EXPECT_TRUE(onednn::use_gemm(ConvPass::kBackwardData, {16, 512, 8, 8}, w512, strided));
  for (ConvPass pass : {ConvPass::kForward, ConvPass::kBackwardData, ConvPass::kBackwardWeight}) {
    EXPECT_FALSE(onednn::use_winograd(pass, b3_x, w256, same));
    EXPECT_FALSE(onednn::use_winograd(pass, b2_x, w128, same));
  }
  EXPECT_FALSE(onednn::use_dual_for_forward(b2_x, w128, same));
  EXPECT_FALSE(onednn::use_conv3x3_bwd_weight(w128, same));
  // The backward-data of 1x1 convs still runs as the dual's forward (a tie on AVX-512).
  EXPECT_TRUE(onednn::use_dual_for_backward_data(b3_x, {64, 256, 1, 1}, Conv2dAttrs{}));
}

TEST(ConvGemmTest, GroupedConvolutionsStayOnTheDirectKernels) {
  EXPECT_FALSE(onednn::gemm_conv_supported({2, 12, 7, 7}, {20, 3, 3, 3},
                                           {{1, 1}, {1, 1}, {1, 1}, 4}));
  EXPECT_TRUE(onednn::gemm_conv_supported({2, 12, 7, 7}, {20, 12, 3, 3}, {{1, 1}, {1, 1}}));
  ScopedConvAlgo gemm(ConvAlgo::kGemm);
  Conv2dAttrs attrs{{1, 1}, {1, 1}, {1, 1}, 4};
  EXPECT_TRUE(matches_reference(
      [&](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], Tensor(), attrs); },
      {random_input({2, 12, 7, 7}), random_input({20, 3, 3, 3})}));
}

}  // namespace
}  // namespace bitgrad
