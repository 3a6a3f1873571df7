// Launchers for the SiLU CUDA kernels in silu_cuda.cu, over raw device pointers and an element
// count. Deliberately free of bitgrad types: nvcc compiles silu_cuda.cu with only this header,
// and silu_cuda.cc (compiled by g++) turns Tensors into pointers. Each launches on the current
// device's default stream and returns the launch status; n == 0 launches nothing.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

namespace custom_op::cuda_launch {

// y[i] = x[i] * sigmoid(x[i]).
cudaError_t silu_fwd(const float* x, float* y, int64_t n);
cudaError_t silu_fwd(const double* x, double* y, int64_t n);
// dx[i] = dy[i] * s * (1 + x[i] * (1 - s)), s = sigmoid(x[i]).
cudaError_t silu_bwd(const float* dy, const float* x, float* dx, int64_t n);
cudaError_t silu_bwd(const double* dy, const double* x, double* dx, int64_t n);

}  // namespace custom_op::cuda_launch
