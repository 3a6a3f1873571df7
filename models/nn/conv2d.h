// Conv2d: a 2-D convolution layer over NCHW input with an OIHW weight and an optional bias.
//
//   nn::Conv2d conv(nn::Conv2dOptions(64, 128, 3).stride(2).padding(1).bias(false));
//   Tensor y = conv(x);
//
// Parameters: "weight" (out, in/groups, k, k), Kaiming-normal (models/nn/init.h); "bias" (out),
// zeros, registered only when options.bias() is true.
#pragma once

#include <cstdint>

#include "core/random.h"
#include "models/module.h"
#include "ops/conv.h"

namespace bitgrad::nn {

class Conv2dOptions {
 public:
  Conv2dOptions(int64_t in_channels, int64_t out_channels, int64_t kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}

  Conv2dOptions& stride(int64_t s) { attrs_.stride = {s, s}; return *this; }
  Conv2dOptions& padding(int64_t p) { attrs_.padding = {p, p}; return *this; }
  Conv2dOptions& dilation(int64_t d) { attrs_.dilation = {d, d}; return *this; }
  Conv2dOptions& groups(int64_t g) { attrs_.groups = g; return *this; }
  Conv2dOptions& bias(bool b) { bias_ = b; return *this; }

  int64_t in_channels() const { return in_channels_; }
  int64_t out_channels() const { return out_channels_; }
  int64_t kernel_size() const { return kernel_size_; }
  bool bias() const { return bias_; }
  const Conv2dAttrs& attrs() const { return attrs_; }

 private:
  int64_t in_channels_, out_channels_, kernel_size_;
  Conv2dAttrs attrs_;
  bool bias_ = true;
};

class Conv2d : public Module {
 public:
  explicit Conv2d(const Conv2dOptions& options, Generator& generator = default_generator());

  Tensor forward(const Tensor& x);
  Tensor operator()(const Tensor& x) { return forward(x); }
  // forward(x) + addend in one kernel (conv2d_add; a layer without bias). The addend is given up:
  // its memory may hold the result when no other handle shares it.
  Tensor forward_add(const Tensor& x, Tensor addend);

  const Conv2dOptions& options() const { return options_; }
  Tensor weight;
  Tensor bias;  // undefined without a bias

 protected:
  Conv2d(std::string class_name, const Conv2dOptions& options, Generator& generator);
  // The kernel the convolution uses; StdConv2d standardizes it.
  virtual Tensor effective_weight() { return weight; }

 private:
  Conv2dOptions options_;
};

}  // namespace bitgrad::nn
