#include "models/nn/linear.h"

#include "models/nn/init.h"
#include "ops/linear.h"

namespace bitgrad::nn {

Linear::Linear(int64_t in_features, int64_t out_features, bool bias, Generator& generator)
    : Module("Linear") {
  BG_CHECK(in_features > 0 && out_features > 0, "Linear: in and out features must be positive, ",
           "got ", in_features, " and ", out_features);
  weight = register_parameter("weight", kaiming_normal({out_features, in_features}, generator));
  if (bias) this->bias = register_parameter("bias", zeros({out_features}));
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }

}  // namespace bitgrad::nn
