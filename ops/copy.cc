#include "ops/copy.h"

#include "autograd/function.h"

namespace bitgrad {
namespace {

// No kernels: forward is the Tensor method, backward the inverse copy (or none, for clone).
struct Clone {
  static constexpr const char* kName = "clone";

  Tensor forward(const Tensor& x) { return x.clone(); }
  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>&) { return {dy}; }
};

struct ToDevice {
  static constexpr const char* kName = "to_device";
  Device device, x_device;

  Tensor forward(const Tensor& x) { return x.to(device); }
  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>&) {
    return {dy.to(x_device)};
  }
};

struct ToDType {
  static constexpr const char* kName = "to_dtype";
  DType dtype, x_dtype;

  Tensor forward(const Tensor& x) { return x.to(dtype); }
  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>&) {
    return {dy.to(x_dtype)};
  }
};

}  // namespace

Tensor clone(const Tensor& x) {
  BG_CHECK(x.defined(), "clone: the input tensor is undefined");
  return apply(Clone{}, x);
}

Tensor to(const Tensor& x, Device device) {
  BG_CHECK(x.defined(), "to: the input tensor is undefined (moving it to ", device, ")");
  if (device == x.device()) return x;
  return apply(ToDevice{device, x.device()}, x);
}

Tensor to(const Tensor& x, DType dtype) {
  BG_CHECK(x.defined(), "to: the input tensor is undefined (converting it to ",
           dtype_name(dtype), ")");
  if (dtype == x.dtype()) return x;
  if (!is_floating(dtype)) return x.to(dtype);  // integers have no gradient
  return apply(ToDType{dtype, x.dtype()}, x);
}

}  // namespace bitgrad
