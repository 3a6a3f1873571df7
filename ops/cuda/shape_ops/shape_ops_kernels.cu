// The strided copy behind permute, cat and narrow on the GPU: a thread per element finds its
// source and destination offsets. Neighbouring threads write neighbouring addresses in permute
// and narrow, and read them in cat; a transpose's reads are scattered, which a tiled kernel
// through shared memory would gather, should a profile ask for it.
#include "ops/cuda/common/device_utils.cuh"
#include "ops/cuda/shape_ops/shape_ops_kernels.h"

namespace bitgrad::cuda_ops {
namespace {

// Item: an unsigned integer of the elements' size; the elements move as bits.
template <typename Item>
__global__ void strided_copy_kernel(const Item* __restrict__ src, Item* __restrict__ dst,
                                    CopyGeometry g, int64_t n) {
  BG_GRID_STRIDE_LOOP(k, n) {
    int64_t rest = k, from = 0, to = 0;
    for (int d = g.rank - 1; d >= 0; --d) {
      const int64_t index = rest % g.extent[d];
      rest /= g.extent[d];
      from += index * g.src_stride[d];
      to += index * g.dst_stride[d];
    }
    dst[to] = src[from];
  }
}

template <typename Item>
cudaError_t launch_items(const void* src, void* dst, const CopyGeometry& geometry, int64_t n,
                         cudaStream_t stream) {
  strided_copy_kernel<Item><<<blocks_for(n), kThreads, 0, stream>>>(
      static_cast<const Item*>(src), static_cast<Item*>(dst), geometry, n);
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_strided_copy(const void* src, void* dst, const CopyGeometry& geometry,
                                int64_t n, int item_bytes, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  switch (item_bytes) {
    case 1: return launch_items<uint8_t>(src, dst, geometry, n, stream);
    case 2: return launch_items<uint16_t>(src, dst, geometry, n, stream);
    case 4: return launch_items<uint32_t>(src, dst, geometry, n, stream);
    case 8: return launch_items<uint64_t>(src, dst, geometry, n, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace bitgrad::cuda_ops
