// Shape ops that move elements: permute (and transpose), cat and narrow. Each returns a new plain
// tensor (bitgrad tensors are always contiguous, core/tensor.h), of any dtype.
#pragma once

#include <cstdint>
#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace bitgrad {

// x with its dims reordered: dim d of the result is dim dims[d] of x, as torch.permute. Negative
// dims count from the back.
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
// x with dims dim0 and dim1 swapped, as torch.transpose.
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1);
// The tensors joined along `dim`, as torch.cat: their shapes must match in every other dim, and
// their dtypes and devices must be the same (torch.cat promotes dtypes, and skips 1-d empty
// tensors of any other shape; bitgrad refuses both).
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim);
// Elements start..start+length-1 of x along `dim`, as torch.narrow, but a copy. A negative
// start counts from the back.
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);

// Kernel slots. Their dims and starts are non-negative (the functions above normalise them).
// Each kernel overwrites a new plain tensor.

// y with y.size(d) = x.size(dims[d]); y[i_0, ..., i_r-1] = x[j] with j[dims[d]] = i_d.
BG_KERNEL_SLOT(PermuteFwd, Tensor(const Tensor& x, const std::vector<int64_t>& dims));
// The tensors one after another along `dim`.
BG_KERNEL_SLOT(CatFwd, Tensor(const std::vector<Tensor>& tensors, int64_t dim));
// y[..., i, ...] = x[..., start + i, ...] along `dim`, for i < length.
BG_KERNEL_SLOT(NarrowFwd, Tensor(const Tensor& x, int64_t dim, int64_t start, int64_t length));

// The output shapes of the slots. Each throws an Error naming the op and the shapes when the
// arguments do not fit; every kernel checks its arguments with it.
Shape permute_output_shape(const Shape& x, const std::vector<int64_t>& dims);
Shape cat_output_shape(const std::vector<Tensor>& tensors, int64_t dim);
Shape narrow_output_shape(const Shape& x, int64_t dim, int64_t start, int64_t length);

// For the fast kernels, which run every shape op as strided copies: element k (row-major) of
// `extent` goes from source element sum(index[d] * src_stride[d]) + src_offset to destination
// element sum(index[d] * dst_stride[d]) + dst_offset. Strides and offsets count elements.
struct StridedCopy {
  std::vector<int64_t> extent, src_stride, dst_stride;
  int64_t src_offset = 0, dst_offset = 0;
};
// The builders below return copies over as few dims as they can: dims of extent 1 dropped, and
// neighbouring dims that are one run in both source and destination merged, so that the
// innermost runs are as long as they can be. A copy of no dims moves one element.
//
// y = PermuteFwd(x, dims) from plain x into plain y.
StridedCopy permute_copy(const Shape& x, const std::vector<int64_t>& dims);
// y = NarrowFwd(x, dim, start, length) from plain x into plain y.
StridedCopy narrow_copy(const Shape& x, int64_t dim, int64_t start, int64_t length);
// The part of plain y = CatFwd(...) that plain tensor `piece` fills, from `offset` along `dim`.
StridedCopy cat_piece_copy(const Shape& y, const Shape& piece, int64_t dim, int64_t offset);

}  // namespace bitgrad
