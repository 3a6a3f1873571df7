// Reference kernel for constant padding and cropping, any rank.
#include <vector>

#include "ops/pad.h"

namespace bitgrad::ref {
namespace {

// x (any shape) -> y with extent before[d] + x.size(d) + after[d] in every dim d:
//   y[idx] = x[idx - before] where that lies inside x, else value.
// Negative amounts crop. Saves nothing; overwrites y.
Tensor constant_pad_fwd_ref(const Tensor& x, const PadAttrs& attrs) {
  const int64_t rank = x.dim();
  const Shape out_shape = constant_pad_output_shape(x.shape(), attrs);
  Tensor y = empty(out_shape, x.dtype());
  BG_DISPATCH_FLOAT(x.dtype(), "pad", [&] {
    const scalar_t* px = x.data<scalar_t>();
    scalar_t* py = y.mutable_data<scalar_t>();
    std::vector<int64_t> out_index(rank, 0);  // row-major odometer over y
    for (int64_t k = 0; k < y.numel(); ++k) {
      // The matching flat index in x, or -1 when this element is padding.
      int64_t source = 0;
      for (int64_t d = 0; d < rank && source >= 0; ++d) {
        int64_t in_index = out_index[d] - attrs.before[d];
        source = (in_index >= 0 && in_index < x.size(d)) ? source * x.size(d) + in_index : -1;
      }
      py[k] = source >= 0 ? px[source] : static_cast<scalar_t>(attrs.value);
      for (int64_t d = rank - 1; d >= 0; --d) {
        if (++out_index[d] < out_shape[d]) break;
        out_index[d] = 0;
      }
    }
  });
  return y;
}

}  // namespace

BG_REGISTER_KERNEL(ConstantPadFwd, kRef, constant_pad_fwd_ref);

}  // namespace bitgrad::ref
