// SiLU CUDA kernels (step 3c of docs/custom_ops.md). Elementwise and memory-bound: one grid-stride
// loop per kernel, coalesced loads and stores. Plain pointers only (see silu_cuda.h).
#include <algorithm>

#include "examples/custom_op/silu_cuda.h"

namespace custom_op::cuda_launch {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 65536;  // the grid-stride loop covers the rest

__device__ inline float exp_of(float v) { return expf(v); }
__device__ inline double exp_of(double v) { return exp(v); }

// x, y: n elements. Overwrites y.
template <typename T>
__global__ void silu_fwd_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    T v = x[i];
    y[i] = v / (T(1) + exp_of(-v));
  }
}

// dy, x, dx: n elements. Overwrites dx.
template <typename T>
__global__ void silu_bwd_kernel(const T* __restrict__ dy, const T* __restrict__ x,
                                T* __restrict__ dx, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    T v = x[i];
    T s = T(1) / (T(1) + exp_of(-v));
    dx[i] = dy[i] * s * (T(1) + v * (T(1) - s));
  }
}

int blocks_for(int64_t n) {
  return static_cast<int>(std::min<int64_t>((n + kThreads - 1) / kThreads, kMaxBlocks));
}

template <typename T>
cudaError_t launch_fwd(const T* x, T* y, int64_t n) {
  if (n == 0) return cudaSuccess;
  silu_fwd_kernel<T><<<blocks_for(n), kThreads>>>(x, y, n);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_bwd(const T* dy, const T* x, T* dx, int64_t n) {
  if (n == 0) return cudaSuccess;
  silu_bwd_kernel<T><<<blocks_for(n), kThreads>>>(dy, x, dx, n);
  return cudaGetLastError();
}

}  // namespace

cudaError_t silu_fwd(const float* x, float* y, int64_t n) { return launch_fwd(x, y, n); }
cudaError_t silu_fwd(const double* x, double* y, int64_t n) { return launch_fwd(x, y, n); }
cudaError_t silu_bwd(const float* dy, const float* x, float* dx, int64_t n) {
  return launch_bwd(dy, x, dx, n);
}
cudaError_t silu_bwd(const double* dy, const double* x, double* dx, int64_t n) {
  return launch_bwd(dy, x, dx, n);
}

}  // namespace custom_op::cuda_launch
