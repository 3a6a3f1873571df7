#include "autograd/saved_tensor.h"

namespace bitgrad {

SavedTensor& SavedTensor::operator=(const Tensor& tensor) {
  tensor_ = tensor.defined() ? tensor.detach() : Tensor();
  version_ = tensor.defined() ? tensor.version() : 0;
  return *this;
}

const Tensor& SavedTensor::get() const {
  if (tensor_.defined() && tensor_.version() != version_) {
    throw SavedTensorChangedError(detail::str_cat(
        "a tensor of shape ", tensor_.shape(), " saved for backward was changed in place after "
        "the forward pass (copy_, fill_, zero_ or an optimizer step): its memory is at version ",
        tensor_.version(), " but was saved at version ", version_, ". Run backward before "
        "changing it, or give the op a clone()"));
  }
  return tensor_;
}

}  // namespace bitgrad
