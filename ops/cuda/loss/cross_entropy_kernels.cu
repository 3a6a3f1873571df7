// Softmax and sigmoid cross-entropy on the GPU, in double: a team per row (row_team.cuh: a
// block, or a thread for rows shorter than kBlockRowMinSize) finds the row's loss (softmax: max,
// sum of exponentials, log-sum-exp and the loss; sigmoid: the sum of softplus terms), then one
// block averages the rows' losses in a fixed order. The softmax backward takes rows the same way.
#include "ops/cuda/common/device_utils.cuh"
#include "ops/cuda/common/row_team.cuh"
#include "ops/cuda/loss/cross_entropy_kernels.h"

namespace bitgrad::cuda_ops {
namespace {

// Target t of element (n, k): one-hot from labels, else the soft row.
template <typename T>
__device__ double target_at(const int64_t* labels, const T* soft, int64_t classes, int64_t n,
                            int64_t k) {
  return soft != nullptr ? double(soft[n * classes + k]) : (labels[n] == k ? 1.0 : 0.0);
}

// Row n: its softmax into probs, its loss into row_losses[n]; a label outside [0, K) lowers
// *first_bad_row to n instead.
template <typename T, bool kBlock>
__device__ void cross_entropy_row(const T* logits, const int64_t* labels, const T* soft,
                                  int64_t n, int64_t classes, T* probs, double* row_losses,
                                  unsigned long long* first_bad_row) {
  using Team = RowTeam<kBlock>;
  const int64_t start = n * classes;
  const T* row = logits + start;
  double row_max = -INFINITY;
  BG_FOR_ROW_ELEMENT(kBlock, k, classes) row_max = fmax(row_max, double(row[k]));
  row_max = Team::max(row_max);
  double sum_exp = 0;
  BG_FOR_ROW_ELEMENT(kBlock, k, classes) sum_exp += exp(row[k] - row_max);
  const double log_sum_exp = row_max + log(Team::sum(sum_exp));
  double loss = 0;
  BG_FOR_ROW_ELEMENT(kBlock, k, classes) {
    probs[start + k] = static_cast<T>(exp(row[k] - log_sum_exp));
    if (soft != nullptr && soft[start + k] != T(0)) {
      loss -= soft[start + k] * (row[k] - log_sum_exp);
    }
  }
  loss = Team::sum(loss);
  if (!Team::leader()) return;
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

template <typename T, bool kBlock>
__global__ void cross_entropy_rows_kernel(const T* __restrict__ logits,
                                          const int64_t* __restrict__ labels,
                                          const T* __restrict__ soft, int64_t rows,
                                          int64_t classes, T* __restrict__ probs,
                                          double* __restrict__ row_losses,
                                          unsigned long long* first_bad_row) {
  BG_FOR_EACH_ROW(kBlock, n, rows) {
    cross_entropy_row<T, kBlock>(logits, labels, soft, n, classes, probs, row_losses,
                                 first_bad_row);
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

// Row n of dlogits = scale * (probs * sum_k t - t).
template <typename T, bool kBlock>
__device__ void cross_entropy_bwd_row(double scale, const T* probs, const int64_t* labels,
                                      const T* soft, int64_t n, int64_t classes, T* dlogits) {
  const int64_t start = n * classes;
  double target_mass = 1;
  if (soft != nullptr) {
    double mass = 0;
    BG_FOR_ROW_ELEMENT(kBlock, k, classes) mass += soft[start + k];
    target_mass = RowTeam<kBlock>::sum(mass);
  }
  BG_FOR_ROW_ELEMENT(kBlock, k, classes) {
    const double t = target_at(labels, soft, classes, n, k);
    dlogits[start + k] = static_cast<T>(scale * (probs[start + k] * target_mass - t));
  }
}

template <typename T, bool kBlock>
__global__ void cross_entropy_bwd_kernel(const T* __restrict__ dloss, const T* __restrict__ probs,
                                         const int64_t* __restrict__ labels,
                                         const T* __restrict__ soft, int64_t rows, int64_t classes,
                                         T* __restrict__ dlogits) {
  const double scale = double(*dloss) / rows;
  BG_FOR_EACH_ROW(kBlock, n, rows) {
    cross_entropy_bwd_row<T, kBlock>(scale, probs, labels, soft, n, classes, dlogits);
  }
}

// Row n's sum of softplus(z) - z * t into row_losses[n]; a label outside [0, K) lowers
// *first_bad_row to n instead.
template <typename T, bool kBlock>
__device__ void sigmoid_cross_entropy_row(const T* logits, const int64_t* labels, const T* soft,
                                          int64_t n, int64_t classes, double* row_losses,
                                          unsigned long long* first_bad_row) {
  if (labels != nullptr && (labels[n] < 0 || labels[n] >= classes)) {  // the same for the team
    if (RowTeam<kBlock>::leader()) {
      atomicMin(first_bad_row, static_cast<unsigned long long>(n));
      row_losses[n] = 0;
    }
    return;
  }
  double loss = 0;
  BG_FOR_ROW_ELEMENT(kBlock, k, classes) {
    const double z = logits[n * classes + k];
    loss += fmax(z, 0.0) - z * target_at(labels, soft, classes, n, k) + log1p(exp(-fabs(z)));
  }
  loss = RowTeam<kBlock>::sum(loss);
  if (RowTeam<kBlock>::leader()) row_losses[n] = loss;
}

template <typename T, bool kBlock>
__global__ void sigmoid_cross_entropy_rows_kernel(const T* __restrict__ logits,
                                                  const int64_t* __restrict__ labels,
                                                  const T* __restrict__ soft, int64_t rows,
                                                  int64_t classes,
                                                  double* __restrict__ row_losses,
                                                  unsigned long long* first_bad_row) {
  BG_FOR_EACH_ROW(kBlock, n, rows) {
    sigmoid_cross_entropy_row<T, kBlock>(logits, labels, soft, n, classes, row_losses,
                                         first_bad_row);
  }
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
  const cudaError_t status = launch_rows(
      rows, classes, stream, sigmoid_cross_entropy_rows_kernel<T, true>,
      sigmoid_cross_entropy_rows_kernel<T, false>, logits, labels, soft, rows, classes,
      row_losses, first_bad_row);
  if (status != cudaSuccess) return status;
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
  const cudaError_t status =
      launch_rows(rows, classes, stream, cross_entropy_rows_kernel<T, true>,
                  cross_entropy_rows_kernel<T, false>, logits, labels, soft, rows, classes, probs,
                  row_losses, first_bad_row);
  if (status != cudaSuccess) return status;
  mean_of_rows_kernel<T><<<1, kRowThreads, 0, stream>>>(row_losses, rows, loss);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_cross_entropy_bwd(const T* dloss, const T* probs, const int64_t* labels,
                                     const T* soft, int64_t rows, int64_t classes, T* dlogits,
                                     cudaStream_t stream) {
  if (rows == 0 || classes == 0) return cudaSuccess;
  return launch_rows(rows, classes, stream, cross_entropy_bwd_kernel<T, true>,
                     cross_entropy_bwd_kernel<T, false>, dloss, probs, labels, soft, rows, classes,
                     dlogits);
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
