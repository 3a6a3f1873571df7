// The SGD-with-momentum parameter update as a kernel slot, so every backend updates its
// parameters where they live. Not an autograd op: optimizers run it under NoGradGuard.
#pragma once

#include "core/dispatch.h"
#include "core/tensor.h"

namespace bitgrad {

struct SgdUpdateAttrs {
  double lr = 0.0;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
  bool first_step = false;  // the momentum buffer is set to the gradient, as in PyTorch
};

// PyTorch's torch.optim.SGD, elementwise, in place on `param` and `momentum_buffer`:
//   g = grad + weight_decay * param
//   buf = first_step ? g : momentum * buf + (1 - dampening) * g      (when momentum != 0)
//   g = nesterov ? g + momentum * buf : buf                           (when momentum != 0)
//   param -= lr * g
// momentum_buffer may be undefined when momentum == 0. All tensors share shape and dtype.
BG_KERNEL_SLOT(SgdUpdate, void(const Tensor& param, const Tensor& grad,
                               const Tensor& momentum_buffer, const SgdUpdateAttrs& attrs));

}  // namespace bitgrad
