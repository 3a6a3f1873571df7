// The kCuda kernels of the elementwise slots (ops/elementwise.h) and of the engine's gradient sum
// (autograd/accumulate_grad.h): Tensors in, raw pointers to elementwise_kernels.cu, Tensor out.
#include "autograd/accumulate_grad.h"
#include "core/cuda/cuda_stream.h"
#include "ops/cuda/common/gpu_check.h"
#include "ops/cuda/common/index_map_build.h"
#include "ops/cuda/elementwise/elementwise_kernels.h"
#include "ops/elementwise.h"
#include "ops/shape_utils.h"

namespace bitgrad::cuda_ops {
namespace {

BinaryKind kind_of(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd: return BinaryKind::kAdd;
    case BinaryOp::kSub: return BinaryKind::kSub;
    case BinaryOp::kMul: return BinaryKind::kMul;
    case BinaryOp::kDiv: return BinaryKind::kDiv;
  }
  BG_CHECK(false, "binary: unknown op ", static_cast<int>(op));
}

// a, b: plain, one dtype, one CUDA device, broadcastable. Returns a (op) b, broadcast.
Tensor binary_fwd_cuda(const Tensor& a, const Tensor& b, BinaryOp op) {
  const char* name = binary_op_name(op);
  BG_CHECK(a.dtype() == b.dtype(), name, ": a is ", dtype_name(a.dtype()), " but b is ",
           dtype_name(b.dtype()));
  const Shape shape = broadcast_shapes(name, a.shape(), b.shape());
  Tensor out = empty(shape, a.dtype(), a.device());
  cudaStream_t stream = cuda_stream(a.device().index);
  // Same shapes need no IndexMap, so they run at any rank (the gradient sum of a 9-d tensor).
  const bool same_shape = a.shape() == shape && b.shape() == shape;
  IndexMap a_map, b_map;
  if (!same_shape) {
    a_map = broadcast_map(name, a.shape(), shape);
    b_map = broadcast_map(name, b.shape(), shape);
  }
  BG_DISPATCH_FLOAT(a.dtype(), name, [&] {
    CUDA_OP_CHECK(name, launch_binary(kind_of(op), a.data<scalar_t>(),
                                      same_shape ? nullptr : &a_map, b.data<scalar_t>(),
                                      same_shape ? nullptr : &b_map, out.mutable_data<scalar_t>(),
                                      out.numel(), stream));
  });
  return out;
}

Tensor accumulate_grad_cuda(const Tensor& total, const Tensor& gradient) {
  return binary_fwd_cuda(total, gradient, BinaryOp::kAdd);
}

Tensor affine_fwd_cuda(const Tensor& x, double scale, double shift) {
  Tensor out = empty_like(x);
  BG_DISPATCH_FLOAT(x.dtype(), "affine", [&] {
    CUDA_OP_CHECK("affine", launch_affine(x.data<scalar_t>(), static_cast<scalar_t>(scale),
                                          static_cast<scalar_t>(shift),
                                          out.mutable_data<scalar_t>(), x.numel(),
                                          cuda_stream(x.device().index)));
  });
  return out;
}

Tensor relu_fwd_cuda(const Tensor& x) {
  Tensor y = empty_like(x);
  BG_DISPATCH_FLOAT(x.dtype(), "relu", [&] {
    CUDA_OP_CHECK("relu", launch_relu(x.data<scalar_t>(), y.mutable_data<scalar_t>(), x.numel(),
                                      cuda_stream(x.device().index)));
  });
  return y;
}

Tensor relu_bwd_cuda(const Tensor& dy, const Tensor& y) {
  Tensor dx = empty_like(dy);
  BG_DISPATCH_FLOAT(dy.dtype(), "relu backward", [&] {
    CUDA_OP_CHECK("relu backward",
                  launch_relu_bwd(dy.data<scalar_t>(), y.data<scalar_t>(),
                                  dx.mutable_data<scalar_t>(), dy.numel(),
                                  cuda_stream(dy.device().index)));
  });
  return dx;
}

}  // namespace

BG_REGISTER_KERNEL(BinaryFwd, kCuda, binary_fwd_cuda);
BG_REGISTER_KERNEL(AccumulateGrad, kCuda, accumulate_grad_cuda);
BG_REGISTER_KERNEL(AffineFwd, kCuda, affine_fwd_cuda);
BG_REGISTER_KERNEL(ReluFwd, kCuda, relu_fwd_cuda);
BG_REGISTER_KERNEL(ReluBwd, kCuda, relu_bwd_cuda);

}  // namespace bitgrad::cuda_ops
