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
    BG_CHECK(x.size(d) + attrs.before[d] + attrs.after[d] >= 0, "pad: padding (",
             attrs.before[d], ", ", attrs.after[d], ") crops dimension ", d, " of shape ",
             x.shape(), " below zero");
  }
  return apply(ConstantPad{attrs}, x);
}

}  // namespace bitgrad
