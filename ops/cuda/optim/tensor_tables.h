// Host side of the multi-tensor kernels (tensor_chunks.h): the chunk table of a list of tensors,
// and tables copied to the GPU.
#pragma once

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/tensor.h"
#include "ops/cuda/optim/tensor_chunks.h"

namespace bitgrad::cuda_ops {

constexpr int64_t kChunkElements = 1 << 16;  // per block: large enough to hide its start

// Appends the chunks of tensor `index`, which has `numel` elements, to `chunks`.
inline void add_chunks(int32_t index, int64_t numel, std::vector<TensorChunk>& chunks) {
  for (int64_t begin = 0; begin < numel; begin += kChunkElements) {
    chunks.push_back({index, begin, std::min(kChunkElements, numel - begin)});
  }
}

// `values` copied into a device tensor of bytes on `device` (freed when the returned tensor is,
// which the stream orders after the kernel that reads it): an asynchronous copy from pinned
// memory, on the device's stream.
template <typename V>
Tensor to_device_table(const std::vector<V>& values, Device device) {
  const int64_t bytes = static_cast<int64_t>(values.size() * sizeof(V));
  Tensor host = empty({bytes}, DType::kUInt8);
  std::memcpy(host.mutable_raw_data(), values.data(), bytes);
  return host.to(device);
}

}  // namespace bitgrad::cuda_ops
