// The kCuda kernels of MaxPool2dFwd, MaxPool2dInference and MaxPool2dBwd (ops/pool.h).
#include "core/cuda/cuda_stream.h"
#include "ops/cuda/common/gpu_check.h"
#include "ops/cuda/pool/pool_kernels.h"
#include "ops/pool.h"

namespace bitgrad::cuda_ops {
namespace {

PoolGeometry geometry_of(const Shape& x, const Shape& y, const Pool2dAttrs& attrs) {
  PoolGeometry g{x[0] * x[1], x[2], x[3], y[2], y[3], {}, {}, {}};
  for (int i = 0; i < 2; ++i) {
    g.kernel[i] = attrs.kernel[i];
    g.stride[i] = attrs.stride[i];
    g.padding[i] = attrs.padding[i];
  }
  return g;
}

// y and, unless inference, the reference kernels' int64 argmax workspace.
MaxPool2dResult max_pool2d_cuda(const Tensor& x, const Pool2dAttrs& attrs, bool inference) {
  const Shape out_shape = max_pool2d_output_shape(x.shape(), attrs);
  MaxPool2dResult result{empty(out_shape, x.dtype(), x.device()), Tensor()};
  if (!inference) result.workspace = empty(out_shape, DType::kInt64, x.device());
  BG_DISPATCH_FLOAT(x.dtype(), "max_pool2d", [&] {
    CUDA_OP_CHECK("MaxPool2dFwd",
                  launch_max_pool2d_fwd(
                      x.data<scalar_t>(), geometry_of(x.shape(), out_shape, attrs),
                      result.y.mutable_data<scalar_t>(),
                      inference ? nullptr : result.workspace.mutable_data<int64_t>(),
                      cuda_stream(x.device().index)));
  });
  return result;
}

MaxPool2dResult max_pool2d_fwd_cuda(const Tensor& x, const Pool2dAttrs& attrs) {
  return max_pool2d_cuda(x, attrs, /*inference=*/false);
}

Tensor max_pool2d_inference_cuda(const Tensor& x, const Pool2dAttrs& attrs) {
  return max_pool2d_cuda(x, attrs, /*inference=*/true).y;
}

Tensor max_pool2d_bwd_cuda(const Tensor& dy, const Tensor& x, const Tensor& workspace,
                           const Pool2dAttrs& attrs) {
  const Shape out_shape = check_argmax_pool_backward(dy, x, workspace, attrs, "CUDA");
  Tensor dx = empty_like(x);
  BG_DISPATCH_FLOAT(dy.dtype(), "max_pool2d backward", [&] {
    CUDA_OP_CHECK("MaxPool2dBwd",
                  launch_max_pool2d_bwd(dy.data<scalar_t>(), workspace.data<int64_t>(),
                                        geometry_of(x.shape(), out_shape, attrs),
                                        dx.mutable_data<scalar_t>(),
                                        cuda_stream(x.device().index)));
  });
  return dx;
}

}  // namespace

BG_REGISTER_KERNEL(MaxPool2dFwd, kCuda, max_pool2d_fwd_cuda);
BG_REGISTER_KERNEL(MaxPool2dInference, kCuda, max_pool2d_inference_cuda);
BG_REGISTER_KERNEL(MaxPool2dBwd, kCuda, max_pool2d_bwd_cuda);

}  // namespace bitgrad::cuda_ops
