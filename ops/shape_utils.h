// Shape arithmetic shared by ops and kernels: broadcasting, dimension normalisation.
#pragma once

#include <cstdint>
#include <vector>

#include "core/shape.h"

namespace bitgrad {

// NumPy broadcasting of two shapes; throws an Error naming `op_name` and both shapes when they
// are incompatible.
Shape broadcast_shapes(const char* op_name, const Shape& a, const Shape& b);

// Turns possibly negative, unordered dims into sorted dims in [0, rank); an empty list means all
// dims. Throws an Error naming `op_name` on an out-of-range dim or one given twice.
std::vector<int64_t> normalize_dims(const char* op_name, const std::vector<int64_t>& dims,
                                    int64_t rank);

// `shape` with the extents at `dims` (sorted, unique) set to 1 (keepdim) or removed.
Shape reduced_shape(const Shape& shape, const std::vector<int64_t>& dims, bool keepdim);

// The extents of op(a) @ op(b) = (M, K) @ (K, N), where op transposes when asked.
struct MatmulDims {
  int64_t m, k, n;
};
// Throws an Error naming both shapes when a or b is not 2-D or the inner extents differ.
MatmulDims matmul_dims(const Shape& a, const Shape& b, bool transpose_a, bool transpose_b);

// Row-major strides, in elements, of a plain tensor of `shape`.
std::vector<int64_t> contiguous_strides(const Shape& shape);

// A plain tensor of `shape` seen as an (outer, size, inner) array around `dim` (0 <= dim <
// rank): outer and inner are the products of the extents before and after dim, so consecutive
// elements along dim lie `inner` apart. How softmax and the shape ops walk one dim.
struct DimSplit {
  int64_t outer, size, inner;
};
DimSplit split_at_dim(const Shape& shape, int64_t dim);

}  // namespace bitgrad
