// The SGD-with-momentum parameter update as a kernel slot, so every backend updates its
// parameters where they live. Not an autograd op: optimizers run it under NoGradGuard.
#pragma once

#include <functional>
#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace bitgrad {

// torch.optim.SGD's hyperparameters, which the optimizer (optim/sgd.h) holds and hands to every
// update. The defaults are BiT fine-tuning's.
struct SgdOptions {
  double lr = 0.003;
  double momentum = 0.9;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
};

struct SgdUpdateAttrs {
  SgdOptions options;
  bool first_step = false;  // the momentum buffer is set to the gradient, as in PyTorch
};

// PyTorch's torch.optim.SGD, elementwise, in place on each params[i] and momentum_buffers[i]:
//   g = grad + weight_decay * param
//   buf = first_step ? g : momentum * buf + (1 - dampening) * g      (when momentum != 0)
//   g = nesterov ? g + momentum * buf : buf                           (when momentum != 0)
//   param -= lr * g
// One call updates every parameter, so that a backend can do it in one pass (the GPU in one
// kernel launch). params[i], grads[i] and momentum_buffers[i] share shape and dtype;
// momentum_buffers is empty when momentum == 0. Kernels write through raw pointers, so the
// caller bumps each parameter's version (Tensor::bump_version; Sgd::step does).
//
// Returns the index of the first of params that holds a NaN or an infinity after the update, or
// -1 when all are finite. A finite gradient times a large lr can overflow a weight; the kernel
// sees each new value as it writes it, so training needs no second pass to catch that.
BG_KERNEL_SLOT(SgdUpdate,
               int64_t(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                       const std::vector<Tensor>& momentum_buffers, const SgdUpdateAttrs& attrs));

// For every backend's kernel: checks that the lists match (the same length, each gradient and
// buffer with its parameter's shape and dtype), then calls update(param, grad, buffer) for each
// parameter in order (buffer undefined when momentum == 0).
using SgdUpdateOne =
    std::function<void(const Tensor& param, const Tensor& grad, const Tensor& buffer)>;
void for_each_sgd_update(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                         const std::vector<Tensor>& momentum_buffers, const SgdUpdateAttrs& attrs,
                         const SgdUpdateOne& update);

}  // namespace bitgrad
