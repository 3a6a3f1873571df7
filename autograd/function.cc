#include "autograd/function.h"

namespace bitgrad::detail {

Edge make_edge(const Tensor& input) {
  Edge edge;
  if (input.grad_fn()) {
    edge.node = input.grad_fn();
  } else {
    // A leaf: keep its AutogradMeta alive so the gradient lands on every handle of the tensor.
    edge.leaf = input.impl()->autograd;
  }
  edge.shape = input.shape();
  edge.dtype = input.dtype();
  edge.device = input.device();
  return edge;
}

void check_same_device(const char* op_name, const std::vector<const Tensor*>& inputs) {
  const Tensor* first = nullptr;
  for (const Tensor* input : inputs) {
    if (!input->defined()) continue;
    if (first == nullptr) {
      first = input;
      continue;
    }
    BG_CHECK(input->device() == first->device(), op_name,
             ": expected all inputs on one device, got a tensor of shape ", first->shape(), " on ",
             first->device(), " and a tensor of shape ", input->shape(), " on ", input->device(),
             "; move them with .to(device) first");
  }
}

}  // namespace bitgrad::detail
