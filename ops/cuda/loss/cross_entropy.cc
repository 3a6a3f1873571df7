// The kCuda kernels of CrossEntropyFwd/Bwd and SigmoidCrossEntropyFwd/Bwd (ops/loss.h).
#include "core/cuda/cuda_stream.h"
#include "ops/cuda/common/gpu_check.h"
#include "ops/cuda/loss/cross_entropy_kernels.h"
#include "ops/loss.h"

namespace bitgrad::cuda_ops {
namespace {

bool is_class_indices(const Tensor& target) { return target.dtype() == DType::kInt64; }

// The target as the kernels take it: int64 labels or soft rows, the other one null.
const int64_t* labels_of(const Tensor& target) {
  return is_class_indices(target) ? target.data<int64_t>() : nullptr;
}
template <typename T>
const T* soft_rows_of(const Tensor& target) {
  return is_class_indices(target) ? nullptr : target.data<T>();
}

// What the forward kernels write besides the loss: a double loss per row, and the first row
// whose label is outside [0, K) (N when every label is valid).
class RowLossScratch {
 public:
  explicit RowLossScratch(const Tensor& logits)
      : rows_(logits.size(0)),
        classes_(logits.size(1)),
        row_losses_(empty({rows_}, DType::kFloat64, logits.device())),
        first_bad_row_(from_vector<int64_t>({rows_}, {1}, logits.device())) {}
  double* row_losses() { return row_losses_.mutable_data<double>(); }
  unsigned long long* first_bad_row() {
    return reinterpret_cast<unsigned long long*>(first_bad_row_.mutable_data<int64_t>());
  }
  // The reference kernels' error for the recorded row; reading it back waits for the GPU (the
  // training loop reads the loss each step anyway).
  void check_labels(const char* op, const Tensor& target) const {
    if (!is_class_indices(target)) return;
    const int64_t bad_row = first_bad_row_.item<int64_t>();
    if (bad_row < rows_) {
      check_class_label(op, target.to(Device::cpu()).data<int64_t>()[bad_row], bad_row, classes_);
    }
  }

 private:
  int64_t rows_, classes_;
  Tensor row_losses_, first_bad_row_;
};

// logits (N, K) plain on a CUDA device; target int64 (N) or soft (N, K). As cross_entropy_fwd_ref,
// including its error for a label outside [0, K).
CrossEntropyResult cross_entropy_fwd_cuda(const Tensor& logits, const Tensor& target) {
  RowLossScratch scratch(logits);
  CrossEntropyResult result{empty({}, logits.dtype(), logits.device()), empty_like(logits)};
  BG_DISPATCH_FLOAT(logits.dtype(), "cross_entropy", [&] {
    CUDA_OP_CHECK("CrossEntropyFwd",
                  launch_cross_entropy_fwd(logits.data<scalar_t>(), labels_of(target),
                                           soft_rows_of<scalar_t>(target), logits.size(0),
                                           logits.size(1), result.probs.mutable_data<scalar_t>(),
                                           result.loss.mutable_data<scalar_t>(),
                                           scratch.row_losses(), scratch.first_bad_row(),
                                           cuda_stream(logits.device().index)));
  });
  scratch.check_labels("cross_entropy", target);
  return result;
}

Tensor cross_entropy_bwd_cuda(const Tensor& dloss, const Tensor& probs, const Tensor& target) {
  Tensor dlogits = empty_like(probs);
  BG_DISPATCH_FLOAT(probs.dtype(), "cross_entropy backward", [&] {
    CUDA_OP_CHECK("CrossEntropyBwd",
                  launch_cross_entropy_bwd(dloss.data<scalar_t>(), probs.data<scalar_t>(),
                                           labels_of(target), soft_rows_of<scalar_t>(target),
                                           probs.size(0), probs.size(1),
                                           dlogits.mutable_data<scalar_t>(),
                                           cuda_stream(probs.device().index)));
  });
  return dlogits;
}

// As sigmoid_cross_entropy_fwd_ref, on a CUDA device.
Tensor sigmoid_cross_entropy_fwd_cuda(const Tensor& logits, const Tensor& target) {
  RowLossScratch scratch(logits);
  Tensor loss = empty({}, logits.dtype(), logits.device());
  BG_DISPATCH_FLOAT(logits.dtype(), "sigmoid_cross_entropy", [&] {
    CUDA_OP_CHECK("SigmoidCrossEntropyFwd",
                  launch_sigmoid_cross_entropy_fwd(
                      logits.data<scalar_t>(), labels_of(target), soft_rows_of<scalar_t>(target),
                      logits.size(0), logits.size(1), loss.mutable_data<scalar_t>(),
                      scratch.row_losses(), scratch.first_bad_row(),
                      cuda_stream(logits.device().index)));
  });
  scratch.check_labels("sigmoid_cross_entropy", target);
  return loss;
}

Tensor sigmoid_cross_entropy_bwd_cuda(const Tensor& dloss, const Tensor& logits,
                                      const Tensor& target) {
  Tensor dlogits = empty_like(logits);
  BG_DISPATCH_FLOAT(logits.dtype(), "sigmoid_cross_entropy backward", [&] {
    CUDA_OP_CHECK("SigmoidCrossEntropyBwd",
                  launch_sigmoid_cross_entropy_bwd(
                      dloss.data<scalar_t>(), logits.data<scalar_t>(), labels_of(target),
                      soft_rows_of<scalar_t>(target), logits.size(0), logits.size(1),
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
