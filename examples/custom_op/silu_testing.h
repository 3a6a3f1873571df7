// What both SiLU tests compare with (silu_test.cc, silu_cuda_test.cc): the reference kernels'
// results, within the rounding the faster kernels may differ by, through bitgrad's parity oracle
// (tests/testing/parity.h) or directly.
#pragma once

#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "examples/custom_op/silu.h"
#include "tests/testing/parity.h"

namespace custom_op {

// Float tolerances: the kernels may round differently (fused loops, expf on the GPU).
inline double rtol_for(bitgrad::DType dtype) {
  return dtype == bitgrad::DType::kFloat32 ? 2e-6 : 1e-13;
}
inline double atol_for(bitgrad::DType dtype) {
  return dtype == bitgrad::DType::kFloat32 ? 1e-6 : 1e-14;
}

// For bitgrad::testing::matches_reference: these tolerances, the fast run on `device`.
inline bitgrad::testing::ParityOptions parity_options(bitgrad::DType dtype,
                                                      bitgrad::Device device) {
  bitgrad::testing::ParityOptions options;
  options.rtol = rtol_for(dtype);
  options.atol = atol_for(dtype);
  options.device = device;
  return options;
}

// SiLU of a computation's one input, for matches_reference.
inline bitgrad::Tensor silu_of_input(const std::vector<bitgrad::Tensor>& inputs) {
  return silu(inputs[0]);
}

inline bitgrad::Tensor reference_forward(const bitgrad::Tensor& x) {
  bitgrad::BackendOverride reference(bitgrad::Backend::kRef);
  return silu(x.to(bitgrad::Device::cpu()));
}

inline bitgrad::Tensor reference_backward(const bitgrad::Tensor& dy, const bitgrad::Tensor& x) {
  bitgrad::BackendOverride reference(bitgrad::Backend::kRef);
  return bitgrad::call<SiluBwd>(dy.to(bitgrad::Device::cpu()), x.to(bitgrad::Device::cpu()));
}

}  // namespace custom_op
