// GroupNorm and Weight Standardization on the GPU. A group (or a weight row) is one contiguous
// run of memory and gets one block: statistics by block reductions in double, two-pass (centred)
// variances as in the reference kernels, then one pass that writes the output.
//
// GroupNorm backward needs per-channel sums over the batch as well. Each block writes its
// channels' partial sums (warp per channel, so no atomics and a fixed order), and a second
// kernel adds the N partials of each channel: the result is deterministic.
#include "ops/cuda/common/device_utils.cuh"
#include "ops/cuda/norm/norm_kernels.h"

namespace bitgrad::cuda_ops {
namespace {

constexpr int kNormThreads = 256;
constexpr int kWarps = kNormThreads / 32;

// Mean and rstd of values[0..count) by two block-wide passes; count == 0 gives mean 0.
template <typename T>
__device__ void centred_stats(const T* values, int64_t count, double eps, double& mean,
                              double& rstd) {
  double sum = 0;
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) sum += values[i];
  mean = count > 0 ? block_sum(sum) / count : 0.0;
  double squares = 0;
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) {
    const double centred = values[i] - mean;
    squares += centred * centred;
  }
  const double variance = count > 0 ? block_sum(squares) / count : 0.0;
  rstd = 1.0 / sqrt(variance + eps);
}

template <typename T>
__global__ void group_norm_fwd_kernel(const T* __restrict__ x, const T* __restrict__ gamma,
                                      const T* __restrict__ beta, GroupNormShape shape,
                                      double eps, bool relu, T* __restrict__ y,
                                      T* __restrict__ mean_out, T* __restrict__ rstd_out) {
  const int64_t group = blockIdx.x;  // n * G + g
  const int64_t channels_per_group = shape.channels / shape.groups;
  const int64_t count = channels_per_group * shape.spatial;
  const int64_t first_channel = (group % shape.groups) * channels_per_group;
  const T* xg = x + group * count;
  T* yg = y + group * count;
  double mean, rstd;
  centred_stats(xg, count, eps, mean, rstd);
  if (threadIdx.x == 0) {
    mean_out[group] = static_cast<T>(mean);
    rstd_out[group] = static_cast<T>(rstd);
  }
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) {
    const int64_t c = first_channel + i / shape.spatial;
    double value = (xg[i] - mean) * rstd * (gamma ? double(gamma[c]) : 1.0) +
                   (beta ? double(beta[c]) : 0.0);
    if (relu && !(value > 0)) value = 0;
    yg[i] = static_cast<T>(value);
  }
}

// Pass 1, warp per channel: the channel's sums of g and g * xhat go to partials (for dgamma and
// dbeta); the group's sums of g*gamma and g*gamma*xhat to the block. Pass 2 writes dx.
template <typename T>
__global__ void group_norm_bwd_kernel(const T* __restrict__ dy, const T* __restrict__ x,
                                      const T* __restrict__ gamma, const T* __restrict__ beta,
                                      const T* __restrict__ mean, const T* __restrict__ rstd,
                                      const T* __restrict__ dx_addend, GroupNormShape shape,
                                      bool relu, T* __restrict__ dx,
                                      double* __restrict__ partials) {
  const int64_t group = blockIdx.x;
  const int64_t n = group / shape.groups;
  const int64_t channels_per_group = shape.channels / shape.groups;
  const int64_t count = channels_per_group * shape.spatial;
  const int64_t first_channel = (group % shape.groups) * channels_per_group;
  const double group_mean = mean[group], group_rstd = rstd[group];
  const int64_t offset = group * count;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  double* dgamma_partial = partials;                                    // (N, C)
  double* dbeta_partial = partials + shape.batch * shape.channels;      // (N, C)

  auto gated = [&](int64_t i, double scale, double shift, double xhat) -> double {
    if (relu && !(xhat * scale + shift > 0)) return 0.0;
    return dy[offset + i];
  };

  double sum_dxhat = 0, sum_dxhat_xhat = 0;
  for (int64_t cg = warp; cg < channels_per_group; cg += kWarps) {
    const int64_t c = first_channel + cg;
    const double scale = gamma ? double(gamma[c]) : 1.0, shift = beta ? double(beta[c]) : 0.0;
    double channel_g = 0, channel_g_xhat = 0;
    for (int64_t s = lane; s < shape.spatial; s += 32) {
      const int64_t i = cg * shape.spatial + s;
      const double xhat = (x[offset + i] - group_mean) * group_rstd;
      const double g = gated(i, scale, shift, xhat);
      channel_g += g;
      channel_g_xhat += g * xhat;
    }
    channel_g = warp_sum(channel_g);
    channel_g_xhat = warp_sum(channel_g_xhat);
    if (lane == 0) {
      dbeta_partial[n * shape.channels + c] = channel_g;
      dgamma_partial[n * shape.channels + c] = channel_g_xhat;
      sum_dxhat += channel_g * scale;
      sum_dxhat_xhat += channel_g_xhat * scale;
    }
  }
  const double mean_dxhat = count > 0 ? block_sum(sum_dxhat) / count : 0.0;
  const double mean_dxhat_xhat = count > 0 ? block_sum(sum_dxhat_xhat) / count : 0.0;

  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) {
    const int64_t c = first_channel + i / shape.spatial;
    const double scale = gamma ? double(gamma[c]) : 1.0, shift = beta ? double(beta[c]) : 0.0;
    const double xhat = (x[offset + i] - group_mean) * group_rstd;
    const double dxhat = gated(i, scale, shift, xhat) * scale;
    dx[offset + i] =
        static_cast<T>(group_rstd * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat) +
                       (dx_addend ? double(dx_addend[offset + i]) : 0.0));
  }
}

// dgamma[c] = sum_n partials_gamma[n, c], dbeta likewise; thread per channel, fixed order.
template <typename T>
__global__ void group_norm_param_grads_kernel(const double* __restrict__ partials,
                                              GroupNormShape shape, T* __restrict__ dgamma,
                                              T* __restrict__ dbeta) {
  BG_GRID_STRIDE_LOOP(c, shape.channels) {
    double g_xhat = 0, g = 0;
    for (int64_t n = 0; n < shape.batch; ++n) {
      g_xhat += partials[n * shape.channels + c];
      g += partials[(shape.batch + n) * shape.channels + c];
    }
    if (dgamma) dgamma[c] = static_cast<T>(g_xhat);
    dbeta[c] = static_cast<T>(g);
  }
}

template <typename T>
__global__ void weight_standardize_fwd_kernel(const T* __restrict__ w, int64_t row_size,
                                              double eps, T* __restrict__ out) {
  const T* row = w + blockIdx.x * row_size;
  double mean, rstd;
  centred_stats(row, row_size, eps, mean, rstd);
  for (int64_t k = threadIdx.x; k < row_size; k += blockDim.x) {
    out[blockIdx.x * row_size + k] = static_cast<T>((row[k] - mean) * rstd);
  }
}

template <typename T>
__global__ void weight_standardize_bwd_kernel(const T* __restrict__ dy, const T* __restrict__ w,
                                              int64_t row_size, double eps, T* __restrict__ dw) {
  const int64_t start = blockIdx.x * row_size;
  double mean, rstd;
  centred_stats(w + start, row_size, eps, mean, rstd);
  double sum_dy = 0, sum_dy_what = 0;
  for (int64_t k = threadIdx.x; k < row_size; k += blockDim.x) {
    sum_dy += dy[start + k];
    sum_dy_what += dy[start + k] * (w[start + k] - mean) * rstd;
  }
  const double mean_dy = block_sum(sum_dy) / row_size;
  const double mean_dy_what = block_sum(sum_dy_what) / row_size;
  for (int64_t k = threadIdx.x; k < row_size; k += blockDim.x) {
    const double w_hat = (w[start + k] - mean) * rstd;
    dw[start + k] = static_cast<T>(rstd * (dy[start + k] - mean_dy - w_hat * mean_dy_what));
  }
}

}  // namespace

template <typename T>
cudaError_t launch_group_norm_fwd(const T* x, const T* gamma, const T* beta, GroupNormShape shape,
                                  double eps, bool relu, T* y, T* mean, T* rstd,
                                  cudaStream_t stream) {
  const int64_t groups = shape.batch * shape.groups;
  if (groups == 0) return cudaSuccess;
  group_norm_fwd_kernel<T><<<groups, kNormThreads, 0, stream>>>(x, gamma, beta, shape, eps, relu,
                                                                 y, mean, rstd);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_group_norm_bwd(const T* dy, const T* x, const T* gamma, const T* beta,
                                  const T* mean, const T* rstd, const T* dx_addend,
                                  GroupNormShape shape, bool relu, T* dx, T* dgamma, T* dbeta,
                                  double* partials, cudaStream_t stream) {
  const int64_t groups = shape.batch * shape.groups;
  if (groups > 0) {
    group_norm_bwd_kernel<T><<<groups, kNormThreads, 0, stream>>>(
        dy, x, gamma, beta, mean, rstd, dx_addend, shape, relu, dx, partials);
    if (cudaError_t status = cudaGetLastError(); status != cudaSuccess) return status;
  }
  if (shape.channels == 0) return cudaSuccess;
  group_norm_param_grads_kernel<T><<<blocks_for(shape.channels), kThreads, 0, stream>>>(
      partials, shape, dgamma, dbeta);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_weight_standardize_fwd(const T* w, int64_t rows, int64_t row_size, double eps,
                                          T* out, cudaStream_t stream) {
  if (rows == 0 || row_size == 0) return cudaSuccess;
  weight_standardize_fwd_kernel<T><<<rows, kNormThreads, 0, stream>>>(w, row_size, eps, out);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_weight_standardize_bwd(const T* dy, const T* w, int64_t rows, int64_t row_size,
                                          double eps, T* dw, cudaStream_t stream) {
  if (rows == 0 || row_size == 0) return cudaSuccess;
  weight_standardize_bwd_kernel<T><<<rows, kNormThreads, 0, stream>>>(dy, w, row_size, eps, dw);
  return cudaGetLastError();
}

#define BG_INSTANTIATE(T)                                                                      \
  template cudaError_t launch_group_norm_fwd<T>(const T*, const T*, const T*, GroupNormShape,  \
                                                double, bool, T*, T*, T*, cudaStream_t);       \
  template cudaError_t launch_group_norm_bwd<T>(const T*, const T*, const T*, const T*,        \
                                                const T*, const T*, const T*, GroupNormShape,  \
                                                bool, T*, T*, T*, double*, cudaStream_t);      \
  template cudaError_t launch_weight_standardize_fwd<T>(const T*, int64_t, int64_t, double,    \
                                                        T*, cudaStream_t);                     \
  template cudaError_t launch_weight_standardize_bwd<T>(const T*, const T*, int64_t, int64_t,  \
                                                        double, T*, cudaStream_t);
BG_INSTANTIATE(float)
BG_INSTANTIATE(double)
#undef BG_INSTANTIATE

}  // namespace bitgrad::cuda_ops
