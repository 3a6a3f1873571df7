#include "models/nn/group_norm.h"

namespace bitgrad::nn {

GroupNorm::GroupNorm(const GroupNormOptions& options) : Module("GroupNorm"), options_(options) {
  BG_CHECK(options.groups > 0 && options.channels > 0 && options.channels % options.groups == 0,
           "GroupNorm: ", options.groups, " groups must divide ", options.channels,
           " channels (both positive)");
  BG_CHECK(options.eps >= 0, "GroupNorm: eps must be >= 0, got ", options.eps);
  weight = register_parameter("weight", ones({options.channels}));
  bias = register_parameter("bias", zeros({options.channels}));
}

Tensor GroupNorm::forward(const Tensor& x) {
  GroupNormAttrs attrs;
  attrs.groups = options_.groups;
  attrs.eps = options_.eps;
  attrs.relu = options_.relu;
  return group_norm(x, weight, bias, attrs);
}

}  // namespace bitgrad::nn
