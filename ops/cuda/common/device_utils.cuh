// Device-side helpers of the hand-written CUDA kernels: launch sizes, grid-stride loops and
// block-wide reductions. nvcc only.
//
// Statistics (sums, means, variances) accumulate in double, as the reference kernels do: these
// kernels are memory-bound, and Hopper's and Ampere's FP64 units keep up with their bandwidth.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

namespace bitgrad::cuda_ops {

constexpr int kThreads = 256;           // threads per block for elementwise kernels
constexpr int64_t kMaxBlocks = 65535;   // grid-stride loops cover the rest

inline int blocks_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<int>(blocks < kMaxBlocks ? (blocks > 0 ? blocks : 1) : kMaxBlocks);
}

// for (i = this thread's first; i < n; i += all threads of the grid)
#define BG_GRID_STRIDE_LOOP(i, n)                                                       \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n);             \
       i += int64_t(gridDim.x) * blockDim.x)

__device__ inline double warp_sum(double value) {
  for (int offset = 16; offset > 0; offset >>= 1) {
    value += __shfl_down_sync(0xffffffffu, value, offset);
  }
  return value;  // complete in lane 0
}

__device__ inline double warp_max(double value) {
  for (int offset = 16; offset > 0; offset >>= 1) {
    value = fmax(value, __shfl_down_sync(0xffffffffu, value, offset));
  }
  return value;
}

// The sum (or max) of `value` over the block, returned to every thread. blockDim.x must be a
// multiple of 32 and at most 1024; every thread of the block must call it.
template <bool kMax = false>
__device__ double block_reduce(double value) {
  __shared__ double per_warp[32];
  __shared__ double total;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  value = kMax ? warp_max(value) : warp_sum(value);
  __syncthreads();  // an earlier call may still be reading per_warp or total
  if (lane == 0) per_warp[warp] = value;
  __syncthreads();
  if (warp == 0) {
    const int warps = blockDim.x >> 5;
    value = lane < warps ? per_warp[lane] : (kMax ? -INFINITY : 0.0);
    value = kMax ? warp_max(value) : warp_sum(value);
    if (lane == 0) total = value;
  }
  __syncthreads();
  return total;
}

__device__ inline double block_sum(double value) { return block_reduce<false>(value); }
__device__ inline double block_max(double value) { return block_reduce<true>(value); }

}  // namespace bitgrad::cuda_ops
