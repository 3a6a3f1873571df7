#include "ops/norm.h"

#include <algorithm>
#include <cmath>

#include "core/random.h"
#include "gtest/gtest.h"
#include "ops/elementwise.h"
#include "tests/testing/assertions.h"
#include "tests/testing/gradcheck.h"

namespace bitgrad {
namespace {

using testing::all_close;
using testing::gradcheck;
using testing::throws_error;

GroupNormAttrs gn_attrs(int64_t groups, double eps = 1e-5, bool relu = false) {
  GroupNormAttrs attrs;
  attrs.groups = groups;
  attrs.eps = eps;
  attrs.relu = relu;
  return attrs;
}

// An independent GroupNorm: x viewed as N*G rows (a layer-norm per row, statistics from sums and
// sums of squares in long double), then the per-channel affine. Computed in float64.
Tensor expected_group_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                           int64_t groups, double eps, bool relu = false) {
  std::vector<double> values = x.to_vector<double>();
  int64_t channels = x.size(1);
  int64_t rows = x.size(0) * groups;
  int64_t row_size = static_cast<int64_t>(values.size()) / rows;
  int64_t spatial = row_size * groups / channels;
  std::vector<double> scale = gamma.defined() ? gamma.to_vector<double>()
                                              : std::vector<double>(channels, 1.0);
  std::vector<double> shift = beta.defined() ? beta.to_vector<double>()
                                             : std::vector<double>(channels, 0.0);
  std::vector<double> out(values.size());
  for (int64_t r = 0; r < rows; ++r) {
    long double sum = 0, sum_squares = 0;
    for (int64_t i = 0; i < row_size; ++i) {
      sum += values[r * row_size + i];
      sum_squares += static_cast<long double>(values[r * row_size + i]) * values[r * row_size + i];
    }
    long double mean = sum / row_size;
    double variance = static_cast<double>(sum_squares / row_size - mean * mean);
    for (int64_t i = 0; i < row_size; ++i) {
      int64_t c = (r % groups) * (channels / groups) + i / spatial;
      double value = (values[r * row_size + i] - static_cast<double>(mean)) /
                         std::sqrt(variance + eps) * scale[c] + shift[c];
      out[r * row_size + i] = relu ? std::max(value, 0.0) : value;
    }
  }
  return from_vector(out, x.shape());
}

Tensor random64(const Shape& shape, Generator& generator) {
  return randn(shape, DType::kFloat64, Device::cpu(), generator);
}

// ---------------------------------------------------------------------------------------------
// group_norm forward

TEST(GroupNormTest, HandComputedValuesMeanAndRstd) {
  // Channel 0 = {1, 3}: mean 2, var 1. Channel 1 = {2, 6}: mean 4, var 4. eps = 0.
  Tensor x = from_vector<double>({1, 3, 2, 6}, {1, 2, 2});
  Tensor gamma = from_vector<double>({2, 3}, {2});
  Tensor beta = from_vector<double>({0.5, -1}, {2});
  GroupNormResult result = call<GroupNormFwd>(x, gamma, beta, gn_attrs(2, 0.0));
  EXPECT_TRUE(all_close(result.y, from_vector<double>({-1.5, 2.5, -4, 2}, {1, 2, 2})));
  EXPECT_TRUE(all_close(result.mean, from_vector<double>({2, 4}, {1, 2})));
  EXPECT_TRUE(all_close(result.rstd, from_vector<double>({1, 0.5}, {1, 2})));
  // One group over all four values: mean 3, var 3.5.
  GroupNormResult one = call<GroupNormFwd>(x, Tensor(), Tensor(), gn_attrs(1, 0.0));
  double s = std::sqrt(3.5);
  EXPECT_TRUE(all_close(one.y, from_vector<double>({-2 / s, 0, -1 / s, 3 / s}, {1, 2, 2})));
  EXPECT_TRUE(all_close(one.mean, from_vector<double>({3}, {1, 1})));
  EXPECT_TRUE(all_close(one.rstd, from_vector<double>({1 / s}, {1, 1})));
}

TEST(GroupNormTest, OneGroupIsLayerNormOverChannelsAndSpace) {
  Generator generator(1);
  Tensor x = random64({2, 6, 3, 5}, generator);
  Tensor gamma = random64({6}, generator), beta = random64({6}, generator);
  EXPECT_TRUE(all_close(group_norm(x, gamma, beta, gn_attrs(1)),
                        expected_group_norm(x, gamma, beta, 1, 1e-5), 1e-10, 1e-10));
}

TEST(GroupNormTest, GroupsEqualToChannelsIsInstanceNorm) {
  Generator generator(2);
  Tensor x = random64({3, 4, 7}, generator);
  Tensor gamma = random64({4}, generator), beta = random64({4}, generator);
  EXPECT_TRUE(all_close(group_norm(x, gamma, beta, gn_attrs(4)),
                        expected_group_norm(x, gamma, beta, 4, 1e-5), 1e-10, 1e-10));
}

TEST(GroupNormTest, MatchesIndependentFormulationForManyShapes) {
  Generator generator(3);
  struct Case {
    Shape shape;
    int64_t groups;
  };
  for (const Case& c : {Case{{2, 6}, 3}, Case{{1, 8, 5}, 2}, Case{{2, 4, 3, 5}, 2},
                        Case{{1, 6, 2, 3, 3}, 3}, Case{{3, 32, 1, 1}, 32}}) {
    SCOPED_TRACE(c.shape.str());
    Tensor x = random64(c.shape, generator);
    Tensor gamma = random64({c.shape[1]}, generator), beta = random64({c.shape[1]}, generator);
    EXPECT_TRUE(all_close(group_norm(x, gamma, beta, gn_attrs(c.groups)),
                          expected_group_norm(x, gamma, beta, c.groups, 1e-5), 1e-10, 1e-10));
    // float32 agrees with the float64 oracle on the same (rounded) values.
    Tensor x32 = x.to(DType::kFloat32), gamma32 = gamma.to(DType::kFloat32),
           beta32 = beta.to(DType::kFloat32);
    EXPECT_TRUE(all_close(group_norm(x32, gamma32, beta32, gn_attrs(c.groups)),
                          expected_group_norm(x32, gamma32, beta32, c.groups, 1e-5), 1e-5,
                          1e-5));
  }
}

TEST(GroupNormTest, AbsentGammaAndBetaMeanOneAndZero) {
  Generator generator(4);
  Tensor x = random64({2, 4, 3}, generator);
  Tensor y = group_norm(x, Tensor(), Tensor(), gn_attrs(2));
  EXPECT_TRUE(all_close(y, group_norm(x, ones({4}, DType::kFloat64),
                                      zeros({4}, DType::kFloat64), gn_attrs(2)),
                        0, 0));
  Tensor beta = random64({4}, generator);
  EXPECT_TRUE(all_close(group_norm(x, Tensor(), beta, gn_attrs(2)),
                        expected_group_norm(x, Tensor(), beta, 2, 1e-5), 1e-10, 1e-10));
}

TEST(GroupNormTest, FusedReluEqualsReluAfterGroupNorm) {
  Generator generator(5);
  Tensor x = random64({2, 6, 3, 3}, generator);
  Tensor gamma = random64({6}, generator), beta = random64({6}, generator);
  Tensor fused = group_norm(x, gamma, beta, gn_attrs(3, 1e-5, true));
  EXPECT_TRUE(all_close(fused, relu(group_norm(x, gamma, beta, gn_attrs(3))), 0, 0));
  EXPECT_TRUE(all_close(fused, expected_group_norm(x, gamma, beta, 3, 1e-5, true), 1e-10, 1e-10));
  std::vector<double> values = fused.to_vector<double>();
  EXPECT_GT(std::count(values.begin(), values.end(), 0.0), 0);  // the ReLU did cut something
}

TEST(GroupNormTest, StableWhenMeanIsLargeComparedToSpread) {
  // float32 values around 1000 with spread ~0.01: E[x^2] - E[x]^2 in float would lose every
  // significant digit of the variance.
  Generator generator(6);
  Tensor x = (random64({2, 4, 8, 8}, generator) * 0.01 + 1000.0).to(DType::kFloat32);
  Tensor y = group_norm(x, Tensor(), Tensor(), gn_attrs(2));
  EXPECT_TRUE(all_close(y, expected_group_norm(x, Tensor(), Tensor(), 2, 1e-5), 1e-4, 1e-4));
}

TEST(GroupNormTest, StatisticsHaveShapeNByGInTheInputDtype) {
  Tensor x = randn({3, 8, 2, 2});
  GroupNormResult result = call<GroupNormFwd>(x, Tensor(), Tensor(), gn_attrs(4));
  EXPECT_EQ(result.mean.shape(), Shape({3, 4}));
  EXPECT_EQ(result.rstd.shape(), Shape({3, 4}));
  EXPECT_EQ(result.mean.dtype(), DType::kFloat32);
  EXPECT_EQ(result.rstd.dtype(), DType::kFloat32);
}

// ---------------------------------------------------------------------------------------------
// group_norm backward

// Inputs whose group_norm output keeps |y| >= margin before the ReLU, so finite differences of
// the fused ReLU never straddle its kink: the first seed from `seed` on that qualifies.
struct GroupNormInputs {
  Tensor x, gamma, beta;
};
GroupNormInputs away_from_relu_kink(const Shape& shape, int64_t groups, double eps,
                                    uint64_t seed, double margin = 1e-3) {
  for (uint64_t s = seed;; ++s) {
    Generator generator(s);
    GroupNormInputs in{random64(shape, generator), random64({shape[1]}, generator),
                       random64({shape[1]}, generator)};
    std::vector<double> y =
        expected_group_norm(in.x, in.gamma, in.beta, groups, eps).to_vector<double>();
    bool clear = std::all_of(y.begin(), y.end(), [&](double v) { return std::fabs(v) >= margin; });
    if (clear) return in;
  }
}

TEST(GroupNormTest, GradcheckXGammaBetaForGroupsOneTwoAndC) {
  for (int64_t groups : {1, 2, 6}) {
    for (bool fused_relu : {false, true}) {
      SCOPED_TRACE("groups " + std::to_string(groups) + (fused_relu ? " with relu" : ""));
      GroupNormInputs in = away_from_relu_kink({2, 6, 3, 5}, groups, 1e-5, 10 * groups);
      GroupNormAttrs attrs = gn_attrs(groups, 1e-5, fused_relu);
      EXPECT_TRUE(gradcheck(
          [&](const std::vector<Tensor>& t) { return group_norm(t[0], t[1], t[2], attrs); },
          {in.x.set_requires_grad(), in.gamma.set_requires_grad(),
           in.beta.set_requires_grad()}));
    }
  }
}

TEST(GroupNormTest, GradcheckOddSpatialSizesAndOtherRanks) {
  struct Case {
    Shape shape;
    int64_t groups;
    double eps;
  };
  for (const Case& c : {Case{{1, 4, 7}, 2, 1e-5}, Case{{3, 4}, 2, 1e-5},
                        Case{{2, 2, 3, 1, 3}, 1, 0.1}, Case{{1, 3, 5, 3}, 3, 1e-3}}) {
    SCOPED_TRACE(c.shape.str());
    GroupNormInputs in = away_from_relu_kink(c.shape, c.groups, c.eps, 100);
    GroupNormAttrs attrs = gn_attrs(c.groups, c.eps, true);
    EXPECT_TRUE(gradcheck(
        [&](const std::vector<Tensor>& t) { return group_norm(t[0], t[1], t[2], attrs); },
        {in.x.set_requires_grad(), in.gamma.set_requires_grad(), in.beta.set_requires_grad()}));
  }
}

TEST(GroupNormTest, GradcheckWithoutGammaOrBeta) {
  Generator generator(7);
  Tensor x = random64({2, 4, 3, 3}, generator).set_requires_grad();
  Tensor beta = random64({4}, generator).set_requires_grad();
  Tensor gamma = random64({4}, generator).set_requires_grad();
  GroupNormAttrs attrs = gn_attrs(2);
  auto fn = [&](const std::vector<Tensor>& t) { return group_norm(t[0], t[1], t[2], attrs); };
  EXPECT_TRUE(gradcheck(fn, {x, Tensor(), Tensor()}));
  EXPECT_TRUE(gradcheck(fn, {x, Tensor(), beta}));  // beta alone still gets its gradient
  EXPECT_TRUE(gradcheck(fn, {x, gamma, Tensor()}));
}

TEST(GroupNormTest, GradcheckWithAResidualAroundIt) {
  // y = group_norm(h) + h, as in BiT's units: backward folds the shortcut's gradient into dx.
  GroupNormInputs in = away_from_relu_kink({2, 6, 3, 5}, 3, 1e-5, 100);
  GroupNormAttrs attrs = gn_attrs(3, 1e-5, true);
  EXPECT_TRUE(gradcheck(
      [&](const std::vector<Tensor>& t) {
        Tensor h = t[0] * 1.0;  // a node, so that its gradient is pending when group_norm's runs
        return group_norm(h, t[1], t[2], attrs) + h;
      },
      {in.x.set_requires_grad(), in.gamma.set_requires_grad(), in.beta.set_requires_grad()}));
}

TEST(GroupNormTest, BackwardLeavesAbsentParametersWithoutGradient) {
  Generator generator(8);
  Tensor x = random64({2, 4, 3}, generator), dy = random64({2, 4, 3}, generator);
  GroupNormResult forward = call<GroupNormFwd>(x, Tensor(), Tensor(), gn_attrs(2));
  GroupNormGrads grads = call<GroupNormBwd>(dy, x, Tensor(), Tensor(), forward.mean,
                                            forward.rstd, Tensor(), gn_attrs(2));
  EXPECT_FALSE(grads.dgamma.defined());
  // dx as with gamma = 1 and beta = 0 given.
  const Tensor gamma = ones({4}, DType::kFloat64), beta = zeros({4}, DType::kFloat64);
  GroupNormResult identity = call<GroupNormFwd>(x, gamma, beta, gn_attrs(2));
  GroupNormGrads expected = call<GroupNormBwd>(dy, x, gamma, beta, identity.mean, identity.rstd,
                                               Tensor(), gn_attrs(2));
  EXPECT_TRUE(all_close(grads.dx, expected.dx, 1e-12, 1e-12));
  EXPECT_GT(testing::max_abs(grads.dx), 0.1);
  // With dy = 1, dx = rstd * (1 - mean(1) - xhat * mean(xhat)) = 0.
  GroupNormGrads constant = call<GroupNormBwd>(ones_like(x), x, Tensor(), Tensor(), forward.mean,
                                               forward.rstd, Tensor(), gn_attrs(2));
  EXPECT_TRUE(all_close(constant.dx, zeros_like(x), 0, 1e-12));
}

TEST(GroupNormTest, BackwardFloat32MatchesFloat64) {
  Generator generator(9);
  GroupNormInputs in = away_from_relu_kink({2, 8, 5, 5}, 4, 1e-5, 200);
  GroupNormAttrs attrs = gn_attrs(4, 1e-5, true);
  Tensor dy = random64({2, 8, 5, 5}, generator);
  auto grads_of = [&](DType dtype) {
    Tensor x = in.x.to(dtype), gamma = in.gamma.to(dtype), beta = in.beta.to(dtype);
    GroupNormResult f = call<GroupNormFwd>(x, gamma, beta, attrs);
    return call<GroupNormBwd>(dy.to(dtype), x, gamma, beta, f.mean, f.rstd, Tensor(), attrs);
  };
  GroupNormGrads g64 = grads_of(DType::kFloat64), g32 = grads_of(DType::kFloat32);
  EXPECT_TRUE(all_close(g32.dx, g64.dx, 1e-4, 1e-4));
  EXPECT_TRUE(all_close(g32.dgamma, g64.dgamma, 1e-4, 1e-4));
  EXPECT_TRUE(all_close(g32.dbeta, g64.dbeta, 1e-4, 1e-4));
}

// ---------------------------------------------------------------------------------------------
// group_norm errors

TEST(GroupNormTest, ErrorsNameTheOpAndShapes) {
  Tensor x = zeros({2, 6, 4});
  EXPECT_TRUE(throws_error([&] { group_norm(x, Tensor(), Tensor(), gn_attrs(4)); },
                           {"group_norm", "4 groups", "6 channels", "(2, 6, 4)"}));
  EXPECT_TRUE(throws_error([&] { group_norm(x, zeros({5}), Tensor(), gn_attrs(3)); },
                           {"group_norm", "gamma", "(6)", "(5)", "(2, 6, 4)"}));
  EXPECT_TRUE(throws_error([&] { group_norm(x, Tensor(), zeros({6, 1}), gn_attrs(3)); },
                           {"group_norm", "beta", "(6)", "(6, 1)"}));
  EXPECT_TRUE(throws_error(
      [&] { group_norm(x, zeros({6}, DType::kFloat64), Tensor(), gn_attrs(3)); },
      {"group_norm", "gamma", "float64", "float32"}));
  EXPECT_TRUE(throws_error(
      [&] { group_norm(zeros({2, 6, 4}, DType::kInt64), Tensor(), Tensor(), gn_attrs(3)); },
      {"group_norm", "int64"}));
  EXPECT_TRUE(throws_error([&] { group_norm(zeros({6}), Tensor(), Tensor(), gn_attrs(3)); },
                           {"group_norm", "(N, C, ...)", "(6)"}));
  EXPECT_TRUE(throws_error([&] { group_norm(x, Tensor(), Tensor(), gn_attrs(0)); },
                           {"group_norm", "0 groups"}));
}

// ---------------------------------------------------------------------------------------------
// weight_standardize

TEST(WeightStandardizeTest, HandComputedValues) {
  // Row {1, 2, 3, 4}: mean 2.5, biased var 1.25. A constant row standardizes to 0 (eps keeps
  // the division finite).
  Tensor w = from_vector<double>({1, 2, 3, 4, 5, 5, 5, 5}, {2, 4});
  double s = std::sqrt(1.25 + 1e-10);
  EXPECT_TRUE(all_close(weight_standardize(w),
                        from_vector<double>({-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s, 0, 0, 0, 0},
                                            {2, 4}),
                        1e-12, 1e-12));
  // eps sits inside the square root: var 1 (row {0, 2}) with eps 3 divides by 2.
  Tensor v = from_vector<double>({0, 2}, {1, 2});
  EXPECT_TRUE(all_close(weight_standardize(v, 3.0), from_vector<double>({-0.5, 0.5}, {1, 2})));
}

TEST(WeightStandardizeTest, EachOutputChannelHasMeanZeroAndVarianceOne) {
  Generator generator(11);
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    Tensor w = (random64({8, 3, 3, 3}, generator) * 0.05 + 0.3).to(dtype);
    std::vector<double> v = weight_standardize(w).to_vector<double>();
    int64_t row_size = 27;
    for (int64_t o = 0; o < 8; ++o) {
      double sum = 0, sum_squares = 0;
      for (int64_t k = 0; k < row_size; ++k) {
        sum += v[o * row_size + k];
        sum_squares += v[o * row_size + k] * v[o * row_size + k];
      }
      double mean = sum / row_size;
      EXPECT_NEAR(mean, 0.0, 1e-6) << "channel " << o;
      EXPECT_NEAR(sum_squares / row_size - mean * mean, 1.0, 1e-5) << "channel " << o;
    }
  }
}

TEST(WeightStandardizeTest, InvariantToPerChannelScaleAndShiftOfTheWeight) {
  Generator generator(12);
  Tensor w = random64({4, 2, 3, 3}, generator);
  Tensor scale = from_vector<double>({0.5, 2, 30, 1e-3}, {4, 1, 1, 1});
  Tensor shift = from_vector<double>({1, -4, 100, 0.2}, {4, 1, 1, 1});
  // eps = 0: with eps > 0 the scaled channels would differ by the eps/var they add.
  EXPECT_TRUE(all_close(weight_standardize(w * scale + shift, 0.0), weight_standardize(w, 0.0),
                        1e-7, 1e-7));
}

TEST(WeightStandardizeTest, GradcheckConvKernelsWithBitEps) {
  Generator generator(13);
  for (const Shape& shape : {Shape{4, 3, 3, 3}, Shape{5, 2, 1, 1}, Shape{3, 7}}) {
    SCOPED_TRACE(shape.str());
    Tensor w = random64(shape, generator).set_requires_grad();
    EXPECT_TRUE(gradcheck(
        [](const std::vector<Tensor>& t) { return weight_standardize(t[0], 1e-10); }, {w}));
  }
}

TEST(WeightStandardizeTest, BackwardFloat32MatchesFloat64) {
  Generator generator(14);
  Tensor w = random64({6, 4, 3, 3}, generator);
  Tensor dy = random64({6, 4, 3, 3}, generator);
  Tensor dw64 = call<WeightStandardizeBwd>(dy, w, 1e-10);
  Tensor dw32 = call<WeightStandardizeBwd>(dy.to(DType::kFloat32), w.to(DType::kFloat32), 1e-10);
  EXPECT_TRUE(all_close(dw32, dw64, 1e-4, 1e-5));
}

TEST(WeightStandardizeTest, ErrorsNameTheOpAndShapes) {
  EXPECT_TRUE(throws_error([] { weight_standardize(zeros({5})); },
                           {"weight_standardize", "(O, ...)", "(5)"}));
  EXPECT_TRUE(throws_error([] { weight_standardize(zeros({4, 0, 3, 3})); },
                           {"weight_standardize", "(4, 0, 3, 3)"}));
  EXPECT_TRUE(throws_error([] { weight_standardize(zeros({4, 3}, DType::kInt64)); },
                           {"weight_standardize", "int64"}));
  EXPECT_TRUE(throws_error([] { weight_standardize(zeros({4, 3}), -1.0); },
                           {"weight_standardize", "eps", "-1"}));
}

}  // namespace
}  // namespace bitgrad
