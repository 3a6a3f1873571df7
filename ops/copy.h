// Copies recorded by autograd: the differentiable counterparts of Tensor::clone() and
// Tensor::to(), as reshape() (ops/reshape.h) is of Tensor::view(). core/ cannot depend on
// autograd, so the Tensor methods are not recorded and these are.
#pragma once

#include "core/tensor.h"

namespace bitgrad {

// A deep copy of x in plain layout: writing it leaves x alone. The gradient passes through.
Tensor clone(const Tensor& x);
// x on `device`; the gradient moves back to x's device.
Tensor to(const Tensor& x, Device device);
// x converted to `dtype`; the gradient is converted back to x's dtype, so a float32 leaf used
// through to(x, DType::kFloat64) gets a float32 gradient. An integer result carries no
// gradient (not recorded), as in PyTorch.
//
// Both to() return x itself, the same handle with the same history, when nothing changes (as
// Tensor::to and PyTorch's Tensor.to do): no copy and no graph node, since an identity needs
// neither. Writing the result then writes x; use clone() for a copy.
Tensor to(const Tensor& x, DType dtype);

}  // namespace bitgrad
