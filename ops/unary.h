// Elementwise math (exp, log, sigmoid, tanh) and softmax, log_softmax along one dim.
//
// These names also exist for scalars (std::exp, ::log). Inside namespace bitgrad they hide the C
// library's, so code there writes std::exp(v) for a number; outside it, exp(tensor) and
// exp(2.0) both resolve as expected (argument-dependent lookup finds these).
#pragma once

#include <cstdint>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace bitgrad {

enum class UnaryOp : uint8_t { kExp, kLog, kSigmoid, kTanh };
constexpr const char* unary_op_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::kExp: return "exp";
    case UnaryOp::kLog: return "log";
    case UnaryOp::kSigmoid: return "sigmoid";
    case UnaryOp::kTanh: return "tanh";
  }
  return "unary";
}
// Whether backward reads the output y (exp' = y, sigmoid' = y (1 - y), tanh' = 1 - y^2) rather
// than the input x (log' = 1 / x): then x need not be kept.
constexpr bool unary_grad_uses_output(UnaryOp op) { return op != UnaryOp::kLog; }

enum class SoftmaxOp : uint8_t { kSoftmax, kLogSoftmax };
constexpr const char* softmax_op_name(SoftmaxOp op) {
  return op == SoftmaxOp::kSoftmax ? "softmax" : "log_softmax";
}

// y = op(x) elementwise, same shape and dtype. Overwrites y.
BG_KERNEL_SLOT(UnaryFwd, Tensor(const Tensor& x, UnaryOp op));
// dx = dy * op'(x), from `saved`: y = op(x) where unary_grad_uses_output(op), else x. Overwrites
// dx.
BG_KERNEL_SLOT(UnaryBwd, Tensor(const Tensor& dy, const Tensor& saved, UnaryOp op));
// y = softmax(x) or log_softmax(x) along `dim` (0 <= dim < x.dim()), with the maximum along dim
// subtracted before exp. Overwrites y.
BG_KERNEL_SLOT(SoftmaxFwd, Tensor(const Tensor& x, int64_t dim, SoftmaxOp op));
// dx from dy and the forward's output y, sums along `dim`: softmax: y * (dy - sum(dy * y));
// log_softmax: dy - exp(y) * sum(dy). Overwrites dx.
BG_KERNEL_SLOT(SoftmaxBwd,
               Tensor(const Tensor& dy, const Tensor& y, int64_t dim, SoftmaxOp op));


// Elementwise, float32 or float64. log(0) = -inf and log(x < 0) = NaN, as in PyTorch.
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);

// Along `dim` (negative dims count from the back), float32 or float64; numerically stable, so
// softmax of (1000, 1001) is (0.269, 0.731), not NaN.
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

}  // namespace bitgrad
