#include "models/nn/init.h"

#include <cmath>

namespace bitgrad::nn {

Tensor kaiming_normal(const Shape& shape, Generator& generator) {
  BG_CHECK(shape.rank() >= 2 && shape.numel() > 0, "kaiming_normal: expected a weight shape ",
           "(out, in, ...) with no zero extent, got ", shape);
  const double fan_in = static_cast<double>(shape.numel() / shape[0]);
  const double std = std::sqrt(2.0 / fan_in);
  Tensor w = randn(shape, DType::kFloat32, Device::cpu(), generator);
  float* values = w.mutable_data<float>();
  for (int64_t i = 0; i < w.numel(); ++i) values[i] = static_cast<float>(values[i] * std);
  return w;
}

}  // namespace bitgrad::nn
