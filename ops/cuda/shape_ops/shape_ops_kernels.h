// Launcher of the strided-copy CUDA kernel that runs permute, cat and narrow
// (shape_ops_kernels.cu).
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "ops/cuda/common/index_map.h"

namespace bitgrad::cuda_ops {

// A StridedCopy (ops/shape_ops.h) as plain data: element k (row-major) of `extent` moves from
// src[sum(index[d] * src_stride[d])] to dst[sum(index[d] * dst_stride[d])], in elements.
struct CopyGeometry {
  int rank = 0;
  int64_t extent[kMaxDims] = {};
  int64_t src_stride[kMaxDims] = {};
  int64_t dst_stride[kMaxDims] = {};
};

// Moves the n = prod(extent) elements of `geometry`, each `item_bytes` (1, 2, 4 or 8) bytes, as
// bytes: one kernel serves every dtype. src and dst point at the copy's first elements.
cudaError_t launch_strided_copy(const void* src, void* dst, const CopyGeometry& geometry,
                                int64_t n, int item_bytes, cudaStream_t stream);

}  // namespace bitgrad::cuda_ops
