// Which implementation runs a conv2d pass on the CPU: oneDNN's direct or Winograd convolution,
// the im2col + GEMM path (conv/gemm.h), our Winograd F(2x2, 3x3) (conv/winograd.h), or, for
// backward-weights of 3x3 convs, the hand-written kernel (conv/bwd_weight_3x3_kernel.h).
//
// The direct kernels win on BiT's large and medium feature maps. On output maps of at most 4x4
// pixels (the last block of BiT at 128x128) they have too little spatial work to block over, and
// there the GEMMs win: for backward-weights by 1.2-1.7x, for the forward of convs larger than
// 1x1 by 15-30%, and for the backward-data of the strided 3x3 conv into a 4x4 map by 5-15%
// (BiT-R50x1, batch 16, 2 AVX2 cores; docs/performance.md). That holds for convs with 256+
// channels in and out, and on 1x1 maps for any width; narrower convs on 2x2 to 4x4 maps
// (bit_finetune's default model, 8-128 channels) run up to 4x faster direct on both ISAs
// (op_bench --shapes=tools/bench/bit_narrow_convs.csv). Stride-1 3x3 convs with 128+ channels
// in and out run Winograd F(2x2, 3x3): the forward and backward-data on every map, the
// backward-weights on 8x8 maps. The backward-weights of the other stride-1 3x3 convs, where
// neither GEMM nor Winograd runs it, is the hand-written kernel's, 1.1-1.5x faster than oneDNN's
// on BiT's shapes. The rule is fixed rather than timed at run time, so a run, and a run
// resumed from a checkpoint, computes the same bits every time.
//
// Two passes run as the other pass of the dual conv (conv/dual.h), whose oneDNN 2.6
// kernels are faster there: the forward of stride-1 3x3 convs as a backward-data (5-20% on BiT's
// 16x16 and 32x32 maps), and the backward-data of 1x1 convs as a forward (10-35%), except for
// the convs that expand the channels on maps above 8x8 (BiT's blocks 1 and 2) and on 4x4 maps.
//
// That rule was measured on AVX2 (8-channel blocks). On AVX-512 (16-channel blocks) oneDNN's
// direct kernels beat our Winograd, the dual forward, the hand-written 3x3 backward-weights and
// the small-map GEMM forward, by 1.2-2.4x (op_bench on a 2-core AVX-512 Xeon,
// docs/performance.md); only the small-map GEMM backward passes still win there (the dual 1x1
// backward-data, not measured again there, runs on both). oneDNN's own
// AVX-512 Winograd F(4x4, 3x3) beats its direct kernels on stride-1 3x3 convs above 4x4 maps,
// by 1.1-2.3x per pass. So the rule comes in two sets, picked by the channel block oneDNN's
// convs choose on this CPU (set_conv_rules() overrides it, for tests).
//
// BITGRAD_CONV_ALGO (read once) or set_conv_algo() override it:
//   auto    (default) the rule above;
//   direct  always oneDNN's direct convolution, each pass with its own primitive;
//   gemm    the GEMM path wherever it supports the shape (tests use this to cover it).
#pragma once

#include "core/tensor.h"
#include "ops/conv.h"

namespace bitgrad::onednn {

enum class ConvAlgo { kDirect, kGemm, kAuto };
enum class ConvPass { kForward, kBackwardData, kBackwardWeight };

ConvAlgo conv_algo();
void set_conv_algo(ConvAlgo algo);

// Sets the conv algorithm for a scope (tests, benchmarks).
class ScopedConvAlgo {
 public:
  explicit ScopedConvAlgo(ConvAlgo algo) : previous_(conv_algo()) { set_conv_algo(algo); }
  ~ScopedConvAlgo() { set_conv_algo(previous_); }
  ScopedConvAlgo(const ScopedConvAlgo&) = delete;
  ScopedConvAlgo& operator=(const ScopedConvAlgo&) = delete;

 private:
  ConvAlgo previous_;
};

// The rule set of auto mode: kAvx2 where oneDNN's convs use 8-channel blocks, kAvx512 where they
// use 16 (see the file comment).
enum class ConvRules { kAvx2, kAvx512 };
ConvRules conv_rules();
void set_conv_rules(ConvRules rules);

// Sets the rule set for a scope: tests reach the AVX2 rule's kernels on any machine.
class ScopedConvRules {
 public:
  explicit ScopedConvRules(ConvRules rules) : previous_(conv_rules()) { set_conv_rules(rules); }
  ~ScopedConvRules() { set_conv_rules(previous_); }
  ScopedConvRules(const ScopedConvRules&) = delete;
  ScopedConvRules& operator=(const ScopedConvRules&) = delete;

 private:
  ConvRules previous_;
};

// Whether `pass` of the convolution of x_shape with w_shape runs as GEMMs under the current
// setting (false where the GEMM path cannot run it).
bool use_gemm(ConvPass pass, const Shape& x_shape, const Shape& w_shape,
              const Conv2dAttrs& attrs);

// Whether backward-weights should run the hand-written 3x3 kernel (when it supports the shape
// and the layouts) under the current setting: in auto mode with the AVX2 rules, for dense
// stride-1 3x3 convs with one group, wherever use_gemm() and use_winograd() are false.
bool use_conv3x3_bwd_weight(const Shape& w_shape, const Conv2dAttrs& attrs);

// Whether `pass` runs the Winograd F(2x2, 3x3) kernels (conv/winograd.h) where they can:
// in auto mode, for dense stride-1 3x3 convs with one group and at least 128 channels in and
// out (BiT's blocks 2-4), with the AVX2 rules: the backward-weights on 8x8 output maps, the
// forward and backward-data on every map.
bool use_winograd(ConvPass pass, const Shape& x_shape, const Shape& w_shape,
                  const Conv2dAttrs& attrs);

// Whether a conv's passes ask oneDNN for its Winograd F(4x4, 3x3) convolution instead of the
// direct one (which runs where oneDNN has no Winograd kernel for the shape): in auto mode with
// the AVX-512 rules, for dense stride-1 3x3 convs with one group, at least 64 channels in and
// out, above 4x4 output maps (BiT's blocks 1-3). Every pass gets the same answer.
bool use_onednn_winograd(const Shape& x_shape, const Shape& w_shape, const Conv2dAttrs& attrs);

// Whether the forward runs as the backward-data of the dual conv (conv/dual.h): in auto
// mode with the AVX2 rules, for dense stride-1 3x3 convs with one group above 4x4 output maps.
bool use_dual_for_forward(const Shape& x_shape, const Shape& w_shape, const Conv2dAttrs& attrs);

// Whether backward-data runs as the forward of the dual conv: in auto mode, for unpadded 1x1
// convs with one group above 4x4 maps, except those that expand the channels on maps above 8x8
// unless strided.
bool use_dual_for_backward_data(const Shape& x_shape, const Shape& w_shape,
                                const Conv2dAttrs& attrs);

}  // namespace bitgrad::onednn
