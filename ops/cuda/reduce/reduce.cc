// The kCuda kernels of SumFwd and ExpandFwd (ops/reduce.h).
#include "core/cuda/cuda_stream.h"
#include "ops/cuda/common/gpu_check.h"
#include "ops/cuda/common/index_map_build.h"
#include "ops/cuda/reduce/reduce_kernels.h"
#include "ops/reduce.h"
#include "ops/shape_utils.h"

namespace bitgrad::cuda_ops {
namespace {

// x: plain, on a CUDA device; dims sorted, unique. Returns the sum over dims.
Tensor sum_fwd_cuda(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor out = empty(reduced_shape(x.shape(), dims, keepdim), x.dtype(), x.device());
  const ReductionMaps maps = reduction_maps("sum", x.shape(), dims);
  const int64_t summed_count = out.numel() > 0 ? x.numel() / out.numel() : 0;
  BG_DISPATCH_FLOAT(x.dtype(), "sum", [&] {
    CUDA_OP_CHECK("sum", launch_sum(x.data<scalar_t>(), maps.kept, maps.summed, out.numel(),
                                    summed_count, out.mutable_data<scalar_t>(),
                                    cuda_stream(x.device().index)));
  });
  return out;
}

// x: plain, on a CUDA device. Returns x broadcast to shape.
Tensor expand_fwd_cuda(const Tensor& x, const Shape& shape) {
  Tensor out = empty(shape, x.dtype(), x.device());
  const IndexMap map = broadcast_map("expand", x.shape(), shape);
  BG_DISPATCH_FLOAT(x.dtype(), "expand", [&] {
    CUDA_OP_CHECK("expand", launch_expand(x.data<scalar_t>(), map, out.mutable_data<scalar_t>(),
                                          out.numel(), cuda_stream(x.device().index)));
  });
  return out;
}

}  // namespace

BG_REGISTER_KERNEL(SumFwd, kCuda, sum_fwd_cuda);
BG_REGISTER_KERNEL(ExpandFwd, kCuda, expand_fwd_cuda);

}  // namespace bitgrad::cuda_ops
