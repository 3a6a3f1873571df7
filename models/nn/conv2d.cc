#include "models/nn/conv2d.h"

#include "models/nn/init.h"

namespace bitgrad::nn {

Conv2d::Conv2d(const Conv2dOptions& options, Generator& generator)
    : Conv2d("Conv2d", options, generator) {}

Conv2d::Conv2d(std::string class_name, const Conv2dOptions& options, Generator& generator)
    : Module(std::move(class_name)), options_(options) {
  const int64_t groups = options.attrs().groups;
  BG_CHECK(options.in_channels() > 0 && options.out_channels() > 0 &&
               options.kernel_size() > 0 && groups > 0,
           type_name(), ": channels, kernel size and groups must be positive, got in ",
           options.in_channels(), ", out ", options.out_channels(), ", kernel ",
           options.kernel_size(), ", groups ", groups);
  BG_CHECK(options.in_channels() % groups == 0 && options.out_channels() % groups == 0,
           type_name(), ": ", groups, " groups must divide in ", options.in_channels(),
           " and out ", options.out_channels(), " channels");
  const int64_t k = options.kernel_size();
  weight = register_parameter(
      "weight",
      kaiming_normal({options.out_channels(), options.in_channels() / groups, k, k}, generator));
  if (options.bias()) bias = register_parameter("bias", zeros({options.out_channels()}));
}

Tensor Conv2d::forward(const Tensor& x) {
  return conv2d(x, effective_weight(), bias, options_.attrs());
}

Tensor Conv2d::forward_add(const Tensor& x, Tensor addend) {
  BG_CHECK(!bias.defined(), type_name(), ": forward_add is for layers without a bias");
  return conv2d_add(x, effective_weight(), std::move(addend), options_.attrs());
}

}  // namespace bitgrad::nn
