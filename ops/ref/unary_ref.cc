// Reference kernels for exp, log, sigmoid, tanh and softmax, log_softmax: plain loops, the
// specification the fast kernels are tested against. Softmax sums in double.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/shape_utils.h"
#include "ops/unary.h"

namespace bitgrad::ref {
namespace {

template <typename T>
T unary_value(UnaryOp op, T x) {
  switch (op) {
    case UnaryOp::kExp: return std::exp(x);
    case UnaryOp::kLog: return std::log(x);
    case UnaryOp::kSigmoid: return T(1) / (T(1) + std::exp(-x));  // exp(-x) = inf gives 0
    case UnaryOp::kTanh: return std::tanh(x);
  }
  return T(0);
}

// dy * op'(x), from y = op(x) or, for log, from x.
template <typename T>
T unary_grad(UnaryOp op, T dy, T saved) {
  switch (op) {
    case UnaryOp::kExp: return dy * saved;
    case UnaryOp::kLog: return dy / saved;
    case UnaryOp::kSigmoid: return dy * saved * (T(1) - saved);
    case UnaryOp::kTanh: return dy * (T(1) - saved * saved);
  }
  return T(0);
}

// x: any shape, plain. Returns y = op(x); overwrites y.
Tensor unary_fwd_ref(const Tensor& x, UnaryOp op) {
  Tensor y = empty_like(x);
  BG_DISPATCH_FLOAT(x.dtype(), unary_op_name(op), [&] {
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* py = y.mutable_data<scalar_t>();
    for (int64_t i = 0; i < x.numel(); ++i) py[i] = unary_value(op, px[i]);
  });
  return y;
}

// dy, saved (y, or x for log): same shape and dtype, plain. Returns dx; overwrites dx.
Tensor unary_bwd_ref(const Tensor& dy, const Tensor& saved, UnaryOp op) {
  BG_CHECK(dy.shape() == saved.shape() && dy.dtype() == saved.dtype(), unary_op_name(op),
           " backward: dy is ", dtype_name(dy.dtype()), " ", dy.shape(),
           " but the saved tensor is ", dtype_name(saved.dtype()), " ", saved.shape());
  Tensor dx = empty_like(dy);
  BG_DISPATCH_FLOAT(dy.dtype(), unary_op_name(op), [&] {
    const scalar_t* pdy = dy.data<scalar_t>();
    const scalar_t* ps = saved.data<scalar_t>();
    scalar_t* pdx = dx.mutable_data<scalar_t>();
    for (int64_t i = 0; i < dy.numel(); ++i) pdx[i] = unary_grad(op, pdy[i], ps[i]);
  });
  return dx;
}

// x: any shape, plain; 0 <= dim < rank. Each softmax runs over the `size` elements
// start, start + inner, ... of one (outer, inner) pair. Returns y; overwrites y.
Tensor softmax_fwd_ref(const Tensor& x, int64_t dim, SoftmaxOp op) {
  const DimSplit g = split_at_dim(x.shape(), dim);
  Tensor y = empty_like(x);
  BG_DISPATCH_FLOAT(x.dtype(), softmax_op_name(op), [&] {
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* py = y.mutable_data<scalar_t>();
    for (int64_t o = 0; o < g.outer; ++o) {
      for (int64_t i = 0; i < g.inner; ++i) {
        const int64_t start = o * g.size * g.inner + i;
        auto at = [&](int64_t k) { return start + k * g.inner; };
        // Subtracting the maximum keeps every exp at most 1: no overflow.
        double max = -std::numeric_limits<double>::infinity();
        for (int64_t k = 0; k < g.size; ++k) max = std::max(max, double(px[at(k)]));
        double sum = 0;
        for (int64_t k = 0; k < g.size; ++k) sum += std::exp(px[at(k)] - max);
        const double log_sum = std::log(sum);
        for (int64_t k = 0; k < g.size; ++k) {
          const double shifted = px[at(k)] - max;
          py[at(k)] = static_cast<scalar_t>(op == SoftmaxOp::kSoftmax ? std::exp(shifted) / sum
                                                                      : shifted - log_sum);
        }
      }
    }
  });
  return y;
}

// dy, y: same shape and dtype, plain. Returns dx = y * (dy - sum(dy * y)) for softmax and
// dy - exp(y) * sum(dy) for log_softmax, sums along dim; overwrites dx.
Tensor softmax_bwd_ref(const Tensor& dy, const Tensor& y, int64_t dim, SoftmaxOp op) {
  BG_CHECK(dy.shape() == y.shape() && dy.dtype() == y.dtype(), softmax_op_name(op),
           " backward: dy is ", dtype_name(dy.dtype()), " ", dy.shape(), " but y is ",
           dtype_name(y.dtype()), " ", y.shape());
  const DimSplit g = split_at_dim(y.shape(), dim);
  Tensor dx = empty_like(dy);
  BG_DISPATCH_FLOAT(dy.dtype(), softmax_op_name(op), [&] {
    const scalar_t* pdy = dy.data<scalar_t>();
    const scalar_t* py = y.data<scalar_t>();
    scalar_t* pdx = dx.mutable_data<scalar_t>();
    for (int64_t o = 0; o < g.outer; ++o) {
      for (int64_t i = 0; i < g.inner; ++i) {
        const int64_t start = o * g.size * g.inner + i;
        auto at = [&](int64_t k) { return start + k * g.inner; };
        double sum = 0;
        for (int64_t k = 0; k < g.size; ++k) {
          const double dy_k = pdy[at(k)];
          sum += op == SoftmaxOp::kSoftmax ? dy_k * py[at(k)] : dy_k;
        }
        for (int64_t k = 0; k < g.size; ++k) {
          const double dy_k = pdy[at(k)], y_k = py[at(k)];
          const double grad =
              op == SoftmaxOp::kSoftmax ? y_k * (dy_k - sum) : dy_k - std::exp(y_k) * sum;
          pdx[at(k)] = static_cast<scalar_t>(grad);
        }
      }
    }
  });
  return dx;
}

}  // namespace

BG_REGISTER_KERNEL(UnaryFwd, kRef, unary_fwd_ref);
BG_REGISTER_KERNEL(UnaryBwd, kRef, unary_bwd_ref);
BG_REGISTER_KERNEL(SoftmaxFwd, kRef, softmax_fwd_ref);
BG_REGISTER_KERNEL(SoftmaxBwd, kRef, softmax_bwd_ref);

}  // namespace bitgrad::ref
