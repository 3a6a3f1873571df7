// The kCuda kernels of CrossEntropyFwd/Bwd and SigmoidCrossEntropyFwd/Bwd (ops/loss.h).
#include "core/cuda/cuda_stream.h"
#include "ops/cuda/common/gpu_check.h"
#include "ops/cuda/common/gpu_context.h"
#include "ops/cuda/loss/cross_entropy_kernels.h"
#include "ops/loss.h"

namespace bitgrad::cuda_ops {
namespace {

bool is_class_indices(const Tensor& target) { return target.dtype() == DType::kInt64; }

// The reference kernels' error for the first row whose label is outside [0, K), which the
// forward kernels record; reading it back waits for the GPU (the training loop reads the loss
// each step anyway).
void check_first_bad_row(const char* op, const Tensor& target, const Tensor& first_bad_row,
                         int64_t rows, int64_t classes) {
  if (!is_class_indices(target)) return;
  const int64_t bad_row = first_bad_row.item<int64_t>();
  if (bad_row < rows) {
    check_class_label(op, target.to(Device::cpu()).data<int64_t>()[bad_row], bad_row, classes);
  }
}

// logits (N, K) plain on a CUDA device; target int64 (N) or soft (N, K). As cross_entropy_fwd_ref,
// including its error for a label outside [0, K).
CrossEntropyResult cross_entropy_fwd_cuda(const Tensor& logits, const Tensor& target) {
  const char* op = "CrossEntropyFwd";
  const int64_t rows = logits.size(0), classes = logits.size(1);
  checked_int(op, rows, "the number of rows N");
  CrossEntropyResult result{empty({}, logits.dtype(), logits.device()), empty_like(logits)};
  Tensor row_losses = empty({rows}, DType::kFloat64, logits.device());
  Tensor first_bad_row = from_vector<int64_t>({rows}, {1}, logits.device());
  const bool labels = is_class_indices(target);
  BG_DISPATCH_FLOAT(logits.dtype(), "cross_entropy", [&] {
    CUDA_OP_CHECK(op, launch_cross_entropy_fwd(
                          logits.data<scalar_t>(), labels ? target.data<int64_t>() : nullptr,
                          labels ? nullptr : target.data<scalar_t>(), rows, classes,
                          result.probs.mutable_data<scalar_t>(),
                          result.loss.mutable_data<scalar_t>(), row_losses.mutable_data<double>(),
                          reinterpret_cast<unsigned long long*>(first_bad_row.mutable_data<int64_t>()),
                          cuda_stream(logits.device().index)));
  });
  check_first_bad_row("cross_entropy", target, first_bad_row, rows, classes);
  return result;
}

Tensor cross_entropy_bwd_cuda(const Tensor& dloss, const Tensor& probs, const Tensor& target) {
  const bool labels = is_class_indices(target);
  Tensor dlogits = empty_like(probs);
  BG_DISPATCH_FLOAT(probs.dtype(), "cross_entropy backward", [&] {
    CUDA_OP_CHECK("CrossEntropyBwd",
                  launch_cross_entropy_bwd(
                      dloss.data<scalar_t>(), probs.data<scalar_t>(),
                      labels ? target.data<int64_t>() : nullptr,
                      labels ? nullptr : target.data<scalar_t>(), probs.size(0), probs.size(1),
                      dlogits.mutable_data<scalar_t>(), cuda_stream(probs.device().index)));
  });
  return dlogits;
}

// As sigmoid_cross_entropy_fwd_ref, on a CUDA device.
Tensor sigmoid_cross_entropy_fwd_cuda(const Tensor& logits, const Tensor& target) {
  const char* op = "SigmoidCrossEntropyFwd";
  const int64_t rows = logits.size(0), classes = logits.size(1);
  checked_int(op, rows, "the number of rows N");
  Tensor loss = empty({}, logits.dtype(), logits.device());
  Tensor row_losses = empty({rows}, DType::kFloat64, logits.device());
  Tensor first_bad_row = from_vector<int64_t>({rows}, {1}, logits.device());
  const bool labels = is_class_indices(target);
  BG_DISPATCH_FLOAT(logits.dtype(), "sigmoid_cross_entropy", [&] {
    CUDA_OP_CHECK(op, launch_sigmoid_cross_entropy_fwd(
                          logits.data<scalar_t>(), labels ? target.data<int64_t>() : nullptr,
                          labels ? nullptr : target.data<scalar_t>(), rows, classes,
                          loss.mutable_data<scalar_t>(), row_losses.mutable_data<double>(),
                          reinterpret_cast<unsigned long long*>(first_bad_row.mutable_data<int64_t>()),
                          cuda_stream(logits.device().index)));
  });
  check_first_bad_row("sigmoid_cross_entropy", target, first_bad_row, rows, classes);
  return loss;
}

Tensor sigmoid_cross_entropy_bwd_cuda(const Tensor& dloss, const Tensor& logits,
                                      const Tensor& target) {
  const bool labels = is_class_indices(target);
  Tensor dlogits = empty_like(logits);
  BG_DISPATCH_FLOAT(logits.dtype(), "sigmoid_cross_entropy backward", [&] {
    CUDA_OP_CHECK("SigmoidCrossEntropyBwd",
                  launch_sigmoid_cross_entropy_bwd(
                      dloss.data<scalar_t>(), logits.data<scalar_t>(),
                      labels ? target.data<int64_t>() : nullptr,
                      labels ? nullptr : target.data<scalar_t>(), logits.size(0), logits.size(1),
                      dlogits.mutable_data<scalar_t>(), cuda_stream(logits.device().index)));
  });
  return dlogits;
}

}  // namespace

BG_REGISTER_KERNEL(CrossEntropyFwd, kCuda, cross_entropy_fwd_cuda);
BG_REGISTER_KERNEL(CrossEntropyBwd, kCuda, cross_entropy_bwd_cuda);
BG_REGISTER_KERNEL(SigmoidCrossEntropyFwd, kCuda, sigmoid_cross_entropy_fwd_cuda);
BG_REGISTER_KERNEL(SigmoidCrossEntropyBwd, kCuda, sigmoid_cross_entropy_bwd_cuda);

}  // namespace bitgrad::cuda_ops
