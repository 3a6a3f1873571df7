// Two conv passes run as the other pass of the dual convolution: the one with transposed
// weights, from the output's shape back to the input's. oneDNN 2.6's kernels for the dual pass
// are faster on some of BiT's shapes (conv/algo.h says which):
//   forward of a stride-1 conv = backward-data of its dual, whose weights are transposed with
//     each kernel rotated by 180 degrees, w'(c, o, i, j) = w(o, c, KH-1-i, KW-1-j), and whose
//     padding is K-1-p;
//   backward-data of a 1x1 conv = forward of its dual (weights transposed) on dy, put at every
//     s-th pixel of dx (zero elsewhere) when the conv is strided.
// Both read and write the activation layouts the direct primitives use (nChw8c on AVX2).
#pragma once

#include "core/tensor.h"
#include "ops/conv.h"

namespace bitgrad::onednn {

// y = conv(x, w) for stride 1, no dilation, one group, padding below the kernel size; x in any
// layout, w plain OIHW.
Tensor conv2d_fwd_by_dual(const Tensor& x, const Tensor& w, const Conv2dAttrs& attrs);

// dx of a 1x1 conv with one group and no padding; dy in any layout, w plain (O, C, 1, 1).
// Undefined when strided and the dual's output is not nChw8c, the only layout the scatter
// writes.
Tensor conv2d_bwd_data_by_dual(const Tensor& dy, const Tensor& w, const Shape& x_shape,
                               const Conv2dAttrs& attrs);

}  // namespace bitgrad::onednn
