// Linear: y = x @ weight^T + bias, x (N, in) -> (N, out).
//
// Parameters: "weight" (out, in), Kaiming-normal (models/nn/init.h); "bias" (out), zeros,
// registered only when `bias` is true.
#pragma once

#include <cstdint>

#include "core/random.h"
#include "models/module.h"

namespace bitgrad::nn {

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true,
         Generator& generator = default_generator());

  Tensor forward(const Tensor& x);
  Tensor operator()(const Tensor& x) { return forward(x); }

  Tensor weight;
  Tensor bias;  // undefined without a bias
};

}  // namespace bitgrad::nn
