// Unary and softmax CUDA kernels. The elementwise ones are grid-stride loops in T; softmax
// reduces in double, as the reference kernels do: one block per row where the softmax dim is
// innermost (its elements adjacent) and at least kBlockRowMinSize long, else one thread per
// softmax (neighbouring threads reading neighbouring elements where it is not innermost).
#include "ops/cuda/common/device_utils.cuh"
#include "ops/cuda/common/row_team.cuh"
#include "ops/cuda/unary/unary_kernels.h"

namespace bitgrad::cuda_ops {
namespace {

// The float functions for float (expf, not exp through double), the double ones for double.
__device__ inline float exp_of(float v) { return expf(v); }
__device__ inline double exp_of(double v) { return ::exp(v); }
__device__ inline float log_of(float v) { return logf(v); }
__device__ inline double log_of(double v) { return ::log(v); }
__device__ inline float tanh_of(float v) { return tanhf(v); }
__device__ inline double tanh_of(double v) { return ::tanh(v); }

template <typename T>
__device__ inline T unary_value(UnaryKind op, T x) {
  switch (op) {
    case UnaryKind::kExp: return exp_of(x);
    case UnaryKind::kLog: return log_of(x);
    case UnaryKind::kSigmoid: return T(1) / (T(1) + exp_of(-x));
    case UnaryKind::kTanh: return tanh_of(x);
  }
  return T(0);
}

template <typename T>
__device__ inline T unary_grad(UnaryKind op, T dy, T saved) {
  switch (op) {
    case UnaryKind::kExp: return dy * saved;
    case UnaryKind::kLog: return dy / saved;
    case UnaryKind::kSigmoid: return dy * saved * (T(1) - saved);
    case UnaryKind::kTanh: return dy * (T(1) - saved * saved);
  }
  return T(0);
}

template <typename T>
__global__ void unary_kernel(UnaryKind op, const T* __restrict__ x, T* __restrict__ y,
                             int64_t n) {
  BG_GRID_STRIDE_LOOP(i, n) y[i] = unary_value(op, x[i]);
}

template <typename T>
__global__ void unary_bwd_kernel(UnaryKind op, const T* __restrict__ dy,
                                 const T* __restrict__ saved, T* __restrict__ dx, int64_t n) {
  BG_GRID_STRIDE_LOOP(i, n) dx[i] = unary_grad(op, dy[i], saved[i]);
}

// One softmax of `size` elements `stride` apart, by one thread (kBlock = false) or by the
// whole block (true).
template <typename T, bool kBlock>
__device__ void softmax_one(bool take_log, const T* x, T* y, int64_t size, int64_t stride) {
  double max = -INFINITY;
  BG_FOR_ROW_ELEMENT(kBlock, k, size) max = fmax(max, double(x[k * stride]));
  max = RowTeam<kBlock>::max(max);
  double sum = 0;
  BG_FOR_ROW_ELEMENT(kBlock, k, size) sum += ::exp(double(x[k * stride]) - max);
  sum = RowTeam<kBlock>::sum(sum);
  const double log_sum = ::log(sum);
  BG_FOR_ROW_ELEMENT(kBlock, k, size) {
    const double shifted = double(x[k * stride]) - max;
    y[k * stride] = static_cast<T>(take_log ? shifted - log_sum : ::exp(shifted) / sum);
  }
}

template <typename T, bool kBlock>
__device__ void softmax_bwd_one(bool take_log, const T* dy, const T* y, T* dx, int64_t size,
                                int64_t stride) {
  double sum = 0;
  BG_FOR_ROW_ELEMENT(kBlock, k, size) {
    sum += take_log ? double(dy[k * stride]) : double(dy[k * stride]) * y[k * stride];
  }
  sum = RowTeam<kBlock>::sum(sum);
  BG_FOR_ROW_ELEMENT(kBlock, k, size) {
    const double g = dy[k * stride], out = y[k * stride];
    dx[k * stride] = static_cast<T>(take_log ? g - ::exp(out) * sum : out * (g - sum));
  }
}

// inner == 1: block r of the grid takes rows r, r + gridDim.x, ...
template <typename T>
__global__ void softmax_rows_kernel(bool take_log, const T* __restrict__ x, T* __restrict__ y,
                                    int64_t rows, int64_t size) {
  BG_FOR_EACH_ROW(true, r, rows) {
    softmax_one<T, true>(take_log, x + r * size, y + r * size, size, 1);
  }
}

template <typename T>
__global__ void softmax_bwd_rows_kernel(bool take_log, const T* __restrict__ dy,
                                        const T* __restrict__ y, T* __restrict__ dx, int64_t rows,
                                        int64_t size) {
  BG_FOR_EACH_ROW(true, r, rows) {
    softmax_bwd_one<T, true>(take_log, dy + r * size, y + r * size, dx + r * size, size, 1);
  }
}

// inner > 1, or short rows: thread c takes the softmax of (outer, inner) pair c.
template <typename T>
__global__ void softmax_columns_kernel(bool take_log, const T* __restrict__ x, T* __restrict__ y,
                                       int64_t outer, int64_t size, int64_t inner) {
  BG_GRID_STRIDE_LOOP(c, outer * inner) {
    const int64_t start = (c / inner) * size * inner + c % inner;
    softmax_one<T, false>(take_log, x + start, y + start, size, inner);
  }
}

template <typename T>
__global__ void softmax_bwd_columns_kernel(bool take_log, const T* __restrict__ dy,
                                           const T* __restrict__ y, T* __restrict__ dx,
                                           int64_t outer, int64_t size, int64_t inner) {
  BG_GRID_STRIDE_LOOP(c, outer * inner) {
    const int64_t start = (c / inner) * size * inner + c % inner;
    softmax_bwd_one<T, false>(take_log, dy + start, y + start, dx + start, size, inner);
  }
}

}  // namespace

template <typename T>
cudaError_t launch_unary(UnaryKind op, const T* x, T* y, int64_t n, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  unary_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(op, x, y, n);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_unary_bwd(UnaryKind op, const T* dy, const T* saved, T* dx, int64_t n,
                             cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  unary_bwd_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(op, dy, saved, dx, n);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_softmax(bool take_log, const T* x, T* y, int64_t outer, int64_t size,
                           int64_t inner, cudaStream_t stream) {
  if (outer * size * inner == 0) return cudaSuccess;
  if (inner == 1 && size >= kBlockRowMinSize) {
    softmax_rows_kernel<T><<<row_blocks(outer), kRowThreads, 0, stream>>>(take_log, x, y, outer,
                                                                          size);
  } else {
    softmax_columns_kernel<T><<<blocks_for(outer * inner), kThreads, 0, stream>>>(
        take_log, x, y, outer, size, inner);
  }
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_softmax_bwd(bool take_log, const T* dy, const T* y, T* dx, int64_t outer,
                               int64_t size, int64_t inner, cudaStream_t stream) {
  if (outer * size * inner == 0) return cudaSuccess;
  if (inner == 1 && size >= kBlockRowMinSize) {
    softmax_bwd_rows_kernel<T><<<row_blocks(outer), kRowThreads, 0, stream>>>(take_log, dy, y, dx,
                                                                              outer, size);
  } else {
    softmax_bwd_columns_kernel<T><<<blocks_for(outer * inner), kThreads, 0, stream>>>(
        take_log, dy, y, dx, outer, size, inner);
  }
  return cudaGetLastError();
}

#define BG_INSTANTIATE(T)                                                                    \
  template cudaError_t launch_unary<T>(UnaryKind, const T*, T*, int64_t, cudaStream_t);      \
  template cudaError_t launch_unary_bwd<T>(UnaryKind, const T*, const T*, T*, int64_t,       \
                                           cudaStream_t);                                    \
  template cudaError_t launch_softmax<T>(bool, const T*, T*, int64_t, int64_t, int64_t,      \
                                         cudaStream_t);                                      \
  template cudaError_t launch_softmax_bwd<T>(bool, const T*, const T*, T*, int64_t, int64_t, \
                                             int64_t, cudaStream_t);
BG_INSTANTIATE(float)
BG_INSTANTIATE(double)
#undef BG_INSTANTIATE

}  // namespace bitgrad::cuda_ops
