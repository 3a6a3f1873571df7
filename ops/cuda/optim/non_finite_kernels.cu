// FirstNonFinite over every tensor in one launch, a block per chunk: the block's threads check
// their elements, and one of them lowers the answer to its tensor's index when any found a NaN
// or an infinity.
#include "ops/cuda/common/device_utils.cuh"
#include "ops/cuda/optim/non_finite_kernels.h"

namespace bitgrad::cuda_ops {
namespace {

template <typename T>
__global__ void first_non_finite_kernel(const T* const* __restrict__ tensors,
                                        const TensorChunk* __restrict__ chunks,
                                        unsigned long long* first) {
  const TensorChunk chunk = chunks[blockIdx.x];
  const T* x = tensors[chunk.tensor] + chunk.begin;
  bool found = false;
  for (int64_t k = threadIdx.x; k < chunk.count; k += blockDim.x) found |= !isfinite(x[k]);
  if (__syncthreads_or(found) && threadIdx.x == 0) {
    atomicMin(first, static_cast<unsigned long long>(chunk.tensor));
  }
}

}  // namespace

template <typename T>
cudaError_t launch_first_non_finite(const T* const* tensors, const TensorChunk* chunks,
                                    int64_t num_chunks, unsigned long long* first,
                                    cudaStream_t stream) {
  if (num_chunks == 0) return cudaSuccess;
  first_non_finite_kernel<T><<<num_chunks, kThreads, 0, stream>>>(tensors, chunks, first);
  return cudaGetLastError();
}

template cudaError_t launch_first_non_finite<float>(const float* const*, const TensorChunk*,
                                                    int64_t, unsigned long long*,
                                                    cudaStream_t);
template cudaError_t launch_first_non_finite<double>(const double* const*, const TensorChunk*,
                                                     int64_t, unsigned long long*,
                                                     cudaStream_t);

}  // namespace bitgrad::cuda_ops
