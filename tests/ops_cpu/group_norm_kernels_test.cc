// The CPU GroupNorm kernels against the reference kernels: the registered kCpu kernels on plain
// tensors, and the raw channel-blocked entry points on nChw8c / nChw16c buffers packed here.
#include "ops/cpu/norm/group_norm_kernel.h"

#include <omp.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "gtest/gtest.h"
#include "ops/elementwise.h"
#include "ops/norm.h"
#include "tests/ops_cpu/cpu_kernel_testing.h"
#include "tests/testing/gradcheck.h"

namespace bitgrad {
namespace {

using cpu::ChannelBlockedShape;
using cpu::CpuIsa;
using cpu::ScopedCpuIsaCap;
using testing::close_relative;
using testing::random_normal;
using testing::tolerance_for;

struct Case {
  int64_t batch, channels, groups;
  Shape spatial;                // the dims after (N, C)
  double mean = 0, stddev = 1;  // of x

  Shape x_shape() const {
    std::vector<int64_t> dims{batch, channels};
    for (int64_t d = 0; d < spatial.rank(); ++d) dims.push_back(spatial[d]);
    return Shape(dims);
  }
  std::string name() const {
    return "N=" + std::to_string(batch) + " C=" + std::to_string(channels) +
           " G=" + std::to_string(groups) + " x " + x_shape().str() +
           " mean=" + std::to_string(mean) + " std=" + std::to_string(stddev);
  }
};

// BiT's stages in miniature (32 groups), then odd sizes: C not a multiple of 8, one channel per
// group, 1x1 and odd spatial sizes, 2-d and 3-d inputs, and large-mean inputs where the
// E[x^2] - E[x]^2 form would cancel.
std::vector<Case> cases() {
  return {
      {2, 64, 32, {8, 8}},
      {2, 128, 32, {16, 16}},
      {2, 256, 32, {8, 8}},
      {3, 6, 3, {5, 7}},
      {2, 12, 4, {3, 3}},
      {2, 24, 2, {1, 1}},
      {1, 20, 5, {7, 1}},
      {2, 10, 10, {3, 5}},
      {2, 64, 32, {1, 1}},
      {4, 8, 2, {}},
      {2, 12, 3, {9}},
      {2, 64, 32, {8, 8}, 100.0, 0.1},
      {2, 6, 3, {5, 7}, -100.0, 0.1},
      {2, 256, 32, {4, 4}, 1000.0, 1.0},
  };
}

struct Params {
  Tensor gamma, beta;  // either may be undefined
};

std::vector<std::pair<std::string, Params>> affine_variants(int64_t channels, DType dtype,
                                                            Generator& gen) {
  Tensor gamma = random_normal({channels}, dtype, gen, 1.0, 0.5);
  Tensor beta = random_normal({channels}, dtype, gen, 0.0, 0.5);
  return {{"gamma+beta", {gamma, beta}},
          {"no affine", {Tensor(), Tensor()}},
          {"gamma only", {gamma, Tensor()}},
          {"beta only", {Tensor(), beta}}};
}

GroupNormAttrs attrs_for(const Case& c, bool relu) {
  GroupNormAttrs attrs;
  attrs.groups = c.groups;
  attrs.relu = relu;
  return attrs;
}

GroupNormResult fwd_on(Backend backend, const Tensor& x, const Params& p,
                       const GroupNormAttrs& attrs) {
  BackendOverride use(backend);
  return call<GroupNormFwd>(x, p.gamma, p.beta, attrs);
}

// Each ReLU setting with and without a dx addend: autograd passes one either way.
constexpr std::pair<bool, bool> kReluAndAddend[] = {
    {false, false}, {false, true}, {true, false}, {true, true}};

GroupNormGrads bwd_on(Backend backend, const Tensor& dy, const Tensor& x,
                      const GroupNormResult& fwd, const Params& p, const GroupNormAttrs& attrs,
                      const Tensor& dx_addend = Tensor()) {
  BackendOverride use(backend);
  return call<GroupNormBwd>(dy, x, p.gamma, p.beta, fwd.mean, fwd.rstd, dx_addend, attrs);
}

// The kCpu kernels agree with the reference on y, mean, rstd, dx, dgamma and dbeta, for every
// case, with and without ReLU, affine parameters and a dx addend (the residual gradient autograd
// folds in), in float32 and float64, on every ISA.
TEST(GroupNormKernelsTest, MatchesReferenceOnPlainTensors) {
  Generator gen(7);
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    const double tol = tolerance_for(dtype);
    for (const Case& c : cases()) {
      Tensor x = random_normal(c.x_shape(), dtype, gen, c.mean, c.stddev);
      Tensor dy = random_normal(c.x_shape(), dtype, gen);
      Tensor addend = random_normal(c.x_shape(), dtype, gen);
      for (const auto& [affine_name, params] : affine_variants(c.channels, dtype, gen)) {
        for (const auto& [relu, with_addend] : kReluAndAddend) {
          SCOPED_TRACE(c.name() + " " + affine_name + (relu ? " relu " : " ") +
                       (with_addend ? "addend " : "") + dtype_name(dtype));
          const GroupNormAttrs attrs = attrs_for(c, relu);
          const Tensor dx_addend = with_addend ? addend : Tensor();
          GroupNormResult ref = fwd_on(Backend::kRef, x, params, attrs);
          GroupNormGrads ref_grads = bwd_on(Backend::kRef, dy, x, ref, params, attrs, dx_addend);
          for (CpuIsa isa : testing::isas_to_test()) {
            SCOPED_TRACE(cpu::cpu_isa_name(isa));
            ScopedCpuIsaCap cap(isa);
            GroupNormResult got = fwd_on(Backend::kCpu, x, params, attrs);
            EXPECT_TRUE(close_relative(got.y, ref.y, tol));
            EXPECT_TRUE(close_relative(got.mean, ref.mean, tol));
            EXPECT_TRUE(close_relative(got.rstd, ref.rstd, tol));
            // Backward from the reference's saved statistics, so only backward is compared.
            GroupNormGrads grads = bwd_on(Backend::kCpu, dy, x, ref, params, attrs, dx_addend);
            EXPECT_TRUE(close_relative(grads.dx, ref_grads.dx, tol));
            EXPECT_TRUE(close_relative(grads.dbeta, ref_grads.dbeta, tol));
            ASSERT_EQ(grads.dgamma.defined(), params.gamma.defined());
            if (params.gamma.defined()) {
              EXPECT_TRUE(close_relative(grads.dgamma, ref_grads.dgamma, tol));
            }
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Channel-blocked buffers, packed and unpacked here with the layout formula of the header.

template <typename T>
std::vector<T> pack_blocked(const Tensor& plain, int64_t block, T padding) {
  ChannelBlockedShape s{plain.size(0), plain.size(1),
                        plain.numel() / (plain.size(0) * plain.size(1)), block};
  std::vector<T> out(s.padded_numel(), padding);
  const T* p = plain.data<T>();
  const int64_t Cp = s.padded_channels();
  for (int64_t n = 0; n < s.batch; ++n) {
    for (int64_t c = 0; c < s.channels; ++c) {
      for (int64_t i = 0; i < s.spatial; ++i) {
        out[((n * Cp / block + c / block) * s.spatial + i) * block + c % block] =
            p[(n * s.channels + c) * s.spatial + i];
      }
    }
  }
  return out;
}

// The logical values, and whether every padding element is exactly zero.
template <typename T>
Tensor unpack_blocked(const std::vector<T>& blocked, const Shape& shape, int64_t block,
                      bool* padding_is_zero) {
  Tensor out = empty(shape, dtype_of<T>());
  const int64_t N = shape[0], C = shape[1], S = out.numel() / (N * C);
  const int64_t Cp = (C + block - 1) / block * block;
  T* p = out.mutable_data<T>();
  *padding_is_zero = true;
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t c = 0; c < Cp; ++c) {
      for (int64_t i = 0; i < S; ++i) {
        T v = blocked[((n * Cp / block + c / block) * S + i) * block + c % block];
        if (c < C) {
          p[(n * C + c) * S + i] = v;
        } else if (v != T(0)) {
          *padding_is_zero = false;
        }
      }
    }
  }
  return out;
}

// The blocked path gives the reference's results, leaves y's and dx's padding exactly zero,
// and ignores whatever x's and dy's padding hold (NaN here).
template <typename T>
void check_blocked_matches_reference(int64_t block) {
  Generator gen(11);
  const DType dtype = dtype_of<T>();
  const double tol = tolerance_for(dtype);
  const T garbage = std::numeric_limits<T>::quiet_NaN();
  for (const Case& c : cases()) {
    Tensor x = random_normal(c.x_shape(), dtype, gen, c.mean, c.stddev);
    Tensor dy = random_normal(c.x_shape(), dtype, gen);
    const ChannelBlockedShape shape{c.batch, c.channels, x.numel() / (c.batch * c.channels), block};
    const std::vector<T> x_blocked = pack_blocked<T>(x, block, garbage);
    const std::vector<T> dy_blocked = pack_blocked<T>(dy, block, garbage);
    Tensor addend = random_normal(c.x_shape(), dtype, gen);  // added to dx
    const std::vector<T> addend_blocked = pack_blocked<T>(addend, block, garbage);
    for (const auto& [affine_name, params] : affine_variants(c.channels, dtype, gen)) {
      for (const auto& [relu, with_addend] : kReluAndAddend) {
        SCOPED_TRACE(c.name() + " block " + std::to_string(block) + " " + affine_name +
                     (relu ? " relu " : " ") + (with_addend ? "addend " : "") +
                     dtype_name(dtype));
        const GroupNormAttrs attrs = attrs_for(c, relu);
        GroupNormResult ref = fwd_on(Backend::kRef, x, params, attrs);
        GroupNormGrads ref_grads =
            bwd_on(Backend::kRef, dy, x, ref, params, attrs, with_addend ? addend : Tensor());
        for (CpuIsa isa : testing::isas_to_test()) {
          SCOPED_TRACE(cpu::cpu_isa_name(isa));
          ScopedCpuIsaCap cap(isa);
          std::vector<T> y(shape.padded_numel(), garbage), dx(shape.padded_numel(), garbage);
          Tensor mean = empty({c.batch, c.groups}, dtype), rstd = empty({c.batch, c.groups}, dtype);
          Tensor dgamma = empty({c.channels}, dtype), dbeta = empty({c.channels}, dtype);
          cpu::group_norm_fwd_blocked<T>(shape, attrs, x_blocked.data(),
                                         data_or_null<T>(params.gamma),
                                         data_or_null<T>(params.beta), y.data(),
                                         mean.mutable_data<T>(), rstd.mutable_data<T>());
          bool y_padding_zero = false, dx_padding_zero = false;
          EXPECT_TRUE(
              close_relative(unpack_blocked(y, x.shape(), block, &y_padding_zero), ref.y, tol));
          EXPECT_TRUE(y_padding_zero);
          EXPECT_TRUE(close_relative(mean, ref.mean, tol));
          EXPECT_TRUE(close_relative(rstd, ref.rstd, tol));
          cpu::group_norm_bwd_blocked<T>(
              shape, attrs, dy_blocked.data(), x_blocked.data(), data_or_null<T>(params.gamma),
              data_or_null<T>(params.beta), ref.mean.data<T>(), ref.rstd.data<T>(),
              with_addend ? addend_blocked.data() : nullptr, dx.data(),
              params.gamma.defined() ? dgamma.mutable_data<T>() : nullptr, dbeta.mutable_data<T>());
          EXPECT_TRUE(close_relative(unpack_blocked(dx, x.shape(), block, &dx_padding_zero),
                                     ref_grads.dx, tol));
          EXPECT_TRUE(dx_padding_zero);
          EXPECT_TRUE(close_relative(dbeta, ref_grads.dbeta, tol));
          if (params.gamma.defined()) {
            EXPECT_TRUE(close_relative(dgamma, ref_grads.dgamma, tol));
          }
        }
      }
    }
  }
}

TEST(GroupNormKernelsTest, Blocked8MatchesReferenceFloat) {
  check_blocked_matches_reference<float>(8);
}
TEST(GroupNormKernelsTest, Blocked8MatchesReferenceDouble) {
  check_blocked_matches_reference<double>(8);
}
TEST(GroupNormKernelsTest, Blocked16MatchesReferenceFloat) {
  check_blocked_matches_reference<float>(16);
}

// A large mean with a tiny spread: the float32 results stay close to the float64 reference
// computed from the same values (an E[x^2] - E[x]^2 kernel loses every digit here).
TEST(GroupNormKernelsTest, LargeMeanStaysAccurateInFloat32) {
  Generator gen(3);
  Tensor x64 = random_normal({2, 64, 16, 16}, DType::kFloat64, gen, 1.0e4, 1.0e-2);
  Tensor x = x64.to(DType::kFloat32);
  GroupNormAttrs attrs;
  GroupNormResult got = fwd_on(Backend::kCpu, x, {}, attrs);
  GroupNormResult ref = fwd_on(Backend::kRef, x.to(DType::kFloat64), {}, attrs);
  // Float32 storage of x quantises it to ~1e-3 of its spread; y inherits no more than that.
  EXPECT_TRUE(close_relative(got.y.to(DType::kFloat64), ref.y, 1e-5));
  EXPECT_TRUE(close_relative(got.rstd.to(DType::kFloat64), ref.rstd, 1e-5));
}

// Every (sample, group) is reduced by one thread in a fixed order: results are bitwise equal for
// any thread count.
TEST(GroupNormKernelsTest, DeterministicAcrossThreadCounts) {
  Generator gen(5);
  Tensor x = random_normal({4, 64, 9, 9}, DType::kFloat32, gen, 3.0, 2.0);
  Tensor dy = random_normal({4, 64, 9, 9}, DType::kFloat32, gen);
  Params params{random_normal({64}, DType::kFloat32, gen),
                random_normal({64}, DType::kFloat32, gen)};
  GroupNormAttrs attrs;
  attrs.relu = true;
  const int saved_threads = omp_get_max_threads();
  std::vector<std::vector<float>> results;
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    GroupNormResult fwd = fwd_on(Backend::kCpu, x, params, attrs);
    GroupNormGrads grads = bwd_on(Backend::kCpu, dy, x, fwd, params, attrs);
    std::vector<float> all = fwd.y.to_vector<float>();
    for (const Tensor& t : {fwd.mean, fwd.rstd, grads.dx, grads.dgamma, grads.dbeta}) {
      std::vector<float> v = t.to_vector<float>();
      all.insert(all.end(), v.begin(), v.end());
    }
    results.push_back(all);
  }
  omp_set_num_threads(saved_threads);
  EXPECT_EQ(results[0], results[1]);
  EXPECT_EQ(results[0], results[2]);
}

// Through autograd: group_norm's gradients on kCpu pass a float64 gradcheck.
TEST(GroupNormKernelsTest, GradcheckThroughKcpu) {
  Generator gen(13);
  testing::GradcheckOptions options;
  options.backend = Backend::kCpu;
  for (bool relu : {false, true}) {
    SCOPED_TRACE(relu ? "relu" : "no relu");
    GroupNormAttrs attrs;
    attrs.groups = 3;
    attrs.relu = relu;
    Tensor x = random_normal({2, 6, 3, 5}, DType::kFloat64, gen).set_requires_grad();
    Tensor gamma = random_normal({6}, DType::kFloat64, gen, 1.0, 0.3).set_requires_grad();
    Tensor beta = random_normal({6}, DType::kFloat64, gen, 0.0, 0.3).set_requires_grad();
    EXPECT_TRUE(testing::gradcheck(
        [&](const std::vector<Tensor>& in) { return group_norm(in[0], in[1], in[2], attrs); },
        {x, gamma, beta}, options));
    EXPECT_TRUE(testing::gradcheck(
        [&](const std::vector<Tensor>& in) { return group_norm(in[0], Tensor(), Tensor(), attrs); },
        {x}, options));
    // A residual around it, as in BiT: backward folds the shortcut's gradient into dx.
    EXPECT_TRUE(testing::gradcheck(
        [&](const std::vector<Tensor>& in) {
          Tensor h = in[0] * 1.5;
          return group_norm(h, in[1], in[2], attrs) + h;
        },
        {x, gamma, beta}, options));
  }
}

TEST(GroupNormKernelsTest, ErrorsNameTheOpAndShapes) {
  BackendOverride use(Backend::kCpu);
  Tensor x = zeros({2, 6, 4});
  GroupNormAttrs attrs;
  attrs.groups = 3;
  GroupNormResult fwd = call<GroupNormFwd>(x, Tensor(), Tensor(), attrs);
  EXPECT_TRUE(testing::throws_error(
      [&] {
        call<GroupNormBwd>(zeros({2, 6, 5}), x, Tensor(), Tensor(), fwd.mean, fwd.rstd, Tensor(),
                           attrs);
      },
      {"group_norm backward", "(2, 6, 5)", "(2, 6, 4)"}));
  attrs.relu = true;
  EXPECT_TRUE(testing::throws_error(
      [&] {
        call<GroupNormBwd>(x, x, Tensor(), zeros({5}), fwd.mean, fwd.rstd, Tensor(), attrs);
      },
      {"group_norm backward", "beta", "(5)", "(6)"}));
  EXPECT_TRUE(testing::throws_error(
      [&] {
        call<GroupNormBwd>(x, x, Tensor(), Tensor(), fwd.mean, fwd.rstd, zeros({2, 6}), attrs);
      },
      {"group_norm backward", "dx_addend", "(2, 6)", "(2, 6, 4)"}));
  attrs.relu = false;
  EXPECT_TRUE(testing::throws_error(
      [&] {
        call<GroupNormBwd>(x, x, Tensor(), Tensor(), zeros({2, 4}), fwd.rstd, Tensor(), attrs);
      },
      {"group_norm backward", "(2, 3)", "(2, 4)"}));
  EXPECT_TRUE(testing::throws_error(
      [&] {
        call<GroupNormFwd>(zeros({2, 6, 4}, DType::kInt64), Tensor(), Tensor(), attrs);
      },
      {"group_norm", "int64"}));
  EXPECT_TRUE(testing::throws_error(
      [&] {
        float dummy = 0;
        cpu::group_norm_fwd_blocked<float>({1, 6, 1, 4}, attrs, &dummy, nullptr, nullptr, &dummy,
                                           &dummy, &dummy);
      },
      {"group_norm", "channel block 4", "1, 8 or 16"}));
}

}  // namespace
}  // namespace bitgrad
