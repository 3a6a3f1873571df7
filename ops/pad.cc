#include "ops/pad.h"

#include "autograd/function.h"

namespace bitgrad {
namespace {

struct ConstantPad {
  static constexpr const char* kName = "pad";
  PadAttrs attrs;

  Tensor forward(const Tensor& x) { return call<ConstantPadFwd>(x, attrs); }
  std::vector<Tensor> backward(const Tensor& dy, const std::vector<bool>&) {
    // The gradient of padding is cropping the same amounts (and vice versa).
    PadAttrs crop{{}, {}, 0.0};
    for (int64_t b : attrs.before) crop.before.push_back(-b);
    for (int64_t a : attrs.after) crop.after.push_back(-a);
    return {call<ConstantPadFwd>(dy, crop)};
  }
};

}  // namespace

Shape constant_pad_output_shape(const Shape& x, const PadAttrs& attrs) {
  const int64_t rank = x.rank();
  BG_CHECK(static_cast<int64_t>(attrs.before.size()) == rank &&
               static_cast<int64_t>(attrs.after.size()) == rank,
           "pad: expected before/after amounts for all ", rank, " dims of shape ", x, ", got ",
           attrs.before.size(), " and ", attrs.after.size());
  Shape out = x;
  for (int64_t d = 0; d < rank; ++d) {
    out[d] = attrs.before[d] + x[d] + attrs.after[d];
    BG_CHECK(out[d] >= 0, "pad: padding (", attrs.before[d], ", ", attrs.after[d],
             ") crops dimension ", d, " of shape ", x, " below zero");
  }
  return out;
}

Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, double value) {
  BG_CHECK(x.defined(), "pad: the input tensor is undefined");
  BG_CHECK(pads.size() % 2 == 0 && static_cast<int64_t>(pads.size()) <= 2 * x.dim(),
           "pad: expected (before, after) pairs for at most ", x.dim(), " dims of shape ",
           x.shape(), ", got ", pads.size(), " values");
  PadAttrs attrs{std::vector<int64_t>(x.dim(), 0), std::vector<int64_t>(x.dim(), 0), value};
  for (size_t pair = 0; pair < pads.size() / 2; ++pair) {
    int64_t d = x.dim() - 1 - static_cast<int64_t>(pair);
    attrs.before[d] = pads[2 * pair];
    attrs.after[d] = pads[2 * pair + 1];
  }
  constant_pad_output_shape(x.shape(), attrs);  // the same checks and messages, before autograd
  return apply(ConstantPad{attrs}, x);
}

}  // namespace bitgrad
