#include "models/nn/std_conv2d.h"

#include "autograd/grad_mode.h"
#include "ops/norm.h"

namespace bitgrad::nn {

StdConv2d::StdConv2d(const Conv2dOptions& options, Generator& generator, double eps)
    : Conv2d("StdConv2d", options, generator), eps_(eps) {
  BG_CHECK(eps >= 0, "StdConv2d: eps must be >= 0, got ", eps);
}

Tensor StdConv2d::effective_weight() {
  const bool gradient_can_reach_weight = GradMode::is_enabled() && weight.requires_grad();
  if (is_training() || gradient_can_reach_weight) {
    clear_cache();
    return weight_standardize(weight, eps_);
  }
  const TensorImpl& current = *weight.impl();
  if (cached_weight_.defined() && cached_from_ == current.storage &&
      cached_offset_ == current.byte_offset && cached_version_ == weight.version()) {
    return cached_weight_;
  }
  {
    NoGradGuard no_grad;
    cached_weight_ = weight_standardize(weight, eps_);
  }
  cached_from_ = current.storage;
  cached_offset_ = current.byte_offset;
  cached_version_ = weight.version();
  return cached_weight_;
}

void StdConv2d::clear_cache() {
  cached_weight_ = Tensor();
  cached_from_.reset();
}

}  // namespace bitgrad::nn
