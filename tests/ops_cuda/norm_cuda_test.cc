// The CUDA GroupNorm and Weight Standardization kernels against the reference kernels.
#include "core/random.h"
#include "ops/elementwise.h"
#include "ops/norm.h"
#include "tests/ops_cuda/gpu_parity.h"
#include "tests/testing/assertions.h"
#include "tests/testing/gpu.h"

namespace bitgrad {
namespace {

using testing::close_relative;
using testing::matches_reference;
using testing::on_gpu;
using testing::random_input;

TEST(GroupNormCudaTest, ForwardAndBackwardMatchTheReference) {
  BG_REQUIRE_GPU();
  struct Case {
    Shape x;
    int64_t groups;
  };
  // Odd sizes, one channel per group, one group, a spatial size under a warp, a 3-D input.
  for (const Case& c : std::vector<Case>{{{3, 12, 5, 7}, 4},
                                         {{2, 6, 9, 9}, 6},
                                         {{2, 10, 3, 3}, 1},
                                         {{5, 64, 4, 4}, 32},
                                         {{2, 8, 33}, 2}}) {
    for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
      for (bool relu : {false, true}) {
        for (bool affine : {false, true}) {
          SCOPED_TRACE(::testing::Message() << c.x << " groups " << c.groups << " relu " << relu
                                            << " affine " << affine << " " << dtype_name(dtype));
          GroupNormAttrs attrs{c.groups, 1e-5, relu};
          Tensor gamma = affine ? random_input({c.x[1]}, dtype) : Tensor();
          Tensor beta = affine ? random_input({c.x[1]}, dtype) : Tensor();
          EXPECT_TRUE(matches_reference(
              [&](const std::vector<Tensor>& in) { return group_norm(in[0], in[1], in[2], attrs); },
              {random_input(c.x, dtype), gamma, beta}, on_gpu(dtype)));
        }
      }
    }
  }
}

// The residual gradient folded into dx (dx_addend), with and without the ReLU, and statistics
// where |mean| >> std.
TEST(GroupNormCudaTest, BackwardAddsTheResidualGradientAndKeepsLargeMeansExact) {
  BG_REQUIRE_GPU();
  for (bool relu : {false, true}) {
    SCOPED_TRACE(relu ? "relu" : "no relu");
    const Shape shape{2, 8, 5, 5};
    GroupNormAttrs attrs{4, 1e-5, relu};
    Tensor x = randn(shape) * 0.01 + 300.0, gamma = randn({8}), beta = randn({8});
    GroupNormResult forward;
    GroupNormGrads expected;
    Tensor dy = randn(shape), addend = randn(shape);
    {
      BackendOverride reference(Backend::kRef);
      forward = call<GroupNormFwd>(x, gamma, beta, attrs);
      expected = call<GroupNormBwd>(dy, x, gamma, beta, forward.mean, forward.rstd, addend, attrs);
    }
    auto gpu = [](const Tensor& t) { return t.to(Device::cuda()); };
    GroupNormResult gpu_forward = call<GroupNormFwd>(gpu(x), gpu(gamma), gpu(beta), attrs);
    EXPECT_TRUE(close_relative(gpu_forward.y, forward.y, 1e-4));
    EXPECT_TRUE(close_relative(gpu_forward.mean, forward.mean, 1e-6));
    EXPECT_TRUE(close_relative(gpu_forward.rstd, forward.rstd, 1e-4));
    GroupNormGrads grads = call<GroupNormBwd>(gpu(dy), gpu(x), gpu(gamma), gpu(beta),
                                              gpu(forward.mean), gpu(forward.rstd), gpu(addend),
                                              attrs);
    EXPECT_TRUE(close_relative(grads.dx, expected.dx, 1e-4));
    EXPECT_TRUE(close_relative(grads.dgamma, expected.dgamma, 1e-4));
    EXPECT_TRUE(close_relative(grads.dbeta, expected.dbeta, 1e-4));
  }
}

TEST(WeightStandardizeCudaTest, ForwardAndBackwardMatchTheReference) {
  BG_REQUIRE_GPU();
  for (const Shape& w : {Shape{7, 3, 3, 3}, Shape{64, 256, 1, 1}, Shape{5, 1, 1, 1},
                         Shape{3, 1031}}) {
    for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
      SCOPED_TRACE(w.str() + " " + dtype_name(dtype));
      EXPECT_TRUE(matches_reference(
          [](const std::vector<Tensor>& in) { return weight_standardize(in[0], 1e-10); },
          {random_input(w, dtype)}, on_gpu(dtype)));
    }
  }
}

}  // namespace
}  // namespace bitgrad
