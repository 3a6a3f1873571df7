// float32 <-> bfloat16 on the GPU: one grid-stride pass each.
#include <cuda_bf16.h>

#include "ops/cuda/common/cast_kernels.h"
#include "ops/cuda/common/device_utils.cuh"

namespace bitgrad::cuda_ops {
namespace {

__global__ void float_to_bf16_kernel(const float* __restrict__ in, __nv_bfloat16* __restrict__ out,
                                     int64_t n) {
  BG_GRID_STRIDE_LOOP(i, n) out[i] = __float2bfloat16_rn(in[i]);
}

__global__ void bf16_to_float_kernel(const __nv_bfloat16* __restrict__ in, float* __restrict__ out,
                                     int64_t n) {
  BG_GRID_STRIDE_LOOP(i, n) out[i] = __bfloat162float(in[i]);
}

}  // namespace

cudaError_t launch_float_to_bf16(const float* in, uint16_t* out, int64_t n, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  float_to_bf16_kernel<<<blocks_for(n), kThreads, 0, stream>>>(
      in, reinterpret_cast<__nv_bfloat16*>(out), n);
  return cudaGetLastError();
}

cudaError_t launch_bf16_to_float(const uint16_t* in, float* out, int64_t n, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  bf16_to_float_kernel<<<blocks_for(n), kThreads, 0, stream>>>(
      reinterpret_cast<const __nv_bfloat16*>(in), out, n);
  return cudaGetLastError();
}

}  // namespace bitgrad::cuda_ops
