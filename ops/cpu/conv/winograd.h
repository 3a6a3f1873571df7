// The conv kernels' entry to the Winograd F(2x2, 3x3) kernels (conv/winograd_kernel.h): each pass
// of a stride-1 3x3 conv on nChw8c activations, or undefined where the kernels cannot run it
// (another layout, channels not a multiple of 8, no AVX2), so that the caller falls back.
#pragma once

#include "core/tensor.h"
#include "ops/conv.h"

namespace bitgrad::onednn {

// y = conv(x, w); y in nChw8c. w plain (O, C, 3, 3).
Tensor conv2d_fwd_winograd(const Tensor& x, const Tensor& w, const Conv2dAttrs& attrs);

// dx (x_shape, nChw8c) from dy, as the forward of the dual conv.
Tensor conv2d_bwd_data_winograd(const Tensor& dy, const Tensor& w, const Shape& x_shape,
                                const Conv2dAttrs& attrs);

// dw (w_shape, plain OIHW) from dy and x.
Tensor conv2d_bwd_weight_winograd(const Tensor& dy, const Tensor& x, const Shape& w_shape,
                                  const Conv2dAttrs& attrs);

}  // namespace bitgrad::onednn
