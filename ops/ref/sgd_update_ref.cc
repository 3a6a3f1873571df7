// Reference kernel for the SGD-with-momentum update (ops/sgd_update.h).
#include "ops/sgd_update.h"

#include <cmath>

namespace bitgrad::ref {
namespace {

// Updates param and momentum_buffer in place (the one kind of kernel that does); returns whether
// every new value of param is finite.
bool update_one(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer,
                const SgdUpdateAttrs& attrs) {
  Tensor p_handle = param, buf_handle = momentum_buffer;
  const SgdOptions& options = attrs.options;
  bool finite = true;
  BG_DISPATCH_FLOAT(param.dtype(), "sgd_update", [&] {
    scalar_t* p = p_handle.mutable_data<scalar_t>();
    const scalar_t* g = grad.data<scalar_t>();
    scalar_t* buf = mutable_data_or_null<scalar_t>(buf_handle);
    for (int64_t i = 0; i < param.numel(); ++i) {
      double step = g[i] + options.weight_decay * p[i];
      if (buf != nullptr) {
        double b = attrs.first_step ? step
                                    : options.momentum * buf[i] + (1 - options.dampening) * step;
        buf[i] = static_cast<scalar_t>(b);
        step = options.nesterov ? step + options.momentum * b : b;
      }
      p[i] = static_cast<scalar_t>(p[i] - options.lr * step);
      finite = finite && std::isfinite(p[i]);
    }
  });
  return finite;
}

// Each parameter in turn.
int64_t sgd_update_ref(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                       const std::vector<Tensor>& momentum_buffers, const SgdUpdateAttrs& attrs) {
  int64_t index = 0, first_non_finite = -1;
  for_each_sgd_update(params, grads, momentum_buffers, attrs,
                      [&](const Tensor& p, const Tensor& g, const Tensor& b) {
                        const bool finite = update_one(p, g, b, attrs);
                        if (!finite && first_non_finite < 0) first_non_finite = index;
                        ++index;
                      });
  return first_non_finite;
}

}  // namespace

BG_REGISTER_KERNEL(SgdUpdate, kRef, sgd_update_ref);

}  // namespace bitgrad::ref
