// The SiLU op: input checks and the autograd struct. No device code: the kernels are found
// through the slots in silu.h.
#include "examples/custom_op/silu.h"

#include "autograd/function.h"

namespace custom_op {
namespace {

using bitgrad::SavedTensor;
using bitgrad::Tensor;

struct Silu {
  static constexpr const char* kName = "silu";
  SavedTensor x;  // the derivative depends on the input; checked against in-place changes

  Tensor forward(const Tensor& input) {
    x = input;
    return bitgrad::call<SiluFwd>(input);
  }
  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>& needs_grad) {
    return {bitgrad::call<SiluBwd>(dy, x)};
  }
};

}  // namespace

Tensor silu(const Tensor& x) {
  BG_CHECK(x.defined(), "silu: the input tensor is undefined");
  BG_CHECK(x.dtype() == bitgrad::DType::kFloat32 || x.dtype() == bitgrad::DType::kFloat64,
           "silu: expected a float32 or float64 tensor, got ", bitgrad::dtype_name(x.dtype()),
           " of shape ", x.shape());
  return bitgrad::apply(Silu{}, x);
}

}  // namespace custom_op
