// The kCuda kernel of ConstantPadFwd (ops/pad.h).
#include "core/cuda/cuda_stream.h"
#include "ops/cuda/common/gpu_check.h"
#include "ops/cuda/pad/pad_kernels.h"
#include "ops/pad.h"

namespace bitgrad::cuda_ops {
namespace {

// As constant_pad_fwd_ref, with the same argument checks (constant_pad_output_shape).
Tensor constant_pad_fwd_cuda(const Tensor& x, const PadAttrs& attrs) {
  const int64_t rank = x.dim();
  const Shape out_shape = constant_pad_output_shape(x.shape(), attrs);
  BG_CHECK(rank <= kMaxDims, "pad: the CUDA kernel handles tensors of up to ", kMaxDims,
           " dims, got ", x.shape());
  PadGeometry geometry;
  geometry.rank = static_cast<int>(rank);
  for (int64_t d = 0; d < rank; ++d) {
    geometry.in_extent[d] = x.size(d);
    geometry.out_extent[d] = out_shape[d];
    geometry.before[d] = attrs.before[d];
  }
  Tensor y = empty(out_shape, x.dtype(), x.device());
  BG_DISPATCH_FLOAT(x.dtype(), "pad", [&] {
    CUDA_OP_CHECK("ConstantPadFwd",
                  launch_constant_pad(x.data<scalar_t>(), geometry,
                                      static_cast<scalar_t>(attrs.value),
                                      y.mutable_data<scalar_t>(), y.numel(),
                                      cuda_stream(x.device().index)));
  });
  return y;
}

}  // namespace

BG_REGISTER_KERNEL(ConstantPadFwd, kCuda, constant_pad_fwd_cuda);

}  // namespace bitgrad::cuda_ops
