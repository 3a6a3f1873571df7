// Reductions (sum, mean over dims) and broadcasting (expand), which are each other's gradients.
#pragma once

#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace bitgrad {

// Sums over `dims` (sorted, unique, non-negative); keepdim keeps them as size 1. Overwrites out.
BG_KERNEL_SLOT(SumFwd, Tensor(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim));
// Broadcasts x to `shape` (NumPy rules: x's dims align right, size-1 dims repeat).
BG_KERNEL_SLOT(ExpandFwd, Tensor(const Tensor& x, const Shape& shape));

// Sum or mean over `dims` (negative dims count from the back; empty = all dims).
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Broadcasts x to `shape`.
Tensor expand(const Tensor& x, const Shape& shape);

// Sums a broadcast gradient back down to `shape`; not recorded by autograd. Used by the
// backward of every broadcasting op.
Tensor sum_to(const Tensor& grad, const Shape& shape);

}  // namespace bitgrad
