// bf16 autocast of the CPU convolutions (ops/math_mode.h) on oneDNN's AMX bf16 kernels (Intel
// Xeon Sapphire Rapids and later). The forward and backward-data passes reorder their float32
// operands into bf16 copies in the layouts the bf16 primitive picks (NHWC on AMX), run it, and
// reorder the bf16 result back to float32 in the layout the float32 kernels would have written
// (nChw16c), so every other kernel sees the activations it always does. On AMX that makes BiT's
// inference 1.9x and its training 1.2x faster (docs/performance.md). Backward-weights stays
// float32 (conv/conv.cc): oneDNN 2.6's AMX bf16 kernel for it is no faster than its float32
// ones on BiT's shapes, and the reorders made the training step slower.
//
// Without AMX oneDNN 2.6 runs bf16 convolutions on AVX512-BF16 dot products, which made BiT 2x
// slower than float32 at inference and 1.5x at training (75 against 154 and 24.7 against 37.9
// img/s with DNNL_MAX_CPU_ISA=AVX512_CORE_BF16 on an AMX Xeon), so autocast is refused there.
#pragma once

#include <string>

#include "core/tensor.h"
#include "ops/conv.h"

namespace bitgrad::onednn {

// What keeps this CPU, as oneDNN runs it (DNNL_MAX_CPU_ISA lowers it), from bf16 convolutions:
// "" where it has AMX. Registered as the CPU's check in ops/math_mode.h.
std::string cpu_bf16_problem();

// The passes, float32 in and out; each throws an Error naming the op where cpu_bf16_problem()
// is not empty. x, dy in any layout; w (O, C/groups, KH, KW); bias (O) or undefined.
Tensor conv2d_fwd_bf16(const Tensor& x, const Tensor& w, const Tensor& bias,
                       const Conv2dAttrs& attrs);
// y += conv(x, w), y in the layout conv2d_fwd_bf16 returns (the residual addition: the bf16
// result is added while it is converted back to float32).
void conv2d_add_into_bf16(const Tensor& x, const Tensor& w, const Conv2dAttrs& attrs, Tensor& y);
Tensor conv2d_bwd_data_bf16(const Tensor& dy, const Tensor& w, const Shape& x_shape,
                            const Conv2dAttrs& attrs);

}  // namespace bitgrad::onednn
