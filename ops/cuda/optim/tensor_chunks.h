// The multi-tensor kernels (SgdUpdate, FirstNonFinite) cover many tensors in one launch: the
// host cuts the tensors into chunks, one per block, and sends the tables of pointers and chunks
// to the GPU with the launch. Host and device code.
#pragma once

#include <cstdint>

namespace bitgrad::cuda_ops {

// A block's share of the work: `count` elements of tensor `tensor` from `begin`.
struct TensorChunk {
  int32_t tensor;
  int64_t begin, count;
};

}  // namespace bitgrad::cuda_ops
