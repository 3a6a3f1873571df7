// Reference kernel of FirstNonFinite (ops/non_finite.h): each tensor in turn, element by element.
#include <cmath>

#include "ops/non_finite.h"

namespace bitgrad::ref {
namespace {

int64_t first_non_finite_ref(const std::vector<Tensor>& tensors) {
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    const bool finite = BG_DISPATCH_FLOAT(t.dtype(), "first_non_finite", [&] {
      const scalar_t* x = t.data<scalar_t>();
      for (int64_t j = 0; j < t.numel(); ++j) {
        if (!std::isfinite(x[j])) return false;
      }
      return true;
    });
    if (!finite) return static_cast<int64_t>(i);
  }
  return -1;
}

}  // namespace

BG_REGISTER_KERNEL(FirstNonFinite, kRef, first_non_finite_ref);

}  // namespace bitgrad::ref
