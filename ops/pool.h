// Max pooling over (H, W) of an NCHW tensor. Padding here is -inf, as in PyTorch; BiT pads with
// zeros explicitly (ops/pad.h) and pools with padding 0.
#pragma once

#include <array>
#include <cstdint>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace bitgrad {

struct Pool2dAttrs {
  std::array<int64_t, 2> kernel = {2, 2};
  std::array<int64_t, 2> stride = {2, 2};
  std::array<int64_t, 2> padding = {0, 0};  // at most kernel / 2, as in PyTorch
};

// y: the pooled tensor. workspace: what the same backend's backward needs to route gradients;
// for the reference kernel, the int64 flat index (h * W + w) of each output's maximum.
struct MaxPool2dResult {
  Tensor y;
  Tensor workspace;
};

// y[n,c,i,j] = max over the window at (i*s - p, j*s - p); ties pick the first in row-major order.
BG_KERNEL_SLOT(MaxPool2dFwd, MaxPool2dResult(const Tensor& x, const Pool2dAttrs& attrs));
// y alone, for a forward no backward will follow (inference): kernels may skip recording the
// maxima (oneDNN's forward_inference pooling runs in about half the time of forward_training).
// max_pool2d() calls it when no gradient is wanted.
BG_KERNEL_SLOT(MaxPool2dInference, Tensor(const Tensor& x, const Pool2dAttrs& attrs));
// dx: each dy is added to the input element that was the window's maximum.
BG_KERNEL_SLOT(MaxPool2dBwd, Tensor(const Tensor& dy, const Tensor& x, const Tensor& workspace,
                                    const Pool2dAttrs& attrs));

Shape max_pool2d_output_shape(const Shape& x, const Pool2dAttrs& attrs);

// For the backward kernels that take the reference kernels' workspace (the reference and the
// CUDA kernels share it): checks dy's shape and dtype and the int64 argmax workspace, naming
// `kernel` ("reference", "CUDA") in errors, and returns the output shape.
Shape check_argmax_pool_backward(const Tensor& dy, const Tensor& x, const Tensor& workspace,
                                 const Pool2dAttrs& attrs, const char* kernel);

Tensor max_pool2d(const Tensor& x, const Pool2dAttrs& attrs);

}  // namespace bitgrad
