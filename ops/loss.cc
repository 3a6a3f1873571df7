#include "ops/loss.h"

#include "autograd/function.h"

namespace bitgrad {
namespace {

struct CrossEntropy {
  static constexpr const char* kName = "cross_entropy";
  Tensor probs, target;

  Tensor forward(const Tensor& logits, const Tensor& targets) {
    BG_CHECK(logits.dim() == 2 && logits.size(0) > 0 && logits.size(1) > 0,
             "cross_entropy: expected logits of shape (N, K), got ", logits.shape());
    if (targets.dtype() == DType::kInt64) {
      BG_CHECK(targets.shape() == Shape{logits.size(0)}, "cross_entropy: class-index targets ",
               "must have shape (N) = (", logits.size(0), "), got ", targets.shape());
    } else {
      BG_CHECK(targets.dtype() == logits.dtype(), "cross_entropy: soft targets are ",
               dtype_name(targets.dtype()), " but logits are ", dtype_name(logits.dtype()),
               " (class indices must be int64)");
      BG_CHECK(targets.shape() == logits.shape(), "cross_entropy: soft targets must have the ",
               "shape of the logits ", logits.shape(), ", got ", targets.shape());
    }
    CrossEntropyResult result = call<CrossEntropyFwd>(logits, targets);
    probs = result.probs;
    target = targets;
    return result.loss;
  }
  std::vector<Tensor> backward(const Tensor& dloss, const std::vector<bool>&) {
    return {call<CrossEntropyBwd>(dloss, probs, target), Tensor()};
  }
};

}  // namespace

void check_class_label(const char* op, int64_t label, int64_t row, int64_t classes) {
  BG_CHECK(label >= 0 && label < classes, op, ": label ", label, " in row ", row,
           " is out of range for K = ", classes, " classes (expected 0 <= label < ", classes,
           ")");
}

Tensor cross_entropy(const Tensor& logits, const Tensor& target) {
  BG_CHECK(logits.defined() && target.defined(), "cross_entropy: logits and target must be defined");
  BG_CHECK(!target.requires_grad(), "cross_entropy: targets receive no gradient; detach() them");
  return apply(CrossEntropy{}, logits, target);
}

}  // namespace bitgrad
