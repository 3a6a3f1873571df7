// The 3x3 backward-weights kernel; the algorithm is described in the header.
#include "ops/cpu/conv/bwd_weight_3x3_kernel.h"

#include <algorithm>

#include "core/check.h"
#include "ops/cpu/common/cpu_isa.h"
#include "ops/cpu/conv/channel_groups.h"

#if BG_HAVE_AVX2_CLONES
#include <immintrin.h>
#endif

namespace bitgrad::cpu {
namespace {

constexpr int64_t kLanes = kGroupChannels;  // channels per vector
constexpr int kTaps = 3;       // the kernel's height and width
constexpr int kPairs = 4;      // input-channel pairs per block

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// The output columns [begin, end) whose three taps all fall inside the input row; the columns
// outside it check each tap.
struct InteriorColumns {
  int64_t begin, end;
};

InteriorColumns interior_columns(const Conv3x3Shape& s) {
  const int64_t begin = std::min(s.out_w, (s.pad_w + s.stride_w - 1) / s.stride_w);
  const int64_t end = std::min(s.out_w, floor_div(s.in_w - kTaps + s.pad_w, s.stride_w) + 1);
  return {begin, std::max(begin, end)};
}

#if BG_HAVE_AVX2_CLONES

// A work item's sums for one ky tap and one input-channel pair: [output block][kx][channel].
// The inner loops index it with constants only (every loop over it is unrolled), so that it
// lives in 12 registers rather than on the stack.
using Accumulators = __m256[2][kTaps][2];

// acc[.][kx][.] += the two output blocks' dy (g0, g1) times the input channel pair at x_pixel.
BG_TARGET_AVX2_FMA BG_ALWAYS_INLINE void add_tap(Accumulators& acc, int kx, __m256 g0, __m256 g1,
                                                 const float* x_pixel) {
  __m256 b = _mm256_broadcast_ss(x_pixel);
  acc[0][kx][0] = _mm256_fmadd_ps(g0, b, acc[0][kx][0]);
  acc[1][kx][0] = _mm256_fmadd_ps(g1, b, acc[1][kx][0]);
  b = _mm256_broadcast_ss(x_pixel + 1);
  acc[0][kx][1] = _mm256_fmadd_ps(g0, b, acc[0][kx][1]);
  acc[1][kx][1] = _mm256_fmadd_ps(g1, b, acc[1][kx][1]);
}

// dst = src, element by element (unrolled: see Accumulators).
BG_TARGET_AVX2_FMA BG_ALWAYS_INLINE void copy(Accumulators& dst, const Accumulators& src) {
#pragma GCC unroll 2
  for (int a = 0; a < 2; ++a) {
#pragma GCC unroll 3
    for (int kx = 0; kx < kTaps; ++kx) {
      dst[a][kx][0] = src[a][kx][0];
      dst[a][kx][1] = src[a][kx][1];
    }
  }
}

// Output column ox of a row near its ends, where some taps fall into the padding.
BG_TARGET_AVX2_FMA BG_ALWAYS_INLINE void add_border_column(Accumulators& acc,
                                                           const Conv3x3Shape& s, int64_t ox,
                                                           const float* d0, const float* d1,
                                                           const float* x_row) {
  const __m256 g0 = _mm256_loadu_ps(d0 + ox * s.block), g1 = _mm256_loadu_ps(d1 + ox * s.block);
  const int64_t ix = ox * s.stride_w - s.pad_w;
  // Constant tap indices, so that the accumulators stay in registers.
  if (ix >= 0 && ix < s.in_w) add_tap(acc, 0, g0, g1, x_row + ix * s.block);
  if (ix + 1 >= 0 && ix + 1 < s.in_w) add_tap(acc, 1, g0, g1, x_row + (ix + 1) * s.block);
  if (ix + 2 >= 0 && ix + 2 < s.in_w) add_tap(acc, 2, g0, g1, x_row + (ix + 2) * s.block);
}

// One output row: dy rows d0 and d1 (the two output blocks), x_row the input row it reads,
// already offset to the channel pair.
BG_TARGET_AVX2_FMA BG_ALWAYS_INLINE void add_row(Accumulators& acc, const Conv3x3Shape& s,
                                                 InteriorColumns interior, const float* d0,
                                                 const float* d1, const float* x_row) {
  for (int64_t ox = 0; ox < interior.begin; ++ox) add_border_column(acc, s, ox, d0, d1, x_row);
  for (int64_t ox = interior.begin; ox < interior.end; ++ox) {
    const __m256 g0 = _mm256_loadu_ps(d0 + ox * s.block), g1 = _mm256_loadu_ps(d1 + ox * s.block);
    const float* x_pixel = x_row + (ox * s.stride_w - s.pad_w) * s.block;
    add_tap(acc, 0, g0, g1, x_pixel);
    add_tap(acc, 1, g0, g1, x_pixel + s.block);
    add_tap(acc, 2, g0, g1, x_pixel + 2 * s.block);
  }
  for (int64_t ox = interior.end; ox < s.out_w; ++ox) {
    add_border_column(acc, s, ox, d0, d1, x_row);
  }
}

// One work item: output channel groups 2 * pair and 2 * pair + 1, input group in_block.
BG_TARGET_AVX2_FMA void work_item(const Conv3x3Shape& s, const float* x, const float* dy,
                                  float* dw, int64_t pair, int64_t in_block) {
  const int64_t x_pixels = s.in_h * s.in_w, dy_pixels = s.out_h * s.out_w;
  const InteriorColumns interior = interior_columns(s);
  Accumulators sums[kTaps][kPairs];  // [ky][channel pair]; in memory between images
  for (auto& per_ky : sums) {
    for (Accumulators& a : per_ky) {
      for (auto& per_block : a) {
        for (auto& per_kx : per_block) per_kx[0] = per_kx[1] = _mm256_setzero_ps();
      }
    }
  }
  for (int64_t n = 0; n < s.batch; ++n) {
    const float* dy0 = dy + group_offset(n, 2 * pair, s.out_channels, dy_pixels, s.block);
    const float* dy1 = dy + group_offset(n, 2 * pair + 1, s.out_channels, dy_pixels, s.block);
    const float* x_image = x + group_offset(n, in_block, s.in_channels, x_pixels, s.block);
    for (int ky = 0; ky < kTaps; ++ky) {
      for (int pair_in = 0; pair_in < kPairs; ++pair_in) {
        Accumulators acc;
        copy(acc, sums[ky][pair_in]);
        for (int64_t oy = 0; oy < s.out_h; ++oy) {
          const int64_t iy = oy * s.stride_h - s.pad_h + ky;
          if (iy < 0 || iy >= s.in_h) continue;
          const int64_t row = oy * s.out_w * s.block;
          add_row(acc, s, interior, dy0 + row, dy1 + row,
                  x_image + iy * s.in_w * s.block + 2 * pair_in);
        }
        copy(sums[ky][pair_in], acc);
      }
    }
  }
  // Scatter into OIHW: lane l of sums[ky][p][a][kx][j] is dw[o, c, ky, kx] with
  // o = (2 * pair + a) * 8 + l and c = in_block * 8 + 2 * p + j.
  for (int ky = 0; ky < kTaps; ++ky) {
    for (int p = 0; p < kPairs; ++p) {
      for (int a = 0; a < 2; ++a) {
        for (int kx = 0; kx < kTaps; ++kx) {
          for (int j = 0; j < 2; ++j) {
            alignas(32) float lanes[kLanes];
            _mm256_store_ps(lanes, sums[ky][p][a][kx][j]);
            const int64_t c = in_block * kLanes + 2 * p + j;
            for (int64_t l = 0; l < kLanes; ++l) {
              const int64_t o = (2 * pair + a) * kLanes + l;
              dw[((o * s.in_channels + c) * kTaps + ky) * kTaps + kx] = lanes[l];
            }
          }
        }
      }
    }
  }
}

#endif  // BG_HAVE_AVX2_CLONES

}  // namespace

bool conv3x3_bwd_weight_supported(const Conv3x3Shape& s) {
  auto output_size = [](int64_t in, int64_t pad, int64_t stride) {
    return (in + 2 * pad - kTaps) / stride + 1;
  };
  return BG_HAVE_AVX2_CLONES && active_cpu_isa() == CpuIsa::kAvx2Fma && s.batch > 0 &&
         is_group_block(s.block) && s.in_channels > 0 && s.in_channels % s.block == 0 &&
         s.out_channels > 0 && s.out_channels % std::max(s.block, 2 * kLanes) == 0 &&
         s.stride_h > 0 && s.stride_w > 0 &&
         s.pad_h >= 0 && s.pad_w >= 0 && s.in_h + 2 * s.pad_h >= kTaps &&
         s.in_w + 2 * s.pad_w >= kTaps && s.out_h == output_size(s.in_h, s.pad_h, s.stride_h) &&
         s.out_w == output_size(s.in_w, s.pad_w, s.stride_w);
}

bool conv3x3_bwd_weight_pads_columns_first(const Conv3x3Shape& s) {
  constexpr int64_t kMaxWidth = 8;
  return s.pad_w > 0 && s.in_w <= kMaxWidth;
}

void conv3x3_bwd_weight_blocked(const Conv3x3Shape& shape, const float* x, const float* dy,
                                float* dw) {
  BG_CHECK(conv3x3_bwd_weight_supported(shape), "conv2d backward weight: the 3x3 blocked kernel ",
           "does not support this shape or CPU (block ", shape.block, ", C = ", shape.in_channels,
           ", O = ", shape.out_channels, ")");
#if BG_HAVE_AVX2_CLONES
  const Conv3x3Shape& s = shape;
  const int64_t pairs = s.out_channels / (2 * kLanes), in_blocks = s.in_channels / kLanes;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t pair = 0; pair < pairs; ++pair) {
    for (int64_t in_block = 0; in_block < in_blocks; ++in_block) {
      work_item(s, x, dy, dw, pair, in_block);
    }
  }
#endif
}

}  // namespace bitgrad::cpu
