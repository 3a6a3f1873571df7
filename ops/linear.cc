#include "ops/linear.h"

#include "autograd/function.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"

namespace bitgrad {
namespace {

void check_same_dtype(const char* op, const Tensor& a, const char* a_name, const Tensor& b,
                      const char* b_name) {
  BG_CHECK(a.dtype() == b.dtype(), op, ": ", a_name, " is ", dtype_name(a.dtype()), " but ",
           b_name, " is ", dtype_name(b.dtype()));
}

struct Matmul {
  static constexpr const char* kName = "matmul";
  SavedTensor a, b;

  Tensor forward(const Tensor& lhs, const Tensor& rhs) {
    BG_CHECK(lhs.dim() == 2 && rhs.dim() == 2 && lhs.size(1) == rhs.size(0), "matmul: expected ",
             "(M, K) @ (K, N), got ", lhs.shape(), " @ ", rhs.shape());
    check_same_dtype("matmul", lhs, "a", rhs, "b");
    a = lhs;
    b = rhs;
    return call<MatmulFwd>(lhs, rhs, false, false);
  }
  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>& needs_grad) {
    Tensor da, db;
    if (needs_grad[0]) da = call<MatmulFwd>(dy, b, false, true);  // dy @ b^T
    if (needs_grad[1]) db = call<MatmulFwd>(a, dy, true, false);  // a^T @ dy
    return {da, db};
  }
};

struct Linear {
  static constexpr const char* kName = "linear";
  SavedTensor x, w;

  Tensor forward(const Tensor& input, const Tensor& weight, const Tensor& bias) {
    BG_CHECK(input.dim() == 2 && weight.dim() == 2 && input.size(1) == weight.size(1),
             "linear: expected input (N, in) and weight (out, in), got ", input.shape(), " and ",
             weight.shape());
    check_same_dtype("linear", input, "input", weight, "weight");
    x = input;
    w = weight;
    Tensor y = call<MatmulFwd>(input, weight, false, true);
    if (!bias.defined()) return y;
    BG_CHECK(bias.shape() == Shape{weight.size(0)}, "linear: expected bias of shape (",
             weight.size(0), "), got ", bias.shape());
    check_same_dtype("linear", input, "input", bias, "bias");
    return call<BinaryFwd>(y, bias, BinaryOp::kAdd);
  }
  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>& needs_grad) {
    Tensor dx, dw, db;
    if (needs_grad[0]) dx = call<MatmulFwd>(dy, w, false, false);  // dy @ w
    if (needs_grad[1]) dw = call<MatmulFwd>(dy, x, true, false);   // dy^T @ x
    if (needs_grad[2]) db = call<SumFwd>(dy, std::vector<int64_t>{0}, false);
    return {dx, dw, db};
  }
};

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  BG_CHECK(a.defined() && b.defined(), "matmul: an input tensor is undefined");
  return apply(Matmul{}, a, b);
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias) {
  BG_CHECK(x.defined() && w.defined(), "linear: input and weight must be defined");
  return apply(Linear{}, x, w, bias);
}

}  // namespace bitgrad
