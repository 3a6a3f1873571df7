// 2-D convolution (cross-correlation, as in every framework), NCHW input, OIHW weights.
#pragma once

#include <array>
#include <cstdint>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace bitgrad {

struct Conv2dAttrs {
  std::array<int64_t, 2> stride = {1, 1};
  std::array<int64_t, 2> padding = {0, 0};   // zeros added on both sides of (H, W)
  std::array<int64_t, 2> dilation = {1, 1};  // 1 = dense kernel (PyTorch's convention)
  int64_t groups = 1;
};

// y[n,o,i,j] = b[o] + sum_{c,kh,kw} x[n, g*C/G + c, i*s - p + kh*d, j*s - p + kw*d] * w[o,c,kh,kw],
// with g the group of o. x: (N, C, H, W); w: (O, C/groups, KH, KW); bias: (O) or undefined.
BG_KERNEL_SLOT(Conv2dFwd, Tensor(const Tensor& x, const Tensor& w, const Tensor& bias,
                                 const Conv2dAttrs& attrs));
// dx (shape x_shape) from dy (N, O, OH, OW) and w.
BG_KERNEL_SLOT(Conv2dBwdData, Tensor(const Tensor& dy, const Tensor& w, const Shape& x_shape,
                                     const Conv2dAttrs& attrs));
// dw (shape w_shape) from dy and x. The bias gradient is sum(dy, {0, 2, 3}).
BG_KERNEL_SLOT(Conv2dBwdWeight, Tensor(const Tensor& dy, const Tensor& x, const Shape& w_shape,
                                       const Conv2dAttrs& attrs));

// y = conv2d(x, w) + addend, addend of y's shape and dtype: the residual addition of a ResNet
// unit done by the convolution that precedes it. With reuse_addend (the caller gave the addend
// up, conv2d_add's rvalue form) a kernel may write y into the addend's memory when no other
// handle or view shares it: in inference the addition then costs no pass over memory.
BG_KERNEL_SLOT(Conv2dAddFwd, Tensor(const Tensor& x, const Tensor& w, const Tensor& addend,
                                    const Conv2dAttrs& attrs, bool reuse_addend));

// Whether a Conv2dAddFwd kernel may write its result into the addend's memory: the caller gave
// it up (reuse_addend) and no other handle or view shares it.
bool may_write_into_addend(const Tensor& addend, bool reuse_addend);

// The output shape (N, O, OH, OW); throws an Error naming conv2d and the shapes when x, w and
// attrs do not fit together.
Shape conv2d_output_shape(const Shape& x, const Shape& w, const Conv2dAttrs& attrs);

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias = Tensor(),
              const Conv2dAttrs& attrs = {});
// conv2d(x, w, no bias, attrs) + addend in one kernel (Conv2dAddFwd); the gradient of addend is
// the output's.
Tensor conv2d_add(const Tensor& x, const Tensor& w, const Tensor& addend,
                  const Conv2dAttrs& attrs = {});
// The same, giving the addend up (std::move it in): its memory may hold the result.
Tensor conv2d_add(const Tensor& x, const Tensor& w, Tensor&& addend, const Conv2dAttrs& attrs = {});

}  // namespace bitgrad
