// Constant padding (and, with negative amounts, cropping) of the trailing dims.
#pragma once

#include <cstdint>
#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace bitgrad {

// Amounts for every dim of x, outermost first: out extent = before + extent + after. Negative
// amounts crop, which makes this slot its own gradient.
struct PadAttrs {
  std::vector<int64_t> before, after;
  double value = 0.0;
};

// y = x placed at offset `before` inside a tensor filled with `value`. Overwrites y.
BG_KERNEL_SLOT(ConstantPadFwd, Tensor(const Tensor& x, const PadAttrs& attrs));

// The shape of ConstantPadFwd(x, attrs): before[d] + x[d] + after[d] in every dim. Throws an
// Error naming pad and the shapes when attrs do not give an amount for every dim or a crop goes
// below zero. Every kernel checks its arguments with it.
Shape constant_pad_output_shape(const Shape& x, const PadAttrs& attrs);

// PyTorch's F.pad(x, pads, value=value): `pads` holds (before, after) pairs starting from the
// LAST dim, e.g. {left, right, top, bottom} for the W and H of an NCHW tensor.
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, double value = 0.0);

}  // namespace bitgrad
