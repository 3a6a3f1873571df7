// Reverse-mode automatic differentiation over the graph recorded by apply().
//
// backward(root) walks the nodes that led to `root` in reverse topological order. Each node turns
// its output's gradient into its inputs' gradients; gradients reaching the same node or leaf are
// summed. Leaves that require grad receive their total in .grad (added to what is already there,
// so calling backward twice accumulates, as in PyTorch). Backward formulas are not themselves
// recorded: there are no higher-order gradients.
#pragma once

#include <functional>

#include "core/tensor.h"

namespace bitgrad {

class Node;

struct BackwardOptions {
  // Keep what forward saved, so backward can run through the same graph again.
  bool retain_graph = false;
  // Called after each node's backward, in the engine's order (for tracing: examples/tour).
  std::function<void(const Node& node)> after_node;
  // Called once per leaf that the graph reaches, as soon as no node left to run can add to its
  // .grad: its gradient for this pass is final (and may be undefined if none flowed). Data
  // parallelism (dist/gradient_reducer.h) starts all-reducing a leaf's gradient here, while the
  // rest of backward runs.
  std::function<void(AutogradMeta& leaf)> leaf_ready;
};

// `gradient` is d(something)/d(root); it may be omitted (= 1) when root has one element.
void backward(const Tensor& root, const Tensor& gradient = Tensor(),
              const BackwardOptions& options = {});

}  // namespace bitgrad
