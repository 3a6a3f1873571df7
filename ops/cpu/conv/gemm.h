// conv2d as whole-batch GEMMs (oneDNN's dnnl_sgemm), an alternative to oneDNN's direct
// convolution for shapes where the direct kernels are slow: small feature maps (BiT's 4x4 last
// block), where a direct kernel has little spatial work per image to block over.
//
// Algorithm. The convolution is rewritten as one matrix product over the whole batch:
//   col  (N*OH*OW, K)   im2col: row (n, oh, ow) holds the input taps that output pixel reads,
//   w    (O, K)         the OIHW weights as they are, K = C * KH * KW
//   forward:        y_rows (N*OH*OW, O) = col * w^T
//   backward data:  dcol = dy_rows * w, then col2im adds each tap back onto its pixel
//   backward weight: dw (O, K) = dy_rows^T * col
// where dy_rows / y_rows hold one row of O channels per output pixel.
//
// Layout. im2col reads x, and col2im writes dx, in their channel-blocked layout (nChw<b>c, b = 8
// on AVX2; b = 1 is plain NCHW) without a reorder, putting each tap at its OIHW column
//   k = (c * KH + kh) * KW + kw
// so the weights and their gradient need no reorder either. The pixel rows are NHWC, from oneDNN
// reorders of small tensors. Padding channels of dx come out zero, as the layout needs. Outputs
// (y, dx) take the layout the direct primitive would give them, so the neighbouring kernels see
// the same tensors whichever path ran.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include "core/tensor.h"
#include "ops/conv.h"

namespace bitgrad::onednn {

// Whether the GEMM path can run this convolution: groups == 1 and scratch matrices of bounded
// size.
bool gemm_conv_supported(const Shape& x_shape, const Shape& w_shape, const Conv2dAttrs& attrs);
// Whether it can write an activation (y or dx) stored as `desc`: plain NCHW or nChw<b>c.
bool gemm_conv_can_write(const dnnl::memory::desc& desc);

// y = conv(x, w), y stored as y_desc. x: (N, C, H, W) plain or channel-blocked; w: plain
// (O, C, KH, KW). Saves nothing; overwrites y. (No bias: BiT's only conv with a bias, the head,
// runs as a matmul, BitHead::logits.)
Tensor conv2d_fwd_gemm(const Tensor& x, const Tensor& w, const Conv2dAttrs& attrs,
                       const dnnl::memory::desc& y_desc);
// dx (x_shape, stored as dx_desc) from dy (N, O, OH, OW; any layout) and w.
// Overwrites dx.
Tensor conv2d_bwd_data_gemm(const Tensor& dy, const Tensor& w, const Shape& x_shape,
                            const Conv2dAttrs& attrs, const dnnl::memory::desc& dx_desc);
// dw (w_shape, plain OIHW) from dy (any layout) and x (plain or channel-blocked). Overwrites dw.
Tensor conv2d_bwd_weight_gemm(const Tensor& dy, const Tensor& x, const Shape& w_shape,
                              const Conv2dAttrs& attrs);

}  // namespace bitgrad::onednn
