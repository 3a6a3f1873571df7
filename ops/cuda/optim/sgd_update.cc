// The kCuda kernel of SgdUpdate (ops/sgd_update.h).
#include "core/cuda/cuda_stream.h"
#include "ops/cuda/common/gpu_check.h"
#include "ops/cuda/optim/sgd_update_kernels.h"
#include "ops/sgd_update.h"

namespace bitgrad::cuda_ops {
namespace {

void sgd_update_cuda(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer,
                     const SgdUpdateAttrs& attrs) {
  Tensor p = param, buffer = momentum_buffer;
  const SgdCoefficients coefficients{attrs.lr,           attrs.momentum, attrs.dampening,
                                     attrs.weight_decay, attrs.nesterov, attrs.first_step};
  BG_DISPATCH_FLOAT(param.dtype(), "sgd_update", [&] {
    CUDA_OP_CHECK("SgdUpdate",
                  launch_sgd_update(p.mutable_data<scalar_t>(), grad.data<scalar_t>(),
                                    attrs.momentum != 0 ? buffer.mutable_data<scalar_t>() : nullptr,
                                    param.numel(), coefficients,
                                    cuda_stream(param.device().index)));
  });
}

}  // namespace

BG_REGISTER_KERNEL(SgdUpdate, kCuda, sgd_update_cuda);

}  // namespace bitgrad::cuda_ops
