// apply<Op>(): runs an op's forward and, when gradients are wanted, records it in the graph.
//
// An op is a struct with a name, a forward over tensors and a backward that maps the output's
// gradient to the inputs' gradients. Attributes are plain members given when the struct is made
// (apply(Affine{scale, shift}, x)); the tensors backward needs are SavedTensor members that forward
// sets: the struct is its own "ctx", so what is saved is typed and named rather than indexed
// (ctx.saved(2)), and backward refuses one changed in place since (autograd/saved_tensor.h).
// The graph node owns the struct and destroys it after backward, which frees what it saved.
//
//   struct Relu {
//     static constexpr const char* kName = "relu";
//     SavedTensor y;                                   // saved for backward
//     Tensor forward(const Tensor& x) { return y = call<ReluFwd>(x); }
//     std::vector<Tensor> backward(const Tensor& gy, const std::vector<bool>& needs_grad) {
//       return {call<ReluBwd>(gy, y)};
//     }
//   };
//   Tensor relu(const Tensor& x) { return apply(Relu{}, x); }
//
// backward returns one gradient per forward input (undefined where needs_grad is false). An op
// whose kernel can also add a gradient the input already has (Node::backward's `partial`)
// defines instead
//   std::vector<Tensor> backward(const Tensor& gy, const std::vector<bool>& needs_grad,
//                                const std::vector<Tensor>& partial, std::vector<bool>& folded);
//
// An op over a list of tensors of any length (cat) defines Tensor forward(const
// std::vector<Tensor>&) and is applied as apply_list(Cat{dim}, tensors); its backward returns
// one gradient per tensor of the list.
#pragma once

#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/saved_tensor.h"
#include "core/check.h"
#include "core/tensor.h"

namespace bitgrad {

template <typename Op>
class OpNode final : public Node {
 public:
  OpNode(Op op, std::vector<Edge> inputs, std::vector<bool> needs_grad)
      : Node(std::move(inputs)), op_(std::move(op)), needs_grad_(std::move(needs_grad)) {}

  const char* name() const override { return Op::kName; }

  std::vector<Tensor> backward(const Tensor& grad_output, const std::vector<Tensor>& partial,
                               std::vector<bool>& folded) override {
    BG_CHECK(op_.has_value(), Op::kName, ": backward through this part of the graph a second ",
             "time, but its saved tensors were freed; pass retain_graph = true to the first ",
             "backward()");
    try {
      if constexpr (kFoldsPartialGradients) {
        return op_->backward(grad_output, needs_grad_, partial, folded);
      } else {
        return op_->backward(grad_output, needs_grad_);
      }
    } catch (const SavedTensorChangedError& changed) {
      throw SavedTensorChangedError(detail::str_cat(Op::kName, ": ", changed.what()));
    }
  }

  void release_saved() override { op_.reset(); }

 private:
  template <typename T, typename = void>
  struct FoldsPartial : std::false_type {};
  template <typename T>
  struct FoldsPartial<T, std::void_t<decltype(std::declval<T&>().backward(
                             std::declval<const Tensor&>(),
                             std::declval<const std::vector<bool>&>(),
                             std::declval<const std::vector<Tensor>&>(),
                             std::declval<std::vector<bool>&>()))>> : std::true_type {};
  static constexpr bool kFoldsPartialGradients = FoldsPartial<Op>::value;

  std::optional<Op> op_;
  std::vector<bool> needs_grad_;
};

namespace detail {

Edge make_edge(const Tensor& input);
// Checks that the defined inputs share one device; names the op and the shapes if not.
void check_same_device(const char* op_name, const std::vector<const Tensor*>& inputs);

// Runs forward (run_forward(op)) without recording it, then, when an input requires a gradient,
// gives the output a graph node over `input_list`. apply() and apply_list() differ only in how
// they hand forward its inputs.
template <typename Op, typename Forward>
Tensor record_op(Op op, const std::vector<const Tensor*>& input_list, Forward run_forward) {
  check_same_device(Op::kName, input_list);

  std::vector<bool> needs_grad;
  bool record = false;
  for (const Tensor* input : input_list) {
    bool needs = input->defined() && input->requires_grad();
    needs_grad.push_back(needs);
    record = record || needs;
  }
  record = record && GradMode::is_enabled();

  Tensor output;
  {
    NoGradGuard forward_is_not_recorded;
    output = run_forward(op);
  }
  if (!record) return output;

  std::vector<Edge> edges;
  for (size_t i = 0; i < input_list.size(); ++i) {
    edges.push_back(needs_grad[i] ? make_edge(*input_list[i]) : Edge{});
  }
  // The history goes on a new handle to the output's memory: an op that saved its own output
  // (relu keeps y) must not hold the node that holds it, or a graph that never runs backward
  // would keep itself alive.
  Tensor result = output.detach();
  AutogradMeta& meta = result.autograd_meta();
  meta.requires_grad = true;
  meta.grad_fn =
      std::make_shared<OpNode<Op>>(std::move(op), std::move(edges), std::move(needs_grad));
  return result;
}

}  // namespace detail

template <typename Op, typename... Inputs>
Tensor apply(Op op, const Inputs&... inputs) {
  static_assert((std::is_same_v<Inputs, Tensor> && ...), "apply(): inputs must be Tensors");
  return detail::record_op(std::move(op), {&inputs...},
                           [&](Op& op_struct) { return op_struct.forward(inputs...); });
}

// An op over a list of tensors whose length only the caller knows (cat): forward takes the list,
// and backward returns one gradient per tensor in it. Not an overload of apply(): a
// std::vector argument brings std::apply into overload resolution (argument-dependent lookup),
// which beats it for a non-const or temporary vector.
template <typename Op>
Tensor apply_list(Op op, const std::vector<Tensor>& inputs) {
  std::vector<const Tensor*> input_list;
  for (const Tensor& input : inputs) input_list.push_back(&input);
  return detail::record_op(std::move(op), input_list,
                           [&](Op& op_struct) { return op_struct.forward(inputs); });
}

}  // namespace bitgrad
