// The CPU SGD update against the reference kernel: bit-identical, for every option, on sizes
// below and above the threading threshold, on the portable and the AVX2 path.
#include "ops/sgd_update.h"

#include "ops/cpu/common/cpu_isa.h"

#include "core/random.h"
#include "gtest/gtest.h"
#include "tests/testing/assertions.h"

namespace bitgrad {
namespace {

struct State {
  Tensor param, grad, buffer;
};

State run(Backend backend, const State& start, const SgdUpdateAttrs& attrs, int steps) {
  BackendOverride force(backend);
  State s{start.param.clone(), start.grad, start.buffer.clone()};
  for (int i = 0; i < steps; ++i) {
    SgdUpdateAttrs step_attrs = attrs;
    step_attrs.first_step = attrs.first_step && i == 0;
    call<SgdUpdate>(s.param, s.grad, s.buffer, step_attrs);
  }
  return s;
}

class SgdUpdateKernelTest : public ::testing::TestWithParam<cpu::CpuIsa> {};

TEST_P(SgdUpdateKernelTest, MatchesTheReferenceKernelExactly) {
  cpu::ScopedCpuIsaCap isa(GetParam());
  Generator g(3);
  for (int64_t n : {1, 7, 1000, 70001}) {
    for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
      State start{randn({n}, dtype, Device::cpu(), g), randn({n}, dtype, Device::cpu(), g),
                  randn({n}, dtype, Device::cpu(), g)};
      for (SgdUpdateAttrs attrs : {SgdUpdateAttrs{0.1, 0.9, 0, 0, false, true},
                                   SgdUpdateAttrs{0.05, 0.9, 0, 1e-4, true, false},
                                   SgdUpdateAttrs{0.2, 0.5, 0.3, 0, false, false}}) {
        State expected = run(Backend::kRef, start, attrs, 3);
        State actual = run(Backend::kCpu, start, attrs, 3);
        EXPECT_TRUE(testing::all_close(actual.param, expected.param, 0, 0)) << n;
        EXPECT_TRUE(testing::all_close(actual.buffer, expected.buffer, 0, 0)) << n;
      }
      SgdUpdateAttrs plain{0.1, 0.0, 0, 0.01, false, false};  // no momentum: no buffer needed
      BackendOverride cpu(Backend::kCpu);
      Tensor p = start.param.clone();
      call<SgdUpdate>(p, start.grad, Tensor(), plain);
      BackendOverride ref(Backend::kRef);
      Tensor q = start.param.clone();
      call<SgdUpdate>(q, start.grad, Tensor(), plain);
      EXPECT_TRUE(testing::all_close(p, q, 0, 0));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, SgdUpdateKernelTest,
                         ::testing::Values(cpu::CpuIsa::kPortable, cpu::CpuIsa::kAvx2Fma),
                         [](const auto& info) {
                           return std::string(info.param == cpu::CpuIsa::kPortable ? "Portable"
                                                                                    : "Avx2");
                         });

TEST(SgdUpdateKernelErrorTest, MismatchedGradientIsAnError) {
  BackendOverride cpu(Backend::kCpu);
  EXPECT_TRUE(testing::throws_error(
      [] { call<SgdUpdate>(zeros({3}), zeros({4}), zeros({3}), SgdUpdateAttrs{}); },
      {"sgd_update", "(4)", "(3)"}));
}

}  // namespace
}  // namespace bitgrad
