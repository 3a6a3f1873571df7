// Constant padding and cropping on the GPU: a thread per output element finds its source.
#include "ops/cuda/common/device_utils.cuh"
#include "ops/cuda/pad/pad_kernels.h"

namespace bitgrad::cuda_ops {
namespace {

template <typename T>
__global__ void constant_pad_kernel(const T* __restrict__ x, PadGeometry g, T value,
                                    T* __restrict__ y, int64_t n) {
  BG_GRID_STRIDE_LOOP(k, n) {
    int64_t rest = k, source = 0, source_stride = 1;
    bool inside = true;
    for (int d = g.rank - 1; d >= 0; --d) {
      const int64_t in_index = rest % g.out_extent[d] - g.before[d];
      rest /= g.out_extent[d];
      inside = inside && in_index >= 0 && in_index < g.in_extent[d];
      source += in_index * source_stride;
      source_stride *= g.in_extent[d];
    }
    y[k] = inside ? x[source] : value;
  }
}

}  // namespace

template <typename T>
cudaError_t launch_constant_pad(const T* x, PadGeometry geometry, T value, T* y, int64_t n,
                                cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  constant_pad_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(x, geometry, value, y, n);
  return cudaGetLastError();
}

template cudaError_t launch_constant_pad<float>(const float*, PadGeometry, float, float*, int64_t,
                                                cudaStream_t);
template cudaError_t launch_constant_pad<double>(const double*, PadGeometry, double, double*,
                                                 int64_t, cudaStream_t);

}  // namespace bitgrad::cuda_ops
