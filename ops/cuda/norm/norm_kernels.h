// Launchers of the GroupNorm and Weight Standardization CUDA kernels (norm_kernels.cu). T is
// float or double; the formulas are those of the reference kernels (ops/ref/norm_ref.cc).
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

namespace bitgrad::cuda_ops {

// x (N, C, S) read as N * G contiguous groups of (C / G) * S elements.
struct GroupNormShape {
  int64_t batch, channels, groups, spatial;
};

// y = (x - mean) * rstd * gamma + beta per group, then relu when asked; writes mean and rstd
// (N, G). gamma, beta may be null (1 and 0).
template <typename T>
cudaError_t launch_group_norm_fwd(const T* x, const T* gamma, const T* beta, GroupNormShape shape,
                                  double eps, bool relu, T* y, T* mean, T* rstd,
                                  cudaStream_t stream);

// dx = rstd * (g*gamma - mean(g*gamma) - xhat * mean(g*gamma*xhat)) + dx_addend, with g = dy
// gated by the recomputed pre-activation when relu; dgamma = sum g * xhat, dbeta = sum g per
// channel. gamma, beta, dx_addend and dgamma may be null. `partials` is device scratch of
// 2 * N * C doubles.
template <typename T>
cudaError_t launch_group_norm_bwd(const T* dy, const T* x, const T* gamma, const T* beta,
                                  const T* mean, const T* rstd, const T* dx_addend,
                                  GroupNormShape shape, bool relu, T* dx, T* dgamma, T* dbeta,
                                  double* partials, cudaStream_t stream);

// Each of `rows` rows of w (row_size elements): (w - mean) / sqrt(biased var + eps).
template <typename T>
cudaError_t launch_weight_standardize_fwd(const T* w, int64_t rows, int64_t row_size, double eps,
                                          T* out, cudaStream_t stream);

// dw = rstd * (dy - mean(dy) - w_hat * mean(dy * w_hat)) per row.
template <typename T>
cudaError_t launch_weight_standardize_bwd(const T* dy, const T* w, int64_t rows, int64_t row_size,
                                          double eps, T* dw, cudaStream_t stream);

}  // namespace bitgrad::cuda_ops
