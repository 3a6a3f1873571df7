#include "ops/shape_utils.h"

#include <algorithm>

#include "core/check.h"

namespace bitgrad {

Shape broadcast_shapes(const char* op_name, const Shape& a, const Shape& b) {
  int64_t rank = std::max(a.rank(), b.rank());
  Shape out;
  for (int64_t i = 0; i < rank; ++i) {
    // Align from the right: dimension i of the result pairs with a[i - (rank - a.rank())].
    int64_t da = i - (rank - a.rank()) >= 0 ? a[i - (rank - a.rank())] : 1;
    int64_t db = i - (rank - b.rank()) >= 0 ? b[i - (rank - b.rank())] : 1;
    BG_CHECK(da == db || da == 1 || db == 1, op_name, ": shapes ", a, " and ", b,
             " cannot be broadcast together (dimension ", i, " of the result: ", da, " vs ", db,
             ")");
    out.push_back(da == 1 ? db : da);
  }
  return out;
}

std::vector<int64_t> normalize_dims(const char* op_name, const std::vector<int64_t>& dims,
                                    int64_t rank) {
  std::vector<int64_t> out;
  if (dims.empty()) {
    for (int64_t d = 0; d < rank; ++d) out.push_back(d);
    return out;
  }
  for (int64_t d : dims) {
    BG_CHECK(d >= -rank && d < rank, op_name, ": dimension ", d, " is out of range for a tensor ",
             "of rank ", rank);
    out.push_back(d < 0 ? d + rank : d);
  }
  std::sort(out.begin(), out.end());
  const auto repeated = std::adjacent_find(out.begin(), out.end());
  BG_CHECK(repeated == out.end(), op_name, ": dimension ", repeated == out.end() ? 0 : *repeated,
           " is given twice for a tensor of rank ", rank);
  return out;
}

Shape reduced_shape(const Shape& shape, const std::vector<int64_t>& dims, bool keepdim) {
  Shape out;
  size_t next = 0;
  for (int64_t d = 0; d < shape.rank(); ++d) {
    bool reduced = next < dims.size() && dims[next] == d;
    if (reduced) ++next;
    if (!reduced) out.push_back(shape[d]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

DimSplit split_at_dim(const Shape& shape, int64_t dim) {
  BG_ASSERT(dim >= 0 && dim < shape.rank(), "split_at_dim: dim ", dim, " of shape ", shape);
  DimSplit split{1, shape[dim], 1};
  for (int64_t d = 0; d < dim; ++d) split.outer *= shape[d];
  for (int64_t d = dim + 1; d < shape.rank(); ++d) split.inner *= shape[d];
  return split;
}

std::vector<int64_t> contiguous_strides(const Shape& shape) {
  std::vector<int64_t> strides(shape.rank());
  int64_t stride = 1;
  for (int64_t d = shape.rank() - 1; d >= 0; --d) {
    strides[d] = stride;
    stride *= shape[d];
  }
  return strides;
}

MatmulDims matmul_dims(const Shape& a, const Shape& b, bool transpose_a, bool transpose_b) {
  BG_CHECK(a.rank() == 2 && b.rank() == 2, "matmul: expected 2-D operands, got ", a, " and ", b);
  MatmulDims dims{transpose_a ? a[1] : a[0], transpose_a ? a[0] : a[1], transpose_b ? b[0] : b[1]};
  const int64_t k_of_b = transpose_b ? b[1] : b[0];
  BG_CHECK(dims.k == k_of_b, "matmul: inner dimensions differ: ", a, (transpose_a ? "^T" : ""),
           " @ ", b, (transpose_b ? "^T" : ""));
  return dims;
}

}  // namespace bitgrad
