// Launchers of the sum and expand CUDA kernels (reduce_kernels.cu). T is float or double.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "ops/cuda/common/index_map.h"

namespace bitgrad::cuda_ops {

// out[o] = sum over r < summed_count of x[kept.offset(o) + summed.offset(r)], o < out_count,
// accumulated in double. An empty sum is 0.
template <typename T>
cudaError_t launch_sum(const T* x, IndexMap kept, IndexMap summed, int64_t out_count,
                       int64_t summed_count, T* out, cudaStream_t stream);

// out[i] = x[map.offset(i)], i < n.
template <typename T>
cudaError_t launch_expand(const T* x, IndexMap map, T* out, int64_t n, cudaStream_t stream);

}  // namespace bitgrad::cuda_ops
