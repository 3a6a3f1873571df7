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

std::optional<NonFinite> find_non_finite(const std::vector<Tensor>& tensors) {
  const int64_t bad = first_non_finite(tensors);
  if (bad < 0) return std::nullopt;
  const std::vector<double> values = tensors[bad].to_vector<double>();
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      return NonFinite{static_cast<size_t>(bad), static_cast<int64_t>(i), values[i]};
    }
  }
  BG_ASSERT(false, "find_non_finite: the kernel named tensor ", bad, ", which is finite");
  return std::nullopt;
}

}  // namespace bitgrad
