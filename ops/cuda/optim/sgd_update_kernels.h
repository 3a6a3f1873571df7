// Launcher of the fused SGD-with-momentum CUDA kernel (sgd_update_kernels.cu). T is float or
// double.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "ops/cuda/optim/tensor_chunks.h"

namespace bitgrad::cuda_ops {

struct SgdCoefficients {
  double lr, momentum, dampening, weight_decay;
  bool nesterov, first_step;
};

// One parameter's pointers; buffer is null when momentum == 0.
template <typename T>
struct SgdTensor {
  T* param;
  const T* grad;
  T* buffer;
  int64_t size;
};

// Updates every tensor of `tensors` (device memory, num_tensors entries) in one launch, a block
// per chunk of `chunks` (device memory, num_chunks entries), as ops/sgd_update.h says. Lowers
// *first_non_finite (device memory) to the index of each tensor whose new values are not all
// finite.
template <typename T>
cudaError_t launch_sgd_update(const SgdTensor<T>* tensors, const TensorChunk* chunks,
                              int64_t num_chunks, SgdCoefficients coefficients,
                              unsigned long long* first_non_finite, cudaStream_t stream);

}  // namespace bitgrad::cuda_ops
