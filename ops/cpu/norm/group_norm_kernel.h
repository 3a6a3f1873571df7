// GroupNorm (optionally fused with the ReLU after it) on the CPU: OpenMP-parallel, vectorized,
// and layout-agnostic over channel-blocked activations, so one kernel serves plain NCHW tensors
// and oneDNN's blocked nChw8c / nChw16c tensors without a reorder.
//
// The raw-pointer entry points below serve the kCpu kernels of GroupNormFwd and GroupNormBwd
// (norm/norm.cc), which pass the block of the tensor they get: 1 for a plain one, 8 or 16 for
// a oneDNN channel-blocked one. Numerics: per-channel sums accumulate in short float runs
// flushed into double, the forward variance is computed from shifted data (no E[x^2] - E[x]^2
// cancellation), and the backward sums are centred on the saved mean. Results do not depend on
// the thread count: every (sample, group) is reduced by one thread in a fixed order, with no
// atomics.
#pragma once

#include <cstdint>

#include "ops/norm.h"

namespace bitgrad::cpu {

// An activation (N, C, S) (S = H * W) stored channel-blocked with block b: channels form
// blocks of b, the last block padded with channels C..Cp-1 (Cp = C rounded up to b), and
//   element (n, c, s) lives at ((n * Cp/b + c/b) * S + s) * b + c % b.
// b = 1 is plain NCHW; b = 8 is oneDNN's nChw8c (tag aBcd8b, AVX2); b = 16 is nChw16c (AVX-512).
struct ChannelBlockedShape {
  int64_t batch = 0;
  int64_t channels = 0;
  int64_t spatial = 0;
  int64_t channel_block = 1;

  int64_t padded_channels() const;  // Cp
  int64_t padded_numel() const;     // N * Cp * S: the elements a buffer of this shape holds
};

// The blocks the kernels are compiled for: 1, 8 and 16.
bool is_supported_channel_block(int64_t block);

// Forward. x: `shape`; gamma, beta: (C) or null (1 and 0); attrs.groups must divide C.
// Writes y (like x: padding channels are set to 0), and mean and rstd (N, G) for backward.
// y = relu(...) when attrs.relu. Overwrites all outputs; x's padding channels are never read
// into a result.
template <typename T>
void group_norm_fwd_blocked(const ChannelBlockedShape& shape, const GroupNormAttrs& attrs,
                            const T* x, const T* gamma, const T* beta, T* y, T* mean, T* rstd);

// Backward. dy, x: `shape`. gamma, beta: (C) or null. mean, rstd: (N, G) from the forward. With
// attrs.relu, dy is gated by the pre-activation (x - mean) * rstd * gamma + beta > 0, recomputed
// from x (beta is read only then). Writes dx (like x, padding channels 0), plus dx_addend (like
// x) unless null; dbeta (C) and, unless null, dgamma (C). Overwrites all outputs.
template <typename T>
void group_norm_bwd_blocked(const ChannelBlockedShape& shape, const GroupNormAttrs& attrs,
                            const T* dy, const T* x, const T* gamma, const T* beta, const T* mean,
                            const T* rstd, const T* dx_addend, T* dx, T* dgamma, T* dbeta);

}  // namespace bitgrad::cpu
