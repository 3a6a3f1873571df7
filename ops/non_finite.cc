#include "ops/non_finite.h"

#include <cmath>

namespace bitgrad {

int64_t first_non_finite(const std::vector<Tensor>& tensors) {
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    BG_CHECK(t.defined(), "first_non_finite: tensor ", i, " is undefined");
    BG_CHECK(t.dtype() == DType::kFloat32 || t.dtype() == DType::kFloat64,
             "first_non_finite: tensor ", i, " is ", dtype_name(t.dtype()),
             ", expected float32 or float64");
  }
  if (tensors.empty()) return -1;
  return call<FirstNonFinite>(tensors);
}

NonFiniteElement locate_non_finite(const Tensor& tensor) {
  const std::vector<double> values = tensor.to_vector<double>();
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) return {static_cast<int64_t>(i), values[i]};
  }
  return {};
}

}  // namespace bitgrad
