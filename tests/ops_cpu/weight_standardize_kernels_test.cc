// The CPU Weight Standardization kernels against the reference kernels.
#include "ops/cpu/norm/weight_standardize_kernel.h"

#include <string>
#include <vector>

#include "core/dispatch.h"
#include "gtest/gtest.h"
#include "ops/norm.h"
#include "tests/ops_cpu/cpu_kernel_testing.h"
#include "tests/testing/gradcheck.h"

namespace bitgrad {
namespace {

using testing::close_relative;
using testing::random_normal;
using testing::tolerance_for;

struct Case {
  Shape shape;
  double mean = 0, stddev = 0.05;  // of the weights
};

// BiT's conv kernels in miniature (3x3, 1x1, the 7x7 root), big enough to run on several
// threads, odd sizes, and rows with a large offset relative to their spread.
std::vector<Case> cases() {
  return {
      {{64, 32, 3, 3}},
      {{128, 256, 1, 1}},
      {{16, 3, 7, 7}},
      {{10, 7, 1, 1}},
      {{5, 1}},
      {{1, 1, 1, 1}},
      {{3, 5, 3}},
      {{256, 64, 3, 3}},
      {{32, 16, 3, 3}, 50.0, 0.01},
      {{7, 9, 1, 1}, -3.0, 1e-4},
  };
}

Tensor fwd_on(Backend backend, const Tensor& w, double eps) {
  BackendOverride use(backend);
  return call<WeightStandardizeFwd>(w, eps);
}

Tensor bwd_on(Backend backend, const Tensor& dy, const Tensor& w, double eps) {
  BackendOverride use(backend);
  return call<WeightStandardizeBwd>(dy, w, eps);
}

// Every case, in float32 and float64, on every ISA.
TEST(WeightStandardizeKernelsTest, MatchesReference) {
  Generator gen(17);
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    for (const Case& c : cases()) {
      for (double eps : {1e-10, 1e-5}) {
        SCOPED_TRACE(c.shape.str() + " mean " + std::to_string(c.mean) + " eps " +
                     std::to_string(eps) + " " + dtype_name(dtype));
        Tensor w = random_normal(c.shape, dtype, gen, c.mean, c.stddev);
        Tensor dy = random_normal(c.shape, dtype, gen);
        const Tensor ref_w_hat = fwd_on(Backend::kRef, w, eps);
        const Tensor ref_dw = bwd_on(Backend::kRef, dy, w, eps);
        for (cpu::CpuIsa isa : testing::isas_to_test()) {
          SCOPED_TRACE(cpu::cpu_isa_name(isa));
          cpu::ScopedCpuIsaCap cap(isa);
          EXPECT_TRUE(
              close_relative(fwd_on(Backend::kCpu, w, eps), ref_w_hat, tolerance_for(dtype)));
          EXPECT_TRUE(
              close_relative(bwd_on(Backend::kCpu, dy, w, eps), ref_dw, tolerance_for(dtype)));
        }
      }
    }
  }
}

// Independent of the reference: every standardized row has mean 0 and (biased) variance 1.
TEST(WeightStandardizeKernelsTest, RowsHaveZeroMeanAndUnitVariance) {
  Generator gen(19);
  Tensor w = random_normal({48, 24, 3, 3}, DType::kFloat64, gen, 0.3, 0.2);
  std::vector<double> w_hat = fwd_on(Backend::kCpu, w, 1e-10).to_vector<double>();
  const int64_t cols = 24 * 9;
  for (int64_t o = 0; o < 48; ++o) {
    double sum = 0, sum_sq = 0;
    for (int64_t i = 0; i < cols; ++i) sum += w_hat[o * cols + i];
    for (int64_t i = 0; i < cols; ++i) sum_sq += w_hat[o * cols + i] * w_hat[o * cols + i];
    EXPECT_NEAR(sum / cols, 0.0, 1e-12) << "row " << o;
    EXPECT_NEAR(sum_sq / cols, 1.0, 1e-8) << "row " << o;
  }
}

TEST(WeightStandardizeKernelsTest, GradcheckThroughKcpu) {
  Generator gen(23);
  testing::GradcheckOptions options;
  options.backend = Backend::kCpu;
  Tensor w = random_normal({6, 4, 3, 3}, DType::kFloat64, gen, 0.1, 0.5).set_requires_grad();
  EXPECT_TRUE(testing::gradcheck(
      [](const std::vector<Tensor>& in) { return weight_standardize(in[0], 1e-10); }, {w},
      options));
}

TEST(WeightStandardizeKernelsTest, ErrorsNameTheOpAndShapes) {
  BackendOverride use(Backend::kCpu);
  EXPECT_TRUE(testing::throws_error(
      [] {
        call<WeightStandardizeBwd>(zeros({4, 3}), zeros({4, 2}), 1e-10);
      },
      {"weight_standardize backward", "(4, 3)", "(4, 2)"}));
  EXPECT_TRUE(testing::throws_error(
      [] {
        call<WeightStandardizeBwd>(zeros({4, 3}, DType::kFloat64), zeros({4, 3}), 1e-10);
      },
      {"weight_standardize backward", "float64", "float32"}));
  EXPECT_TRUE(testing::throws_error([] { call<WeightStandardizeFwd>(zeros({5}), 1e-10); },
                                    {"weight_standardize", "(5)"}));
  EXPECT_TRUE(testing::throws_error(
      [] {
        call<WeightStandardizeFwd>(zeros({4, 3}, DType::kInt64), 1e-10);
      },
      {"weight_standardize", "int64"}));
}

}  // namespace
}  // namespace bitgrad
