// Softmax cross-entropy kernels for the CPU. Logits are small (N x classes), so these are plain
// loops, parallel over rows (OpenMP) once a batch is big enough to pay for the threads. Each row
// is reduced in double with a stable log-softmax (the row max is subtracted before exp), and the
// mean over rows is summed in row order, so results do not depend on the thread count.
#include <cmath>
#include <vector>

#include "core/check.h"
#include "ops/loss.h"

namespace bitgrad::cpu {
namespace {

constexpr int64_t kParallelMinElements = 1 << 14;

struct LogitsShape {
  int64_t rows, classes;
};

// Checks what the kernels rely on: (N, K) logits and int64 (N) labels in [0, K), or soft
// targets shaped and typed like the logits.
LogitsShape check_inputs(const char* op, const Tensor& logits, const Tensor& target) {
  BG_CHECK(logits.dim() == 2 && logits.size(0) > 0 && logits.size(1) > 0, op,
           ": expected logits of shape (N, K), got ", logits.shape());
  const LogitsShape shape{logits.size(0), logits.size(1)};
  if (target.dtype() == DType::kInt64) {
    BG_CHECK(target.shape() == Shape{shape.rows}, op, ": class-index targets must have shape (",
             shape.rows, "), got ", target.shape());
    const int64_t* labels = target.data<int64_t>();
    for (int64_t n = 0; n < shape.rows; ++n) check_class_label(op, labels[n], n, shape.classes);
  } else {
    BG_CHECK(target.dtype() == logits.dtype() && target.shape() == logits.shape(), op,
             ": soft targets must match the logits ", logits.shape(), " ",
             dtype_name(logits.dtype()), ", got ", target.shape(), " ", dtype_name(target.dtype()));
  }
  return shape;
}

// Row loops. Pragmas cannot sit inside BG_DISPATCH_FLOAT's macro argument, hence templates.
// labels: int64 (N) or null; soft: (N, K) or null (exactly one is given).
template <typename T>
double cross_entropy_rows(LogitsShape shape, const T* logits, const int64_t* labels, const T* soft,
                          T* probs) {
  const int64_t K = shape.classes;
  std::vector<double> row_loss(shape.rows);
#pragma omp parallel for schedule(static) if (shape.rows * K >= kParallelMinElements)
  for (int64_t n = 0; n < shape.rows; ++n) {
    const T* z = logits + n * K;
    T* p = probs + n * K;
    double max = z[0];
    for (int64_t k = 1; k < K; ++k) max = z[k] > max ? double(z[k]) : max;
    double sum_exp = 0;
    for (int64_t k = 0; k < K; ++k) sum_exp += std::exp(z[k] - max);
    const double log_sum_exp = max + std::log(sum_exp);
    for (int64_t k = 0; k < K; ++k) p[k] = static_cast<T>(std::exp(z[k] - log_sum_exp));
    // -sum_k t_k * log_softmax(z)_k = sum_k t_k * (log_sum_exp - z_k)
    double loss = 0;
    if (labels) {
      loss = log_sum_exp - z[labels[n]];
    } else {
      const T* t = soft + n * K;
      // Terms with t = 0 are skipped, so a one-hot row gives exactly the class-index loss.
      for (int64_t k = 0; k < K; ++k) {
        if (t[k] != 0) loss += t[k] * (log_sum_exp - z[k]);
      }
    }
    row_loss[n] = loss;
  }
  double total = 0;
  for (double loss : row_loss) total += loss;
  return total / shape.rows;
}

// dz = scale * (p * sum_k t - t), t one-hot for labels.
template <typename T>
void cross_entropy_grad_rows(LogitsShape shape, double scale, const T* probs, const int64_t* labels,
                             const T* soft, T* dlogits) {
  const int64_t K = shape.classes;
#pragma omp parallel for schedule(static) if (shape.rows * K >= kParallelMinElements)
  for (int64_t n = 0; n < shape.rows; ++n) {
    const T* p = probs + n * K;
    T* dz = dlogits + n * K;
    if (labels) {
      for (int64_t k = 0; k < K; ++k) dz[k] = static_cast<T>(scale * p[k]);
      dz[labels[n]] = static_cast<T>(scale * (double(p[labels[n]]) - 1.0));
    } else {
      const T* t = soft + n * K;
      double t_sum = 0;
      for (int64_t k = 0; k < K; ++k) t_sum += t[k];
      for (int64_t k = 0; k < K; ++k) dz[k] = static_cast<T>(scale * (p[k] * t_sum - t[k]));
    }
  }
}

// logits: (N, K); target: int64 (N) or soft (N, K). Returns the 0-d mean loss and the softmax
// probs (N, K) that backward needs. Overwrites all outputs.
CrossEntropyResult cross_entropy_fwd_cpu(const Tensor& logits, const Tensor& target) {
  const LogitsShape shape = check_inputs("cross_entropy", logits, target);
  const bool hard = target.dtype() == DType::kInt64;
  CrossEntropyResult result;
  result.probs = empty_like(logits);
  BG_DISPATCH_FLOAT(logits.dtype(), "cross_entropy", [&] {
    const double loss = cross_entropy_rows<scalar_t>(
        shape, logits.data<scalar_t>(), hard ? target.data<int64_t>() : nullptr,
        hard ? nullptr : target.data<scalar_t>(), result.probs.mutable_data<scalar_t>());
    result.loss = scalar_tensor(loss, logits.dtype());
  });
  return result;
}

// dloss: 0-d; probs: (N, K) from forward; target as in forward. Returns
// dlogits = dloss * (probs * sum_k t - t) / N (t one-hot for class indices). Overwrites it.
Tensor cross_entropy_bwd_cpu(const Tensor& dloss, const Tensor& probs, const Tensor& target) {
  const LogitsShape shape = check_inputs("cross_entropy backward", probs, target);
  BG_CHECK(dloss.numel() == 1, "cross_entropy backward: expected a one-element dloss, got ",
           dloss.shape());
  const bool hard = target.dtype() == DType::kInt64;
  const double scale = dloss.item<double>() / shape.rows;
  Tensor dlogits = empty_like(probs);
  BG_DISPATCH_FLOAT(probs.dtype(), "cross_entropy backward", [&] {
    cross_entropy_grad_rows<scalar_t>(
        shape, scale, probs.data<scalar_t>(), hard ? target.data<int64_t>() : nullptr,
        hard ? nullptr : target.data<scalar_t>(), dlogits.mutable_data<scalar_t>());
  });
  return dlogits;
}

}  // namespace

BG_REGISTER_KERNEL(CrossEntropyFwd, kCpu, cross_entropy_fwd_cpu);
BG_REGISTER_KERNEL(CrossEntropyBwd, kCpu, cross_entropy_bwd_cpu);

}  // namespace bitgrad::cpu
