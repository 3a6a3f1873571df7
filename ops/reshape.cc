#include "ops/reshape.h"

#include <algorithm>

#include "autograd/function.h"

namespace bitgrad {
namespace {

// No kernel: a reshape is a view of a plain tensor on every backend (Tensor::view); a blocked
// one is made plain first, a copy.
struct Reshape {
  static constexpr const char* kName = "reshape";
  Shape shape;
  Shape x_shape;  // given when the struct is made, not set by forward (core/shape.h)

  Tensor forward(const Tensor& x) { return x.view(shape); }
  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>&) {
    return {dy.view(x_shape)};
  }
};

}  // namespace

Tensor reshape(const Tensor& x, const std::vector<int64_t>& shape) {
  BG_CHECK(x.defined(), "reshape: the input tensor is undefined");
  Shape target;
  int64_t inferred = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      BG_CHECK(inferred < 0, "reshape: only one extent may be -1, got ", Shape(shape));
      inferred = static_cast<int64_t>(i);
    } else {
      BG_CHECK(shape[i] >= 0, "reshape: invalid extent ", shape[i], " in ", Shape(shape));
    }
    target.push_back(shape[i]);
  }
  if (inferred >= 0) {
    target[inferred] = 1;
    const int64_t known = target.numel();  // the other extents' product, checked for overflow
    BG_CHECK(known > 0 && x.numel() % known == 0, "reshape: cannot reshape ", x.shape(), " (",
             x.numel(), " elements) to ", Shape(shape));
    target[inferred] = x.numel() / known;
  }
  BG_CHECK(target.numel() == x.numel(), "reshape: cannot reshape ", x.shape(), " (", x.numel(),
           " elements) to ", target, " (", target.numel(), " elements)");
  return apply(Reshape{target, x.shape()}, x);
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  BG_CHECK(x.defined(), "flatten: the input tensor is undefined");
  int64_t rank = std::max<int64_t>(x.dim(), 1);
  int64_t start = start_dim < 0 ? start_dim + rank : start_dim;
  int64_t end = end_dim < 0 ? end_dim + rank : end_dim;
  BG_CHECK(start >= 0 && end < rank && start <= end, "flatten: dims ", start_dim, "..", end_dim,
           " are invalid for shape ", x.shape());
  if (x.dim() == 0) return reshape(x, {1});
  std::vector<int64_t> shape;
  for (int64_t d = 0; d < start; ++d) shape.push_back(x.size(d));
  int64_t merged = 1;
  for (int64_t d = start; d <= end; ++d) merged *= x.size(d);
  shape.push_back(merged);
  for (int64_t d = end + 1; d < x.dim(); ++d) shape.push_back(x.size(d));
  return reshape(x, shape);
}

}  // namespace bitgrad
