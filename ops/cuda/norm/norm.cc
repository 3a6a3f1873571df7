// The kCuda kernels of GroupNorm and Weight Standardization (ops/norm.h); cuDNN has neither.
#include "core/cuda/cuda_stream.h"
#include "ops/cuda/common/gpu_check.h"
#include "ops/cuda/common/gpu_context.h"
#include "ops/cuda/norm/norm_kernels.h"
#include "ops/norm.h"

namespace bitgrad::cuda_ops {
namespace {

GroupNormShape group_norm_shape(const char* op, const Tensor& x, int64_t groups) {
  GroupNormShape shape{x.size(0), x.size(1), groups, 1};
  for (int64_t d = 2; d < x.dim(); ++d) shape.spatial *= x.size(d);
  checked_int(op, shape.batch * groups, "the number of groups N * G");
  return shape;
}

// x: (N, C, *) plain on a CUDA device; gamma, beta: (C) or undefined. As group_norm_fwd_ref.
GroupNormResult group_norm_fwd_cuda(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                    const GroupNormAttrs& attrs) {
  const char* op = "GroupNormFwd";
  const GroupNormShape shape = group_norm_shape(op, x, attrs.groups);
  GroupNormResult result{empty_like(x), empty({shape.batch, shape.groups}, x.dtype(), x.device()),
                         empty({shape.batch, shape.groups}, x.dtype(), x.device())};
  BG_DISPATCH_FLOAT(x.dtype(), "group_norm", [&] {
    CUDA_OP_CHECK(op, launch_group_norm_fwd(
                          x.data<scalar_t>(), data_or_null<scalar_t>(gamma),
                          data_or_null<scalar_t>(beta), shape, attrs.eps, attrs.relu,
                          result.y.mutable_data<scalar_t>(), result.mean.mutable_data<scalar_t>(),
                          result.rstd.mutable_data<scalar_t>(), cuda_stream(x.device().index)));
  });
  return result;
}

// As group_norm_bwd_ref: dgamma only when gamma is defined, dbeta always.
GroupNormGrads group_norm_bwd_cuda(const Tensor& dy, const Tensor& x, const Tensor& gamma,
                                   const Tensor& beta, const Tensor& mean, const Tensor& rstd,
                                   const Tensor& dx_addend, const GroupNormAttrs& attrs) {
  const char* op = "GroupNormBwd";
  BG_CHECK(!dx_addend.defined() || dx_addend.shape() == x.shape(), "group_norm backward: ",
           "dx_addend ", dx_addend.shape(), " does not match the input ", x.shape());
  const GroupNormShape shape = group_norm_shape(op, x, attrs.groups);
  GroupNormGrads grads;
  grads.dx = empty_like(x);
  grads.dbeta = empty({shape.channels}, x.dtype(), x.device());
  if (gamma.defined()) grads.dgamma = empty({shape.channels}, x.dtype(), x.device());
  Tensor partials = empty({2 * shape.batch * shape.channels}, DType::kFloat64, x.device());
  BG_DISPATCH_FLOAT(x.dtype(), "group_norm backward", [&] {
    CUDA_OP_CHECK(op, launch_group_norm_bwd(
                          dy.data<scalar_t>(), x.data<scalar_t>(), data_or_null<scalar_t>(gamma),
                          data_or_null<scalar_t>(beta), mean.data<scalar_t>(),
                          rstd.data<scalar_t>(), data_or_null<scalar_t>(dx_addend), shape,
                          attrs.relu, grads.dx.mutable_data<scalar_t>(),
                          mutable_data_or_null<scalar_t>(grads.dgamma),
                          grads.dbeta.mutable_data<scalar_t>(), partials.mutable_data<double>(),
                          cuda_stream(x.device().index)));
  });
  return grads;
}

int64_t row_size_of(const Tensor& w) { return w.size(0) > 0 ? w.numel() / w.size(0) : 0; }

Tensor weight_standardize_fwd_cuda(const Tensor& w, double eps) {
  const char* op = "WeightStandardizeFwd";
  Tensor out = empty_like(w);
  checked_int(op, w.size(0), "the number of output channels");
  BG_DISPATCH_FLOAT(w.dtype(), "weight_standardize", [&] {
    CUDA_OP_CHECK(op, launch_weight_standardize_fwd(w.data<scalar_t>(), w.size(0), row_size_of(w),
                                                    eps, out.mutable_data<scalar_t>(),
                                                    cuda_stream(w.device().index)));
  });
  return out;
}

Tensor weight_standardize_bwd_cuda(const Tensor& dy, const Tensor& w, double eps) {
  const char* op = "WeightStandardizeBwd";
  Tensor dw = empty_like(w);
  checked_int(op, w.size(0), "the number of output channels");
  BG_DISPATCH_FLOAT(w.dtype(), "weight_standardize backward", [&] {
    CUDA_OP_CHECK(op, launch_weight_standardize_bwd(dy.data<scalar_t>(), w.data<scalar_t>(),
                                                    w.size(0), row_size_of(w), eps,
                                                    dw.mutable_data<scalar_t>(),
                                                    cuda_stream(w.device().index)));
  });
  return dw;
}

}  // namespace

BG_REGISTER_KERNEL(GroupNormFwd, kCuda, group_norm_fwd_cuda);
BG_REGISTER_KERNEL(GroupNormBwd, kCuda, group_norm_bwd_cuda);
BG_REGISTER_KERNEL(WeightStandardizeFwd, kCuda, weight_standardize_fwd_cuda);
BG_REGISTER_KERNEL(WeightStandardizeBwd, kCuda, weight_standardize_bwd_cuda);

}  // namespace bitgrad::cuda_ops
