// Sum: one block per output element, its threads striding over the summed elements and meeting
// in a block reduction; a warp-sized block when the sums are short. Expand: a gather.
#include "ops/cuda/common/device_utils.cuh"
#include "ops/cuda/reduce/reduce_kernels.h"

namespace bitgrad::cuda_ops {
namespace {

template <typename T>
__global__ void sum_kernel(const T* __restrict__ x, IndexMap kept, IndexMap summed,
                           int64_t out_count, int64_t summed_count, T* __restrict__ out) {
  for (int64_t o = blockIdx.x; o < out_count; o += gridDim.x) {
    const T* base = x + kept.offset(o);
    double total = 0;
    for (int64_t r = threadIdx.x; r < summed_count; r += blockDim.x) {
      total += base[summed.offset(r)];
    }
    total = block_sum(total);
    if (threadIdx.x == 0) out[o] = static_cast<T>(total);
  }
}

template <typename T>
__global__ void expand_kernel(const T* __restrict__ x, IndexMap map, T* __restrict__ out,
                              int64_t n) {
  BG_GRID_STRIDE_LOOP(i, n) out[i] = x[map.offset(i)];
}

}  // namespace

template <typename T>
cudaError_t launch_sum(const T* x, IndexMap kept, IndexMap summed, int64_t out_count,
                       int64_t summed_count, T* out, cudaStream_t stream) {
  if (out_count == 0) return cudaSuccess;
  const int threads = summed_count >= kThreads ? kThreads : 32;
  const int blocks = static_cast<int>(out_count < kMaxBlocks ? out_count : kMaxBlocks);
  sum_kernel<T><<<blocks, threads, 0, stream>>>(x, kept, summed, out_count, summed_count, out);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_expand(const T* x, IndexMap map, T* out, int64_t n, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  expand_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(x, map, out, n);
  return cudaGetLastError();
}

#define BG_INSTANTIATE(T)                                                                      \
  template cudaError_t launch_sum<T>(const T*, IndexMap, IndexMap, int64_t, int64_t, T*,       \
                                     cudaStream_t);                                            \
  template cudaError_t launch_expand<T>(const T*, IndexMap, T*, int64_t, cudaStream_t);
BG_INSTANTIATE(float)
BG_INSTANTIATE(double)
#undef BG_INSTANTIATE

}  // namespace bitgrad::cuda_ops
