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

// PyTorch's F.pad(x, pads, value=value): `pads` holds (before, after) pairs starting from the
// LAST dim, e.g. {left, right, top, bottom} for the W and H of an NCHW tensor.
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, double value = 0.0);

}  // namespace bitgrad
