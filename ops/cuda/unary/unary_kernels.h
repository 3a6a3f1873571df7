// Launchers of the unary and softmax CUDA kernels (unary_kernels.cu): raw device pointers, sizes,
// the stream. T is float or double. Each returns the launch status; nothing is launched for zero
// elements.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

namespace bitgrad::cuda_ops {

enum class UnaryKind : int { kExp, kLog, kSigmoid, kTanh };  // mirrors UnaryOp, free of bitgrad

// y[i] = op(x[i]), i < n.
template <typename T>
cudaError_t launch_unary(UnaryKind op, const T* x, T* y, int64_t n, cudaStream_t stream);

// dx[i] = dy[i] * op'(x[i]) from saved[i]: y[i] for exp, sigmoid and tanh, x[i] for log.
template <typename T>
cudaError_t launch_unary_bwd(UnaryKind op, const T* dy, const T* saved, T* dx, int64_t n,
                             cudaStream_t stream);

// x, y: (outer, size, inner) row-major; softmax (or, with take_log, log_softmax) along `size`, in
// double with the maximum subtracted.
template <typename T>
cudaError_t launch_softmax(bool take_log, const T* x, T* y, int64_t outer, int64_t size,
                           int64_t inner, cudaStream_t stream);

// dx = y * (dy - sum(dy * y)), or with take_log dy - exp(y) * sum(dy), sums along `size`.
template <typename T>
cudaError_t launch_softmax_bwd(bool take_log, const T* dy, const T* y, T* dx, int64_t outer,
                               int64_t size, int64_t inner, cudaStream_t stream);

}  // namespace bitgrad::cuda_ops
