// CUDA_CHECK(cudaMalloc(&ptr, n)): turns a failed CUDA runtime call into a bitgrad::Error naming
// the error, NVIDIA's description, the call and file:line. Never exit() or abort(): the caller
// decides (a test skips, a tool prints a hint).
//
// The cuBLAS and cuDNN checks of ops/cuda (ops/cuda/common/gpu_check.h) are one-liners over
// throw_gpu_library_error, and name the op whose kernel failed.
#pragma once

#include <cuda_runtime_api.h>

namespace bitgrad::detail {

// "cudaMalloc(&ptr, n) failed: cudaErrorMemoryAllocation (out of memory) [file:line]".
// `name` may be empty when a library only offers a description. With an `op` ("Conv2dFwd"),
// the message starts "Conv2dFwd: ".
[[noreturn]] void throw_gpu_library_error(const char* library, const char* name,
                                          const char* description, const char* expression,
                                          const char* file, int line, const char* op = nullptr);
// Clears the CUDA runtime's last-error slot first, so a handled error does not resurface in an
// unrelated later check.
[[noreturn]] void throw_cuda_error(cudaError_t status, const char* expression, const char* file,
                                   int line, const char* op = nullptr);

}  // namespace bitgrad::detail

#define CUDA_CHECK(expr)                                                                  \
  do {                                                                                    \
    const cudaError_t bg_cuda_status = (expr);                                            \
    if (bg_cuda_status != cudaSuccess) {                                                  \
      ::bitgrad::detail::throw_cuda_error(bg_cuda_status, #expr, __FILE__, __LINE__);     \
    }                                                                                     \
  } while (0)
