// Launcher of the SGD-with-momentum CUDA kernel (sgd_update_kernels.cu). T is float or double.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

namespace bitgrad::cuda_ops {

struct SgdCoefficients {
  double lr, momentum, dampening, weight_decay;
  bool nesterov, first_step;
};

// In place over n elements, as ops/sgd_update.h; buffer is null when momentum == 0.
template <typename T>
cudaError_t launch_sgd_update(T* param, const T* grad, T* buffer, int64_t n,
                              SgdCoefficients coefficients, cudaStream_t stream);

}  // namespace bitgrad::cuda_ops
