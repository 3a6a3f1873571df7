// conv2d backward-weights for 3x3 kernels on channel-blocked activations (nChw8c or nChw16c,
// worked on 8 channels at a time: channel_groups.h), hand-written
// for AVX2+FMA. oneDNN 2.6's AVX2 backward-weights kernel runs BiT's 3x3 convs at 80-100
// GFLOP/s, against 130-155 for their forward and backward-data on the same cores; this one runs
// BiT's stride-1 ones at 110-130 (docs/performance.md). Any stride and padding are supported;
// the conv kernels choose it for stride 1 (conv/algo.h).
//
// Algorithm. dw[o, c, ky, kx] = sum over n, oy, ox of dy[n, o, oy, ox] * x[n, c, iy, ix], with
// iy = oy * sh - ph + ky and ix = ox * sw - pw + kx (taps in the padding read 0). In nChw8c a
// vector of 8 channels at one pixel is contiguous, so the kernel takes dy 8 output channels at a
// time and multiplies it by one input channel broadcast from x. A work item is a pair of output
// channel blocks and one input channel block (16 x 8 x 3 x 3 weights); it sums over the whole
// batch, so the threads never share an output and the result does not depend on their number.
// Its inner loop runs along an output row with 12 accumulators in registers (2 output blocks x
// 3 kx taps x 2 input channels), 8 loads for 12 FMAs; for each image the loop is repeated for
// the 3 ky taps and 4 input-channel pairs, whose accumulators wait in a small array, while the
// image's rows stay in cache. Columns whose taps reach into the padding take a slower path.
#pragma once

#include <cstdint>

namespace bitgrad::cpu {

struct Conv3x3Shape {
  int64_t block = 8;  // channels per pixel of x and dy: 8 (nChw8c) or 16 (nChw16c)
  int64_t batch = 0;
  int64_t in_channels = 0, out_channels = 0;  // C, O
  int64_t in_h = 0, in_w = 0;                  // x
  int64_t out_h = 0, out_w = 0;                // dy
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
};

// Whether the kernel runs this shape on this CPU: AVX2+FMA active (ops/cpu/common/cpu_isa.h), a
// block of 8 or 16, C a multiple of the block and O of 16, positive sizes and strides,
// non-negative padding, and an output size that matches (out = (in + 2 * pad - 3) / stride + 1).
bool conv3x3_bwd_weight_supported(const Conv3x3Shape& shape);

// Whether the kernel should get x with its zero columns already added (in_w + 2 * pad_w wide,
// pad_w = 0): on maps up to 8 wide, where border columns, whose taps branch, are a quarter of
// the columns or more. op_bench, block 3 (8x8) backward-weights: 10.7-10.8 ms with the copy
// against 11.2-12.7 without; on 16- and 32-wide maps the copy costs more than it saves.
bool conv3x3_bwd_weight_pads_columns_first(const Conv3x3Shape& shape);

// x: (N, C/k, H, W, k); dy: (N, O/k, OH, OW, k), with k the shape's block. Writes dw (O, C, 3,
// 3), plain OIHW. Overwrites dw. The shape must be supported.
void conv3x3_bwd_weight_blocked(const Conv3x3Shape& shape, const float* x, const float* dy,
                                float* dw);

}  // namespace bitgrad::cpu
