// The Winograd F(2x2, 3x3) kernels (ops/cpu/conv/winograd_kernel.h) against the reference kernels,
// directly on nChw8c buffers: the forward, the forward as the backward-data of the dual conv,
// and the weight gradient, on BiT's small-map shapes and odd ones (maps of odd size, smaller
// than a tile, paddings 0 to 2 and unequal ones, output channels not a whole panel of the
// forward's products).
#include "ops/cpu/conv/winograd_kernel.h"

#include <omp.h>

#include <string>
#include <vector>

#include "core/dispatch.h"
#include "gtest/gtest.h"
#include "ops/conv.h"
#include "ops/cpu/common/cpu_isa.h"
#include "ops/cpu/conv/algo.h"
#include "ops/cpu/common/onednn_layout.h"
#include "tests/testing/parity.h"

namespace bitgrad {
namespace {

using cpu::KernelOrder;
using cpu::Winograd3x3Shape;
using onednn::ConvPass;
using testing::close_to;
using testing::matches_reference;
using testing::pack_blocked;
using testing::random_input;
using testing::unpack_blocked;

struct Case {
  const char* name;
  int64_t batch, in_channels, out_channels, h, w, pad_h, pad_w;
};

const Case kCases[] = {
    {"bit_b3_8x8", 2, 256, 256, 8, 8, 1, 1}, {"bit_b4_4x4", 3, 64, 128, 4, 4, 1, 1},
    {"odd_map_7x5", 2, 16, 24, 7, 5, 1, 1},  {"unpadded_odd", 1, 8, 16, 9, 6, 0, 0},
    {"pad2", 2, 24, 8, 5, 7, 2, 2},          {"map_1x1", 3, 16, 8, 1, 1, 1, 1},
    {"map_2x3", 1, 8, 8, 2, 3, 1, 1},        {"odd_map_7x5_16c", 2, 32, 16, 7, 5, 1, 1},
    {"pad2_16c", 1, 16, 48, 5, 7, 2, 2},     {"map_1x1_16c", 3, 16, 32, 1, 1, 1, 1},
    {"pad_1x0", 2, 16, 16, 6, 7, 1, 0},      {"pad_0x2_16c", 1, 16, 32, 7, 5, 0, 2},
};

// The channel blocks of activations the kernels take: oneDNN's choice on AVX2 and on AVX-512.
constexpr int64_t kBlocks[] = {8, 16};

bool fits_block(const Case& c, int64_t block) {
  return c.in_channels % block == 0 && c.out_channels % block == 0;
}

Winograd3x3Shape shape_of(const Case& c, int64_t block = 8) {
  Winograd3x3Shape s;
  s.block = block;
  s.batch = c.batch;
  s.in_channels = c.in_channels;
  s.out_channels = c.out_channels;
  s.in_h = c.h;
  s.in_w = c.w;
  s.pad_h = c.pad_h;
  s.pad_w = c.pad_w;
  return s;
}

Conv2dAttrs attrs_of(const Case& c) { return Conv2dAttrs{{1, 1}, {c.pad_h, c.pad_w}}; }

Shape y_shape(const Winograd3x3Shape& s) { return {s.batch, s.out_channels, s.out_h(), s.out_w()}; }

// The forward kernel's y (plain) for x (plain), w read in `order`.
Tensor kernel_fwd(const Winograd3x3Shape& s, const Tensor& x, const Tensor& w,
                  KernelOrder order) {
  const std::vector<float> x_packed = pack_blocked(x, s.block), w_values = w.to_vector<float>();
  const Shape y = y_shape(s);
  std::vector<float> y_packed(y.numel());
  std::vector<float> scratch(cpu::winograd3x3_scratch_floats(s));
  cpu::winograd3x3_fwd_blocked(s, x_packed.data(), w_values.data(), order, y_packed.data(),
                               scratch.data());
  return unpack_blocked(y_packed, y, s.block);
}

bool have_kernel() { return cpu::winograd3x3_supported(shape_of(kCases[0])); }

TEST(Winograd3x3Test, ForwardMatchesReference) {
  if (!have_kernel()) GTEST_SKIP() << "the kernel needs AVX2+FMA, which this CPU lacks";
  for (const Case& c : kCases) {
    Tensor x = random_input({c.batch, c.in_channels, c.h, c.w}, false);
    Tensor w = random_input({c.out_channels, c.in_channels, 3, 3}, false);
    Tensor expected;
    {
      BackendOverride reference(Backend::kRef);
      expected = call<Conv2dFwd>(x, w, Tensor(), attrs_of(c));
    }
    for (int64_t block : kBlocks) {
      SCOPED_TRACE(std::string(c.name) + " block " + std::to_string(block));
      const Winograd3x3Shape s = shape_of(c, block);
      ASSERT_EQ(cpu::winograd3x3_supported(s), fits_block(c, block));
      if (!fits_block(c, block)) continue;
      EXPECT_TRUE(close_to(kernel_fwd(s, x, w, KernelOrder::kOihw), expected));
    }
  }
}

// The backward-data of the conv of case c, as the forward of its dual: dy in, the rotated and
// transposed kernels, padding 2 - p.
TEST(Winograd3x3Test, DualForwardIsTheBackwardData) {
  if (!have_kernel()) GTEST_SKIP() << "no AVX2+FMA";
  for (const Case& c : kCases) {
    const Winograd3x3Shape conv = shape_of(c);
    Winograd3x3Shape dual;
    dual.batch = c.batch;
    dual.in_channels = c.out_channels;
    dual.out_channels = c.in_channels;
    dual.in_h = conv.out_h();
    dual.in_w = conv.out_w();
    dual.pad_h = 2 - c.pad_h;
    dual.pad_w = 2 - c.pad_w;
    ASSERT_EQ(dual.out_h(), c.h);
    ASSERT_EQ(dual.out_w(), c.w);
    Tensor w = random_input({c.out_channels, c.in_channels, 3, 3}, false);
    Tensor dy = random_input(y_shape(conv), false);
    Tensor expected;
    {
      BackendOverride reference(Backend::kRef);
      expected = call<Conv2dBwdData>(dy, w, Shape{c.batch, c.in_channels, c.h, c.w}, attrs_of(c));
    }
    for (int64_t block : kBlocks) {
      SCOPED_TRACE(std::string(c.name) + " block " + std::to_string(block));
      if (!fits_block(c, block)) continue;
      dual.block = block;
      EXPECT_TRUE(close_to(kernel_fwd(dual, dy, w, KernelOrder::kDualOf), expected));
    }
  }
}

TEST(Winograd3x3Test, WeightGradientMatchesReference) {
  if (!have_kernel()) GTEST_SKIP() << "no AVX2+FMA";
  for (const Case& c : kCases) {
    Tensor x = random_input({c.batch, c.in_channels, c.h, c.w}, false);
    Tensor dy = random_input(y_shape(shape_of(c)), false);
    const Shape w_shape = {c.out_channels, c.in_channels, 3, 3};
    Tensor expected;
    {
      BackendOverride reference(Backend::kRef);
      expected = call<Conv2dBwdWeight>(dy, x, w_shape, attrs_of(c));
    }
    for (int64_t block : kBlocks) {
      SCOPED_TRACE(std::string(c.name) + " block " + std::to_string(block));
      if (!fits_block(c, block)) continue;
      const Winograd3x3Shape s = shape_of(c, block);
      const std::vector<float> x_packed = pack_blocked(x, block);
      const std::vector<float> dy_packed = pack_blocked(dy, block);
      std::vector<float> scratch(cpu::winograd3x3_scratch_floats(s));
      Tensor dw = empty(w_shape, DType::kFloat32);
      cpu::winograd3x3_bwd_weight_blocked(s, x_packed.data(), dy_packed.data(),
                                          dw.mutable_data<float>(), scratch.data());
      EXPECT_TRUE(close_to(dw, expected));
    }
  }
}

TEST(Winograd3x3Test, ResultsDoNotDependOnTheThreadCount) {
  if (!have_kernel()) GTEST_SKIP() << "no AVX2+FMA";
  const Case c = kCases[2];
  const Winograd3x3Shape s = shape_of(c);
  Tensor x = random_input({c.batch, c.in_channels, c.h, c.w}, false);
  Tensor w = random_input({c.out_channels, c.in_channels, 3, 3}, false);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  std::vector<float> one = kernel_fwd(s, x, w, KernelOrder::kOihw).to_vector<float>();
  omp_set_num_threads(3);
  std::vector<float> three = kernel_fwd(s, x, w, KernelOrder::kOihw).to_vector<float>();
  omp_set_num_threads(saved);
  EXPECT_EQ(one, three);
}

TEST(Winograd3x3Test, SupportedNamesItsLimits) {
  const Winograd3x3Shape good = shape_of(kCases[2]);
  Winograd3x3Shape odd_in = good, odd_out = good, wide_pad = good, no_output = good;
  odd_in.in_channels = 12;
  odd_out.out_channels = 20;
  wide_pad.pad_w = 3;
  no_output.pad_h = 0;
  no_output.in_h = 2;
  EXPECT_FALSE(cpu::winograd3x3_supported(odd_in));
  EXPECT_FALSE(cpu::winograd3x3_supported(odd_out));
  EXPECT_FALSE(cpu::winograd3x3_supported(wide_pad));
  EXPECT_FALSE(cpu::winograd3x3_supported(no_output));
  cpu::ScopedCpuIsaCap portable(cpu::CpuIsa::kPortable);
  EXPECT_FALSE(cpu::winograd3x3_supported(good));
}

TEST(Winograd3x3Test, RuleTakesStride1ConvsWith128ChannelsOrMore) {
  const onednn::ScopedConvRules avx2_rules(onednn::ConvRules::kAvx2);  // these kernels' rule
  const Conv2dAttrs same{{1, 1}, {1, 1}}, strided{{2, 2}, {1, 1}};
  const Shape w = {256, 256, 3, 3};
  for (ConvPass pass :
       {ConvPass::kForward, ConvPass::kBackwardData, ConvPass::kBackwardWeight}) {
    EXPECT_TRUE(onednn::use_winograd(pass, {16, 256, 8, 8}, w, same));
    EXPECT_TRUE(onednn::use_winograd(pass, {16, 256, 7, 5}, w, same));
    EXPECT_TRUE(onednn::use_winograd(pass, {16, 128, 8, 8}, {128, 128, 3, 3}, same));
    EXPECT_FALSE(onednn::use_winograd(pass, {16, 256, 16, 16}, w, strided));
    EXPECT_FALSE(onednn::use_winograd(pass, {16, 256, 8, 8}, {256, 256, 1, 1}, Conv2dAttrs{}));
    EXPECT_FALSE(onednn::use_winograd(pass, {16, 64, 8, 8}, {128, 64, 3, 3}, same));
    EXPECT_FALSE(onednn::use_winograd(pass, {16, 128, 8, 8}, {64, 128, 3, 3}, same));
    onednn::ScopedConvAlgo direct(onednn::ConvAlgo::kDirect);
    EXPECT_FALSE(onednn::use_winograd(pass, {16, 256, 8, 8}, w, same));
  }
  // The forward and backward-data on every map size; the weight gradient on 8x8 maps only.
  for (const Shape& x : {Shape{16, 256, 4, 4}, Shape{16, 256, 16, 16}, Shape{16, 256, 32, 32}}) {
    SCOPED_TRACE(x.str());
    EXPECT_TRUE(onednn::use_winograd(ConvPass::kForward, x, w, same));
    EXPECT_TRUE(onednn::use_winograd(ConvPass::kBackwardData, x, w, same));
    EXPECT_FALSE(onednn::use_winograd(ConvPass::kBackwardWeight, x, w, same));
  }
}

// Through autograd, as in training: 1x1 conv -> 3x3 conv -> 1x1 conv, so the 3x3 conv reads a
// channel-blocked x and gets a channel-blocked dy. Where oneDNN blocks by 8 (AVX2, and this
// test's _isa_avx2 variant) the rule sends its passes to the Winograd kernels (every map:
// forward and backward-data; 8x8 and 7x6: backward-weights too); on AVX-512, 136 channels make
// padded 16-blocks and oneDNN's kernels run (the next test has the hand-written ones on
// 16-blocks). On the portable ISA the other kernels run. The last map's paddings differ, as the
// dual's then do.
TEST(Winograd3x3Test, ConvGradientsMatchReferenceThroughAutograd) {
  const onednn::ScopedConvRules avx2_rules(onednn::ConvRules::kAvx2);  // these kernels' rule
  struct MapCase {
    Shape map;
    Conv2dAttrs attrs;
  };
  const MapCase maps[] = {{{8, 8}, {{1, 1}, {1, 1}}},
                          {{7, 6}, {{1, 1}, {1, 1}}},
                          {{4, 4}, {{1, 1}, {1, 1}}},
                          {{13, 10}, {{1, 1}, {1, 1}}},
                          {{7, 6}, {{1, 1}, {2, 0}}}};
  for (cpu::CpuIsa isa : {cpu::CpuIsa::kPortable, cpu::CpuIsa::kAvx2Fma}) {
    cpu::ScopedCpuIsaCap cap(isa);
    for (const MapCase& map_case : maps) {
      // Named, not a structured binding: a lambda may not capture one before C++20 (clang).
      const Shape& map = map_case.map;
      const Conv2dAttrs& attrs = map_case.attrs;
      SCOPED_TRACE(std::string(cpu::cpu_isa_name(isa)) + " map " + std::to_string(map[0]) + "x" +
                   std::to_string(map[1]) + " padding " + std::to_string(attrs.padding[0]) +
                   "x" + std::to_string(attrs.padding[1]));
      EXPECT_TRUE(matches_reference(
          [&](const std::vector<Tensor>& t) {
            Tensor x = conv2d(t[0], t[1]);
            return conv2d(conv2d(x, t[2], Tensor(), attrs), t[3]);
          },
          {random_input({2, 4, map[0], map[1]}), random_input({128, 4, 1, 1}),
           random_input({136, 128, 3, 3}), random_input({5, 136, 1, 1})}));
    }
  }
}

// On AVX-512 CPUs oneDNN keeps activations in 16-channel blocks. The conv kernels then still take
// the hand-written kernels (Winograd on 8x8 maps for all three passes, the 3x3 backward-weights
// kernel on 16x16), keep the block, and match the reference. Had oneDNN's AVX2 kernels run
// instead, y and dx would come back in their 8-channel blocks.
TEST(Winograd3x3Test, SixteenChannelBlocksTakeTheHandWrittenKernels) {
  const onednn::ScopedConvRules avx2_rules(onednn::ConvRules::kAvx2);  // these kernels' rule
  if (!have_kernel()) GTEST_SKIP() << "no AVX2+FMA";
  const Conv2dAttrs same{{1, 1}, {1, 1}};
  for (const Shape& x_shape : {Shape{2, 128, 8, 8}, Shape{1, 128, 16, 16}}) {
    SCOPED_TRACE(x_shape.str());
    const Shape w_shape = {128, 128, 3, 3};
    Tensor x = random_input(x_shape, false), w = random_input(w_shape, false);
    Tensor dy = random_input(x_shape, false);
    Tensor x16 = testing::with_channel_block(x, 16), dy16 = testing::with_channel_block(dy, 16);
    Tensor y = call<Conv2dFwd>(x16, w, Tensor(), same);
    Tensor dx = call<Conv2dBwdData>(dy16, w, x_shape, same);
    Tensor dw = call<Conv2dBwdWeight>(dy16, x16, w_shape, same);
    EXPECT_EQ(onednn::channel_block(y), 16);
    EXPECT_EQ(onednn::channel_block(dx), 16);
    BackendOverride reference(Backend::kRef);
    EXPECT_TRUE(close_to(y, call<Conv2dFwd>(x, w, Tensor(), same)));
    EXPECT_TRUE(close_to(dx, call<Conv2dBwdData>(dy, w, x_shape, same)));
    EXPECT_TRUE(close_to(dw, call<Conv2dBwdWeight>(dy, x, w_shape, same)));
  }
}

}  // namespace
}  // namespace bitgrad
