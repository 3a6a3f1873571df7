#include "ops/shape_ops.h"

#include <numeric>
#include <utility>

#include "autograd/function.h"
#include "ops/shape_utils.h"

namespace bitgrad {
namespace {

// inverse[dims[d]] = d: it puts every dim back where permute(dims) took it from.
std::vector<int64_t> inverse_permutation(const std::vector<int64_t>& dims) {
  std::vector<int64_t> inverse(dims.size());
  for (size_t d = 0; d < dims.size(); ++d) inverse[dims[d]] = static_cast<int64_t>(d);
  return inverse;
}

struct Permute {
  static constexpr const char* kName = "permute";
  std::vector<int64_t> dims;  // non-negative

  Tensor forward(const Tensor& x) { return call<PermuteFwd>(x, dims); }
  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>&) {
    return {call<PermuteFwd>(dy, inverse_permutation(dims))};
  }
};

struct Cat {
  static constexpr const char* kName = "cat";
  int64_t dim;                   // non-negative
  std::vector<int64_t> extents;  // of each input along dim

  Tensor forward(const std::vector<Tensor>& tensors) { return call<CatFwd>(tensors, dim); }
  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>& needs_grad) {
    // Each input's gradient is the slice of dy that its values filled.
    std::vector<Tensor> grads(extents.size());
    int64_t start = 0;
    for (size_t i = 0; i < extents.size(); ++i) {
      if (needs_grad[i]) grads[i] = call<NarrowFwd>(dy, dim, start, extents[i]);
      start += extents[i];
    }
    return grads;
  }
};

struct Narrow {
  static constexpr const char* kName = "narrow";
  int64_t dim, start, length;  // non-negative
  int64_t elements_after;      // of x along dim, after the slice

  Tensor forward(const Tensor& x) { return call<NarrowFwd>(x, dim, start, length); }
  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>&) {
    // dy at its place in zeros of x's shape: zeros, dy and zeros joined along dim, which works
    // for every dtype and rank cat does.
    Shape before_shape = dy.shape(), after_shape = dy.shape();
    before_shape[dim] = start;
    after_shape[dim] = elements_after;
    return {call<CatFwd>(std::vector<Tensor>{zeros(before_shape, dy.dtype(), dy.device()), dy,
                                             zeros(after_shape, dy.dtype(), dy.device())},
                         dim)};
  }
};

// dim in [-rank, rank) as a dim in [0, rank); throws an Error naming `op` and the shape if it is
// out of range.
int64_t normalize_dim(const char* op, int64_t dim, const Shape& shape) {
  const int64_t rank = shape.rank();
  BG_CHECK(dim >= -rank && dim < rank, op, ": dimension ", dim,
           " is out of range for a tensor of shape ", shape, " (rank ", rank, ")");
  return dim < 0 ? dim + rank : dim;
}

// Drops dims of extent 1 and merges a dim into the one before it where stepping through both
// is one run in the source and in the destination (shape_ops.h).
StridedCopy coalesce(const StridedCopy& copy) {
  StridedCopy out;
  out.src_offset = copy.src_offset;
  out.dst_offset = copy.dst_offset;
  for (size_t d = 0; d < copy.extent.size(); ++d) {
    if (copy.extent[d] == 1) continue;  // its one index adds nothing to the offsets
    const bool continues_run =
        !out.extent.empty() &&
        out.src_stride.back() == copy.src_stride[d] * copy.extent[d] &&
        out.dst_stride.back() == copy.dst_stride[d] * copy.extent[d];
    if (continues_run) {
      out.extent.back() *= copy.extent[d];
      out.src_stride.back() = copy.src_stride[d];
      out.dst_stride.back() = copy.dst_stride[d];
    } else {
      out.extent.push_back(copy.extent[d]);
      out.src_stride.push_back(copy.src_stride[d]);
      out.dst_stride.push_back(copy.dst_stride[d]);
    }
  }
  return out;
}

}  // namespace

Shape permute_output_shape(const Shape& x, const std::vector<int64_t>& dims) {
  const int64_t rank = x.rank();
  BG_CHECK(static_cast<int64_t>(dims.size()) == rank, "permute: expected ", rank,
           " dims for shape ", x, ", got ", dims.size(), ": ", Shape(dims));
  std::vector<bool> taken(rank, false);
  Shape out;
  for (int64_t d : dims) {
    BG_CHECK(d >= 0 && d < rank, "permute: dimension ", d, " in ", Shape(dims),
             " is out of range for a tensor of shape ", x, " (expected 0 to ", rank - 1, ")");
    BG_CHECK(!taken[d], "permute: dimension ", d, " appears twice in ", Shape(dims),
             " (negative dims counted from the back); expected each dim of shape ", x, " once");
    taken[d] = true;
    out.push_back(x[d]);
  }
  return out;
}

Shape cat_output_shape(const std::vector<Tensor>& tensors, int64_t dim) {
  BG_CHECK(!tensors.empty(), "cat: expected at least one tensor, got none");
  for (size_t i = 0; i < tensors.size(); ++i) {
    BG_CHECK(tensors[i].defined(), "cat: tensor ", i, " of ", tensors.size(), " is undefined");
  }
  const Tensor& first = tensors[0];
  BG_CHECK(dim >= 0 && dim < first.dim(), "cat: dimension ", dim,
           " is out of range for a tensor of shape ", first.shape(), " (rank ", first.dim(), ")");
  Shape out = first.shape();
  out[dim] = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    bool matches = t.dim() == first.dim();
    for (int64_t d = 0; matches && d < t.dim(); ++d) {
      matches = d == dim || t.size(d) == first.size(d);
    }
    BG_CHECK(matches, "cat: expected shapes that match except in dimension ", dim, ", got ",
             first.shape(), " (tensor 0) and ", t.shape(), " (tensor ", i, ")");
    BG_CHECK(t.dtype() == first.dtype(), "cat: expected tensors of one dtype, got ",
             dtype_name(first.dtype()), " (tensor 0) and ", dtype_name(t.dtype()), " (tensor ",
             i, "); convert with .to(dtype) first");
    out[dim] += t.size(dim);
  }
  return out;
}

Shape narrow_output_shape(const Shape& x, int64_t dim, int64_t start, int64_t length) {
  BG_CHECK(dim >= 0 && dim < x.rank(), "narrow: dimension ", dim,
           " is out of range for a tensor of shape ", x, " (rank ", x.rank(), ")");
  const int64_t size = x[dim];
  BG_CHECK(start >= 0 && start <= size && length >= 0 && length <= size - start,
           "narrow: start ", start, " and length ", length, " are out of range for dimension ",
           dim, " of shape ", x, " (expected 0 <= start <= start + length <= ", size, ")");
  Shape out = x;
  out[dim] = length;
  return out;
}

StridedCopy permute_copy(const Shape& x, const std::vector<int64_t>& dims) {
  const std::vector<int64_t> x_strides = contiguous_strides(x);
  StridedCopy copy;
  copy.extent = permute_output_shape(x, dims).vec();
  copy.dst_stride = contiguous_strides(Shape(copy.extent));
  for (int64_t d : dims) copy.src_stride.push_back(x_strides[d]);
  return coalesce(copy);
}

StridedCopy narrow_copy(const Shape& x, int64_t dim, int64_t start, int64_t length) {
  StridedCopy copy;
  copy.extent = narrow_output_shape(x, dim, start, length).vec();
  copy.src_stride = contiguous_strides(x);
  copy.dst_stride = contiguous_strides(Shape(copy.extent));
  copy.src_offset = start * copy.src_stride[dim];
  return coalesce(copy);
}

StridedCopy cat_piece_copy(const Shape& y, const Shape& piece, int64_t dim, int64_t offset) {
  StridedCopy copy;
  copy.extent = piece.vec();
  copy.src_stride = contiguous_strides(piece);
  copy.dst_stride = contiguous_strides(y);
  copy.dst_offset = offset * copy.dst_stride[dim];
  return coalesce(copy);
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  BG_CHECK(x.defined(), "permute: the input tensor is undefined");
  BG_CHECK(static_cast<int64_t>(dims.size()) == x.dim(), "permute: expected ", x.dim(),
           " dims for shape ", x.shape(), ", got ", dims.size(), ": ", Shape(dims));
  std::vector<int64_t> normalized;
  for (int64_t d : dims) normalized.push_back(normalize_dim("permute", d, x.shape()));
  permute_output_shape(x.shape(), normalized);  // a dim given twice: the error before autograd
  return apply(Permute{std::move(normalized)}, x);
}

Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
  BG_CHECK(x.defined(), "transpose: the input tensor is undefined");
  const int64_t first = normalize_dim("transpose", dim0, x.shape());
  const int64_t second = normalize_dim("transpose", dim1, x.shape());
  std::vector<int64_t> dims(x.dim());
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[first], dims[second]);
  return apply(Permute{std::move(dims)}, x);
}

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  BG_CHECK(!tensors.empty(), "cat: expected at least one tensor, got none");
  BG_CHECK(tensors[0].defined(), "cat: tensor 0 of ", tensors.size(), " is undefined");
  const int64_t d = normalize_dim("cat", dim, tensors[0].shape());
  cat_output_shape(tensors, d);  // the same checks and messages, before autograd
  std::vector<int64_t> extents;
  for (const Tensor& t : tensors) extents.push_back(t.size(d));
  return apply_list(Cat{d, std::move(extents)}, tensors);
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  BG_CHECK(x.defined(), "narrow: the input tensor is undefined");
  const int64_t d = normalize_dim("narrow", dim, x.shape());
  const int64_t size = x.size(d);
  BG_CHECK(start >= -size && start <= size, "narrow: start ", start,
           " is out of range for dimension ", d, " of shape ", x.shape(), " (expected ", -size,
           " to ", size, ")");
  const int64_t first = start < 0 ? start + size : start;
  BG_CHECK(length >= 0 && length <= size - first, "narrow: length ", length, " from start ", start,
           " is out of range for dimension ", d, " of shape ", x.shape(), " (expected 0 to ",
           size - first, ")");
  return apply(Narrow{d, first, length, size - first - length}, x);
}

}  // namespace bitgrad
