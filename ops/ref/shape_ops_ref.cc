// Reference kernels of the shape ops (ops/shape_ops.h): plain loops over every dtype. They only
// move elements, so each is a loop of y[...] = x[...].
#include <vector>

#include "ops/shape_ops.h"
#include "ops/shape_utils.h"

namespace bitgrad::ref {
namespace {

// Calls fn(T{}) with T the element type of `dtype`, for every dtype bitgrad has.
template <typename Fn>
void for_element_type(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::kFloat32: return fn(float{});
    case DType::kFloat64: return fn(double{});
    case DType::kInt64: return fn(int64_t{});
    case DType::kUInt8: return fn(uint8_t{});
    case DType::kBFloat16: return fn(BFloat16{});
    case DType::kFloat16: return fn(Float16{});
  }
  BG_ASSERT(false, "unknown dtype ", static_cast<int>(dtype));
}

// y with y.size(d) = x.size(dims[d]): y[i] = x[j] where j[dims[d]] = i[d]. Overwrites y.
Tensor permute_fwd_ref(const Tensor& x, const std::vector<int64_t>& dims) {
  const int64_t rank = x.dim();
  const Shape out_shape = permute_output_shape(x.shape(), dims);
  const std::vector<int64_t> x_strides = contiguous_strides(x.shape());
  Tensor y = empty(out_shape, x.dtype());
  for_element_type(x.dtype(), [&](auto type) {
    using T = decltype(type);
    const T* px = x.data<T>();
    T* py = y.mutable_data<T>();
    std::vector<int64_t> out_index(rank, 0);  // row-major odometer over y
    for (int64_t k = 0; k < y.numel(); ++k) {
      int64_t source = 0;
      for (int64_t d = 0; d < rank; ++d) source += out_index[d] * x_strides[dims[d]];
      py[k] = px[source];
      for (int64_t d = rank - 1; d >= 0; --d) {
        if (++out_index[d] < out_shape[d]) break;
        out_index[d] = 0;
      }
    }
  });
  return y;
}

// The tensors one after another along dim. Seen as (outer, extent, inner) arrays, tensor t fills
// y[o, offset_t + i, n] = t[o, i, n], where offset_t sums the extents of the tensors before it.
// Overwrites y.
Tensor cat_fwd_ref(const std::vector<Tensor>& tensors, int64_t dim) {
  const Shape out_shape = cat_output_shape(tensors, dim);
  Tensor y = empty(out_shape, tensors[0].dtype());
  const DimSplit split = split_at_dim(out_shape, dim);
  const int64_t outer = split.outer, inner = split.inner;
  for_element_type(y.dtype(), [&](auto type) {
    using T = decltype(type);
    T* py = y.mutable_data<T>();
    int64_t offset = 0;
    for (const Tensor& t : tensors) {
      const T* pt = t.data<T>();
      const int64_t extent = t.size(dim);
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t i = 0; i < extent; ++i) {
          for (int64_t n = 0; n < inner; ++n) {
            py[(o * out_shape[dim] + offset + i) * inner + n] = pt[(o * extent + i) * inner + n];
          }
        }
      }
      offset += extent;
    }
  });
  return y;
}

// Seen as (outer, extent, inner) arrays: y[o, i, n] = x[o, start + i, n] for i < length.
// Overwrites y.
Tensor narrow_fwd_ref(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  const Shape out_shape = narrow_output_shape(x.shape(), dim, start, length);
  Tensor y = empty(out_shape, x.dtype());
  const DimSplit split = split_at_dim(x.shape(), dim);
  const int64_t outer = split.outer, inner = split.inner;
  const int64_t extent = x.size(dim);
  for_element_type(x.dtype(), [&](auto type) {
    using T = decltype(type);
    const T* px = x.data<T>();
    T* py = y.mutable_data<T>();
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < length; ++i) {
        for (int64_t n = 0; n < inner; ++n) {
          py[(o * length + i) * inner + n] = px[(o * extent + start + i) * inner + n];
        }
      }
    }
  });
  return y;
}

}  // namespace

BG_REGISTER_KERNEL(PermuteFwd, kRef, permute_fwd_ref);
BG_REGISTER_KERNEL(CatFwd, kRef, cat_fwd_ref);
BG_REGISTER_KERNEL(NarrowFwd, kRef, narrow_fwd_ref);

}  // namespace bitgrad::ref
