// Reference kernels for sum and expand.
#include "ops/reduce.h"
#include "ops/ref/broadcast_index.h"
#include "ops/shape_utils.h"

namespace bitgrad::ref {
namespace {

// out = sum of x over `dims`. Accumulates in double so float32 sums are exact enough to serve
// as an oracle.
Tensor sum_fwd_ref(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  Shape kept = reduced_shape(x.shape(), dims, /*keepdim=*/true);
  Tensor out = empty(reduced_shape(x.shape(), dims, keepdim), x.dtype());
  BG_DISPATCH_FLOAT(x.dtype(), "sum", [&] {
    // Each input element adds into the output element it broadcasts from.
    std::vector<double> totals(out.numel(), 0.0);
    const scalar_t* px = x.data<scalar_t>();
    BroadcastIndex index(kept, x.shape());
    for (int64_t i = 0; i < x.numel(); ++i, index.next()) totals[index.offset()] += px[i];
    scalar_t* po = out.mutable_data<scalar_t>();
    for (int64_t i = 0; i < out.numel(); ++i) po[i] = static_cast<scalar_t>(totals[i]);
  });
  return out;
}

// out = x broadcast to `shape`.
Tensor expand_fwd_ref(const Tensor& x, const Shape& shape) {
  Tensor out = empty(shape, x.dtype());
  BG_DISPATCH_FLOAT(x.dtype(), "expand", [&] {
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* po = out.mutable_data<scalar_t>();
    BroadcastIndex index(x.shape(), shape);
    for (int64_t i = 0; i < out.numel(); ++i, index.next()) po[i] = px[index.offset()];
  });
  return out;
}

}  // namespace

BG_REGISTER_KERNEL(SumFwd, kRef, sum_fwd_ref);
BG_REGISTER_KERNEL(ExpandFwd, kRef, expand_fwd_ref);

}  // namespace bitgrad::ref
