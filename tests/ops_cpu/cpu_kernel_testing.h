// Helpers shared by the CPU kernel tests: seeded random tensors with a chosen mean and spread,
// the tolerance of each dtype, and the ISAs to run each check under.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/random.h"
#include "core/tensor.h"
#include "ops/cpu/common/cpu_isa.h"
#include "tests/testing/assertions.h"

namespace bitgrad::testing {

// Normal samples mean + stddev * N(0, 1), drawn from `generator`.
inline Tensor random_normal(const Shape& shape, DType dtype, Generator& generator,
                            double mean = 0.0, double stddev = 1.0) {
  Tensor t = empty(shape, dtype);
  BG_DISPATCH_FLOAT(dtype, "random_normal", [&] {
    scalar_t* p = t.mutable_data<scalar_t>();
    for (int64_t i = 0; i < t.numel(); ++i) {
      p[i] = static_cast<scalar_t>(mean + stddev * generator.normal());
    }
  });
  return t;
}

// Float32 kernels reorder float sums; float64 ones match the reference to near rounding.
inline double tolerance_for(DType dtype) { return dtype == DType::kFloat64 ? 1e-10 : 2e-5; }

// Every ISA the kernels can run with on this machine (a portable-only CPU tests one path).
inline std::vector<cpu::CpuIsa> isas_to_test() {
  std::vector<cpu::CpuIsa> isas{cpu::CpuIsa::kPortable};
  if (cpu::active_cpu_isa() == cpu::CpuIsa::kAvx2Fma) isas.push_back(cpu::CpuIsa::kAvx2Fma);
  return isas;
}

}  // namespace bitgrad::testing
