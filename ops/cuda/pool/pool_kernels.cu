// Max pooling on the GPU: a thread per output for the forward, a thread per input for the
// backward (a gather over the windows covering it).
#include "ops/cuda/common/device_utils.cuh"
#include "ops/cuda/pool/pool_kernels.h"

namespace bitgrad::cuda_ops {
namespace {

template <typename T>
__global__ void max_pool2d_fwd_kernel(const T* __restrict__ x, PoolGeometry g, T* __restrict__ y,
                                      int64_t* __restrict__ argmax) {
  const int64_t outputs = g.planes * g.out_height * g.out_width;
  BG_GRID_STRIDE_LOOP(out, outputs) {
    const int64_t j = out % g.out_width;
    const int64_t i = (out / g.out_width) % g.out_height;
    const int64_t plane = out / (g.out_width * g.out_height);
    const T* in = x + plane * g.height * g.width;
    int64_t best = -1;
    for (int64_t kh = 0; kh < g.kernel[0]; ++kh) {
      const int64_t row = i * g.stride[0] - g.padding[0] + kh;
      if (row < 0 || row >= g.height) continue;
      for (int64_t kw = 0; kw < g.kernel[1]; ++kw) {
        const int64_t col = j * g.stride[1] - g.padding[1] + kw;
        if (col < 0 || col >= g.width) continue;
        const int64_t index = row * g.width + col;
        if (best < 0 || in[index] > in[best] || (isnan(in[index]) && !isnan(in[best]))) {
          best = index;
        }
      }
    }
    y[out] = in[best];  // every window holds a real element (padding <= kernel / 2)
    if (argmax != nullptr) argmax[out] = best;
  }
}

template <typename T>
__global__ void max_pool2d_bwd_kernel(const T* __restrict__ dy, const int64_t* __restrict__ argmax,
                                      PoolGeometry g, T* __restrict__ dx) {
  const int64_t inputs = g.planes * g.height * g.width;
  BG_GRID_STRIDE_LOOP(p, inputs) {
    const int64_t w = p % g.width;
    const int64_t h = (p / g.width) % g.height;
    const int64_t plane = p / (g.width * g.height);
    const int64_t index = h * g.width + w;
    // Outputs i whose window rows i*s - pad .. i*s - pad + k - 1 contain h, likewise for j.
    const int64_t i_first =
        max(int64_t(0), (h + g.padding[0] - g.kernel[0] + g.stride[0]) / g.stride[0]);
    const int64_t i_last = min(g.out_height - 1, (h + g.padding[0]) / g.stride[0]);
    const int64_t j_first =
        max(int64_t(0), (w + g.padding[1] - g.kernel[1] + g.stride[1]) / g.stride[1]);
    const int64_t j_last = min(g.out_width - 1, (w + g.padding[1]) / g.stride[1]);
    double total = 0;
    for (int64_t i = i_first; i <= i_last; ++i) {
      for (int64_t j = j_first; j <= j_last; ++j) {
        const int64_t out = (plane * g.out_height + i) * g.out_width + j;
        if (argmax[out] == index) total += dy[out];
      }
    }
    dx[p] = static_cast<T>(total);
  }
}

}  // namespace

template <typename T>
cudaError_t launch_max_pool2d_fwd(const T* x, PoolGeometry geometry, T* y, int64_t* argmax,
                                  cudaStream_t stream) {
  const int64_t outputs = geometry.planes * geometry.out_height * geometry.out_width;
  if (outputs == 0) return cudaSuccess;
  max_pool2d_fwd_kernel<T><<<blocks_for(outputs), kThreads, 0, stream>>>(x, geometry, y, argmax);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_max_pool2d_bwd(const T* dy, const int64_t* argmax, PoolGeometry geometry, T* dx,
                                  cudaStream_t stream) {
  const int64_t inputs = geometry.planes * geometry.height * geometry.width;
  if (inputs == 0) return cudaSuccess;
  max_pool2d_bwd_kernel<T><<<blocks_for(inputs), kThreads, 0, stream>>>(dy, argmax, geometry, dx);
  return cudaGetLastError();
}

#define BG_INSTANTIATE(T)                                                                       \
  template cudaError_t launch_max_pool2d_fwd<T>(const T*, PoolGeometry, T*, int64_t*,           \
                                                cudaStream_t);                                  \
  template cudaError_t launch_max_pool2d_bwd<T>(const T*, const int64_t*, PoolGeometry, T*,     \
                                                cudaStream_t);
BG_INSTANTIATE(float)
BG_INSTANTIATE(double)
#undef BG_INSTANTIATE

}  // namespace bitgrad::cuda_ops
