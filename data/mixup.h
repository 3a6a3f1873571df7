// MixUp as BiT fine-tunes with it (bit.md §3.2, the PyTorch reference):
//   - lam ~ Beta(alpha, alpha) is drawn once per optimizer update; its micro-batches share it;
//   - each micro-batch draws a fresh permutation perm and is trained on
//     x' = lam * x + (1 - lam) * x[perm] (on the already normalized pixels), with
//     loss = lam * CE(logits, y) + (1 - lam) * CE(logits, y[perm]);
//   - alpha = 0 turns it off: nothing is drawn and the batch is used as it is.
// The loss goes through cross_entropy's soft targets lam * onehot(y) + (1 - lam) * onehot(y[perm]),
// which is the same sum because cross-entropy is linear in its target.
#pragma once

#include <cstdint>

#include "core/random.h"
#include "core/tensor.h"

namespace bitgrad {

// Gamma(shape, 1) and Beta(a, b) samples. Beta uses two Gamma draws, X / (X + Y), computed from
// their logarithms so that small shapes (alpha = 0.1 gives X, Y near 0) never divide 0 by 0.
double sample_gamma(double shape, Generator& generator);
double sample_beta(double a, double b, Generator& generator);

struct MixedBatch {
  Tensor images;           // float32 (N, 3, H, W): lam * x + (1 - lam) * x[perm]
  Tensor labels;           // int64 (N): y
  Tensor permuted_labels;  // int64 (N): y[perm]
  // What to pass to cross_entropy: float32 (N, K) soft targets, or the int64 labels when off.
  Tensor targets;
  double lam = 1;
};

// The mixing for a given lam and permutation (int64 (N)). In float32: float(lam) * x +
// float(1 - lam) * x[perm], as torch computes it with a Python-float lam. CPU tensors: mix the
// loader's batch before moving it to the device.
MixedBatch mix_batch(const Tensor& images, const Tensor& labels, const Tensor& permutation,
                     double lam, int64_t num_classes);

class Mixup {
 public:
  explicit Mixup(double alpha);  // alpha >= 0

  bool enabled() const { return alpha_ > 0; }
  // Before each optimizer update's micro-batches: draws lam. Draws nothing when off.
  void start_update(Generator& generator);
  double lam() const { return lam_; }
  // One micro-batch: draws its permutation and mixes. When off, returns the batch unchanged
  // (targets = labels) without drawing.
  MixedBatch apply(const Tensor& images, const Tensor& labels, int64_t num_classes,
                   Generator& generator) const;
  // Draws what apply() would for a micro-batch of `batch_size` images, and discards it: a
  // data-parallel process skips the other processes' micro-batches, so every process's
  // generator stays in step with a one-process run's.
  void skip(int64_t batch_size, Generator& generator) const;

 private:
  double alpha_;
  double lam_ = 1;
};

}  // namespace bitgrad
