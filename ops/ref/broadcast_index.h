// Walks the elements of a broadcast result in row-major order, tracking the matching flat index
// in an input whose dims were aligned right and may have extent 1 (stride 0 when broadcast).
#pragma once

#include <cstdint>
#include <vector>

#include "core/shape.h"

namespace bitgrad::ref {

class BroadcastIndex {
 public:
  BroadcastIndex(const Shape& input, const Shape& output)
      : extents_(output.begin(), output.end()), counter_(output.rank(), 0),
        strides_(output.rank(), 0) {
    int64_t lead = output.rank() - input.rank();
    int64_t stride = 1;
    for (int64_t d = input.rank() - 1; d >= 0; --d) {
      strides_[d + lead] = input[d] == 1 ? 0 : stride;
      stride *= input[d];
    }
  }

  int64_t offset() const { return offset_; }

  // Advances to the next output element (an odometer over the output extents).
  void next() {
    for (int64_t d = static_cast<int64_t>(extents_.size()) - 1; d >= 0; --d) {
      offset_ += strides_[d];
      if (++counter_[d] < extents_[d]) return;
      offset_ -= strides_[d] * extents_[d];
      counter_[d] = 0;
    }
  }

 private:
  std::vector<int64_t> extents_, counter_, strides_;
  int64_t offset_ = 0;
};

}  // namespace bitgrad::ref
