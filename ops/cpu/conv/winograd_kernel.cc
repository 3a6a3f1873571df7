// Winograd F(2x2, 3x3) convolution; the algorithm is described in the header.
//
// Layouts. V and M hold one (tiles, channels) row-major matrix per position p = 4 * row + col
// of the 4x4 transformed tile, dU one (C, O) matrix per position; the forward's U holds each
// position's (C, O) matrix as column panels of kPanel output channels, the order its
// micro-kernel reads them in. Tile t = (n * TH + ty) * TW + tx. In nChw8c and nChw16c, 8
// channels at one pixel are one AVX2 vector (channel_groups.h), so the transforms work on 8
// channels at once and store them as 8 consecutive matrix entries.
#include "ops/cpu/conv/winograd_kernel.h"

#include <omp.h>

#include <algorithm>

#include "core/check.h"
#include "ops/cpu/common/cpu_isa.h"
#include "ops/cpu/conv/channel_groups.h"
#include "ops/cpu/common/onednn_context.h"

#if BG_HAVE_AVX2_CLONES
#include <immintrin.h>
#endif

namespace bitgrad::cpu {
namespace {

constexpr int64_t kLanes = kGroupChannels;  // channels per vector
constexpr int kPositions = 16;     // of a transformed 4x4 tile
constexpr int64_t kMaxPadding = 2;

// Tiles per column and row of the output, and in all.
struct Tiling {
  int64_t th, tw, count;
};

Tiling tiling(const Winograd3x3Shape& s) {
  const int64_t th = (s.out_h() + 1) / 2, tw = (s.out_w() + 1) / 2;
  return {th, tw, s.batch * th * tw};
}

// The forward is fused: the products of a group of tiles are transformed back while they are
// still in cache, instead of writing V and M for the whole batch to memory between three passes.
// The threads share the work in one of two ways:
//   by tiles            each thread takes groups of tiles whose V fits its L2, and multiplies
//                       each group by all of U;
//   by output channels  where U is larger than V (few tiles, many channels: 4x4 maps), the
//                       threads transform all tiles together, then each takes a share of U's
//                       column panels: it transforms a panel's kernels and multiplies all tiles
//                       by it at once, so that U is never written whole.
constexpr int64_t kGroupBytes = 160 * 1024;  // V of one group, in L2 (512 KB a core here)
constexpr int64_t kPanel = 16;               // output channels per column panel of U and M
constexpr int64_t kRows = 6;                 // tiles per micro-kernel call: 6x16 accumulators

struct FusedPlan {
  bool by_output_channels;
  int64_t group_tiles, groups, panels;
  int64_t weight_floats;  // U, or by output channels one thread's panel of U
  int64_t input_floats;   // V of a group
  int64_t output_floats;  // M of a group and panel, one per thread

  int64_t weight_sets(int64_t threads) const { return by_output_channels ? threads : 1; }
  int64_t input_sets(int64_t threads) const { return by_output_channels ? 1 : threads; }
  int64_t scratch_floats(int64_t threads) const {
    return weight_sets(threads) * weight_floats + input_sets(threads) * input_floats +
           threads * output_floats;
  }
};

FusedPlan fused_plan(const Winograd3x3Shape& s, int64_t threads) {
  const int64_t tiles = tiling(s).count;
  const int64_t panels = (s.out_channels + kPanel - 1) / kPanel;
  const bool by_output_channels = s.out_channels > tiles;
  int64_t group = tiles;
  if (!by_output_channels) {
    group = std::max<int64_t>(1, kGroupBytes / (kPositions * s.in_channels * 4));
    if (group > kRows) group -= group % kRows;
    group = std::min(group, tiles);
  }
  const int64_t groups = (tiles + group - 1) / group;
  return {by_output_channels,
          group,
          groups,
          panels,
          kPositions * (by_output_channels ? 1 : panels) * s.in_channels * kPanel,
          kPositions * group * s.in_channels,
          kPositions * group * kPanel};
}

void check_supported(const Winograd3x3Shape& s) {
  BG_CHECK(winograd3x3_supported(s), "conv2d winograd: shape or CPU not supported (C = ",
           s.in_channels, ", O = ", s.out_channels, ", padding ", s.pad_h, "x", s.pad_w, ")");
}

// The weight gradient is not fused: the threads transform x and dy of every tile, oneDNN's sgemm
// multiplies them over all tiles at once, dU[p] (C x O) = V[p]^T dM[p], and the threads
// transform dU back. V and dM go to memory between the steps, which pays only on small maps
// (the rule's, conv/algo.h).
struct WeightGradientStacks {
  float* weights;  // dU: kPositions x (C, O)
  float* input;    // V: kPositions x (tiles, C)
  float* output;   // dM: kPositions x (tiles, O)
};

int64_t weight_gradient_floats(const Winograd3x3Shape& s) {
  return kPositions * (s.in_channels * s.out_channels +
                       tiling(s).count * (s.in_channels + s.out_channels));
}

WeightGradientStacks weight_gradient_stacks(const Winograd3x3Shape& s, float* scratch) {
  float* input = scratch + kPositions * s.in_channels * s.out_channels;
  return {scratch, input, input + kPositions * tiling(s).count * s.in_channels};
}

#if BG_HAVE_AVX2_CLONES

// r = B^T d for the four rows d[0..3] of a 4x4 tile (or, applied to columns, d B).
BG_TARGET_AVX2_FMA BG_ALWAYS_INLINE void input_rows(const __m256 d[4], __m256 r[4]) {
  r[0] = _mm256_sub_ps(d[0], d[2]);
  r[1] = _mm256_add_ps(d[1], d[2]);
  r[2] = _mm256_sub_ps(d[2], d[1]);
  r[3] = _mm256_sub_ps(d[1], d[3]);
}

// V = B^T d B of one tile and channel block of x: position p goes to v[p * position_stride].
BG_TARGET_AVX2_FMA BG_ALWAYS_INLINE void transform_input_tile(const Winograd3x3Shape& s,
                                                              const float* plane, int64_t ty,
                                                              int64_t tx, float* v,
                                                              int64_t position_stride) {
  __m256 d[4][4];
  for (int r = 0; r < 4; ++r) {
    const int64_t iy = 2 * ty - s.pad_h + r;
    for (int c = 0; c < 4; ++c) {
      const int64_t ix = 2 * tx - s.pad_w + c;
      const bool inside = iy >= 0 && iy < s.in_h && ix >= 0 && ix < s.in_w;
      d[r][c] = inside ? _mm256_loadu_ps(plane + (iy * s.in_w + ix) * s.block)
                       : _mm256_setzero_ps();
    }
  }
  __m256 rows[4][4];  // B^T d, stored transposed: rows[c][r]
  for (int c = 0; c < 4; ++c) {
    const __m256 column[4] = {d[0][c], d[1][c], d[2][c], d[3][c]};
    input_rows(column, rows[c]);
  }
  for (int r = 0; r < 4; ++r) {
    const __m256 row[4] = {rows[0][r], rows[1][r], rows[2][r], rows[3][r]};
    __m256 out[4];
    input_rows(row, out);
    for (int c = 0; c < 4; ++c) _mm256_storeu_ps(v + (r * 4 + c) * position_stride, out[c]);
  }
}

// V for tiles [first, last) of x, every channel block: row tile - first of V[p] is at
// v + p * position_stride, C floats.
BG_TARGET_AVX2_FMA void transform_input(const Winograd3x3Shape& s, const float* x, int64_t first,
                                        int64_t last, int64_t position_stride, float* v) {
  const Tiling t = tiling(s);
  const int64_t groups = s.in_channels / kLanes;
  for (int64_t tile = first; tile < last; ++tile) {
    const int64_t n = tile / (t.th * t.tw), ty = tile / t.tw % t.th, tx = tile % t.tw;
    for (int64_t cb = 0; cb < groups; ++cb) {
      const float* plane = x + group_offset(n, cb, s.in_channels, s.in_h * s.in_w, s.block);
      transform_input_tile(s, plane, ty, tx, v + (tile - first) * s.in_channels + cb * kLanes,
                           position_stride);
    }
  }
}

// Transposes the 8x8 matrix whose rows are r[0..7].
BG_TARGET_AVX2_FMA BG_ALWAYS_INLINE void transpose_8x8(__m256 r[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
    r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
  }
}

// Panel q of U = G g G^T: the kernels of output channels [q * kPanel, (q + 1) * kPanel), 8 at a
// time (the lanes). U[p]'s panel is a (C, kPanel) row-major block at u + p * position_stride;
// its columns past O are zero.
BG_TARGET_AVX2_FMA void transform_weight_panel(const Winograd3x3Shape& s, const float* w,
                                               KernelOrder order, int64_t q, float* u,
                                               int64_t position_stride) {
  const int64_t c_count = s.in_channels, o_count = s.out_channels;
  // Kernel (o, c) starts at w + o * o_stride + c * c_stride; the dual reads it rotated.
  const bool dual = order == KernelOrder::kDualOf;
  const int64_t o_stride = dual ? 9 : c_count * 9, c_stride = dual ? o_count * 9 : 9;
  const __m256 half = _mm256_set1_ps(0.5f);
  for (int64_t c = 0; c < c_count; ++c) {
    for (int64_t block = 0; block < kPanel / kLanes; ++block) {
      const int64_t o = q * kPanel + block * kLanes;
      float* entry = u + c * kPanel + block * kLanes;
      if (o >= o_count) {
        for (int p = 0; p < kPositions; ++p) {
          _mm256_storeu_ps(entry + p * position_stride, _mm256_setzero_ps());
        }
        continue;
      }
      // Lane l's kernel: its first 8 taps as a row of an 8x8 transpose, the last one apart.
      __m256 taps[9];
      alignas(32) float last_taps[kLanes];
      for (int64_t l = 0; l < kLanes; ++l) {
        const float* kernel = w + (o + l) * o_stride + c * c_stride;
        taps[l] = _mm256_loadu_ps(kernel);
        last_taps[l] = kernel[8];
      }
      transpose_8x8(taps);
      taps[8] = _mm256_load_ps(last_taps);
      __m256 g[9];
      for (int k = 0; k < 9; ++k) g[k] = taps[dual ? 8 - k : k];
      __m256 gg[4][3];  // G g
      for (int j = 0; j < 3; ++j) {
        const __m256 outer = _mm256_add_ps(g[j], g[6 + j]);
        gg[0][j] = g[j];
        gg[1][j] = _mm256_mul_ps(half, _mm256_add_ps(outer, g[3 + j]));
        gg[2][j] = _mm256_mul_ps(half, _mm256_sub_ps(outer, g[3 + j]));
        gg[3][j] = g[6 + j];
      }
      for (int a = 0; a < 4; ++a) {  // (G g) G^T
        const __m256 outer = _mm256_add_ps(gg[a][0], gg[a][2]);
        const __m256 row[4] = {gg[a][0], _mm256_mul_ps(half, _mm256_add_ps(outer, gg[a][1])),
                               _mm256_mul_ps(half, _mm256_sub_ps(outer, gg[a][1])), gg[a][2]};
        for (int b = 0; b < 4; ++b) {
          _mm256_storeu_ps(entry + (a * 4 + b) * position_stride, row[b]);
        }
      }
    }
  }
}

// m (rows x kPanel) = a (rows x k, row stride lda) times b (k x kPanel). The accumulators stay
// in registers only if every loop over them is unrolled.
template <int kRowCount>
BG_TARGET_AVX2_FMA BG_ALWAYS_INLINE void multiply_rows(const float* a, int64_t lda,
                                                       const float* b, int64_t k, float* m) {
  __m256 acc[kRowCount][2];
#pragma GCC unroll 6
  for (int r = 0; r < kRowCount; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (int64_t i = 0; i < k; ++i) {
    const __m256 b0 = _mm256_loadu_ps(b + i * kPanel), b1 = _mm256_loadu_ps(b + i * kPanel + 8);
#pragma GCC unroll 6
    for (int r = 0; r < kRowCount; ++r) {
      const __m256 a_ri = _mm256_broadcast_ss(a + r * lda + i);
      acc[r][0] = _mm256_fmadd_ps(a_ri, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(a_ri, b1, acc[r][1]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < kRowCount; ++r) {
    _mm256_storeu_ps(m + r * kPanel, acc[r][0]);
    _mm256_storeu_ps(m + r * kPanel + 8, acc[r][1]);
  }
}

// m (rows x kPanel) = v (rows x C) times one (C x kPanel) panel of U, kRows rows at a time.
BG_TARGET_AVX2_FMA void multiply_panel(const float* v, int64_t rows, int64_t c_count,
                                       const float* u_panel, float* m) {
  int64_t r = 0;
  for (; r + kRows <= rows; r += kRows) {
    multiply_rows<kRows>(v + r * c_count, c_count, u_panel, c_count, m + r * kPanel);
  }
  const float* v_rest = v + r * c_count;
  float* m_rest = m + r * kPanel;
  switch (rows - r) {
    case 5: multiply_rows<5>(v_rest, c_count, u_panel, c_count, m_rest); break;
    case 4: multiply_rows<4>(v_rest, c_count, u_panel, c_count, m_rest); break;
    case 3: multiply_rows<3>(v_rest, c_count, u_panel, c_count, m_rest); break;
    case 2: multiply_rows<2>(v_rest, c_count, u_panel, c_count, m_rest); break;
    case 1: multiply_rows<1>(v_rest, c_count, u_panel, c_count, m_rest); break;
    default: break;
  }
}

// y = A^T M A for tiles [first, last) and the output blocks of panel q; M[p] is
// (last - first, kPanel). Outputs past the map are dropped.
BG_TARGET_AVX2_FMA void transform_output(const Winograd3x3Shape& s, const float* m,
                                         int64_t first, int64_t last, int64_t q, float* y) {
  const Tiling t = tiling(s);
  const int64_t groups = s.out_channels / kLanes, oh = s.out_h(), ow = s.out_w();
  const int64_t position_stride = (last - first) * kPanel;
  for (int64_t tile = first; tile < last; ++tile) {
    const int64_t n = tile / (t.th * t.tw), ty = tile / t.tw % t.th, tx = tile % t.tw;
    for (int64_t half = 0; half < kPanel / kLanes; ++half) {
      const int64_t ob = q * (kPanel / kLanes) + half;
      if (ob >= groups) break;
      float* plane = y + group_offset(n, ob, s.out_channels, oh * ow, s.block);
      __m256 a[4][4];
      for (int p = 0; p < kPositions; ++p) {
        a[p / 4][p % 4] =
            _mm256_loadu_ps(m + p * position_stride + (tile - first) * kPanel + half * kLanes);
      }
      for (int i = 0; i < 2; ++i) {  // row i of A^T M, then times A
        const int64_t oy = 2 * ty + i;
        if (oy >= oh) break;
        __m256 row[4];
        for (int c = 0; c < 4; ++c) {
          row[c] = i == 0 ? _mm256_add_ps(_mm256_add_ps(a[0][c], a[1][c]), a[2][c])
                          : _mm256_sub_ps(_mm256_sub_ps(a[1][c], a[2][c]), a[3][c]);
        }
        float* out = plane + (oy * ow + 2 * tx) * s.block;
        _mm256_storeu_ps(out, _mm256_add_ps(_mm256_add_ps(row[0], row[1]), row[2]));
        if (2 * tx + 1 < ow) {
          _mm256_storeu_ps(out + s.block, _mm256_sub_ps(_mm256_sub_ps(row[1], row[2]), row[3]));
        }
      }
    }
  }
}

// V of every tile, in a parallel region's worksharing loop.
BG_TARGET_AVX2_FMA void transform_input_of_batch(const Winograd3x3Shape& s, const float* x,
                                                 float* v) {
  const Tiling t = tiling(s);
  const int64_t per_image = t.th * t.tw;
#pragma omp for schedule(static)
  for (int64_t n = 0; n < s.batch; ++n) {
    const int64_t first = n * per_image;
    transform_input(s, x, first, first + per_image, t.count * s.in_channels,
                    v + first * s.in_channels);
  }
}

// The outputs of tiles [first, last) in panel q: M = V U, then y = A^T M A. U[p]'s panel q is
// at u_panel + p * position_stride.
BG_TARGET_AVX2_FMA void multiply_and_transform_output(const Winograd3x3Shape& s,
                                                      const float* u_panel,
                                                      int64_t position_stride, const float* v,
                                                      int64_t first, int64_t last, int64_t q,
                                                      float* m, float* y) {
  const int64_t rows = last - first, c_count = s.in_channels;
  for (int p = 0; p < kPositions; ++p) {  // M[p] = V[p] times U[p]'s panel q
    multiply_panel(v + p * rows * c_count, rows, c_count, u_panel + p * position_stride,
                   m + p * rows * kPanel);
  }
  transform_output(s, m, first, last, q, y);
}

// The forward in one parallel region (see FusedPlan).
BG_TARGET_AVX2_FMA void fused_forward(const Winograd3x3Shape& s, const float* x, const float* w,
                                      KernelOrder order, float* y, float* scratch) {
  const int64_t threads = omp_get_max_threads();
  const FusedPlan plan = fused_plan(s, threads);
  const int64_t tiles = tiling(s).count, panel_floats = s.in_channels * kPanel;
  float* inputs = scratch + plan.weight_sets(threads) * plan.weight_floats;
  float* outputs = inputs + plan.input_sets(threads) * plan.input_floats;
#pragma omp parallel num_threads(threads)
  {
    const int64_t thread = omp_get_thread_num();
    float* m = outputs + thread * plan.output_floats;
    if (plan.by_output_channels) {
      // Each thread transforms the kernels of its panels just before it uses them.
      float* u = scratch + thread * plan.weight_floats;
      transform_input_of_batch(s, x, inputs);  // ends in a barrier
#pragma omp for schedule(static)
      for (int64_t q = 0; q < plan.panels; ++q) {
        transform_weight_panel(s, w, order, q, u, panel_floats);
        multiply_and_transform_output(s, u, panel_floats, inputs, 0, tiles, q, m, y);
      }
    } else {
      float* u = scratch;  // every group multiplies by all of U
      const int64_t position_stride = plan.panels * panel_floats;
#pragma omp for schedule(static)
      for (int64_t q = 0; q < plan.panels; ++q) {
        transform_weight_panel(s, w, order, q, u + q * panel_floats, position_stride);
      }
      float* v = inputs + thread * plan.input_floats;
#pragma omp for schedule(static)
      for (int64_t g = 0; g < plan.groups; ++g) {
        const int64_t first = g * plan.group_tiles;
        const int64_t last = std::min(tiles, first + plan.group_tiles);
        transform_input(s, x, first, last, (last - first) * s.in_channels, v);
        for (int64_t q = 0; q < plan.panels; ++q) {
          multiply_and_transform_output(s, u + q * panel_floats, position_stride, v, first, last,
                                        q, m, y);
        }
      }
    }
  }
}

// e = A r for the two rows r0, r1 of a 2x2 tile (or, applied to columns, r A^T).
BG_TARGET_AVX2_FMA BG_ALWAYS_INLINE void spread(__m256 r0, __m256 r1, __m256 e[4]) {
  e[0] = r0;
  e[1] = _mm256_add_ps(r0, r1);
  e[2] = _mm256_sub_ps(r0, r1);
  e[3] = _mm256_sub_ps(_mm256_setzero_ps(), r1);
}

// dM = A dy A^T for tiles [first, last) and every output block; dy past the map reads as zero.
// Row tile - first of dM[p] is at dm + p * position_stride, O floats.
BG_TARGET_AVX2_FMA void transform_output_gradient(const Winograd3x3Shape& s, const float* dy,
                                                  int64_t first, int64_t last,
                                                  int64_t position_stride, float* dm) {
  const Tiling t = tiling(s);
  const int64_t groups = s.out_channels / kLanes, oh = s.out_h(), ow = s.out_w();
  for (int64_t tile = first; tile < last; ++tile) {
    const int64_t n = tile / (t.th * t.tw), ty = tile / t.tw % t.th, tx = tile % t.tw;
    float* row = dm + (tile - first) * s.out_channels;
    for (int64_t ob = 0; ob < groups; ++ob) {
      const float* plane = dy + group_offset(n, ob, s.out_channels, oh * ow, s.block);
      __m256 d[2][2];
      for (int i = 0; i < 2; ++i) {
        for (int j = 0; j < 2; ++j) {
          const int64_t oy = 2 * ty + i, ox = 2 * tx + j;
          d[i][j] = oy < oh && ox < ow ? _mm256_loadu_ps(plane + (oy * ow + ox) * s.block)
                                       : _mm256_setzero_ps();
        }
      }
      __m256 left[4], right[4];  // A applied to the tile's two columns
      spread(d[0][0], d[1][0], left);
      spread(d[0][1], d[1][1], right);
      for (int r = 0; r < 4; ++r) {
        __m256 e[4];
        spread(left[r], right[r], e);
        for (int c = 0; c < 4; ++c) {
          _mm256_storeu_ps(row + (r * 4 + c) * position_stride + ob * kLanes, e[c]);
        }
      }
    }
  }
}

// The three taps G^T d of four values d along one axis of a transformed tile.
BG_TARGET_AVX2_FMA BG_ALWAYS_INLINE void fold_taps(const __m256 d[4], __m256 out[3]) {
  const __m256 half = _mm256_set1_ps(0.5f);
  const __m256 inner = _mm256_mul_ps(half, _mm256_add_ps(d[1], d[2]));
  out[0] = _mm256_add_ps(d[0], inner);
  out[1] = _mm256_mul_ps(half, _mm256_sub_ps(d[1], d[2]));
  out[2] = _mm256_add_ps(inner, d[3]);
}

// dw = G^T dU G for the kernels of input channel c and output channels [ob * 8, ob * 8 + 8).
BG_TARGET_AVX2_FMA void transform_weight_gradient_block(const Winograd3x3Shape& s,
                                                        const float* du, int64_t c, int64_t ob,
                                                        float* dw) {
  const int64_t c_count = s.in_channels, o_count = s.out_channels;
  __m256 d[4][4];
  for (int p = 0; p < kPositions; ++p) {
    d[p / 4][p % 4] = _mm256_loadu_ps(du + (p * c_count + c) * o_count + ob * kLanes);
  }
  __m256 rows[4][3];  // d G, per row of d
  for (int a = 0; a < 4; ++a) fold_taps(d[a], rows[a]);
  alignas(32) float taps[9][kLanes];
  for (int j = 0; j < 3; ++j) {
    const __m256 column[4] = {rows[0][j], rows[1][j], rows[2][j], rows[3][j]};
    __m256 out[3];
    fold_taps(column, out);
    for (int i = 0; i < 3; ++i) _mm256_store_ps(taps[i * 3 + j], out[i]);
  }
  for (int64_t l = 0; l < kLanes; ++l) {
    float* kernel = dw + ((ob * kLanes + l) * c_count + c) * 9;
    for (int k = 0; k < 9; ++k) kernel[k] = taps[k][l];
  }
}

// dw = G^T dU G for every kernel, 8 output channels at a time, written to plain OIHW. The body
// is a function of its own: clang outlines an OpenMP loop body without the enclosing
// function's target attribute, so AVX2 code must not sit in it directly.
void transform_weight_gradient(const Winograd3x3Shape& s, const float* du, float* dw) {
  const int64_t c_count = s.in_channels, o_count = s.out_channels;
  // Input channels outermost: each position's dU rows are then read front to back.
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t c = 0; c < c_count; ++c) {
    for (int64_t ob = 0; ob < o_count / kLanes; ++ob) {
      transform_weight_gradient_block(s, du, c, ob, dw);
    }
  }
}

// The weight gradient (see WeightGradientStacks).
BG_TARGET_AVX2_FMA void weight_gradient(const Winograd3x3Shape& s, const float* x,
                                        const float* dy, float* dw, float* scratch) {
  const Tiling t = tiling(s);
  const int64_t tiles = t.count, per_image = t.th * t.tw;
  const WeightGradientStacks m = weight_gradient_stacks(s, scratch);
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < s.batch; ++n) {  // V and dM of image n's tiles
    const int64_t first = n * per_image, last = first + per_image;
    transform_input(s, x, first, last, tiles * s.in_channels, m.input + first * s.in_channels);
    transform_output_gradient(s, dy, first, last, tiles * s.out_channels,
                              m.output + first * s.out_channels);
  }
  for (int p = 0; p < kPositions; ++p) {  // dU[p] = V[p]^T dM[p]
    onednn::sgemm("conv2d winograd", true, false, s.in_channels, s.out_channels, tiles,
                  m.input + p * tiles * s.in_channels, m.output + p * tiles * s.out_channels,
                  m.weights + p * s.in_channels * s.out_channels);
  }
  transform_weight_gradient(s, m.weights, dw);
}

#endif  // BG_HAVE_AVX2_CLONES

}  // namespace

bool winograd3x3_supported(const Winograd3x3Shape& s) {
  return BG_HAVE_AVX2_CLONES && active_cpu_isa() == CpuIsa::kAvx2Fma && s.batch > 0 &&
         is_group_block(s.block) && s.in_channels > 0 && s.in_channels % s.block == 0 &&
         s.out_channels > 0 && s.out_channels % s.block == 0 && s.pad_h >= 0 &&
         s.pad_h <= kMaxPadding && s.pad_w >= 0 && s.pad_w <= kMaxPadding && s.out_h() >= 1 &&
         s.out_w() >= 1;
}

int64_t winograd3x3_scratch_floats(const Winograd3x3Shape& s) {
  const int64_t threads = omp_get_max_threads();
  return std::max(fused_plan(s, threads).scratch_floats(threads), weight_gradient_floats(s));
}

void winograd3x3_fwd_blocked(const Winograd3x3Shape& s, const float* x, const float* w,
                            KernelOrder order, float* y, float* scratch) {
  check_supported(s);
#if BG_HAVE_AVX2_CLONES
  fused_forward(s, x, w, order, y, scratch);
#endif
}

void winograd3x3_bwd_weight_blocked(const Winograd3x3Shape& s, const float* x,
                                    const float* dy, float* dw, float* scratch) {
  check_supported(s);
#if BG_HAVE_AVX2_CLONES
  weight_gradient(s, x, dy, dw, scratch);
#endif
}

}  // namespace bitgrad::cpu
