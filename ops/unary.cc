#include "ops/unary.h"

#include <algorithm>

#include "autograd/function.h"
#include "ops/reshape.h"

namespace bitgrad {
namespace {

// The kernels take float32 and float64; say so before any is called, with the shape.
void check_floating(const char* op, const Tensor& x) {
  BG_CHECK(x.defined(), op, ": the input tensor is undefined");
  BG_CHECK(x.dtype() == DType::kFloat32 || x.dtype() == DType::kFloat64, op,
           ": expected a float32 or float64 tensor, got ", dtype_name(x.dtype()), " of shape ",
           x.shape());
}

template <UnaryOp op>
struct Unary {
  static constexpr const char* kName = unary_op_name(op);
  SavedTensor saved;  // y, or x for log (unary_grad_uses_output)

  Tensor forward(const Tensor& x) {
    Tensor y = call<UnaryFwd>(x, op);
    saved = unary_grad_uses_output(op) ? y : x;
    return y;
  }
  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>&) {
    return {call<UnaryBwd>(dy, saved, op)};
  }
};

template <UnaryOp op>
Tensor unary(const Tensor& x) {
  check_floating(unary_op_name(op), x);
  return apply(Unary<op>{}, x);
}

template <SoftmaxOp op>
struct Softmax {
  static constexpr const char* kName = softmax_op_name(op);
  int64_t dim;  // in [0, rank)
  SavedTensor y;

  Tensor forward(const Tensor& x) { return y = call<SoftmaxFwd>(x, dim, op); }
  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>&) {
    return {call<SoftmaxBwd>(dy, y, dim, op)};
  }
};

template <SoftmaxOp op>
Tensor softmax_along(const Tensor& x, int64_t dim) {
  const char* name = softmax_op_name(op);
  check_floating(name, x);
  // A 0-d tensor takes dim 0 or -1, as in PyTorch, and is one softmax of one element.
  const int64_t rank = std::max<int64_t>(x.dim(), 1);
  BG_CHECK(dim >= -rank && dim < rank, name, ": dim ", dim, " is out of range for shape ",
           x.shape(), " (expected ", -rank, " <= dim < ", rank, ")");
  if (x.dim() == 0) return reshape(softmax_along<op>(reshape(x, {1}), 0), {});
  return apply(Softmax<op>{dim < 0 ? dim + rank : dim}, x);
}

}  // namespace

Tensor exp(const Tensor& x) { return unary<UnaryOp::kExp>(x); }
Tensor log(const Tensor& x) { return unary<UnaryOp::kLog>(x); }
Tensor sigmoid(const Tensor& x) { return unary<UnaryOp::kSigmoid>(x); }
Tensor tanh(const Tensor& x) { return unary<UnaryOp::kTanh>(x); }

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_along<SoftmaxOp::kSoftmax>(x, dim); }
Tensor log_softmax(const Tensor& x, int64_t dim) {
  return softmax_along<SoftmaxOp::kLogSoftmax>(x, dim);
}

}  // namespace bitgrad
