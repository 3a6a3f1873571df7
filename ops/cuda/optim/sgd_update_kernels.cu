// The SGD-with-momentum update of every parameter in one kernel launch (a training step of
// BiT-R50x1 updates 161 tensors; one launch each would cost more in launch latency than the
// smaller ones take). Each block takes one chunk of one tensor; computed in double as the
// reference kernel does. A block whose new values hold a NaN or an infinity lowers
// *first_non_finite to its tensor's index, as first_non_finite_kernel does.
#include "ops/cuda/common/device_utils.cuh"
#include "ops/cuda/optim/sgd_update_kernels.h"

namespace bitgrad::cuda_ops {
namespace {

template <typename T>
__global__ void sgd_update_kernel(const SgdTensor<T>* __restrict__ tensors,
                                  const TensorChunk* __restrict__ chunks, SgdCoefficients c,
                                  unsigned long long* first_non_finite) {
  const TensorChunk chunk = chunks[blockIdx.x];
  const SgdTensor<T> t = tensors[chunk.tensor];
  bool found = false;
  for (int64_t k = threadIdx.x; k < chunk.count; k += blockDim.x) {
    const int64_t i = chunk.begin + k;
    double step = t.grad[i] + c.weight_decay * t.param[i];
    if (t.buffer != nullptr) {
      const double b = c.first_step ? step : c.momentum * t.buffer[i] + (1 - c.dampening) * step;
      t.buffer[i] = static_cast<T>(b);
      step = c.nesterov ? step + c.momentum * b : b;
    }
    const T updated = static_cast<T>(t.param[i] - c.lr * step);
    t.param[i] = updated;
    found |= !isfinite(updated);
  }
  if (__syncthreads_or(found) && threadIdx.x == 0) {
    atomicMin(first_non_finite, static_cast<unsigned long long>(chunk.tensor));
  }
}

}  // namespace

template <typename T>
cudaError_t launch_sgd_update(const SgdTensor<T>* tensors, const TensorChunk* chunks,
                              int64_t num_chunks, SgdCoefficients coefficients,
                              unsigned long long* first_non_finite, cudaStream_t stream) {
  if (num_chunks == 0) return cudaSuccess;
  sgd_update_kernel<T><<<num_chunks, kThreads, 0, stream>>>(tensors, chunks, coefficients,
                                                            first_non_finite);
  return cudaGetLastError();
}

template cudaError_t launch_sgd_update<float>(const SgdTensor<float>*, const TensorChunk*,
                                              int64_t, SgdCoefficients, unsigned long long*,
                                              cudaStream_t);
template cudaError_t launch_sgd_update<double>(const SgdTensor<double>*, const TensorChunk*,
                                               int64_t, SgdCoefficients, unsigned long long*,
                                               cudaStream_t);

}  // namespace bitgrad::cuda_ops
