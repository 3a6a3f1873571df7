// The CPU FirstNonFinite against the reference kernel, on random lists of tensors with NaNs and
// infinities at random places: sizes below and above a chunk (65536 elements) and the threading
// threshold, odd ones, empty ones, both dtypes, and bad values on and next to chunk edges; on
// every ISA path this CPU has.
#include "ops/non_finite.h"

#include <cmath>
#include <limits>

#include "core/random.h"
#include "gtest/gtest.h"
#include "tests/ops_cpu/cpu_kernel_testing.h"

namespace bitgrad {
namespace {

int64_t first_non_finite_on(Backend backend, const std::vector<Tensor>& tensors) {
  BackendOverride force(backend);
  return first_non_finite(tensors);
}

// NaN, +Inf or -Inf, as a double.
double bad_value(Generator& g) {
  const double kInf = std::numeric_limits<double>::infinity();
  const double values[] = {std::nan(""), kInf, -kInf};
  return values[g.randint(3)];
}

// An element index of an n-element tensor, often at or next to a chunk edge.
int64_t bad_place(int64_t n, Generator& g) {
  const int64_t edges[] = {0, n - 1, 65535, 65536, 65537, 131071};
  const int64_t edge = edges[g.randint(6)];
  return g.randint(2) == 0 && edge < n ? edge : g.randint(n);
}

TEST(FirstNonFiniteKernelTest, MatchesTheReferenceKernel) {
  Generator g(11);
  const int64_t sizes[] = {0, 1, 7, 1000, 32767, 65536, 65537, 200003};
  int found_bad = 0;
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<Tensor> tensors;
    const int64_t count = 1 + g.randint(6);
    for (int64_t i = 0; i < count; ++i) {
      const int64_t n = sizes[g.randint(8)];
      const DType dtype = g.randint(2) == 0 ? DType::kFloat32 : DType::kFloat64;
      Tensor t = randn({n}, dtype, Device::cpu(), g);
      if (n > 0 && g.randint(3) == 0) {
        std::vector<double> values = t.to_vector<double>();
        values[bad_place(n, g)] = bad_value(g);
        t = from_vector(values, {n}).to(dtype);
      }
      tensors.push_back(t);
    }
    const int64_t expected = first_non_finite_on(Backend::kRef, tensors);
    for (cpu::CpuIsa isa : testing::isas_to_test()) {
      cpu::ScopedCpuIsaCap cap(isa);
      EXPECT_EQ(first_non_finite_on(Backend::kCpu, tensors), expected)
          << "trial " << trial << ", " << cpu::cpu_isa_name(isa);
    }
    found_bad += expected >= 0;
  }
  EXPECT_GT(found_bad, 50);  // the trials hold both answers
  EXPECT_LT(found_bad, 150);
}

}  // namespace
}  // namespace bitgrad
