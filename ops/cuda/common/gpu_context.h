// What every GPU kernel needs for its tensors' device: the device made current, its stream, and
// cuDNN and cuBLAS handles bound to that stream (created on first use, kept for the process).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include "core/tensor.h"

namespace bitgrad::cuda_ops {

struct GpuContext {
  int device_index = 0;
  cudaStream_t stream = nullptr;
  cudnnHandle_t cudnn = nullptr;
  cublasHandle_t cublas = nullptr;
};

// Makes `device` current and returns its context. `op` names the caller in errors.
const GpuContext& gpu_context(const char* op, Device device);

// Scratch memory for cuDNN and cuBLAS from the caching allocator; keep the Tensor alive while
// the kernels queued on the stream use it (the stream orders its reuse).
Tensor gpu_workspace(size_t nbytes, Device device);

// Rejects int32 overflow before a library call that takes int sizes.
int checked_int(const char* op, int64_t value, const char* what);

}  // namespace bitgrad::cuda_ops
