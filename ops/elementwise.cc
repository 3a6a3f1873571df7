#include "ops/elementwise.h"

#include "autograd/function.h"
#include "ops/reduce.h"
#include "ops/shape_utils.h"

namespace bitgrad {

namespace {

template <BinaryOp op>
struct Binary {
  static constexpr const char* kName = binary_op_name(op);
  Shape a_shape, b_shape;  // given when the struct is made, not set by forward (core/shape.h)
  SavedTensor a, b;        // saved only where the gradient needs them (mul, div)

  Tensor forward(const Tensor& lhs, const Tensor& rhs) {
    BG_CHECK(lhs.dtype() == rhs.dtype(), kName, ": expected tensors of one dtype, got ",
             dtype_name(lhs.dtype()), " ", lhs.shape(), " and ", dtype_name(rhs.dtype()), " ",
             rhs.shape());
    broadcast_shapes(kName, lhs.shape(), rhs.shape());
    if (op == BinaryOp::kMul || op == BinaryOp::kDiv) {
      a = lhs;
      b = rhs;
    }
    return call<BinaryFwd>(lhs, rhs, op);
  }

  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>& needs_grad) {
    Tensor da, db;
    switch (op) {
      case BinaryOp::kAdd:
        if (needs_grad[0]) da = sum_to(dy, a_shape);
        if (needs_grad[1]) db = sum_to(dy, b_shape);
        break;
      case BinaryOp::kSub:
        if (needs_grad[0]) da = sum_to(dy, a_shape);
        if (needs_grad[1]) db = call<AffineFwd>(sum_to(dy, b_shape), -1.0, 0.0);
        break;
      case BinaryOp::kMul:
        if (needs_grad[0]) da = sum_to(call<BinaryFwd>(dy, b, BinaryOp::kMul), a_shape);
        if (needs_grad[1]) db = sum_to(call<BinaryFwd>(dy, a, BinaryOp::kMul), b_shape);
        break;
      case BinaryOp::kDiv: {
        // d(a/b)/da = 1/b; d(a/b)/db = -a/b^2 = -(a/b)/b.
        Tensor dy_over_b = call<BinaryFwd>(dy, b, BinaryOp::kDiv);
        if (needs_grad[0]) da = sum_to(dy_over_b, a_shape);
        if (needs_grad[1]) {
          Tensor a_over_b = call<BinaryFwd>(a, b, BinaryOp::kDiv);
          Tensor dy_a_over_b2 = call<BinaryFwd>(dy_over_b, a_over_b, BinaryOp::kMul);
          db = sum_to(call<AffineFwd>(dy_a_over_b2, -1.0, 0.0), b_shape);
        }
        break;
      }
    }
    return {da, db};
  }
};

template <BinaryOp op>
Tensor binary(const Tensor& a, const Tensor& b) {
  BG_CHECK(a.defined() && b.defined(), binary_op_name(op), ": an input tensor is undefined");
  return apply(Binary<op>{a.shape(), b.shape()}, a, b);
}

struct Affine {
  static constexpr const char* kName = "affine";
  double scale, shift;

  Tensor forward(const Tensor& x) { return call<AffineFwd>(x, scale, shift); }
  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>&) {
    return {call<AffineFwd>(dy, scale, 0.0)};
  }
};

struct Relu {
  static constexpr const char* kName = "relu";
  SavedTensor y;

  Tensor forward(const Tensor& x) { return y = call<ReluFwd>(x); }
  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>&) {
    return {call<ReluBwd>(dy, y)};
  }
};

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary<BinaryOp::kAdd>(a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary<BinaryOp::kSub>(a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary<BinaryOp::kMul>(a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary<BinaryOp::kDiv>(a, b); }

Tensor affine(const Tensor& x, double scale, double shift) {
  BG_CHECK(x.defined(), "affine: the input tensor is undefined");
  return apply(Affine{scale, shift}, x);
}

Tensor relu(const Tensor& x) {
  BG_CHECK(x.defined(), "relu: the input tensor is undefined");
  return apply(Relu{}, x);
}

}  // namespace bitgrad
