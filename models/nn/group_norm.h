// GroupNorm over NC* input with per-channel affine parameters, optionally followed by a fused
// ReLU (BiT always applies ReLU right after its GroupNorms; one op instead of two).
//
// Parameters: "weight" (gamma, ones) and "bias" (beta, zeros), both (channels).
#pragma once

#include <cstdint>

#include "models/module.h"
#include "ops/norm.h"

namespace bitgrad::nn {

struct GroupNormOptions {
  int64_t groups = 32;
  int64_t channels = 0;
  double eps = 1e-5;
  bool relu = false;  // y = relu(group_norm(x))
};

class GroupNorm : public Module {
 public:
  explicit GroupNorm(const GroupNormOptions& options);

  Tensor forward(const Tensor& x);
  Tensor operator()(const Tensor& x) { return forward(x); }

  const GroupNormOptions& options() const { return options_; }
  Tensor weight;
  Tensor bias;

 private:
  GroupNormOptions options_;
};

}  // namespace bitgrad::nn
