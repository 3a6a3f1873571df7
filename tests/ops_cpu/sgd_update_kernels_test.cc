// The CPU SGD update against the reference kernel: bit-identical, for every option, on sizes
// below and above the threading threshold, one parameter or many in one call, on the portable
// and the AVX2 path.
#include "ops/sgd_update.h"

#include <cmath>

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
    call<SgdUpdate>(std::vector<Tensor>{s.param}, std::vector<Tensor>{s.grad},
                    std::vector<Tensor>{s.buffer}, step_attrs);
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
      for (SgdUpdateAttrs attrs : {SgdUpdateAttrs{{0.1, 0.9, 0, 0, false}, true},
                                   SgdUpdateAttrs{{0.05, 0.9, 0, 1e-4, true}, false},
                                   SgdUpdateAttrs{{0.2, 0.5, 0.3, 0, false}, false}}) {
        State expected = run(Backend::kRef, start, attrs, 3);
        State actual = run(Backend::kCpu, start, attrs, 3);
        EXPECT_TRUE(testing::all_close(actual.param, expected.param, 0, 0)) << n;
        EXPECT_TRUE(testing::all_close(actual.buffer, expected.buffer, 0, 0)) << n;
      }
      SgdUpdateAttrs plain{{0.1, 0.0, 0, 0.01, false}, false};  // no momentum: no buffer needed
      BackendOverride cpu(Backend::kCpu);
      Tensor p = start.param.clone();
      call<SgdUpdate>(std::vector<Tensor>{p}, std::vector<Tensor>{start.grad},
                      std::vector<Tensor>{}, plain);
      BackendOverride ref(Backend::kRef);
      Tensor q = start.param.clone();
      call<SgdUpdate>(std::vector<Tensor>{q}, std::vector<Tensor>{start.grad},
                      std::vector<Tensor>{}, plain);
      EXPECT_TRUE(testing::all_close(p, q, 0, 0));
    }
  }
}

// One call over parameters of mixed sizes and dtypes, which the threads split across parameter
// boundaries, against the reference kernel. With two threads the split falls at element 32768,
// just after the one-element parameter 2.
TEST_P(SgdUpdateKernelTest, ManyParametersInOneCallMatchTheReferenceKernelExactly) {
  cpu::ScopedCpuIsaCap isa(GetParam());
  Generator g(11);
  std::vector<Tensor> params, grads, buffers;
  const std::vector<int64_t> sizes = {5, 32762, 1, 17, 32748, 3};
  for (size_t i = 0; i < sizes.size(); ++i) {
    const DType dtype = i % 2 == 0 ? DType::kFloat32 : DType::kFloat64;
    params.push_back(randn({sizes[i]}, dtype, Device::cpu(), g));
    grads.push_back(randn({sizes[i]}, dtype, Device::cpu(), g));
    buffers.push_back(randn({sizes[i]}, dtype, Device::cpu(), g));
  }
  for (SgdUpdateAttrs attrs : {SgdUpdateAttrs{{0.1, 0.9, 0, 0, false}, true},
                               SgdUpdateAttrs{{0.05, 0.9, 0, 1e-4, true}, false}}) {
    std::vector<Tensor> expected, expected_buffers, actual, actual_buffers;
    for (size_t i = 0; i < sizes.size(); ++i) {
      expected.push_back(params[i].clone());
      expected_buffers.push_back(buffers[i].clone());
      actual.push_back(params[i].clone());
      actual_buffers.push_back(buffers[i].clone());
    }
    {
      BackendOverride ref(Backend::kRef);
      call<SgdUpdate>(expected, grads, expected_buffers, attrs);
    }
    BackendOverride cpu(Backend::kCpu);
    call<SgdUpdate>(actual, grads, actual_buffers, attrs);
    for (size_t i = 0; i < sizes.size(); ++i) {
      EXPECT_TRUE(testing::all_close(actual[i], expected[i], 0, 0)) << "parameter " << i;
      EXPECT_TRUE(testing::all_close(actual_buffers[i], expected_buffers[i], 0, 0)) << i;
    }
  }
}

// The update reports the first parameter it left holding a NaN or an infinity, wherever the
// threads' slices fall. With the two threads the tests run (.bazelrc), the first thread's slice
// ends 7 elements before the end of parameter 1, whose planted value, its last element, is the
// second thread's.
TEST_P(SgdUpdateKernelTest, ReportsTheFirstParameterLeftNonFinite) {
  cpu::ScopedCpuIsaCap isa(GetParam());
  const std::vector<int64_t> sizes = {5, 32770, 1, 17, 32740, 3};
  // Each planted parameter gets a finite gradient whose step overflows its last element to -inf,
  // or a NaN one.
  auto first_non_finite = [&](Backend backend, const std::vector<size_t>& planted, bool nan) {
    Generator g(13);
    std::vector<Tensor> params, grads, buffers;
    for (size_t i = 0; i < sizes.size(); ++i) {
      const DType dtype = i % 2 == 0 ? DType::kFloat32 : DType::kFloat64;
      params.push_back(randn({sizes[i]}, dtype, Device::cpu(), g));
      grads.push_back(randn({sizes[i]}, dtype, Device::cpu(), g));
      buffers.push_back(randn({sizes[i]}, dtype, Device::cpu(), g));
    }
    for (size_t i : planted) {
      Tensor grad = grads[i].to(DType::kFloat64);
      const double overflows = grads[i].dtype() == DType::kFloat32 ? 1e30 : 1e300;
      grad.at<double>({sizes[i] - 1}) = nan ? std::nan("") : overflows;
      grads[i] = grad.to(grads[i].dtype());
    }
    BackendOverride force(backend);
    return call<SgdUpdate>(params, grads, buffers, SgdUpdateAttrs{{1e10, 0.9, 0, 0, false}, true});
  };
  const std::vector<std::pair<std::vector<size_t>, int64_t>> cases = {
      {{}, -1}, {{4}, 4}, {{0}, 0}, {{4, 0}, 0}, {{1}, 1}, {{3, 1}, 1}, {{5, 3}, 3}, {{2, 3}, 2}};
  for (const auto& [planted, expected] : cases) {
    for (bool nan : {false, true}) {
      EXPECT_EQ(first_non_finite(Backend::kCpu, planted, nan), expected) << expected << nan;
      EXPECT_EQ(first_non_finite(Backend::kRef, planted, nan), expected) << expected << nan;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, SgdUpdateKernelTest,
                         ::testing::Values(cpu::CpuIsa::kPortable, cpu::CpuIsa::kAvx2Fma),
                         [](const auto& info) {
                           return std::string(info.param == cpu::CpuIsa::kPortable ? "Portable"
                                                                                    : "Avx2");
                         });

TEST(SgdUpdateKernelErrorTest, MismatchedListsAreErrors) {
  for (Backend backend : {Backend::kCpu, Backend::kRef}) {
    BackendOverride force(backend);
    const SgdUpdateAttrs momentum{{0.1, 0.9, 0, 0, false}, false};
    EXPECT_TRUE(testing::throws_error(
        [&] {
          call<SgdUpdate>(std::vector<Tensor>{zeros({3}), zeros({2})},
                          std::vector<Tensor>{zeros({3}), zeros({4})},
                          std::vector<Tensor>{zeros({3}), zeros({2})}, momentum);
        },
        {"sgd_update", "parameter 1", "(2)", "gradient", "(4)"}));
    EXPECT_TRUE(testing::throws_error(
        [&] {
          call<SgdUpdate>(std::vector<Tensor>{zeros({3})}, std::vector<Tensor>{zeros({3})},
                          std::vector<Tensor>{}, momentum);
        },
        {"sgd_update", "1 parameters", "0 momentum buffers"}));
    EXPECT_TRUE(testing::throws_error(
        [&] {
          call<SgdUpdate>(std::vector<Tensor>{zeros({3})},
                          std::vector<Tensor>{zeros({3}, DType::kFloat64)},
                          std::vector<Tensor>{zeros({3})}, momentum);
        },
        {"sgd_update", "parameter 0", "float32", "gradient", "float64"}));
    EXPECT_TRUE(testing::throws_error(
        [&] {
          call<SgdUpdate>(std::vector<Tensor>{zeros({3})}, std::vector<Tensor>{zeros({3})},
                          std::vector<Tensor>{Tensor()}, momentum);
        },
        {"sgd_update", "parameter 0", "momentum buffer", "undefined"}));
  }
}

// One call updates several parameters exactly as separate calls do.
TEST(SgdUpdateKernelErrorTest, OneCallForManyParametersEqualsOneCallEach) {
  Generator g(5);
  const SgdUpdateAttrs attrs{{0.05, 0.9, 0, 1e-4, false}, false};
  std::vector<Tensor> params, grads, buffers;
  for (int64_t n : {7, 70001, 1}) {
    params.push_back(randn({n}, DType::kFloat32, Device::cpu(), g));
    grads.push_back(randn({n}, DType::kFloat32, Device::cpu(), g));
    buffers.push_back(randn({n}, DType::kFloat32, Device::cpu(), g));
  }
  std::vector<Tensor> p1, b1;
  for (size_t i = 0; i < params.size(); ++i) {
    p1.push_back(params[i].clone());
    b1.push_back(buffers[i].clone());
    call<SgdUpdate>(std::vector<Tensor>{p1.back()}, std::vector<Tensor>{grads[i]},
                    std::vector<Tensor>{b1.back()}, attrs);
  }
  call<SgdUpdate>(params, grads, buffers, attrs);
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_TRUE(testing::all_close(params[i], p1[i], 0, 0));
    EXPECT_TRUE(testing::all_close(buffers[i], b1[i], 0, 0));
  }
}

}  // namespace
}  // namespace bitgrad
