// The SGD-with-momentum update on the GPU: one memory-bound grid-stride pass, computed in double
// as the reference kernel does.
#include "ops/cuda/common/device_utils.cuh"
#include "ops/cuda/optim/sgd_update_kernels.h"

namespace bitgrad::cuda_ops {
namespace {

template <typename T>
__global__ void sgd_update_kernel(T* __restrict__ param, const T* __restrict__ grad,
                                  T* __restrict__ buffer, int64_t n, SgdCoefficients c) {
  BG_GRID_STRIDE_LOOP(i, n) {
    double step = grad[i] + c.weight_decay * param[i];
    if (buffer != nullptr) {
      const double b = c.first_step ? step : c.momentum * buffer[i] + (1 - c.dampening) * step;
      buffer[i] = static_cast<T>(b);
      step = c.nesterov ? step + c.momentum * b : b;
    }
    param[i] = static_cast<T>(param[i] - c.lr * step);
  }
}

}  // namespace

template <typename T>
cudaError_t launch_sgd_update(T* param, const T* grad, T* buffer, int64_t n,
                              SgdCoefficients coefficients, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  sgd_update_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(param, grad, buffer, n,
                                                               coefficients);
  return cudaGetLastError();
}

template cudaError_t launch_sgd_update<float>(float*, const float*, float*, int64_t,
                                              SgdCoefficients, cudaStream_t);
template cudaError_t launch_sgd_update<double>(double*, const double*, double*, int64_t,
                                               SgdCoefficients, cudaStream_t);

}  // namespace bitgrad::cuda_ops
