// Checks for the CUDA, cuDNN and cuBLAS calls of the GPU kernels. A failure throws a
// bitgrad::Error that names the op, the library call, the library's status and its message:
//   "Conv2dFwd: cuDNN call cudnnConvolutionForward(...) failed: CUDNN_STATUS_BAD_PARAM (...)"
#pragma once

#include <cublas_v2.h>
#include <cudnn.h>

#include "core/cuda/cuda_check.h"

namespace bitgrad::cuda_ops {

[[noreturn]] void throw_cudnn_error(const char* op, cudnnStatus_t status, const char* expression,
                                    const char* file, int line);
[[noreturn]] void throw_cublas_error(const char* op, cublasStatus_t status,
                                     const char* expression, const char* file, int line);

}  // namespace bitgrad::cuda_ops

#define CUDNN_CHECK(op, expr)                                                              \
  do {                                                                                     \
    const cudnnStatus_t bg_cudnn_status = (expr);                                          \
    if (bg_cudnn_status != CUDNN_STATUS_SUCCESS) {                                         \
      ::bitgrad::cuda_ops::throw_cudnn_error(op, bg_cudnn_status, #expr, __FILE__, __LINE__); \
    }                                                                                      \
  } while (0)

#define CUBLAS_CHECK(op, expr)                                                             \
  do {                                                                                     \
    const cublasStatus_t bg_cublas_status = (expr);                                        \
    if (bg_cublas_status != CUBLAS_STATUS_SUCCESS) {                                       \
      ::bitgrad::cuda_ops::throw_cublas_error(op, bg_cublas_status, #expr, __FILE__,       \
                                              __LINE__);                                   \
    }                                                                                      \
  } while (0)

// CUDA runtime calls and kernel launches (cudaGetLastError()) inside an op's kernel.
#define CUDA_OP_CHECK(op, expr)                                                            \
  do {                                                                                     \
    const cudaError_t bg_cuda_status = (expr);                                             \
    if (bg_cuda_status != cudaSuccess) {                                                   \
      ::bitgrad::detail::throw_cuda_error(bg_cuda_status, #expr, __FILE__, __LINE__, op);  \
    }                                                                                      \
  } while (0)
