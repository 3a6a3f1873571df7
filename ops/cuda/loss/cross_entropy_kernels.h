// Launchers of the softmax and sigmoid cross-entropy CUDA kernels (cross_entropy_kernels.cu).
// T is float or double. Targets are int64 class indices (`labels`, N) or soft targets (`soft`,
// N x K); exactly one of the two is non-null.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

namespace bitgrad::cuda_ops {

// probs = softmax(logits) per row; loss[0] = mean over rows of -sum_k t * log_softmax.
// row_losses: scratch of N doubles. *first_bad_row is set to the first row whose label is
// outside [0, K), and left at N when every label is valid (the caller initialises it to N).
template <typename T>
cudaError_t launch_cross_entropy_fwd(const T* logits, const int64_t* labels, const T* soft,
                                     int64_t rows, int64_t classes, T* probs, T* loss,
                                     double* row_losses, unsigned long long* first_bad_row,
                                     cudaStream_t stream);

// dlogits = dloss[0] * (probs * sum_k t - t) / N.
template <typename T>
cudaError_t launch_cross_entropy_bwd(const T* dloss, const T* probs, const int64_t* labels,
                                     const T* soft, int64_t rows, int64_t classes, T* dlogits,
                                     cudaStream_t stream);

// loss[0] = mean over rows of sum_k softplus(z) - z * t; row_losses and first_bad_row as in
// launch_cross_entropy_fwd.
template <typename T>
cudaError_t launch_sigmoid_cross_entropy_fwd(const T* logits, const int64_t* labels,
                                             const T* soft, int64_t rows, int64_t classes,
                                             T* loss, double* row_losses,
                                             unsigned long long* first_bad_row,
                                             cudaStream_t stream);

// dlogits = dloss[0] * (sigmoid(logits) - t) / N.
template <typename T>
cudaError_t launch_sigmoid_cross_entropy_bwd(const T* dloss, const T* logits,
                                             const int64_t* labels, const T* soft, int64_t rows,
                                             int64_t classes, T* dlogits, cudaStream_t stream);

}  // namespace bitgrad::cuda_ops
