// The conv kernels' entry to the Winograd F(2x2, 3x3) kernels (conv/winograd_kernel.h): each pass
// of a stride-1 3x3 conv on nChw8c or nChw16c activations, or undefined where the kernels cannot
// run it (another layout, channels not a multiple of the block, no AVX2), so that the caller
// falls back.
#pragma once

#include "core/tensor.h"
#include "ops/conv.h"

namespace bitgrad::onednn {

// y = conv(x, w); y in x's nChw8c or nChw16c. w plain (O, C, 3, 3).
Tensor conv2d_fwd_winograd(const Tensor& x, const Tensor& w, const Conv2dAttrs& attrs);

// dx (x_shape, in dy's nChw8c or nChw16c) from dy, as the forward of the dual conv.
Tensor conv2d_bwd_data_winograd(const Tensor& dy, const Tensor& w, const Shape& x_shape,
                                const Conv2dAttrs& attrs);

// dw (w_shape, plain OIHW) from dy and x.
Tensor conv2d_bwd_weight_winograd(const Tensor& dy, const Tensor& x, const Shape& w_shape,
                                  const Conv2dAttrs& attrs);

}  // namespace bitgrad::onednn
