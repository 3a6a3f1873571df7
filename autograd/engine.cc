#include "autograd/engine.h"

#include <ostream>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "autograd/accumulate_grad.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"

namespace bitgrad {
namespace {

// Nodes reachable from `root`, each listed after every node that consumes its output.
std::vector<Node*> reverse_topological_order(Node* root) {
  std::vector<Node*> post_order;
  std::unordered_set<Node*> visited{root};
  std::vector<std::pair<Node*, size_t>> stack{{root, 0}};  // (node, next input to visit)
  while (!stack.empty()) {
    auto& [node, next_input] = stack.back();
    if (next_input < node->inputs().size()) {
      Node* child = node->inputs()[next_input++].node.get();
      if (child != nullptr && visited.insert(child).second) stack.push_back({child, 0});
      continue;
    }
    post_order.push_back(node);
    stack.pop_back();
  }
  return {post_order.rbegin(), post_order.rend()};
}

// Sums gradients out of place: a backward may hand the same tensor to several inputs.
void accumulate(Tensor& total, const Tensor& gradient) {
  total = total.defined() ? call<AccumulateGrad>(total, gradient) : gradient;
}

// A leaf's .grad may later be changed in place (zero_, clipping), so it must not share memory
// with another tensor; a gradient that nobody else holds is kept as it is.
Tensor owned_plain(Tensor grad) {
  if (!grad.is_plain()) return grad.to_plain();
  return grad.is_sole_owner() ? grad : grad.clone();
}

// What each input of `node` has received so far from its other consumers (Node::backward's
// `partial`). An input whose producer also feeds an earlier input of the node gets none, so that
// no partial is folded in twice.
std::vector<Tensor> partial_gradients(const Node& node,
                                      const std::unordered_map<Node*, Tensor>& pending) {
  std::vector<Tensor> partial(node.inputs().size());
  std::unordered_set<Node*> offered;
  for (size_t i = 0; i < partial.size(); ++i) {
    Node* producer = node.inputs()[i].node.get();
    if (producer == nullptr || !offered.insert(producer).second) continue;
    if (auto it = pending.find(producer); it != pending.end()) partial[i] = it->second;
  }
  return partial;
}

// How many edges of the nodes in `order` lead into each leaf: a leaf is final once that many
// nodes have run (or been skipped).
std::unordered_map<AutogradMeta*, int> leaf_edge_counts(const std::vector<Node*>& order) {
  std::unordered_map<AutogradMeta*, int> counts;
  for (const Node* node : order) {
    for (const Edge& edge : node->inputs()) {
      if (edge.leaf) ++counts[edge.leaf.get()];
    }
  }
  return counts;
}

// Counts down `node`'s leaf edges and reports each leaf that has nothing more to receive.
void release_leaves(const Node& node, std::unordered_map<AutogradMeta*, int>& edges_left,
                    const std::function<void(AutogradMeta&)>& leaf_ready) {
  for (const Edge& edge : node.inputs()) {
    if (edge.leaf && --edges_left[edge.leaf.get()] == 0) leaf_ready(*edge.leaf);
  }
}

// What a gradient must share with the tensor it is for. Printed as "shape (2), dtype float64 on
// cpu".
struct Fit {
  Shape shape;
  DType dtype;
  Device device;
  bool operator==(const Fit& other) const {
    return shape == other.shape && dtype == other.dtype && device == other.device;
  }
};
Fit fit_of(const Tensor& t) { return {t.shape(), t.dtype(), t.device()}; }
std::ostream& operator<<(std::ostream& out, const Fit& fit) {
  return out << "shape " << fit.shape << ", dtype " << dtype_name(fit.dtype) << " on "
             << fit.device;
}

// A gradient the engine would add to another, or hand to a kernel, with the wrong shape, dtype
// or device gives a wrong result or a crash far from the backward that made it.
void check_gradient(const Node& node, size_t input, const Edge& edge, const Tensor& gradient) {
  const Fit expected{edge.shape, edge.dtype, edge.device};
  BG_CHECK(fit_of(gradient) == expected, "backward of ", node.name(), " returned a gradient of ",
           fit_of(gradient), " for input ", input, ", which has ", expected);
}

// A leaf whose data set_data replaced after the forward pass (Module::to moves or converts a
// model so) may no longer fit the gradient computed for it: refused, rather than a gradient of
// another shape, dtype or device stored in its .grad.
void check_leaf_gradient(const AutogradMeta& leaf, const Tensor& gradient) {
  const std::shared_ptr<TensorImpl> impl = leaf.tensor.lock();
  if (!impl) return;  // the leaf tensor is gone, and its gradient with it
  const Fit now = fit_of(Tensor(impl));
  BG_CHECK(now == fit_of(gradient), "backward: a leaf tensor, now of ", now,
           ", had its data replaced (set_data, Module::to) after the forward pass, which ",
           "computed its gradient for ", fit_of(gradient),
           "; run backward before moving or converting the model");
}

}  // namespace

void backward(const Tensor& root, const Tensor& gradient, const BackwardOptions& options) {
  BG_CHECK(root.defined() && root.requires_grad(), "backward: the tensor does not require grad ",
           "(no input of the computation had requires_grad set, it ran under NoGradGuard, or its ",
           "path went through Tensor::clone(), view() or to(), which autograd does not record; ",
           "bitgrad::clone(), reshape() and to() are recorded)");
  Tensor seed = gradient;
  if (!seed.defined()) {
    BG_CHECK(root.numel() == 1, "backward: a gradient argument is needed for a tensor of shape ",
             root.shape(), "; only one-element tensors have an implicit gradient of 1");
    seed = ones(root.shape(), root.dtype(), root.device());
  }
  BG_CHECK(fit_of(seed) == fit_of(root), "backward: gradient of ", fit_of(seed),
           " does not match the tensor's ", fit_of(root));
  NoGradGuard backward_is_not_recorded;

  Tensor handle = root;
  if (root.is_leaf()) {
    accumulate(handle.autograd_meta().grad, owned_plain(seed));
    if (options.leaf_ready) options.leaf_ready(handle.autograd_meta());
    return;
  }

  std::unordered_map<Node*, Tensor> pending{{root.grad_fn().get(), seed}};
  const std::vector<Node*> order = reverse_topological_order(root.grad_fn().get());
  std::unordered_map<AutogradMeta*, int> leaf_edges_left;
  if (options.leaf_ready) leaf_edges_left = leaf_edge_counts(order);
  for (Node* node : order) {
    auto it = pending.find(node);
    if (it == pending.end()) {  // no gradient flowed here
      if (options.leaf_ready) release_leaves(*node, leaf_edges_left, options.leaf_ready);
      continue;
    }
    Tensor grad_output = std::move(it->second);
    pending.erase(it);

    const size_t num_inputs = node->inputs().size();
    std::vector<Tensor> partial = partial_gradients(*node, pending);
    std::vector<bool> folded(num_inputs, false);
    std::vector<Tensor> grads = node->backward(grad_output, partial, folded);
    BG_CHECK(grads.size() == num_inputs && folded.size() == num_inputs, "backward of ",
             node->name(), " returned ", grads.size(), " gradients for ", num_inputs, " inputs");
    for (size_t i = 0; i < grads.size(); ++i) {
      const Edge& edge = node->inputs()[i];
      Tensor grad = std::move(grads[i]);
      if (!edge.needs_grad() || !grad.defined()) continue;
      check_gradient(*node, i, edge, grad);
      if (edge.node && folded[i]) {
        BG_CHECK(partial[i].defined(), "backward of ", node->name(), " folded a partial gradient ",
                 "into input ", i, ", which had none");
        pending[edge.node.get()] = std::move(grad);  // already the total
      } else if (edge.node) {
        accumulate(pending[edge.node.get()], grad);
      } else {
        check_leaf_gradient(*edge.leaf, grad);
        accumulate(edge.leaf->grad, owned_plain(std::move(grad)));
      }
    }
    if (!options.retain_graph) node->release_saved();
    if (options.leaf_ready) release_leaves(*node, leaf_edges_left, options.leaf_ready);
    if (options.after_node) options.after_node(*node);
  }
}

namespace {

// Tensor::backward (core/tensor.h) runs this engine once //autograd:engine is linked.
void run_from_tensor(const Tensor& root, const Tensor& gradient, bool retain_graph) {
  backward(root, gradient, BackwardOptions{.retain_graph = retain_graph});
}
const bool registered = (register_backward_engine(&run_from_tensor), true);

}  // namespace

}  // namespace bitgrad
