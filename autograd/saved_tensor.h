// SavedTensor: a tensor an op keeps for its backward, checked against in-place changes.
//
// Backward reads what forward saved. If the saved tensor's memory is written in place in
// between (an optimizer step, copy_, fill_), the gradient would be computed from values the
// forward pass never used: silently wrong. So every Storage counts its in-place writes
// (Storage::version), a SavedTensor remembers the count it was saved at, and reading it in
// backward throws SavedTensorChangedError if the count has moved, as PyTorch does.
//
// An op keeps what backward needs in SavedTensor members and uses them as Tensors:
//   struct Relu {
//     SavedTensor y;
//     Tensor forward(const Tensor& x) { return y = call<ReluFwd>(x); }
//     ... backward: call<ReluBwd>(dy, y)      // y converts to const Tensor&, checked
//   };
// It saves a handle of its own to the memory (Tensor::detach), so set_data, which gives the
// original tensor other memory, leaves what backward reads as forward saw it.
#pragma once

#include <cstdint>

#include "core/check.h"
#include "core/tensor.h"

namespace bitgrad {

class SavedTensorChangedError : public Error {
 public:
  using Error::Error;
};

class SavedTensor {
 public:
  SavedTensor() = default;
  SavedTensor& operator=(const Tensor& tensor);  // an undefined tensor saves "no tensor"

  // The saved tensor (undefined if none was saved). Throws SavedTensorChangedError, naming its
  // shape and both counts, if its memory was written in place since it was saved.
  const Tensor& get() const;
  operator const Tensor&() const { return get(); }  // NOLINT: used as the Tensor it holds
  bool defined() const { return tensor_.defined(); }
  // The saved tensor's shape, unchecked: in-place writes change values, never the shape.
  const Shape& shape() const { return tensor_.shape(); }

 private:
  Tensor tensor_;
  uint64_t version_ = 0;
};

}  // namespace bitgrad
