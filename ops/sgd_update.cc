#include "ops/sgd_update.h"

namespace bitgrad {
namespace {

// Throws unless the lists match (ops/sgd_update.h says how).
void check_sgd_update_args(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                           const std::vector<Tensor>& momentum_buffers,
                           const SgdUpdateAttrs& attrs) {
  const bool buffers = attrs.options.momentum != 0;
  BG_CHECK(grads.size() == params.size() &&
               momentum_buffers.size() == (buffers ? params.size() : 0),
           "sgd_update: ", params.size(), " parameters, ", grads.size(), " gradients and ",
           momentum_buffers.size(), " momentum buffers (expected ",
           buffers ? "one each" : "none, as momentum is 0", ")");
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i];
    for (const Tensor* t : {&grads[i], buffers ? &momentum_buffers[i] : nullptr}) {
      if (t == nullptr) continue;
      BG_CHECK(t->defined() && t->shape() == p.shape() && t->dtype() == p.dtype(),
               "sgd_update: parameter ", i, " is ", p.shape(), " ", dtype_name(p.dtype()),
               " but its ", t == &grads[i] ? "gradient" : "momentum buffer", " is ",
               t->defined() ? t->shape().str() + " " + dtype_name(t->dtype()) : "undefined");
    }
  }
}

}  // namespace

void for_each_sgd_update(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                         const std::vector<Tensor>& momentum_buffers, const SgdUpdateAttrs& attrs,
                         const SgdUpdateOne& update) {
  check_sgd_update_args(params, grads, momentum_buffers, attrs);
  for (size_t i = 0; i < params.size(); ++i) {
    update(params[i], grads[i], attrs.options.momentum != 0 ? momentum_buffers[i] : Tensor());
  }
}

}  // namespace bitgrad
