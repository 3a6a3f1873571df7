#include "ops/loss.h"

#include "autograd/function.h"

namespace bitgrad {
namespace {

// What both losses check of their arguments before recording an op.
void check_loss_arguments(const char* op, const Tensor& logits, const Tensor& targets) {
  BG_CHECK(logits.defined() && targets.defined(), op, ": logits and target must be defined");
  BG_CHECK(!targets.requires_grad(), op, ": targets receive no gradient; detach() them");
  BG_CHECK(logits.dim() == 2 && logits.size(0) > 0 && logits.size(1) > 0, op,
           ": expected logits of shape (N, K) with N, K > 0, got ", logits.shape());
  if (targets.dtype() == DType::kInt64) {
    BG_CHECK(targets.shape() == Shape{logits.size(0)}, op, ": class-index targets ",
             "must have shape (N) = (", logits.size(0), "), got ", targets.shape());
  } else {
    BG_CHECK(targets.dtype() == logits.dtype(), op, ": soft targets are ",
             dtype_name(targets.dtype()), " but logits are ", dtype_name(logits.dtype()),
             " (class indices must be int64)");
    BG_CHECK(targets.shape() == logits.shape(), op, ": soft targets must have the ",
             "shape of the logits ", logits.shape(), ", got ", targets.shape());
  }
}

struct CrossEntropy {
  static constexpr const char* kName = "cross_entropy";
  SavedTensor probs, target;

  Tensor forward(const Tensor& logits, const Tensor& targets) {
    CrossEntropyResult result = call<CrossEntropyFwd>(logits, targets);
    probs = result.probs;
    target = targets;
    return result.loss;
  }
  std::vector<Tensor> backward(const Tensor& dloss, const std::vector<bool>&) {
    return {call<CrossEntropyBwd>(dloss, probs, target), Tensor()};
  }
};

struct SigmoidCrossEntropy {
  static constexpr const char* kName = "sigmoid_cross_entropy";
  SavedTensor logits, target;

  Tensor forward(const Tensor& logits_in, const Tensor& targets) {
    logits = logits_in;
    target = targets;
    return call<SigmoidCrossEntropyFwd>(logits_in, targets);
  }
  std::vector<Tensor> backward(const Tensor& dloss, const std::vector<bool>&) {
    return {call<SigmoidCrossEntropyBwd>(dloss, logits, target), Tensor()};
  }
};

}  // namespace

void check_class_label(const char* op, int64_t label, int64_t row, int64_t classes) {
  BG_CHECK(label >= 0 && label < classes, op, ": label ", label, " in row ", row,
           " is out of range for K = ", classes, " classes (expected 0 <= label < ", classes,
           ")");
}

Tensor cross_entropy(const Tensor& logits, const Tensor& target) {
  check_loss_arguments("cross_entropy", logits, target);
  return apply(CrossEntropy{}, logits, target);
}

Tensor sigmoid_cross_entropy(const Tensor& logits, const Tensor& target) {
  check_loss_arguments("sigmoid_cross_entropy", logits, target);
  return apply(SigmoidCrossEntropy{}, logits, target);
}

}  // namespace bitgrad
