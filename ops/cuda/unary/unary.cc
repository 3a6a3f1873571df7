// The kCuda kernels of the unary and softmax slots (ops/unary.h): Tensors in, raw pointers to
// unary_kernels.cu, Tensor out.
#include "core/cuda/cuda_stream.h"
#include "ops/cuda/common/gpu_check.h"
#include "ops/cuda/unary/unary_kernels.h"
#include "ops/shape_utils.h"
#include "ops/unary.h"

namespace bitgrad::cuda_ops {
namespace {

UnaryKind kind_of(UnaryOp op) {
  switch (op) {
    case UnaryOp::kExp: return UnaryKind::kExp;
    case UnaryOp::kLog: return UnaryKind::kLog;
    case UnaryOp::kSigmoid: return UnaryKind::kSigmoid;
    case UnaryOp::kTanh: return UnaryKind::kTanh;
  }
  BG_CHECK(false, "unary: unknown op ", static_cast<int>(op));
}

// x: plain on a CUDA device. Returns y = op(x); overwrites y.
Tensor unary_fwd_cuda(const Tensor& x, UnaryOp op) {
  const char* name = unary_op_name(op);
  Tensor y = empty_like(x);
  BG_DISPATCH_FLOAT(x.dtype(), name, [&] {
    CUDA_OP_CHECK(name, launch_unary(kind_of(op), x.data<scalar_t>(), y.mutable_data<scalar_t>(),
                                     x.numel(), cuda_stream(x.device().index)));
  });
  return y;
}

// dy, saved (y, or x for log): same shape and dtype, plain. Returns dx; overwrites dx.
Tensor unary_bwd_cuda(const Tensor& dy, const Tensor& saved, UnaryOp op) {
  const char* name = unary_op_name(op);
  BG_CHECK(dy.shape() == saved.shape() && dy.dtype() == saved.dtype(), name,
           " backward: dy is ", dtype_name(dy.dtype()), " ", dy.shape(),
           " but the saved tensor is ", dtype_name(saved.dtype()), " ", saved.shape());
  Tensor dx = empty_like(dy);
  BG_DISPATCH_FLOAT(dy.dtype(), name, [&] {
    CUDA_OP_CHECK(name, launch_unary_bwd(kind_of(op), dy.data<scalar_t>(),
                                         saved.data<scalar_t>(), dx.mutable_data<scalar_t>(),
                                         dy.numel(), cuda_stream(dy.device().index)));
  });
  return dx;
}

// x: plain on a CUDA device; 0 <= dim < rank. Returns y; overwrites y.
Tensor softmax_fwd_cuda(const Tensor& x, int64_t dim, SoftmaxOp op) {
  const char* name = softmax_op_name(op);
  const DimSplit g = split_at_dim(x.shape(), dim);
  Tensor y = empty_like(x);
  BG_DISPATCH_FLOAT(x.dtype(), name, [&] {
    CUDA_OP_CHECK(name, launch_softmax(op == SoftmaxOp::kLogSoftmax, x.data<scalar_t>(),
                                       y.mutable_data<scalar_t>(), g.outer, g.size, g.inner,
                                       cuda_stream(x.device().index)));
  });
  return y;
}

// dy, y: same shape and dtype, plain. Returns dx; overwrites dx.
Tensor softmax_bwd_cuda(const Tensor& dy, const Tensor& y, int64_t dim, SoftmaxOp op) {
  const char* name = softmax_op_name(op);
  BG_CHECK(dy.shape() == y.shape() && dy.dtype() == y.dtype(), name, " backward: dy is ",
           dtype_name(dy.dtype()), " ", dy.shape(), " but y is ", dtype_name(y.dtype()), " ",
           y.shape());
  const DimSplit g = split_at_dim(y.shape(), dim);
  Tensor dx = empty_like(dy);
  BG_DISPATCH_FLOAT(dy.dtype(), name, [&] {
    CUDA_OP_CHECK(name, launch_softmax_bwd(op == SoftmaxOp::kLogSoftmax, dy.data<scalar_t>(),
                                           y.data<scalar_t>(), dx.mutable_data<scalar_t>(),
                                           g.outer, g.size, g.inner,
                                           cuda_stream(dy.device().index)));
  });
  return dx;
}

}  // namespace

BG_REGISTER_KERNEL(UnaryFwd, kCuda, unary_fwd_cuda);
BG_REGISTER_KERNEL(UnaryBwd, kCuda, unary_bwd_cuda);
BG_REGISTER_KERNEL(SoftmaxFwd, kCuda, softmax_fwd_cuda);
BG_REGISTER_KERNEL(SoftmaxBwd, kCuda, softmax_bwd_cuda);

}  // namespace bitgrad::cuda_ops
