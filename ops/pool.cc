#include "ops/pool.h"

#include "autograd/function.h"
#include "autograd/grad_mode.h"

namespace bitgrad {

Shape max_pool2d_output_shape(const Shape& x, const Pool2dAttrs& attrs) {
  BG_CHECK(x.rank() == 4, "max_pool2d: expected input of shape (N, C, H, W), got ", x);
  Shape out = {x[0], x[1], 0, 0};
  for (int i = 0; i < 2; ++i) {
    BG_CHECK(attrs.kernel[i] >= 1 && attrs.stride[i] >= 1, "max_pool2d: kernel and stride must ",
             "be >= 1, got kernel ", attrs.kernel[i], " stride ", attrs.stride[i]);
    BG_CHECK(attrs.padding[i] >= 0 && 2 * attrs.padding[i] <= attrs.kernel[i], "max_pool2d: ",
             "padding ", attrs.padding[i], " must be between 0 and half the kernel (",
             attrs.kernel[i], ")");
    int64_t padded = x[2 + i] + 2 * attrs.padding[i];
    BG_CHECK(padded >= attrs.kernel[i], "max_pool2d: the ", attrs.kernel[i],
             "-wide window does not fit input ", x, " with padding ", attrs.padding[i]);
    out[2 + i] = (padded - attrs.kernel[i]) / attrs.stride[i] + 1;
  }
  return out;
}

Shape check_argmax_pool_backward(const Tensor& dy, const Tensor& x, const Tensor& workspace,
                                 const Pool2dAttrs& attrs, const char* kernel) {
  Shape out_shape = max_pool2d_output_shape(x.shape(), attrs);
  BG_CHECK(dy.shape() == out_shape, "max_pool2d backward: expected an output gradient of shape ",
           out_shape, " for input ", x.shape(), ", got ", dy.shape());
  BG_CHECK(dy.dtype() == x.dtype(), "max_pool2d backward: the output gradient is ",
           dtype_name(dy.dtype()), " but the input is ", dtype_name(x.dtype()));
  BG_CHECK(workspace.defined() && workspace.dtype() == DType::kInt64 &&
               workspace.shape() == out_shape,
           "max_pool2d backward: the ", kernel, " kernel expects the int64 argmax workspace of ",
           "shape ", out_shape, " made by a reference or CUDA forward, got ",
           workspace.defined() ? dtype_name(workspace.dtype()) : "no workspace", " ",
           workspace.defined() ? workspace.shape().str() : "",
           " (a workspace from another backend's forward cannot be used here)");
  return out_shape;
}

namespace {

struct MaxPool2d {
  static constexpr const char* kName = "max_pool2d";
  Pool2dAttrs attrs;
  SavedTensor x, workspace;

  Tensor forward(const Tensor& input) {
    max_pool2d_output_shape(input.shape(), attrs);
    MaxPool2dResult result = call<MaxPool2dFwd>(input, attrs);
    x = input;
    workspace = result.workspace;
    return result.y;
  }
  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>&) {
    return {call<MaxPool2dBwd>(dy, x, workspace, attrs)};
  }
};

}  // namespace

Tensor max_pool2d(const Tensor& x, const Pool2dAttrs& attrs) {
  BG_CHECK(x.defined(), "max_pool2d: the input tensor is undefined");
  if (!GradMode::is_enabled() || !x.requires_grad()) {
    max_pool2d_output_shape(x.shape(), attrs);  // the same argument checks and messages
    return call<MaxPool2dInference>(x, attrs);
  }
  return apply(MaxPool2d{attrs}, x);
}

}  // namespace bitgrad
