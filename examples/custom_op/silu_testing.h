// What both SiLU tests compare with (silu_test.cc, silu_cuda_test.cc): the reference kernels'
// results, within the rounding the faster kernels may differ by.
#pragma once

#include "core/dispatch.h"
#include "core/tensor.h"
#include "examples/custom_op/silu.h"

namespace custom_op {

// Float tolerances: the kernels may round differently (fused loops, expf on the GPU).
inline double rtol_for(bitgrad::DType dtype) {
  return dtype == bitgrad::DType::kFloat32 ? 2e-6 : 1e-13;
}
inline double atol_for(bitgrad::DType dtype) {
  return dtype == bitgrad::DType::kFloat32 ? 1e-6 : 1e-14;
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
