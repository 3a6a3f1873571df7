#include "ops/reduce.h"

#include "autograd/function.h"
#include "ops/elementwise.h"
#include "ops/shape_utils.h"

namespace bitgrad {
namespace {

struct Sum {
  static constexpr const char* kName = "sum";
  std::vector<int64_t> dims;
  bool keepdim;
  Shape x_shape;  // given when the struct is made, not set by forward (core/shape.h)

  Tensor forward(const Tensor& x) { return call<SumFwd>(x, dims, keepdim); }
  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>&) {
    // Put the reduced dims back as size 1, then broadcast.
    Tensor dy_kept = dy.view(reduced_shape(x_shape, dims, /*keepdim=*/true));
    return {call<ExpandFwd>(dy_kept, x_shape)};
  }
};

struct Expand {
  static constexpr const char* kName = "expand";
  Shape shape;
  Shape x_shape;  // given when the struct is made, not set by forward (core/shape.h)

  Tensor forward(const Tensor& x) { return call<ExpandFwd>(x, shape); }
  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>&) {
    return {sum_to(dy, x_shape)};
  }
};

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  BG_CHECK(x.defined(), "sum: the input tensor is undefined");
  return apply(Sum{normalize_dims("sum", dims, x.dim()), keepdim, x.shape()}, x);
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  BG_CHECK(x.defined(), "mean: the input tensor is undefined");
  BG_CHECK(is_floating(x.dtype()), "mean: expected a floating-point tensor, got ",
           dtype_name(x.dtype()), " of shape ", x.shape());
  std::vector<int64_t> normalized = normalize_dims("mean", dims, x.dim());
  int64_t count = 1;
  for (int64_t d : normalized) count *= x.size(d);
  BG_CHECK(count > 0, "mean: the reduced dimensions of shape ", x.shape(), " are empty");
  return sum(x, normalized, keepdim) * (1.0 / static_cast<double>(count));
}

Tensor expand(const Tensor& x, const Shape& shape) {
  BG_CHECK(x.defined(), "expand: the input tensor is undefined");
  Shape target = broadcast_shapes("expand", x.shape(), shape);
  BG_CHECK(target == shape, "expand: cannot broadcast shape ", x.shape(), " to ", shape);
  return apply(Expand{shape, x.shape()}, x);
}

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  // Leading dims that broadcasting added, plus dims where `shape` has extent 1.
  int64_t lead = grad.dim() - shape.rank();
  BG_ASSERT(lead >= 0, "sum_to: gradient ", grad.shape(), " has fewer dims than ", shape);
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < grad.dim(); ++d) {
    if (d < lead || (shape[d - lead] == 1 && grad.size(d) != 1)) dims.push_back(d);
  }
  Tensor reduced = dims.empty() ? grad : call<SumFwd>(grad, dims, /*keepdim=*/true);
  return reduced.view(shape);
}

}  // namespace bitgrad
