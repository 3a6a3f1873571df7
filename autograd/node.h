// A node of the autograd graph: one recorded op application. It knows where each input came
// from (an Edge) and how to turn the output's gradient into the inputs' gradients.
#pragma once

#include <memory>
#include <vector>

#include "core/tensor.h"

namespace bitgrad {

// Where the gradient of one input goes: into the node that produced it, or into a leaf's .grad.
// Neither is set for inputs that need no gradient.
struct Edge {
  std::shared_ptr<Node> node;
  std::shared_ptr<AutogradMeta> leaf;
  Shape shape;  // the input's shape, dtype and device, to check what backward returns
  DType dtype = DType::kFloat32;
  Device device;
  bool needs_grad() const { return node != nullptr || leaf != nullptr; }
};

class Node {
 public:
  explicit Node(std::vector<Edge> inputs) : inputs_(std::move(inputs)) {}
  virtual ~Node() = default;

  virtual const char* name() const = 0;
  // The gradient of each input given the gradient of the output. An entry may be undefined when
  // that input needs no gradient. An entry may be grad_output itself, or one tensor may serve
  // several inputs (add's backward does both): the engine sums out of place.
  //
  // partial[i], when defined, is the gradient input i has already received from its other
  // consumers. A node whose kernel can add it in a pass it makes anyway (GroupNorm's backward)
  // may return its gradient plus partial[i] and set folded[i]; the engine then keeps that as the
  // total instead of adding the two in a pass of its own. partial[i] is shared: never write to it.
  virtual std::vector<Tensor> backward(const Tensor& grad_output,
                                       const std::vector<Tensor>& partial,
                                       std::vector<bool>& folded) = 0;
  // Frees what forward saved for backward (called after backward unless retain_graph).
  virtual void release_saved() = 0;

  const std::vector<Edge>& inputs() const { return inputs_; }

 private:
  std::vector<Edge> inputs_;
};

}  // namespace bitgrad
