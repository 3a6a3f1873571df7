// Launchers of the float32 <-> bfloat16 casts (cast_kernels.cu) of bf16 autocast. Raw device
// pointers; bf16 values travel as their 16-bit patterns. Round to nearest even, as PyTorch does.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

namespace bitgrad::cuda_ops {

cudaError_t launch_float_to_bf16(const float* in, uint16_t* out, int64_t n, cudaStream_t stream);
cudaError_t launch_bf16_to_float(const uint16_t* in, float* out, int64_t n, cudaStream_t stream);

}  // namespace bitgrad::cuda_ops
