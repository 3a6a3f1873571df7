// Losses: softmax and sigmoid cross-entropy.
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

// loss: 0-d, the mean over N of sum_k [softplus(z) - z * t] for z = logits[n,k], t = t[n,k]:
// K independent binary cross-entropies of sigmoid(z) against t, computed as
// max(z, 0) - z * t + log(1 + exp(-|z|)) so that no exp overflows. target as CrossEntropyFwd's.
BG_KERNEL_SLOT(SigmoidCrossEntropyFwd, Tensor(const Tensor& logits, const Tensor& target));
// dlogits = dloss * (sigmoid(logits) - t) / N.
BG_KERNEL_SLOT(SigmoidCrossEntropyBwd, Tensor(const Tensor& dloss, const Tensor& logits,
                                              const Tensor& target));

// Sigmoid cross-entropy, summed over classes and averaged over rows: BiT-M's upstream loss
// (bit.md §3.4), one binary classifier per class. Summed over classes like big_vision's
// sigmoid_xent; torch.nn.functional.binary_cross_entropy_with_logits's "mean" divides by N * K.
// Arguments as cross_entropy's; soft targets are per-class probabilities (multi-label rows,
// mixup's blends).
Tensor sigmoid_cross_entropy(const Tensor& logits, const Tensor& target);

// Either loss, as a training loop takes it.
using LossFunction = Tensor (*)(const Tensor& logits, const Tensor& target);

// Every backend's check of a class-index target: throws an Error naming `op`, the label and its
// row unless 0 <= label < classes.
void check_class_label(const char* op, int64_t label, int64_t row, int64_t classes);

}  // namespace bitgrad
