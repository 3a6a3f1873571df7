#include "ops/cuda/common/index_map_build.h"

#include <algorithm>

#include "core/check.h"
#include "ops/shape_utils.h"

namespace bitgrad::cuda_ops {
namespace {

void check_rank(const char* op, const Shape& shape) {
  BG_CHECK(shape.rank() <= kMaxDims, op, ": the CUDA kernel handles tensors of up to ", kMaxDims,
           " dims, got ", shape);
}

void append(IndexMap& map, int64_t extent, int64_t stride) {
  map.extent[map.rank] = extent;
  map.stride[map.rank] = stride;
  ++map.rank;
}

}  // namespace

IndexMap broadcast_map(const char* op, const Shape& input, const Shape& output) {
  check_rank(op, output);
  const std::vector<int64_t> strides = contiguous_strides(input);
  const int64_t lead = output.rank() - input.rank();
  IndexMap map;
  for (int64_t d = 0; d < output.rank(); ++d) {
    const int64_t in_d = d - lead;
    const bool repeated = in_d < 0 || input[in_d] == 1;
    append(map, output[d], repeated ? 0 : strides[in_d]);
  }
  return map;
}

ReductionMaps reduction_maps(const char* op, const Shape& input, const std::vector<int64_t>& dims) {
  check_rank(op, input);
  const std::vector<int64_t> strides = contiguous_strides(input);
  ReductionMaps maps;
  for (int64_t d = 0; d < input.rank(); ++d) {
    const bool summed = std::find(dims.begin(), dims.end(), d) != dims.end();
    append(summed ? maps.summed : maps.kept, input[d], strides[d]);
  }
  return maps;
}

}  // namespace bitgrad::cuda_ops
