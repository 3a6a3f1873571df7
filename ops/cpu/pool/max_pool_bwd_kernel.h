// Max pooling backward for channel-blocked activations (nChw8c or nChw16c, whichever block the
// convolutions chose), recomputing each window's maximum from x instead of reading a workspace.
// The forward can then run oneDNN's forward_inference pooling, which records no maxima and takes
// about half the time of the training one, and this backward replaces oneDNN's (BiT's root pool,
// batch 16: forward 7.4 -> ~3.8 ms, backward 7.7 -> ~3 ms; docs/performance.md). It also keeps
// one semantics on every CPU: oneDNN's AVX-512 backward breaks ties differently.
//
// Each (sample, channel block) plane is one work item: dx is zeroed, then each output pixel
// finds its window's maximum lane by lane and adds its dy there. Windows overlap only within a
// plane, so the threads never write the same dx. The maximum follows the reference kernel:
// padded positions are -inf, ties keep the first position in row-major window order, and a NaN
// wins.
#pragma once

#include <cstdint>

namespace bitgrad::cpu {

struct MaxPoolShape {
  int64_t block = 8;     // channels per pixel of a plane: 8 or 16
  int64_t batch = 0;     // N: the planes are N * ceil(C / block)
  int64_t channels = 0;  // C; a vector of only padding lanes (past C) is skipped, its dx left 0
  int64_t in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  int64_t kernel_h = 0, kernel_w = 0, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
};

// Whether max_pool_bwd_blocked takes planes of `block` channels.
bool max_pool_bwd_supports_block(int64_t block);

// x: (planes, H, W, block), dy: (planes, OH, OW, block). Writes dx like x. Every window must
// hold at least one pixel of x (padding below the kernel size).
void max_pool_bwd_blocked(const MaxPoolShape& shape, const float* x, const float* dy, float* dx);

}  // namespace bitgrad::cpu
