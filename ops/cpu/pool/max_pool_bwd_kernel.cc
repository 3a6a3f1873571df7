#include "ops/cpu/pool/max_pool_bwd_kernel.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "ops/cpu/common/cpu_isa.h"

#if BG_HAVE_AVX2_CLONES
#include <immintrin.h>
#endif

namespace bitgrad::cpu {
namespace {

constexpr int64_t kMaxBlock = 16;
constexpr int64_t kVectorLanes = 8;  // floats in an AVX2 vector

// The taps of output pixel (oh, ow)'s window that fall inside x: [kh_begin, kh_end) x
// [kw_begin, kw_end), and where tap (0, 0) would sit in the plane (it may lie outside).
struct Window {
  int64_t kh_begin, kh_end, kw_begin, kw_end, top, left;
};

BG_ALWAYS_INLINE Window window_of(const MaxPoolShape& s, int64_t oh, int64_t ow) {
  const int64_t top = oh * s.stride_h - s.pad_h, left = ow * s.stride_w - s.pad_w;
  return {std::max<int64_t>(0, -top), std::min(s.kernel_h, s.in_h - top),
          std::max<int64_t>(0, -left), std::min(s.kernel_w, s.in_w - left), top, left};
}

// Whether candidate v replaces the best so far: the reference kernel's rule.
inline bool wins(float v, float best) {
  return v > best || (std::isnan(v) && !std::isnan(best));
}

// One plane, lanes [0, live) of each pixel; the others (padding channels) are left 0.
void plane_bwd(const MaxPoolShape& s, int64_t live, const float* x, const float* dy, float* dx) {
  const int64_t lanes = s.block;
  std::memset(dx, 0, sizeof(float) * s.in_h * s.in_w * lanes);
  for (int64_t oh = 0; oh < s.out_h; ++oh) {
    for (int64_t ow = 0; ow < s.out_w; ++ow) {
      int64_t best_at[kMaxBlock];
      float best[kMaxBlock];
      bool first = true;
      const Window w = window_of(s, oh, ow);
      for (int64_t kh = w.kh_begin; kh < w.kh_end; ++kh) {
        for (int64_t kw = w.kw_begin; kw < w.kw_end; ++kw) {
          const int64_t at = ((w.top + kh) * s.in_w + w.left + kw) * lanes;
          const float* pixel = x + at;
          for (int64_t l = 0; l < live; ++l) {
            if (first || wins(pixel[l], best[l])) {
              best[l] = pixel[l];
              best_at[l] = at + l;
            }
          }
          first = false;
        }
      }
      const float* grad = dy + (oh * s.out_w + ow) * lanes;
      for (int64_t l = 0; l < live; ++l) dx[best_at[l]] += grad[l];
    }
  }
}

#if BG_HAVE_AVX2_CLONES

// plane_bwd with 8 lanes of a pixel as one vector (a 16-channel block is two, the second
// skipped when it holds only padding): the window's maximum and its position kept by blends, no
// branches per lane.
BG_TARGET_AVX2_FMA void plane_bwd_avx2(const MaxPoolShape& s, int64_t live, const float* x,
                                       const float* dy, float* dx) {
  const int64_t lanes = s.block;
  std::memset(dx, 0, sizeof(float) * s.in_h * s.in_w * lanes);
  const __m256i lane_offsets = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int64_t oh = 0; oh < s.out_h; ++oh) {
    for (int64_t ow = 0; ow < s.out_w; ++ow) {
      const Window w = window_of(s, oh, ow);
      for (int64_t first_lane = 0; first_lane < live; first_lane += kVectorLanes) {
        __m256 best = _mm256_setzero_ps();
        __m256i best_at = _mm256_setzero_si256();
        bool first = true;
        for (int64_t kh = w.kh_begin; kh < w.kh_end; ++kh) {
          for (int64_t kw = w.kw_begin; kw < w.kw_end; ++kw) {
            const auto at = static_cast<int32_t>(
                ((w.top + kh) * s.in_w + w.left + kw) * lanes + first_lane);
            const __m256 v = _mm256_loadu_ps(x + at);
            const __m256i at_lanes = _mm256_add_epi32(_mm256_set1_epi32(at), lane_offsets);
            if (first) {
              best = v;
              best_at = at_lanes;
              first = false;
              continue;
            }
            // v > best, or v is a NaN and best is not.
            const __m256 wins = _mm256_or_ps(
                _mm256_cmp_ps(v, best, _CMP_GT_OQ),
                _mm256_and_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q),
                              _mm256_cmp_ps(best, best, _CMP_ORD_Q)));
            best = _mm256_blendv_ps(best, v, wins);
            best_at = _mm256_castps_si256(_mm256_blendv_ps(
                _mm256_castsi256_ps(best_at), _mm256_castsi256_ps(at_lanes), wins));
          }
        }
        alignas(32) int32_t where[kVectorLanes];
        _mm256_store_si256(reinterpret_cast<__m256i*>(where), best_at);
        const float* grad = dy + (oh * s.out_w + ow) * lanes + first_lane;
        for (int64_t l = 0; l < kVectorLanes; ++l) dx[where[l]] += grad[l];
      }
    }
  }
}

#endif  // BG_HAVE_AVX2_CLONES

}  // namespace

bool max_pool_bwd_supports_block(int64_t block) { return block == 8 || block == kMaxBlock; }

void max_pool_bwd_blocked(const MaxPoolShape& s, const float* x, const float* dy, float* dx) {
  BG_CHECK(max_pool_bwd_supports_block(s.block), "max_pool2d backward: channel block ", s.block,
           " is not 8 or 16");
  const int64_t in_plane = s.in_h * s.in_w * s.block, out_plane = s.out_h * s.out_w * s.block;
  BG_CHECK(in_plane < (int64_t{1} << 31), "max_pool2d backward: a plane of ", in_plane,
           " values is too large for the kernel's 32-bit positions");
  auto plane = &plane_bwd;
#if BG_HAVE_AVX2_CLONES
  if (active_cpu_isa() == CpuIsa::kAvx2Fma) plane = &plane_bwd_avx2;
#endif
  const int64_t blocks = (s.channels + s.block - 1) / s.block;  // per sample
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < s.batch * blocks; ++p) {
    const int64_t live = std::min(s.block, s.channels - p % blocks * s.block);
    plane(s, live, x + p * in_plane, dy + p * out_plane, dx + p * in_plane);
  }
}

}  // namespace bitgrad::cpu
