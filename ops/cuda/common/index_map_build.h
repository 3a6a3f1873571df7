// Builds the IndexMaps (index_map.h) that GPU kernels walk, from bitgrad shapes. Host only.
#pragma once

#include <vector>

#include "core/shape.h"
#include "ops/cuda/common/index_map.h"

namespace bitgrad::cuda_ops {

// Output `output` -> plain input `input` broadcast to it (NumPy rules: dims align right, size-1
// dims repeat). `op` names the caller when the rank is over kMaxDims.
IndexMap broadcast_map(const char* op, const Shape& input, const Shape& output);

// For a sum of plain `input` over `dims` (sorted, unique): `kept` walks the output (the dims not
// summed) and `summed` walks one output's inputs; an input offset is kept.offset(o) +
// summed.offset(r).
struct ReductionMaps {
  IndexMap kept, summed;
};
ReductionMaps reduction_maps(const char* op, const Shape& input, const std::vector<int64_t>& dims);

}  // namespace bitgrad::cuda_ops
