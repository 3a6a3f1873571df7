// Matrix products: matmul of 2-D tensors and the fully connected layer.
#pragma once

#include "core/dispatch.h"
#include "core/tensor.h"

namespace bitgrad {

// out = op(a) @ op(b), where op transposes when asked. a, b: 2-D, same dtype. Overwrites out.
BG_KERNEL_SLOT(MatmulFwd, Tensor(const Tensor& a, const Tensor& b, bool transpose_a,
                                 bool transpose_b));

// (M, K) @ (K, N) -> (M, N).
Tensor matmul(const Tensor& a, const Tensor& b);
// x (N, in) @ w(out, in)^T + bias (out) -> (N, out); bias may be undefined.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias = Tensor());

}  // namespace bitgrad
