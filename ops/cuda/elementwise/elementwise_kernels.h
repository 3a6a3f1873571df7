// Launchers of the elementwise CUDA kernels (elementwise_kernels.cu): raw device pointers, an
// element count or IndexMaps, the stream. T is float or double. Each returns the launch status;
// nothing is launched for zero elements.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "ops/cuda/common/index_map.h"

namespace bitgrad::cuda_ops {

enum class BinaryKind : int { kAdd, kSub, kMul, kDiv };  // mirrors BinaryOp, free of bitgrad

// out[i] = a[a_map.offset(i)] (op) b[b_map.offset(i)], i < n. Same-shape operands take a
// contiguous fast path when both maps are null.
template <typename T>
cudaError_t launch_binary(BinaryKind op, const T* a, const IndexMap* a_map, const T* b,
                          const IndexMap* b_map, T* out, int64_t n, cudaStream_t stream);

// out[i] = scale * x[i] + shift.
template <typename T>
cudaError_t launch_affine(const T* x, T scale, T shift, T* out, int64_t n, cudaStream_t stream);

// y[i] = max(x[i], 0).
template <typename T>
cudaError_t launch_relu(const T* x, T* y, int64_t n, cudaStream_t stream);

// dx[i] = y[i] > 0 ? dy[i] : 0.
template <typename T>
cudaError_t launch_relu_bwd(const T* dy, const T* y, T* dx, int64_t n, cudaStream_t stream);

}  // namespace bitgrad::cuda_ops
