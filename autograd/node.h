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
  Shape shape;  // the input's shape, to check what backward returns
  DType dtype = DType::kFloat32;
  bool needs_grad() const { return node != nullptr || leaf != nullptr; }
};

class Node {
 public:
  explicit Node(std::vector<Edge> inputs) : inputs_(std::move(inputs)) {}
  virtual ~Node() = default;

  virtual const char* name() const = 0;
  // The gradient of each input given the gradient of the output. An entry may be undefined when
  // that input needs no gradient. Returns fresh tensors; the engine does the summing.
  virtual std::vector<Tensor> backward(const Tensor& grad_output) = 0;
  // Frees what forward saved for backward (called after backward unless retain_graph).
  virtual void release_saved() = 0;

  const std::vector<Edge>& inputs() const { return inputs_; }

 private:
  std::vector<Edge> inputs_;
};

}  // namespace bitgrad
