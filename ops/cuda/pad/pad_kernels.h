// Launcher of the constant-pad CUDA kernel (pad_kernels.cu). T is float or double.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "ops/cuda/common/index_map.h"

namespace bitgrad::cuda_ops {

// Extents and offsets of one pad: y has out_extent[d] = before[d] + in_extent[d] + after[d].
struct PadGeometry {
  int rank = 0;
  int64_t in_extent[kMaxDims] = {};
  int64_t out_extent[kMaxDims] = {};
  int64_t before[kMaxDims] = {};  // negative crops
};

// y[idx] = x[idx - before] where that lies inside x, else value; n = numel(y).
template <typename T>
cudaError_t launch_constant_pad(const T* x, PadGeometry geometry, T value, T* y, int64_t n,
                                cudaStream_t stream);

}  // namespace bitgrad::cuda_ops
