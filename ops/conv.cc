#include "ops/conv.h"

#include "autograd/function.h"
#include "ops/reduce.h"

namespace bitgrad {

Shape conv2d_output_shape(const Shape& x, const Shape& w, const Conv2dAttrs& attrs) {
  BG_CHECK(x.rank() == 4, "conv2d: expected input of shape (N, C, H, W), got ", x);
  BG_CHECK(w.rank() == 4, "conv2d: expected weight of shape (O, C/groups, KH, KW), got ", w);
  int64_t groups = attrs.groups;
  BG_CHECK(groups >= 1 && x[1] % groups == 0 && w[0] % groups == 0, "conv2d: groups = ", groups,
           " must divide the input channels (", x[1], ") and output channels (", w[0],
           ") of input ", x, " and weight ", w);
  BG_CHECK(w[1] * groups == x[1], "conv2d: weight ", w, " expects ", w[1] * groups,
           " input channels, but input ", x, " has ", x[1]);
  Shape out = {x[0], w[0], 0, 0};
  for (int i = 0; i < 2; ++i) {
    BG_CHECK(attrs.stride[i] >= 1 && attrs.dilation[i] >= 1 && attrs.padding[i] >= 0,
             "conv2d: stride and dilation must be >= 1 and padding >= 0, got stride ",
             attrs.stride[i], " dilation ", attrs.dilation[i], " padding ", attrs.padding[i],
             " for input ", x, " and weight ", w);
    int64_t span = attrs.dilation[i] * (w[2 + i] - 1) + 1;
    int64_t padded = x[2 + i] + 2 * attrs.padding[i];
    BG_CHECK(padded >= span, "conv2d: the ", w[2 + i], "-wide kernel (dilation ",
             attrs.dilation[i], ") does not fit input ", x, " with padding ", attrs.padding[i]);
    out[2 + i] = (padded - span) / attrs.stride[i] + 1;
  }
  return out;
}

namespace {

struct Conv2d {
  static constexpr const char* kName = "conv2d";
  Conv2dAttrs attrs;
  SavedTensor x, w;  // dx needs w, dw needs x: each is read only when its gradient is wanted

  Tensor forward(const Tensor& input, const Tensor& weight, const Tensor& bias) {
    BG_CHECK(input.dtype() == weight.dtype(), "conv2d: input is ", dtype_name(input.dtype()),
             " but weight is ", dtype_name(weight.dtype()));
    conv2d_output_shape(input.shape(), weight.shape(), attrs);
    if (bias.defined()) {
      BG_CHECK(bias.shape() == Shape{weight.size(0)}, "conv2d: expected bias of shape (",
               weight.size(0), "), got ", bias.shape());
      BG_CHECK(bias.dtype() == input.dtype(), "conv2d: bias is ", dtype_name(bias.dtype()),
               " but input is ", dtype_name(input.dtype()));
    }
    x = input;
    w = weight;
    return call<Conv2dFwd>(input, weight, bias, attrs);
  }

  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>& needs_grad) {
    Tensor dx, dw, db;
    if (needs_grad[0]) dx = call<Conv2dBwdData>(dy, w, x.shape(), attrs);
    if (needs_grad[1]) dw = call<Conv2dBwdWeight>(dy, x, w.shape(), attrs);
    if (needs_grad[2]) db = call<SumFwd>(dy, std::vector<int64_t>{0, 2, 3}, false);
    return {dx, dw, db};
  }
};

struct Conv2dAdd {
  static constexpr const char* kName = "conv2d_add";
  Conv2dAttrs attrs;
  bool reuse_addend;
  SavedTensor x, w;  // dx needs w, dw needs x: each is read only when its gradient is wanted

  Tensor forward(const Tensor& input, const Tensor& weight, const Tensor& addend) {
    BG_CHECK(input.dtype() == weight.dtype() && addend.dtype() == input.dtype(), "conv2d_add: ",
             "input, weight and addend are ", dtype_name(input.dtype()), ", ",
             dtype_name(weight.dtype()), " and ", dtype_name(addend.dtype()));
    const Shape y_shape = conv2d_output_shape(input.shape(), weight.shape(), attrs);
    BG_CHECK(addend.shape() == y_shape, "conv2d_add: the addend has shape ", addend.shape(),
             " but the convolution of ", input.shape(), " with ", weight.shape(), " gives ",
             y_shape);
    x = input;
    w = weight;
    return call<Conv2dAddFwd>(input, weight, addend, attrs, reuse_addend);
  }

  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>& needs_grad) {
    Tensor dx, dw;
    if (needs_grad[0]) dx = call<Conv2dBwdData>(dy, w, x.shape(), attrs);
    if (needs_grad[1]) dw = call<Conv2dBwdWeight>(dy, x, w.shape(), attrs);
    return {dx, dw, needs_grad[2] ? dy : Tensor()};
  }
};

}  // namespace

bool may_write_into_addend(const Tensor& addend, bool reuse_addend) {
  return reuse_addend && addend.is_sole_owner();
}

Tensor conv2d_add(const Tensor& x, const Tensor& w, const Tensor& addend,
                  const Conv2dAttrs& attrs) {
  BG_CHECK(x.defined() && w.defined() && addend.defined(),
           "conv2d_add: input, weight and addend must be defined");
  return apply(Conv2dAdd{attrs, /*reuse_addend=*/false}, x, w, addend);
}

Tensor conv2d_add(const Tensor& x, const Tensor& w, Tensor&& addend, const Conv2dAttrs& attrs) {
  BG_CHECK(x.defined() && w.defined() && addend.defined(),
           "conv2d_add: input, weight and addend must be defined");
  const Tensor given = std::move(addend);  // the caller's handle is gone
  return apply(Conv2dAdd{attrs, /*reuse_addend=*/true}, x, w, given);
}

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dAttrs& attrs) {
  BG_CHECK(x.defined() && w.defined(), "conv2d: input and weight must be defined");
  return apply(Conv2d{attrs}, x, w, bias);
}

}  // namespace bitgrad
