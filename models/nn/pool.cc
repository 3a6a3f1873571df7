#include "models/nn/pool.h"

#include "ops/pad.h"

namespace bitgrad::nn {

MaxPool2d::MaxPool2d(const Pool2dAttrs& attrs) : Module("MaxPool2d"), attrs_(attrs) {}

Tensor MaxPool2d::forward(const Tensor& x) { return max_pool2d(x, attrs_); }

ZeroPadMaxPool2d::ZeroPadMaxPool2d(int64_t zero_padding, const Pool2dAttrs& attrs)
    : Module("ZeroPadMaxPool2d"), zero_padding_(zero_padding), attrs_(attrs) {
  BG_CHECK(zero_padding >= 0, "ZeroPadMaxPool2d: zero_padding must be >= 0, got ", zero_padding);
  BG_CHECK(attrs.padding[0] == 0 && attrs.padding[1] == 0, "ZeroPadMaxPool2d: the pool itself ",
           "must not pad (its padding would be -inf); got padding (", attrs.padding[0], ", ",
           attrs.padding[1], ")");
}

Tensor ZeroPadMaxPool2d::forward(const Tensor& x) {
  const int64_t p = zero_padding_;
  return max_pool2d(pad(x, {p, p, p, p}, 0.0), attrs_);
}

}  // namespace bitgrad::nn
