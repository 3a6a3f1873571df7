// SiLU ("swish"), y = x * sigmoid(x): a custom op added from its own Bazel package, without
// touching bitgrad's files. This header is step 1 of docs/custom_ops.md: the kernel slots (the
// contract every backend's kernel fulfils) and the public function.
#pragma once

#include "core/dispatch.h"
#include "core/tensor.h"

namespace custom_op {

// y = x * sigmoid(x), elementwise. x: any shape, float32 or float64, in any layout the kernel
// accepts (plain always; the CPU kernel also takes oneDNN's blocked layouts).
// Returns a new tensor (overwrites output); saves nothing (the op keeps x for backward).
BG_KERNEL_SLOT(SiluFwd, bitgrad::Tensor(const bitgrad::Tensor& x));
// dx = dy * s * (1 + x * (1 - s)) with s = sigmoid(x). dy and x: same shape and dtype.
BG_KERNEL_SLOT(SiluBwd, bitgrad::Tensor(const bitgrad::Tensor& dy, const bitgrad::Tensor& x));

// Differentiable SiLU. Runs on whichever device x is on (kRef/kCpu for CPU tensors, kCuda for
// CUDA tensors, when the kernel libraries are linked).
bitgrad::Tensor silu(const bitgrad::Tensor& x);

}  // namespace custom_op
