// Pooling layers (no parameters).
//
// MaxPool2d pads with -inf like PyTorch. BiT's root block instead pads one pixel of zeros and
// then pools with padding 0 (bit.md §1.4); ZeroPadMaxPool2d is that pair as one layer.
#pragma once

#include <cstdint>

#include "models/module.h"
#include "ops/pool.h"

namespace bitgrad::nn {

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(const Pool2dAttrs& attrs);

  Tensor forward(const Tensor& x);
  Tensor operator()(const Tensor& x) { return forward(x); }
  const Pool2dAttrs& attrs() const { return attrs_; }

 private:
  Pool2dAttrs attrs_;
};

// y = max_pool2d(pad(x, zero_padding on every side of H and W, value 0), attrs), attrs.padding 0.
class ZeroPadMaxPool2d : public Module {
 public:
  ZeroPadMaxPool2d(int64_t zero_padding, const Pool2dAttrs& attrs);

  Tensor forward(const Tensor& x);
  Tensor operator()(const Tensor& x) { return forward(x); }
  int64_t zero_padding() const { return zero_padding_; }
  const Pool2dAttrs& attrs() const { return attrs_; }

 private:
  int64_t zero_padding_;
  Pool2dAttrs attrs_;
};

}  // namespace bitgrad::nn
