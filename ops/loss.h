// Losses.
#pragma once

#include "core/dispatch.h"
#include "core/tensor.h"

namespace bitgrad {

// loss: 0-d, the mean over N of -sum_k t[n,k] * log_softmax(logits)[n,k]; probs: the softmax,
// kept for backward. target is int64 class indices (N), or float soft targets (N, K) such as
// mixup's blended one-hot rows.
struct CrossEntropyResult {
  Tensor loss, probs;
};
BG_KERNEL_SLOT(CrossEntropyFwd, CrossEntropyResult(const Tensor& logits, const Tensor& target));
// dlogits = dloss * (probs * sum_k t - t) / N; for class indices t is one-hot.
BG_KERNEL_SLOT(CrossEntropyBwd, Tensor(const Tensor& dloss, const Tensor& probs,
                                       const Tensor& target));

// Softmax cross-entropy with mean reduction, as torch.nn.functional.cross_entropy. logits:
// (N, K). target: int64 (N) with values in [0, K), or float (N, K) probabilities. Targets
// receive no gradient.
Tensor cross_entropy(const Tensor& logits, const Tensor& target);

// Every backend's check of a class-index target: throws an Error naming `op`, the label and its
// row unless 0 <= label < classes.
void check_class_label(const char* op, int64_t label, int64_t row, int64_t classes);

}  // namespace bitgrad
