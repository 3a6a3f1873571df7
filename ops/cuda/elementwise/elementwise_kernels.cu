// Elementwise CUDA kernels: one grid-stride loop each, coalesced loads and stores.
#include "ops/cuda/common/device_utils.cuh"
#include "ops/cuda/elementwise/elementwise_kernels.h"

namespace bitgrad::cuda_ops {
namespace {

template <typename T>
__device__ inline T apply(BinaryKind op, T a, T b) {
  switch (op) {
    case BinaryKind::kAdd: return a + b;
    case BinaryKind::kSub: return a - b;
    case BinaryKind::kMul: return a * b;
    case BinaryKind::kDiv: return a / b;
  }
  return T(0);
}

template <typename T>
__global__ void binary_same_shape(BinaryKind op, const T* __restrict__ a, const T* __restrict__ b,
                                  T* __restrict__ out, int64_t n) {
  BG_GRID_STRIDE_LOOP(i, n) out[i] = apply(op, a[i], b[i]);
}

template <typename T>
__global__ void binary_broadcast(BinaryKind op, const T* __restrict__ a, IndexMap a_map,
                                 const T* __restrict__ b, IndexMap b_map, T* __restrict__ out,
                                 int64_t n) {
  BG_GRID_STRIDE_LOOP(i, n) out[i] = apply(op, a[a_map.offset(i)], b[b_map.offset(i)]);
}

template <typename T>
__global__ void affine_kernel(const T* __restrict__ x, T scale, T shift, T* __restrict__ out,
                              int64_t n) {
  BG_GRID_STRIDE_LOOP(i, n) out[i] = scale * x[i] + shift;
}

template <typename T>
__global__ void relu_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t n) {
  BG_GRID_STRIDE_LOOP(i, n) y[i] = x[i] > T(0) ? x[i] : T(0);
}

template <typename T>
__global__ void relu_bwd_kernel(const T* __restrict__ dy, const T* __restrict__ y,
                                T* __restrict__ dx, int64_t n) {
  BG_GRID_STRIDE_LOOP(i, n) dx[i] = y[i] > T(0) ? dy[i] : T(0);
}

}  // namespace

template <typename T>
cudaError_t launch_binary(BinaryKind op, const T* a, const IndexMap* a_map, const T* b,
                          const IndexMap* b_map, T* out, int64_t n, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  if (a_map == nullptr && b_map == nullptr) {
    binary_same_shape<T><<<blocks_for(n), kThreads, 0, stream>>>(op, a, b, out, n);
  } else {
    binary_broadcast<T><<<blocks_for(n), kThreads, 0, stream>>>(op, a, *a_map, b, *b_map, out, n);
  }
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_affine(const T* x, T scale, T shift, T* out, int64_t n, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  affine_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(x, scale, shift, out, n);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_relu(const T* x, T* y, int64_t n, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  relu_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(x, y, n);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_relu_bwd(const T* dy, const T* y, T* dx, int64_t n, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  relu_bwd_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(dy, y, dx, n);
  return cudaGetLastError();
}

#define BG_INSTANTIATE(T)                                                                    \
  template cudaError_t launch_binary<T>(BinaryKind, const T*, const IndexMap*, const T*,     \
                                        const IndexMap*, T*, int64_t, cudaStream_t);         \
  template cudaError_t launch_affine<T>(const T*, T, T, T*, int64_t, cudaStream_t);          \
  template cudaError_t launch_relu<T>(const T*, T*, int64_t, cudaStream_t);                  \
  template cudaError_t launch_relu_bwd<T>(const T*, const T*, T*, int64_t, cudaStream_t);
BG_INSTANTIATE(float)
BG_INSTANTIATE(double)
#undef BG_INSTANTIATE

}  // namespace bitgrad::cuda_ops
