// Softmax and sigmoid cross-entropy on the GPU: one block per row (softmax: max, sum of
// exponentials, log-sum-exp and the row's loss; sigmoid: the row's sum of softplus terms; in
// double), then one block that averages the rows' losses in a fixed order.
#include "ops/cuda/common/device_utils.cuh"
#include "ops/cuda/loss/cross_entropy_kernels.h"

namespace bitgrad::cuda_ops {
namespace {

constexpr int kRowThreads = 256;

template <typename T>
__global__ void cross_entropy_rows_kernel(const T* __restrict__ logits,
                                          const int64_t* __restrict__ labels,
                                          const T* __restrict__ soft, int64_t classes,
                                          T* __restrict__ probs, double* __restrict__ row_losses,
                                          unsigned long long* first_bad_row) {
  const int64_t n = blockIdx.x;
  const T* row = logits + n * classes;
  double row_max = -INFINITY;
  for (int64_t k = threadIdx.x; k < classes; k += blockDim.x) row_max = fmax(row_max, double(row[k]));
  row_max = block_max(row_max);
  double sum_exp = 0;
  for (int64_t k = threadIdx.x; k < classes; k += blockDim.x) sum_exp += exp(row[k] - row_max);
  const double log_sum_exp = row_max + log(block_sum(sum_exp));
  double loss = 0;
  for (int64_t k = threadIdx.x; k < classes; k += blockDim.x) {
    probs[n * classes + k] = static_cast<T>(exp(row[k] - log_sum_exp));
    if (soft != nullptr && soft[n * classes + k] != T(0)) {
      loss -= soft[n * classes + k] * (row[k] - log_sum_exp);
    }
  }
  loss = block_sum(loss);
  if (threadIdx.x == 0) {
    if (labels != nullptr) {
      const int64_t label = labels[n];
      if (label < 0 || label >= classes) {
        atomicMin(first_bad_row, static_cast<unsigned long long>(n));
        loss = 0;
      } else {
        loss = -(row[label] - log_sum_exp);
      }
    }
    row_losses[n] = loss;
  }
}

template <typename T>
__global__ void mean_of_rows_kernel(const double* __restrict__ row_losses, int64_t rows,
                                    T* __restrict__ loss) {
  double total = 0;
  for (int64_t n = threadIdx.x; n < rows; n += blockDim.x) total += row_losses[n];
  total = block_sum(total);
  if (threadIdx.x == 0) *loss = static_cast<T>(total / rows);
}

template <typename T>
__global__ void cross_entropy_bwd_kernel(const T* __restrict__ dloss, const T* __restrict__ probs,
                                         const int64_t* __restrict__ labels,
                                         const T* __restrict__ soft, int64_t rows, int64_t classes,
                                         T* __restrict__ dlogits) {
  const int64_t n = blockIdx.x;
  const double scale = double(*dloss) / rows;
  double target_mass = 1;
  if (soft != nullptr) {
    double mass = 0;
    for (int64_t k = threadIdx.x; k < classes; k += blockDim.x) mass += soft[n * classes + k];
    target_mass = block_sum(mass);
  }
  for (int64_t k = threadIdx.x; k < classes; k += blockDim.x) {
    const int64_t i = n * classes + k;
    const double t = soft != nullptr ? double(soft[i]) : (labels[n] == k ? 1.0 : 0.0);
    dlogits[i] = static_cast<T>(scale * (probs[i] * target_mass - t));
  }
}

// Target t of element (n, k): one-hot from labels, else the soft row.
template <typename T>
__device__ double target_at(const int64_t* labels, const T* soft, int64_t classes, int64_t n,
                            int64_t k) {
  return soft != nullptr ? double(soft[n * classes + k]) : (labels[n] == k ? 1.0 : 0.0);
}

template <typename T>
__global__ void sigmoid_cross_entropy_rows_kernel(const T* __restrict__ logits,
                                                  const int64_t* __restrict__ labels,
                                                  const T* __restrict__ soft, int64_t classes,
                                                  double* __restrict__ row_losses,
                                                  unsigned long long* first_bad_row) {
  const int64_t n = blockIdx.x;
  if (labels != nullptr && (labels[n] < 0 || labels[n] >= classes)) {
    if (threadIdx.x == 0) {
      atomicMin(first_bad_row, static_cast<unsigned long long>(n));
      row_losses[n] = 0;
    }
    return;
  }
  double loss = 0;
  for (int64_t k = threadIdx.x; k < classes; k += blockDim.x) {
    const double z = logits[n * classes + k];
    loss += fmax(z, 0.0) - z * target_at(labels, soft, classes, n, k) + log1p(exp(-fabs(z)));
  }
  loss = block_sum(loss);
  if (threadIdx.x == 0) row_losses[n] = loss;
}

template <typename T>
__global__ void sigmoid_cross_entropy_bwd_kernel(const T* __restrict__ dloss,
                                                 const T* __restrict__ logits,
                                                 const int64_t* __restrict__ labels,
                                                 const T* __restrict__ soft, int64_t rows,
                                                 int64_t classes, T* __restrict__ dlogits) {
  BG_GRID_STRIDE_LOOP(i, rows * classes) {
    const int64_t n = i / classes, k = i % classes;
    const double sigmoid = 1 / (1 + exp(-double(logits[i])));
    dlogits[i] = static_cast<T>(double(*dloss) / rows *
                                (sigmoid - target_at(labels, soft, classes, n, k)));
  }
}

}  // namespace

template <typename T>
cudaError_t launch_sigmoid_cross_entropy_fwd(const T* logits, const int64_t* labels,
                                             const T* soft, int64_t rows, int64_t classes,
                                             T* loss, double* row_losses,
                                             unsigned long long* first_bad_row,
                                             cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  sigmoid_cross_entropy_rows_kernel<T><<<rows, kRowThreads, 0, stream>>>(
      logits, labels, soft, classes, row_losses, first_bad_row);
  if (cudaError_t status = cudaGetLastError(); status != cudaSuccess) return status;
  mean_of_rows_kernel<T><<<1, kRowThreads, 0, stream>>>(row_losses, rows, loss);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_sigmoid_cross_entropy_bwd(const T* dloss, const T* logits,
                                             const int64_t* labels, const T* soft, int64_t rows,
                                             int64_t classes, T* dlogits, cudaStream_t stream) {
  const int64_t total = rows * classes;
  if (total == 0) return cudaSuccess;
  sigmoid_cross_entropy_bwd_kernel<T><<<blocks_for(total), kThreads, 0, stream>>>(
      dloss, logits, labels, soft, rows, classes, dlogits);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_cross_entropy_fwd(const T* logits, const int64_t* labels, const T* soft,
                                     int64_t rows, int64_t classes, T* probs, T* loss,
                                     double* row_losses, unsigned long long* first_bad_row,
                                     cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  cross_entropy_rows_kernel<T><<<rows, kRowThreads, 0, stream>>>(logits, labels, soft, classes,
                                                                 probs, row_losses, first_bad_row);
  if (cudaError_t status = cudaGetLastError(); status != cudaSuccess) return status;
  mean_of_rows_kernel<T><<<1, kRowThreads, 0, stream>>>(row_losses, rows, loss);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_cross_entropy_bwd(const T* dloss, const T* probs, const int64_t* labels,
                                     const T* soft, int64_t rows, int64_t classes, T* dlogits,
                                     cudaStream_t stream) {
  if (rows == 0 || classes == 0) return cudaSuccess;
  cross_entropy_bwd_kernel<T><<<rows, kRowThreads, 0, stream>>>(dloss, probs, labels, soft, rows,
                                                                classes, dlogits);
  return cudaGetLastError();
}

#define BG_INSTANTIATE(T)                                                                       \
  template cudaError_t launch_cross_entropy_fwd<T>(const T*, const int64_t*, const T*, int64_t, \
                                                   int64_t, T*, T*, double*,                    \
                                                   unsigned long long*, cudaStream_t);          \
  template cudaError_t launch_cross_entropy_bwd<T>(const T*, const T*, const int64_t*,          \
                                                   const T*, int64_t, int64_t, T*, cudaStream_t); \
  template cudaError_t launch_sigmoid_cross_entropy_fwd<T>(                                     \
      const T*, const int64_t*, const T*, int64_t, int64_t, T*, double*, unsigned long long*,   \
      cudaStream_t);                                                                            \
  template cudaError_t launch_sigmoid_cross_entropy_bwd<T>(                                     \
      const T*, const T*, const int64_t*, const T*, int64_t, int64_t, T*, cudaStream_t);
BG_INSTANTIATE(float)
BG_INSTANTIATE(double)
#undef BG_INSTANTIATE

}  // namespace bitgrad::cuda_ops
