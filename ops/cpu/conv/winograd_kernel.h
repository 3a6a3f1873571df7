// Stride-1 3x3 convolution by Winograd's minimal filtering F(2x2, 3x3), on channel-blocked
// activations (nChw8c or nChw16c), hand-written for AVX2+FMA. oneDNN 2.6 has no Winograd
// convolution for AVX2. It does 2.25 times fewer multiply-adds than the direct convolution; the
// forward keeps its transforms cheap by fusing them with its own matrix-product micro-kernel,
// tile group by tile group in cache (docs/performance.md has the timings on BiT's shapes).
//
// Algorithm (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016). The
// output is cut into 2x2 tiles; tile t reads the 4x4 input patch d at its top-left corner. With
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
//   A^T = [1 1 1 0; 0 1 -1 -1],
// one output channel's tile is  y = A^T [ sum over c of (G g_c G^T) * (B^T d_c B) ] A,  with *
// elementwise on 4x4 matrices. Grouping the 16 positions p of those matrices gives 16
// independent matrix products  M[p] (tiles x O) = V[p] (tiles x C) U[p] (C x O),  where
// V = B^T d B of every tile and channel and U = G g G^T of every kernel. So the forward is: input
// transform, 16 matrix products, output transform. The weight gradient runs the same steps
// backwards, with oneDNN's sgemm for its products over all tiles:
//   dU[p] (C x O) = V[p]^T dM[p],  dM = A dy A^T per tile,  dw = G^T dU G.
// Tiles reaching past the output (odd sizes) read zeros for dy and drop their extra outputs.
//
// Backward-data of a stride-1 conv is the forward of its dual (kernels rotated by 180 degrees,
// channels swapped, padding 2 - p), so the forward kernel serves it too, reading the weights
// that way (KernelOrder::kDualOf).
#pragma once

#include <cstdint>

namespace bitgrad::cpu {

struct Winograd3x3Shape {
  int64_t block = 8;  // channels per pixel of x and y: 8 (nChw8c) or 16 (nChw16c)
  int64_t batch = 0;
  int64_t in_channels = 0, out_channels = 0;  // C, O
  int64_t in_h = 0, in_w = 0;
  int64_t pad_h = 0, pad_w = 0;

  int64_t out_h() const { return in_h + 2 * pad_h - 2; }
  int64_t out_w() const { return in_w + 2 * pad_w - 2; }
};

// Whether the kernels run this shape on this CPU: AVX2+FMA active (ops/cpu/common/cpu_isa.h), a
// block of 8 or 16, C and O positive multiples of it, padding 0 to 2, and an output of at least
// one pixel.
bool winograd3x3_supported(const Winograd3x3Shape& shape);

// How the forward reads w:
//   kOihw    w is the conv's (O, C, 3, 3) weights, plain;
//   kDualOf  w is the (C, O, 3, 3) plain weights of the conv whose backward-data this forward
//            computes: kernel (o, c) is w[c][o] rotated by 180 degrees.
enum class KernelOrder { kOihw, kDualOf };

// Floats of scratch memory the forward and the weight gradient need.
int64_t winograd3x3_scratch_floats(const Winograd3x3Shape& shape);

// y = conv(x, w), stride 1. x: (N, C/k, H, W, k); y: (N, O/k, OH, OW, k), overwritten, with k
// the shape's block. The shape must be supported.
void winograd3x3_fwd_blocked(const Winograd3x3Shape& shape, const float* x, const float* w,
                            KernelOrder order, float* y, float* scratch);

// dw (O, C, 3, 3) plain, overwritten, from x (N, C/k, H, W, k) and dy (N, O/k, OH, OW, k).
void winograd3x3_bwd_weight_blocked(const Winograd3x3Shape& shape, const float* x,
                                    const float* dy, float* dw, float* scratch);

}  // namespace bitgrad::cpu
