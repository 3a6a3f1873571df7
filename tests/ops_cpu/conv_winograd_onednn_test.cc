// oneDNN's Winograd F(4x4, 3x3) convolution, which the AVX-512 rules ask for on stride-1 3x3
// convs with 64 or more channels above 4x4 maps (ops/cpu/conv/algo.h): against the reference
// kernels on BiT's shapes and odd ones (odd maps, padding 0 and 2, channels that are no multiple
// of 16), every pass and conv2d_add (a Winograd conv and an add); that it is the kernel that runs
// where oneDNN has it; that it computes the same bits every time, as a resumed run needs.
#include <string>

#include "core/dispatch.h"
#include "gtest/gtest.h"
#include "ops/conv.h"
#include "ops/cpu/conv/algo.h"
#include "ops/cpu/conv/direct.h"
#include "tests/testing/parity.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

using onednn::ConvAlgo;
using onednn::ConvRules;
using testing::matches_reference;
using testing::random_input;
using testing::same_bits;

struct Case {
  const char* name;
  Shape x, w;
  int64_t pad;
};

const Case kCases[] = {
    {"bit_b1_16x16", {2, 64, 16, 16}, {64, 64, 3, 3}, 1},
    {"odd_map_9x7", {2, 64, 9, 7}, {80, 64, 3, 3}, 1},
    {"unpadded_7x7", {1, 96, 7, 7}, {64, 96, 3, 3}, 0},
    {"pad2_6x5", {2, 64, 6, 5}, {64, 64, 3, 3}, 2},
    {"channels_72", {2, 72, 8, 8}, {64, 72, 3, 3}, 1},
};

Conv2dAttrs attrs_of(const Case& c) { return {{1, 1}, {c.pad, c.pad}}; }

// Sets the AVX-512 rules in auto mode for a scope, on any machine: on AVX2 ones oneDNN has no
// Winograd kernel, so the direct one runs.
struct Avx512Rules {
  onednn::ScopedConvAlgo algo{ConvAlgo::kAuto};
  onednn::ScopedConvRules rules{ConvRules::kAvx512};
};

bool avx512_machine() { return onednn::activation_channel_block() >= 16; }

TEST(ConvWinogradOnednnTest, RuleAsksForItOnBitsLargerMapsOnly) {
  const Avx512Rules avx512;
  const Conv2dAttrs same{{1, 1}, {1, 1}}, strided{{2, 2}, {1, 1}};
  EXPECT_TRUE(onednn::use_onednn_winograd({16, 64, 32, 32}, {64, 64, 3, 3}, same));
  EXPECT_TRUE(onednn::use_onednn_winograd({16, 256, 8, 8}, {256, 256, 3, 3}, same));
  EXPECT_FALSE(onednn::use_onednn_winograd({16, 512, 4, 4}, {512, 512, 3, 3}, same));
  EXPECT_FALSE(onednn::use_onednn_winograd({16, 128, 32, 32}, {128, 128, 3, 3}, strided));
  EXPECT_FALSE(onednn::use_onednn_winograd({16, 32, 32, 32}, {32, 32, 3, 3}, same));
  EXPECT_FALSE(onednn::use_onednn_winograd({16, 64, 32, 32}, {256, 64, 1, 1}, {}));
  const onednn::ScopedConvRules avx2(ConvRules::kAvx2);
  EXPECT_FALSE(onednn::use_onednn_winograd({16, 64, 32, 32}, {64, 64, 3, 3}, same));
}

TEST(ConvWinogradOnednnTest, EveryPassMatchesTheReference) {
  const Avx512Rules avx512;
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    const Conv2dAttrs attrs = attrs_of(c);
    EXPECT_TRUE(matches_reference(
        [&](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], Tensor(), attrs); },
        {random_input(c.x), random_input(c.w)}));
    const Shape y = conv2d_output_shape(c.x, c.w, attrs);
    EXPECT_TRUE(matches_reference(
        [&](const std::vector<Tensor>& in) { return conv2d_add(in[0], in[1], in[2], attrs); },
        {random_input(c.x), random_input(c.w), testing::blocked_input(y, true)}));
  }
}

TEST(ConvWinogradOnednnTest, RunsWhereOnednnHasIt) {
  if (!avx512_machine()) GTEST_SKIP() << "oneDNN 2.6 has Winograd convolutions on AVX-512 only";
  const onednn::ConvGeometry g =
      onednn::conv_geometry({16, 64, 32, 32}, {64, 64, 3, 3}, {{1, 1}, {1, 1}});
  const std::string kernels[] = {
      onednn::forward_primitive(g, false, /*winograd=*/true).pd.impl_info_str(),
      onednn::backward_data_primitive(g, /*winograd=*/true).pd.impl_info_str(),
      onednn::backward_weights_primitive(g, /*winograd=*/true).pd.impl_info_str()};
  for (const std::string& kernel : kernels) {
    EXPECT_NE(kernel.find("wino"), std::string::npos) << kernel;
  }
  EXPECT_EQ(std::string(onednn::forward_primitive(g, false).pd.impl_info_str()).find("wino"),
            std::string::npos);
  // Where oneDNN has no Winograd kernel (a dilated conv), the direct one, not an error.
  const onednn::ConvGeometry dilated =
      onednn::conv_geometry({2, 64, 9, 9}, {64, 64, 3, 3}, {{1, 1}, {2, 2}, {2, 2}});
  EXPECT_EQ(std::string(onednn::forward_primitive(dilated, false, true).pd.impl_info_str())
                .find("wino"),
            std::string::npos);
}

TEST(ConvWinogradOnednnTest, EveryPassComputesTheSameBitsEachTime) {
  const Avx512Rules avx512;
  const Case& c = kCases[0];
  const Conv2dAttrs attrs = attrs_of(c);
  const Tensor x = random_input(c.x, false), w = random_input(c.w, false);
  const Tensor dy = random_input(conv2d_output_shape(c.x, c.w, attrs), false);
  EXPECT_TRUE(same_bits(conv2d(x, w, Tensor(), attrs), conv2d(x, w, Tensor(), attrs)));
  EXPECT_TRUE(same_bits(call<Conv2dBwdData>(dy, w, c.x, attrs),
                        call<Conv2dBwdData>(dy, w, c.x, attrs)));
  EXPECT_TRUE(same_bits(call<Conv2dBwdWeight>(dy, x, c.w, attrs),
                        call<Conv2dBwdWeight>(dy, x, c.w, attrs)));
}

}  // namespace
}  // namespace bitgrad
