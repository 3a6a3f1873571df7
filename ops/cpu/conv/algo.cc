#include "ops/cpu/conv/algo.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "core/check.h"
#include "ops/cpu/conv/direct.h"
#include "ops/cpu/conv/gemm.h"

namespace bitgrad::onednn {
namespace {

// Output maps up to this many pixels count as small (4x4).
constexpr int64_t kSmallMapPixels = 16;
// And up to this many as medium (8x8).
constexpr int64_t kMediumMapPixels = 64;
// The fewest input and output channels of a conv that runs Winograd's algorithm: our own
// F(2x2, 3x3) kernels on AVX2, oneDNN's F(4x4, 3x3) ones on AVX-512 (64, BiT's fewest, where it
// was measured; narrower convs keep the direct kernels).
constexpr int64_t kMinWinogradChannels = 128;
constexpr int64_t kMinOnednnWinogradChannels = 64;
// The fewest input and output channels of a conv on a 2x2 to 4x4 map that runs the GEMM path.
constexpr int64_t kMinGemmChannels = 256;

ConvAlgo algo_from_environment() {
  const char* env = std::getenv("BITGRAD_CONV_ALGO");
  if (env == nullptr || *env == '\0' || std::strcmp(env, "auto") == 0) return ConvAlgo::kAuto;
  if (std::strcmp(env, "direct") == 0) return ConvAlgo::kDirect;
  if (std::strcmp(env, "gemm") == 0) return ConvAlgo::kGemm;
  throw Error(::bitgrad::detail::str_cat(
      "BITGRAD_CONV_ALGO must be auto, direct or gemm, got '", env, "'"));
}

std::atomic<ConvAlgo>& algo_setting() {
  static std::atomic<ConvAlgo> algo{algo_from_environment()};
  return algo;
}

std::atomic<ConvRules>& rules_setting() {
  static std::atomic<ConvRules> rules{activation_channel_block() >= 16 ? ConvRules::kAvx512
                                                                       : ConvRules::kAvx2};
  return rules;
}

bool avx512_rules() { return conv_rules() == ConvRules::kAvx512; }

int64_t output_pixels(const Shape& x_shape, const Shape& w_shape, const Conv2dAttrs& attrs) {
  Shape y = conv2d_output_shape(x_shape, w_shape, attrs);
  return y[2] * y[3];
}

bool is_strided(const Conv2dAttrs& attrs) { return attrs.stride[0] > 1 || attrs.stride[1] > 1; }

// A stride-1 3x3 conv with one group and no dilation: the convs of the hand-written
// backward-weights kernel, of the dual forward and of Winograd.
bool is_dense_stride1_3x3(const Shape& w_shape, const Conv2dAttrs& attrs) {
  return w_shape.rank() == 4 && w_shape[2] == 3 && w_shape[3] == 3 && attrs.groups == 1 &&
         attrs.dilation[0] == 1 && attrs.dilation[1] == 1 && !is_strided(attrs);
}

// The GEMM path wins on small maps where oneDNN's direct kernels have too little spatial work
// for their channels: on 1x1 output maps, and on 2x2 to 4x4 maps with 256+ channels in and out
// (R50x1's last blocks). Narrower convs on those maps (bit_finetune's default model) run faster
// direct (op_bench --shapes=tools/bench/bit_narrow_convs.csv --versus=direct).
bool gemm_is_faster(ConvPass pass, const Shape& x_shape, const Shape& w_shape,
                    const Conv2dAttrs& attrs) {
  const int64_t pixels = output_pixels(x_shape, w_shape, attrs);
  const bool wide = std::min(w_shape[0], w_shape[1]) >= kMinGemmChannels;
  const bool small_map = pixels == 1 || (pixels <= kSmallMapPixels && wide);
  const bool pointwise = w_shape[2] == 1 && w_shape[3] == 1;
  switch (pass) {
    case ConvPass::kForward: return small_map && !pointwise && !avx512_rules();
    case ConvPass::kBackwardWeight: return small_map;
    case ConvPass::kBackwardData: return small_map && is_strided(attrs) && !pointwise;
  }
  return false;
}

}  // namespace

ConvAlgo conv_algo() { return algo_setting(); }
ConvRules conv_rules() { return rules_setting(); }
void set_conv_rules(ConvRules rules) { rules_setting() = rules; }

bool use_conv3x3_bwd_weight(const Shape& w_shape, const Conv2dAttrs& attrs) {
  // Stride 2 is left to oneDNN: there the kernel measured no faster (op_bench, BiT's block 2
  // and 3 strided convs).
  return conv_algo() == ConvAlgo::kAuto && !avx512_rules() && is_dense_stride1_3x3(w_shape, attrs);
}

bool use_dual_for_backward_data(const Shape& x_shape, const Shape& w_shape,
                                const Conv2dAttrs& attrs) {
  if (conv_algo() != ConvAlgo::kAuto || w_shape.rank() != 4 || w_shape[2] != 1 ||
      w_shape[3] != 1 || attrs.groups != 1 || attrs.padding[0] != 0 || attrs.padding[1] != 0) {
    return false;
  }
  // oneDNN's own backward-data wins only on the 1x1 convs that expand the channels on large
  // maps (BiT's blocks 1 and 2), and on 4x4 maps.
  const int64_t pixels = output_pixels(x_shape, w_shape, attrs);
  bool expands_on_large_map = w_shape[0] > w_shape[1] && pixels > kMediumMapPixels;
  return pixels > kSmallMapPixels && (is_strided(attrs) || !expands_on_large_map);
}

bool use_dual_for_forward(const Shape& x_shape, const Shape& w_shape,
                          const Conv2dAttrs& attrs) {
  // The dual's padding, 2 - p, must not be negative.
  return conv_algo() == ConvAlgo::kAuto && !avx512_rules() &&
         is_dense_stride1_3x3(w_shape, attrs) && attrs.padding[0] <= 2 && attrs.padding[1] <= 2 &&
         output_pixels(x_shape, w_shape, attrs) > kSmallMapPixels;
}

bool use_winograd(ConvPass pass, const Shape& x_shape, const Shape& w_shape,
                  const Conv2dAttrs& attrs) {
  // With 64 channels (BiT's block 1) the transforms cost as much as the products save.
  if (conv_algo() != ConvAlgo::kAuto || avx512_rules() || !is_dense_stride1_3x3(w_shape, attrs) ||
      w_shape[0] < kMinWinogradChannels || w_shape[1] < kMinWinogradChannels) {
    return false;
  }
  if (pass == ConvPass::kBackwardWeight) {
    // Its products run over all tiles at once, so V and dM go to memory: that pays only on 8x8
    // maps. On 4x4 maps transforming 512x512 kernels costs more than the GEMM path's pass.
    const int64_t pixels = output_pixels(x_shape, w_shape, attrs);
    return pixels > kSmallMapPixels && pixels <= kMediumMapPixels;
  }
  return true;  // the fused forward, and the backward-data as its dual's forward
}

bool use_onednn_winograd(const Shape& x_shape, const Shape& w_shape, const Conv2dAttrs& attrs) {
  // On 4x4 maps its forward and backward-data lose to the direct kernels, and the GEMM path's
  // backward-weights beats it.
  return conv_algo() == ConvAlgo::kAuto && avx512_rules() &&
         is_dense_stride1_3x3(w_shape, attrs) && w_shape[0] >= kMinOnednnWinogradChannels &&
         w_shape[1] >= kMinOnednnWinogradChannels &&
         output_pixels(x_shape, w_shape, attrs) > kSmallMapPixels;
}

void set_conv_algo(ConvAlgo algo) { algo_setting() = algo; }

bool use_gemm(ConvPass pass, const Shape& x_shape, const Shape& w_shape,
              const Conv2dAttrs& attrs) {
  ConvAlgo algo = conv_algo();
  if (algo == ConvAlgo::kDirect || !gemm_conv_supported(x_shape, w_shape, attrs)) return false;
  return algo == ConvAlgo::kGemm || gemm_is_faster(pass, x_shape, w_shape, attrs);
}

}  // namespace bitgrad::onednn
