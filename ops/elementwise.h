// Elementwise arithmetic: add, sub, mul, div with NumPy broadcasting, scalar forms, relu.
#pragma once

#include "core/dispatch.h"
#include "core/tensor.h"

namespace bitgrad {

enum class BinaryOp : uint8_t { kAdd, kSub, kMul, kDiv };
constexpr const char* binary_op_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd: return "add";
    case BinaryOp::kSub: return "sub";
    case BinaryOp::kMul: return "mul";
    case BinaryOp::kDiv: return "div";
  }
  return "binary";
}

// out = a (op) b, broadcast to broadcast_shapes(a, b). Same dtype for a and b. Overwrites out.
BG_KERNEL_SLOT(BinaryFwd, Tensor(const Tensor& a, const Tensor& b, BinaryOp op));
// out = scale * x + shift. Overwrites out.
BG_KERNEL_SLOT(AffineFwd, Tensor(const Tensor& x, double scale, double shift));
// y = max(x, 0).
BG_KERNEL_SLOT(ReluFwd, Tensor(const Tensor& x));
// dx = dy where y > 0, else 0. Uses the output y, so x need not be kept.
BG_KERNEL_SLOT(ReluBwd, Tensor(const Tensor& dy, const Tensor& y));

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
// scale * x + shift, the one scalar op; the scalar forms below are spelled with it.
Tensor affine(const Tensor& x, double scale, double shift);
// max(x, 0), with NaN mapped to 0 on every backend, as oneDNN's relu does (PyTorch keeps NaN);
// so does group_norm's fused relu.
Tensor relu(const Tensor& x);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& x) { return affine(x, -1.0, 0.0); }
inline Tensor operator+(const Tensor& x, double s) { return affine(x, 1.0, s); }
inline Tensor operator+(double s, const Tensor& x) { return affine(x, 1.0, s); }
inline Tensor operator-(const Tensor& x, double s) { return affine(x, 1.0, -s); }
inline Tensor operator-(double s, const Tensor& x) { return affine(x, -1.0, s); }
inline Tensor operator*(const Tensor& x, double s) { return affine(x, s, 0.0); }
inline Tensor operator*(double s, const Tensor& x) { return affine(x, s, 0.0); }
inline Tensor operator/(const Tensor& x, double s) { return affine(x, 1.0 / s, 0.0); }

}  // namespace bitgrad
