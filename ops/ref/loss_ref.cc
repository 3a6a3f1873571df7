// Reference kernels for softmax cross-entropy (log-softmax with the row max subtracted) and
// sigmoid cross-entropy (softplus without overflow); sums in double. Also the CPU's sigmoid
// cross-entropy: its (N, K) loops are too small to need a kernel of their own.
#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/loss.h"

namespace bitgrad::ref {
namespace {

// The class index of row n of int64 labels (N), checked against the K classes.
int64_t checked_label(const int64_t* labels, int64_t n, int64_t classes,
                      const char* op = "cross_entropy") {
  check_class_label(op, labels[n], n, classes);
  return labels[n];
}

// Row n of `target` as K doubles: one-hot for class indices, else the soft row.
template <typename T>
void target_row(const Tensor& target, int64_t n, int64_t classes, const char* op,
                std::vector<double>& t) {
  if (target.dtype() == DType::kInt64) {
    t.assign(classes, 0.0);
    t[checked_label(target.data<int64_t>(), n, classes, op)] = 1.0;
  } else {
    const T* row = target.data<T>() + n * classes;
    t.assign(row, row + classes);
  }
}

// logits: (N, K) plain; target: int64 class indices (N), or soft targets (N, K) in the logits'
// dtype. Returns loss (0-d, the mean over rows of -sum_k t[n,k] * log_softmax[n,k]) and probs
// (N, K), the softmax, saved for backward. Soft-target terms with t = 0 are skipped, so a
// one-hot row gives exactly the class-index loss even where log_softmax underflows to -inf.
// Overwrites all outputs.
CrossEntropyResult cross_entropy_fwd_ref(const Tensor& logits, const Tensor& target) {
  int64_t rows = logits.size(0), classes = logits.size(1);
  bool class_indices = target.dtype() == DType::kInt64;
  CrossEntropyResult result{empty({}, logits.dtype()), empty_like(logits)};
  BG_DISPATCH_FLOAT(logits.dtype(), "cross_entropy", [&] {
    const scalar_t* px = logits.data<scalar_t>();
    scalar_t* pprobs = result.probs.mutable_data<scalar_t>();
    double total = 0;
    for (int64_t n = 0; n < rows; ++n) {
      const scalar_t* row = px + n * classes;
      double row_max = row[0];
      for (int64_t k = 1; k < classes; ++k) row_max = std::max<double>(row_max, row[k]);
      double sum_exp = 0;
      for (int64_t k = 0; k < classes; ++k) sum_exp += std::exp(row[k] - row_max);
      double log_sum_exp = row_max + std::log(sum_exp);
      for (int64_t k = 0; k < classes; ++k) {
        pprobs[n * classes + k] = static_cast<scalar_t>(std::exp(row[k] - log_sum_exp));
      }
      if (class_indices) {
        int64_t label = checked_label(target.data<int64_t>(), n, classes);
        total -= row[label] - log_sum_exp;
      } else {
        const scalar_t* t = target.data<scalar_t>() + n * classes;
        for (int64_t k = 0; k < classes; ++k) {
          if (t[k] != 0) total -= t[k] * (row[k] - log_sum_exp);
        }
      }
    }
    result.loss.mutable_data<scalar_t>()[0] = static_cast<scalar_t>(total / rows);
  });
  return result;
}

// dloss: 0-d; probs: (N, K) from forward; target as in forward. Returns dlogits (N, K):
//   dloss * (probs * sum_k t - t) / N, with t one-hot for class indices.
// Overwrites the output.
Tensor cross_entropy_bwd_ref(const Tensor& dloss, const Tensor& probs, const Tensor& target) {
  int64_t rows = probs.size(0), classes = probs.size(1);
  Tensor dlogits = empty_like(probs);
  BG_DISPATCH_FLOAT(probs.dtype(), "cross_entropy backward", [&] {
    double scale = static_cast<double>(dloss.data<scalar_t>()[0]) / rows;
    const scalar_t* pprobs = probs.data<scalar_t>();
    scalar_t* pd = dlogits.mutable_data<scalar_t>();
    std::vector<double> t;
    for (int64_t n = 0; n < rows; ++n) {
      target_row<scalar_t>(target, n, classes, "cross_entropy", t);
      double target_mass = 0;
      for (double v : t) target_mass += v;
      for (int64_t k = 0; k < classes; ++k) {
        int64_t i = n * classes + k;
        pd[i] = static_cast<scalar_t>(scale * (pprobs[i] * target_mass - t[k]));
      }
    }
  });
  return dlogits;
}

// logits: (N, K) plain; target as in cross_entropy_fwd_ref. Returns the 0-d mean over rows of
// sum_k max(z, 0) - z * t + log1p(exp(-|z|)), which is softplus(z) - z * t without overflow.
Tensor sigmoid_cross_entropy_fwd_ref(const Tensor& logits, const Tensor& target) {
  const int64_t rows = logits.size(0), classes = logits.size(1);
  Tensor loss = empty({}, logits.dtype());
  BG_DISPATCH_FLOAT(logits.dtype(), "sigmoid_cross_entropy", [&] {
    const scalar_t* px = logits.data<scalar_t>();
    std::vector<double> t;
    double total = 0;
    for (int64_t n = 0; n < rows; ++n) {
      target_row<scalar_t>(target, n, classes, "sigmoid_cross_entropy", t);
      for (int64_t k = 0; k < classes; ++k) {
        const double z = px[n * classes + k];
        total += std::max(z, 0.0) - z * t[k] + std::log1p(std::exp(-std::abs(z)));
      }
    }
    loss.mutable_data<scalar_t>()[0] = static_cast<scalar_t>(total / rows);
  });
  return loss;
}

// dloss: 0-d; logits and target as in forward. Returns dlogits = dloss * (sigmoid(z) - t) / N.
Tensor sigmoid_cross_entropy_bwd_ref(const Tensor& dloss, const Tensor& logits,
                                     const Tensor& target) {
  const int64_t rows = logits.size(0), classes = logits.size(1);
  Tensor dlogits = empty_like(logits);
  BG_DISPATCH_FLOAT(logits.dtype(), "sigmoid_cross_entropy backward", [&] {
    const double scale = static_cast<double>(dloss.data<scalar_t>()[0]) / rows;
    const scalar_t* px = logits.data<scalar_t>();
    scalar_t* pd = dlogits.mutable_data<scalar_t>();
    std::vector<double> t;
    for (int64_t n = 0; n < rows; ++n) {
      target_row<scalar_t>(target, n, classes, "sigmoid_cross_entropy", t);
      for (int64_t k = 0; k < classes; ++k) {
        const int64_t i = n * classes + k;
        const double sigmoid = 1 / (1 + std::exp(-static_cast<double>(px[i])));
        pd[i] = static_cast<scalar_t>(scale * (sigmoid - t[k]));
      }
    }
  });
  return dlogits;
}

}  // namespace

BG_REGISTER_KERNEL(CrossEntropyFwd, kRef, cross_entropy_fwd_ref);
BG_REGISTER_KERNEL(CrossEntropyBwd, kRef, cross_entropy_bwd_ref);
BG_REGISTER_KERNEL(SigmoidCrossEntropyFwd, kRef, sigmoid_cross_entropy_fwd_ref);
BG_REGISTER_KERNEL(SigmoidCrossEntropyBwd, kRef, sigmoid_cross_entropy_bwd_ref);

}  // namespace bitgrad::ref
