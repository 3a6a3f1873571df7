// Launcher of the CUDA kernel of FirstNonFinite (non_finite_kernels.cu). T is float or double.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "ops/cuda/optim/tensor_chunks.h"

namespace bitgrad::cuda_ops {

// Lowers *first (device memory) to the index of each tensor of `tensors` (device memory: one
// pointer a tensor) in which a chunk of `chunks` finds a NaN or an infinity; a block per chunk.
template <typename T>
cudaError_t launch_first_non_finite(const T* const* tensors, const TensorChunk* chunks,
                                    int64_t num_chunks, unsigned long long* first,
                                    cudaStream_t stream);

}  // namespace bitgrad::cuda_ops
