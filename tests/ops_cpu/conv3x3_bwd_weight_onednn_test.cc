// The hand-written 3x3 backward-weights kernel (ops/cpu/conv/bwd_weight_3x3_kernel.h) against the
// reference kernel: directly on nChw8c and nChw16c buffers for BiT-like and odd shapes, strides
// and paddings,
// and through conv2d's autograd on channel-blocked activations, where the algorithm rule picks it.
#include "ops/cpu/conv/bwd_weight_3x3_kernel.h"

#include <omp.h>

#include <string>
#include <vector>

#include "core/dispatch.h"
#include "gtest/gtest.h"
#include "ops/conv.h"
#include "ops/cpu/conv/algo.h"
#include "ops/cpu/common/cpu_isa.h"
#include "tests/testing/parity.h"

namespace bitgrad {
namespace {

using cpu::Conv3x3Shape;
using testing::close_to;
using testing::matches_reference;
using testing::pack_blocked;
using testing::random_input;

Conv3x3Shape shape_of(const Shape& x, int64_t out_channels, int64_t stride, int64_t pad,
                      int64_t block = 8) {
  Conv3x3Shape s;
  s.block = block;
  s.batch = x[0];
  s.in_channels = x[1];
  s.out_channels = out_channels;
  s.in_h = x[2];
  s.in_w = x[3];
  s.stride_h = s.stride_w = stride;
  s.pad_h = s.pad_w = pad;
  s.out_h = (x[2] + 2 * pad - 3) / stride + 1;
  s.out_w = (x[3] + 2 * pad - 3) / stride + 1;
  return s;
}

// dw from the kernel, as a (O, C, 3, 3) tensor.
Tensor kernel_dw(const Conv3x3Shape& s, const Tensor& x, const Tensor& dy) {
  const std::vector<float> x_packed = pack_blocked(x, s.block);
  const std::vector<float> dy_packed = pack_blocked(dy, s.block);
  Tensor dw = empty({s.out_channels, s.in_channels, 3, 3}, DType::kFloat32);
  cpu::conv3x3_bwd_weight_blocked(s, x_packed.data(), dy_packed.data(), dw.mutable_data<float>());
  return dw;
}

TEST(Conv3x3BwdWeightTest, MatchesReferenceOnBlockedBuffers) {
  if (!cpu::conv3x3_bwd_weight_supported(shape_of({1, 8, 3, 3}, 16, 1, 1))) {
    GTEST_SKIP() << "the kernel needs AVX2+FMA, which this CPU lacks";
  }
  struct Case {
    const char* name;
    Shape x;
    int64_t out_channels, stride, pad;
  };
  for (const Case& c : {Case{"bit_b3_8x8", {2, 256, 8, 8}, 256, 1, 1},
                        Case{"bit_b1_32x32", {1, 64, 32, 32}, 64, 1, 1},
                        Case{"odd_map_9x7", {3, 16, 9, 7}, 32, 1, 1},
                        Case{"stride2_odd", {2, 24, 9, 11}, 16, 2, 1},
                        Case{"stride2_even", {2, 8, 16, 16}, 32, 2, 1},
                        Case{"stride3_pad2", {1, 16, 10, 8}, 16, 3, 2},
                        Case{"unpadded", {2, 8, 6, 5}, 16, 1, 0},
                        Case{"map_smaller_than_kernel", {2, 8, 1, 2}, 16, 1, 1},
                        Case{"one_output_column", {1, 8, 5, 3}, 48, 1, 0},
                        Case{"odd_map_9x7_16c", {2, 32, 9, 7}, 48, 1, 1},
                        Case{"stride2_16c", {1, 16, 9, 11}, 32, 2, 1}}) {
    Tensor x = random_input(c.x, false);
    const Conv3x3Shape s8 = shape_of(c.x, c.out_channels, c.stride, c.pad);
    Tensor dy = random_input({s8.batch, s8.out_channels, s8.out_h, s8.out_w}, false);
    Conv2dAttrs attrs{{c.stride, c.stride}, {c.pad, c.pad}};
    Tensor expected;
    {
      BackendOverride reference(Backend::kRef);
      expected = call<Conv2dBwdWeight>(dy, x, Shape{s8.out_channels, s8.in_channels, 3, 3}, attrs);
    }
    for (int64_t block : {8, 16}) {
      SCOPED_TRACE(std::string(c.name) + " block " + std::to_string(block));
      const Conv3x3Shape s = shape_of(c.x, c.out_channels, c.stride, c.pad, block);
      if (c.x[1] % block != 0 || c.out_channels % block != 0) {
        EXPECT_FALSE(cpu::conv3x3_bwd_weight_supported(s));
        continue;
      }
      ASSERT_TRUE(cpu::conv3x3_bwd_weight_supported(s));
      EXPECT_TRUE(close_to(kernel_dw(s, x, dy), expected));
    }
  }
}

TEST(Conv3x3BwdWeightTest, ResultsDoNotDependOnTheThreadCount) {
  const Conv3x3Shape s = shape_of({2, 32, 7, 7}, 32, 1, 1);
  if (!cpu::conv3x3_bwd_weight_supported(s)) GTEST_SKIP() << "no AVX2+FMA";
  Tensor x = random_input({2, 32, 7, 7}, false), dy = random_input({2, 32, 7, 7}, false);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  std::vector<float> one = kernel_dw(s, x, dy).to_vector<float>();
  omp_set_num_threads(3);
  std::vector<float> three = kernel_dw(s, x, dy).to_vector<float>();
  omp_set_num_threads(saved);
  EXPECT_EQ(one, three);
}

TEST(Conv3x3BwdWeightTest, SupportedNamesItsLimits) {
  const Conv3x3Shape good = shape_of({2, 16, 8, 8}, 32, 1, 1);
  Conv3x3Shape odd_in = good, odd_out = good, wrong_out = good;
  odd_in.in_channels = 12;
  odd_out.out_channels = 24;  // pairs of 8-channel output blocks
  wrong_out.out_w = 7;
  EXPECT_FALSE(cpu::conv3x3_bwd_weight_supported(odd_in));
  EXPECT_FALSE(cpu::conv3x3_bwd_weight_supported(odd_out));
  EXPECT_FALSE(cpu::conv3x3_bwd_weight_supported(wrong_out));
  cpu::ScopedCpuIsaCap portable(cpu::CpuIsa::kPortable);
  EXPECT_FALSE(cpu::conv3x3_bwd_weight_supported(good));
}

// Through autograd, as in training: 1x1 conv -> 3x3 conv -> 1x1 conv, so the 3x3 conv reads a
// channel-blocked x and gets a channel-blocked dy, and the default rule runs the kernel for its
// backward-weights (stride 1; stride 2 stays with oneDNN). On every ISA: the portable one takes
// oneDNN's kernel instead. The 8-wide map gets x with its zero columns added first.
TEST(Conv3x3BwdWeightTest, ConvGradientsMatchReferenceThroughAutograd) {
  const onednn::ScopedConvRules avx2_rules(onednn::ConvRules::kAvx2);  // these kernels' rule
  for (cpu::CpuIsa isa : {cpu::CpuIsa::kPortable, cpu::CpuIsa::kAvx2Fma}) {
    cpu::ScopedCpuIsaCap cap(isa);
    for (int64_t stride : {1, 2}) {
      for (int64_t width : {10, 8}) {
        SCOPED_TRACE(std::string(cpu::cpu_isa_name(isa)) + " stride " + std::to_string(stride) +
                     " width " + std::to_string(width));
        Conv2dAttrs attrs{{stride, stride}, {1, 1}};
        EXPECT_TRUE(matches_reference(
            [&](const std::vector<Tensor>& t) {
              Tensor x = conv2d(t[0], t[1]);
              return conv2d(conv2d(x, t[2], Tensor(), attrs), t[3]);
            },
            {random_input({2, 4, 9, width}), random_input({16, 4, 1, 1}),
             random_input({32, 16, 3, 3}), random_input({5, 32, 1, 1})}));
      }
    }
  }
}

TEST(Conv3x3BwdWeightTest, PadsColumnsFirstOnlyOnNarrowPaddedMaps) {
  const onednn::ScopedConvRules avx2_rules(onednn::ConvRules::kAvx2);  // these kernels' rule
  cpu::Conv3x3Shape narrow;
  narrow.in_w = 8;
  narrow.pad_w = 1;
  cpu::Conv3x3Shape wide = narrow, unpadded = narrow;
  wide.in_w = 16;
  unpadded.pad_w = 0;
  EXPECT_TRUE(cpu::conv3x3_bwd_weight_pads_columns_first(narrow));
  EXPECT_FALSE(cpu::conv3x3_bwd_weight_pads_columns_first(wide));
  EXPECT_FALSE(cpu::conv3x3_bwd_weight_pads_columns_first(unpadded));
}

}  // namespace
}  // namespace bitgrad
