// Reference kernels for elementwise ops: plain loops, the specification the fast kernels are
// tested against.
#include "autograd/accumulate_grad.h"
#include "ops/elementwise.h"
#include "ops/ref/broadcast_index.h"
#include "ops/shape_utils.h"

namespace bitgrad::ref {
namespace {

template <typename T>
T apply_binary(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::kAdd: return a + b;
    case BinaryOp::kSub: return a - b;
    case BinaryOp::kMul: return a * b;
    case BinaryOp::kDiv: return a / b;
  }
  return T(0);
}

// out = a (op) b with NumPy broadcasting.
Tensor binary_fwd_ref(const Tensor& a, const Tensor& b, BinaryOp op) {
  Shape shape = broadcast_shapes(binary_op_name(op), a.shape(), b.shape());
  Tensor out = empty(shape, a.dtype());
  BG_DISPATCH_FLOAT(a.dtype(), binary_op_name(op), [&] {
    const scalar_t* pa = a.data<scalar_t>();
    const scalar_t* pb = b.data<scalar_t>();
    scalar_t* po = out.mutable_data<scalar_t>();
    BroadcastIndex ia(a.shape(), shape), ib(b.shape(), shape);
    for (int64_t i = 0; i < out.numel(); ++i, ia.next(), ib.next()) {
      po[i] = apply_binary(op, pa[ia.offset()], pb[ib.offset()]);
    }
  });
  return out;
}

// out = scale * x + shift.
Tensor affine_fwd_ref(const Tensor& x, double scale, double shift) {
  Tensor out = empty_like(x);
  BG_DISPATCH_FLOAT(x.dtype(), "affine", [&] {
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* po = out.mutable_data<scalar_t>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      po[i] = static_cast<scalar_t>(scale) * px[i] + static_cast<scalar_t>(shift);
    }
  });
  return out;
}

// y = max(x, 0).
Tensor relu_fwd_ref(const Tensor& x) {
  Tensor y = empty_like(x);
  BG_DISPATCH_FLOAT(x.dtype(), "relu", [&] {
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* py = y.mutable_data<scalar_t>();
    for (int64_t i = 0; i < x.numel(); ++i) py[i] = px[i] > 0 ? px[i] : scalar_t(0);
  });
  return y;
}

// dx = dy where y > 0, else 0.
Tensor relu_bwd_ref(const Tensor& dy, const Tensor& y) {
  Tensor dx = empty_like(dy);
  BG_DISPATCH_FLOAT(dy.dtype(), "relu backward", [&] {
    const scalar_t* pdy = dy.data<scalar_t>();
    const scalar_t* py = y.data<scalar_t>();
    scalar_t* pdx = dx.mutable_data<scalar_t>();
    for (int64_t i = 0; i < dy.numel(); ++i) pdx[i] = py[i] > 0 ? pdy[i] : scalar_t(0);
  });
  return dx;
}

// The engine's gradient sum is an add.
Tensor accumulate_grad_ref(const Tensor& total, const Tensor& gradient) {
  return binary_fwd_ref(total, gradient, BinaryOp::kAdd);
}

}  // namespace

BG_REGISTER_KERNEL(BinaryFwd, kRef, binary_fwd_ref);
BG_REGISTER_KERNEL(AccumulateGrad, kRef, accumulate_grad_ref);
BG_REGISTER_KERNEL(AffineFwd, kRef, affine_fwd_ref);
BG_REGISTER_KERNEL(ReluFwd, kRef, relu_fwd_ref);
BG_REGISTER_KERNEL(ReluBwd, kRef, relu_bwd_ref);

}  // namespace bitgrad::ref
