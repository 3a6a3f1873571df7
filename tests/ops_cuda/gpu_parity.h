// ParityOptions for comparing the CUDA kernels with the reference kernels (tests/testing/parity.h):
// the fast run on cuda:0, float32 at parity's default tolerance, float64 at 1e-12.
#pragma once

#include "tests/testing/parity.h"

namespace bitgrad::testing {

inline ParityOptions on_gpu(DType dtype = DType::kFloat32) {
  ParityOptions options;
  options.device = Device::cuda();
  if (dtype == DType::kFloat64) options.rtol = options.atol = 1e-12;
  return options;
}

}  // namespace bitgrad::testing
