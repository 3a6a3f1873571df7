// IndexMap: how a GPU thread finds its input element. Walking the flat row-major index of an
// output of `extent` as a multi-index, the input's offset is sum(index[d] * stride[d]); a stride
// of 0 repeats the input along d (broadcasting). Plain data, passed to kernels by value, and free
// of bitgrad types, so nvcc and g++ both read this header.
#pragma once

#include <cstdint>

#ifdef __CUDACC__
#define BG_HOST_DEVICE __host__ __device__
#else
#define BG_HOST_DEVICE
#endif

namespace bitgrad::cuda_ops {

constexpr int kMaxDims = 8;  // the most dims a hand-written CUDA kernel indexes

struct IndexMap {
  int rank = 0;
  int64_t extent[kMaxDims] = {};
  int64_t stride[kMaxDims] = {};

  // The input offset of output element `flat` (0 <= flat < prod(extent)).
  BG_HOST_DEVICE int64_t offset(int64_t flat) const {
    int64_t result = 0;
    for (int d = rank - 1; d >= 0; --d) {
      const int64_t index = flat % extent[d];
      flat /= extent[d];
      result += index * stride[d];
    }
    return result;
  }
};

}  // namespace bitgrad::cuda_ops
