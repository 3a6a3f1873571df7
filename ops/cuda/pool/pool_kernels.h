// Launchers of the max-pooling CUDA kernels (pool_kernels.cu). T is float or double. The
// workspace is the reference kernels' (ops/ref/pool_ref.cc): for each output, the int64 flat
// index h * W + w of its maximum in its (n, c) plane, so the two backends check each other.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

namespace bitgrad::cuda_ops {

struct PoolGeometry {
  int64_t planes, height, width, out_height, out_width;
  int64_t kernel[2], stride[2], padding[2];
};

// y = max over each window (padding is -inf; ties keep the first in row-major window order; NaN
// wins). argmax may be null (inference).
template <typename T>
cudaError_t launch_max_pool2d_fwd(const T* x, PoolGeometry geometry, T* y, int64_t* argmax,
                                  cudaStream_t stream);

// dx[p] = sum of dy over the outputs whose argmax is p: one thread per input element gathers
// from the windows that cover it, so there are no atomics and the sum order is fixed.
template <typename T>
cudaError_t launch_max_pool2d_bwd(const T* dy, const int64_t* argmax, PoolGeometry geometry, T* dx,
                                  cudaStream_t stream);

}  // namespace bitgrad::cuda_ops
